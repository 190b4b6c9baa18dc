#include <catch2/catch.hpp>
#include <filesystem>

#include "emulator/identity_store.h"
#include "emulator/key_store.h"

namespace skr::emulator {
namespace {

std::string tempDir() {
  std::string templ = "/tmp/skr-emu-unit-XXXXXX";
  REQUIRE(::mkdtemp(templ.data()) != nullptr);
  return templ;
}

TEST_CASE("key store persists versions with material and reloads them equal") {
  const std::string dir = tempDir();
  std::string v1_id, v2_id;
  Bytes n;
  {
    auto store = KeyStore::open(dir);
    REQUIRE(store.ok());
    KeyVersion v;
    v.vault = "vault";
    v.name = "kek";
    v.version = newKeyVersionId();
    v.kty = "RSA-HSM";
    REQUIRE(generateKeyMaterial(KeySpec{KeyFamily::Rsa, 2048, crypto::Curve::P256}, v).ok());
    v.key_ops = {"wrapKey", "unwrapKey"};
    v.attributes.exportable = true;
    v.attributes.created = v.attributes.updated = 1700000000;
    v.release_policy = KeyReleasePolicy{"application/json; charset=utf-8", toBytes("{}"), true};
    v.tags["env"] = "test";
    n = v.n;
    v1_id = v.version;
    REQUIRE((*store)->addVersion(std::move(v)).ok());

    KeyVersion o;
    o.vault = "mhsm";
    o.name = "aes";
    o.version = newKeyVersionId();
    o.kty = "oct-HSM";
    REQUIRE(generateKeyMaterial(KeySpec{KeyFamily::Oct, 256, crypto::Curve::P256}, o).ok());
    v2_id = o.version;
    REQUIRE((*store)->addVersion(std::move(o)).ok());
    auto updated = (*store)->updateVersion("vault", "kek", v1_id, [](KeyVersion& k) {
      k.attributes.enabled = false;
      return okStatus();
    });
    REQUIRE(updated.ok());
  }
  auto reloaded = KeyStore::open(dir);
  REQUIRE(reloaded.ok());
  KeyVersionPtr kek = (*reloaded)->latest("vault", "kek");
  REQUIRE(kek);
  CHECK(kek->version == v1_id);
  CHECK(kek->n == n);
  CHECK(kek->key_size == 2048);
  CHECK(!kek->attributes.enabled);
  CHECK(kek->attributes.exportable);
  REQUIRE(kek->release_policy);
  CHECK(kek->release_policy->immutable);
  CHECK(kek->tags.at("env") == "test");
  CHECK(kek->key_ops == std::vector<std::string>{"wrapKey", "unwrapKey"});
  StatusOr<crypto::PrivateKey> key = kek->privateKey();
  REQUIRE(key.ok());
  CHECK(key->publicKey().rsaComponents()->n == n);
  KeyVersionPtr aes = (*reloaded)->get("mhsm", "aes", v2_id);
  REQUIRE(aes);
  CHECK(aes->material.size() == 32);
  CHECK(aes->key_size == 256);
  CHECK(!(*reloaded)->get("vault", "aes", v2_id));
  CHECK((*reloaded)->names("vault") == std::vector<std::string>{"kek"});
  CHECK(std::filesystem::status(dir + "/keys/vault/kek/" + v1_id + ".json").permissions() ==
        (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write));
  std::filesystem::remove_all(dir);
}

TEST_CASE("key store refuses a corrupted version file") {
  const std::string dir = tempDir();
  std::filesystem::create_directories(dir + "/keys/vault/k");
  const std::string path = dir + "/keys/vault/k/0123456789abcdef0123456789abcdef.json";
  FILE* f = std::fopen(path.c_str(), "w");
  REQUIRE(f != nullptr);
  std::fputs("{\"material\":\"x\"", f);
  std::fclose(f);
  CHECK(KeyStore::open(dir).status().code() == StatusCode::DataLoss);
  std::filesystem::remove_all(dir);
}

TEST_CASE("identity store keeps the tenant, identities, credentials and roles across reopen") {
  const std::string dir = tempDir();
  std::string tenant, user_oid;
  {
    auto store = IdentityStore::open(dir, 3600);
    REQUIRE(store.ok());
    tenant = (*store)->tenantId();
    REQUIRE((*store)->identities().size() == 1);  // the group's system-assigned identity
    Identity user;
    user.kind = IdentityKind::UserAssigned;
    user.name = "uami";
    StatusOr<Identity> added = (*store)->addIdentity(user);
    REQUIRE(added.ok());
    user_oid = added->object_id;
    CHECK(added->msi_res_id.find("/userAssignedIdentities/uami") != std::string::npos);
    Identity second_system;
    second_system.kind = IdentityKind::SystemAssigned;
    CHECK((*store)->addIdentity(second_system).status().code() == StatusCode::InvalidArgument);
    REQUIRE((*store)->addFederatedCredential(user_oid, {"fic", "https://issuer", "sub", {}}).ok());
    RoleAssignment role;
    role.principal_id = user_oid;
    role.role = "Key Vault Crypto Officer";
    role.vault = "vault";
    role.scope = "/keys/kek";
    REQUIRE((*store)->addRoleAssignment(role).ok());
    role.role = "Managed HSM Crypto Officer";  // wrong family for "vault"
    CHECK(!(*store)->addRoleAssignment(role).ok());
    REQUIRE((*store)->setTokenLifetimeSeconds(120).ok());
  }
  auto store = IdentityStore::open(dir, 3600);
  REQUIRE(store.ok());
  CHECK((*store)->tenantId() == tenant);
  CHECK((*store)->tokenLifetimeSeconds() == 120);
  std::optional<Identity> user = (*store)->findByObjectId(user_oid);
  REQUIRE(user);
  REQUIRE(user->federated_credentials.size() == 1);
  CHECK(user->federated_credentials[0].audiences ==
        std::vector<std::string>{"api://AzureADTokenExchange"});
  CHECK((*store)->findByMsiResId(user->msi_res_id)->object_id == user_oid);
  const std::vector<std::string> officer = {"Key Vault Crypto Officer"};
  CHECK((*store)->hasRole(user_oid, officer, "vault", "kek"));
  CHECK(!(*store)->hasRole(user_oid, officer, "vault", "other"));
  CHECK(!(*store)->hasRole(user_oid, officer, "mhsm", "kek"));
  CHECK(!(*store)->hasRole(user_oid, {"Key Vault Crypto User"}, "vault", "kek"));
  REQUIRE((*store)->removeIdentity(user_oid).ok());
  CHECK((*store)->roleAssignments().empty());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace skr::emulator
