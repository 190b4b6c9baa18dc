// The emulated Key Vault and Managed HSM key endpoints over plain HTTPS: create, import, get,
// versions, rotate, update, and AKV's error shapes (401, 403 RBAC, 404, 400).
#include <catch2/catch.hpp>

#include "common/crypto/pkey.h"
#include "common/encoding/base64.h"
#include "common/jose/jwk.h"
#include "tests/integration/emulator_process.h"

namespace skr::testing {
namespace {

const std::string kPolicy =
    R"({"version":"1.0.0","anyOf":[{"authority":"https://maa.example","allOf":[{"claim":"x-ms-attestation-type","equals":"sevsnpvm"}]}]})";

std::string policyJson(bool immutable = false) {
  return std::string(R"({"contentType":"application/json; charset=utf-8","data":")") +
         encoding::base64UrlEncode(asBytes(kPolicy)) + R"(","immutable":)" +
         (immutable ? "true" : "false") + "}";
}

struct Vault {
  const EmulatorProcess& emu;
  std::string listener;
  std::string token;

  HttpResult send(const std::string& method, const std::string& path, const std::string& body = {},
                  const std::string& api = "7.4") const {
    HttpCall c;
    c.method = method;
    c.url = emu.url(listener) + path + (api.empty() ? "" : "?api-version=" + api);
    c.body = body;
    if (!token.empty()) c.headers.push_back({"Authorization", "Bearer " + token});
    return emu.call(c);
  }
};

void expectError(const HttpResult& r, int status, const std::string& code) {
  INFO(r.status << " " << r.body << r.error);
  REQUIRE(r.status == status);
  CHECK(r.json()->getObject("error")->getValue<std::string>("code") == code);
}

TEST_CASE("Key Vault creates RSA and EC keys, Managed HSM also oct-HSM, in AKV's KeyBundle shape",
          "[emulator]") {
  auto emu = EmulatorProcess::start();
  Vault vault{*emu, "vault", tokenWithRole(*emu, "Key Vault Crypto Officer")};
  Vault mhsm{*emu, "mhsm", tokenWithRole(*emu, "Managed HSM Crypto Officer", "mhsm")};

  for (int bits : {2048, 3072, 4096}) {
    HttpResult r = vault.send("POST", "/keys/rsa" + std::to_string(bits) + "/create",
                              R"({"kty":"RSA-HSM","key_size":)" + std::to_string(bits) + "}");
    REQUIRE(r.status == 200);
    json::ObjectPtr key = r.json()->getObject("key");
    CHECK(key->getValue<std::string>("kty") == "RSA-HSM");
    StatusOr<Bytes> n = encoding::base64UrlDecode(key->getValue<std::string>("n"));
    REQUIRE(n.ok());
    CHECK(n->size() * 8 == static_cast<std::size_t>(bits));
    CHECK(key->getValue<std::string>("e") == "AQAB");
    const std::string kid = key->getValue<std::string>("kid");
    CHECK(kid.rfind(emu->url("vault") + "/keys/rsa" + std::to_string(bits) + "/", 0) == 0);
    CHECK(kid.size() == emu->url("vault").size() + std::string("/keys/rsa2048/").size() + 32);
    CHECK(!key->has("d"));
    json::ObjectPtr attrs = r.json()->getObject("attributes");
    CHECK(attrs->getValue<bool>("enabled"));
    CHECK(attrs->getValue<std::string>("recoveryLevel") == "Recoverable+Purgeable");
    CHECK(attrs->getValue<int>("recoverableDays") == 90);
    CHECK(!attrs->getValue<bool>("exportable"));
    CHECK(attrs->get("created").isInteger());
  }
  for (const std::string crv : {"P-256", "P-384", "P-521"}) {
    HttpResult r = vault.send("POST", "/keys/ec" + crv.substr(2) + "/create",
                              R"({"kty":"EC-HSM","crv":")" + crv + "\"}");
    REQUIRE(r.status == 200);
    json::ObjectPtr key = r.json()->getObject("key");
    CHECK(key->getValue<std::string>("kty") == "EC-HSM");
    CHECK(key->getValue<std::string>("crv") == crv);
    CHECK(key->has("x"));
    CHECK(key->has("y"));
  }
  for (int bits : {128, 192, 256}) {
    HttpResult r = mhsm.send("POST", "/keys/aes" + std::to_string(bits) + "/create",
                             R"({"kty":"oct-HSM","key_size":)" + std::to_string(bits) + "}");
    REQUIRE(r.status == 200);
    json::ObjectPtr key = r.json()->getObject("key");
    CHECK(key->getValue<std::string>("kty") == "oct-HSM");
    CHECK(!key->has("k"));
    CHECK(key->getValue<std::string>("kid").rfind(emu->url("mhsm") + "/keys/aes", 0) == 0);
  }
  HttpResult exportable =
      mhsm.send("POST", "/keys/exp/create",
                R"({"kty":"RSA-HSM","attributes":{"exportable":true},"release_policy":)" +
                    policyJson() + "}");
  REQUIRE(exportable.status == 200);
  CHECK(exportable.json()->getObject("attributes")->getValue<bool>("exportable"));
  json::ObjectPtr policy = exportable.json()->getObject("release_policy");
  CHECK(policy->getValue<std::string>("contentType") == "application/json; charset=utf-8");
  CHECK(toString(*encoding::base64UrlDecode(policy->getValue<std::string>("data"))) == kPolicy);
  CHECK(!policy->getValue<bool>("immutable"));
  CHECK(emu->stop() == 0);
}

TEST_CASE("Key Vault rejects oct-HSM, exportable keys without policy, bad sizes and api-versions",
          "[emulator]") {
  auto emu = EmulatorProcess::start();
  Vault vault{*emu, "vault", tokenWithRole(*emu, "Key Vault Crypto Officer")};
  expectError(vault.send("POST", "/keys/k/create", R"({"kty":"oct-HSM","key_size":256})"), 400,
              "BadParameter");
  HttpResult no_policy =
      vault.send("POST", "/keys/k/create", R"({"kty":"RSA-HSM","attributes":{"exportable":true}})");
  expectError(no_policy, 400, "BadParameter");
  CHECK(no_policy.json()->getObject("error")->getValue<std::string>("message") ==
        "AKV.SKR.1004: Exportable keys must have release policy");
  expectError(vault.send("POST", "/keys/k/create", R"({"kty":"RSA-HSM","key_size":1024})"), 400,
              "BadParameter");
  expectError(vault.send("POST", "/keys/k/create", R"({"kty":"RSA-HSM")"), 400, "BadParameter");
  // A version Key Vault never had, and a made-up date, are refused by name.
  for (const char* api : {"7.7", "8.0", "2099-01-01", "7.4-preview"}) {
    INFO(api);
    HttpResult refused = vault.send("POST", "/keys/k/create", R"({"kty":"RSA-HSM"})", api);
    expectError(refused, 400, "BadParameter");
    CHECK(refused.json()->getObject("error")->getValue<std::string>("message") ==
          "The specified version (" + std::string(api) +
              ") is not recognized. Consider using the latest supported version (2025-07-01).");
  }
  expectError(vault.send("POST", "/keys/k/create", R"({"kty":"RSA-HSM"})", ""), 400,
              "BadParameter");
  // Every version the service accepts, the date-based ones the current SDKs send by default
  // included (docs/emulator.md has the table).
  for (const char* api :
       {"2016-10-01", "7.0", "7.1", "7.2", "7.3", "7.3-preview", "7.4", "7.4-preview.1", "7.5",
        "7.6", "7.6-preview.2", "2025-06-01", "2025-07-01", "2026-01-01-preview"}) {
    INFO(api);
    CHECK(vault.send("GET", "/keys/absent", "", api).status == 404);
  }
  CHECK(emu->stop() == 0);
}

TEST_CASE("Key Vault answers 401 with a challenge, 403 ForbiddenByRbac and 404 KeyNotFound",
          "[emulator]") {
  auto emu = EmulatorProcess::start();
  Vault anonymous{*emu, "vault", ""};
  HttpResult unauth = anonymous.send("GET", "/keys/k");
  expectError(unauth, 401, "Unauthorized");
  const std::string challenge = unauth.header("www-authenticate");
  CHECK(challenge == "Bearer authorization=\"" + emu->url("entra") + "/" +
                         emu->env().at("SKR_EMULATOR_TENANT_ID") +
                         "\", resource=\"https://vault.azure.net\"");
  HttpResult mhsm_unauth = Vault{*emu, "mhsm", ""}.send("GET", "/keys/k");
  CHECK(mhsm_unauth.header("www-authenticate").find("resource=\"https://managedhsm.azure.net\"") !=
        std::string::npos);

  // A token for the other resource is not accepted.
  Vault wrong_audience{*emu, "mhsm", tokenWithRole(*emu, "Key Vault Crypto Officer")};
  expectError(wrong_audience.send("GET", "/keys/k"), 401, "Unauthorized");
  Vault garbage{*emu, "vault", "not.a.token"};
  expectError(garbage.send("GET", "/keys/k"), 401, "Unauthorized");

  // The system-assigned identity has no role.
  Vault no_role{*emu, "vault", imdsToken(*emu, "https://vault.azure.net")};
  HttpResult forbidden = no_role.send("POST", "/keys/k/create", R"({"kty":"RSA-HSM"})");
  expectError(forbidden, 403, "Forbidden");
  json::ObjectPtr error = forbidden.json()->getObject("error");
  CHECK(error->getObject("innererror")->getValue<std::string>("code") == "ForbiddenByRbac");
  CHECK(error->getValue<std::string>("message").find("Caller is not authorized to perform action "
                                                     "on resource") == 0);
  CHECK(error->getValue<std::string>("message").find("RBAC") != std::string::npos);
  CHECK(error->getValue<std::string>("message").find("Assignment: (not found)") !=
        std::string::npos);

  // A reader may get but not create; a role scoped to another key does not help.
  Vault reader{*emu, "vault", tokenWithRole(*emu, "Key Vault Crypto User")};
  expectError(reader.send("POST", "/keys/k/create", R"({"kty":"RSA-HSM"})"), 403, "Forbidden");
  const TestIdentity scoped = addUserIdentity(*emu, "scoped");
  assignRole(*emu, scoped.object_id, "Key Vault Crypto Officer", "vault", "/keys/other");
  Vault scoped_vault{*emu, "vault", imdsToken(*emu, "https://vault.azure.net", scoped.client_id)};
  expectError(scoped_vault.send("POST", "/keys/k/create", R"({"kty":"RSA-HSM"})"), 403,
              "Forbidden");
  CHECK(scoped_vault.send("POST", "/keys/other/create", R"({"kty":"RSA-HSM"})").status == 200);

  HttpResult missing = reader.send("GET", "/keys/nothing");
  expectError(missing, 404, "KeyNotFound");
  CHECK(missing.json()->getObject("error")->getValue<std::string>("message") ==
        "A key with (name/id) nothing was not found in this key vault.");
  expectError(reader.send("GET", "/keys/other/0123456789abcdef0123456789abcdef"), 404,
              "KeyNotFound");
  expectError(reader.send("GET", "/keys/nothing/versions"), 404, "KeyNotFound");

  // Expired tokens are refused.
  emu->admin("PUT", "/_emulator/settings", R"({"token_lifetime_seconds":-600})");
  Vault expired{*emu, "vault", tokenWithRole(*emu, "Key Vault Crypto Officer")};
  expectError(expired.send("GET", "/keys/other"), 401, "Unauthorized");
  CHECK(emu->stop() == 0);
}

TEST_CASE("Key Vault imports RSA, EC and (Managed HSM) oct keys from JWKs with private parts",
          "[emulator]") {
  auto emu = EmulatorProcess::start();
  Vault vault{*emu, "vault", tokenWithRole(*emu, "Key Vault Crypto Officer")};
  Vault mhsm{*emu, "mhsm", tokenWithRole(*emu, "Managed HSM Crypto Officer", "mhsm")};

  StatusOr<crypto::PrivateKey> rsa = crypto::PrivateKey::generateRsa(2048);
  REQUIRE(rsa.ok());
  StatusOr<SecretBytes> rsa_jwk =
      jose::Jwk::fromPrivateKey(std::move(rsa).value()).privateJson(grantSecretAccess());
  REQUIRE(rsa_jwk.ok());
  const std::string rsa_text = toString(rsa_jwk->view(grantSecretAccess()));
  HttpResult imported = vault.send(
      "PUT", "/keys/imported-rsa",
      R"({"key":)" + rsa_text +
          R"(,"hsm":true,"attributes":{"exportable":true},"release_policy":)" + policyJson() + "}");
  INFO(imported.body);
  REQUIRE(imported.status == 200);
  json::ObjectPtr key = imported.json()->getObject("key");
  CHECK(key->getValue<std::string>("kty") == "RSA-HSM");
  StatusOr<json::ObjectPtr> sent = json::parseObject(rsa_text);
  CHECK(key->getValue<std::string>("n") == (*sent)->getValue<std::string>("n"));
  CHECK(!key->has("d"));

  StatusOr<crypto::PrivateKey> ec = crypto::PrivateKey::generateEc(crypto::Curve::P384);
  REQUIRE(ec.ok());
  StatusOr<SecretBytes> ec_jwk =
      jose::Jwk::fromPrivateKey(std::move(ec).value()).privateJson(grantSecretAccess());
  const std::string ec_text = toString(ec_jwk->view(grantSecretAccess()));
  HttpResult ec_imported = vault.send("PUT", "/keys/imported-ec", R"({"key":)" + ec_text + "}");
  REQUIRE(ec_imported.status == 200);
  CHECK(ec_imported.json()->getObject("key")->getValue<std::string>("kty") == "EC");
  CHECK(ec_imported.json()->getObject("key")->getValue<std::string>("x") ==
        json::parseObject(ec_text).value()->getValue<std::string>("x"));

  const std::string oct = R"({"kty":"oct-HSM","k":")" + encoding::base64UrlEncode(Bytes(32, 0x42)) +
                          R"(","key_size":256})";
  HttpResult oct_imported =
      mhsm.send("PUT", "/keys/imported-aes",
                R"({"key":)" + oct + R"(,"attributes":{"exportable":true},"release_policy":)" +
                    policyJson() + "}");
  INFO(oct_imported.body);
  REQUIRE(oct_imported.status == 200);
  CHECK(oct_imported.json()->getObject("key")->getValue<std::string>("kty") == "oct-HSM");
  CHECK(!oct_imported.json()->getObject("key")->has("k"));
  expectError(vault.send("PUT", "/keys/imported-aes", R"({"key":)" + oct + "}"), 400,
              "BadParameter");
  // Public-only JWKs cannot be imported.
  const std::string public_only =
      R"({"kty":"RSA","n":")" + key->getValue<std::string>("n") + R"(","e":"AQAB"})";
  expectError(vault.send("PUT", "/keys/pub", R"({"key":)" + public_only + "}"), 400,
              "BadParameter");
  CHECK(emu->stop() == 0);
}

TEST_CASE("get, versions, rotate and update follow AKV: rotate then get returns the new version",
          "[emulator]") {
  auto emu = EmulatorProcess::start();
  Vault vault{*emu, "vault", tokenWithRole(*emu, "Key Vault Crypto Officer")};
  HttpResult created = vault.send(
      "POST", "/keys/kek/create",
      R"({"kty":"RSA-HSM","key_size":2048,"key_ops":["wrapKey","unwrapKey"],"attributes":{"exportable":true},"release_policy":)" +
          policyJson() + "}");
  REQUIRE(created.status == 200);
  const std::string kid1 = created.json()->getObject("key")->getValue<std::string>("kid");
  const std::string v1 = kid1.substr(kid1.rfind('/') + 1);

  HttpResult got = vault.send("GET", "/keys/kek");
  REQUIRE(got.status == 200);
  CHECK(got.json()->getObject("key")->getValue<std::string>("kid") == kid1);
  CHECK(vault.send("GET", "/keys/kek/").status == 200);
  HttpResult got_v1 = vault.send("GET", "/keys/kek/" + v1);
  REQUIRE(got_v1.status == 200);
  CHECK(got_v1.body == got.body);

  HttpResult rotated = vault.send("POST", "/keys/kek/rotate");
  REQUIRE(rotated.status == 200);
  const std::string kid2 = rotated.json()->getObject("key")->getValue<std::string>("kid");
  CHECK(kid2 != kid1);
  CHECK(rotated.json()->getObject("key")->getValue<std::string>("n") !=
        created.json()->getObject("key")->getValue<std::string>("n"));
  CHECK(rotated.json()->getObject("attributes")->getValue<bool>("exportable"));
  CHECK(rotated.json()->has("release_policy"));
  CHECK(rotated.json()->getObject("key")->getArray("key_ops")->size() == 2);
  CHECK(vault.send("GET", "/keys/kek").json()->getObject("key")->getValue<std::string>("kid") ==
        kid2);
  CHECK(vault.send("GET", "/keys/kek/" + v1).status == 200);

  HttpResult versions = vault.send("GET", "/keys/kek/versions");
  REQUIRE(versions.status == 200);
  json::ArrayPtr value = versions.json()->getArray("value");
  REQUIRE(value->size() == 2);
  CHECK(value->getObject(0)->getValue<std::string>("kid") == kid1);
  CHECK(value->getObject(1)->getValue<std::string>("kid") == kid2);
  CHECK(versions.json()->isNull("nextLink"));
  expectError(vault.send("POST", "/keys/absent/rotate"), 404, "KeyNotFound");

  // Update: new policy, disable; exportable cannot change; immutable policies cannot change.
  const std::string v2 = kid2.substr(kid2.rfind('/') + 1);
  HttpResult patched =
      vault.send("PATCH", "/keys/kek/" + v2,
                 R"({"attributes":{"enabled":false},"release_policy":)" + policyJson(true) + "}");
  REQUIRE(patched.status == 200);
  CHECK(!patched.json()->getObject("attributes")->getValue<bool>("enabled"));
  CHECK(patched.json()->getObject("release_policy")->getValue<bool>("immutable"));
  CHECK(vault.send("GET", "/keys/kek")
            .json()
            ->getObject("release_policy")
            ->getValue<bool>("immutable"));
  HttpResult exportable_change =
      vault.send("PATCH", "/keys/kek/" + v1, R"({"attributes":{"exportable":false}})");
  expectError(exportable_change, 400, "BadParameter");
  CHECK(exportable_change.json()->getObject("error")->getValue<std::string>("message").find(
            "AKV.SKR.1014") == 0);
  expectError(vault.send("PATCH", "/keys/kek/" + v2, R"({"release_policy":)" + policyJson() + "}"),
              400, "BadParameter");
  expectError(vault.send("PATCH", "/keys/kek/0123456789abcdef0123456789abcdef",
                         R"({"attributes":{"enabled":true}})"),
              404, "KeyNotFound");
  expectError(vault.send("PATCH", "/keys/kek/" + v1, "{not json"), 400, "BadParameter");

  HttpResult list = vault.send("GET", "/keys");
  REQUIRE(list.status == 200);
  CHECK(list.json()->getArray("value")->getObject(0)->getValue<std::string>("kid") ==
        emu->url("vault") + "/keys/kek");
  CHECK(emu->stop() == 0);
}

}  // namespace
}  // namespace skr::testing
