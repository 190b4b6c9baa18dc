#include "common/azure/maa_client.h"

#include <algorithm>
#include <cctype>

#include "common/crypto/digest.h"
#include "common/crypto/x509.h"
#include "common/encoding/base64.h"
#include "common/encoding/hex.h"
#include "common/encoding/json_writer.h"
#include "common/http/url.h"
#include "common/jose/jws.h"
#include "common/jose/jwt.h"
#include "common/log/logger.h"
#include "common/log/redaction.h"

namespace skr::azure {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

constexpr std::size_t kMaxAttestResponseBytes = 256 * 1024;
constexpr std::size_t kMaxTokenBytes = 64 * 1024;
constexpr std::size_t kMaxRuntimeDataBytes = 64 * 1024;
constexpr std::size_t kMaxCertsBytes = 256 * 1024;
constexpr std::size_t kMaxCertsKeys = 32;
constexpr std::size_t kMaxCertDerBytes = 16 * 1024;
constexpr std::size_t kMaxErrorChars = 300;

// Bounded, printable text from an untrusted peer, JWT-looking runs redacted.
std::string cleanText(std::string_view text) {
  return log::quoteUntrusted(text, kMaxErrorChars);
}

bool isLoopbackHost(std::string_view host) {
  return host == "localhost" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

std::string hostWithoutPort(std::string_view host_port) {
  if (!host_port.empty() && host_port.front() == '[') {
    const std::size_t close = host_port.find(']');
    return std::string(
        host_port.substr(0, close == std::string_view::npos ? host_port.size() : close + 1));
  }
  return std::string(host_port.substr(0, host_port.find(':')));
}

bool validHostPort(std::string_view host_port) {
  if (host_port.empty() || host_port.size() > 255) return false;
  return std::all_of(host_port.begin(), host_port.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.' || c == ':' ||
           c == '[' || c == ']';
  });
}

// The retry policy and attempt timeout shortened to what is left before `deadline`.
StatusOr<http::RetryPolicy> policyFor(const http::RetryPolicy& base, http::HttpRequest& request,
                                      Clock& clock,
                                      std::optional<steady_clock::time_point> deadline,
                                      std::string_view what) {
  http::RetryPolicy policy = base;
  if (!deadline) return policy;
  const auto left = std::chrono::duration_cast<milliseconds>(*deadline - clock.steadyNow());
  if (left.count() <= 0) {
    return deadlineExceededError(std::string(what) + ": the deadline passed before the request");
  }
  policy.overall_deadline = std::min(policy.overall_deadline, left);
  request.timeout = std::min(request.timeout, left);
  return policy;
}

// MAA's CloudError {"error":{"code","message"}} reduced to "code: message" (bounded, redacted).
std::string cloudErrorText(std::string_view body) {
  json::ParseLimits limits;
  limits.max_bytes = 64 * 1024;
  limits.max_depth = 8;
  StatusOr<json::ObjectPtr> parsed = json::parseObject(body, limits);
  if (!parsed.ok()) return "(" + std::to_string(body.size()) + "-byte body without CloudError)";
  StatusOr<std::optional<json::ObjectPtr>> error = json::getOptionalObject(*parsed, "error");
  if (!error.ok() || !error->has_value()) {
    return "(" + std::to_string(body.size()) + "-byte body without CloudError)";
  }
  std::string out;
  StatusOr<std::optional<std::string>> code = json::getOptionalString(**error, "code");
  if (code.ok() && code->has_value()) out = cleanText(**code);
  StatusOr<std::optional<std::string>> message = json::getOptionalString(**error, "message");
  if (message.ok() && message->has_value()) {
    out += (out.empty() ? "" : ": ") + cleanText(**message);
  }
  return out.empty() ? "(CloudError without code or message)" : out;
}

// Big-endian unsigned integer without leading zero bytes (JWK n/e may carry one).
Bytes stripLeadingZeros(Bytes b) {
  const auto first = std::find_if(b.begin(), b.end(), [](uint8_t x) { return x != 0; });
  b.erase(b.begin(), first);
  return b;
}

bool runtimeKeyMatches(const Poco::Dynamic::Var& entry, const crypto::RsaPublicComponents& ours) {
  StatusOr<json::ObjectPtr> object = json::asObject(entry, "x-ms-runtime.keys element");
  if (!object.ok()) return false;
  const json::ObjectPtr& key = *object;
  StatusOr<std::string> kty = json::getString(key, "kty");
  if (!kty.ok() || *kty != "RSA") return false;
  StatusOr<std::string> n = json::getString(key, "n");
  StatusOr<std::string> e = json::getString(key, "e");
  if (!n.ok() || !e.ok()) return false;
  StatusOr<Bytes> n_bytes = encoding::base64UrlDecode(*n, 1024);
  StatusOr<Bytes> e_bytes = encoding::base64UrlDecode(*e, 64);
  if (!n_bytes.ok() || !e_bytes.ok()) return false;
  return stripLeadingZeros(std::move(n_bytes).value()) == stripLeadingZeros(ours.n) &&
         stripLeadingZeros(std::move(e_bytes).value()) == stripLeadingZeros(ours.e);
}

// `status` of a call to the MAA instance at `endpoint`: names the dependency and host; a failed
// token check (DataLoss) without another cause is one of integrity.
Status fromMaa(const Status& status, std::string_view endpoint) {
  const bool integrity =
      status.details().cause == ErrorCause::Unspecified && status.code() == StatusCode::DataLoss;
  return http::failedRequest(status, Dependency::Maa, endpoint,
                             integrity ? ErrorCause::Integrity : ErrorCause::Unspecified);
}

// Why MAA's non-200 answer `status` failed the call: a refusal of the evidence, a service that
// stayed unavailable, or neither.
ErrorCause maaAnswerCause(int status, bool retryable) {
  if (status == 400 || status == 401 || status == 403) return ErrorCause::AttestationRejected;
  return retryable ? ErrorCause::Transport : ErrorCause::Unspecified;
}

Status tokenError(std::string_view check, const std::string& detail) {
  return dataLossError("MAA token " + std::string(check) + ": " + detail);
}

// Parses a /certs JWKS (§1.6): {"keys":[{"kid","kty":"RSA","x5c":["<std b64 DER>", ...]}]}.
// The key is the SubjectPublicKeyInfo of x5c[0]; entries without kid or x5c, or not RSA, are
// skipped. DataLoss when no usable key remains.
StatusOr<std::map<std::string, crypto::PublicKey>> parseCerts(std::string_view body,
                                                              std::string_view host) {
  const std::string what = "MAA " + std::string(host) + " /certs";
  json::ParseLimits limits;
  limits.max_bytes = kMaxCertsBytes;
  limits.max_depth = 6;
  StatusOr<json::ObjectPtr> parsed = json::parseObject(body, limits);
  if (!parsed.ok())
    return dataLossError(what + ": not a JSON object: " + parsed.status().message());
  StatusOr<json::ArrayPtr> keys = json::getArray(*parsed, "keys");
  if (!keys.ok()) return dataLossError(what + ": " + keys.status().message());
  if ((*keys)->size() > kMaxCertsKeys) {
    return dataLossError(what + ": " + std::to_string((*keys)->size()) + " keys, at most " +
                         std::to_string(kMaxCertsKeys));
  }
  std::map<std::string, crypto::PublicKey> out;
  for (std::size_t i = 0; i < (*keys)->size(); ++i) {
    StatusOr<json::ObjectPtr> element = json::getObject(*keys, i, "member 'keys'");
    if (!element.ok()) continue;
    const json::ObjectPtr& jwk = *element;
    StatusOr<std::string> kid = json::getString(jwk, "kid");
    StatusOr<std::optional<std::string>> kty = json::getOptionalString(jwk, "kty");
    StatusOr<std::vector<std::string>> x5c = json::getStringArray(jwk, "x5c");
    if (!kid.ok() || kid->empty() || kid->size() > 256 || !kty.ok() ||
        (kty->has_value() && **kty != "RSA") || !x5c.ok() || x5c->empty()) {
      continue;
    }
    StatusOr<Bytes> der = encoding::base64Decode(x5c->front(), kMaxCertDerBytes);
    if (!der.ok()) continue;
    StatusOr<crypto::Certificate> cert = crypto::Certificate::fromDer(*der);
    if (!cert.ok()) continue;
    crypto::PublicKey key = cert->publicKey();
    if (key.type() != crypto::KeyType::Rsa) continue;
    out.insert_or_assign(*kid, std::move(key));
  }
  if (out.empty()) return dataLossError(what + ": no RSA key with kid and x5c");
  return out;
}

}  // namespace

// ---- Request body ----

std::string maaRequestBody(ByteView report, const snp::Collateral& collateral,
                           std::string_view runtime_data, const std::optional<std::string>& nonce) {
  std::string chain = collateral.vek.toPem();
  for (const crypto::Certificate& cert : collateral.chain) chain += cert.toPem();
  // Member order as the confidential-sidecar sends it (§1.2).
  json::Writer inner;
  inner.beginObject()
      .member("SnpReport", encoding::base64UrlEncode(report))
      .member("VcekCertChain", encoding::base64UrlEncode(asBytes(chain)));
  if (collateral.uvm_endorsement) {
    json::Writer endorsements;
    endorsements.beginObject()
        .key("Uvm")
        .beginArray()
        .string(encoding::base64UrlEncode(*collateral.uvm_endorsement))
        .endArray()
        .endObject();
    inner.member("Endorsements", encoding::base64UrlEncode(asBytes(endorsements.text())));
  }
  inner.endObject();
  json::Writer body;
  body.beginObject()
      .member("report", encoding::base64UrlEncode(asBytes(inner.text())))
      .key("runtimeData")
      .beginObject()
      .member("data", encoding::base64UrlEncode(asBytes(runtime_data)))
      .member("dataType", "JSON")
      .endObject();
  if (nonce) body.member("nonce", *nonce);
  body.endObject();
  return body.take();
}

// ---- MaaClient ----

http::RetryPolicy MaaOptions::defaultRetryPolicy() {
  http::RetryPolicy policy;
  policy.dependency = "MAA";
  policy.max_attempts = 4;
  policy.backoff = {milliseconds(500), milliseconds(8'000), milliseconds(60'000)};
  policy.overall_deadline = milliseconds(90'000);
  return policy;
}

StatusOr<std::unique_ptr<MaaClient>> MaaClient::create(
    std::shared_ptr<http::HttpTransport> transport, Clock& clock, http::JitterSource& jitter,
    MaaOptions options) {
  if (!transport) return invalidArgumentError("MAA client: no HTTP transport");
  while (!options.endpoint.empty() && options.endpoint.back() == '/') options.endpoint.pop_back();
  const bool https = options.endpoint.rfind("https://", 0) == 0;
  const bool http = options.endpoint.rfind("http://", 0) == 0;
  // All of the text after the scheme must be host[:port]: no path, query or fragment.
  const std::string host = options.endpoint.substr(https ? 8 : http ? 7 : 0);
  if ((!https && !http) || !validHostPort(host) ||
      (http && !isLoopbackHost(hostWithoutPort(host)))) {
    return invalidArgumentError("MAA endpoint '" + options.endpoint.substr(0, 256) +
                                "' must be https://host[:port] (http:// only for loopback)");
  }
  if (options.api_version.empty() || options.api_version.size() > 32 ||
      !std::all_of(options.api_version.begin(), options.api_version.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-';
      })) {
    return invalidArgumentError("MAA api-version '" + options.api_version.substr(0, 32) +
                                "' is not valid");
  }
  if (options.attempt_timeout.count() <= 0 || options.retry.max_attempts < 1 ||
      options.clock_skew.count() < 0 || options.certs_cache.count() < 0) {
    return invalidArgumentError(
        "MAA client: attempt timeout must be positive, attempts >= 1, skew and cache >= 0");
  }
  return std::unique_ptr<MaaClient>(
      new MaaClient(std::move(transport), clock, jitter, std::move(options)));
}

MaaClient::MaaClient(std::shared_ptr<http::HttpTransport> transport, Clock& clock,
                     http::JitterSource& jitter, MaaOptions options)
    : transport_(std::move(transport)),
      clock_(clock),
      jitter_(jitter),
      options_(std::move(options)) {}

StatusOr<MaaClient::Posted> MaaClient::postEvidence(
    ByteView report, const snp::Collateral& collateral, std::string_view runtime,
    const std::optional<std::string>& nonce, std::optional<steady_clock::time_point> deadline,
    const std::string& what) {
  http::HttpRequest request;
  request.method = "POST";
  request.url = options_.endpoint + "/attest/SevSnpVm?api-version=" + options_.api_version;
  request.headers = {{"Content-Type", "application/json"}, {"Accept", "application/json"}};
  request.body = maaRequestBody(report, collateral, runtime, nonce);
  request.timeout = options_.attempt_timeout;
  request.max_response_bytes = kMaxAttestResponseBytes;
  SKR_ASSIGN_OR_RETURN(http::RetryPolicy policy,
                       policyFor(options_.retry, request, clock_, deadline, what));
  StatusOr<http::RetriedResponse> answer =
      http::sendWithRetry(*transport_, request, policy, clock_, jitter_);
  if (!answer.ok()) return answer.status().withContext(what);
  const int status = answer->response.status;
  if (status != 200) {
    std::string message =
        what + ": HTTP " + std::to_string(status) + " " + cloudErrorText(answer->response.body);
    if (!answer->gave_up.empty()) message += " (" + answer->gave_up + ")";
    const bool retryable = http::isRetryableStatus(policy, status) || status >= 500;
    const Status failed = status == 400 || status == 401 || status == 403
                              ? permissionDeniedError("MAA rejected the evidence: " + message)
                              : (retryable ? unavailableError(std::move(message))
                                           : invalidArgumentError(std::move(message)));
    ErrorDetails details = http::transportFailure(request.url, answer->attempts, status);
    details.dependency = Dependency::Maa;
    details.cause = maaAnswerCause(status, retryable);
    return failed.withDetails(std::move(details));
  }
  json::ParseLimits limits;
  limits.max_bytes = kMaxAttestResponseBytes;
  limits.max_depth = 4;
  limits.max_string_bytes = kMaxTokenBytes;
  StatusOr<json::ObjectPtr> parsed = json::parseObject(answer->response.body, limits);
  if (!parsed.ok()) {
    return invalidArgumentError(what + ": malformed response: " + parsed.status().message());
  }
  StatusOr<std::string> token = json::getString(*parsed, "token");
  if (!token.ok()) {
    return invalidArgumentError(what + ": malformed response: " + token.status().message());
  }
  if (token->empty()) return invalidArgumentError(what + ": malformed response: empty token");
  return Posted{std::move(token).value(), answer->attempts};
}

StatusOr<MaaToken> MaaClient::attest(ByteView report, const snp::Collateral& collateral,
                                     const TransferKey& transfer,
                                     const std::array<uint8_t, 64>& report_data,
                                     const std::optional<std::string>& nonce,
                                     std::optional<steady_clock::time_point> deadline) {
  const std::string host(http::urlAuthority(options_.endpoint));
  const std::string what = "MAA attest at " + host;
  const std::string runtime = runtimeDataJson(transfer.public_jwk);
  if (reportDataFor(runtime) != report_data) {
    return invalidArgumentError(what +
                                ": REPORT_DATA is not SHA-256 of the transfer key's runtime data");
  }
  StatusOr<Posted> posted = postEvidence(report, collateral, runtime, nonce, deadline, what);
  if (!posted.ok()) return fromMaa(posted.status(), options_.endpoint);
  StatusOr<MaaToken> verified = verify(posted->token, &transfer.public_jwk, report_data, deadline);
  if (!verified.ok()) return fromMaa(verified.status().withContext(what), options_.endpoint);
  verified->attempts = posted->attempts;
  log::info("maa_attested",
            {{"host", host}, {"attempts", posted->attempts}, {"hostdata", verified->hostdata}});
  return verified;
}

StatusOr<MaaToken> MaaClient::attestRuntimeData(ByteView report, const snp::Collateral& collateral,
                                                std::string_view runtime_data,
                                                std::optional<steady_clock::time_point> deadline) {
  const std::string host(http::urlAuthority(options_.endpoint));
  const std::string what = "MAA attest at " + host;
  if (runtime_data.size() > kMaxRuntimeDataBytes) {
    return invalidArgumentError(what + ": runtime data of " + std::to_string(runtime_data.size()) +
                                " bytes, at most " + std::to_string(kMaxRuntimeDataBytes));
  }
  StatusOr<Posted> posted =
      postEvidence(report, collateral, runtime_data, std::nullopt, deadline, what);
  if (!posted.ok()) return fromMaa(posted.status(), options_.endpoint);
  StatusOr<MaaToken> verified =
      verify(posted->token, nullptr, reportDataFor(runtime_data), deadline);
  if (!verified.ok()) return fromMaa(verified.status().withContext(what), options_.endpoint);
  verified->attempts = posted->attempts;
  log::info("maa_attested", {{"host", host},
                             {"attempts", posted->attempts},
                             {"hostdata", verified->hostdata},
                             {"runtime_data", "caller"}});
  return verified;
}

StatusOr<MaaToken> MaaClient::verifyToken(std::string_view token, const jose::Jwk& transfer_public,
                                          const std::optional<std::array<uint8_t, 64>>& report_data,
                                          std::optional<steady_clock::time_point> deadline) {
  StatusOr<MaaToken> verified = verify(token, &transfer_public, report_data, deadline);
  if (!verified.ok()) return fromMaa(verified.status(), options_.endpoint);
  return verified;
}

StatusOr<MaaToken> MaaClient::verifyIssuedToken(std::string_view token,
                                                std::optional<steady_clock::time_point> deadline) {
  StatusOr<MaaToken> verified = verify(token, nullptr, std::nullopt, deadline);
  if (!verified.ok()) return fromMaa(verified.status(), options_.endpoint);
  return verified;
}

StatusOr<MaaToken> MaaClient::verify(std::string_view token, const jose::Jwk* transfer_public,
                                     const std::optional<std::array<uint8_t, 64>>& report_data,
                                     std::optional<steady_clock::time_point> deadline) {
  const std::string host(http::urlAuthority(options_.endpoint));
  if (token.size() > kMaxTokenBytes) {
    return tokenError("format", std::to_string(token.size()) + " bytes, at most " +
                                    std::to_string(kMaxTokenBytes));
  }
  jose::JwsLimits jws_limits;
  jws_limits.max_compact_bytes = kMaxTokenBytes;
  jws_limits.max_header_bytes = 8 * 1024;
  StatusOr<jose::Jws> jws = jose::Jws::parse(token, jws_limits);
  if (!jws.ok()) return tokenError("format", jws.status().message());
  if (jws->algorithm() != jose::JwsAlgorithm::RS256) {
    return tokenError("alg",
                      std::string(jose::jwsAlgorithmName(jws->algorithm())) + ", expected RS256");
  }
  const std::optional<std::string> kid = jws->kid();
  if (!kid || kid->empty()) return tokenError("kid", "the header has no kid");

  // The issuer is checked before any key is looked up: a token of another instance is named as
  // such (and costs no /certs request). Nothing else is read from the payload before the
  // signature verified.
  json::ParseLimits limits;
  limits.max_bytes = kMaxTokenBytes;
  limits.max_depth = 16;
  StatusOr<json::ObjectPtr> claims = jws->payloadJson(limits);
  if (!claims.ok()) return tokenError("claims", claims.status().message());

  MaaToken out;
  StatusOr<std::string> iss = json::getString(*claims, "iss");
  if (!iss.ok()) return tokenError("iss", iss.status().message());
  if (*iss != options_.endpoint) {
    return tokenError("iss", "'" + cleanText(*iss) + "' is not the pinned MAA instance '" +
                                 options_.endpoint + "'");
  }

  {
    std::unique_lock lock(mutex_);
    const auto now = clock_.steadyNow();
    const bool stale = certs_.empty() || now - certs_fetched_ >= options_.certs_cache;
    bool fetched = false;
    auto refresh = [&]() -> Status {
      http::HttpRequest request;
      request.url = options_.endpoint + "/certs";
      request.headers = {{"Accept", "application/json"}};
      request.timeout = options_.attempt_timeout;
      request.max_response_bytes = kMaxCertsBytes;
      const std::string what = "MAA " + host + " /certs";
      SKR_ASSIGN_OR_RETURN(http::RetryPolicy policy,
                           policyFor(options_.retry, request, clock_, deadline, what));
      StatusOr<http::RetriedResponse> answer =
          http::sendWithRetry(*transport_, request, policy, clock_, jitter_);
      if (!answer.ok()) return answer.status().withContext(what);
      if (answer->response.status != 200) {
        std::string message = what + ": HTTP " + std::to_string(answer->response.status) + " " +
                              cloudErrorText(answer->response.body);
        if (!answer->gave_up.empty()) message += " (" + answer->gave_up + ")";
        return unavailableError(std::move(message))
            .withDetails(
                http::transportFailure(request.url, answer->attempts, answer->response.status));
      }
      SKR_ASSIGN_OR_RETURN(auto keys, parseCerts(answer->response.body, host));
      certs_ = std::move(keys);
      certs_fetched_ = clock_.steadyNow();
      fetched = true;
      return okStatus();
    };
    if (stale) SKR_RETURN_IF_ERROR(refresh());
    if (certs_.find(*kid) == certs_.end() && !fetched) {
      // A key rotated since the last fetch: look once more.
      SKR_RETURN_IF_ERROR(refresh());
    }
    auto key = certs_.find(*kid);
    if (key == certs_.end()) {
      return tokenError(
          "kid", "'" + cleanText(*kid) + "' is not among the keys " + host + "/certs publishes");
    }
    Status signature = jws->verify(key->second);
    if (!signature.ok()) return tokenError("signature", signature.message());
  }

  jose::ClaimCheck check;
  check.now = clock_.now();
  check.leeway = options_.clock_skew;
  check.require_exp = true;
  Status times = jose::checkClaims(*claims, check);
  if (!times.ok()) return tokenError("exp/nbf", times.message());
  StatusOr<int64_t> exp = json::getInt(*claims, "exp");
  if (!exp.ok()) return tokenError("exp/nbf", exp.status().message());

  StatusOr<std::string> type = json::getString(*claims, "x-ms-attestation-type");
  if (!type.ok()) return tokenError("x-ms-attestation-type", type.status().message());
  if (*type != "sevsnpvm") {
    return tokenError("x-ms-attestation-type", "'" + cleanText(*type) + "', expected 'sevsnpvm'");
  }

  if (transfer_public != nullptr) {
    StatusOr<const crypto::PublicKey*> ours = transfer_public->publicKey();
    if (!ours.ok() || (*ours)->type() != crypto::KeyType::Rsa) {
      return invalidArgumentError("MAA token check: the transfer key is not an RSA key");
    }
    const crypto::RsaPublicComponents rsa = (*ours)->rsaComponents().value();
    StatusOr<json::ObjectPtr> runtime = json::getObject(*claims, "x-ms-runtime");
    if (!runtime.ok()) return tokenError("x-ms-runtime", runtime.status().message());
    StatusOr<json::ArrayPtr> keys = json::getArray(*runtime, "keys");
    if (!keys.ok()) return tokenError("x-ms-runtime", keys.status().message());
    bool found = false;
    for (std::size_t i = 0; i < (*keys)->size() && !found; ++i) {
      found = runtimeKeyMatches((*keys)->get(static_cast<unsigned>(i)), rsa);
    }
    if (!found) {
      return tokenError("x-ms-runtime",
                        "keys does not hold the transfer key (kid " + transfer_public->kid() + ")");
    }
  }

  if (report_data) {
    StatusOr<std::string> claim = json::getString(*claims, "x-ms-sevsnpvm-reportdata");
    if (!claim.ok()) return tokenError("x-ms-sevsnpvm-reportdata", claim.status().message());
    const std::string expected = encoding::hexEncode(*report_data);
    if (*claim != expected) {
      return tokenError("x-ms-sevsnpvm-reportdata",
                        "'" + cleanText(*claim) + "' != REPORT_DATA " + expected);
    }
  }

  StatusOr<std::string> hostdata = json::getString(*claims, "x-ms-sevsnpvm-hostdata");
  if (!hostdata.ok()) return tokenError("x-ms-sevsnpvm-hostdata", hostdata.status().message());
  if (hostdata->size() != 64 || !encoding::hexDecode(*hostdata).ok()) {
    return tokenError("x-ms-sevsnpvm-hostdata", "'" + cleanText(*hostdata) + "' is not 64 hex");
  }
  StatusOr<std::optional<bool>> emulated = json::getOptionalBool(*claims, "x-ms-emulated");
  if (!emulated.ok()) return tokenError("x-ms-emulated", emulated.status().message());

  out.token = std::string(token);
  out.claims = *claims;
  out.issuer = *iss;
  out.expires_at = std::chrono::system_clock::time_point(seconds(*exp));
  out.hostdata = *hostdata;
  std::transform(out.hostdata.begin(), out.hostdata.end(), out.hostdata.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  out.emulated = emulated->value_or(false);
  out.attempts = 0;
  return out;
}

}  // namespace skr::azure
