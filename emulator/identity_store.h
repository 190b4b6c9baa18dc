// The emulated Entra ID directory: the tenant, managed identities (system- and user-assigned), app
// registrations with federated credentials (workload identity), Azure RBAC role assignments on the
// emulated vaults, and directory settings (token lifetime). Persisted as JSON in the state
// directory (identities.json, role_assignments.json, directory.json); every change is written
// before it becomes visible. Thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/core/status.h"
#include "common/json/json.h"

namespace skr::emulator {

enum class IdentityKind { SystemAssigned, UserAssigned, Application };
std::string_view identityKindName(IdentityKind kind);  // "system", "user", "app"

struct FederatedCredential {
  std::string name;
  std::string issuer;
  std::string subject;
  std::vector<std::string> audiences;  // default {"api://AzureADTokenExchange"}
};

struct Identity {
  IdentityKind kind = IdentityKind::UserAssigned;
  std::string name;
  std::string client_id;   // appId (GUID)
  std::string object_id;   // service principal object id (GUID): the RBAC principal
  std::string msi_res_id;  // ARM id, user-assigned only
  std::vector<FederatedCredential> federated_credentials;  // applications (and user-assigned)

  json::ObjectPtr toJson() const;
  // Admin API / file form. Missing ids are left empty (the store generates them).
  static StatusOr<Identity> fromJson(const json::ObjectPtr& object);
};

// A role on a scope of one emulated vault: scope "/" (the whole vault), "/keys" (all keys) or
// "/keys/NAME" (one key).
struct RoleAssignment {
  std::string id;
  std::string principal_id;  // Identity::object_id
  std::string role;          // "Key Vault Crypto Officer", ...
  std::string vault;         // listener name: "vault" or "mhsm"
  std::string scope = "/";

  json::ObjectPtr toJson() const;
  static StatusOr<RoleAssignment> fromJson(const json::ObjectPtr& object);
};

// A random RFC 4122 version-4 GUID, lower case.
std::string randomGuid();

class IdentityStore {
 public:
  // Loads (or initialises: a new tenant id and one system-assigned identity) from `state_dir`.
  static StatusOr<std::unique_ptr<IdentityStore>> open(const std::string& state_dir,
                                                       int64_t default_token_lifetime_seconds);

  std::string tenantId() const;
  int64_t tokenLifetimeSeconds() const;
  // -86400 .. 7 days; a negative lifetime issues already-expired tokens (expiry tests).
  Status setTokenLifetimeSeconds(int64_t seconds);

  std::vector<Identity> identities() const;
  // Validates, fills missing ids, rejects duplicates (client id, object id, msi_res_id, a second
  // system-assigned identity) with InvalidArgument, persists. Returns the stored identity.
  StatusOr<Identity> addIdentity(Identity identity);
  Status removeIdentity(const std::string& object_id);  // also removes its role assignments
  StatusOr<Identity> addFederatedCredential(const std::string& object_id,
                                            FederatedCredential credential);

  std::optional<Identity> findByClientId(const std::string& client_id) const;
  std::optional<Identity> findByObjectId(const std::string& object_id) const;
  std::optional<Identity> findByMsiResId(const std::string& msi_res_id) const;
  // Managed identities only (system + user assigned).
  std::vector<Identity> managedIdentities() const;

  std::vector<RoleAssignment> roleAssignments() const;
  StatusOr<RoleAssignment> addRoleAssignment(RoleAssignment assignment);
  Status removeRoleAssignment(const std::string& id);
  // Whether `principal_id` holds one of `roles` on vault `vault` at "/", "/keys" or
  // "/keys/<key_name>" (key_name empty: only "/" and "/keys" count).
  bool hasRole(const std::string& principal_id, const std::vector<std::string>& roles,
               const std::string& vault, const std::string& key_name) const;

 private:
  explicit IdentityStore(std::string dir) : dir_(std::move(dir)) {}
  Status saveIdentitiesLocked() const;
  Status saveRolesLocked() const;
  Status saveDirectoryLocked() const;

  std::string dir_;
  mutable std::mutex mutex_;
  std::string tenant_id_;
  int64_t token_lifetime_seconds_ = 86400;
  std::vector<Identity> identities_;
  std::vector<RoleAssignment> roles_;
};

}  // namespace skr::emulator
