#include "emulator/entra_service.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <chrono>
#include <ctime>

#include "common/core/rfc3339.h"
#include "common/jose/jws.h"
#include "common/log/logger.h"
#include "emulator/imds_service.h"

namespace skr::emulator {
namespace {

constexpr std::string_view kJwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

StatusOr<std::string> formDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%') {
      if (i + 2 >= s.size() || hexValue(s[i + 1]) < 0 || hexValue(s[i + 2]) < 0) {
        return invalidArgumentError("form body: bad percent-encoding");
      }
      out.push_back(static_cast<char>(hexValue(s[i + 1]) * 16 + hexValue(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string aadTimestamp(int64_t now) {
  const std::time_t t = static_cast<std::time_t>(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%SZ", &tm);
  return buf;
}

// AADSTS error: {"error","error_description","error_codes","timestamp","trace_id",
// "correlation_id","error_uri"}.
Response aadError(const EmulatorContext& context, int status, const std::string& error, int code,
                  const std::string& message) {
  const std::string trace = randomGuid();
  const std::string correlation = randomGuid();
  const std::string ts = aadTimestamp(context.now());
  json::ObjectPtr o = new Poco::JSON::Object;
  o->set("error", error);
  o->set("error_description", "AADSTS" + std::to_string(code) + ": " + message + " Trace ID: " +
                                  trace + " Correlation ID: " + correlation + " Timestamp: " + ts);
  Poco::JSON::Array::Ptr codes = new Poco::JSON::Array;
  codes->add(code);
  o->set("error_codes", codes);
  o->set("timestamp", ts);
  o->set("trace_id", trace);
  o->set("correlation_id", correlation);
  o->set("error_uri", context.url("entra") + "/error?code=" + std::to_string(code));
  return jsonResponse(status, o);
}

bool audienceContains(const json::ObjectPtr& claims, const std::string& audience) {
  if (StatusOr<std::string> aud = json::getString(claims, "aud"); aud.ok()) {
    return *aud == audience;
  }
  StatusOr<json::ArrayPtr> arr = json::getArray(claims, "aud");
  if (!arr.ok()) return false;
  for (std::size_t i = 0; i < (*arr)->size(); ++i) {
    StatusOr<std::string> element = json::getString(*arr, i, "member 'aud'");
    if (element.ok() && *element == audience) return true;
  }
  return false;
}

std::string audienceText(const json::ObjectPtr& claims) {
  StatusOr<std::string> s = json::serializeCanonical(claims->get("aud"));
  return s.ok() ? *s : std::string("(none)");
}

Response tokenHandler(EmulatorContext& context, const Request& request) {
  const std::string tenant = request.captures.at("tenant");
  if (tenant != context.tenantId()) {
    return aadError(context, 400, "invalid_request", 90002,
                    "Tenant '" + tenant +
                        "' not found. Check to make sure you have the correct "
                        "tenant ID and are signing into the correct cloud.");
  }
  StatusOr<std::map<std::string, std::string>> form = parseFormBody(request.body);
  if (!form.ok()) {
    return aadError(
        context, 400, "invalid_request", 900144,
        "The request body must be application/x-www-form-urlencoded: " + form.status().message());
  }
  auto field = [&](const char* name) {
    auto it = form->find(name);
    return it == form->end() ? std::string() : it->second;
  };
  const std::string grant_type = field("grant_type");
  if (grant_type.empty()) {
    return aadError(context, 400, "invalid_request", 900144,
                    "The request body must contain the following parameter: 'grant_type'.");
  }
  if (grant_type != "client_credentials") {
    return aadError(context, 400, "unsupported_grant_type", 70003,
                    "The app requested an unsupported grant type '" + grant_type +
                        "' (skr-emulator supports client_credentials).");
  }
  const std::string client_id = field("client_id");
  if (client_id.empty()) {
    return aadError(context, 400, "invalid_request", 900144,
                    "The request body must contain the following parameter: 'client_id'.");
  }
  const std::string scope = field("scope");
  constexpr std::string_view kDefault = "/.default";
  if (scope.size() <= kDefault.size() ||
      scope.compare(scope.size() - kDefault.size(), kDefault.size(), kDefault) != 0 ||
      !isKnownResource(scope.substr(0, scope.size() - kDefault.size()))) {
    return aadError(context, 400, "invalid_scope", 1002012,
                    "The provided value for scope '" + scope +
                        "' is not valid. Client credential flows must have a scope value with "
                        "/.default suffixed to the resource identifier (application ID URI).");
  }
  const std::string resource = scope.substr(0, scope.size() - kDefault.size());
  const std::string assertion = field("client_assertion");
  if (field("client_assertion_type") != kJwtBearer || assertion.empty()) {
    return aadError(context, 401, "invalid_client", 7000218,
                    "The request body must contain the following parameter: 'client_assertion' "
                    "or 'client_secret'.");
  }
  std::optional<Identity> identity = context.identities().findByClientId(client_id);
  if (!identity || identity->kind == IdentityKind::SystemAssigned) {
    return aadError(context, 400, "unauthorized_client", 700016,
                    "Application with identifier '" + client_id +
                        "' was not found in the directory '" + context.tenantId() + "'.");
  }
  StatusOr<jose::Jws> jws = jose::Jws::parse(assertion, jose::JwsLimits{64 * 1024, 16 * 1024});
  StatusOr<json::ObjectPtr> claims =
      jws.ok() ? jws->payloadJson() : StatusOr<json::ObjectPtr>(jws.status());
  if (!claims.ok()) {
    return aadError(context, 401, "invalid_client", 50027, "JWT token is invalid or malformed.");
  }
  const auto string_claim = [&](const char* name) {
    StatusOr<std::string> value = json::getString(*claims, name);
    return value.ok() ? std::move(value).value() : std::string();
  };
  const std::string iss = string_claim("iss");
  const std::string sub = string_claim("sub");
  std::vector<FederatedCredential> by_issuer;
  for (const FederatedCredential& f : identity->federated_credentials) {
    if (f.issuer == iss) by_issuer.push_back(f);
  }
  if (by_issuer.empty()) {
    return aadError(context, 401, "invalid_client", 700211,
                    "No matching federated identity record found for presented assertion issuer '" +
                        iss +
                        "'. Please check your federated identity credential Subject, "
                        "Audience and Issuer against the presented assertion.");
  }
  std::optional<FederatedCredential> match;
  for (const FederatedCredential& f : by_issuer) {
    if (f.subject == sub) match = f;
  }
  if (!match) {
    return aadError(
        context, 401, "invalid_client", 700213,
        "No matching federated identity record found for presented assertion subject '" + sub +
            "'. Check your federated identity credential Subject, Audience and "
            "Issuer against the presented assertion.");
  }
  if (match->audiences.empty() || !audienceContains(*claims, match->audiences.front())) {
    return aadError(context, 401, "invalid_client", 700212,
                    "No matching federated identity record found for presented assertion "
                    "audience " +
                        audienceText(*claims) + ".");
  }
  // The only issuer whose keys the emulated Entra ID knows is its own service-account issuer.
  if (iss != context.k8sIssuer() ||
      !jws->verify(context.signingKeys().k8sIssuer().key.publicKey()).ok()) {
    return aadError(context, 401, "invalid_client", 700027,
                    "Client assertion failed signature validation.");
  }
  const int64_t now = context.now();
  const auto time_claim = [&](const char* name) {
    StatusOr<int64_t> value = json::getInt(*claims, name);
    return value.ok() ? *value : int64_t{0};
  };
  const int64_t exp = time_claim("exp");
  const int64_t nbf = time_claim("nbf");
  if (exp == 0 || now > exp + 300 || (nbf != 0 && now + 300 < nbf)) {
    return aadError(
        context, 401, "invalid_client", 700024,
        "Client assertion is not within its valid time range. Current time: " +
            formatRfc3339(SystemTime(std::chrono::seconds(now))) + ", assertion valid from " +
            formatRfc3339(SystemTime(std::chrono::seconds(nbf))) + ", expiry time of assertion " +
            formatRfc3339(SystemTime(std::chrono::seconds(exp))) + ".");
  }
  int64_t expires_at = 0;
  StatusOr<std::string> token =
      context.issueAccessToken(*identity, resource, request.sign_with_wrong_key, &expires_at);
  if (!token.ok()) {
    log::error("emulator.entra.token_failed", {{"error", token.status().toString()}});
    return aadError(context, 500, "temporarily_unavailable", 50000,
                    "There was an error issuing a token.");
  }
  log::info("emulator.entra.token",
            {{"client_id", client_id}, {"subject", sub}, {"resource", resource}});
  json::ObjectPtr o = new Poco::JSON::Object;
  o->set("token_type", "Bearer");
  o->set("expires_in", static_cast<Poco::Int64>(expires_at - now));
  o->set("ext_expires_in", static_cast<Poco::Int64>(expires_at - now));
  o->set("access_token", *token);
  return jsonResponse(200, o);
}

Response tenantOpenIdConfiguration(EmulatorContext& context, const Request& request) {
  const std::string tenant = request.captures.at("tenant");
  if (tenant != context.tenantId()) {
    return aadError(context, 400, "invalid_tenant", 90002, "Tenant '" + tenant + "' not found.");
  }
  const std::string base = context.url("entra") + "/" + tenant;
  json::ObjectPtr o = new Poco::JSON::Object;
  o->set("issuer", context.entraIssuer());
  o->set("token_endpoint", base + "/oauth2/v2.0/token");
  o->set("jwks_uri", base + "/discovery/v2.0/keys");
  Poco::JSON::Array::Ptr algs = new Poco::JSON::Array;
  algs->add("RS256");
  o->set("id_token_signing_alg_values_supported", algs);
  Poco::JSON::Array::Ptr auth = new Poco::JSON::Array;
  auth->add("private_key_jwt");
  o->set("token_endpoint_auth_methods_supported", auth);
  o->set("tenant_region_scope", "emulated");
  o->set("x-ms-emulated", true);
  return jsonResponse(200, o);
}

Response k8sOpenIdConfiguration(EmulatorContext& context) {
  json::ObjectPtr o = new Poco::JSON::Object;
  o->set("issuer", context.k8sIssuer());
  o->set("jwks_uri", context.k8sIssuer() + "/openid/v1/jwks");
  Poco::JSON::Array::Ptr types = new Poco::JSON::Array;
  types->add("id_token");
  o->set("response_types_supported", types);
  Poco::JSON::Array::Ptr subjects = new Poco::JSON::Array;
  subjects->add("public");
  o->set("subject_types_supported", subjects);
  Poco::JSON::Array::Ptr algs = new Poco::JSON::Array;
  algs->add("RS256");
  o->set("id_token_signing_alg_values_supported", algs);
  o->set("x-ms-emulated", true);
  return jsonResponse(200, o);
}

}  // namespace

StatusOr<std::map<std::string, std::string>> parseFormBody(std::string_view body) {
  std::map<std::string, std::string> out;
  std::size_t fields = 0;
  std::size_t pos = 0;
  while (pos <= body.size() && !body.empty()) {
    std::size_t amp = body.find('&', pos);
    if (amp == std::string_view::npos) amp = body.size();
    const std::string_view pair = body.substr(pos, amp - pos);
    if (!pair.empty()) {
      if (++fields > 64) return invalidArgumentError("form body: more than 64 fields");
      const std::size_t eq = pair.find('=');
      SKR_ASSIGN_OR_RETURN(std::string name, formDecode(pair.substr(0, eq)));
      std::string value;
      if (eq != std::string_view::npos) {
        SKR_ASSIGN_OR_RETURN(value, formDecode(pair.substr(eq + 1)));
      }
      out.emplace(std::move(name), std::move(value));
    }
    pos = amp + 1;
  }
  return out;
}

void EntraService::registerRoutes(Router& router, EmulatorContext& context) {
  router.add({"entra"}, "POST", "/{tenant}/oauth2/v2.0/token",
             [&context](const Request& r) { return tokenHandler(context, r); });
  router.add({"entra"}, "GET", "/{tenant}/discovery/v2.0/keys", [&context](const Request& r) {
    if (r.captures.at("tenant") != context.tenantId()) {
      return aadError(context, 400, "invalid_tenant", 90002, "Tenant not found.");
    }
    return jsonResponse(200, context.signingKeys().entra().jwks());
  });
  router.add({"entra"}, "GET", "/{tenant}/v2.0/.well-known/openid-configuration",
             [&context](const Request& r) { return tenantOpenIdConfiguration(context, r); });
  router.add({"entra"}, "GET", "/k8s-issuer/.well-known/openid-configuration",
             [&context](const Request&) { return k8sOpenIdConfiguration(context); });
  router.add({"entra"}, "GET", "/k8s-issuer/openid/v1/jwks", [&context](const Request&) {
    return jsonResponse(200, context.signingKeys().k8sIssuer().jwks());
  });
}

}  // namespace skr::emulator
