// The release flow against the real skr-emulator (DESIGN.md §3): the emulated chip's report, the
// THIM chain from the emulator's IMDS, MAA over TLS with the emulator CA, and the token verified
// against the pinned instance's /certs; a token of another instance is refused by issuer.
#include "common/release/release_flow.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/azure/maa_client.h"
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
    CHECK(e.status.isOk());
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

}  // namespace
}  // namespace skr::testing
