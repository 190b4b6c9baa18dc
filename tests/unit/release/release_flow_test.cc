#include "common/release/release_flow.h"

#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>

#include "common/encoding/base64.h"
#include "common/encoding/hex.h"
#include "common/jose/jws.h"
#include "common/snp/emulated_chip.h"
#include "common/snp/report.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_http_transport.h"
#include "tests/fakes/test_pki.h"

namespace skr::release {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::FakeClock;
using testing::FakeHttpTransport;
using testing::TestCa;

constexpr int64_t kNow = 1767225600;  // FakeClock's default: 2026-01-01T00:00:00Z
const std::string kMaa = "https://maa.test";
const std::string kAttestUrl = kMaa + "/attest/SevSnpVm?api-version=2022-08-01";
const std::string kCertsUrl = kMaa + "/certs";
const std::string kThimUrl = "http://imds.test:8080/metadata/THIM/amd/certification";
const std::string kKid = "maa-kid";

template <typename T>
T take(StatusOr<T> s) {
  INFO(s.status().toString());
  REQUIRE(s.ok());
  return std::move(s).value();
}

class ZeroJitter : public http::JitterSource {
 public:
  double next() override { return 0.0; }
};

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

const TestCa& maaSigner() {
  static const TestCa ca = [] {
    testing::CertificateProfile p = testing::profile(kMaa);
    p.key_type = testing::TestKeyType::Rsa2048;
    return TestCa::create(p);
  }();
  return ca;
}

const crypto::PrivateKey& transferPrivate() {
  static const crypto::PrivateKey key = take(crypto::PrivateKey::generateRsa(2048));
  return key;
}
azure::TransferKey transferKey() {
  return take(azure::TransferKey::fromPrivateKey(
      take(crypto::PrivateKey::fromPkcs8Der(transferPrivate().toPkcs8Der()))));
}

// An MAA token for `transfer` as the emulated MAA would issue it for the chip's report.
std::string maaToken(const azure::TransferKey& transfer, int64_t exp = kNow + 28800) {
  const std::string runtime = azure::runtimeDataJson(transfer.public_jwk);
  json::ObjectPtr c = new Poco::JSON::Object;
  c->set("iss", kMaa);
  c->set("iat", static_cast<Poco::Int64>(kNow));
  c->set("nbf", static_cast<Poco::Int64>(kNow));
  c->set("exp", static_cast<Poco::Int64>(exp));
  c->set("x-ms-attestation-type", "sevsnpvm");
  c->set("x-ms-runtime", json::parseObject(runtime).value());
  c->set("x-ms-sevsnpvm-reportdata", encoding::hexEncode(azure::reportDataFor(runtime)));
  c->set("x-ms-sevsnpvm-hostdata", encoding::hexEncode(device().chip().config().host_data));
  c->set("x-ms-emulated", true);
  json::ObjectPtr header = new Poco::JSON::Object;
  header->set("kid", kKid);
  header->set("typ", "JWT");
  const std::string payload = json::serializeCanonical(c).value();
  return take(
      jose::signJws(maaSigner().key(), jose::JwsAlgorithm::RS256, asBytes(payload), header));
}

struct Fixture {
  std::shared_ptr<FakeHttpTransport> transport = std::make_shared<FakeHttpTransport>();
  FakeClock clock;
  ZeroJitter jitter;
  std::unique_ptr<snp::CollateralProvider> collateral;
  std::unique_ptr<azure::MaaClient> maa;
  std::vector<ProgressEvent> events;

  Fixture() {
    transport->setResponse(kThimUrl, 200, thimJson());
    transport->setResponse(kCertsUrl, 200,
                           R"({"keys":[{"kid":")" + kKid + R"(","kty":"RSA","x5c":[")" +
                               encoding::base64Encode(maaSigner().certificate().der()) +
                               R"("]}]})");
    snp::CollateralOptions o;
    o.use_security_context = false;
    o.use_kds = false;
    o.thim_url = kThimUrl;
    collateral = take(snp::CollateralProvider::create(transport, o));
    azure::MaaOptions m;
    m.endpoint = kMaa;
    maa = take(azure::MaaClient::create(transport, clock, jitter, m));
  }

  ReleaseFlow flow(ReleaseFlow::Options options = {}, azure::KeyVaultClient* vault = nullptr) {
    return ReleaseFlow(device(), *collateral, *maa, vault, clock, options,
                       [this](const ProgressEvent& e) { events.push_back(e); });
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
  azure::TransferKey transfer = transferKey();
  f.transport->queueResponse(kAttestUrl, 429, "", {{"Retry-After", "3"}});
  f.transport->setResponse(kAttestUrl, 200, R"({"token":")" + maaToken(transfer) + "\"}");
  ReleaseFlow flow = f.flow();
  StepResult<Attestation> result = flow.attestWith(std::move(transfer));
  if (auto* failure = std::get_if<StepFailure>(&result)) FAIL(failure->status.toString());
  const Attestation& a = std::get<Attestation>(result);

  CHECK(a.platform == "emulated");
  CHECK(a.runtime_data == azure::runtimeDataJson(a.transfer.public_jwk));
  CHECK(a.report_data == azure::reportDataFor(a.runtime_data));
  const snp::SnpReport report = take(snp::SnpReport::parse(a.report));
  CHECK(encoding::hexEncode(report.report_data) == encoding::hexEncode(a.report_data));
  CHECK(a.maa.hostdata == encoding::hexEncode(device().chip().config().host_data));
  CHECK(a.maa.attempts == 2);

  REQUIRE(stepNames(f.events) == std::vector<std::string>{"report", "collateral", "maa"});
  CHECK(f.events[0].host.empty());
  CHECK(f.events[1].host == "imds.test:8080");
  CHECK(f.events[2].host == "maa.test");
  CHECK(f.events[2].attempts == 2);
  CHECK(f.events[2].duration == milliseconds(3000));  // the Retry-After sleep on the fake clock
  for (const ProgressEvent& e : f.events) {
    CHECK(e.status.ok());
    CHECK(e.key.empty());
  }
}

TEST_CASE("evidence MAA rejects fails at step maa with exit code 4", "[release]") {
  Fixture f;
  f.transport->setResponse(kAttestUrl, 400,
                           R"({"error":{"code":"InvalidParameter","message":"bad evidence"}})");
  ReleaseFlow flow = f.flow();
  StepResult<Attestation> result = flow.attest();
  REQUIRE(std::holds_alternative<StepFailure>(result));
  const StepFailure& failure = std::get<StepFailure>(result);
  CHECK(failure.step == Step::Attest);
  CHECK(failure.host == "maa.test");
  CHECK(failure.status.code() == StatusCode::PermissionDenied);
  CHECK_THAT(failure.status.message(), Catch::Contains("bad evidence"));
  CHECK(exitCodeFor(failure) == ExitCode::Attestation);
  REQUIRE(stepNames(f.events) ==
          std::vector<std::string>{"transfer-key", "report", "collateral", "maa"});
  CHECK(f.events[0].status.ok());
  CHECK(f.events[3].status == failure.status);
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
  CHECK(f.transport->requestCount() == 0);
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
  StepResult<Attestation> result = flow.attestWith(transferKey());
  REQUIRE(std::holds_alternative<StepFailure>(result));
  const StepFailure& failure = std::get<StepFailure>(result);
  INFO(failure.status.toString());
  CHECK(failure.step == Step::Collateral);
  CHECK(failure.host == "imds.test:8080");
  CHECK(exitCodeFor(failure) == (failure.status.code() == StatusCode::Unavailable
                                     ? ExitCode::Unavailable
                                     : ExitCode::Platform));
  CHECK(f.events.back().host == "imds.test:8080");
}

TEST_CASE("release without a Key Vault client is FailedPrecondition at step release", "[release]") {
  Fixture f;
  azure::TransferKey transfer = transferKey();
  f.transport->setResponse(kAttestUrl, 200, R"({"token":")" + maaToken(transfer) + "\"}");
  ReleaseFlow flow = f.flow();
  StepResult<Attestation> attested = flow.attestWith(std::move(transfer));
  REQUIRE(std::holds_alternative<Attestation>(attested));
  StepResult<azure::ReleasedKey> released =
      flow.release(std::get<Attestation>(attested), {"https://vault.test", "k1", ""});
  REQUIRE(std::holds_alternative<StepFailure>(released));
  const StepFailure& failure = std::get<StepFailure>(released);
  CHECK(failure.step == Step::Release);
  CHECK(failure.host == "vault.test");
  CHECK(failure.status.code() == StatusCode::FailedPrecondition);
  CHECK(f.events.back().key == "k1");
  CHECK(f.events.back().step == Step::Release);
}

// A Key Vault client over the fixture's fake transport with a literal access token.
struct VaultFixture : Fixture {
  azure::LiteralTokenProvider tokens{SecretBytes::copyOf(asBytes("opaque-access-token"))};
  std::unique_ptr<azure::KeyVaultClient> vault;
  const azure::VaultKeyRef key{"https://vault.test", "k1", ""};
  const std::string release_url = "https://vault.test/keys/k1/release?api-version=7.4";

  VaultFixture() {
    vault = take(azure::KeyVaultClient::create(transport, tokens, clock, jitter, {}));
  }

  Attestation attestation(ReleaseFlow& flow, int64_t exp = kNow + 28800) {
    azure::TransferKey transfer = transferKey();
    transport->setResponse(kAttestUrl, 200, R"({"token":")" + maaToken(transfer, exp) + "\"}");
    StepResult<Attestation> a = flow.attestWith(std::move(transfer));
    if (auto* failure = std::get_if<StepFailure>(&a)) FAIL(failure->status.toString());
    return std::move(std::get<Attestation>(a));
  }
};

TEST_CASE("a release AKV denies names this platform's hostdata and maps to exit code 6",
          "[release]") {
  VaultFixture f;
  ReleaseFlow flow = f.flow({}, f.vault.get());
  const Attestation a = f.attestation(flow);
  f.transport->setResponse(
      f.release_url, 403,
      R"({"error":{"code":"Forbidden","message":"Target environment attestation statement cannot be verified."}})");
  StepResult<azure::ReleasedKey> released = flow.release(a, f.key);
  REQUIRE(std::holds_alternative<StepFailure>(released));
  const StepFailure& failure = std::get<StepFailure>(released);
  CHECK(failure.step == Step::Release);
  CHECK(failure.host == "vault.test");
  CHECK(failure.status.code() == StatusCode::PermissionDenied);
  const std::string hostdata = encoding::hexEncode(device().chip().config().host_data);
  CHECK_THAT(failure.status.message(),
             Catch::EndsWith("; this platform's x-ms-sevsnpvm-hostdata is " + hostdata +
                             "; the key's release policy must require it (skrctl hostdata / az "
                             "confcom)"));
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
  VaultFixture f;
  ReleaseFlow flow = f.flow({}, f.vault.get());
  const Attestation a = f.attestation(flow);
  f.transport->setResponse(
      f.release_url, 404,
      R"({"error":{"code":"KeyNotFound","message":"A key with (name/id) k1 was not found"}})");
  StepResult<azure::ReleasedKey> released = flow.release(a, f.key);
  REQUIRE(std::holds_alternative<StepFailure>(released));
  const StepFailure& failure = std::get<StepFailure>(released);
  CHECK(failure.status.code() == StatusCode::NotFound);
  CHECK_THAT(failure.status.message(), !Catch::Contains("hostdata"));
  CHECK(exitCodeFor(failure) == ExitCode::KeyNotFound);
}

TEST_CASE("a vault that stays 503 maps to exit code 8 with the attempts in the event",
          "[release]") {
  VaultFixture f;
  ReleaseFlow flow = f.flow({}, f.vault.get());
  const Attestation a = f.attestation(flow);
  f.transport->setResponse(f.release_url, 503, "");
  StepResult<azure::ReleasedKey> released = flow.release(a, f.key);
  REQUIRE(std::holds_alternative<StepFailure>(released));
  CHECK(exitCodeFor(std::get<StepFailure>(released)) == ExitCode::Unavailable);
  CHECK(f.events.back().attempts == azure::KeyVaultOptions{}.retry.max_attempts);
}

TEST_CASE("an MAA token expiring within 60 s is not presented to the vault", "[release]") {
  VaultFixture f;
  ReleaseFlow flow = f.flow({}, f.vault.get());
  const Attestation a = f.attestation(flow, kNow + 59);
  f.transport->setResponse(f.release_url, 500, "");
  StepResult<azure::ReleasedKey> released = flow.release(a, f.key);
  REQUIRE(std::holds_alternative<StepFailure>(released));
  const StepFailure& failure = std::get<StepFailure>(released);
  CHECK(failure.step == Step::Attest);
  CHECK(failure.host == "maa.test");
  CHECK(failure.status.code() == StatusCode::FailedPrecondition);
  CHECK_THAT(failure.status.message(), Catch::StartsWith("MAA token expires in 59 s"));
  const std::vector<std::string> urls = f.transport->requestedUrls();
  CHECK(std::find(urls.begin(), urls.end(), f.release_url) == urls.end());
}

// ---- exit codes, hosts and attempts do not depend on the wording of messages ----

// A token provider that cannot get a token, as IMDS answering 400 would.
class NoTokenProvider : public azure::TokenProvider {
 public:
  StatusOr<azure::AccessToken> token(const std::string& resource) override {
    return invalidArgumentError("IMDS token for " + resource + ": HTTP 400 invalid_request");
  }
  std::string describe() const override { return "no token"; }
};

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

// The failure scenarios skr-init meets, each from a fresh fixture.
const std::map<std::string, std::function<Outcome()>>& failureScenarios() {
  auto releaseWith = [](std::function<void(VaultFixture&)> arrange,
                        std::optional<seconds> deadline = std::nullopt) {
    return [arrange = std::move(arrange), deadline] {
      VaultFixture f;
      ReleaseFlow flow = f.flow({}, f.vault.get());
      const Attestation a = f.attestation(flow);
      arrange(f);
      std::optional<std::chrono::steady_clock::time_point> until;
      if (deadline) until = f.clock.steadyNow() + *deadline;
      return outcomeOf(flow.release(a, f.key, until), f.events);
    };
  };
  auto denied = [](const std::string& code, const std::string& message) {
    return [code, message](VaultFixture& f) {
      f.transport->setResponse(f.release_url, 403,
                               R"({"error":{"code":"Forbidden","message":")" + message +
                                   R"(","innererror":{"code":")" + code + R"("}}})");
    };
  };
  static const std::map<std::string, std::function<Outcome()>> scenarios = {
      {"identity failure",
       [] {
         VaultFixture f;
         NoTokenProvider tokens;
         std::unique_ptr<azure::KeyVaultClient> vault =
             take(azure::KeyVaultClient::create(f.transport, tokens, f.clock, f.jitter, {}));
         ReleaseFlow flow = f.flow({}, vault.get());
         const Attestation a = f.attestation(flow);
         return outcomeOf(flow.release(a, f.key), f.events);
       }},
      {"MAA rejection",
       [] {
         Fixture f;
         f.transport->setResponse(
             kAttestUrl, 400, R"({"error":{"code":"InvalidParameter","message":"bad evidence"}})");
         ReleaseFlow flow = f.flow();
         return outcomeOf(flow.attest(), f.events);
       }},
      {"collateral unreachable",
       [] {
         Fixture f;
         f.transport->setResponse(kThimUrl, 404, "");
         ReleaseFlow flow = f.flow();
         return outcomeOf(flow.attestWith(transferKey()), f.events);
       }},
      {"policy denied", releaseWith(denied("AccessDenied", "claim 'x' does not match"))},
      {"role missing", releaseWith(denied("ForbiddenByRbac", "Caller is not authorized"))},
      {"key not found", releaseWith([](VaultFixture& f) {
         f.transport->setResponse(f.release_url, 404,
                                  R"({"error":{"code":"KeyNotFound","message":"no k1"}})");
       })},
      {"transport deadline",
       releaseWith(
           [](VaultFixture& f) {
             f.transport->setResponse(f.release_url, 503, "", {{"Retry-After", "30"}});
           },
           seconds(10))},
      {"retries exhausted", releaseWith([](VaultFixture& f) {
         f.transport->setError(f.release_url, unavailableError("connection refused"));
       })},
      {"integrity", releaseWith([](VaultFixture& f) {
         f.transport->setResponse(f.release_url, 200, R"({"value":"not-a-jws"})");
       })},
  };
  return scenarios;
}

std::string reworded(std::string_view message) {
  return "reworded#" + std::to_string(std::hash<std::string_view>{}(message));
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
  struct RestoreWording {
    ~RestoreWording() { skr::testing::setMessageRewriterForTest(nullptr); }
  } restore;
  for (const auto& [name, run] : failureScenarios()) {
    INFO(name);
    const Outcome plain = run();
    skr::testing::setMessageRewriterForTest(&reworded);
    const Outcome other = run();
    skr::testing::setMessageRewriterForTest(nullptr);
    INFO(plain.message);
    CHECK_THAT(other.message, Catch::StartsWith("reworded#"));
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
  CHECK(exhausted.attempts == azure::KeyVaultOptions{}.retry.max_attempts);
  CHECK(exhausted.details.attempts == exhausted.attempts);
  const Outcome deadline = scenarios.at("transport deadline")();
  CHECK(deadline.attempts == 1);
  CHECK(deadline.details.http_status == 503);
  const Outcome role = scenarios.at("role missing")();
  CHECK(role.details.service_code == "Forbidden/ForbiddenByRbac");
  CHECK(role.details.dependency == Dependency::KeyVault);
}

}  // namespace
}  // namespace skr::release
