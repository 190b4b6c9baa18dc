#include "common/release/released_bundle.h"

#include <utility>

#include "common/crypto/pkey.h"
#include "common/http/url.h"
#include "common/jose/jwk.h"

namespace skr::release {

std::string hostOfVaultUrl(const std::string& url) {
  return std::string(http::urlAuthority(url));
}

seal::BundleInfo bundleInfoFor(const config::Config& config, const Attestation& attestation,
                               const config::KeyConfig& key, seal::BundleKind kind,
                               SystemTime now) {
  seal::BundleInfo info;
  info.kind = kind;
  info.key_name = key.name;
  info.vault = hostOfVaultUrl(key.vault_url);
  info.released_at = now;
  info.maa = seal::MaaTokenInfo::describe(attestation.maa.issuer, attestation.maa.token,
                                          attestation.maa.expires_at);
  info.hostdata = attestation.maa.hostdata;
  info.platform = attestation.platform;
  info.emulated = config.emulated() || attestation.maa.emulated;
  return info;
}

StatusOr<std::string> sealReleasedKey(const config::Config& config, const Attestation& attestation,
                                      const config::KeyConfig& key,
                                      const azure::ReleasedKey& released,
                                      const seal::SealingKeyProvider& provider, SystemTime now) {
  seal::BundleInfo info = bundleInfoFor(config, attestation, key, seal::BundleKind::Key, now);
  info.vault = released.vault_host;
  info.kid = released.kid;
  info.key_ops = released.key.keyOps();
  return seal::sealKey(info, released.key, provider);
}

StatusOr<std::string> sealPendingRelease(const config::Config& config,
                                         const Attestation& attestation,
                                         const config::KeyConfig& key,
                                         const seal::SealingKeyProvider& provider, SystemTime now) {
  seal::BundleInfo info = bundleInfoFor(config, attestation, key, seal::BundleKind::Pending, now);
  info.kid = key.vault_url + "/keys/" + key.name + (key.version.empty() ? "" : "/" + key.version);
  SKR_ASSIGN_OR_RETURN(
      crypto::PrivateKey transfer,
      crypto::PrivateKey::fromPkcs8Der(attestation.transfer.private_key.toPkcs8Der()));
  jose::Jwk transfer_jwk = jose::Jwk::fromPrivateKey(std::move(transfer));
  transfer_jwk.setKid(attestation.transfer.public_jwk.kid());
  return seal::sealPending(std::move(info), transfer_jwk, attestation.maa.token, provider);
}

}  // namespace skr::release
