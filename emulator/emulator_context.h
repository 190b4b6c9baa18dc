// What every emulated service shares (one object per process, built by Emulator): the state
// stores, the CA, the token-signing keys, the fault injector and request log, the chip directory,
// the listener URLs and the clock. Handlers get it by reference at registration time; all members
// are thread-safe (stores lock internally, the rest is immutable after start).
//
// The Key Vault authorization path (validateBearer + checkKeyPermission) lives here so that every
// vault handler, including the release operation, makes the same checks.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/core/status.h"
#include "common/snp/emulated_chip.h"
#include "emulator/access_token.h"
#include "emulator/emulator_ca.h"
#include "emulator/fault_injector.h"
#include "emulator/http_types.h"
#include "emulator/identity_store.h"
#include "emulator/key_store.h"
#include "emulator/options.h"
#include "emulator/request_log.h"
#include "emulator/signing_keys.h"

namespace skr::emulator {

inline constexpr const char* kVaultResource = "https://vault.azure.net";
inline constexpr const char* kManagedHsmResource = "https://managedhsm.azure.net";
// Blob Storage: tokens for it look like Azure's (v1, iss https://sts.windows.net/{tenant}/) so a
// storage service that checks issuer and audience (Azurite's --oauth basic) accepts them.
inline constexpr const char* kStorageResource = "https://storage.azure.com";
inline constexpr const char* kStorageTokenIssuerPrefix = "https://sts.windows.net/";
inline constexpr const char* kTokenExchangeAudience = "api://AzureADTokenExchange";

// What a caller wants to do with a key; maps to the RBAC roles that allow it.
enum class KeyAction { Read, Write, Release };
// Roles granting `action` on listener `vault` ("vault" or "mhsm").
std::vector<std::string> rolesFor(const std::string& vault, KeyAction action);
// Azure data action name, for 403 messages: "Microsoft.KeyVault/vaults/keys/read", ...
std::string dataActionName(const std::string& vault, KeyAction action);

class EmulatorContext {
 public:
  EmulatorContext(EmulatorOptions options, std::unique_ptr<IdentityStore> identities,
                  std::unique_ptr<KeyStore> keys, EmulatorCa ca, SigningKeys signing_keys,
                  std::string chip_dir);

  const EmulatorOptions& options() const { return options_; }
  IdentityStore& identities() { return *identities_; }
  KeyStore& keys() { return *keys_; }
  const EmulatorCa& ca() const { return ca_; }
  const SigningKeys& signingKeys() const { return signing_keys_; }
  FaultInjector& faults() { return faults_; }
  RequestLog& requestLog() { return request_log_; }
  const std::string& stateDir() const { return options_.state_dir; }
  const std::string& chipDir() const { return chip_dir_; }

  // Unix seconds from the injected clock.
  int64_t now() const { return clock_(); }
  void setClock(std::function<int64_t()> clock) { clock_ = std::move(clock); }

  // Listener URLs ("https://127.0.0.1:PORT"), set once by the server before it serves.
  void setListenerUrls(std::map<std::string, std::string> urls) { urls_ = std::move(urls); }
  std::string url(const std::string& listener) const;
  const std::map<std::string, std::string>& listenerUrls() const { return urls_; }
  // Names of the MAA listeners: "maa" (trusted by the vaults), "maa2", ... (not trusted).
  std::vector<std::string> maaListeners() const;
  std::vector<std::string> trustedMaaListeners() const { return {"maa"}; }

  std::string tenantId() const { return identities_->tenantId(); }
  // "{entra_url}/{tenant}/v2.0": iss of every access token.
  std::string entraIssuer() const;
  // "https://sts.windows.net/{tenant}/": iss of access tokens for kStorageResource (v1 tokens,
  // as Azure issues for storage), which no emulated service verifies.
  std::string storageIssuer() const;
  // "{entra_url}/k8s-issuer": iss of service-account tokens.
  std::string k8sIssuer() const;
  // Resource (token audience) of a vault listener: kVaultResource or kManagedHsmResource.
  static std::string resourceFor(const std::string& vault_listener);

  // Signs an access token for `identity` and `resource` with the Entra key (or the wrong key).
  // expires_at receives exp.
  StatusOr<std::string> issueAccessToken(const Identity& identity, const std::string& resource,
                                         bool wrong_key, int64_t* expires_at);

  // The "Authorization: Bearer" check every vault handler makes: Unauthenticated when the header
  // is missing or the token is not one the emulated Entra ID issued for `expected_resource`.
  StatusOr<Principal> validateBearer(const Request& request,
                                     const std::string& expected_resource) const;
  // Whether the principal holds a role allowing `action` on `key_name` of vault listener `vault`.
  bool checkRole(const Principal& principal, const std::string& vault, KeyAction action,
                 const std::string& key_name) const;

  // Lifetime (exp - iat) of MAA tokens: 8 h like MAA by default; negative values issue tokens
  // that are already expired (admin settings; in memory, a restart resets it).
  int64_t maaTokenLifetimeSeconds() const { return maa_token_lifetime_seconds_.load(); }
  // InvalidArgument outside -86400..604800 (the range of the access-token lifetime).
  Status setMaaTokenLifetimeSeconds(int64_t seconds);

  // Opens the emulated chip (created at start). Serialised with admin updates by chipMutex().
  StatusOr<snp::EmulatedChip> openChip() const;
  std::mutex& chipMutex() const { return chip_mutex_; }

 private:
  EmulatorOptions options_;
  std::unique_ptr<IdentityStore> identities_;
  std::unique_ptr<KeyStore> keys_;
  EmulatorCa ca_;
  SigningKeys signing_keys_;
  std::string chip_dir_;
  FaultInjector faults_;
  RequestLog request_log_;
  std::map<std::string, std::string> urls_;
  std::function<int64_t()> clock_;
  mutable std::mutex chip_mutex_;
  std::atomic<int64_t> maa_token_lifetime_seconds_{8 * 60 * 60};
};

// The 401 answer of Key Vault / Managed HSM: {"error":{"code":"Unauthorized","message":..}} with
// WWW-Authenticate: Bearer authorization="{entra}/{tenant}", resource="{resource}".
Response vaultUnauthorized(const EmulatorContext& context, const std::string& vault,
                           const std::string& message);

}  // namespace skr::emulator
