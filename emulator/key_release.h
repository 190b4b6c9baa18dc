// The pure parts of AKV / Managed HSM secure key release (spec/azure-wire.md §1.7, §2.2-2.5, §3.2),
// separate from the HTTP handler (key_release_service.h) so unit tests can drive them:
//  - verifying the MAA token in the request's `target` against the emulated MAA instances;
//  - choosing the transfer key in the token's x-ms-runtime.keys;
//  - CKM_RSA_AES_KEY_WRAP / RSA_AES_KEY_WRAP_256 / _384 wrapping and the key_hsm blob;
//  - the signed payload of the release response.
// All functions are stateless and thread-safe. Key material enters only as SecretBytes.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/azure/key_vault_client.h"
#include "common/core/bytes.h"
#include "common/core/secret_bytes.h"
#include "common/core/status.h"
#include "common/crypto/digest.h"
#include "common/crypto/pkey.h"
#include "common/jose/jwk.h"
#include "common/json/json.h"
#include "emulator/key_store.h"

namespace skr::emulator {

// Bound on `target` (a MAA JWT is a few KiB; the runtime keys dominate).
inline constexpr std::size_t kMaxAttestationTokenBytes = 128 * 1024;

// The `enc` of a release request (spec §2.1, §2.4) is the client's azure::KeyExportEnc, with its
// wire names and OAEP hashes; this is the default when a request has no `enc` (spec §2.1
// [inferred]).
inline constexpr azure::KeyExportEnc kDefaultKeyExportEncryption =
    azure::KeyExportEnc::CkmRsaAesKeyWrap;

// RSA-OAEP(wrapping_key, K) || AES-KWP(K, plaintext) with a fresh AES-256 key K (spec §2.4).
// InvalidArgument for a non-RSA wrapping key or an empty plaintext.
StatusOr<Bytes> rsaAesKeyWrap(const crypto::PublicKey& wrapping_key, azure::KeyExportEnc enc,
                              const SecretBytes& plaintext);

// The body of POST /keys/{name}[/{version}]/release (spec §2.1): {"target": MAA JWT, "nonce"?,
// "enc"?}. Unknown members are ignored, as AKV does.
struct ReleaseRequest {
  std::string target;
  std::optional<std::string> nonce;
  azure::KeyExportEnc enc = kDefaultKeyExportEncryption;
};
inline constexpr std::size_t kMaxReleaseNonceBytes = 1024;
// InvalidArgument with AKV-style messages naming the member for: an empty body, text that is not
// a JSON object, `target` missing / not a string / empty / over kMaxAttestationTokenBytes,
// `nonce` not a string or longer than kMaxReleaseNonceBytes, `enc` not one of the three names.
StatusOr<ReleaseRequest> parseReleaseRequest(std::string_view body);

// The plaintext a release wraps (spec §2.5): PKCS#8 DER for RSA and EC keys (as the key store
// keeps them), the raw key bytes for oct keys.
SecretBytes releasePlaintext(const KeyVersion& version);

// One emulated MAA instance as a token issuer: its URL (= `iss`), the kid and public key of its
// JWKS, and whether the vaults trust it.
struct MaaIssuer {
  std::string listener;  // "maa", "maa2", ...
  std::string url;       // "https://127.0.0.1:PORT"
  std::string kid;
  crypto::PublicKey key;
  bool trusted = false;
};

struct VerifiedMaaToken {
  json::ObjectPtr claims;
  std::string issuer;    // `iss` as in the token
  std::string listener;  // the MAA listener that issued it
};

inline constexpr std::chrono::seconds kAttestationTokenLeeway{60};

// Validates a MAA token as AKV does (spec §1.7): compact JWS, alg RS256 only, `iss` (one trailing
// '/' ignored) the URL of an issuer in `issuers` that is trusted, header `kid` equal to that
// issuer's kid, signature verified with its key, exp/nbf/iat at `now` within `leeway`.
// InvalidArgument: `target` is not a JWS/JWT at all (the request is malformed); PermissionDenied:
// a well-formed token that is not acceptable, with a message naming why (untrusted issuer, wrong
// alg, unknown kid, bad signature, expired, not yet valid).
StatusOr<VerifiedMaaToken> verifyMaaToken(std::string_view target,
                                          const std::vector<MaaIssuer>& issuers,
                                          std::chrono::system_clock::time_point now,
                                          std::chrono::seconds leeway = kAttestationTokenLeeway);

// The transfer (wrapping) key: the first JWK in claims `x-ms-runtime.keys` with kty "RSA", at
// least 2048 bits, and `key_use` "enc" or `key_ops` containing "encrypt" (spec §3.2 step 6). When
// the JWK has no kid its RFC 7638 thumbprint is used. FailedPrecondition naming what is missing.
struct TransferKey {
  jose::Jwk jwk;
  std::string kid;
};
StatusOr<TransferKey> selectTransferKey(const json::ObjectPtr& claims);

// key_hsm (spec §2.3): base64url of
// {"schema_version":"1.0.0","header":{"kid":..,"alg":"dir","enc":..},"ciphertext":base64url}.
std::string keyHsm(const std::string& transfer_kid, azure::KeyExportEnc enc,
                   const Bytes& ciphertext);

// The release JWS payload (spec §2.2): {"request":{"api-version","enc","kid","nonce"?},
// "response":{"key":<KeyBundle of `version` with key.key_hsm>},"x-ms-emulated":true}.
json::ObjectPtr releasePayload(const KeyVersion& version, const std::string& base_url,
                               const std::string& api_version, azure::KeyExportEnc enc,
                               const std::optional<std::string>& nonce, const std::string& key_hsm);

}  // namespace skr::emulator
