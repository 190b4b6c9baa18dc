// ReleaseFlow over fakes of its narrow interfaces (azure::Attester, azure::KeyReleaser): steps,
// progress events, hosts, attempts and exit codes. The SNP report comes from the emulated chip and
// the collateral from a real CollateralProvider over a fake THIM; MAA and the vault are scripted
// (tests/fakes/scripted_failures.h holds the failures the real clients return, which
// tests/unit/azure checks against the wire).
#include "common/release/release_flow.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cctype>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>

#include "common/encoding/hex.h"
#include "common/snp/emulated_chip.h"
#include "common/snp/report.h"
#include "tests/fakes/fake_attester.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_http_transport.h"
#include "tests/fakes/fake_key_releaser.h"
#include "tests/fakes/scripted_failures.h"

namespace skr::release {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::FakeAttester;
using testing::FakeClock;
using testing::FakeHttpTransport;
using testing::FakeKeyReleaser;
using testing::VaultFailure;

const std::string kThimUrl = "http://imds.test:8080/metadata/THIM/amd/certification";
const std::string kMaaToken = "scripted-maa-token";
// Upper case on purpose: the denial hint names it in lower case.
const std::string kHostData = "7F3A0C1E5B7F9214A6C8E0F2B4D6F8A1C3E5F7091B3D5F7092B4D6F8A0C2E4F6";

template <typename T>
T take(StatusOr<T> s) {
  INFO(s.status().toString());
  REQUIRE(s.ok());
  return std::move(s).value();
}

// One emulated chip per test binary, in a temp dir removed at exit.
struct ChipDir {
  std::string path;
  ChipDir() {
    std::string templ = (fs::temp_directory_path() / "skr-release-flow-XXXXXX").string();
    if (::mkdtemp(templ.data()) == nullptr) std::abort();
    path = templ + "/chip";
  }
  ~ChipDir() {
    std::error_code ec;
    fs::remove_all(fs::path(path).parent_path(), ec);
  }
};
const std::string& chipDir() {
  static ChipDir dir;
  return dir.path;
}
const snp::EmulatedDevice& device() {
  static const std::unique_ptr<snp::EmulatedDevice> d = take(snp::EmulatedDevice::open(chipDir()));
  return *d;
}

// THIM's answer for the chip, as the emulator's IMDS serves it (spec §5.2).
std::string thimJson() {
  const snp::EmulatedChip& chip = device().chip();
  char tcbm[17];
  std::snprintf(tcbm, sizeof tcbm, "%016" PRIX64, chip.config().tcbRaw());
  json::ObjectPtr o = new Poco::JSON::Object;
  o->set("vcekCert", chip.vcek().toPem());
  o->set("tcbm", std::string(tcbm));
  o->set("certificateChain", chip.ask().toPem() + chip.ark().toPem());
  return json::serializeCanonical(o).value();
}

struct Fixture {
  std::shared_ptr<FakeHttpTransport> transport = std::make_shared<FakeHttpTransport>();  // THIM
  FakeClock clock;
  std::unique_ptr<snp::CollateralProvider> collateral;
  FakeAttester maa{"https://maa.test"};
  FakeKeyReleaser vault;
  const azure::VaultKeyRef key{"https://vault.test", "k1", ""};
  std::vector<ProgressEvent> events;

  Fixture() {
    transport->setResponse(kThimUrl, 200, thimJson());
    snp::CollateralOptions o;
    o.use_security_context = false;
    o.use_kds = false;
    o.thim_url = kThimUrl;
    collateral = take(snp::CollateralProvider::create(transport, o));
    maa.setToken(token(seconds(28800)));
  }

  // A token as MaaClient returns it, expiring `validity` from now.
  azure::MaaToken token(seconds validity, int attempts = 1) const {
    azure::MaaToken t;
    t.token = kMaaToken;
    t.issuer = maa.endpoint();
    t.expires_at = clock.now() + validity;
    t.hostdata = kHostData;
    t.emulated = true;
    t.attempts = attempts;
    return t;
  }

  ReleaseFlow flow(ReleaseFlow::Options options = {}, azure::KeyReleaser* releaser = nullptr) {
    return ReleaseFlow(device(), *collateral, maa, releaser, clock, options,
                       [this](const ProgressEvent& e) { events.push_back(e); });
  }

  Attestation attestation(ReleaseFlow& flow) {
    StepResult<Attestation> a = flow.attest();
    if (auto* failure = std::get_if<StepFailure>(&a)) FAIL(failure->status.toString());
    return std::move(std::get<Attestation>(a));
  }
};

std::vector<std::string> stepNames(const std::vector<ProgressEvent>& events) {
  std::vector<std::string> out;
  for (const ProgressEvent& e : events) out.emplace_back(stepName(e.step));
  return out;
}

TEST_CASE("step names are the JSON-lines names", "[release]") {
  CHECK(stepName(Step::TransferKey) == "transfer-key");
  CHECK(stepName(Step::Report) == "report");
  CHECK(stepName(Step::Collateral) == "collateral");
  CHECK(stepName(Step::Attest) == "maa");
  CHECK(stepName(Step::Release) == "release");
  CHECK(stepName(Step::Seal) == "seal");
  CHECK(stepName(Step::Write) == "write");
}

TEST_CASE("exit codes follow DESIGN.md section 9 for every step and status", "[release]") {
  auto code = [](Step step, Status status) { return exitCodeFor({step, "h", std::move(status)}); };
  // Unavailable / DeadlineExceeded where a dependency is called.
  for (Step step : {Step::Collateral, Step::Attest, Step::Release}) {
    CHECK(code(step, unavailableError("x")) == ExitCode::Unavailable);
    CHECK(code(step, deadlineExceededError("x")) == ExitCode::Unavailable);
  }
  // Local steps.
  CHECK(code(Step::TransferKey, internalError("x")) == ExitCode::Platform);
  CHECK(code(Step::TransferKey, invalidArgumentError("x")) == ExitCode::Platform);
  CHECK(code(Step::Report, failedPreconditionError("x")) == ExitCode::Platform);
  CHECK(code(Step::Report, unavailableError("x")) == ExitCode::Platform);
  CHECK(code(Step::Collateral, invalidArgumentError("x")) == ExitCode::Platform);
  CHECK(code(Step::Collateral, failedPreconditionError("x")) == ExitCode::Platform);
  // maa.
  CHECK(code(Step::Attest, dataLossError("x")) == ExitCode::Integrity);
  CHECK(code(Step::Attest, permissionDeniedError("x")) == ExitCode::Attestation);
  CHECK(code(Step::Attest, invalidArgumentError("x")) == ExitCode::Attestation);
  CHECK(code(Step::Attest, failedPreconditionError("MAA token expires")) == ExitCode::Attestation);
  // release: the token provider failed (cause Identity, whatever the code or the wording).
  ErrorDetails no_token;
  no_token.dependency = Dependency::Identity;
  no_token.cause = ErrorCause::Identity;
  CHECK(code(Step::Release, unauthenticatedError("IMDS token: HTTP 400").withDetails(no_token)) ==
        ExitCode::Identity);
  CHECK(code(Step::Release, invalidArgumentError("token file").withDetails(no_token)) ==
        ExitCode::Identity);
  CHECK(code(Step::Release, unauthenticatedError("identity: worded like one")) ==
        ExitCode::ReleaseDenied);
  CHECK(code(Step::Release, unauthenticatedError("vault: HTTP 401")) == ExitCode::ReleaseDenied);
  CHECK(code(Step::Release, permissionDeniedError("vault: HTTP 403")) == ExitCode::ReleaseDenied);
  CHECK(code(Step::Release, notFoundError("KeyNotFound")) == ExitCode::KeyNotFound);
  CHECK(code(Step::Release, dataLossError("x5c")) == ExitCode::Integrity);
  CHECK(code(Step::Release, invalidArgumentError("truncated")) == ExitCode::Integrity);
  CHECK(code(Step::Release, failedPreconditionError("no vault")) == ExitCode::Usage);
  // seal, write.
  CHECK(code(Step::Seal, internalError("x")) == ExitCode::Output);
  CHECK(code(Step::Write, unavailableError("x")) == ExitCode::Output);
  CHECK(code(Step::Write, permissionDeniedError("x")) == ExitCode::Output);
  CHECK(code(Step::Release, okStatus()) == ExitCode::Ok);
  CHECK(static_cast<int>(ExitCode::Output) == 10);
  CHECK(static_cast<int>(ExitCode::Integrity) == 9);
}

TEST_CASE("attestWith runs report, collateral and maa, one progress event per step", "[release]") {
  Fixture f;
  f.maa.setAnswer([&f](const FakeAttester::Call&) -> StatusOr<azure::MaaToken> {
    f.clock.advance(milliseconds(3000));  // as a Retry-After sleep inside the client would
    return f.token(seconds(28800), 2);
  });
  ReleaseFlow::Options options;
  options.maa_nonce = "nonce-1";
  ReleaseFlow flow = f.flow(options);
  azure::TransferKey transfer = take(azure::TransferKey::generate(2048));
  const std::string thumbprint = transfer.public_jwk.thumbprint();
  const auto deadline = f.clock.steadyNow() + seconds(60);
  StepResult<Attestation> result = flow.attestWith(std::move(transfer), deadline);
  if (auto* failure = std::get_if<StepFailure>(&result)) FAIL(failure->status.toString());
  const Attestation& a = std::get<Attestation>(result);

  CHECK(a.platform == "emulated");
  CHECK(a.transfer.public_jwk.thumbprint() == thumbprint);
  CHECK(a.runtime_data == azure::runtimeDataJson(a.transfer.public_jwk));
  CHECK(a.report_data == azure::reportDataFor(a.runtime_data));
  const snp::SnpReport report = take(snp::SnpReport::parse(a.report));
  CHECK(encoding::hexEncode(report.report_data) == encoding::hexEncode(a.report_data));
  CHECK(a.maa.token == kMaaToken);
  CHECK(a.maa.hostdata == kHostData);
  CHECK(a.maa.attempts == 2);

  // What the attester was given: this report, its collateral, the transfer key's runtime data.
  const std::vector<FakeAttester::Call> calls = f.maa.calls();
  REQUIRE(calls.size() == 1);
  CHECK(calls[0].report == a.report);
  CHECK(calls[0].collateral_source == "thim:" + kThimUrl);
  CHECK(calls[0].runtime_data == a.runtime_data);
  CHECK(calls[0].report_data == a.report_data);
  CHECK(calls[0].nonce == std::optional<std::string>("nonce-1"));
  CHECK(calls[0].deadline == std::optional(deadline));

  REQUIRE(stepNames(f.events) == std::vector<std::string>{"report", "collateral", "maa"});
  CHECK(f.events[0].host.empty());
  CHECK(f.events[1].host == "imds.test:8080");
  CHECK(f.events[2].host == "maa.test");
  CHECK(f.events[2].attempts == 2);
  CHECK(f.events[2].duration == milliseconds(3000));
  for (const ProgressEvent& e : f.events) {
    CHECK(e.status.ok());
    CHECK(e.key.empty());
  }
}

TEST_CASE("evidence MAA rejects fails at step maa with exit code 4", "[release]") {
  Fixture f;
  const Status rejection = testing::scriptedMaaRejection("maa.test");
  f.maa.setError(rejection);
  ReleaseFlow flow = f.flow();
  StepResult<Attestation> result = flow.attest();
  REQUIRE(std::holds_alternative<StepFailure>(result));
  const StepFailure& failure = std::get<StepFailure>(result);
  CHECK(failure.step == Step::Attest);
  CHECK(failure.host == "maa.test");
  CHECK(failure.status == rejection);
  CHECK(exitCodeFor(failure) == ExitCode::Attestation);
  REQUIRE(stepNames(f.events) ==
          std::vector<std::string>{"transfer-key", "report", "collateral", "maa"});
  CHECK(f.events[0].status.ok());
  CHECK(f.events[3].status == failure.status);
}

TEST_CASE("a token that does not verify fails at step maa with exit code 9", "[release]") {
  Fixture f;
  ErrorDetails details;
  details.dependency = Dependency::Maa;
  details.cause = ErrorCause::Integrity;
  details.host = "maa.test";
  details.attempts = 1;
  f.maa.setError(dataLossError("MAA token signature").withDetails(details));
  ReleaseFlow flow = f.flow();
  StepResult<Attestation> result = flow.attest();
  REQUIRE(std::holds_alternative<StepFailure>(result));
  const StepFailure& failure = std::get<StepFailure>(result);
  CHECK(failure.step == Step::Attest);
  CHECK(failure.status.details() == details);
  CHECK(exitCodeFor(failure) == ExitCode::Integrity);
}

TEST_CASE("a report the device refuses fails at step report with exit code 3", "[release]") {
  Fixture f;
  ReleaseFlow::Options options;
  options.vmpl = 4;
  ReleaseFlow flow = f.flow(options);
  StepResult<Attestation> result = flow.attest();
  REQUIRE(std::holds_alternative<StepFailure>(result));
  const StepFailure& failure = std::get<StepFailure>(result);
  CHECK(failure.step == Step::Report);
  CHECK(failure.host.empty());
  CHECK_THAT(failure.status.message(), Catch::StartsWith("SNP report from emulated: "));
  CHECK(exitCodeFor(failure) == ExitCode::Platform);
  CHECK(stepNames(f.events) == std::vector<std::string>{"transfer-key", "report"});
  // THIM was asked while the transfer key was generated (it needs no report); its answer is
  // dropped: no collateral step, no MAA call.
  CHECK(f.transport->requestedUrls() == std::vector<std::string>{kThimUrl});
  CHECK(f.maa.calls().empty());
}

TEST_CASE("an unsupported transfer key size fails at step transfer-key", "[release]") {
  Fixture f;
  ReleaseFlow::Options options;
  options.transfer_key_bits = 1024;
  ReleaseFlow flow = f.flow(options);
  StepResult<Attestation> result = flow.attest();
  REQUIRE(std::holds_alternative<StepFailure>(result));
  CHECK(std::get<StepFailure>(result).step == Step::TransferKey);
  CHECK(exitCodeFor(std::get<StepFailure>(result)) == ExitCode::Platform);
  CHECK(stepNames(f.events) == std::vector<std::string>{"transfer-key"});
}

TEST_CASE("an unreachable THIM fails at step collateral naming its host", "[release]") {
  Fixture f;
  f.transport->setResponse(kThimUrl, 503, "");
  ReleaseFlow flow = f.flow();
  StepResult<Attestation> result = flow.attest();
  REQUIRE(std::holds_alternative<StepFailure>(result));
  const StepFailure& failure = std::get<StepFailure>(result);
  INFO(failure.status.toString());
  CHECK(failure.step == Step::Collateral);
  CHECK(failure.host == "imds.test:8080");
  CHECK(exitCodeFor(failure) == (failure.status.code() == StatusCode::Unavailable
                                     ? ExitCode::Unavailable
                                     : ExitCode::Platform));
  CHECK(f.events.back().host == "imds.test:8080");
  CHECK(f.maa.calls().empty());
}

TEST_CASE("release without a Key Vault client is FailedPrecondition at step release", "[release]") {
  Fixture f;
  ReleaseFlow flow = f.flow();
  const Attestation a = f.attestation(flow);
  StepResult<azure::ReleasedKey> released = flow.release(a, f.key);
  REQUIRE(std::holds_alternative<StepFailure>(released));
  const StepFailure& failure = std::get<StepFailure>(released);
  CHECK(failure.step == Step::Release);
  CHECK(failure.host == "vault.test");
  CHECK(failure.status.code() == StatusCode::FailedPrecondition);
  CHECK(exitCodeFor(failure) == ExitCode::Usage);
  CHECK(f.events.back().key == "k1");
  CHECK(f.events.back().step == Step::Release);
}

TEST_CASE("a release presents the attestation's token and transfer key and reports the key",
          "[release]") {
  Fixture f;
  f.vault.setAnswer([&f](const FakeKeyReleaser::Call&) -> StatusOr<azure::ReleasedKey> {
    f.clock.advance(milliseconds(1500));
    azure::ReleasedKey k{take(jose::Jwk::fromOctet(
                             SecretBytes::copyOf(asBytes("0123456789abcdef0123456789abcdef")))),
                         "https://vault.test/keys/k1/v7",
                         "v7",
                         "vault.test",
                         "oct-HSM",
                         azure::KeyExportEnc::RsaAesKeyWrap256,
                         2};
    return k;
  });
  ReleaseFlow flow = f.flow({}, &f.vault);
  const Attestation a = f.attestation(flow);
  const auto deadline = f.clock.steadyNow() + seconds(30);
  StepResult<azure::ReleasedKey> released = flow.release(a, f.key, deadline);
  if (auto* failure = std::get_if<StepFailure>(&released)) FAIL(failure->status.toString());
  const azure::ReleasedKey& k = std::get<azure::ReleasedKey>(released);
  CHECK(k.kid == "https://vault.test/keys/k1/v7");
  CHECK(k.attempts == 2);

  const std::vector<FakeKeyReleaser::Call> calls = f.vault.calls();
  REQUIRE(calls.size() == 1);
  CHECK(calls[0].key.vault_url == "https://vault.test");
  CHECK(calls[0].key.name == "k1");
  CHECK(calls[0].maa_token == kMaaToken);
  CHECK(calls[0].transfer_thumbprint == a.transfer.public_jwk.thumbprint());
  CHECK(calls[0].deadline == std::optional(deadline));

  const ProgressEvent& done = f.events.back();
  CHECK(done.step == Step::Release);
  CHECK(done.key == "k1");
  CHECK(done.host == "vault.test");
  CHECK(done.attempts == 2);
  CHECK(done.duration == milliseconds(1500));
  CHECK(done.status.ok());
}

TEST_CASE("a release AKV denies names this platform's hostdata and maps to exit code 6",
          "[release]") {
  Fixture f;
  const Status denial = testing::scriptedVaultFailure(VaultFailure::PolicyDenied, "vault.test");
  f.vault.setError(denial);
  ReleaseFlow flow = f.flow({}, &f.vault);
  const Attestation a = f.attestation(flow);
  StepResult<azure::ReleasedKey> released = flow.release(a, f.key);
  REQUIRE(std::holds_alternative<StepFailure>(released));
  const StepFailure& failure = std::get<StepFailure>(released);
  CHECK(failure.step == Step::Release);
  CHECK(failure.host == "vault.test");
  CHECK(failure.status.code() == StatusCode::PermissionDenied);
  CHECK(failure.status.details() == denial.details());
  std::string hostdata = kHostData;
  for (char& c : hostdata) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  CHECK(failure.status.message() ==
        denial.message() + "; this platform's x-ms-sevsnpvm-hostdata is " + hostdata +
            "; the key's release policy must require it (skrctl hostdata / az confcom)");
  CHECK_THAT(failure.status.message(), !Catch::Contains(a.maa.token));
  CHECK(exitCodeFor(failure) == ExitCode::ReleaseDenied);
  const ProgressEvent& last = f.events.back();
  CHECK(last.step == Step::Release);
  CHECK(last.key == "k1");
  CHECK(last.host == "vault.test");
  CHECK(last.status == failure.status);
}

TEST_CASE("a key the vault does not have maps to exit code 7 without the hostdata hint",
          "[release]") {
  Fixture f;
  const Status not_found = testing::scriptedVaultFailure(VaultFailure::KeyNotFound, "vault.test");
  f.vault.setError(not_found);
  ReleaseFlow flow = f.flow({}, &f.vault);
  const Attestation a = f.attestation(flow);
  StepResult<azure::ReleasedKey> released = flow.release(a, f.key);
  REQUIRE(std::holds_alternative<StepFailure>(released));
  const StepFailure& failure = std::get<StepFailure>(released);
  CHECK(failure.status == not_found);
  CHECK_THAT(failure.status.message(), !Catch::Contains("hostdata"));
  CHECK(exitCodeFor(failure) == ExitCode::KeyNotFound);
}

TEST_CASE("a vault that stays unavailable maps to exit code 8 with the attempts in the event",
          "[release]") {
  Fixture f;
  f.vault.setError(testing::scriptedVaultFailure(VaultFailure::RetriesExhausted, "vault.test"));
  ReleaseFlow flow = f.flow({}, &f.vault);
  const Attestation a = f.attestation(flow);
  StepResult<azure::ReleasedKey> released = flow.release(a, f.key);
  REQUIRE(std::holds_alternative<StepFailure>(released));
  CHECK(exitCodeFor(std::get<StepFailure>(released)) == ExitCode::Unavailable);
  const int attempts = testing::scriptedVaultFailure(VaultFailure::RetriesExhausted, "vault.test")
                           .details()
                           .attempts;
  CHECK(attempts > 1);
  CHECK(f.events.back().attempts == attempts);
}

TEST_CASE("an MAA token expiring within 60 s is not presented to the vault", "[release]") {
  Fixture f;
  f.maa.setToken(f.token(seconds(59)));
  ReleaseFlow flow = f.flow({}, &f.vault);
  const Attestation a = f.attestation(flow);
  StepResult<azure::ReleasedKey> released = flow.release(a, f.key);
  REQUIRE(std::holds_alternative<StepFailure>(released));
  const StepFailure& failure = std::get<StepFailure>(released);
  CHECK(failure.step == Step::Attest);
  CHECK(failure.host == "maa.test");
  CHECK(failure.status.code() == StatusCode::FailedPrecondition);
  CHECK_THAT(failure.status.message(), Catch::StartsWith("MAA token expires in 59 s"));
  CHECK(f.vault.calls().empty());
}

// ---- exit codes, hosts and attempts do not depend on the wording of messages ----

// What a failure decides: everything but the message.
struct Outcome {
  Step step;
  ExitCode code;
  std::string host;        // StepFailure::host
  std::string event_host;  // the last progress event's
  int attempts;            // the last progress event's
  ErrorDetails details;    // what skr-init's hints and the agent's answers read
  std::string message;
};

template <typename T>
Outcome outcomeOf(const StepResult<T>& result, const std::vector<ProgressEvent>& events) {
  REQUIRE(std::holds_alternative<StepFailure>(result));
  const StepFailure& failure = std::get<StepFailure>(result);
  REQUIRE_FALSE(events.empty());
  return {failure.step,
          exitCodeFor(failure),
          failure.host,
          events.back().host,
          events.back().attempts,
          failure.status.details(),
          failure.status.message()};
}

// The failure scenarios skr-init meets, each from a fresh fixture. MAA and the vault answer with
// the failures their clients return (tests/unit/azure checks those against the wire); the
// collateral comes from the real provider over a fake THIM.
const std::map<std::string, std::function<Outcome()>>& failureScenarios() {
  auto releaseFailing = [](VaultFailure failure) {
    return [failure] {
      Fixture f;
      f.vault.setError(testing::scriptedVaultFailure(failure, "vault.test"));
      ReleaseFlow flow = f.flow({}, &f.vault);
      const Attestation a = f.attestation(flow);
      return outcomeOf(flow.release(a, f.key), f.events);
    };
  };
  static const std::map<std::string, std::function<Outcome()>> scenarios = [&] {
    std::map<std::string, std::function<Outcome()>> out = {
        {"MAA rejection",
         [] {
           Fixture f;
           f.maa.setError(testing::scriptedMaaRejection("maa.test"));
           ReleaseFlow flow = f.flow();
           return outcomeOf(flow.attest(), f.events);
         }},
        {"collateral unreachable",
         [] {
           Fixture f;
           f.transport->setResponse(kThimUrl, 404, "");
           ReleaseFlow flow = f.flow();
           return outcomeOf(flow.attest(), f.events);
         }},
    };
    for (const VaultFailure failure : testing::allVaultFailures()) {
      out.emplace(std::string(testing::vaultFailureName(failure)), releaseFailing(failure));
    }
    return out;
  }();
  return scenarios;
}

TEST_CASE("exit codes, hosts, attempts and details do not move when every message is reworded",
          "[release]") {
  const std::map<std::string, std::pair<ExitCode, ErrorCause>> expected = {
      {"identity failure", {ExitCode::Identity, ErrorCause::Identity}},
      {"MAA rejection", {ExitCode::Attestation, ErrorCause::AttestationRejected}},
      {"collateral unreachable", {ExitCode::Unavailable, ErrorCause::Transport}},
      {"policy denied", {ExitCode::ReleaseDenied, ErrorCause::PolicyDenied}},
      {"role missing", {ExitCode::ReleaseDenied, ErrorCause::RoleMissing}},
      {"key not found", {ExitCode::KeyNotFound, ErrorCause::Unspecified}},
      {"transport deadline", {ExitCode::Unavailable, ErrorCause::Transport}},
      {"retries exhausted", {ExitCode::Unavailable, ErrorCause::Transport}},
      {"integrity", {ExitCode::Integrity, ErrorCause::Integrity}},
  };
  REQUIRE(failureScenarios().size() == expected.size());
  for (const auto& [name, run] : failureScenarios()) {
    INFO(name);
    const Outcome plain = run();
    const Outcome other = [&run] {
      testing::ScopedRewording rewording;
      return run();
    }();
    INFO(plain.message);
    CHECK_THAT(other.message, Catch::StartsWith(std::string(testing::kRewordedPrefix)));
    CHECK(plain.code == expected.at(name).first);
    CHECK(plain.details.cause == expected.at(name).second);
    CHECK(other.step == plain.step);
    CHECK(other.code == plain.code);
    CHECK(other.host == plain.host);
    CHECK(other.event_host == plain.event_host);
    CHECK(other.attempts == plain.attempts);
    CHECK(other.details == plain.details);
  }
}

TEST_CASE("progress events take hosts and attempts from the error details", "[release]") {
  const auto& scenarios = failureScenarios();
  const Outcome collateral = scenarios.at("collateral unreachable")();
  CHECK(collateral.event_host == "imds.test:8080");
  CHECK(collateral.details.dependency == Dependency::Collateral);
  CHECK(collateral.details.http_status == 404);
  const Outcome exhausted = scenarios.at("retries exhausted")();
  CHECK(exhausted.event_host == "vault.test");
  CHECK(exhausted.attempts > 1);
  CHECK(exhausted.attempts == exhausted.details.attempts);
  const Outcome deadline = scenarios.at("transport deadline")();
  CHECK(deadline.attempts == 1);
  CHECK(deadline.details.http_status == 503);
  const Outcome role = scenarios.at("role missing")();
  CHECK(role.details ==
        testing::scriptedVaultFailure(VaultFailure::RoleMissing, "vault.test").details());
  const Outcome identity = scenarios.at("identity failure")();
  CHECK(identity.event_host == "vault.test");
  CHECK(identity.attempts == 1);
}

}  // namespace
}  // namespace skr::release
