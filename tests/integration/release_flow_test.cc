// The release flow against the real skr-emulator (DESIGN.md §3): the emulated chip's report, the
// THIM chain from the emulator's IMDS, MAA over TLS with the emulator CA, and the token verified
// against the pinned instance's /certs; a token of another instance is refused by issuer.
#include "common/release/release_flow.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/azure/aci_policy.h"
#include "common/azure/identity.h"
#include "common/azure/key_vault_client.h"
#include "common/azure/maa_client.h"
#include "common/azure/release_policy.h"
#include "common/crypto/x509.h"
#include "common/encoding/hex.h"
#include "common/http/poco_http_transport.h"
#include "common/snp/collateral.h"
#include "common/snp/emulated_chip.h"
#include "tests/integration/emulator_process.h"

namespace skr::testing {
namespace {

const std::string kHostData = "7f3a0c1e5b7f9214a6c8e0f2b4d6f8a1c3e5f7091b3d5f7092b4d6f8a0c2e4f6";

template <typename T>
T take(StatusOr<T> s) {
  INFO(s.status().toString());
  REQUIRE(s.ok());
  return std::move(s).value();
}

std::shared_ptr<http::HttpTransport> transportFor(const EmulatorProcess& emu) {
  http::PocoHttpTransportOptions options;
  options.ca_file = emu.caFile();
  options.proxy = http::ProxySettings{};
  return std::shared_ptr<http::HttpTransport>(take(http::PocoHttpTransport::create(options)));
}

// Everything a release flow needs, wired to one emulator as skr-init would wire it.
struct Wiring {
  const EmulatorProcess& emu;
  std::shared_ptr<http::HttpTransport> transport = transportFor(emu);
  http::RandomJitter jitter;
  std::unique_ptr<snp::EmulatedDevice> device;
  std::unique_ptr<snp::CollateralProvider> collateral;
  std::vector<release::ProgressEvent> events;

  explicit Wiring(const EmulatorProcess& e) : emu(e) {
    device = take(snp::EmulatedDevice::open(emu.env().at("SKR_EMULATOR_CHIP_DIR")));
    snp::CollateralOptions o;
    o.use_security_context = false;
    o.use_kds = false;
    o.thim_url = emu.url("imds") + "/metadata/THIM/amd/certification";
    collateral = take(snp::CollateralProvider::create(transport, o));
  }

  std::unique_ptr<azure::MaaClient> maa(const std::string& listener) {
    azure::MaaOptions o;
    o.endpoint = emu.url(listener);
    return take(azure::MaaClient::create(transport, systemClock(), jitter, o));
  }

  release::ReleaseFlow flow(azure::MaaClient& maa, azure::KeyVaultClient* vault = nullptr) {
    return release::ReleaseFlow(*device, *collateral, maa, vault, systemClock(), {},
                                [this](const release::ProgressEvent& e) { events.push_back(e); });
  }
};

std::string hostPort(const std::string& url) {
  return url.substr(url.find("://") + 3);
}

release::Attestation attested(release::StepResult<release::Attestation> result) {
  if (auto* failure = std::get_if<release::StepFailure>(&result)) {
    FAIL(std::string(release::stepName(failure->step)) + " " + failure->host + ": " +
         failure->status.toString());
  }
  return std::move(std::get<release::Attestation>(result));
}

TEST_CASE("the release flow attests the emulated chip at the emulated MAA and verifies the token",
          "[emulator][release-flow]") {
  auto emu = EmulatorProcess::start();
  emu->admin("PUT", "/_emulator/chip", R"({"host_data":")" + kHostData + R"("})");
  Wiring w(*emu);
  auto maa = w.maa("maa");
  release::ReleaseFlow flow = w.flow(*maa);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  release::Attestation a = attested(flow.attest(deadline));

  CHECK(a.platform == "emulated");
  CHECK(a.maa.issuer == emu->url("maa"));
  CHECK(a.maa.emulated);
  CHECK(a.maa.hostdata == kHostData);
  CHECK(a.maa.attempts == 1);
  CHECK(a.maa.expires_at > std::chrono::system_clock::now() + std::chrono::hours(7));
  CHECK(a.maa.claims->getValue<std::string>("x-ms-sevsnpvm-reportdata") ==
        encoding::hexEncode(a.report_data));
  CHECK(json::serializeCanonical(a.maa.claims->getObject("x-ms-runtime")).value() ==
        a.runtime_data);

  // The token verifies again with a fresh client pinned to the same instance.
  auto again = w.maa("maa");
  azure::MaaToken verified =
      take(again->verifyToken(a.maa.token, a.transfer.public_jwk, a.report_data));
  CHECK(verified.hostdata == kHostData);

  std::vector<std::string> steps;
  for (const release::ProgressEvent& e : w.events) {
    steps.emplace_back(release::stepName(e.step));
    CHECK(e.status.ok());
  }
  CHECK(steps == std::vector<std::string>{"transfer-key", "report", "collateral", "maa"});
  CHECK(w.events[2].host == hostPort(emu->url("imds")));
  CHECK(w.events[3].host == hostPort(emu->url("maa")));
}

TEST_CASE("a client pinned to maa2 verifies maa2's tokens and refuses maa's by issuer",
          "[emulator][release-flow]") {
  auto emu = EmulatorProcess::start();
  Wiring w(*emu);
  auto maa2 = w.maa("maa2");
  release::ReleaseFlow flow2 = w.flow(*maa2);
  release::Attestation from_maa2 = attested(flow2.attest());
  CHECK(from_maa2.maa.issuer == emu->url("maa2"));

  auto maa = w.maa("maa");
  release::ReleaseFlow flow = w.flow(*maa);
  release::Attestation from_maa = attested(flow.attest());
  StatusOr<azure::MaaToken> crossed =
      maa2->verifyToken(from_maa.maa.token, from_maa.transfer.public_jwk, from_maa.report_data);
  REQUIRE_FALSE(crossed.ok());
  CHECK(crossed.status().code() == StatusCode::DataLoss);
  CHECK(crossed.status().message() == "MAA token iss: '" + emu->url("maa") +
                                          "' is not the pinned MAA instance '" + emu->url("maa2") +
                                          "'");
  // The step mapping of such a failure: integrity, not an attestation rejection.
  CHECK(release::exitCodeFor({release::Step::Attest, "", crossed.status()}) ==
        release::ExitCode::Integrity);
}

// Creates exportable RSA key `name` in the emulated vault with the ACI release policy for the
// trusted MAA and `hostdata` (no UVM compliance: the emulated chip has no security context).
void createKey(const EmulatorProcess& emu, const std::string& officer_token,
               const std::string& name, const std::string& hostdata) {
  const std::string policy = take(azure::makeAciReleasePolicy(emu.url("maa"), hostdata, false));
  HttpCall c;
  c.method = "POST";
  c.url = emu.url("vault") + "/keys/" + name + "/create?api-version=7.4";
  c.headers.push_back({"Authorization", "Bearer " + officer_token});
  c.body = R"({"kty":"RSA-HSM","key_size":2048,"attributes":{"exportable":true},"release_policy":)"
           R"({"contentType":"application/json; charset=utf-8","data":")" +
           azure::toWireBase64Url(policy) + "\"}}";
  HttpResult r = emu.call(c);
  INFO(r.body);
  REQUIRE(r.status == 200);
}

TEST_CASE("the release flow releases a key from the emulated vault end to end",
          "[emulator][release-flow]") {
  auto emu = EmulatorProcess::start();
  emu->admin("PUT", "/_emulator/chip", R"({"host_data":")" + kHostData + R"("})");
  const std::string officer = tokenWithRole(*emu, "Key Vault Crypto Officer");
  createKey(*emu, officer, "kek", kHostData);
  createKey(*emu, officer, "other-platform",
            "0000000000000000000000000000000000000000000000000000000000000001");
  const TestIdentity releaser = addUserIdentity(*emu, "releaser");
  assignRole(*emu, releaser.object_id, "Key Vault Crypto Service Release User");

  Wiring w(*emu);
  azure::ImdsOptions imds;
  imds.endpoint = emu->url("imds");
  imds.identity = azure::ImdsIdentity::ClientId;
  imds.identity_id = releaser.client_id;
  auto tokens = take(azure::ImdsTokenProvider::create(w.transport, imds, systemClock(), w.jitter));
  azure::KeyVaultOptions kv;
  kv.jws_trust_anchors.push_back(take(crypto::Certificate::fromPem(readFileText(emu->caFile()))));
  auto vault =
      take(azure::KeyVaultClient::create(w.transport, *tokens, systemClock(), w.jitter, kv));
  auto maa = w.maa("maa");
  release::ReleaseFlow flow = w.flow(*maa, vault.get());
  const release::Attestation a = attested(flow.attest());

  const azure::VaultKeyRef kek{emu->url("vault"), "kek", ""};
  release::StepResult<azure::ReleasedKey> released = flow.release(a, kek);
  if (auto* failure = std::get_if<release::StepFailure>(&released)) {
    FAIL(failure->status.toString());
  }
  const azure::ReleasedKey& key = std::get<azure::ReleasedKey>(released);
  CHECK(key.kty == "RSA-HSM");
  CHECK(key.key.hasPrivate());
  CHECK(key.vault_host == hostPort(emu->url("vault")));
  CHECK_THAT(key.kid, Catch::StartsWith(emu->url("vault") + "/keys/kek/"));
  CHECK(key.attempts == 1);
  const release::ProgressEvent& done = w.events.back();
  CHECK(done.step == release::Step::Release);
  CHECK(done.key == "kek");
  CHECK(done.host == hostPort(emu->url("vault")));
  CHECK(done.status.ok());

  // A key whose policy requires another platform's hostdata: denied, with this platform's.
  release::StepResult<azure::ReleasedKey> denied =
      flow.release(a, {emu->url("vault"), "other-platform", ""});
  REQUIRE(std::holds_alternative<release::StepFailure>(denied));
  const release::StepFailure& failure = std::get<release::StepFailure>(denied);
  INFO(failure.status.toString());
  CHECK(failure.status.code() == StatusCode::PermissionDenied);
  CHECK_THAT(failure.status.message(),
             Catch::Contains("this platform's x-ms-sevsnpvm-hostdata is " + kHostData));
  CHECK(release::exitCodeFor(failure) == release::ExitCode::ReleaseDenied);
}

}  // namespace
}  // namespace skr::testing
