#include "common/azure/identity.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <iterator>

#include "common/core/rfc3339.h"
#include "common/core/time_limits.h"
#include "common/encoding/base64.h"
#include "common/json/json.h"
#include "common/log/logger.h"
#include "common/log/redaction.h"

namespace skr::azure {
namespace {

using std::chrono::seconds;
using std::chrono::system_clock;

constexpr std::size_t kMaxTokenBytes = 16 * 1024;
constexpr std::size_t kMaxTokenFileBytes = 64 * 1024;
constexpr std::size_t kMaxDescriptionChars = 400;
constexpr int64_t kMaxLifetimeSeconds = 10LL * 365 * 24 * 3600;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Wipes a std::string that held a token (response bodies, file contents) before it is freed.
void wipe(std::string& s) {
  http::wipeString(s);
  s.clear();
}

std::string percentEncode(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) != 0 || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0xF]);
    }
  }
  return out;
}

// Characters of an id (GUID, tenant domain, ARM resource id) that go into a URL or form.
bool isSafeId(std::string_view s, std::string_view extra) {
  if (s.empty() || s.size() > 512) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
           extra.find(c) != std::string_view::npos;
  });
}

Status validateResource(const std::string& resource) {
  if (resource.size() > 256 || resource.rfind("https://", 0) != 0 ||
      !isSafeId(resource.substr(8), "-._~/:")) {
    return invalidArgumentError("token resource '" + resource.substr(0, 256) +
                                "' is not an https:// URI");
  }
  return okStatus();
}

// Strips a trailing "/" so "https://vault.azure.net/" and "https://vault.azure.net" compare equal.
std::string canonicalResource(std::string_view resource) {
  std::string r(resource);
  while (!r.empty() && r.back() == '/') r.pop_back();
  return r;
}

Status validateAccessToken(std::string_view token, std::string_view source) {
  if (token.empty()) return invalidArgumentError(std::string(source) + ": empty access_token");
  if (token.size() > kMaxTokenBytes) {
    return invalidArgumentError(std::string(source) + ": access_token is " +
                                std::to_string(token.size()) + " bytes, limit " +
                                std::to_string(kMaxTokenBytes));
  }
  for (char c : token) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7F) {
      return invalidArgumentError(std::string(source) +
                                  ": access_token has characters not allowed in a bearer token");
    }
  }
  return okStatus();
}

// A number that Azure may send as a JSON string ("3599") or as an integer.
StatusOr<std::optional<int64_t>> getFlexibleInt(const json::ObjectPtr& object,
                                                std::string_view key) {
  StatusOr<std::optional<int64_t>> as_int = json::getOptionalInt(object, key);
  if (as_int.ok()) return as_int;
  SKR_ASSIGN_OR_RETURN(std::optional<std::string> text, json::getOptionalString(object, key));
  if (!text.has_value()) return std::optional<int64_t>();
  if (text->empty() || text->size() > 12 ||
      !std::all_of(text->begin(), text->end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return invalidArgumentError("member '" + std::string(key) + "': '" + text->substr(0, 24) +
                                "' is not a decimal number");
  }
  return std::optional<int64_t>(std::stoll(*text));
}

Status checkTokenType(const json::ObjectPtr& object) {
  SKR_ASSIGN_OR_RETURN(std::optional<std::string> type,
                       json::getOptionalString(object, "token_type"));
  if (type.has_value() && lower(*type) != "bearer") {
    return invalidArgumentError("token_type is '" + type->substr(0, 32) + "', expected Bearer");
  }
  return okStatus();
}

StatusOr<AccessToken> tokenFrom(const json::ObjectPtr& object, system_clock::time_point expires_on,
                                std::string_view source) {
  SKR_ASSIGN_OR_RETURN(std::string token, json::getString(object, "access_token"));
  Status valid = validateAccessToken(token, source);
  AccessToken result;
  if (valid.ok()) {
    result.token =
        SecretBytes::copyOf(ByteView(reinterpret_cast<const uint8_t*>(token.data()), token.size()));
  }
  wipe(token);
  SKR_RETURN_IF_ERROR(valid);
  result.expires_on = expires_on;
  return result;
}

StatusOr<system_clock::time_point> relativeExpiry(int64_t expires_in,
                                                  system_clock::time_point now) {
  if (expires_in < 0 || expires_in > kMaxLifetimeSeconds) {
    return invalidArgumentError("expires_in " + std::to_string(expires_in) + " is out of range");
  }
  return now + seconds(expires_in);
}

// Bounded, printable text from an untrusted peer, JWT-looking runs redacted.
std::string cleanText(std::string_view text) {
  return log::quoteUntrusted(text, kMaxDescriptionChars);
}

// JWT payload claims without verifying anything (only to learn exp / aud of a token we were
// handed); nullopt when it is not a JWT.
std::optional<json::ObjectPtr> unverifiedClaims(std::string_view token) {
  const std::size_t first = token.find('.');
  if (first == std::string_view::npos) return std::nullopt;
  const std::size_t second = token.find('.', first + 1);
  if (second == std::string_view::npos) return std::nullopt;
  StatusOr<Bytes> payload = encoding::base64UrlDecode(token.substr(first + 1, second - first - 1));
  if (!payload.ok()) return std::nullopt;
  StatusOr<json::ObjectPtr> claims = json::parseObject(
      std::string_view(reinterpret_cast<const char*>(payload->data()), payload->size()));
  if (!claims.ok()) return std::nullopt;
  return *claims;
}

// Expiry and audience check for a token we did not fetch ourselves.
StatusOr<AccessToken> staticToken(std::string_view token, const std::string& resource,
                                  system_clock::time_point no_exp_expiry, std::string_view source) {
  SKR_RETURN_IF_ERROR(validateAccessToken(token, source));
  AccessToken result;
  result.expires_on = no_exp_expiry;
  if (std::optional<json::ObjectPtr> claims = unverifiedClaims(token)) {
    StatusOr<std::optional<int64_t>> exp = json::getOptionalInt(*claims, "exp");
    // An exp a system_clock time_point cannot hold (after kLatestEpochSeconds) is treated as no
    // exp.
    if (exp.ok() && exp->has_value() && **exp > 0 && **exp <= kLatestEpochSeconds) {
      result.expires_on = system_clock::time_point(seconds(**exp));
    }
    StatusOr<std::optional<std::string>> aud = json::getOptionalString(*claims, "aud");
    if (aud.ok() && aud->has_value() && canonicalResource(**aud) != canonicalResource(resource)) {
      return invalidArgumentError(std::string(source) + ": the token is for '" + cleanText(**aud) +
                                  "', but '" + resource + "' is needed");
    }
  }
  result.token =
      SecretBytes::copyOf(ByteView(reinterpret_cast<const uint8_t*>(token.data()), token.size()));
  return result;
}

StatusOr<std::string> readBoundedFile(const std::string& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return notFoundError(std::string(what) + " '" + path + "' cannot be read");
  std::string content;
  content.resize(kMaxTokenFileBytes + 1);
  in.read(content.data(), static_cast<std::streamsize>(content.size()));
  content.resize(static_cast<std::size_t>(in.gcount()));
  if (content.size() > kMaxTokenFileBytes) {
    wipe(content);
    return invalidArgumentError(std::string(what) + " '" + path + "' is larger than " +
                                std::to_string(kMaxTokenFileBytes) + " bytes");
  }
  while (!content.empty() && std::isspace(static_cast<unsigned char>(content.back())) != 0) {
    content.pop_back();
  }
  std::size_t start = 0;
  while (start < content.size() && std::isspace(static_cast<unsigned char>(content[start])) != 0) {
    ++start;
  }
  content.erase(0, start);
  if (content.empty()) return invalidArgumentError(std::string(what) + " '" + path + "' is empty");
  return content;
}

std::string envOrEmpty(const char* name) {
  const char* value = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): read at start-up
  return value == nullptr ? std::string() : std::string(value);
}

// A failed token request to `url`: whatever went wrong, no token came from the identity source.
Status fromTokenEndpoint(const Status& status, const std::string& url) {
  return http::failedRequest(status, Dependency::Identity, url, ErrorCause::Identity);
}

}  // namespace

std::string resourceForHost(std::string_view host_and_port,
                            const std::map<std::string, std::string>& overrides) {
  const std::string key = lower(host_and_port);
  for (const auto& [pattern, resource] : overrides) {
    if (lower(pattern) == key) return resource;
  }
  std::string host = key;
  const std::size_t colon = host.rfind(':');
  if (colon != std::string::npos && host.find(']') == std::string::npos &&
      host.find(':') == colon) {
    host.erase(colon);
  }
  for (const auto& [pattern, resource] : overrides) {
    if (lower(pattern) == host) return resource;
  }
  static constexpr std::string_view kMhsmSuffix = ".managedhsm.azure.net";
  if (host.size() > kMhsmSuffix.size() &&
      host.compare(host.size() - kMhsmSuffix.size(), kMhsmSuffix.size(), kMhsmSuffix) == 0) {
    return kManagedHsmResource;
  }
  return kVaultResource;
}

// ---- parsers ----

StatusOr<AccessToken> parseImdsTokenResponse(std::string_view body, system_clock::time_point now) {
  json::ParseLimits limits;
  limits.max_bytes = 64 * 1024;
  limits.max_depth = 4;
  StatusOr<json::ObjectPtr> parsed = json::parseObject(body, limits);
  if (!parsed.ok()) return parsed.status().withContext("IMDS token response");
  const json::ObjectPtr& object = *parsed;
  Status type = checkTokenType(object);
  if (!type.ok()) return type.withContext("IMDS token response");
  StatusOr<std::optional<int64_t>> expires_on = getFlexibleInt(object, "expires_on");
  if (!expires_on.ok()) return expires_on.status().withContext("IMDS token response");
  system_clock::time_point expiry;
  if (expires_on->has_value()) {
    if (**expires_on <= 0) return invalidArgumentError("IMDS token response: expires_on is 0");
    // Bounded like expires_in: 12 digits of seconds (year 33658) overflow a system_clock
    // time_point (int64 nanoseconds, ends in 2262).
    const int64_t now_seconds = std::chrono::duration_cast<seconds>(now.time_since_epoch()).count();
    if (**expires_on > now_seconds + kMaxLifetimeSeconds) {
      return invalidArgumentError("IMDS token response: expires_on " +
                                  std::to_string(**expires_on) + " is out of range");
    }
    expiry = system_clock::time_point(seconds(**expires_on));
    // A token that expired before it arrived would only be refused by the vault (401), reported
    // as a denied release: it is IMDS's answer that is wrong (or this machine's clock).
    if (expiry <= now) {
      return invalidArgumentError(
          "IMDS token response: the token expired at " + formatRfc3339(expiry) +
          ", before it arrived (this machine's time is " + formatRfc3339(now) +
          "): the identity endpoint or this clock is wrong");
    }
  } else {
    StatusOr<std::optional<int64_t>> expires_in = getFlexibleInt(object, "expires_in");
    if (!expires_in.ok()) return expires_in.status().withContext("IMDS token response");
    if (!expires_in->has_value()) {
      return invalidArgumentError("IMDS token response: neither expires_on nor expires_in");
    }
    StatusOr<system_clock::time_point> relative = relativeExpiry(**expires_in, now);
    if (!relative.ok()) return relative.status().withContext("IMDS token response");
    expiry = *relative;
  }
  return tokenFrom(object, expiry, "IMDS token response");
}

StatusOr<AccessToken> parseEntraTokenResponse(std::string_view body, system_clock::time_point now) {
  json::ParseLimits limits;
  limits.max_bytes = 64 * 1024;
  limits.max_depth = 4;
  StatusOr<json::ObjectPtr> parsed = json::parseObject(body, limits);
  if (!parsed.ok()) return parsed.status().withContext("Entra ID token response");
  const json::ObjectPtr& object = *parsed;
  Status type = checkTokenType(object);
  if (!type.ok()) return type.withContext("Entra ID token response");
  StatusOr<std::optional<int64_t>> expires_in = getFlexibleInt(object, "expires_in");
  if (!expires_in.ok()) return expires_in.status().withContext("Entra ID token response");
  if (!expires_in->has_value()) {
    return invalidArgumentError("Entra ID token response: no expires_in");
  }
  StatusOr<system_clock::time_point> expiry = relativeExpiry(**expires_in, now);
  if (!expiry.ok()) return expiry.status().withContext("Entra ID token response");
  return tokenFrom(object, *expiry, "Entra ID token response");
}

Status tokenEndpointError(std::string_view what, const http::RetriedResponse& answer) {
  const int status = answer.response.status;
  std::string error;
  std::string description;
  json::ParseLimits limits;
  limits.max_bytes = 64 * 1024;
  limits.max_depth = 8;
  StatusOr<json::ObjectPtr> parsed = json::parseObject(answer.response.body, limits);
  if (parsed.ok()) {
    StatusOr<std::optional<std::string>> e = json::getOptionalString(*parsed, "error");
    if (e.ok() && e->has_value()) error = cleanText(**e);
    StatusOr<std::optional<std::string>> d = json::getOptionalString(*parsed, "error_description");
    if (d.ok() && d->has_value()) description = cleanText(**d);
  }
  std::string message = std::string(what) + ": HTTP " + std::to_string(status);
  if (!error.empty()) message += " " + error;
  if (!description.empty()) message += ": " + description;
  if (error.empty() && description.empty()) {
    message += " (" + std::to_string(answer.response.body.size()) + "-byte body without error)";
  }
  if (!answer.gave_up.empty()) message += " (" + answer.gave_up + ")";
  const ErrorDetails details{Dependency::Identity, ErrorCause::Identity, "", status, error,
                             answer.attempts};

  if (status == 401 || error == "invalid_client" || error == "unauthorized_client" ||
      error == "invalid_grant") {
    return unauthenticatedError(std::move(message)).withDetails(details);
  }
  if (status == 403) return permissionDeniedError(std::move(message)).withDetails(details);
  if (status == 404) return notFoundError(std::move(message)).withDetails(details);
  if (status >= 400 && status != 408 && status != 429 && status < 500) {
    return invalidArgumentError(std::move(message)).withDetails(details);
  }
  // 408, 429, 5xx; 1xx/2xx/3xx other than 200: unexpected.
  return unavailableError(std::move(message)).withDetails(details);
}

// ---- IMDS ----

http::RetryPolicy ImdsOptions::imdsRetryPolicy() {
  http::RetryPolicy policy;
  policy.dependency = "IMDS";
  policy.max_attempts = 5;
  policy.backoff = {std::chrono::milliseconds(1'000), std::chrono::milliseconds(16'000),
                    std::chrono::milliseconds(60'000)};
  policy.overall_deadline = std::chrono::milliseconds(70'000);
  policy.retryable_statuses = {404, 408, 410, 429, 500, 502, 503, 504};
  return policy;
}

StatusOr<std::unique_ptr<ImdsTokenProvider>> ImdsTokenProvider::create(
    std::shared_ptr<http::HttpTransport> transport, ImdsOptions options, Clock& clock,
    http::JitterSource& jitter) {
  if (!transport) return invalidArgumentError("IMDS token provider: no HTTP transport");
  while (!options.endpoint.empty() && options.endpoint.back() == '/') options.endpoint.pop_back();
  const std::size_t scheme_end = options.endpoint.find("://");
  if (scheme_end == std::string::npos ||
      (options.endpoint.compare(0, scheme_end, "http") != 0 &&
       options.endpoint.compare(0, scheme_end, "https") != 0) ||
      !isSafeId(options.endpoint.substr(scheme_end + 3), "-.:[]")) {
    return invalidArgumentError("IMDS endpoint '" + options.endpoint.substr(0, 256) +
                                "' must be http://host[:port]");
  }
  if ((options.identity == ImdsIdentity::Default) != options.identity_id.empty()) {
    return invalidArgumentError(
        "IMDS token provider: an identity id is needed exactly when client_id, object_id or "
        "msi_res_id is chosen");
  }
  if (!options.identity_id.empty() && !isSafeId(options.identity_id, "-._/()")) {
    return invalidArgumentError("IMDS token provider: identity id has invalid characters");
  }
  if (options.attempt_timeout.count() <= 0) {
    return invalidArgumentError("IMDS token provider: attempt timeout must be positive");
  }
  return std::unique_ptr<ImdsTokenProvider>(
      new ImdsTokenProvider(std::move(transport), std::move(options), clock, jitter));
}

ImdsTokenProvider::ImdsTokenProvider(std::shared_ptr<http::HttpTransport> transport,
                                     ImdsOptions options, Clock& clock, http::JitterSource& jitter)
    : transport_(std::move(transport)),
      options_(std::move(options)),
      clock_(clock),
      jitter_(jitter) {}

std::string ImdsTokenProvider::describe() const {
  switch (options_.identity) {
    case ImdsIdentity::ClientId:
      return "IMDS managed identity (client_id " + options_.identity_id + ")";
    case ImdsIdentity::ObjectId:
      return "IMDS managed identity (object_id " + options_.identity_id + ")";
    case ImdsIdentity::MsiResId:
      return "IMDS managed identity (msi_res_id " + options_.identity_id + ")";
    case ImdsIdentity::Default: break;
  }
  return "IMDS managed identity (default identity)";
}

StatusOr<AccessToken> ImdsTokenProvider::token(const std::string& resource) {
  SKR_RETURN_IF_ERROR(validateResource(resource));
  const std::string what = describe() + " token for '" + resource + "'";
  http::HttpRequest request;
  request.url =
      options_.endpoint +
      "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=" + percentEncode(resource);
  switch (options_.identity) {
    case ImdsIdentity::ClientId:
      request.url += "&client_id=" + percentEncode(options_.identity_id);
      break;
    case ImdsIdentity::ObjectId:
      request.url += "&object_id=" + percentEncode(options_.identity_id);
      break;
    case ImdsIdentity::MsiResId:
      request.url += "&msi_res_id=" + percentEncode(options_.identity_id);
      break;
    case ImdsIdentity::Default: break;
  }
  request.headers = {{"Metadata", "true"}};
  request.timeout = options_.attempt_timeout;
  request.max_response_bytes = 64 * 1024;
  StatusOr<http::RetriedResponse> answer =
      http::sendWithRetry(*transport_, request, options_.retry, clock_, jitter_);
  if (!answer.ok()) return fromTokenEndpoint(answer.status().withContext(what), request.url);
  if (answer->response.status != 200) {
    return fromTokenEndpoint(tokenEndpointError(what, *answer), request.url);
  }
  StatusOr<AccessToken> token = parseImdsTokenResponse(answer->response.body, clock_.now());
  wipe(answer->response.body);
  if (!token.ok()) return token.status().withContext(what);
  log::info("token_acquired", {{"source", "imds"}, {"resource", resource}});
  return token;
}

// ---- workload identity ----

http::RetryPolicy WorkloadIdentityOptions::defaultRetryPolicy() {
  http::RetryPolicy policy;
  policy.dependency = "Entra ID";
  policy.max_attempts = 4;
  policy.backoff = {std::chrono::milliseconds(800), std::chrono::milliseconds(8'000),
                    std::chrono::milliseconds(60'000)};
  policy.overall_deadline = std::chrono::milliseconds(60'000);
  return policy;
}

StatusOr<WorkloadIdentityOptions> WorkloadIdentityOptions::fromEnvironment() {
  WorkloadIdentityOptions options;
  options.client_id = envOrEmpty("AZURE_CLIENT_ID");
  options.tenant_id = envOrEmpty("AZURE_TENANT_ID");
  options.federated_token_file = envOrEmpty("AZURE_FEDERATED_TOKEN_FILE");
  const std::string authority = envOrEmpty("AZURE_AUTHORITY_HOST");
  if (!authority.empty()) options.authority_host = authority;
  std::string missing;
  for (const auto& [name, value] :
       {std::pair<const char*, const std::string*>{"AZURE_CLIENT_ID", &options.client_id},
        {"AZURE_TENANT_ID", &options.tenant_id},
        {"AZURE_FEDERATED_TOKEN_FILE", &options.federated_token_file}}) {
    if (value->empty()) missing += (missing.empty() ? "" : ", ") + std::string(name);
  }
  if (!missing.empty()) {
    return notFoundError("workload identity: environment variables not set: " + missing);
  }
  return options;
}

StatusOr<std::unique_ptr<WorkloadIdentityTokenProvider>> WorkloadIdentityTokenProvider::create(
    std::shared_ptr<http::HttpTransport> transport, WorkloadIdentityOptions options, Clock& clock,
    http::JitterSource& jitter) {
  if (!transport) return invalidArgumentError("workload identity: no HTTP transport");
  if (!isSafeId(options.client_id, "-")) {
    return invalidArgumentError("workload identity: client id '" + options.client_id.substr(0, 64) +
                                "' is not valid");
  }
  if (!isSafeId(options.tenant_id, "-.")) {
    return invalidArgumentError("workload identity: tenant id '" + options.tenant_id.substr(0, 64) +
                                "' is not valid");
  }
  if (options.federated_token_file.empty()) {
    return invalidArgumentError("workload identity: no federated token file");
  }
  while (!options.authority_host.empty() && options.authority_host.back() == '/') {
    options.authority_host.pop_back();
  }
  if (options.authority_host.rfind("https://", 0) != 0 ||
      !isSafeId(options.authority_host.substr(8), "-.:[]")) {
    return invalidArgumentError("workload identity: authority host '" +
                                options.authority_host.substr(0, 256) +
                                "' must be https://host[:port]");
  }
  if (options.attempt_timeout.count() <= 0) {
    return invalidArgumentError("workload identity: attempt timeout must be positive");
  }
  return std::unique_ptr<WorkloadIdentityTokenProvider>(
      new WorkloadIdentityTokenProvider(std::move(transport), std::move(options), clock, jitter));
}

WorkloadIdentityTokenProvider::WorkloadIdentityTokenProvider(
    std::shared_ptr<http::HttpTransport> transport, WorkloadIdentityOptions options, Clock& clock,
    http::JitterSource& jitter)
    : transport_(std::move(transport)),
      options_(std::move(options)),
      clock_(clock),
      jitter_(jitter) {}

std::string WorkloadIdentityTokenProvider::describe() const {
  return "workload identity (client_id " + options_.client_id + ", tenant " + options_.tenant_id +
         ")";
}

StatusOr<AccessToken> WorkloadIdentityTokenProvider::token(const std::string& resource) {
  SKR_RETURN_IF_ERROR(validateResource(resource));
  const std::string what = describe() + " token for '" + resource + "'";
  StatusOr<std::string> assertion =
      readBoundedFile(options_.federated_token_file, "federated token file");
  if (!assertion.ok()) return assertion.status().withContext(what);
  http::HttpRequest request;
  request.method = "POST";
  request.url = options_.authority_host + "/" + options_.tenant_id + "/oauth2/v2.0/token";
  request.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                     {"Accept", "application/json"}};
  request.body = "grant_type=client_credentials&client_id=" + percentEncode(options_.client_id) +
                 "&scope=" + percentEncode(canonicalResource(resource) + "/.default") +
                 "&client_assertion_type=" +
                 percentEncode("urn:ietf:params:oauth:client-assertion-type:jwt-bearer") +
                 "&client_assertion=" + percentEncode(*assertion);
  wipe(*assertion);
  request.timeout = options_.attempt_timeout;
  request.max_response_bytes = 64 * 1024;
  StatusOr<http::RetriedResponse> answer =
      http::sendWithRetry(*transport_, request, options_.retry, clock_, jitter_);
  wipe(request.body);
  if (!answer.ok()) return fromTokenEndpoint(answer.status().withContext(what), request.url);
  if (answer->response.status != 200) {
    return fromTokenEndpoint(tokenEndpointError(what, *answer), request.url);
  }
  StatusOr<AccessToken> token = parseEntraTokenResponse(answer->response.body, clock_.now());
  wipe(answer->response.body);
  if (!token.ok()) return token.status().withContext(what);
  log::info("token_acquired", {{"source", "workload_identity"}, {"resource", resource}});
  return token;
}

// ---- static tokens ----

TokenFileProvider::TokenFileProvider(std::string path, Clock& clock)
    : path_(std::move(path)), clock_(clock) {}

std::string TokenFileProvider::describe() const {
  return "token file '" + path_ + "'";
}

StatusOr<AccessToken> TokenFileProvider::token(const std::string& resource) {
  SKR_RETURN_IF_ERROR(validateResource(resource));
  StatusOr<std::string> content = readBoundedFile(path_, "token file");
  if (!content.ok()) return content.status();
  StatusOr<AccessToken> token =
      staticToken(*content, resource, clock_.now() + std::chrono::minutes(5), describe());
  wipe(*content);
  return token;
}

LiteralTokenProvider::LiteralTokenProvider(SecretBytes token) : token_(std::move(token)) {}

std::string LiteralTokenProvider::describe() const {
  return "configured access token";
}

StatusOr<AccessToken> LiteralTokenProvider::token(const std::string& resource) {
  SKR_RETURN_IF_ERROR(validateResource(resource));
  const ByteView bytes = token_.view(grantSecretAccess());
  return staticToken(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()),
                     resource, system_clock::time_point::max(), describe());
}

// ---- cache ----

CachingTokenProvider::CachingTokenProvider(std::unique_ptr<TokenProvider> inner, Clock& clock,
                                           std::chrono::seconds margin)
    : inner_(std::move(inner)), clock_(clock), margin_(margin) {}

StatusOr<AccessToken> CachingTokenProvider::token(const std::string& resource) {
  const std::string key = canonicalResource(resource);
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = cache_.find(key);
  const auto now = clock_.now();
  if (it != cache_.end()) {
    if (it->second.expires_on == system_clock::time_point::max() ||
        now < it->second.expires_on - margin_) {
      return it->second.clone();
    }
    cache_.erase(it);
    noteExpiries();
  }
  SKR_ASSIGN_OR_RETURN(AccessToken fresh, inner_->token(resource));
  if (fresh.expires_on == system_clock::time_point::max() || now < fresh.expires_on - margin_) {
    cache_.insert_or_assign(key, fresh.clone());
    noteExpiries();
  }
  return fresh;
}

void CachingTokenProvider::invalidate() {
  std::lock_guard<std::mutex> lock(mutex_);
  cache_.clear();
  noteExpiries();
}

void CachingTokenProvider::noteExpiries() {
  std::optional<system_clock::time_point> earliest;
  for (const auto& [resource, token] : cache_) {
    if (token.expires_on == system_clock::time_point::max()) continue;
    if (!earliest || token.expires_on < *earliest) earliest = token.expires_on;
  }
  std::lock_guard<std::mutex> lock(expiry_mutex_);
  earliest_ = earliest;
}

std::optional<system_clock::time_point> CachingTokenProvider::earliestExpiry() const {
  std::lock_guard<std::mutex> lock(expiry_mutex_);
  return earliest_;
}

}  // namespace skr::azure
