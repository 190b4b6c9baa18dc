#include "emulator/key_release.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include "common/azure/release_policy.h"
#include "common/crypto/aes_key_wrap.h"
#include "common/crypto/random.h"
#include "common/crypto/rsa_oaep.h"
#include "common/encoding/base64.h"
#include "common/encoding/printable.h"
#include "common/jose/jws.h"
#include "common/jose/jwt.h"
#include "emulator/key_vault_service.h"

namespace skr::emulator {
namespace {

// AKV releases with an AES-256 key encryption key (spec §2.4 step 1).
constexpr std::size_t kEphemeralKekBytes = 32;
// Bounds on what the token's x-ms-runtime.keys may make us look at.
constexpr std::size_t kMaxRuntimeKeys = 16;

bool hasEncryptUse(const json::ObjectPtr& jwk) {
  StatusOr<std::string> key_use = json::getString(jwk, "key_use");
  if (key_use.ok() && *key_use == "enc") return true;
  if (!jwk->has("key_ops")) return false;
  StatusOr<std::vector<std::string>> ops = json::getStringArray(jwk, "key_ops");
  if (!ops.ok()) return false;
  for (const std::string& op : *ops) {
    if (op == "encrypt") return true;
  }
  return false;
}

}  // namespace

StatusOr<Bytes> rsaAesKeyWrap(const crypto::PublicKey& wrapping_key, azure::KeyExportEnc enc,
                              const SecretBytes& plaintext) {
  if (wrapping_key.type() != crypto::KeyType::Rsa) {
    return invalidArgumentError("RSA-AES key wrap: the wrapping key is not an RSA key");
  }
  if (plaintext.empty()) return invalidArgumentError("RSA-AES key wrap: the key to wrap is empty");
  const SecretBytes kek = crypto::randomSecret(kEphemeralKekBytes);
  SKR_ASSIGN_OR_RETURN(
      Bytes wrapped_kek,
      crypto::rsaOaepEncrypt(wrapping_key, azure::oaepHashFor(enc), kek.view(grantSecretAccess())));
  SKR_ASSIGN_OR_RETURN(Bytes wrapped_key, crypto::aesKeyWrapPad(kek, plaintext));
  wrapped_kek.insert(wrapped_kek.end(), wrapped_key.begin(), wrapped_key.end());
  return wrapped_kek;
}

StatusOr<ReleaseRequest> parseReleaseRequest(std::string_view body) {
  if (body.empty()) return invalidArgumentError("The request body is empty.");
  StatusOr<json::ObjectPtr> object = json::parseObject(body);
  if (!object.ok()) {
    return invalidArgumentError("The request body is not a valid JSON object: " +
                                object.status().message());
  }
  ReleaseRequest out;
  StatusOr<std::string> target = json::getString(*object, "target");
  if (!target.ok()) {
    return invalidArgumentError((*object)->has("target") && !(*object)->isNull("target")
                                    ? "Property 'target' must be a string (the attestation token)."
                                    : "Property 'target' is required (the attestation token).");
  }
  if (target->empty()) return invalidArgumentError("Property 'target' must not be empty.");
  if (target->size() > kMaxAttestationTokenBytes) {
    return invalidArgumentError("Property 'target' is " + std::to_string(target->size()) +
                                " bytes; at most " + std::to_string(kMaxAttestationTokenBytes) +
                                " are accepted.");
  }
  out.target = std::move(target).value();
  StatusOr<std::optional<std::string>> nonce = json::getOptionalString(*object, "nonce");
  if (!nonce.ok()) return invalidArgumentError("Property 'nonce' must be a string.");
  if (*nonce && (*nonce)->size() > kMaxReleaseNonceBytes) {
    return invalidArgumentError("Property 'nonce' is " + std::to_string((*nonce)->size()) +
                                " bytes; at most " + std::to_string(kMaxReleaseNonceBytes) +
                                " are accepted.");
  }
  out.nonce = std::move(nonce).value();
  StatusOr<std::optional<std::string>> enc = json::getOptionalString(*object, "enc");
  if (!enc.ok()) return invalidArgumentError("Property 'enc' must be a string.");
  if (*enc) {
    StatusOr<azure::KeyExportEnc> parsed = azure::parseKeyExportEnc(**enc);
    if (!parsed.ok()) return invalidArgumentError("Property 'enc': " + parsed.status().message());
    out.enc = *parsed;
  }
  return out;
}

SecretBytes releasePlaintext(const KeyVersion& version) {
  return version.material.clone();
}

StatusOr<VerifiedMaaToken> verifyMaaToken(std::string_view target,
                                          const std::vector<MaaIssuer>& issuers,
                                          std::chrono::system_clock::time_point now,
                                          std::chrono::seconds leeway) {
  if (target.size() > kMaxAttestationTokenBytes) {
    return invalidArgumentError("target: the attestation token is " +
                                std::to_string(target.size()) + " bytes, more than the " +
                                std::to_string(kMaxAttestationTokenBytes) + " accepted");
  }
  jose::JwsLimits limits;
  limits.max_compact_bytes = kMaxAttestationTokenBytes;
  limits.max_header_bytes = 16 * 1024;
  StatusOr<jose::Jws> parsed = jose::Jws::parse(target, limits);
  if (!parsed.ok()) {
    // An alg we do not accept ("none", HS256) is a well-formed but unacceptable token.
    if (parsed.status().details().cause == ErrorCause::Integrity) {
      return permissionDeniedError(
          "the attestation token's algorithm is not accepted (RS256 "
          "only): " +
          parsed.status().message());
    }
    return invalidArgumentError("target is not a compact JWS attestation token: " +
                                parsed.status().message());
  }
  const jose::Jws& jws = *parsed;
  StatusOr<json::ObjectPtr> claims = jws.payloadJson();
  if (!claims.ok()) {
    return invalidArgumentError("target: the attestation token's payload is not a JSON object: " +
                                claims.status().message());
  }
  if (jws.algorithm() != jose::JwsAlgorithm::RS256) {
    return permissionDeniedError("the attestation token is signed with " +
                                 std::string(jose::jwsAlgorithmName(jws.algorithm())) +
                                 "; MAA tokens must use RS256");
  }
  StatusOr<std::string> iss = json::getString(*claims, "iss");
  if (!iss.ok()) return permissionDeniedError("the attestation token has no string 'iss' claim");
  const std::string issuer = azure::normalizeAuthority(*iss);
  const MaaIssuer* match = nullptr;
  for (const MaaIssuer& candidate : issuers) {
    if (azure::normalizeAuthority(candidate.url) == issuer) match = &candidate;
  }
  std::string trusted_list;
  for (const MaaIssuer& candidate : issuers) {
    if (candidate.trusted) trusted_list += (trusted_list.empty() ? "" : ", ") + candidate.url;
  }
  if (match == nullptr || !match->trusted) {
    std::string which = match == nullptr ? std::string("an unknown attestation service")
                                         : "the emulated MAA instance '" + match->listener + "'";
    return permissionDeniedError(
        "the attestation token's issuer \"" + encoding::printable(*iss, 96) + "\" is " + which +
        ", which this vault does not trust (trusted: " + trusted_list + ")");
  }
  const std::optional<std::string> kid = jws.kid();
  if (!kid || *kid != match->kid) {
    return permissionDeniedError(
        "the attestation token's kid \"" + encoding::printable(kid.value_or(""), 96) +
        "\" is not a signing key of " + match->url + " (its JWKS has kid \"" + match->kid + "\")");
  }
  Status verified = jws.verify(match->key);
  if (!verified.ok()) {
    return permissionDeniedError(
        "the attestation token's signature does not verify with the "
        "signing key of " +
        match->url + ": " + verified.message());
  }
  jose::ClaimCheck check;
  check.now = now;
  check.leeway = leeway;
  check.require_exp = true;
  Status lifetime = jose::checkClaims(*claims, check);
  if (!lifetime.ok()) {
    return permissionDeniedError("the attestation token is not valid now: " + lifetime.message());
  }
  return VerifiedMaaToken{*claims, *iss, match->listener};
}

StatusOr<TransferKey> selectTransferKey(const json::ObjectPtr& claims) {
  StatusOr<json::ObjectPtr> runtime = json::getObject(claims, "x-ms-runtime");
  if (!runtime.ok()) {
    return failedPreconditionError("the attestation token has no 'x-ms-runtime' object claim");
  }
  StatusOr<json::ArrayPtr> keys = json::getArray(*runtime, "keys");
  if (!keys.ok()) {
    return failedPreconditionError("the attestation token's x-ms-runtime has no 'keys' array");
  }
  std::string skipped;
  const std::size_t count = (*keys)->size();
  for (std::size_t i = 0; i < count && i < kMaxRuntimeKeys; ++i) {
    StatusOr<json::ObjectPtr> element = json::getObject(*keys, i, "x-ms-runtime.keys");
    const std::string at = "x-ms-runtime.keys[" + std::to_string(i) + "]";
    if (!element.ok()) {
      skipped += "; " + at + " is not an object";
      continue;
    }
    const json::ObjectPtr& jwk = *element;
    StatusOr<std::string> kty = json::getString(jwk, "kty");
    if (!kty.ok() || *kty != "RSA") {
      skipped += "; " + at + " is not an RSA key";
      continue;
    }
    if (!hasEncryptUse(jwk)) {
      skipped += "; " + at + " has neither key_use \"enc\" nor key_ops \"encrypt\"";
      continue;
    }
    // The JOSE parser takes the public members; key_use / key_ops were checked above.
    json::ObjectPtr public_members = new Poco::JSON::Object;
    for (const char* member : {"kty", "n", "e", "kid"}) {
      if (jwk->has(member)) public_members->set(member, jwk->get(member));
    }
    StatusOr<jose::Jwk> parsed = jose::Jwk::fromJson(public_members);
    if (!parsed.ok()) {
      skipped += "; " + at + " is not a valid JWK: " + parsed.status().message();
      continue;
    }
    if (parsed->hasPrivate()) {
      skipped += "; " + at + " carries private members";
      continue;
    }
    const crypto::PublicKey* key = parsed->publicKey().value();
    if (key->bits() < 2048) {
      skipped += "; " + at + " is RSA-" + std::to_string(key->bits()) + " (at least 2048 bits)";
      continue;
    }
    std::string kid = parsed->kid().empty() ? parsed->thumbprint() : parsed->kid();
    return TransferKey{std::move(parsed).value(), std::move(kid)};
  }
  return failedPreconditionError(
      "the attestation token's x-ms-runtime.keys holds no RSA key (>= 2048 bits) with key_use "
      "\"enc\" or key_ops \"encrypt\" to wrap the released key to" +
      (count == 0 ? std::string(" (the list is empty)") : skipped));
}

std::string keyHsm(const std::string& transfer_kid, azure::KeyExportEnc enc,
                   const Bytes& ciphertext) {
  json::ObjectPtr header = new Poco::JSON::Object;
  header->set("kid", transfer_kid);
  header->set("alg", "dir");
  header->set("enc", std::string(azure::keyExportEncName(enc)));
  json::ObjectPtr blob = new Poco::JSON::Object;
  blob->set("schema_version", "1.0.0");
  blob->set("header", header);
  blob->set("ciphertext", encoding::base64UrlEncode(ciphertext));
  // Serializing an object built from strings cannot fail.
  return encoding::base64UrlEncode(asBytes(json::serializeCanonical(blob).value()));
}

json::ObjectPtr releasePayload(const KeyVersion& version, const std::string& base_url,
                               const std::string& api_version, azure::KeyExportEnc enc,
                               const std::optional<std::string>& nonce,
                               const std::string& key_hsm) {
  json::ObjectPtr request = new Poco::JSON::Object;
  request->set("api-version", api_version);
  request->set("enc", std::string(azure::keyExportEncName(enc)));
  request->set("kid", keyId(base_url, version));
  if (nonce) request->set("nonce", *nonce);
  json::ObjectPtr bundle = keyBundleJson(version, base_url);
  json::getObject(bundle, "key").value()->set("key_hsm", key_hsm);
  json::ObjectPtr response = new Poco::JSON::Object;
  response->set("key", bundle);
  json::ObjectPtr payload = new Poco::JSON::Object;
  payload->set("request", request);
  payload->set("response", response);
  payload->set("x-ms-emulated", true);
  return payload;
}

}  // namespace skr::emulator
