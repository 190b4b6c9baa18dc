// KeyVaultClient against the real skr-emulator over HTTPS (PocoHttpTransport trusting DIR/ca.pem):
// imports known RSA and oct keys with the ACI release policy, releases them with an MAA token
// minted with the emulated MAA's signing key (as emulator_release_test.cc does), and compares the
// released material with what was imported. Also a policy denial (hostdata) through the client.
#include "common/azure/key_vault_client.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <catch2/catch.hpp>
#include <chrono>

#include "common/azure/release_policy.h"
#include "common/core/clock.h"
#include "common/crypto/random.h"
#include "common/encoding/base64.h"
#include "common/http/poco_http_transport.h"
#include "common/jose/jwk.h"
#include "common/jose/jws.h"
#include "tests/integration/emulator_process.h"
#include "tests/integration/maa_test_tokens.h"

namespace skr::testing {
namespace {

const std::string& kHostData = kTestHostData;

const crypto::PrivateKey& transferKey() {
  return testTransferKey();
}

// An MAA token as the emulated MAA would issue it for an ACI UVM with the test transfer key.
std::string mintMaaToken(const EmulatorProcess& emu, const std::string& host_data) {
  return signMaaToken(emu, aciMaaClaims(emu, host_data));
}

// PUT {vault}/keys/{name} with a private JWK (spec §2.6 import); returns the kid.
std::string importKey(const EmulatorProcess& emu, const std::string& listener,
                      const std::string& officer_token, const std::string& name,
                      const std::string& jwk_json) {
  HttpCall c;
  c.method = "PUT";
  c.url = emu.url(listener) + "/keys/" + name + "?api-version=7.4";
  c.headers.push_back({"Authorization", "Bearer " + officer_token});
  c.body = R"({"key":)" + jwk_json + R"(,"hsm":true,"attributes":{"exportable":true},)" +
           R"("release_policy":)" + aciReleasePolicyWire(emu.url("maa")) + "}";
  HttpResult r = emu.call(c);
  INFO(r.body);
  REQUIRE(r.status == 200);
  return r.json()->getObject("key")->getValue<std::string>("kid");
}

// The access token of an identity holding the release role, fetched once.
class FixedTokenProvider : public azure::TokenProvider {
 public:
  explicit FixedTokenProvider(std::string token) : token_(std::move(token)) {}
  StatusOr<azure::AccessToken> token(const std::string& resource) override {
    resources.push_back(resource);
    return azure::AccessToken{SecretBytes::copyOf(asBytes(token_)),
                              std::chrono::system_clock::now() + std::chrono::hours(1)};
  }
  std::string describe() const override { return "fixed test token"; }
  std::vector<std::string> resources;

 private:
  std::string token_;
};

TEST_CASE(
    "KeyVaultClient releases an imported RSA key (vault) and oct key (mhsm) from the emulator "
    "over HTTPS and the material matches",
    "[emulator][release][keyvault]") {
  auto emu = EmulatorProcess::start();
  const std::string officer = tokenWithRole(*emu, "Key Vault Crypto Officer");
  const std::string release_user = tokenWithRole(*emu, "Key Vault Crypto Service Release User");
  const std::string mhsm_officer = tokenWithRole(*emu, "Managed HSM Crypto Officer", "mhsm");
  const std::string mhsm_release_user =
      tokenWithRole(*emu, "Managed HSM Crypto Service Release User", "mhsm");

  const crypto::PrivateKey rsa = crypto::PrivateKey::generateRsa(2048).value();
  jose::Jwk rsa_jwk =
      jose::Jwk::fromPrivateKey(crypto::PrivateKey::fromPkcs8Der(rsa.toPkcs8Der()).value());
  const SecretBytes rsa_json = rsa_jwk.privateJson(grantSecretAccess()).value();
  json::ObjectPtr rsa_object =
      json::parseObject(toString(rsa_json.view(grantSecretAccess()))).value();
  rsa_object->set("kty", "RSA-HSM");
  const std::string rsa_kid =
      importKey(*emu, "vault", officer, "client-rsa", json::serializeCanonical(rsa_object).value());
  const SecretBytes aes = crypto::randomSecret(32);
  const std::string oct_kid =
      importKey(*emu, "mhsm", mhsm_officer, "client-aes",
                R"({"kty":"oct-HSM","k":")" +
                    encoding::base64UrlEncode(aes.view(grantSecretAccess())) + "\"}");

  http::PocoHttpTransportOptions transport_options;
  transport_options.ca_file = emu->caFile();
  std::shared_ptr<http::HttpTransport> transport =
      http::PocoHttpTransport::create(transport_options).value();
  FixedTokenProvider tokens(release_user);
  http::RandomJitter jitter;
  azure::KeyVaultOptions options;
  options.jws_trust_anchors = {crypto::Certificate::fromPem(readFileText(emu->caFile())).value()};
  options.enc = azure::KeyExportEnc::RsaAesKeyWrap256;
  std::unique_ptr<azure::KeyVaultClient> client =
      azure::KeyVaultClient::create(transport, tokens, systemClock(), jitter, options).value();
  FixedTokenProvider mhsm_tokens(mhsm_release_user);
  std::unique_ptr<azure::KeyVaultClient> mhsm_client =
      azure::KeyVaultClient::create(transport, mhsm_tokens, systemClock(), jitter, options).value();
  const std::string token = mintMaaToken(*emu, kHostData);
  const std::string vault = emu->url("vault");
  const std::string mhsm = emu->url("mhsm");

  StatusOr<azure::ReleasedKey> released_rsa =
      client->release({vault, "client-rsa", ""}, token, transferKey(),
                      std::chrono::steady_clock::now() + std::chrono::seconds(60));
  INFO(released_rsa.status().toString());
  REQUIRE(released_rsa.ok());
  CHECK(released_rsa->kid == rsa_kid);
  CHECK(released_rsa->kty == "RSA-HSM");
  CHECK(released_rsa->enc == azure::KeyExportEnc::RsaAesKeyWrap256);
  CHECK(released_rsa->attempts == 1);
  REQUIRE(released_rsa->key.privateKey().ok());
  CHECK((*released_rsa->key.privateKey())->toPkcs8Der() == rsa.toPkcs8Der());
  CHECK(released_rsa->key.kid() == rsa_kid);

  // Managed HSM, the versioned path.
  StatusOr<azure::ReleasedKey> released_oct = mhsm_client->release(
      {mhsm, "client-aes", oct_kid.substr(oct_kid.rfind('/') + 1)}, token, transferKey());
  INFO(released_oct.status().toString());
  REQUIRE(released_oct.ok());
  CHECK(released_oct->kid == oct_kid);
  CHECK(released_oct->kty == "oct-HSM");
  REQUIRE(released_oct->key.octet().ok());
  CHECK(**released_oct->key.octet() == aes);

  // A token for another HOST_DATA: PermissionDenied naming the claim.
  StatusOr<azure::ReleasedKey> denied = mhsm_client->release(
      {mhsm, "client-aes", ""},
      mintMaaToken(*emu, "0000000000000000000000000000000000000000000000000000000000000001"),
      transferKey());
  INFO(denied.status().toString());
  CHECK(denied.status().code() == StatusCode::PermissionDenied);
  CHECK_THAT(denied.status().message(), Catch::Contains("release policy was not satisfied"));
  CHECK_THAT(denied.status().message(), Catch::Contains("x-ms-sevsnpvm-hostdata"));
  CHECK(denied.status().message().find(mhsm_release_user) == std::string::npos);

  // Unknown key: NotFound.
  StatusOr<azure::ReleasedKey> missing =
      client->release({vault, "absent", ""}, token, transferKey());
  CHECK(missing.status().code() == StatusCode::NotFound);
  CHECK_THAT(missing.status().message(), Catch::Contains("key 'absent' not found in vault"));
  CHECK(emu->stop() == 0);
}

}  // namespace
}  // namespace skr::testing
