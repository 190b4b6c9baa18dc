#include "agent/sidecar_compat.h"

#include <algorithm>
#include <cctype>
#include <initializer_list>
#include <utility>
#include <vector>

#include "common/azure/maa_client.h"
#include "common/encoding/base64.h"
#include "common/encoding/hex.h"
#include "common/encoding/json_string.h"
#include "common/encoding/json_writer.h"
#include "common/json/json.h"
#include "common/log/redaction.h"
#include "common/snp/report.h"

namespace skr::agent {
namespace {

// runtime_data is a few hundred bytes in practice (a JWKS); MAA takes at most a few KiB.
constexpr std::size_t kMaxRuntimeData = 16 * 1024;

// {"<member>": "<value>"} for a non-secret value.
HttpResponse single(std::string_view member, std::string_view value) {
  json::Writer text;
  text.beginObject().member(member, value).endObject();
  return jsonTextResponse(200, text.text());
}

// "host[:port]" of an endpoint given as "host", "https://host/" or "http://host:1/": lower case,
// without a scheme or trailing slashes. The sidecar's fields carry bare hosts.
std::string endpointHost(std::string_view endpoint) {
  for (std::string_view scheme : {"https://", "http://"}) {
    if (endpoint.size() >= scheme.size()) {
      bool same = true;
      for (std::size_t i = 0; i < scheme.size() && same; ++i) {
        same = std::tolower(static_cast<unsigned char>(endpoint[i])) == scheme[i];
      }
      if (same) {
        endpoint.remove_prefix(scheme.size());
        break;
      }
    }
  }
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.remove_suffix(1);
  std::string out(endpoint);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// The host of a kid "https://host/keys/name/version".
std::string kidHost(std::string_view kid) {
  std::string host = endpointHost(kid);
  const std::size_t slash = host.find('/');
  return slash == std::string::npos ? host : host.substr(0, slash);
}

struct Failure {
  int status;
  std::string code;
  std::string message;
};

// The request body as a JSON object, and its required string members (as gin's
// `binding:"required"`: missing or empty is a malformed request).
StatusOr<json::ObjectPtr> parseRequest(const HttpRequest& request) {
  if (request.body.empty()) {
    return invalidArgumentError("invalid request format: the body is empty, expected JSON");
  }
  const ByteView bytes = request.body.view(grantSecretAccess());
  json::ParseLimits limits;
  limits.max_bytes = 256 * 1024;
  limits.max_depth = 4;
  limits.max_string_bytes = 64 * 1024;
  StatusOr<json::ObjectPtr> object = json::parseObject(asText(bytes), limits);
  if (!object.ok()) {
    return invalidArgumentError("invalid request format: " + object.status().message());
  }
  return object;
}

StatusOr<std::string> required(const json::ObjectPtr& body, std::string_view member) {
  StatusOr<std::string> value = json::getString(body, member);
  if (!value.ok() || value->empty()) {
    return invalidArgumentError("invalid request format: '" + std::string(member) +
                                "' is required and must be a non-empty string");
  }
  return value;
}

StatusOr<Bytes> runtimeData(const json::ObjectPtr& body) {
  SKR_ASSIGN_OR_RETURN(std::string text, required(body, "runtime_data"));
  StatusOr<Bytes> bytes = encoding::base64DecodeLenient(text, kMaxRuntimeData);
  if (!bytes.ok()) {
    return invalidArgumentError("decoding base64-encoded runtime data of request failed: " +
                                bytes.status().message());
  }
  return bytes;
}

// A failure reply, noted for the audit line.
HttpResponse failWith(CompatAudit& audit, int status, std::string code,
                      const std::string& message) {
  audit.code = std::move(code);
  return SidecarCompat::error(status, message);
}

// The request's JSON object and its required string members, in order.
StatusOr<std::vector<std::string>> requiredMembers(const HttpRequest& request,
                                                   std::initializer_list<std::string_view> names,
                                                   json::ObjectPtr* body_out = nullptr) {
  SKR_ASSIGN_OR_RETURN(json::ObjectPtr body, parseRequest(request));
  std::vector<std::string> out;
  for (std::string_view name : names) {
    SKR_ASSIGN_OR_RETURN(std::string value, required(body, name));
    out.push_back(std::move(value));
  }
  if (body_out != nullptr) *body_out = body;
  return out;
}

}  // namespace

// ---- ServicesSidecarPlatform ----

ServicesSidecarPlatform::ServicesSidecarPlatform(release::ReleaseServices& services,
                                                 const Clock& clock, uint32_t vmpl,
                                                 std::chrono::milliseconds deadline)
    : services_(services), clock_(clock), vmpl_(vmpl), deadline_(deadline) {}

StatusOr<Bytes> ServicesSidecarPlatform::report(const std::array<uint8_t, 64>& report_data) {
  return services_.device->getReport(report_data, vmpl_);
}

StatusOr<snp::Collateral> ServicesSidecarPlatform::collateral(ByteView report) {
  SKR_ASSIGN_OR_RETURN(snp::SnpReport parsed, snp::SnpReport::parse(report));
  return services_.collateral->fetch(parsed);
}

StatusOr<std::string> ServicesSidecarPlatform::maaToken(std::string_view runtime_data) {
  SKR_ASSIGN_OR_RETURN(Bytes raw, report(azure::reportDataFor(runtime_data)));
  SKR_ASSIGN_OR_RETURN(snp::Collateral endorsements, collateral(raw));
  SKR_ASSIGN_OR_RETURN(azure::MaaToken token,
                       services_.maa->attestRuntimeData(raw, endorsements, runtime_data,
                                                        clock_.steadyNow() + deadline_));
  return std::move(token.token);
}

// ---- SidecarCompat ----

SidecarCompat::SidecarCompat(std::shared_ptr<Keyring> keyring,
                             std::shared_ptr<SidecarPlatform> platform, std::string maa_endpoint)
    : keyring_(std::move(keyring)),
      platform_(std::move(platform)),
      maa_endpoint_(std::move(maa_endpoint)) {}

std::optional<CompatRoute> SidecarCompat::resolve(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  if (path == "/status") {
    return CompatRoute{CompatRouteKind::Status, "GET", "sidecar_status", false, Operation::Attest};
  }
  if (path == "/attest/raw") {
    return CompatRoute{CompatRouteKind::AttestRaw, "POST", "sidecar_attest_raw", true,
                       Operation::Attest};
  }
  if (path == "/attest/combined") {
    return CompatRoute{CompatRouteKind::AttestCombined, "POST", "sidecar_attest_combined", true,
                       Operation::Attest};
  }
  if (path == "/attest/maa") {
    return CompatRoute{CompatRouteKind::AttestMaa, "POST", "sidecar_attest_maa", true,
                       Operation::Attest};
  }
  if (path == "/key/release") {
    return CompatRoute{CompatRouteKind::KeyRelease, "POST", "sidecar_key_release", true,
                       Operation::Release};
  }
  return std::nullopt;
}

HttpResponse SidecarCompat::error(int status, std::string_view message) {
  json::Writer text;
  text.beginObject().member("error", message).endObject();
  return jsonTextResponse(status, text.text());
}

HttpResponse SidecarCompat::serve(const CompatRoute& route, const HttpRequest& request,
                                  const Caller* caller, bool ready, CompatAudit& audit) const {
  if (route.kind == CompatRouteKind::Status) {
    return single("message", ready ? "Status OK" : "Status NOT OK");
  }
  if (caller == nullptr) {
    audit.code = "Forbidden";
    return error(403, "no authenticated caller");
  }
  if (route.kind == CompatRouteKind::KeyRelease) return keyRelease(request, *caller, audit);
  if (std::optional<AuthError> refused = caller->check(route.op, "")) {
    audit.code = refused->code;
    audit.auth_failure = refused->reason;
    return error(refused->http_status, refused->message);
  }
  switch (route.kind) {
    case CompatRouteKind::AttestRaw: return attestRaw(request, false, audit);
    case CompatRouteKind::AttestCombined: return attestRaw(request, true, audit);
    case CompatRouteKind::AttestMaa: return attestMaa(request, audit);
    default: break;
  }
  audit.code = "Internal";
  return error(500, "unhandled route");
}

HttpResponse SidecarCompat::attestRaw(const HttpRequest& request, bool combined,
                                      CompatAudit& audit) const {
  auto fail = [&](int status, std::string code, const std::string& message) {
    return failWith(audit, status, std::move(code), message);
  };
  StatusOr<json::ObjectPtr> body = parseRequest(request);
  if (!body.ok()) return fail(400, "BadRequest", body.status().message());
  StatusOr<Bytes> runtime = runtimeData(*body);
  if (!runtime.ok()) return fail(400, "BadRequest", runtime.status().message());

  StatusOr<Bytes> report = platform_->report(azure::reportDataFor(asText(*runtime)));
  if (!report.ok()) {
    // The sidecar answers 403 when /attest/raw cannot fetch a report, 500 for /attest/combined.
    return fail(combined ? 500 : 403, combined ? "Internal" : "Forbidden",
                "fetching the attestation report failed: " + report.status().message());
  }
  if (!combined) return single("report", encoding::hexEncode(*report));

  StatusOr<snp::Collateral> collateral = platform_->collateral(*report);
  if (!collateral.ok()) {
    return fail(500, "Internal",
                "fetching the AMD certificates failed: " + collateral.status().message());
  }
  std::string chain = collateral->vek.toPem();
  for (const crypto::Certificate& cert : collateral->chain) chain += cert.toPem();
  // The sidecar's CombinedAttestationData, at the top level of the answer (c.JSON(200, data)).
  json::Writer data;
  data.beginObject()
      .member("endorsed_tcb", collateral->tcbm)
      .member("endorsements", encoding::base64Encode(asBytes(chain)))
      .member("evidence", encoding::base64Encode(*report))
      .member("uvm_endorsements", collateral->uvm_endorsement
                                      ? encoding::base64Encode(*collateral->uvm_endorsement)
                                      : std::string())
      .endObject();
  return jsonTextResponse(200, data.text());
}

Status SidecarCompat::checkMaaEndpoint(const std::string& maa) const {
  const std::string expected = endpointHost(maa_endpoint_);
  if (endpointHost(maa) == expected) return okStatus();
  return permissionDeniedError("maa_endpoint '" + log::quoteUntrusted(maa, 200) +
                               "' is not the configured MAA instance '" + expected + "'");
}

HttpResponse SidecarCompat::attestMaa(const HttpRequest& request, CompatAudit& audit) const {
  json::ObjectPtr body;
  StatusOr<std::vector<std::string>> fields = requiredMembers(request, {"maa_endpoint"}, &body);
  if (!fields.ok()) return failWith(audit, 400, "BadRequest", fields.status().message());
  StatusOr<Bytes> runtime = runtimeData(body);
  if (!runtime.ok()) return failWith(audit, 400, "BadRequest", runtime.status().message());
  if (Status s = checkMaaEndpoint((*fields)[0]); !s.ok()) {
    return failWith(audit, 403, "Forbidden", s.message());
  }
  StatusOr<std::string> token = platform_->maaToken(asText(*runtime));
  if (!token.ok()) return failWith(audit, 403, "Forbidden", token.status().message());
  return single("token", *token);
}

HttpResponse SidecarCompat::keyRelease(const HttpRequest& request, const Caller& caller,
                                       CompatAudit& audit) const {
  json::ObjectPtr body;
  StatusOr<std::vector<std::string>> fields =
      requiredMembers(request, {"maa_endpoint", "akv_endpoint", "kid"}, &body);
  if (!fields.ok()) return failWith(audit, 400, "BadRequest", fields.status().message());
  const std::string& maa = (*fields)[0];
  const std::string& akv = (*fields)[1];
  if (body->has("access_token") && !body->get("access_token").isString()) {
    return failWith(audit, 400, "BadRequest",
                    "invalid request format: 'access_token' must be a string");
  }

  // kid: "name" or "name/version" (the sidecar puts it into https://{akv}/keys/{kid}/release).
  std::string name = (*fields)[2];
  std::optional<std::string> version;
  if (const std::size_t slash = name.find('/'); slash != std::string::npos) {
    version = name.substr(slash + 1);
    name.resize(slash);
  }
  audit.key = log::quoteUntrusted(name, 128);
  if (version) audit.version = log::quoteUntrusted(*version, 128);
  if (std::optional<AuthError> refused = caller.check(Operation::Release, name)) {
    audit.auth_failure = refused->reason;
    return failWith(audit, refused->http_status, refused->code, refused->message);
  }
  if (Status s = checkMaaEndpoint(maa); !s.ok()) {
    return failWith(audit, 403, "Forbidden", s.message());
  }
  StatusOr<std::shared_ptr<const KeyVersion>> found =
      keyring_->find(name, version ? std::optional<std::string_view>(*version) : std::nullopt);
  if (!found.ok()) {
    return failWith(audit, 403, "Forbidden", "key release failed: " + found.status().message());
  }
  const KeyVersion& key = **found;
  if (endpointHost(akv) != kidHost(key.kid)) {
    return failWith(audit, 403, "Forbidden",
                    "akv_endpoint '" + log::quoteUntrusted(akv, 200) +
                        "' is not the vault of key '" + key.name + "' ('" + kidHost(key.kid) +
                        "')");
  }
  audit.version = key.version;
  StatusOr<SecretBytes> jwk = key.key->privateJson(grantSecretAccess());
  if (!jwk.ok()) return failWith(audit, 500, "Internal", "the key cannot be exported as a JWK");

  HttpResponse r;
  r.status = 200;
  r.headers.emplace_back("Content-Type", std::string(kJsonContentType));
  r.body.append(asBytes(std::string_view(R"({"key":)")));
  json::appendQuoted(r.body, asText(jwk->view(grantSecretAccess())));
  r.body.append(asBytes(std::string_view("}")));
  return r;
}

}  // namespace skr::agent
