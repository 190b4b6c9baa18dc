#include "common/azure/transfer_key.h"

#include <algorithm>
#include <cstdlib>

#include "common/crypto/digest.h"
#include "common/encoding/base64.h"
#include "common/json/json.h"

namespace skr::azure {

StatusOr<TransferKey> TransferKey::generate(int bits) {
  if (bits != 2048 && bits != 3072 && bits != 4096) {
    return invalidArgumentError("transfer key: " + std::to_string(bits) +
                                " bits; 2048, 3072 or 4096 are supported");
  }
  SKR_ASSIGN_OR_RETURN(crypto::PrivateKey key, crypto::PrivateKey::generateRsa(bits));
  return fromPrivateKey(std::move(key));
}

StatusOr<TransferKey> TransferKey::fromPrivateKey(crypto::PrivateKey key) {
  if (key.type() != crypto::KeyType::Rsa || key.bits() < 2048) {
    return invalidArgumentError("transfer key: an RSA key of at least 2048 bits is needed");
  }
  jose::Jwk jwk = jose::Jwk::fromPublicKey(key.publicKey());
  jwk.setKid(jwk.thumbprint());
  jwk.setKeyOps({"encrypt"});
  return TransferKey{std::move(key), std::move(jwk)};
}

std::string runtimeDataJson(const jose::Jwk& transfer_public) {
  StatusOr<const crypto::PublicKey*> key = transfer_public.publicKey();
  // A TransferKey's JWK is always RSA: anything else is a caller bug.
  if (!key.ok() || (*key)->type() != crypto::KeyType::Rsa) std::abort();
  const crypto::RsaPublicComponents rsa = (*key)->rsaComponents().value();
  Poco::JSON::Array::Ptr ops = new Poco::JSON::Array;
  ops->add(std::string("encrypt"));
  json::ObjectPtr jwk = new Poco::JSON::Object;
  jwk->set("e", encoding::base64UrlEncode(rsa.e));
  jwk->set("key_ops", ops);
  jwk->set("kid", transfer_public.kid());
  jwk->set("kty", "RSA");
  jwk->set("n", encoding::base64UrlEncode(rsa.n));
  Poco::JSON::Array::Ptr keys = new Poco::JSON::Array;
  keys->add(jwk);
  json::ObjectPtr jwks = new Poco::JSON::Object;
  jwks->set("keys", keys);
  return json::serializeCanonical(jwks).value();
}

std::array<uint8_t, 64> reportDataFor(std::string_view runtime_data) {
  std::array<uint8_t, 64> out{};
  const Bytes hash = crypto::sha256(asBytes(runtime_data));
  std::copy(hash.begin(), hash.end(), out.begin());
  return out;
}

}  // namespace skr::azure
