// The release flow's concurrency (DESIGN.md §3 "Overlap"): the transfer key is generated while
// the collateral that needs no report (THIM) is fetched and the vaults' access tokens are
// requested (TokenPrefetch). The overlap is proved without timing: the key generator waits, with
// a timeout, until the THIM request and the token request have started, so a sequential flow
// fails the test at its transfer-key step. Failures keep the sequential flow's step, exit code
// and message, and the other branch's result is discarded.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cinttypes>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>

#include "common/json/json.h"
#include "common/release/release_flow.h"
#include "common/release/token_prefetch.h"
#include "common/snp/emulated_chip.h"
#include "common/snp/report.h"
#include "tests/fakes/fake_attester.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_http_transport.h"

namespace skr::release {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;
using testing::FakeAttester;
using testing::FakeClock;
using testing::FakeHttpTransport;

const std::string kThimUrl = "http://imds.test:8080/metadata/THIM/amd/certification";
const std::string kVaultResource = "https://vault.azure.net";
// How long the generator waits for the other branch: far longer than it needs when concurrent.
constexpr seconds kOverlapTimeout{10};

template <typename T>
T take(StatusOr<T> s) {
  INFO(s.status().toString());
  REQUIRE(s.ok());
  return std::move(s).value();
}

struct ChipDir {
  std::string path;
  ChipDir() {
    std::string templ = (fs::temp_directory_path() / "skr-flow-overlap-XXXXXX").string();
    if (::mkdtemp(templ.data()) == nullptr) std::abort();
    path = templ + "/chip";
  }
  ~ChipDir() {
    std::error_code ec;
    fs::remove_all(fs::path(path).parent_path(), ec);
  }
};
const snp::EmulatedDevice& device() {
  static ChipDir dir;
  static const std::unique_ptr<snp::EmulatedDevice> d = take(snp::EmulatedDevice::open(dir.path));
  return *d;
}

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

// What has started, for the waiting key generator.
class Started {
 public:
  void note(const std::string& what) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      started_.insert(what);
    }
    cv_.notify_all();
  }
  bool waitFor(const std::set<std::string>& what) {
    std::unique_lock<std::mutex> lock(mutex_);
    return cv_.wait_for(lock, kOverlapTimeout, [&] {
      for (const std::string& w : what) {
        if (started_.count(w) == 0) return false;
      }
      return true;
    });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::set<std::string> started_;
};

// A transport that notes each request's URL as started, then answers from FakeHttpTransport.
class NotingTransport : public FakeHttpTransport {
 public:
  explicit NotingTransport(Started& started) : started_(started) {}
  StatusOr<http::HttpResponse> send(const http::HttpRequest& request) override {
    started_.note(request.url);
    return FakeHttpTransport::send(request);
  }

 private:
  Started& started_;
};

// Tokens "token-for-<resource>", or `error`; notes "token:<resource>" when asked.
class NotingTokens : public azure::TokenProvider {
 public:
  explicit NotingTokens(Started& started) : started_(started) {}
  StatusOr<azure::AccessToken> token(const std::string& resource) override {
    started_.note("token:" + resource);
    std::lock_guard<std::mutex> lock(mutex_);
    ++calls[resource];
    if (!error.ok()) return error;
    const std::string text = "token-for-" + resource;
    azure::AccessToken t{SecretBytes(text.size()),
                         std::chrono::system_clock::now() + seconds(3600)};
    std::copy(text.begin(), text.end(), t.token.mutableView(grantSecretAccess()).begin());
    return t;
  }
  std::string describe() const override { return "noting tokens"; }
  void invalidate() override { ++invalidations; }

  std::mutex mutex_;
  std::map<std::string, int> calls;
  Status error;
  int invalidations = 0;

 private:
  Started& started_;
};

std::string tokenText(const azure::AccessToken& t) {
  return toString(t.token.view(grantSecretAccess()));
}

struct Fixture {
  Started started;
  std::shared_ptr<NotingTransport> transport = std::make_shared<NotingTransport>(started);
  FakeClock clock;
  std::unique_ptr<snp::CollateralProvider> collateral;
  FakeAttester maa{"https://maa.test"};
  std::vector<ProgressEvent> events;

  Fixture() {
    transport->setResponse(kThimUrl, 200, thimJson());
    snp::CollateralOptions o;
    o.use_security_context = false;
    o.use_kds = false;
    o.thim_url = kThimUrl;
    collateral = take(snp::CollateralProvider::create(transport, o));
    azure::MaaToken t;
    t.token = "scripted-maa-token";
    t.issuer = maa.endpoint();
    t.expires_at = clock.now() + seconds(28800);
    t.emulated = true;
    maa.setToken(t);
  }

  ReleaseFlow flow(TransferKeyGenerator generator) {
    ReleaseFlow::Options options;
    options.generate_transfer_key = std::move(generator);
    return ReleaseFlow(device(), *collateral, maa, nullptr, clock, options,
                       [this](const ProgressEvent& e) { events.push_back(e); });
  }

  // A generator that waits until everything in `what` has started, else fails.
  TransferKeyGenerator waitingFor(std::set<std::string> what) {
    return [this, what](int bits) -> StatusOr<azure::TransferKey> {
      if (!started.waitFor(what)) {
        return internalError(
            "sequential: the transfer key was generated before the other "
            "requests started");
      }
      return azure::TransferKey::generate(bits);
    };
  }

  std::vector<std::string> stepNames() const {
    std::vector<std::string> out;
    for (const ProgressEvent& e : events) out.emplace_back(stepName(e.step));
    return out;
  }
};

const StepFailure& failureOf(const StepResult<Attestation>& result) {
  REQUIRE(std::holds_alternative<StepFailure>(result));
  return std::get<StepFailure>(result);
}

TEST_CASE("attest fetches the THIM collateral while the transfer key is generated",
          "[release][overlap]") {
  Fixture f;
  ReleaseFlow flow = f.flow(f.waitingFor({kThimUrl}));
  StepResult<Attestation> result = flow.attest();
  if (auto* failure = std::get_if<StepFailure>(&result)) FAIL(failure->status.toString());
  // Reported in the sequential order, and THIM asked once.
  CHECK(f.stepNames() == std::vector<std::string>{"transfer-key", "report", "collateral", "maa"});
  CHECK(f.transport->requestedUrls() == std::vector<std::string>{kThimUrl});
  CHECK(std::get<Attestation>(result).transfer.private_key.bits() == 2048);
}

TEST_CASE("attest with an access-token prefetch overlaps the key, THIM and the token",
          "[release][overlap]") {
  Fixture f;
  NotingTokens inner(f.started);
  ReleaseFlow flow = f.flow({});
  // As runInit: the generation and the token prefetch start before the attestation.
  TransferKeyGeneration generation(2048, f.clock,
                                   f.waitingFor({kThimUrl, "token:" + kVaultResource}));
  TokenPrefetch tokens(inner, {kVaultResource, kVaultResource});
  StepResult<Attestation> result = flow.attest(generation);
  if (auto* failure = std::get_if<StepFailure>(&result)) FAIL(failure->status.toString());
  // The release then gets the prefetched token: the identity is asked once.
  CHECK(tokenText(take(tokens.token(kVaultResource))) == "token-for-" + kVaultResource);
  CHECK(inner.calls[kVaultResource] == 1);
  // Later calls go to the provider (its cache, in skr-init).
  CHECK(tokenText(take(tokens.token(kVaultResource))) == "token-for-" + kVaultResource);
  CHECK(inner.calls[kVaultResource] == 2);
}

TEST_CASE("a failed transfer key is the failure even when the prefetched THIM failed too",
          "[release][overlap]") {
  Fixture f;
  f.transport->setResponse(kThimUrl, 500, "{}");
  ReleaseFlow flow = f.flow([](int) -> StatusOr<azure::TransferKey> {
    return internalError("RSA key generation failed: no entropy");
  });
  StepResult<Attestation> result = flow.attest();
  const StepFailure& failure = failureOf(result);
  CHECK(failure.step == Step::TransferKey);
  CHECK(exitCodeFor(failure) == ExitCode::Platform);
  CHECK(failure.status.message() == "RSA key generation failed: no entropy");
  // Only the transfer key is reported; the THIM answer is dropped unseen.
  CHECK(f.stepNames() == std::vector<std::string>{"transfer-key"});
  CHECK(f.maa.calls().empty());
}

TEST_CASE("a THIM failure met while the key was generated fails the collateral step as before",
          "[release][overlap]") {
  auto run = [](bool overlapped) {
    Fixture f;
    f.transport->setResponse(kThimUrl, 503, "busy");
    ReleaseFlow flow = f.flow({});
    StepResult<Attestation> result =
        overlapped ? flow.attest()
                   : flow.attestWith(take(azure::TransferKey::generate(2048)));  // sequential
    const StepFailure failure = failureOf(result);
    CHECK(f.stepNames().back() == "collateral");
    CHECK(f.maa.calls().empty());
    return failure;
  };
  const StepFailure overlapped = run(true);
  const StepFailure sequential = run(false);
  CHECK(overlapped.step == Step::Collateral);
  CHECK(overlapped.host == sequential.host);
  CHECK(exitCodeFor(overlapped) == exitCodeFor(sequential));
  CHECK(exitCodeFor(overlapped) == ExitCode::Unavailable);
  CHECK(overlapped.status.toString() == sequential.status.toString());
}

TEST_CASE("the collateral prefetch asks nothing when collateral is cached", "[release][overlap]") {
  Fixture f;
  ReleaseFlow flow = f.flow({});
  REQUIRE(std::holds_alternative<Attestation>(flow.attest()));
  REQUIRE(f.transport->requestCount() == 1);
  // A second attestation (a rotation in the agent) uses the cache: no THIM request.
  REQUIRE(std::holds_alternative<Attestation>(flow.attest()));
  CHECK(f.transport->requestCount() == 1);
}

TEST_CASE("a token prefetch answers a failure once, as the provider gave it",
          "[release][overlap]") {
  Started started;
  NotingTokens inner(started);
  inner.error = unavailableError("IMDS: HTTP 503 (5 attempts)");
  {
    TokenPrefetch tokens(inner, {kVaultResource});
    StatusOr<azure::AccessToken> first = tokens.token(kVaultResource);
    CHECK(first.status().toString() == inner.error.toString());
    CHECK(inner.calls[kVaultResource] == 1);
    // The next call asks the provider again (a retry after the failure is the caller's choice).
    inner.error = Status();
    CHECK(tokenText(take(tokens.token(kVaultResource))) == "token-for-" + kVaultResource);
    CHECK(inner.calls[kVaultResource] == 2);
  }
  // invalidate() drops a prefetched answer that was not used yet, and the provider's tokens.
  TokenPrefetch tokens(inner, {std::string(azure::kManagedHsmResource)});
  tokens.invalidate();
  CHECK(inner.invalidations == 1);
  CHECK(inner.calls[std::string(azure::kManagedHsmResource)] == 1);
  REQUIRE(take(tokens.token(std::string(azure::kManagedHsmResource))).token.size() > 0);
  CHECK(inner.calls[std::string(azure::kManagedHsmResource)] == 2);
}

}  // namespace
}  // namespace skr::release
