// Token providers end to end: PocoHttpTransport + retry + IMDS / workload identity against
// skr-emulator, and the token they return accepted by the emulated Key Vault.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>

#include "common/azure/identity.h"
#include "common/http/poco_http_transport.h"
#include "tests/integration/emulator_process.h"

namespace skr::testing {
namespace {

std::shared_ptr<http::HttpTransport> transportFor(const EmulatorProcess& emu) {
  http::PocoHttpTransportOptions options;
  options.ca_file = emu.caFile();
  options.proxy = http::ProxySettings{};
  auto transport = http::PocoHttpTransport::create(options);
  REQUIRE(transport.ok());
  return std::shared_ptr<http::HttpTransport>(std::move(transport).value());
}

std::string text(const SecretBytes& secret) {
  const ByteView v = secret.view(grantSecretAccess());
  return std::string(reinterpret_cast<const char*>(v.data()), v.size());
}

// GET of a missing key with the token: 404 proves the vault accepted token and role.
int vaultStatusWith(const EmulatorProcess& emu, const std::string& token) {
  return emu
      .get(emu.url("vault") + "/keys/absent?api-version=7.4",
           {{"Authorization", "Bearer " + token}})
      .status;
}

std::map<std::string, std::string> emulatorResources(const EmulatorProcess& emu) {
  auto hostPort = [](const std::string& url) { return url.substr(url.find("://") + 3); };
  return {{hostPort(emu.url("vault")), azure::kVaultResource},
          {hostPort(emu.url("mhsm")), azure::kManagedHsmResource}};
}

TEST_CASE("IMDS token provider gets a vault token the emulated vault accepts", "[identity]") {
  auto emu = EmulatorProcess::start();
  const TestIdentity user = addUserIdentity(*emu, "skr-mi");
  assignRole(*emu, user.object_id, "Key Vault Crypto User");
  http::RandomJitter jitter;
  azure::ImdsOptions options;
  options.endpoint = emu->url("imds");
  options.identity = azure::ImdsIdentity::ClientId;
  options.identity_id = user.client_id;
  auto provider =
      azure::ImdsTokenProvider::create(transportFor(*emu), options, systemClock(), jitter);
  REQUIRE(provider.ok());
  azure::CachingTokenProvider cache(std::move(provider).value(), systemClock());

  const std::string vault_host = emu->url("vault").substr(8);
  const std::string resource = azure::resourceForHost(vault_host, emulatorResources(*emu));
  CHECK(resource == "https://vault.azure.net");
  StatusOr<azure::AccessToken> token = cache.token(resource);
  REQUIRE(token.ok());
  CHECK(token->expires_on > std::chrono::system_clock::now() + std::chrono::hours(1));
  CHECK(vaultStatusWith(*emu, text(token->token)) == 404);
  CHECK(text(cache.token(resource)->token) == text(token->token));  // cached

  // An identity that does not exist: IMDS answers 400, reported with its description.
  options.identity_id = "00000000-0000-0000-0000-000000000000";
  auto unknown =
      azure::ImdsTokenProvider::create(transportFor(*emu), options, systemClock(), jitter);
  REQUIRE(unknown.ok());
  StatusOr<azure::AccessToken> refused = (*unknown)->token(resource);
  REQUIRE_FALSE(refused.ok());
  INFO(refused.status().message());
  CHECK(refused.status().code() == StatusCode::InvalidArgument);
  CHECK(refused.status().message().find("HTTP 400 invalid_request: Identity not found") !=
        std::string::npos);
  CHECK(emu->stop() == 0);
}

TEST_CASE("workload identity exchanges the projected token over HTTPS", "[identity]") {
  auto emu = EmulatorProcess::start();
  json::ObjectPtr app = emu->admin(
      "POST", "/_emulator/identities",
      R"({"kind":"app","name":"wi","federated_credentials":[{"subject":"system:serviceaccount:demo:skr"}]})");
  assignRole(*emu, app->getValue<std::string>("object_id"), "Key Vault Crypto User");
  const std::string sa_token = emu->admin("POST", "/_emulator/service-account-token",
                                          R"({"namespace":"demo","service_account":"skr"})")
                                   ->getValue<std::string>("token");
  const std::string token_file = emu->stateDir() + "/sa-token";
  std::ofstream(token_file) << sa_token;

  http::RandomJitter jitter;
  azure::WorkloadIdentityOptions options;
  options.client_id = app->getValue<std::string>("client_id");
  options.tenant_id = emu->env().at("SKR_EMULATOR_TENANT_ID");
  options.federated_token_file = token_file;
  options.authority_host = emu->url("entra");
  auto provider = azure::WorkloadIdentityTokenProvider::create(transportFor(*emu), options,
                                                               systemClock(), jitter);
  REQUIRE(provider.ok());
  StatusOr<azure::AccessToken> token = (*provider)->token(azure::kVaultResource);
  REQUIRE(token.ok());
  CHECK(vaultStatusWith(*emu, text(token->token)) == 404);

  // A token signed by a key the federation does not trust: AADSTS700027, Unauthenticated.
  std::ofstream(token_file, std::ios::trunc)
      << emu->admin("POST", "/_emulator/service-account-token",
                    R"({"namespace":"demo","service_account":"skr","wrong_key":true})")
             ->getValue<std::string>("token");
  StatusOr<azure::AccessToken> refused = (*provider)->token(azure::kVaultResource);
  REQUIRE_FALSE(refused.ok());
  INFO(refused.status().message());
  CHECK(refused.status().code() == StatusCode::Unauthenticated);
  CHECK(refused.status().message().find("invalid_client: AADSTS700027") != std::string::npos);
  CHECK(emu->stop() == 0);
}

}  // namespace
}  // namespace skr::testing
