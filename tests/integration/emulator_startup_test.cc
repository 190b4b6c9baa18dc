// skr-emulator as a process: flags, endpoints.env, TLS trust, admin health, request log,
// persistence across a restart, clean SIGTERM.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "common/crypto/x509.h"
#include "tests/integration/emulator_process.h"
#include "tests/integration/process.h"

namespace skr::testing {
namespace {

const std::string kEmulatorPath = SKR_EMULATOR_PATH;

TEST_CASE("skr-emulator --help documents the flags and the admin API", "[emulator]") {
  ProcessResult r = runProcess(kEmulatorPath, {"--help"});
  CHECK(r.exit_code == 0);
  for (const char* needle :
       {"--state", "--listen", "--vault", "--mhsm", "--maa-instances", "--log-level",
        "/_emulator/faults", "/_emulator/identities", "/_emulator/role-assignments",
        "/_emulator/requests", "/_emulator/reset", "/_emulator/chip", "EMULATED"}) {
    INFO(needle);
    CHECK(r.out.find(needle) != std::string::npos);
  }
  ProcessResult v = runProcess(kEmulatorPath, {"--version"});
  CHECK(v.exit_code == 0);
  CHECK(v.out.find("emulated") != std::string::npos);
}

TEST_CASE("skr-emulator refuses non-loopback addresses and a missing --state", "[emulator]") {
  const std::string dir = makeTempDir("skr-emu-flags");
  ProcessResult r = runProcess(kEmulatorPath, {"--state", dir, "--listen", "0.0.0.0:0"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("loopback") != std::string::npos);
  ProcessResult r2 = runProcess(kEmulatorPath, {"--listen", "127.0.0.1:0"});
  CHECK(r2.exit_code == 2);
  CHECK(r2.err.find("--state") != std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("endpoints.env names every listener as a loopback URL and the CA and chip paths",
          "[emulator]") {
  auto emu = EmulatorProcess::start();
  const auto& env = emu->env();
  auto loopbackUrl = [](const std::string& url, const std::string& scheme) {
    const std::string prefix = scheme + "://127.0.0.1:";
    const std::string port = url.substr(std::min(url.size(), prefix.size()));
    return url.rfind(prefix, 0) == 0 && !port.empty() && port.size() <= 5 &&
           port.find_first_not_of("0123456789") == std::string::npos;
  };
  for (const char* k : {"SKR_EMULATOR_ENTRA_URL", "SKR_EMULATOR_VAULT_URL", "SKR_EMULATOR_MHSM_URL",
                        "SKR_EMULATOR_MAA_URL", "SKR_EMULATOR_MAA2_URL"}) {
    INFO(k);
    REQUIRE(env.count(k) == 1);
    CHECK(loopbackUrl(env.at(k), "https"));
  }
  CHECK(loopbackUrl(env.at("SKR_EMULATOR_IMDS_URL"), "http"));
  CHECK(loopbackUrl(env.at("SKR_EMULATOR_ADMIN_URL"), "http"));
  CHECK(env.at("SKR_EMULATOR_CA_FILE") == emu->stateDir() + "/ca.pem");
  CHECK(env.at("SKR_EMULATOR_CHIP_DIR") == emu->stateDir() + "/chip");
  CHECK(std::filesystem::exists(emu->stateDir() + "/chip/vcek.pem"));
  CHECK(!env.at("SKR_EMULATOR_TENANT_ID").empty());

  StatusOr<crypto::Certificate> ca = crypto::Certificate::fromPem(readFileText(emu->caFile()));
  REQUIRE(ca.ok());
  CHECK(ca->subjectCommonName() == "skr-emulator CA (emulated, not Azure)");

  json::ObjectPtr health = emu->admin("GET", "/_emulator/health");
  CHECK(health->getValue<std::string>("status") == "ok");
  CHECK(health->getValue<bool>("emulated"));
  CHECK(emu->stderrText().find("WARNING: this is an EMULATOR") != std::string::npos);
  CHECK(emu->stop() == 0);
  CHECK(!std::filesystem::exists(emu->stateDir() + "/endpoints.env"));
}

TEST_CASE("HTTPS listeners verify against ca.pem (with hostname check) and fail without it",
          "[emulator]") {
  auto emu = EmulatorProcess::start();
  // Any HTTPS listener answers once TLS is up; the OIDC document needs no token.
  const std::string url = emu->url("entra") + "/" + emu->env().at("SKR_EMULATOR_TENANT_ID") +
                          "/v2.0/.well-known/openid-configuration";
  HttpResult ok = emu->get(url);
  INFO(ok.error);
  REQUIRE(!ok.transport_error);
  CHECK(ok.status == 200);
  CHECK(ok.json()->getValue<std::string>("issuer").find(emu->url("entra")) == 0);

  HttpCall untrusted;
  untrusted.url = url;
  untrusted.ca_file = "";
  HttpResult bad = emu->call(untrusted);
  CHECK(bad.transport_error);

  // A CA that did not issue the server certificate: the chip's ARK.
  HttpCall wrong_ca;
  wrong_ca.url = url;
  wrong_ca.ca_file = emu->stateDir() + "/chip/ark.pem";
  CHECK(emu->call(wrong_ca).transport_error);

  // localhost is in the certificate too.
  const std::string port = url.substr(url.rfind(':') + 1, url.find('/', 8) - url.rfind(':') - 1);
  HttpResult by_name = emu->get("https://localhost:" + port + "/k8s-issuer/openid/v1/jwks");
  INFO(by_name.error);
  CHECK(by_name.status == 200);
  CHECK(emu->stop() == 0);
}

TEST_CASE("the request log lists requests without queries or tokens, and reset clears it",
          "[emulator]") {
  auto emu = EmulatorProcess::start();
  const std::string token = imdsToken(*emu, "https://vault.azure.net");
  emu->get(emu->url("vault") + "/keys/missing?api-version=7.4",
           {{"Authorization", "Bearer " + token}});
  json::ObjectPtr log = emu->admin("GET", "/_emulator/requests");
  json::ArrayPtr entries = log->getArray("requests");
  REQUIRE(entries->size() == 2);
  json::ObjectPtr first = entries->getObject(0);
  CHECK(first->getValue<std::string>("listener") == "imds");
  CHECK(first->getValue<std::string>("path") == "/metadata/identity/oauth2/token");
  CHECK(first->getValue<int>("status") == 200);
  json::ObjectPtr second = entries->getObject(1);
  CHECK(second->getValue<std::string>("listener") == "vault");
  CHECK(second->getValue<std::string>("method") == "GET");
  CHECK(second->getValue<std::string>("path") == "/keys/missing");
  CHECK(second->getValue<int>("status") == 403);
  StatusOr<std::string> text = json::serializeCanonical(log);
  REQUIRE(text.ok());
  CHECK(text->find(token.substr(0, 40)) == std::string::npos);
  CHECK(text->find("api-version") == std::string::npos);
  CHECK(emu->stderrText().find(token.substr(0, 40)) == std::string::npos);

  json::ObjectPtr vault_only = emu->admin("GET", "/_emulator/requests?listener=vault");
  CHECK(vault_only->getArray("requests")->size() == 1);
  emu->admin("POST", "/_emulator/reset");
  CHECK(emu->admin("GET", "/_emulator/requests")->getArray("requests")->size() == 0);
  CHECK(emu->stop() == 0);
}

TEST_CASE("a restart keeps keys, identities, roles, the CA and issued tokens", "[emulator]") {
  const std::string dir = makeTempDir("skr-emu-restart");
  std::string kid, n, token, ca_pem, client_id;
  {
    auto emu = EmulatorProcess::start(dir);
    const TestIdentity id = addUserIdentity(*emu, "persistent");
    client_id = id.client_id;
    assignRole(*emu, id.object_id, "Key Vault Crypto Officer");
    token = imdsToken(*emu, "https://vault.azure.net", id.client_id);
    HttpResult created =
        emu->post(emu->url("vault") + "/keys/kept/create?api-version=7.5",
                  R"({"kty":"RSA-HSM","key_size":2048})", {{"Authorization", "Bearer " + token}});
    REQUIRE(created.status == 200);
    kid = created.json()->getObject("key")->getValue<std::string>("kid");
    n = created.json()->getObject("key")->getValue<std::string>("n");
    ca_pem = readFileText(emu->caFile());
    const std::string key_file =
        dir + "/keys/vault/kept/" + kid.substr(kid.rfind('/') + 1) + ".json";
    struct stat st {};
    REQUIRE(::stat(key_file.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    REQUIRE(emu->stop() == 0);
  }
  auto emu = EmulatorProcess::start(dir);
  CHECK(readFileText(emu->caFile()) == ca_pem);
  // The previous ports are reused when free, so the kid (which names the host) is unchanged.
  HttpResult got = emu->get(emu->url("vault") + "/keys/kept?api-version=7.5",
                            {{"Authorization", "Bearer " + token}});
  INFO(got.body);
  REQUIRE(got.status == 200);
  CHECK(got.json()->getObject("key")->getValue<std::string>("kid") == kid);
  CHECK(got.json()->getObject("key")->getValue<std::string>("n") == n);
  const std::string token2 = imdsToken(*emu, "https://vault.azure.net", client_id);
  CHECK(emu->get(emu->url("vault") + "/keys/kept?api-version=7.5",
                 {{"Authorization", "Bearer " + token2}})
            .status == 200);
  CHECK(emu->stop() == 0);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace skr::testing
