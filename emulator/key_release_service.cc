#include "emulator/key_release_service.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <arpa/inet.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <optional>

#include "common/azure/release_policy.h"
#include "common/encoding/base64.h"
#include "common/http/url.h"
#include "common/jose/jws.h"
#include "common/log/logger.h"
#include "emulator/key_release.h"
#include "emulator/key_vault_service.h"

namespace skr::emulator {
namespace {

// What a vault listener signs release responses with: its RSA key, the certificate the emulator
// CA issued for it (leaf first, then the CA) and the JWS header members derived from them.
struct ReleaseSigner {
  SigningKey key;
  json::ObjectPtr header;  // kid, x5c, x5t#S256
};

// The host of "https://HOST:PORT" ("[::1]" -> "::1").
std::string hostOf(const std::string& url) {
  return std::string(http::authorityHost(http::urlAuthority(url)));
}

bool isIpAddress(const std::string& host) {
  uint8_t addr[16];
  return ::inet_pton(AF_INET, host.c_str(), addr) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), addr) == 1;
}

// Signers are made on first use: listener URLs are known only once the server is serving.
class ReleaseSigners {
 public:
  StatusOr<const ReleaseSigner*> get(EmulatorContext& context, const std::string& listener) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = signers_.find(listener);
    if (it != signers_.end()) return &it->second;
    SKR_ASSIGN_OR_RETURN(ReleaseSigner signer, make(context, listener));
    return &signers_.emplace(listener, std::move(signer)).first->second;
  }

 private:
  static StatusOr<ReleaseSigner> make(EmulatorContext& context, const std::string& listener) {
    SKR_ASSIGN_OR_RETURN(
        SigningKey key,
        loadOrCreateSigningKey(context.stateDir() + "/signing/release_" + listener + "_key.pem"));
    const std::string host = hostOf(context.url(listener));
    IssueOptions options;
    options.extended_key_usage = {crypto::kEkuServerAuth};
    if (isIpAddress(host)) {
      options.dns_names = {"localhost"};
      options.ip_addresses = {host};
    } else {
      options.dns_names = {host};
    }
    SKR_ASSIGN_OR_RETURN(crypto::Certificate leaf,
                         context.ca().issue(host, key.key.publicKey(), options));
    Poco::JSON::Array::Ptr x5c = new Poco::JSON::Array;
    x5c->add(encoding::base64Encode(leaf.der()));
    x5c->add(encoding::base64Encode(context.ca().certificate().der()));
    json::ObjectPtr header = new Poco::JSON::Object;
    header->set("kid", key.kid);
    header->set("x5c", x5c);
    header->set("x5t#S256", encoding::base64UrlEncode(leaf.sha256Fingerprint()));
    return ReleaseSigner{std::move(key), header};
  }

  std::mutex mutex_;
  std::map<std::string, ReleaseSigner> signers_;
};

std::vector<MaaIssuer> maaIssuers(const EmulatorContext& context) {
  const std::vector<std::string> trusted = context.trustedMaaListeners();
  std::vector<MaaIssuer> out;
  for (const std::string& listener : context.maaListeners()) {
    const SigningKey* key = context.signingKeys().maa(listener);
    if (key == nullptr) continue;
    const bool is_trusted = std::find(trusted.begin(), trusted.end(), listener) != trusted.end();
    out.push_back(
        MaaIssuer{listener, context.url(listener), key->kid, key->key.publicKey(), is_trusted});
  }
  return out;
}

// 403 for a release that the attestation does not justify (spec §2.7: the exact AKV text is not
// public; innererror "AccessDenied" as the spec recommends).
Response releaseForbidden(const Request& request, const std::string& name, const std::string& what,
                          const std::string& reason) {
  log::info("emulator.keyrelease.denied",
            {{"vault", request.listener}, {"key", name}, {"reason", what}});
  return cloudError(403, "Forbidden",
                    "Target environment attestation statement " + what + ": " + reason,
                    "AccessDenied");
}

Response internalError(const Request& request, const std::string& name, const Status& status) {
  log::error("emulator.keyrelease.failed",
             {{"vault", request.listener}, {"key", name}, {"error", status.toString()}});
  return cloudError(500, "InternalError", "skr-emulator: key release failed");
}

Response releaseKey(ReleaseSigners& signers, EmulatorContext& context, const Request& request) {
  const std::string name = request.captures.at("name");
  Principal principal;
  if (auto denied = authorizeKeyRequest(context, request, KeyAction::Release, name, &principal)) {
    return *denied;
  }
  StatusOr<ReleaseRequest> body = parseReleaseRequest(request.body);
  if (!body.ok()) return badParameter(body.status().message());

  auto found = findKeyVersion(context, request);
  if (auto* not_found = std::get_if<Response>(&found)) return *not_found;
  const KeyVersionPtr version = std::get<KeyVersionPtr>(found);
  const std::string kid = keyId(request.base_url, *version);
  if (!version->attributes.exportable || !version->release_policy) {
    return badParameter("The key " + kid +
                        " is not exportable: only keys created with attributes.exportable = true "
                        "and a release_policy can be released.");
  }
  const int64_t now = context.now();
  if (!version->attributes.enabled) {
    return cloudError(403, "Forbidden", "Operation release is not allowed on a disabled key.",
                      "KeyDisabled");
  }
  if (version->attributes.not_before && now < *version->attributes.not_before) {
    return cloudError(403, "Forbidden",
                      "Operation release is not allowed on a key that is not yet valid (nbf " +
                          std::to_string(*version->attributes.not_before) + ").",
                      "KeyNotYetValid");
  }
  if (version->attributes.expires && now >= *version->attributes.expires) {
    return cloudError(403, "Forbidden",
                      "Operation release is not allowed on an expired key (exp " +
                          std::to_string(*version->attributes.expires) + ").",
                      "KeyExpired");
  }
  StatusOr<azure::ReleasePolicy> policy =
      azure::ReleasePolicy::parse(toString(version->release_policy->data));
  if (!policy.ok()) {
    return badParameter("The release policy of key " + kid +
                        " is not valid: " + policy.status().message());
  }

  StatusOr<VerifiedMaaToken> token =
      verifyMaaToken(body->target, maaIssuers(context),
                     std::chrono::system_clock::time_point(std::chrono::seconds(now)));
  if (!token.ok()) {
    if (token.status().code() == StatusCode::InvalidArgument) {
      return badParameter(token.status().message());
    }
    return releaseForbidden(request, name, "cannot be verified", token.status().message());
  }
  const azure::PolicyDecision decision = policy->evaluate(token->claims, token->issuer);
  if (!decision.allowed) {
    return releaseForbidden(request, name, "does not satisfy the key release policy",
                            decision.reason);
  }
  StatusOr<TransferKey> transfer = selectTransferKey(token->claims);
  if (!transfer.ok()) return badParameter("target: " + transfer.status().message());

  const SecretBytes plaintext = releasePlaintext(*version);
  StatusOr<Bytes> ciphertext =
      rsaAesKeyWrap(*transfer->jwk.publicKey().value(), body->enc, plaintext);
  if (!ciphertext.ok()) return internalError(request, name, ciphertext.status());
  const json::ObjectPtr payload =
      releasePayload(*version, request.base_url, request.queryParam("api-version"), body->enc,
                     body->nonce, keyHsm(transfer->kid, body->enc, *ciphertext));
  StatusOr<std::string> payload_text = json::serializeCanonical(payload);
  if (!payload_text.ok()) return internalError(request, name, payload_text.status());

  StatusOr<const ReleaseSigner*> signer = signers.get(context, request.listener);
  if (!signer.ok()) return internalError(request, name, signer.status());
  // The "wrong_key" fault signs with a key nobody trusts under the real x5c: clients must fail.
  const crypto::PrivateKey& signing_key =
      request.sign_with_wrong_key ? context.signingKeys().wrong().key : (*signer)->key.key;
  StatusOr<std::string> jws = jose::signJws(signing_key, jose::JwsAlgorithm::RS256,
                                            asBytes(*payload_text), (*signer)->header);
  if (!jws.ok()) return internalError(request, name, jws.status());

  log::info("emulator.keyrelease.released",
            {{"vault", request.listener},
             {"key", name},
             {"version", version->version},
             {"enc", std::string(azure::keyExportEncName(body->enc))},
             {"maa", token->listener}});
  json::ObjectPtr result = new Poco::JSON::Object;
  result->set("value", *jws);
  return jsonResponse(200, result);
}

}  // namespace

void KeyReleaseService::registerRoutes(Router& router, EmulatorContext& context) {
  const std::vector<std::string> vaults(std::begin(kVaultListeners), std::end(kVaultListeners));
  auto signers = std::make_shared<ReleaseSigners>();
  auto handler = [signers, &context](const Request& r) { return releaseKey(*signers, context, r); };
  router.add(vaults, "POST", "/keys/{name}/release", handler);
  router.add(vaults, "POST", "/keys/{name}/{version}/release", handler);
}

}  // namespace skr::emulator
