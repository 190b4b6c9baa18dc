// Azure Key Vault / Managed HSM key release, client side (spec/azure-wire.md §2; DESIGN.md §3
// "AKV release" and "unwrap"): POST {vault}/keys/{name}[/{version}]/release with the MAA token,
// verify the JWS answer (RS256 by x5c[0], x5c chain to the configured trust anchors, leaf valid
// for the vault host), unwrap key_hsm (RSA-OAEP with the hash the *signed* request.enc names,
// then AES-KWP, §2.4) and check the released material against the public part in the response.
// Secrets touched: the access token (header only, never logged), the transfer private key, the
// released key (SecretBytes inside the returned Jwk).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/azure/identity.h"
#include "common/azure/key_export_enc.h"
#include "common/azure/key_releaser.h"
#include "common/azure/released_key.h"
#include "common/core/clock.h"
#include "common/core/secret_bytes.h"
#include "common/core/status.h"
#include "common/crypto/digest.h"
#include "common/crypto/pkey.h"
#include "common/crypto/x509.h"
#include "common/http/http_transport.h"
#include "common/http/retry.h"
#include "common/jose/jwk.h"
#include "common/json/json.h"

namespace skr::azure {

struct KeyVaultOptions {
  std::string api_version = "7.4";
  KeyExportEnc enc = KeyExportEnc::RsaAesKeyWrap256;
  std::chrono::milliseconds attempt_timeout{30'000};
  http::RetryPolicy retry = defaultRetryPolicy();  // dependency "Key Vault"
  // Trust anchors for the release JWS's x5c chain. Empty: the system trust store.
  std::vector<crypto::Certificate> jws_trust_anchors;
  // Allowed clock skew when checking the JWS signing certificate's validity.
  std::chrono::seconds clock_skew{300};
  // Maps "host:port"/"host" to the token resource, as for resourceForHost().
  std::map<std::string, std::string> resource_overrides;

  static http::RetryPolicy defaultRetryPolicy();
};

// The verified content of a release response ({"value": "<compact JWS>"}).
struct VerifiedRelease {
  json::ObjectPtr payload;  // the JWS payload (request, response.key...)
  KeyExportEnc enc;         // payload.request.enc
  std::string kid;          // payload.response.key.key.kid
  json::ObjectPtr key;      // payload.response.key.key: kid, kty and key_hsm are strings
};

// The vault's answer to a release, verified (JWS signature, x5c chain, host, kid) but not
// unwrapped: key_hsm stays wrapped to the transfer key inside `verified.key`.
struct ReleaseAnswer {
  VerifiedRelease verified;
  std::string version;  // from the signed kid
  std::string host;     // the vault's host[:port]
  int attempts = 0;
};

// The KeyReleaser of Azure Key Vault and Managed HSM.
class KeyVaultClient : public KeyReleaser {
 public:
  // `tokens`, `clock` and `jitter` must outlive the client. InvalidArgument for bad options.
  static StatusOr<std::unique_ptr<KeyVaultClient>> create(
      std::shared_ptr<http::HttpTransport> transport, TokenProvider& tokens, Clock& clock,
      http::JitterSource& jitter, KeyVaultOptions options);

  // Releases `key` to the holder of `transfer_key` (whose public key the MAA token's x-ms-runtime
  // carries). `deadline` (steady clock) bounds retries and attempt timeouts when set.
  // Errors (messages name the vault host and key, never the token):
  //   Unauthenticated  401 (token rejected; the cached token is dropped and one retry made)
  //   PermissionDenied 403: the vault's message, plus which cause it indicates (RBAC role
  //                    missing, release policy not satisfied, e.g. hostdata or authority)
  //   NotFound         404 KeyNotFound
  //   InvalidArgument  400, or a malformed/truncated response body
  //   Unavailable / DeadlineExceeded  retries or deadline exhausted
  //   DataLoss         JWS signature, x5c chain, host name, unwrap or material check failed
  StatusOr<ReleasedKey> release(
      const VaultKeyRef& key, std::string_view maa_token, const crypto::PrivateKey& transfer_key,
      std::optional<std::chrono::steady_clock::time_point> deadline = std::nullopt) override;

  // The release request and the verification of its answer without the unwrap, for preflight
  // checks that must not hold key material (skrctl doctor). Errors as release(), minus unwrap.
  StatusOr<ReleaseAnswer> requestRelease(
      const VaultKeyRef& key, std::string_view maa_token,
      std::optional<std::chrono::steady_clock::time_point> deadline = std::nullopt);

 private:
  KeyVaultClient(std::shared_ptr<http::HttpTransport> transport, TokenProvider& tokens,
                 Clock& clock, http::JitterSource& jitter, KeyVaultOptions options);
  std::shared_ptr<http::HttpTransport> transport_;
  TokenProvider& tokens_;
  Clock& clock_;
  http::JitterSource& jitter_;
  KeyVaultOptions options_;
};

// ---- Pure parts (exposed for tests and fuzzing) ----

// The request body: {"target": token, "enc": name[, "nonce": nonce]}. Contains the token: secret.
SecretBytes releaseRequestBody(std::string_view maa_token, KeyExportEnc enc,
                               const std::optional<std::string>& nonce);

// Verifies the JWS: alg RS256, signature by x5c[0], chain x5c[0] <- x5c[1..] to `anchors`
// (empty: system store) at `now`, leaf valid for `vault_host` (DNS or IP SAN; port ignored).
StatusOr<VerifiedRelease> verifyReleaseResponse(std::string_view body, std::string_view vault_host,
                                                std::span<const crypto::Certificate> anchors,
                                                std::chrono::system_clock::time_point now);

// Unwraps key_hsm (base64url JSON {"ciphertext": ...}, §2.3) with the transfer key: RSA-OAEP
// (hash per `enc`) of the first modulus-size bytes, AES-KWP of the rest.
StatusOr<SecretBytes> unwrapKeyHsm(std::string_view key_hsm, const crypto::PrivateKey& transfer_key,
                                   KeyExportEnc enc);

// Builds the released Jwk from the unwrapped plaintext (PKCS#8 DER for RSA/EC, raw bytes for oct,
// §2.5) and checks it against the public members (n/e, crv/x/y) of `response_key` where present.
StatusOr<jose::Jwk> releasedJwk(const json::ObjectPtr& response_key, SecretBytes plaintext);

}  // namespace skr::azure
