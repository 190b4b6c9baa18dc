#include "emulator/emulator_context.h"

#include <chrono>

namespace skr::emulator {

std::vector<std::string> rolesFor(const std::string& vault, KeyAction action) {
  if (vault == "mhsm") {
    switch (action) {
      case KeyAction::Read:
        return {"Managed HSM Crypto Officer", "Managed HSM Crypto User",
                "Managed HSM Crypto Auditor"};
      case KeyAction::Write: return {"Managed HSM Crypto Officer"};
      case KeyAction::Release: return {"Managed HSM Crypto Service Release User"};
    }
  }
  switch (action) {
    case KeyAction::Read:
      return {"Key Vault Administrator", "Key Vault Crypto Officer", "Key Vault Crypto User",
              "Key Vault Reader", "Key Vault Crypto Service Encryption User"};
    case KeyAction::Write: return {"Key Vault Administrator", "Key Vault Crypto Officer"};
    case KeyAction::Release:
      return {"Key Vault Administrator", "Key Vault Crypto Officer",
              "Key Vault Crypto Service Release User"};
  }
  return {};
}

std::string dataActionName(const std::string& vault, KeyAction action) {
  const std::string prefix =
      vault == "mhsm" ? "Microsoft.KeyVault/managedHsm/keys/" : "Microsoft.KeyVault/vaults/keys/";
  switch (action) {
    case KeyAction::Read: return prefix + "read";
    case KeyAction::Write: return prefix + "write";
    case KeyAction::Release: return prefix + "release/action";
  }
  return prefix;
}

EmulatorContext::EmulatorContext(EmulatorOptions options, std::unique_ptr<IdentityStore> identities,
                                 std::unique_ptr<KeyStore> keys, EmulatorCa ca,
                                 SigningKeys signing_keys, std::string chip_dir)
    : options_(std::move(options)),
      identities_(std::move(identities)),
      keys_(std::move(keys)),
      ca_(std::move(ca)),
      signing_keys_(std::move(signing_keys)),
      chip_dir_(std::move(chip_dir)),
      clock_([] {
        return static_cast<int64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
      }) {}

std::string EmulatorContext::url(const std::string& listener) const {
  auto it = urls_.find(listener);
  return it == urls_.end() ? std::string() : it->second;
}

std::vector<std::string> EmulatorContext::maaListeners() const {
  std::vector<std::string> out;
  for (const auto& [name, u] : urls_) {
    if (name.rfind("maa", 0) == 0) out.push_back(name);
  }
  return out;
}

std::string EmulatorContext::entraIssuer() const {
  return url("entra") + "/" + tenantId() + "/v2.0";
}

std::string EmulatorContext::k8sIssuer() const {
  return url("entra") + "/k8s-issuer";
}

std::string EmulatorContext::resourceFor(const std::string& vault_listener) {
  return vault_listener == "mhsm" ? kManagedHsmResource : kVaultResource;
}

std::string EmulatorContext::storageIssuer() const {
  return std::string(kStorageTokenIssuerPrefix) + tenantId() + "/";
}

StatusOr<std::string> EmulatorContext::issueAccessToken(const Identity& identity,
                                                        const std::string& resource, bool wrong_key,
                                                        int64_t* expires_at) {
  AccessTokenClaims c;
  c.audience = withoutTrailingSlash(resource);
  const bool storage = c.audience == kStorageResource;
  c.issuer = storage ? storageIssuer() : entraIssuer();
  c.version = storage ? "1.0" : "2.0";
  c.tenant_id = tenantId();
  c.object_id = identity.object_id;
  c.client_id = identity.client_id;
  c.msi_res_id = identity.msi_res_id;
  c.issued_at = now();
  c.expires_at = c.issued_at + identities_->tokenLifetimeSeconds();
  if (expires_at != nullptr) *expires_at = c.expires_at;
  return signAccessToken(wrong_key ? signing_keys_.wrong() : signing_keys_.entra(), c);
}

StatusOr<Principal> EmulatorContext::validateBearer(const Request& request,
                                                    const std::string& expected_resource) const {
  const std::string auth = request.headers.get("Authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (auth.size() <= kBearer.size() || auth.compare(0, kBearer.size(), kBearer) != 0) {
    return unauthenticatedError("AKV10000: Request is missing a Bearer or PoP token.");
  }
  return verifyAccessToken(std::string_view(auth).substr(kBearer.size()),
                           signing_keys_.entra().key.publicKey(), entraIssuer(), expected_resource,
                           now());
}

bool EmulatorContext::checkRole(const Principal& principal, const std::string& vault,
                                KeyAction action, const std::string& key_name) const {
  return identities_->hasRole(principal.object_id, rolesFor(vault, action), vault, key_name);
}

Status EmulatorContext::setMaaTokenLifetimeSeconds(int64_t seconds) {
  if (seconds < -86400 || seconds > 7 * 86400) {
    return invalidArgumentError("maa_token_lifetime_seconds " + std::to_string(seconds) +
                                " is not in -86400..604800");
  }
  maa_token_lifetime_seconds_.store(seconds);
  return okStatus();
}

StatusOr<snp::EmulatedChip> EmulatorContext::openChip() const {
  return snp::EmulatedChip::openOrCreate(chip_dir_);
}

Response vaultUnauthorized(const EmulatorContext& context, const std::string& vault,
                           const std::string& message) {
  Response r = cloudError(401, "Unauthorized", message);
  r.headers.set("WWW-Authenticate", "Bearer authorization=\"" + context.url("entra") + "/" +
                                        context.tenantId() + "\", resource=\"" +
                                        EmulatorContext::resourceFor(vault) + "\"");
  return r;
}

}  // namespace skr::emulator
