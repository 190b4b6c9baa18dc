#include "common/azure/key_vault_client.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cctype>

#include "common/crypto/aes_key_wrap.h"
#include "common/crypto/rsa_oaep.h"
#include "common/encoding/base64.h"
#include "common/encoding/json_string.h"
#include "common/http/url.h"
#include "common/jose/jws.h"
#include "common/log/logger.h"
#include "common/log/redaction.h"

namespace skr::azure {
namespace {

using std::chrono::milliseconds;

// Bounds on untrusted input (the transport bounds the body; the rest is inside it).
constexpr std::size_t kMaxResponseBytes = 1024 * 1024;
constexpr std::size_t kMaxX5cCertificates = 10;
constexpr std::size_t kMaxKeyHsmChars = 64 * 1024;
constexpr std::size_t kMaxVaultMessageChars = 400;
constexpr int kMaxInnerErrorDepth = 4;

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// A bounded, printable rendering of an untrusted string for messages (common/log/redaction.h).
std::string printable(std::string_view s, std::size_t max = 96) {
  return log::quoteUntrusted(s, max);
}

// The vault's message made safe to quote (common/log/redaction.h).
std::string sanitizeVaultMessage(std::string_view message,
                                 const std::vector<std::string>& secrets) {
  return log::quoteUntrusted(message, kMaxVaultMessageChars, secrets);
}

// The host[:port] of "https://host[:port]"; empty when the URL is not of that form.
std::string authorityOf(std::string_view url) {
  constexpr std::string_view kScheme = "https://";
  if (url.size() <= kScheme.size() || lower(url.substr(0, kScheme.size())) != kScheme) return {};
  std::string_view rest = url.substr(kScheme.size());
  if (rest.find_first_of("/?#@ ") != std::string_view::npos) return {};
  return std::string(rest);
}

// For comparing a kid's authority with the vault's: lower case, default port dropped. (Not
// azure::normalizeAuthority, the release policy's normal form of an MAA authority URL.)
std::string comparableVaultAuthority(std::string_view authority) {
  std::string out = lower(authority);
  if (out.size() > 4 && out.compare(out.size() - 4, 4, ":443") == 0) out.resize(out.size() - 4);
  return out;
}

bool isKeyName(std::string_view name) {
  return !name.empty() && name.size() <= 127 && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-';
  });
}

bool isKeyVersion(std::string_view version) {
  return !version.empty() && version.size() <= 64 &&
         std::all_of(version.begin(), version.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; });
}

// The parts of kid "https://{authority}/keys/{name}/{version}".
struct KidParts {
  std::string authority;
  std::string name;
  std::string version;
};

std::optional<KidParts> parseKid(std::string_view kid) {
  constexpr std::string_view kScheme = "https://";
  if (kid.size() <= kScheme.size() || lower(kid.substr(0, kScheme.size())) != kScheme) {
    return std::nullopt;
  }
  std::string_view rest = kid.substr(kScheme.size());
  const std::size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  KidParts out;
  out.authority = std::string(rest.substr(0, slash));
  rest = rest.substr(slash);
  constexpr std::string_view kKeys = "/keys/";
  if (rest.substr(0, kKeys.size()) != kKeys) return std::nullopt;
  rest = rest.substr(kKeys.size());
  const std::size_t next = rest.find('/');
  if (next == std::string_view::npos) return std::nullopt;
  out.name = std::string(rest.substr(0, next));
  out.version = std::string(rest.substr(next + 1));
  if (out.authority.empty() || !isKeyName(out.name) || !isKeyVersion(out.version)) {
    return std::nullopt;
  }
  return out;
}

// Big-endian unsigned integers compare equal ignoring leading zero bytes.
bool sameUnsigned(ByteView a, ByteView b) {
  while (!a.empty() && a.front() == 0) a = a.subspan(1);
  while (!b.empty() && b.front() == 0) b = b.subspan(1);
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

// Compares the optional base64url member `name` of the response key with `actual`.
Status checkPublicMember(const json::ObjectPtr& key, std::string_view name, ByteView actual,
                         bool as_unsigned) {
  StatusOr<std::optional<std::string>> value = json::getOptionalString(key, name);
  if (!value.ok()) {
    return dataLossError("release payload: response.key.key." + std::string(name) +
                         " is not a string");
  }
  if (!value->has_value()) return okStatus();
  StatusOr<Bytes> decoded = encoding::base64DecodeLenient(**value, 16 * 1024);
  if (!decoded.ok()) {
    return dataLossError("release payload: response.key.key." + std::string(name) +
                         " is not base64url");
  }
  const bool same = as_unsigned ? sameUnsigned(*decoded, actual)
                                : (decoded->size() == actual.size() &&
                                   std::equal(decoded->begin(), decoded->end(), actual.begin()));
  if (!same) {
    return dataLossError("the released key does not match the public member '" + std::string(name) +
                         "' of the response (" + std::to_string(decoded->size()) +
                         " bytes announced, " + std::to_string(actual.size()) +
                         " bytes in the key)");
  }
  return okStatus();
}

// What a vault error body says ({"error": {"code", "message", "innererror": {...}}}).
struct VaultError {
  std::vector<std::string> codes;  // error.code, then innererror codes outermost first
  std::string message;             // raw error.message (sanitize before quoting)
};

VaultError parseVaultError(std::string_view body) {
  VaultError out;
  json::ParseLimits limits;
  limits.max_bytes = kMaxResponseBytes;
  limits.max_depth = 16;
  StatusOr<json::ObjectPtr> top = json::parseObject(body, limits);
  if (!top.ok()) return out;
  StatusOr<json::ObjectPtr> error = json::getObject(*top, "error");
  if (!error.ok()) return out;
  StatusOr<std::string> message = json::getString(*error, "message");
  if (message.ok()) out.message = *message;
  json::ObjectPtr current = *error;
  for (int depth = 0; depth <= kMaxInnerErrorDepth && !current.isNull(); ++depth) {
    StatusOr<std::string> code = json::getString(current, "code");
    if (code.ok()) out.codes.push_back(printable(*code, 64));
    StatusOr<json::ObjectPtr> inner = json::getObject(current, "innererror");
    current = inner.ok() ? *inner : json::ObjectPtr();
  }
  return out;
}

std::string describeCodes(const VaultError& error) {
  std::string out;
  for (const std::string& code : error.codes) out += (out.empty() ? "" : "/") + code;
  return out;
}

bool anyCodeContains(const VaultError& error, std::string_view needle) {
  return std::any_of(error.codes.begin(), error.codes.end(), [&](const std::string& code) {
    return lower(code).find(needle) != std::string::npos;
  });
}

// The claim a policy-denial message names ("claim 'x-ms-sevsnpvm-hostdata' is ..."), if any.
std::optional<std::string> deniedClaim(std::string_view message) {
  constexpr std::string_view kClaim = "claim '";
  const std::size_t at = message.find(kClaim);
  if (at == std::string_view::npos) return std::nullopt;
  const std::size_t start = at + kClaim.size();
  const std::size_t end = message.find('\'', start);
  if (end == std::string_view::npos || end == start || end - start > 128) return std::nullopt;
  return std::string(message.substr(start, end - start));
}

// Why a 403 happened, as far as the vault's codes and message tell.
std::string forbiddenHint(const VaultError& error) {
  const std::string message = lower(error.message);
  if (anyCodeContains(error, "rbac")) {
    return "the identity lacks the 'Key Vault Crypto Service Release User' role (Managed HSM: "
           "'Managed HSM Crypto Service Release User')";
  }
  if (anyCodeContains(error, "forbiddenbypolicy")) {
    return "the vault's access policy does not grant this identity the 'release' key permission";
  }
  if (anyCodeContains(error, "keydisabled")) return "the key is disabled";
  if (anyCodeContains(error, "keyexpired")) return "the key has expired";
  if (anyCodeContains(error, "keynotyetvalid")) return "the key is not valid yet (nbf)";
  const bool policy = message.find("release policy") != std::string::npos ||
                      message.find("attestation") != std::string::npos ||
                      message.find("claim") != std::string::npos ||
                      anyCodeContains(error, "accessdenied");
  if (!policy) return "the vault did not say why";
  std::string hint = "the release policy was not satisfied";
  const bool authority = message.find("authority matches the token issuer") != std::string::npos ||
                         message.find("does not match the authority") != std::string::npos ||
                         message.find("does not trust") != std::string::npos ||
                         message.find("unknown attestation service") != std::string::npos;
  if (authority) {
    hint += " (the attestation token's issuer is not the policy's authority or not trusted)";
  } else if (std::optional<std::string> claim = deniedClaim(error.message)) {
    hint += " (claim '" + printable(*claim, 128) + "' did not match)";
  } else if (message.find("expired") != std::string::npos ||
             message.find("not valid") != std::string::npos) {
    hint += " (the attestation token is not valid at this time)";
  } else if (message.find("signature") != std::string::npos) {
    hint += " (the attestation token's signature did not verify)";
  }
  return hint;
}

// Which 403 this is: the identity lacks the role or access-policy permission (RBAC or access
// policy codes, or the vault's own message naming a role), else the release policy refused.
ErrorCause forbiddenCause(const VaultError& error) {
  const bool role = anyCodeContains(error, "rbac") || anyCodeContains(error, "forbiddenbypolicy") ||
                    lower(error.message).find("role") != std::string::npos;
  return role ? ErrorCause::RoleMissing : ErrorCause::PolicyDenied;
}

Status identityError(const Status& status, const std::string& resource) {
  const StatusCode code = status.code() == StatusCode::Unavailable ? StatusCode::Unavailable
                                                                   : StatusCode::Unauthenticated;
  ErrorDetails details = status.details();
  details.dependency = Dependency::Identity;
  details.cause = ErrorCause::Identity;
  return Status(code, "identity: " + status.message() + " (token for " + resource + ")")
      .withDetails(std::move(details));
}

StatusOr<KeyExportEnc> payloadEnc(const json::ObjectPtr& payload) {
  StatusOr<json::ObjectPtr> request = json::getObject(payload, "request");
  if (!request.ok()) return dataLossError("release payload: no 'request' object");
  StatusOr<std::string> enc = json::getString(*request, "enc");
  if (!enc.ok()) return dataLossError("release payload: request.enc is missing or not a string");
  StatusOr<KeyExportEnc> parsed = parseKeyExportEnc(*enc);
  if (!parsed.ok())
    return dataLossError("release payload: request.enc: " + parsed.status().message());
  return *parsed;
}

StatusOr<VerifiedRelease> verifyRelease(std::string_view body, std::string_view vault_host,
                                        std::span<const crypto::Certificate> anchors,
                                        std::chrono::system_clock::time_point now,
                                        std::chrono::seconds skew) {
  if (body.size() > kMaxResponseBytes) {
    return invalidArgumentError("release response is " + std::to_string(body.size()) +
                                " bytes, more than " + std::to_string(kMaxResponseBytes));
  }
  json::ParseLimits limits;
  limits.max_bytes = kMaxResponseBytes;
  limits.max_string_bytes = kMaxResponseBytes;
  StatusOr<json::ObjectPtr> top = json::parseObject(body, limits);
  if (!top.ok()) {
    return invalidArgumentError("release response is not a JSON object: " + top.status().message());
  }
  StatusOr<std::string> value = json::getString(*top, "value");
  if (!value.ok()) {
    return invalidArgumentError("release response has no string 'value' (KeyReleaseResult)");
  }
  jose::JwsLimits jws_limits;
  jws_limits.max_compact_bytes = kMaxResponseBytes;
  StatusOr<jose::Jws> jws = jose::Jws::parse(*value, jws_limits);
  if (!jws.ok()) {
    return dataLossError("release response 'value' is not an acceptable compact JWS: " +
                         jws.status().message());
  }
  if (jws->algorithm() != jose::JwsAlgorithm::RS256) {
    return dataLossError("release JWS is signed with " +
                         std::string(jose::jwsAlgorithmName(jws->algorithm())) +
                         "; only RS256 is accepted");
  }
  if (!jws->header()->has("x5c")) return dataLossError("release JWS header has no x5c");
  StatusOr<json::ArrayPtr> x5c_array = json::getArray(jws->header(), "x5c");
  if (!x5c_array.ok()) return dataLossError("release JWS header: x5c is not an array");
  if ((*x5c_array)->size() == 0 || (*x5c_array)->size() > kMaxX5cCertificates) {
    return dataLossError("release JWS header: x5c holds " + std::to_string((*x5c_array)->size()) +
                         " certificates, expected 1.." + std::to_string(kMaxX5cCertificates));
  }
  StatusOr<std::vector<crypto::Certificate>> x5c = jws->x5c();
  if (!x5c.ok()) return dataLossError("release JWS header: x5c: " + x5c.status().message());
  const crypto::Certificate& leaf = x5c->front();
  Status signature = jws->verify(leaf.publicKey());
  if (!signature.ok()) {
    return dataLossError("release JWS signature does not verify with x5c[0] ('" +
                         leaf.subjectOneLine() + "'): " + signature.message());
  }
  const std::vector<crypto::Certificate> intermediates(x5c->begin() + 1, x5c->end());
  crypto::ChainVerifyOptions options;
  options.hostname = std::string(http::authorityHost(vault_host));
  options.max_depth = static_cast<int>(kMaxX5cCertificates) + 1;
  options.system_trust_store = anchors.empty();
  options.at = now;
  Status chain = crypto::verifyChain(leaf, intermediates, anchors, options);
  // Allow clock skew on the signing certificate's validity window.
  if (chain.code() == StatusCode::FailedPrecondition && skew.count() > 0) {
    for (const auto at : {now - skew, now + skew}) {
      options.at = at;
      if (crypto::verifyChain(leaf, intermediates, anchors, options).ok()) {
        chain = okStatus();
        break;
      }
    }
  }
  if (!chain.ok()) {
    return dataLossError("release JWS x5c chain is not trusted for vault host '" +
                         std::string(vault_host) + "' (" +
                         (anchors.empty() ? std::string("system trust store")
                                          : std::to_string(anchors.size()) + " trust anchor(s)") +
                         "): " + chain.message());
  }

  json::ParseLimits payload_limits;
  payload_limits.max_bytes = kMaxResponseBytes;
  payload_limits.max_string_bytes = kMaxResponseBytes;
  StatusOr<json::ObjectPtr> payload = jws->payloadJson(payload_limits);
  if (!payload.ok()) {
    return dataLossError("release JWS payload is not a JSON object: " + payload.status().message());
  }
  SKR_ASSIGN_OR_RETURN(KeyExportEnc enc, payloadEnc(*payload));
  StatusOr<json::ObjectPtr> response = json::getObject(*payload, "response");
  StatusOr<json::ObjectPtr> bundle = response.ok() ? json::getObject(*response, "key")
                                                   : StatusOr<json::ObjectPtr>(response.status());
  StatusOr<json::ObjectPtr> key =
      bundle.ok() ? json::getObject(*bundle, "key") : StatusOr<json::ObjectPtr>(bundle.status());
  if (!key.ok()) return dataLossError("release payload: no response.key.key object");
  for (const char* member : {"kid", "kty", "key_hsm"}) {
    if (!json::getString(*key, member).ok()) {
      return dataLossError("release payload: response.key.key." + std::string(member) +
                           " is missing or not a string");
    }
  }
  const std::string kid = json::getString(*key, "kid").value();
  const std::optional<KidParts> parts = parseKid(kid);
  if (!parts) {
    return dataLossError("release payload: kid '" + printable(kid, 200) +
                         "' is not https://{vault}/keys/{name}/{version}");
  }
  if (comparableVaultAuthority(parts->authority) != comparableVaultAuthority(vault_host)) {
    return dataLossError("release payload: kid '" + printable(kid, 200) +
                         "' is a key of another vault (expected host '" + std::string(vault_host) +
                         "')");
  }
  StatusOr<json::ObjectPtr> request = json::getObject(*payload, "request");
  StatusOr<std::optional<std::string>> request_kid =
      request.ok() ? json::getOptionalString(*request, "kid")
                   : StatusOr<std::optional<std::string>>(request.status());
  if (!request_kid.ok() || (request_kid->has_value() && **request_kid != kid)) {
    return dataLossError("release payload: request.kid does not match response.key.key.kid '" +
                         printable(kid, 200) + "'");
  }
  return VerifiedRelease{*payload, enc, kid, *key};
}

}  // namespace

http::RetryPolicy KeyVaultOptions::defaultRetryPolicy() {
  http::RetryPolicy policy;
  policy.dependency = "Key Vault";
  return policy;
}

SecretBytes releaseRequestBody(std::string_view maa_token, KeyExportEnc enc,
                               const std::optional<std::string>& nonce) {
  // Built by hand so the token is only ever copied into secret storage. Canonical member order.
  SecretBytes out;
  auto add = [&out](std::string_view text) { out.append(asBytes(text)); };
  auto add_quoted = [&out](std::string_view value) { json::appendQuoted(out, value); };
  add("{\"enc\":");
  add_quoted(keyExportEncName(enc));
  if (nonce) {
    add(",\"nonce\":");
    add_quoted(*nonce);
  }
  add(",\"target\":");
  add_quoted(maa_token);
  add("}");
  return out;
}

StatusOr<VerifiedRelease> verifyReleaseResponse(std::string_view body, std::string_view vault_host,
                                                std::span<const crypto::Certificate> anchors,
                                                std::chrono::system_clock::time_point now) {
  return verifyRelease(body, vault_host, anchors, now, std::chrono::seconds(0));
}

StatusOr<SecretBytes> unwrapKeyHsm(std::string_view key_hsm, const crypto::PrivateKey& transfer_key,
                                   KeyExportEnc enc) {
  if (key_hsm.size() > kMaxKeyHsmChars) {
    return dataLossError("key_hsm is " + std::to_string(key_hsm.size()) +
                         " characters, more than " + std::to_string(kMaxKeyHsmChars));
  }
  StatusOr<Bytes> blob = encoding::base64DecodeLenient(key_hsm, kMaxKeyHsmChars);
  if (!blob.ok()) return dataLossError("key_hsm is not base64url: " + blob.status().message());
  json::ParseLimits limits;
  limits.max_bytes = kMaxKeyHsmChars;
  limits.max_depth = 8;
  StatusOr<json::ObjectPtr> object = json::parseObject(toString(*blob), limits);
  if (!object.ok()) {
    return dataLossError("key_hsm is not a JSON key transfer blob: " + object.status().message());
  }
  StatusOr<std::string> ciphertext_text = json::getString(*object, "ciphertext");
  if (!ciphertext_text.ok()) return dataLossError("key_hsm has no string 'ciphertext'");
  StatusOr<Bytes> ciphertext = encoding::base64DecodeLenient(*ciphertext_text, kMaxKeyHsmChars);
  if (!ciphertext.ok()) {
    return dataLossError("key_hsm ciphertext is not base64url: " + ciphertext.status().message());
  }
  if (transfer_key.type() != crypto::KeyType::Rsa) {
    return invalidArgumentError("key_hsm unwrap: the transfer key is not an RSA key");
  }
  // ciphertext = RSA-OAEP(K) || AES-KWP(K, key), len(RSA-OAEP(K)) = modulus bytes (§2.4).
  const std::size_t k = static_cast<std::size_t>((transfer_key.bits() + 7) / 8);
  const std::size_t size = ciphertext->size();
  if (size <= k || (size - k) % 8 != 0 || size - k < 16) {
    return dataLossError("key_hsm ciphertext is " + std::to_string(size) + " bytes; expected " +
                         std::to_string(k) +
                         " (RSA-OAEP) plus a multiple of 8, at least 16 (AES-KWP)");
  }
  StatusOr<SecretBytes> kek =
      crypto::rsaOaepDecrypt(transfer_key, oaepHashFor(enc), ByteView(ciphertext->data(), k));
  if (!kek.ok()) {
    return dataLossError("key_hsm: RSA-OAEP (" + std::string(keyExportEncName(enc)) +
                         ") does not decrypt with the transfer key: " + kek.status().message());
  }
  if (kek->size() != 16 && kek->size() != 24 && kek->size() != 32) {
    return dataLossError("key_hsm: the unwrapped AES key is " + std::to_string(kek->size()) +
                         " bytes, expected 16, 24 or 32");
  }
  StatusOr<SecretBytes> plain =
      crypto::aesKeyUnwrapPad(*kek, ByteView(ciphertext->data() + k, size - k));
  if (!plain.ok())
    return dataLossError("key_hsm: AES-KWP unwrap failed: " + plain.status().message());
  return std::move(plain).value();
}

StatusOr<jose::Jwk> releasedJwk(const json::ObjectPtr& response_key, SecretBytes plaintext) {
  if (response_key.isNull()) return dataLossError("release payload: no response key");
  StatusOr<std::string> kty_wire = json::getString(response_key, "kty");
  if (!kty_wire.ok()) return dataLossError("release payload: response.key.key.kty is missing");
  std::string kty = *kty_wire;
  if (kty.size() > 4 && kty.compare(kty.size() - 4, 4, "-HSM") == 0) kty.resize(kty.size() - 4);

  std::optional<jose::Jwk> jwk;
  if (kty == "RSA" || kty == "EC") {
    StatusOr<crypto::PrivateKey> key = crypto::PrivateKey::fromPkcs8Der(plaintext);
    plaintext.clear();
    if (!key.ok()) {
      return dataLossError("the released " + kty +
                           " key is not a PKCS#8 private key: " + key.status().message());
    }
    const crypto::KeyType want = kty == "RSA" ? crypto::KeyType::Rsa : crypto::KeyType::Ec;
    if (key->type() != want) {
      return dataLossError("the released key is " +
                           std::string(key->type() == crypto::KeyType::Rsa ? "RSA" : "EC") +
                           " but the response says kty '" + printable(*kty_wire, 32) + "'");
    }
    const crypto::PublicKey pub = key->publicKey();
    if (want == crypto::KeyType::Rsa) {
      const crypto::RsaPublicComponents c = pub.rsaComponents().value();
      SKR_RETURN_IF_ERROR(checkPublicMember(response_key, "n", c.n, true));
      SKR_RETURN_IF_ERROR(checkPublicMember(response_key, "e", c.e, true));
    } else {
      const crypto::EcPublicPoint point = pub.ecPoint().value();
      StatusOr<std::optional<std::string>> crv = json::getOptionalString(response_key, "crv");
      if (!crv.ok()) return dataLossError("release payload: response.key.key.crv is not a string");
      if (crv->has_value() && **crv != crypto::curveName(point.curve)) {
        return dataLossError("the released EC key is on " +
                             std::string(crypto::curveName(point.curve)) +
                             " but the response says crv '" + printable(**crv, 32) + "'");
      }
      SKR_RETURN_IF_ERROR(checkPublicMember(response_key, "x", point.x, false));
      SKR_RETURN_IF_ERROR(checkPublicMember(response_key, "y", point.y, false));
    }
    jwk = jose::Jwk::fromPrivateKey(std::move(key).value());
  } else if (kty == "oct") {
    const std::size_t bytes = plaintext.size();
    StatusOr<jose::Jwk> oct = jose::Jwk::fromOctet(std::move(plaintext));
    if (!oct.ok()) {
      return dataLossError("the released oct key (" + std::to_string(bytes) +
                           " bytes) is not usable: " + oct.status().message());
    }
    StatusOr<std::optional<int64_t>> key_size = json::getOptionalInt(response_key, "key_size");
    if (key_size.ok() && key_size->has_value() && **key_size != static_cast<int64_t>(bytes * 8)) {
      return dataLossError("the released oct key is " + std::to_string(bytes * 8) +
                           " bits but the response says key_size " + std::to_string(**key_size));
    }
    jwk = std::move(oct).value();
  } else {
    return dataLossError("release payload: unsupported kty '" + printable(*kty_wire, 32) + "'");
  }
  StatusOr<std::string> kid = json::getString(response_key, "kid");
  if (kid.ok()) jwk->setKid(*kid);
  if (response_key->has("key_ops")) {
    StatusOr<std::vector<std::string>> ops = json::getStringArray(response_key, "key_ops");
    if (!ops.ok())
      return dataLossError("release payload: response.key.key.key_ops is not a string array");
    jwk->setKeyOps(std::move(ops).value());
  }
  return std::move(*jwk);
}

// ---- KeyVaultClient ----

StatusOr<std::unique_ptr<KeyVaultClient>> KeyVaultClient::create(
    std::shared_ptr<http::HttpTransport> transport, TokenProvider& tokens, Clock& clock,
    http::JitterSource& jitter, KeyVaultOptions options) {
  if (!transport) return invalidArgumentError("Key Vault client: no HTTP transport");
  if (options.api_version.empty() ||
      !std::all_of(options.api_version.begin(), options.api_version.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '-';
      })) {
    return invalidArgumentError("Key Vault client: api_version '" +
                                printable(options.api_version, 32) + "' is not valid");
  }
  if (options.attempt_timeout.count() <= 0) {
    return invalidArgumentError("Key Vault client: attempt_timeout must be positive");
  }
  if (options.retry.max_attempts < 1 || options.retry.overall_deadline.count() <= 0) {
    return invalidArgumentError(
        "Key Vault client: retry needs max_attempts >= 1 and a positive overall_deadline");
  }
  if (options.clock_skew.count() < 0) {
    return invalidArgumentError("Key Vault client: clock_skew must not be negative");
  }
  return std::unique_ptr<KeyVaultClient>(
      new KeyVaultClient(std::move(transport), tokens, clock, jitter, std::move(options)));
}

KeyVaultClient::KeyVaultClient(std::shared_ptr<http::HttpTransport> transport,
                               TokenProvider& tokens, Clock& clock, http::JitterSource& jitter,
                               KeyVaultOptions options)
    : transport_(std::move(transport)),
      tokens_(tokens),
      clock_(clock),
      jitter_(jitter),
      options_(std::move(options)) {}

StatusOr<ReleasedKey> KeyVaultClient::release(
    const VaultKeyRef& key, std::string_view maa_token, const crypto::PrivateKey& transfer_key,
    std::optional<std::chrono::steady_clock::time_point> deadline) {
  if (transfer_key.type() != crypto::KeyType::Rsa || transfer_key.bits() < 2048) {
    return invalidArgumentError("release key '" + printable(key.name, 128) +
                                "': the transfer key must be RSA >= 2048 bits");
  }
  SKR_ASSIGN_OR_RETURN(ReleaseAnswer answer, requestRelease(key, maa_token, deadline));
  const std::string what = "key '" + printable(key.name, 128) + "'" +
                           (key.version.empty() ? "" : " version " + printable(key.version, 64)) +
                           " in vault " + answer.host;
  const ErrorDetails integrity{Dependency::KeyVault, ErrorCause::Integrity, answer.host, 200, "",
                               answer.attempts};
  VerifiedRelease& verified = answer.verified;
  const json::ObjectPtr& response_key = verified.key;
  const std::string key_hsm = json::getString(response_key, "key_hsm").value();
  StatusOr<SecretBytes> plaintext = unwrapKeyHsm(key_hsm, transfer_key, verified.enc);
  if (!plaintext.ok()) {
    return plaintext.status().withContext("release " + what).withDetails(integrity);
  }
  StatusOr<jose::Jwk> jwk = releasedJwk(response_key, std::move(plaintext).value());
  if (!jwk.ok()) return jwk.status().withContext("release " + what).withDetails(integrity);

  ReleasedKey out{std::move(jwk).value(),
                  verified.kid,
                  answer.version,
                  answer.host,
                  json::getString(response_key, "kty").value(),
                  verified.enc,
                  answer.attempts};
  return out;
}

StatusOr<ReleaseAnswer> KeyVaultClient::requestRelease(
    const VaultKeyRef& key, std::string_view maa_token,
    std::optional<std::chrono::steady_clock::time_point> deadline) {
  const std::string host = authorityOf(key.vault_url);
  if (host.empty()) {
    return invalidArgumentError("vault URL '" + printable(key.vault_url, 200) +
                                "' is not https://host[:port] (no path)");
  }
  const std::string what = "key '" + printable(key.name, 128) + "'" +
                           (key.version.empty() ? "" : " version " + printable(key.version, 64)) +
                           " in vault " + host;
  if (!isKeyName(key.name)) {
    return invalidArgumentError("key name '" + printable(key.name, 128) +
                                "' is not 1..127 characters of [0-9a-zA-Z-] (vault " + host + ")");
  }
  if (!key.version.empty() && !isKeyVersion(key.version)) {
    return invalidArgumentError("key version '" + printable(key.version, 64) +
                                "' is not alphanumeric (" + what + ")");
  }
  if (maa_token.empty()) return invalidArgumentError("release " + what + ": no MAA token");

  http::RetryPolicy policy = options_.retry;
  if (deadline) {
    const auto left = std::chrono::duration_cast<milliseconds>(*deadline - clock_.steadyNow());
    if (left.count() <= 0) {
      return deadlineExceededError("release " + what + ": the deadline passed before the request");
    }
    policy.overall_deadline = std::min(policy.overall_deadline, left);
  }
  const auto overall_end = clock_.steadyNow() + policy.overall_deadline;

  const std::string resource = resourceForHost(host, options_.resource_overrides);
  http::HttpRequest request;
  request.method = "POST";
  request.url = key.vault_url + "/keys/" + key.name +
                (key.version.empty() ? "" : "/" + key.version) +
                "/release?api-version=" + options_.api_version;
  request.timeout = options_.attempt_timeout;
  request.max_response_bytes = kMaxResponseBytes;
  {
    const SecretBytes body = releaseRequestBody(maa_token, options_.enc, std::nullopt);
    request.body = toString(body.view(grantSecretAccess()));
  }

  int attempts = 0;
  bool retried_unauthorized = false;
  StatusOr<http::RetriedResponse> sent = internalError("not sent");
  // Every access token sent, to scrub from the vault's messages (the request body's MAA token
  // is JWT-shaped and scrubbed as such). Wiped before returning.
  std::vector<std::string> secrets;
  struct Wipe {
    std::vector<std::string>& strings;
    ~Wipe() {
      for (std::string& s : strings) OPENSSL_cleanse(s.data(), s.size());
    }
  } wipe{secrets};
  secrets.emplace_back(maa_token);
  while (true) {
    StatusOr<AccessToken> token = tokens_.token(resource);
    if (!token.ok()) {
      OPENSSL_cleanse(request.body.data(), request.body.size());
      return identityError(token.status(), resource);
    }
    secrets.push_back(toString(token->token.view(grantSecretAccess())));
    request.headers = {{"Authorization", "Bearer " + secrets.back()},
                       {"Content-Type", "application/json"},
                       {"Accept", "application/json"}};
    sent = http::sendWithRetry(*transport_, request, policy, clock_, jitter_);
    for (http::Header& header : request.headers) {
      OPENSSL_cleanse(header.value.data(), header.value.size());
    }
    if (sent.ok()) attempts += sent->attempts;
    if (!sent.ok() || sent->response.status != 401 || retried_unauthorized) break;
    // 401: the token was rejected (revoked, wrong audience, expired early). Drop it once.
    retried_unauthorized = true;
    tokens_.invalidate();
    const auto left = std::chrono::duration_cast<milliseconds>(overall_end - clock_.steadyNow());
    if (left.count() <= 0) break;
    policy.overall_deadline = left;
    log::warning("keyvault.release.unauthorized_retry", {{"vault", host}, {"key", key.name}});
  }
  OPENSSL_cleanse(request.body.data(), request.body.size());

  if (!sent.ok()) {
    const Status& s = sent.status();
    if (s.code() == StatusCode::ResourceExhausted) {
      return http::failedRequest(
          invalidArgumentError("release " + what + ": the response is larger than " +
                               std::to_string(kMaxResponseBytes) + " bytes")
              .withDetails(s.details()),
          Dependency::KeyVault, request.url, ErrorCause::Integrity);
    }
    const StatusCode code = s.code() == StatusCode::DeadlineExceeded ? StatusCode::DeadlineExceeded
                                                                     : StatusCode::Unavailable;
    return http::failedRequest(
        Status(code, "release " + what + ": " + sanitizeVaultMessage(s.message(), secrets))
            .withDetails(s.details()),
        Dependency::KeyVault, request.url, ErrorCause::Transport);
  }
  const http::HttpResponse& response = sent->response;
  const int status = response.status;
  if (status != 200) {
    const VaultError error = parseVaultError(response.body);
    const std::string codes = describeCodes(error);
    const std::string vault_says =
        error.message.empty() ? std::string()
                              : ": \"" + sanitizeVaultMessage(error.message, secrets) + "\"";
    const std::string http_part =
        "HTTP " + std::to_string(status) + (codes.empty() ? "" : " " + codes);
    ErrorDetails details{
        Dependency::KeyVault, ErrorCause::Unspecified, host, status, codes, attempts};
    auto answered = [&details](ErrorCause cause, Status failure) {
      details.cause = cause;
      return std::move(failure).withDetails(std::move(details));
    };
    if (sent->stop != http::RetryStop::Final) {
      const StatusCode code = sent->stop == http::RetryStop::Deadline ? StatusCode::DeadlineExceeded
                                                                      : StatusCode::Unavailable;
      return answered(ErrorCause::Transport,
                      Status(code, "release " + what + ": Key Vault " + http_part + vault_says +
                                       " (" + sent->gave_up + ")"));
    }
    switch (status) {
      case 400:
        return answered(ErrorCause::Unspecified,
                        invalidArgumentError("release " + what + " rejected as a bad request (" +
                                             http_part + ")" + vault_says));
      case 401:
        return answered(
            ErrorCause::Unspecified,
            unauthenticatedError("release " + what + ": the vault rejected the access token from " +
                                 tokens_.describe() + " for " + resource + " (" + http_part +
                                 ", also after fetching a fresh token)" + vault_says));
      case 403:
        return answered(forbiddenCause(error),
                        permissionDeniedError("release " + what + " denied (" + http_part +
                                              "): " + forbiddenHint(error) + vault_says));
      case 404:
        return answered(
            ErrorCause::Unspecified,
            notFoundError("key '" + printable(key.name, 128) + "'" +
                          (key.version.empty() ? "" : " version " + key.version) +
                          " not found in vault " + host + " (" + http_part + ")" + vault_says));
      default:
        if (status >= 500) {
          return answered(
              ErrorCause::Transport,
              unavailableError("release " + what + ": Key Vault " + http_part + vault_says));
        }
        return answered(
            ErrorCause::Unspecified,
            failedPreconditionError("release " + what + ": unexpected " + http_part + vault_says));
    }
  }

  // From here on the vault answered 200: every failure is one of integrity.
  const ErrorDetails integrity{
      Dependency::KeyVault, ErrorCause::Integrity, host, status, "", attempts};
  StatusOr<VerifiedRelease> checked = verifyRelease(response.body, host, options_.jws_trust_anchors,
                                                    clock_.now(), options_.clock_skew);
  if (!checked.ok()) return checked.status().withContext("release " + what).withDetails(integrity);
  VerifiedRelease verified = std::move(checked).value();
  const std::optional<KidParts> parts = parseKid(verified.kid);  // checked by verifyRelease
  if (parts->name != key.name) {
    return dataLossError("release " + what + ": the signed response is for key '" + parts->name +
                         "' (" + verified.kid + ")")
        .withDetails(integrity);
  }
  if (!key.version.empty() && parts->version != key.version) {
    return dataLossError("release " + what + ": the signed response is for version " +
                         parts->version + " (" + verified.kid + ")")
        .withDetails(integrity);
  }
  if (verified.enc != options_.enc) {
    log::warning("keyvault.release.enc_differs",
                 {{"vault", host},
                  {"key", key.name},
                  {"requested", std::string(keyExportEncName(options_.enc))},
                  {"used", std::string(keyExportEncName(verified.enc))}});
  }
  ReleaseAnswer answer{std::move(verified), parts->version, host, attempts};
  return answer;
}

}  // namespace skr::azure
