// The emulator's identity endpoints over plain HTTP(S): IMDS managed-identity tokens, THIM
// certification for the emulated chip, and Entra ID workload-identity token exchange.
#include <catch2/catch.hpp>

#include "common/crypto/x509.h"
#include "common/jose/jwk.h"
#include "common/jose/jws.h"
#include "common/snp/thim.h"
#include "tests/integration/emulator_process.h"

namespace skr::testing {
namespace {

std::string tokenUrl(const EmulatorProcess& emu, const std::string& extra = {}) {
  return emu.url("imds") +
         "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fvault."
         "azure.net" +
         extra;
}

json::ObjectPtr claimsOf(const std::string& token) {
  StatusOr<jose::Jws> jws = jose::Jws::parse(token);
  REQUIRE(jws.ok());
  StatusOr<json::ObjectPtr> claims = jws->payloadJson();
  REQUIRE(claims.ok());
  return *claims;
}

// Verifies `token` against the JWKS served by the emulated Entra ID.
Status verifyWithEntraJwks(const EmulatorProcess& emu, const std::string& token) {
  HttpResult keys = emu.get(emu.url("entra") + "/" + emu.env().at("SKR_EMULATOR_TENANT_ID") +
                            "/discovery/v2.0/keys");
  REQUIRE(keys.status == 200);
  json::ObjectPtr jwk_json = keys.json()->getArray("keys")->getObject(0);
  StatusOr<jose::Jwk> jwk = jose::Jwk::fromJson(jwk_json);
  REQUIRE(jwk.ok());
  StatusOr<jose::Jws> jws = jose::Jws::parse(token);
  REQUIRE(jws.ok());
  return jws->verify(*jwk->publicKey().value());
}

TEST_CASE("IMDS issues string-typed tokens for system- and user-assigned identities",
          "[emulator]") {
  auto emu = EmulatorProcess::start();
  const json::ObjectPtr ids = emu->admin("GET", "/_emulator/identities");
  const json::ObjectPtr system = ids->getArray("identities")->getObject(0);
  REQUIRE(system->getValue<std::string>("kind") == "system");

  HttpResult sys = emu->get(tokenUrl(*emu), {{"Metadata", "true"}});
  REQUIRE(sys.status == 200);
  json::ObjectPtr body = sys.json();
  for (const char* k : {"access_token", "refresh_token", "expires_in", "expires_on", "not_before",
                        "resource", "token_type", "client_id"}) {
    INFO(k);
    REQUIRE(body->has(k));
    CHECK(body->get(k).isString());
  }
  CHECK(body->getValue<std::string>("token_type") == "Bearer");
  CHECK(body->getValue<std::string>("resource") == "https://vault.azure.net");
  CHECK(std::stoll(body->getValue<std::string>("expires_in")) > 3600);
  const std::string token = body->getValue<std::string>("access_token");
  json::ObjectPtr claims = claimsOf(token);
  CHECK(claims->getValue<std::string>("oid") == system->getValue<std::string>("object_id"));
  CHECK(claims->getValue<std::string>("appid") == system->getValue<std::string>("client_id"));
  CHECK(claims->getValue<std::string>("aud") == "https://vault.azure.net");
  CHECK(claims->getValue<std::string>("iss") ==
        emu->url("entra") + "/" + emu->env().at("SKR_EMULATOR_TENANT_ID") + "/v2.0");
  CHECK(claims->getValue<bool>("x-ms-emulated"));
  CHECK(verifyWithEntraJwks(*emu, token).ok());

  const TestIdentity user = addUserIdentity(*emu, "app-identity");
  for (const std::string& selector :
       {"&client_id=" + user.client_id, "&object_id=" + user.object_id,
        "&msi_res_id=" + queryEncode(user.msi_res_id)}) {
    INFO(selector);
    HttpResult r = emu->get(tokenUrl(*emu, selector), {{"Metadata", "true"}});
    REQUIRE(r.status == 200);
    json::ObjectPtr c = claimsOf(r.json()->getValue<std::string>("access_token"));
    CHECK(c->getValue<std::string>("oid") == user.object_id);
    CHECK(c->getValue<std::string>("appid") == user.client_id);
    CHECK(c->getValue<std::string>("xms_mirid") == user.msi_res_id);
  }

  // The path with a trailing slash, as @azure/identity (MSAL's IMDS source) requests it.
  HttpResult slash = emu->get(emu->url("imds") +
                                  "/metadata/identity/oauth2/token/?api-version=2018-02-01&"
                                  "resource=https%3A%2F%2Fvault.azure.net&client_id=" +
                                  user.client_id,
                              {{"Metadata", "true"}});
  REQUIRE(slash.status == 200);
  CHECK(claimsOf(slash.json()->getValue<std::string>("access_token"))
            ->getValue<std::string>("appid") == user.client_id);
  CHECK(emu->stop() == 0);
}

TEST_CASE("IMDS rejects a missing Metadata header and unknown identities with IMDS errors",
          "[emulator]") {
  auto emu = EmulatorProcess::start();
  HttpResult no_header = emu->get(tokenUrl(*emu));
  CHECK(no_header.status == 400);
  CHECK(no_header.json()->getValue<std::string>("error") == "invalid_request");
  CHECK(no_header.json()->getValue<std::string>("error_description") ==
        "Required metadata header not specified");
  HttpResult wrong_value = emu->get(tokenUrl(*emu), {{"Metadata", "yes"}});
  CHECK(wrong_value.status == 400);

  HttpResult unknown = emu->get(tokenUrl(*emu, "&client_id=00000000-0000-4000-8000-000000000000"),
                                {{"Metadata", "true"}});
  CHECK(unknown.status == 400);
  CHECK(unknown.json()->getValue<std::string>("error") == "invalid_request");
  CHECK(unknown.json()->getValue<std::string>("error_description") == "Identity not found");

  HttpResult bad_resource =
      emu->get(emu->url("imds") +
                   "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://x.test",
               {{"Metadata", "true"}});
  CHECK(bad_resource.status == 400);
  CHECK(bad_resource.json()->getValue<std::string>("error") == "invalid_resource");

  HttpResult no_resource =
      emu->get(emu->url("imds") + "/metadata/identity/oauth2/token?api-version=2018-02-01",
               {{"Metadata", "true"}});
  CHECK(no_resource.status == 400);
  CHECK(emu->get(emu->url("imds") + "/metadata/THIM/amd/certification").status == 400);
  CHECK(emu->stop() == 0);
}

TEST_CASE("THIM certification JSON carries the emulated chip's VCEK, chaining to its ARK",
          "[emulator]") {
  auto emu = EmulatorProcess::start();
  HttpResult r =
      emu->get(emu->url("imds") + "/metadata/THIM/amd/certification", {{"Metadata", "true"}});
  REQUIRE(r.status == 200);
  StatusOr<snp::ThimCertification> thim = snp::parseThimJson(r.body);
  REQUIRE(thim.ok());
  REQUIRE(thim->chain.size() == 2);
  CHECK(thim->cache_control_seconds == 86400u);
  StatusOr<crypto::Certificate> ark = crypto::Certificate::fromPem(
      readFileText(emu->env().at("SKR_EMULATOR_CHIP_DIR") + "/ark.pem"));
  REQUIRE(ark.ok());
  CHECK(thim->chain[1].der() == ark->der());
  CHECK(thim->vcek.verifySignedBy(thim->chain[0]).ok());
  CHECK(thim->chain[0].verifySignedBy(*ark).ok());
  CHECK(thim->vcek.der() == crypto::Certificate::fromPem(
                                readFileText(emu->env().at("SKR_EMULATOR_CHIP_DIR") + "/vcek.pem"))
                                ->der());
  CHECK(emu->stop() == 0);
}

TEST_CASE("admin chip settings change the TCB THIM reports and the policy debug bit",
          "[emulator]") {
  auto emu = EmulatorProcess::start();
  json::ObjectPtr before = emu->admin("GET", "/_emulator/chip");
  CHECK(!before->getValue<bool>("debug"));
  json::ObjectPtr after =
      emu->admin("PUT", "/_emulator/chip",
                 R"({"bootloader":4,"tee":1,"snp":9,"microcode":200,"debug":true,"host_data":")" +
                     std::string(64, 'a') + "\"}");
  CHECK(after->getValue<bool>("debug"));
  HttpResult r =
      emu->get(emu->url("imds") + "/metadata/THIM/amd/certification", {{"Metadata", "true"}});
  REQUIRE(r.status == 200);
  StatusOr<snp::ThimCertification> thim = snp::parseThimJson(r.body);
  REQUIRE(thim.ok());
  // TCB_VERSION (Milan): bootloader byte 0, tee byte 1, snp byte 6, microcode byte 7.
  CHECK(thim->tcbm_value == 0xC809000000000104ull);
  CHECK(thim->vcek.verifySignedBy(thim->chain[0]).ok());
  HttpCall bad;
  bad.method = "PUT";
  bad.url = emu->url("admin") + "/_emulator/chip";
  bad.body = R"({"bootloader":300})";
  CHECK(emu->call(bad).status == 400);
  CHECK(emu->stop() == 0);
}

// Entra ID workload identity: an app with a federated credential for a service account.
struct WorkloadApp {
  std::string client_id;
  std::string object_id;
};

WorkloadApp addWorkloadApp(const EmulatorProcess& emu) {
  json::ObjectPtr app = emu.admin(
      "POST", "/_emulator/identities",
      R"({"kind":"app","name":"wi-app","federated_credentials":[{"name":"k8s","subject":"system:serviceaccount:demo:skr"}]})");
  return {app->getValue<std::string>("client_id"), app->getValue<std::string>("object_id")};
}

std::string serviceAccountToken(const EmulatorProcess& emu, const std::string& extra = {}) {
  json::ObjectPtr t = emu.admin("POST", "/_emulator/service-account-token",
                                R"({"namespace":"demo","service_account":"skr")" + extra + "}");
  return t->getValue<std::string>("token");
}

HttpResult exchange(const EmulatorProcess& emu, const std::string& client_id,
                    const std::string& assertion) {
  HttpCall c;
  c.method = "POST";
  c.url = emu.url("entra") + "/" + emu.env().at("SKR_EMULATOR_TENANT_ID") + "/oauth2/v2.0/token";
  c.content_type = "application/x-www-form-urlencoded";
  c.body = "grant_type=client_credentials&client_id=" + client_id +
           "&scope=https%3A%2F%2Fvault.azure.net%2F.default"
           "&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"
           "&client_assertion=" +
           assertion;
  return emu.call(c);
}

TEST_CASE("Entra ID exchanges a federated service-account token for a vault token", "[emulator]") {
  auto emu = EmulatorProcess::start();
  const WorkloadApp app = addWorkloadApp(*emu);
  const std::string assertion = serviceAccountToken(*emu);
  json::ObjectPtr sa_claims = claimsOf(assertion);
  CHECK(sa_claims->getValue<std::string>("iss") == emu->env().at("SKR_EMULATOR_K8S_ISSUER"));
  CHECK(sa_claims->getValue<std::string>("sub") == "system:serviceaccount:demo:skr");

  HttpResult r = exchange(*emu, app.client_id, assertion);
  INFO(r.body);
  REQUIRE(r.status == 200);
  json::ObjectPtr body = r.json();
  CHECK(body->getValue<std::string>("token_type") == "Bearer");
  CHECK(body->get("expires_in").isInteger());
  CHECK(body->get("ext_expires_in").isInteger());
  const std::string token = body->getValue<std::string>("access_token");
  json::ObjectPtr claims = claimsOf(token);
  CHECK(claims->getValue<std::string>("oid") == app.object_id);
  CHECK(claims->getValue<std::string>("appid") == app.client_id);
  CHECK(claims->getValue<std::string>("aud") == "https://vault.azure.net");
  CHECK(verifyWithEntraJwks(*emu, token).ok());

  // The token works against the vault once the app holds a role.
  assignRole(*emu, app.object_id, "Key Vault Crypto User");
  HttpResult get = emu->get(emu->url("vault") + "/keys/none?api-version=7.4",
                            {{"Authorization", "Bearer " + token}});
  CHECK(get.status == 404);
  CHECK(emu->stop() == 0);
}

TEST_CASE("IMDS and Entra ID issue Blob Storage tokens shaped like Azure's v1 storage tokens",
          "[emulator]") {
  auto emu = EmulatorProcess::start();
  const std::string tenant = emu->env().at("SKR_EMULATOR_TENANT_ID");
  auto check_storage_claims = [&](const std::string& token) {
    json::ObjectPtr claims = claimsOf(token);
    // What Azurite's --oauth basic checks: iss starts with https://sts.windows.net/, aud is
    // https://storage.azure.com[/], iat/nbf/exp present and the time between nbf and exp.
    CHECK(claims->getValue<std::string>("aud") == "https://storage.azure.com");
    CHECK(claims->getValue<std::string>("iss") == "https://sts.windows.net/" + tenant + "/");
    CHECK(claims->getValue<std::string>("tid") == tenant);
    CHECK(claims->getValue<std::string>("ver") == "1.0");
    CHECK(claims->has("oid"));
    CHECK(claims->getValue<int64_t>("nbf") <= claims->getValue<int64_t>("iat"));
    CHECK(claims->getValue<int64_t>("exp") > claims->getValue<int64_t>("iat"));
    CHECK(claims->getValue<bool>("x-ms-emulated"));
    CHECK(verifyWithEntraJwks(*emu, token).ok());
  };
  for (const std::string resource :
       {"https%3A%2F%2Fstorage.azure.com%2F", "https%3A%2F%2Fstorage.azure.com"}) {
    INFO(resource);
    HttpResult r =
        emu->get(emu->url("imds") +
                     "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=" + resource,
                 {{"Metadata", "true"}});
    REQUIRE(r.status == 200);
    check_storage_claims(r.json()->getValue<std::string>("access_token"));
  }

  // A vault does not take a storage token.
  HttpResult storage = emu->get(emu->url("imds") +
                                    "/metadata/identity/oauth2/token?api-version=2018-02-01&"
                                    "resource=https%3A%2F%2Fstorage.azure.com%2F",
                                {{"Metadata", "true"}});
  HttpResult get = emu->get(
      emu->url("vault") + "/keys/none?api-version=7.4",
      {{"Authorization", "Bearer " + storage.json()->getValue<std::string>("access_token")}});
  CHECK(get.status == 401);

  const WorkloadApp app = addWorkloadApp(*emu);
  HttpCall c;
  c.method = "POST";
  c.url = emu->url("entra") + "/" + tenant + "/oauth2/v2.0/token";
  c.content_type = "application/x-www-form-urlencoded";
  c.body = "grant_type=client_credentials&client_id=" + app.client_id +
           "&scope=https%3A%2F%2Fstorage.azure.com%2F.default"
           "&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"
           "&client_assertion=" +
           serviceAccountToken(*emu);
  HttpResult wi = emu->call(c);
  INFO(wi.body);
  REQUIRE(wi.status == 200);
  check_storage_claims(wi.json()->getValue<std::string>("access_token"));
  CHECK(emu->stop() == 0);
}

TEST_CASE("Entra ID rejects bad signatures, wrong subjects and expired assertions (AADSTS)",
          "[emulator]") {
  auto emu = EmulatorProcess::start();
  const WorkloadApp app = addWorkloadApp(*emu);
  auto expectAadsts = [&](const HttpResult& r, const std::string& code) {
    INFO(r.body);
    CHECK(r.status == 401);
    json::ObjectPtr body = r.json();
    CHECK(body->getValue<std::string>("error") == "invalid_client");
    CHECK(body->getValue<std::string>("error_description").rfind("AADSTS" + code + ":", 0) == 0);
    CHECK(std::to_string(body->getArray("error_codes")->getElement<int>(0)) == code);
  };
  SECTION("bad signature") {
    expectAadsts(exchange(*emu, app.client_id, serviceAccountToken(*emu, R"(,"wrong_key":true)")),
                 "700027");
  }
  SECTION("wrong subject") {
    json::ObjectPtr t = emu->admin("POST", "/_emulator/service-account-token",
                                   R"({"namespace":"other","service_account":"skr"})");
    expectAadsts(exchange(*emu, app.client_id, t->getValue<std::string>("token")), "700213");
  }
  SECTION("expired assertion") {
    expectAadsts(
        exchange(*emu, app.client_id, serviceAccountToken(*emu, R"(,"lifetime_seconds":-3600)")),
        "700024");
  }
  SECTION("wrong audience") {
    expectAadsts(
        exchange(*emu, app.client_id, serviceAccountToken(*emu, R"(,"audience":"api://other")")),
        "700212");
  }
  SECTION("malformed assertion") {
    expectAadsts(exchange(*emu, app.client_id, "not-a-jwt"), "50027");
  }
  SECTION("unknown application") {
    HttpResult r =
        exchange(*emu, "00000000-0000-4000-8000-000000000001", serviceAccountToken(*emu));
    CHECK(r.status == 400);
    CHECK(r.json()->getValue<std::string>("error") == "unauthorized_client");
  }
  CHECK(emu->stop() == 0);
}

}  // namespace
}  // namespace skr::testing
