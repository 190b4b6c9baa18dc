#include "emulator/signing_keys.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include "common/jose/jwk.h"
#include "emulator/state_files.h"

namespace skr::emulator {

json::ObjectPtr SigningKey::jwks() const {
  jose::Jwk jwk = jose::Jwk::fromPublicKey(key.publicKey());
  jwk.setKid(kid);
  jwk.setAlg("RS256");
  json::ObjectPtr pub = jwk.publicJson().value();
  pub->set("use", "sig");
  Poco::JSON::Array::Ptr keys = new Poco::JSON::Array;
  keys->add(pub);
  json::ObjectPtr out = new Poco::JSON::Object;
  out->set("keys", keys);
  return out;
}

StatusOr<SigningKey> loadOrCreateSigningKey(const std::string& path) {
  std::optional<crypto::PrivateKey> key;
  if (fileExists(path)) {
    SKR_ASSIGN_OR_RETURN(SecretBytes pem, readSecretFile(path, 64 * 1024));
    StatusOr<crypto::PrivateKey> loaded = crypto::PrivateKey::fromPem(pem);
    if (!loaded.ok()) return loaded.status().withContext(path);
    key = std::move(loaded).value();
  } else {
    SKR_ASSIGN_OR_RETURN(crypto::PrivateKey generated, crypto::PrivateKey::generateRsa(2048));
    SKR_RETURN_IF_ERROR(writeSecretFileAtomic(path, generated.toPkcs8Pem()));
    key = std::move(generated);
  }
  if (key->type() != crypto::KeyType::Rsa) return invalidArgumentError(path + " is not RSA");
  const std::string kid = jose::Jwk::fromPublicKey(key->publicKey()).thumbprint();
  return SigningKey{std::move(*key), kid};
}

const SigningKey* SigningKeys::maa(const std::string& listener) const {
  auto it = maa_.find(listener);
  return it == maa_.end() ? nullptr : &it->second;
}

StatusOr<SigningKeys> SigningKeys::openOrCreate(const std::string& state_dir,
                                                const std::vector<std::string>& maa_listeners) {
  const std::string dir = state_dir + "/signing";
  SKR_RETURN_IF_ERROR(ensureDirectory(dir));
  SKR_ASSIGN_OR_RETURN(SigningKey entra, loadOrCreateSigningKey(dir + "/entra_key.pem"));
  SKR_ASSIGN_OR_RETURN(SigningKey k8s, loadOrCreateSigningKey(dir + "/k8s_issuer_key.pem"));
  SKR_ASSIGN_OR_RETURN(SigningKey wrong, loadOrCreateSigningKey(dir + "/wrong_key.pem"));
  std::map<std::string, SigningKey> maa;
  for (const std::string& listener : maa_listeners) {
    SKR_ASSIGN_OR_RETURN(SigningKey key, loadOrCreateSigningKey(dir + "/" + listener + "_key.pem"));
    maa.emplace(listener, std::move(key));
  }
  return SigningKeys(std::move(entra), std::move(k8s), std::move(wrong), std::move(maa));
}

}  // namespace skr::emulator
