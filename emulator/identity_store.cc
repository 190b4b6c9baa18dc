#include "emulator/identity_store.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <algorithm>
#include <cstdio>

#include "common/crypto/random.h"
#include "emulator/pattern.h"
#include "emulator/state_files.h"

namespace skr::emulator {
namespace {

constexpr const char* kDefaultAudience = "api://AzureADTokenExchange";
constexpr std::size_t kMaxIdentities = 1000;
constexpr std::size_t kMaxRoleAssignments = 10000;
constexpr std::size_t kMaxFederatedCredentials = 20;  // Entra's limit per application

const std::vector<std::string>& knownRoles() {
  static const std::vector<std::string> roles = {
      "Key Vault Administrator",
      "Key Vault Crypto Officer",
      "Key Vault Crypto User",
      "Key Vault Crypto Service Release User",
      "Key Vault Crypto Service Encryption User",
      "Key Vault Reader",
      "Managed HSM Administrator",
      "Managed HSM Crypto Officer",
      "Managed HSM Crypto User",
      "Managed HSM Crypto Service Release User",
      "Managed HSM Crypto Service Encryption User",
      "Managed HSM Crypto Auditor",
      "Managed HSM Policy Administrator",
  };
  return roles;
}

bool isGuid(const std::string& s) {
  static const Pattern re =
      Pattern::literal("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
  return re.matches(s);
}

bool isSimpleName(const std::string& s, std::size_t max) {
  static const Pattern re = Pattern::literal("[A-Za-z0-9][A-Za-z0-9._-]*");
  return !s.empty() && s.size() <= max && re.matches(s);
}

StatusOr<IdentityKind> kindFromName(const std::string& name) {
  if (name == "system") return IdentityKind::SystemAssigned;
  if (name == "user") return IdentityKind::UserAssigned;
  if (name == "app") return IdentityKind::Application;
  return invalidArgumentError("identity member 'kind': '" + name +
                              "' is not one of system, user, app");
}

json::ObjectPtr federatedToJson(const FederatedCredential& f) {
  json::ObjectPtr o = new Poco::JSON::Object;
  o->set("name", f.name);
  o->set("issuer", f.issuer);
  o->set("subject", f.subject);
  Poco::JSON::Array::Ptr aud = new Poco::JSON::Array;
  for (const auto& a : f.audiences) aud->add(a);
  o->set("audiences", aud);
  return o;
}

StatusOr<FederatedCredential> federatedFromJson(const json::ObjectPtr& o) {
  FederatedCredential f;
  SKR_ASSIGN_OR_RETURN(std::optional<std::string> name, json::getOptionalString(o, "name"));
  f.name = name.value_or("");
  SKR_ASSIGN_OR_RETURN(std::optional<std::string> issuer, json::getOptionalString(o, "issuer"));
  f.issuer = issuer.value_or("");
  SKR_ASSIGN_OR_RETURN(f.subject, json::getString(o, "subject"));
  if (o->has("audiences") && !o->isNull("audiences")) {
    SKR_ASSIGN_OR_RETURN(f.audiences, json::getStringArray(o, "audiences"));
  }
  if (f.audiences.empty()) f.audiences.push_back(kDefaultAudience);
  if (f.subject.empty() || f.subject.size() > 600) {
    return invalidArgumentError("federated credential member 'subject': must be 1..600 characters");
  }
  if (f.issuer.size() > 600) {
    return invalidArgumentError("federated credential member 'issuer': longer than 600 characters");
  }
  if (f.audiences.size() > 1) {
    // Entra allows exactly one audience per federated credential.
    return invalidArgumentError("federated credential member 'audiences': exactly one audience");
  }
  return f;
}

StatusOr<json::ObjectPtr> parseStateObject(const std::string& path) {
  SKR_ASSIGN_OR_RETURN(std::string text, readTextFile(path));
  StatusOr<json::ObjectPtr> o = json::parseObject(text);
  if (!o.ok()) return o.status().withContext(path);
  return o;
}

Status saveObject(const std::string& path, const json::ObjectPtr& o) {
  SKR_ASSIGN_OR_RETURN(std::string text, json::serializeCanonical(o));
  text.push_back('\n');
  return writeFileAtomic(path, asBytes(text), 0600);
}

}  // namespace

std::string_view identityKindName(IdentityKind kind) {
  switch (kind) {
    case IdentityKind::SystemAssigned: return "system";
    case IdentityKind::UserAssigned: return "user";
    case IdentityKind::Application: return "app";
  }
  return "user";
}

std::string randomGuid() {
  Bytes b = crypto::randomBytes(16);
  b[6] = static_cast<uint8_t>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);
  char out[37];
  std::snprintf(out, sizeof out,
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                b[15]);
  return out;
}

json::ObjectPtr Identity::toJson() const {
  json::ObjectPtr o = new Poco::JSON::Object;
  o->set("kind", std::string(identityKindName(kind)));
  o->set("name", name);
  o->set("client_id", client_id);
  o->set("object_id", object_id);
  if (!msi_res_id.empty()) o->set("msi_res_id", msi_res_id);
  Poco::JSON::Array::Ptr feds = new Poco::JSON::Array;
  for (const auto& f : federated_credentials) feds->add(federatedToJson(f));
  o->set("federated_credentials", feds);
  return o;
}

StatusOr<Identity> Identity::fromJson(const json::ObjectPtr& o) {
  Identity id;
  SKR_ASSIGN_OR_RETURN(std::string kind, json::getString(o, "kind"));
  SKR_ASSIGN_OR_RETURN(id.kind, kindFromName(kind));
  SKR_ASSIGN_OR_RETURN(std::optional<std::string> name, json::getOptionalString(o, "name"));
  id.name = name.value_or("");
  SKR_ASSIGN_OR_RETURN(std::optional<std::string> client_id,
                       json::getOptionalString(o, "client_id"));
  id.client_id = client_id.value_or("");
  SKR_ASSIGN_OR_RETURN(std::optional<std::string> object_id,
                       json::getOptionalString(o, "object_id"));
  id.object_id = object_id.value_or("");
  SKR_ASSIGN_OR_RETURN(std::optional<std::string> msi, json::getOptionalString(o, "msi_res_id"));
  id.msi_res_id = msi.value_or("");
  if (o->has("federated_credentials") && !o->isNull("federated_credentials")) {
    SKR_ASSIGN_OR_RETURN(json::ArrayPtr feds, json::getArray(o, "federated_credentials"));
    for (std::size_t i = 0; i < feds->size(); ++i) {
      StatusOr<json::ObjectPtr> f = json::getObject(feds, i, "member 'federated_credentials'");
      if (!f.ok()) {
        return invalidArgumentError(
            "identity member 'federated_credentials': element is not an object");
      }
      SKR_ASSIGN_OR_RETURN(FederatedCredential cred, federatedFromJson(*f));
      id.federated_credentials.push_back(std::move(cred));
    }
  }
  return id;
}

json::ObjectPtr RoleAssignment::toJson() const {
  json::ObjectPtr o = new Poco::JSON::Object;
  o->set("id", id);
  o->set("principal_id", principal_id);
  o->set("role", role);
  o->set("vault", vault);
  o->set("scope", scope);
  return o;
}

StatusOr<RoleAssignment> RoleAssignment::fromJson(const json::ObjectPtr& o) {
  RoleAssignment r;
  SKR_ASSIGN_OR_RETURN(std::optional<std::string> id, json::getOptionalString(o, "id"));
  r.id = id.value_or("");
  SKR_ASSIGN_OR_RETURN(r.principal_id, json::getString(o, "principal_id"));
  SKR_ASSIGN_OR_RETURN(r.role, json::getString(o, "role"));
  SKR_ASSIGN_OR_RETURN(std::optional<std::string> vault, json::getOptionalString(o, "vault"));
  SKR_ASSIGN_OR_RETURN(std::optional<std::string> scope, json::getOptionalString(o, "scope"));
  r.scope = scope.value_or("/");
  // Default vault from the role's family.
  r.vault = vault.value_or(r.role.rfind("Managed HSM ", 0) == 0 ? "mhsm" : "vault");
  return r;
}

StatusOr<std::unique_ptr<IdentityStore>> IdentityStore::open(
    const std::string& state_dir, int64_t default_token_lifetime_seconds) {
  std::unique_ptr<IdentityStore> store(new IdentityStore(state_dir));
  std::lock_guard lock(store->mutex_);
  const std::string dir_file = state_dir + "/directory.json";
  if (fileExists(dir_file)) {
    SKR_ASSIGN_OR_RETURN(json::ObjectPtr o, parseStateObject(dir_file));
    SKR_ASSIGN_OR_RETURN(store->tenant_id_, json::getString(o, "tenant_id"));
    SKR_ASSIGN_OR_RETURN(store->token_lifetime_seconds_, json::getInt(o, "token_lifetime_seconds"));
  } else {
    store->tenant_id_ = randomGuid();
    store->token_lifetime_seconds_ = default_token_lifetime_seconds;
    SKR_RETURN_IF_ERROR(store->saveDirectoryLocked());
  }
  const std::string ids_file = state_dir + "/identities.json";
  if (fileExists(ids_file)) {
    SKR_ASSIGN_OR_RETURN(json::ObjectPtr o, parseStateObject(ids_file));
    SKR_ASSIGN_OR_RETURN(json::ArrayPtr arr, json::getArray(o, "identities"));
    for (std::size_t i = 0; i < arr->size(); ++i) {
      StatusOr<json::ObjectPtr> io = json::getObject(arr, i, "member 'identities'");
      if (!io.ok()) return dataLossError(ids_file + ": identity is not an object");
      StatusOr<Identity> id = Identity::fromJson(*io);
      if (!id.ok()) return id.status().withContext(ids_file);
      store->identities_.push_back(std::move(id).value());
    }
  } else {
    // A fresh emulated container group has a system-assigned identity (without any role).
    Identity system;
    system.kind = IdentityKind::SystemAssigned;
    system.name = "container-group";
    system.client_id = randomGuid();
    system.object_id = randomGuid();
    store->identities_.push_back(std::move(system));
    SKR_RETURN_IF_ERROR(store->saveIdentitiesLocked());
  }
  const std::string roles_file = state_dir + "/role_assignments.json";
  if (fileExists(roles_file)) {
    SKR_ASSIGN_OR_RETURN(json::ObjectPtr o, parseStateObject(roles_file));
    SKR_ASSIGN_OR_RETURN(json::ArrayPtr arr, json::getArray(o, "role_assignments"));
    for (std::size_t i = 0; i < arr->size(); ++i) {
      StatusOr<json::ObjectPtr> ro = json::getObject(arr, i, "member 'role_assignments'");
      if (!ro.ok()) return dataLossError(roles_file + ": role assignment is not an object");
      StatusOr<RoleAssignment> r = RoleAssignment::fromJson(*ro);
      if (!r.ok()) return r.status().withContext(roles_file);
      store->roles_.push_back(std::move(r).value());
    }
  }
  return store;
}

Status IdentityStore::saveDirectoryLocked() const {
  json::ObjectPtr o = new Poco::JSON::Object;
  o->set("format", "skr-emulator-directory/1");
  o->set("tenant_id", tenant_id_);
  o->set("token_lifetime_seconds", static_cast<Poco::Int64>(token_lifetime_seconds_));
  return saveObject(dir_ + "/directory.json", o);
}

Status IdentityStore::saveIdentitiesLocked() const {
  json::ObjectPtr o = new Poco::JSON::Object;
  o->set("format", "skr-emulator-identities/1");
  Poco::JSON::Array::Ptr arr = new Poco::JSON::Array;
  for (const Identity& id : identities_) arr->add(id.toJson());
  o->set("identities", arr);
  return saveObject(dir_ + "/identities.json", o);
}

Status IdentityStore::saveRolesLocked() const {
  json::ObjectPtr o = new Poco::JSON::Object;
  o->set("format", "skr-emulator-role-assignments/1");
  Poco::JSON::Array::Ptr arr = new Poco::JSON::Array;
  for (const RoleAssignment& r : roles_) arr->add(r.toJson());
  o->set("role_assignments", arr);
  return saveObject(dir_ + "/role_assignments.json", o);
}

std::string IdentityStore::tenantId() const {
  std::lock_guard lock(mutex_);
  return tenant_id_;
}

int64_t IdentityStore::tokenLifetimeSeconds() const {
  std::lock_guard lock(mutex_);
  return token_lifetime_seconds_;
}

Status IdentityStore::setTokenLifetimeSeconds(int64_t seconds) {
  if (seconds < -86400 || seconds > 7 * 86400) {
    return invalidArgumentError("token_lifetime_seconds " + std::to_string(seconds) +
                                " is not in -86400..604800");
  }
  std::lock_guard lock(mutex_);
  const int64_t old = token_lifetime_seconds_;
  token_lifetime_seconds_ = seconds;
  Status saved = saveDirectoryLocked();
  if (!saved.ok()) token_lifetime_seconds_ = old;
  return saved;
}

std::vector<Identity> IdentityStore::identities() const {
  std::lock_guard lock(mutex_);
  return identities_;
}

StatusOr<Identity> IdentityStore::addIdentity(Identity identity) {
  if (identity.client_id.empty()) identity.client_id = randomGuid();
  if (identity.object_id.empty()) identity.object_id = randomGuid();
  if (!isGuid(identity.client_id)) {
    return invalidArgumentError("identity member 'client_id': '" + identity.client_id +
                                "' is not a lower-case GUID");
  }
  if (!isGuid(identity.object_id)) {
    return invalidArgumentError("identity member 'object_id': '" + identity.object_id +
                                "' is not a lower-case GUID");
  }
  if (identity.name.empty())
    identity.name =
        std::string(identityKindName(identity.kind)) + "-" + identity.client_id.substr(0, 8);
  if (!isSimpleName(identity.name, 128)) {
    return invalidArgumentError("identity member 'name': '" + identity.name +
                                "' must be 1..128 of [A-Za-z0-9._-]");
  }
  if (identity.kind == IdentityKind::UserAssigned && identity.msi_res_id.empty()) {
    identity.msi_res_id =
        "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/skr-emulator/"
        "providers/Microsoft.ManagedIdentity/userAssignedIdentities/" +
        identity.name;
  }
  if (identity.kind != IdentityKind::UserAssigned && !identity.msi_res_id.empty()) {
    return invalidArgumentError(
        "identity member 'msi_res_id': only user-assigned identities "
        "have one");
  }
  if (identity.msi_res_id.size() > 1024) {
    return invalidArgumentError("identity member 'msi_res_id': longer than 1024 characters");
  }
  if (identity.federated_credentials.size() > kMaxFederatedCredentials) {
    return invalidArgumentError("identity: more than 20 federated credentials");
  }
  std::lock_guard lock(mutex_);
  if (identities_.size() >= kMaxIdentities) {
    return resourceExhaustedError("identities: more than 1000");
  }
  for (const Identity& other : identities_) {
    if (other.client_id == identity.client_id || other.object_id == identity.object_id) {
      return invalidArgumentError("identity: client_id or object_id already in use by '" +
                                  other.name + "'");
    }
    if (!identity.msi_res_id.empty() && other.msi_res_id == identity.msi_res_id) {
      return invalidArgumentError("identity: msi_res_id already in use by '" + other.name + "'");
    }
    if (identity.kind == IdentityKind::SystemAssigned &&
        other.kind == IdentityKind::SystemAssigned) {
      return invalidArgumentError("identity: the group already has a system-assigned identity ('" +
                                  other.name + "')");
    }
  }
  identities_.push_back(identity);
  Status saved = saveIdentitiesLocked();
  if (!saved.ok()) {
    identities_.pop_back();
    return saved;
  }
  return identity;
}

Status IdentityStore::removeIdentity(const std::string& object_id) {
  std::lock_guard lock(mutex_);
  auto it = std::find_if(identities_.begin(), identities_.end(),
                         [&](const Identity& i) { return i.object_id == object_id; });
  if (it == identities_.end()) return notFoundError("identity " + object_id + " does not exist");
  identities_.erase(it);
  roles_.erase(std::remove_if(roles_.begin(), roles_.end(),
                              [&](const RoleAssignment& r) { return r.principal_id == object_id; }),
               roles_.end());
  SKR_RETURN_IF_ERROR(saveIdentitiesLocked());
  return saveRolesLocked();
}

StatusOr<Identity> IdentityStore::addFederatedCredential(const std::string& object_id,
                                                         FederatedCredential credential) {
  std::lock_guard lock(mutex_);
  auto it = std::find_if(identities_.begin(), identities_.end(),
                         [&](const Identity& i) { return i.object_id == object_id; });
  if (it == identities_.end()) return notFoundError("identity " + object_id + " does not exist");
  if (it->kind == IdentityKind::SystemAssigned) {
    return invalidArgumentError("identity '" + it->name +
                                "': system-assigned identities cannot have federated credentials");
  }
  if (it->federated_credentials.size() >= kMaxFederatedCredentials) {
    return invalidArgumentError("identity '" + it->name + "': already 20 federated credentials");
  }
  if (credential.name.empty()) {
    credential.name = "fic-" + std::to_string(it->federated_credentials.size() + 1);
  }
  it->federated_credentials.push_back(std::move(credential));
  Status saved = saveIdentitiesLocked();
  if (!saved.ok()) {
    it->federated_credentials.pop_back();
    return saved;
  }
  return *it;
}

std::optional<Identity> IdentityStore::findByClientId(const std::string& client_id) const {
  std::lock_guard lock(mutex_);
  for (const Identity& i : identities_) {
    if (i.client_id == client_id) return i;
  }
  return std::nullopt;
}

std::optional<Identity> IdentityStore::findByObjectId(const std::string& object_id) const {
  std::lock_guard lock(mutex_);
  for (const Identity& i : identities_) {
    if (i.object_id == object_id) return i;
  }
  return std::nullopt;
}

std::optional<Identity> IdentityStore::findByMsiResId(const std::string& msi_res_id) const {
  std::lock_guard lock(mutex_);
  for (const Identity& i : identities_) {
    // ARM ids compare case-insensitively.
    if (!i.msi_res_id.empty() && i.msi_res_id.size() == msi_res_id.size() &&
        std::equal(i.msi_res_id.begin(), i.msi_res_id.end(), msi_res_id.begin(),
                   [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
      return i;
    }
  }
  return std::nullopt;
}

std::vector<Identity> IdentityStore::managedIdentities() const {
  std::lock_guard lock(mutex_);
  std::vector<Identity> out;
  for (const Identity& i : identities_) {
    if (i.kind != IdentityKind::Application) out.push_back(i);
  }
  return out;
}

std::vector<RoleAssignment> IdentityStore::roleAssignments() const {
  std::lock_guard lock(mutex_);
  return roles_;
}

StatusOr<RoleAssignment> IdentityStore::addRoleAssignment(RoleAssignment r) {
  const auto& roles = knownRoles();
  if (std::find(roles.begin(), roles.end(), r.role) == roles.end()) {
    return invalidArgumentError("role assignment member 'role': unknown role '" + r.role + "'");
  }
  if (r.vault != "vault" && r.vault != "mhsm") {
    return invalidArgumentError("role assignment member 'vault': '" + r.vault +
                                "' is not 'vault' or 'mhsm'");
  }
  const bool hsm_role = r.role.rfind("Managed HSM ", 0) == 0;
  if (hsm_role != (r.vault == "mhsm")) {
    return invalidArgumentError("role assignment: role '" + r.role + "' does not apply to '" +
                                r.vault + "'");
  }
  static const Pattern scope_re = Pattern::literal("/|/keys|/keys/[0-9A-Za-z-]{1,127}");
  if (!scope_re.matches(r.scope)) {
    return invalidArgumentError("role assignment member 'scope': '" + r.scope +
                                "' is not '/', '/keys' or '/keys/NAME'");
  }
  if (r.id.empty()) r.id = randomGuid();
  std::lock_guard lock(mutex_);
  if (roles_.size() >= kMaxRoleAssignments) {
    return resourceExhaustedError("role assignments: more than 10000");
  }
  const bool known_principal =
      std::any_of(identities_.begin(), identities_.end(),
                  [&](const Identity& i) { return i.object_id == r.principal_id; });
  if (!known_principal) {
    return notFoundError("role assignment: principal " + r.principal_id + " does not exist");
  }
  roles_.push_back(r);
  Status saved = saveRolesLocked();
  if (!saved.ok()) {
    roles_.pop_back();
    return saved;
  }
  return r;
}

Status IdentityStore::removeRoleAssignment(const std::string& id) {
  std::lock_guard lock(mutex_);
  auto it = std::find_if(roles_.begin(), roles_.end(),
                         [&](const RoleAssignment& r) { return r.id == id; });
  if (it == roles_.end()) return notFoundError("role assignment " + id + " does not exist");
  roles_.erase(it);
  return saveRolesLocked();
}

bool IdentityStore::hasRole(const std::string& principal_id, const std::vector<std::string>& roles,
                            const std::string& vault, const std::string& key_name) const {
  std::lock_guard lock(mutex_);
  for (const RoleAssignment& r : roles_) {
    if (r.principal_id != principal_id || r.vault != vault) continue;
    if (std::find(roles.begin(), roles.end(), r.role) == roles.end()) continue;
    if (r.scope == "/" || r.scope == "/keys") return true;
    if (!key_name.empty() && r.scope == "/keys/" + key_name) return true;
  }
  return false;
}

}  // namespace skr::emulator
