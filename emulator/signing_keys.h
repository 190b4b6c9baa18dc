// The emulator's token-signing keys, persisted in DIR/signing/ (0600) so tokens issued before a
// restart still validate:
//   entra       RS256 key of the emulated Entra ID (access tokens from IMDS and /oauth2/v2.0/token)
//   k8s_issuer  RS256 key of the emulated Kubernetes service-account issuer (workload identity)
//   wrong       a key nobody trusts: what the "wrong_key" fault and negative tests sign with
//   maa, maa2.. RS256 key of each emulated MAA instance (attestation tokens; /certs serves it in a
//               self-signed certificate as x5c). One key per instance, so a token from an instance
//               the vaults do not trust cannot pass as one from "maa".
// kid = RFC 7638 thumbprint. Immutable after open; thread-safe.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/core/status.h"
#include "common/crypto/pkey.h"
#include "common/json/json.h"

namespace skr::emulator {

struct SigningKey {
  crypto::PrivateKey key;
  std::string kid;
  // {"keys":[public JWK with kid, use "sig", alg "RS256"]}
  json::ObjectPtr jwks() const;
};

class SigningKeys {
 public:
  // maa_listeners: names of the MAA listeners ("maa", "maa2", ...), one key each.
  static StatusOr<SigningKeys> openOrCreate(const std::string& state_dir,
                                            const std::vector<std::string>& maa_listeners = {});

  const SigningKey& entra() const { return entra_; }
  const SigningKey& k8sIssuer() const { return k8s_issuer_; }
  const SigningKey& wrong() const { return wrong_; }
  // The token-signing key of MAA listener `listener`; nullptr for a name that is not one.
  const SigningKey* maa(const std::string& listener) const;

 private:
  SigningKeys(SigningKey entra, SigningKey k8s, SigningKey wrong,
              std::map<std::string, SigningKey> maa)
      : entra_(std::move(entra)),
        k8s_issuer_(std::move(k8s)),
        wrong_(std::move(wrong)),
        maa_(std::move(maa)) {}
  SigningKey entra_;
  SigningKey k8s_issuer_;
  SigningKey wrong_;
  std::map<std::string, SigningKey> maa_;
};

// Loads an RSA key from `path` (PKCS#8 PEM) or creates and stores a new RSA-2048 key there.
StatusOr<SigningKey> loadOrCreateSigningKey(const std::string& path);

}  // namespace skr::emulator
