// RetryingDevice: a busy guest-request channel (Unavailable) is asked again with backoff within
// the policy's budget and deadline; every other error is final on the first answer.
#include "common/snp/retrying_device.h"

#include <catch2/catch.hpp>
#include <deque>
#include <memory>
#include <mutex>

#include "tests/fakes/fake_clock.h"

namespace skr::snp {
namespace {

using std::chrono::milliseconds;

class HalfJitter : public http::JitterSource {
 public:
  double next() override { return 0.5; }
};

// Answers each request with the next scripted error, then succeeds; counts the calls.
class ScriptedDevice : public SnpDevice {
 public:
  explicit ScriptedDevice(std::deque<Status> errors) : errors_(std::move(errors)) {}
  std::string_view name() const override { return "scripted"; }
  StatusOr<Bytes> getReport(const std::array<uint8_t, 64>& report_data, uint32_t) const override {
    if (Status error = nextError(); !error.ok()) return error;
    return Bytes(report_data.begin(), report_data.end());
  }
  StatusOr<SecretBytes> getDerivedKey(const DerivedKeyRequest&) const override {
    if (Status error = nextError(); !error.ok()) return error;
    return SecretBytes(32);
  }
  StatusOr<ExtendedReport> getExtendedReport(const std::array<uint8_t, 64>&,
                                             uint32_t) const override {
    if (Status error = nextError(); !error.ok()) return error;
    return ExtendedReport{Bytes(1184, 0), {}};
  }
  int calls() const {
    std::lock_guard lock(mutex_);
    return calls_;
  }

 private:
  Status nextError() const {
    std::lock_guard lock(mutex_);
    ++calls_;
    if (errors_.empty()) return okStatus();
    Status next = errors_.front();
    errors_.pop_front();
    return next;
  }
  mutable std::mutex mutex_;
  mutable std::deque<Status> errors_;
  mutable int calls_ = 0;
};

http::RetryPolicy policy(int attempts, milliseconds overall = milliseconds(60'000)) {
  http::RetryPolicy p;
  p.dependency = "SNP device";
  p.max_attempts = attempts;
  p.backoff.base = milliseconds(100);
  p.backoff.cap = milliseconds(2'000);
  p.overall_deadline = overall;
  return p;
}

Status busy() {
  return unavailableError("/dev/sev-guest (SNP guest driver): VMM error 2 (busy)");
}

TEST_CASE("RetryingDevice: a busy channel is asked again with backoff until it answers", "[snp]") {
  auto inner = std::make_shared<ScriptedDevice>(std::deque<Status>{busy(), busy()});
  testing::FakeClock clock;
  HalfJitter jitter;
  RetryingDevice device(inner, policy(4), clock, jitter);
  CHECK(device.name() == "scripted");

  std::array<uint8_t, 64> data{};
  data[0] = 0x5a;
  StatusOr<Bytes> report = device.getReport(data, 0);
  REQUIRE(report.ok());
  CHECK((*report)[0] == 0x5a);
  CHECK(inner->calls() == 3);
  // Full jitter at 0.5: half of base * 2^(retry-1).
  CHECK(clock.sleeps() == std::vector<milliseconds>{milliseconds(50), milliseconds(100)});
}

TEST_CASE("RetryingDevice: derived keys and extended reports are retried the same way", "[snp]") {
  testing::FakeClock clock;
  HalfJitter jitter;
  auto keys = std::make_shared<ScriptedDevice>(std::deque<Status>{busy()});
  RetryingDevice key_device(keys, policy(3), clock, jitter);
  StatusOr<SecretBytes> key = key_device.getDerivedKey(DerivedKeyRequest{});
  REQUIRE(key.ok());
  CHECK(key->size() == 32);
  CHECK(keys->calls() == 2);

  auto reports = std::make_shared<ScriptedDevice>(std::deque<Status>{busy()});
  RetryingDevice report_device(reports, policy(3), clock, jitter);
  CHECK(report_device.getExtendedReport({}, 0).ok());
  CHECK(reports->calls() == 2);
}

TEST_CASE("RetryingDevice: it gives up after the attempt budget with the last error", "[snp]") {
  auto inner = std::make_shared<ScriptedDevice>(std::deque<Status>{busy(), busy(), busy(), busy()});
  testing::FakeClock clock;
  HalfJitter jitter;
  RetryingDevice device(inner, policy(3), clock, jitter);
  StatusOr<SecretBytes> key = device.getDerivedKey(DerivedKeyRequest{});
  REQUIRE_FALSE(key.ok());
  CHECK(key.status().code() == StatusCode::Unavailable);
  CHECK_THAT(key.status().message(),
             Catch::Contains("SNP device: gave up after 3 attempts (attempt budget)") &&
                 Catch::Contains("VMM error 2 (busy)"));
  CHECK(inner->calls() == 3);
  CHECK(clock.sleeps().size() == 2);
}

TEST_CASE("RetryingDevice: it stops before a backoff would pass the overall deadline", "[snp]") {
  auto inner = std::make_shared<ScriptedDevice>(std::deque<Status>{busy(), busy(), busy()});
  testing::FakeClock clock;
  HalfJitter jitter;
  // The first backoff (50 ms) fits in 120 ms, the second (100 ms more) does not.
  RetryingDevice device(inner, policy(10, milliseconds(120)), clock, jitter);
  StatusOr<Bytes> report = device.getReport({}, 0);
  REQUIRE_FALSE(report.ok());
  CHECK_THAT(report.status().message(),
             Catch::Contains("gave up after 2 attempts (overall deadline 120 ms"));
  CHECK(inner->calls() == 2);
}

TEST_CASE("RetryingDevice: errors other than busy are final at once", "[snp]") {
  testing::FakeClock clock;
  HalfJitter jitter;
  for (const Status& error :
       {failedPreconditionError("/dev/sev-guest: firmware error 0x16 (invalid key)"),
        failedPreconditionError("/dev/sev-guest: ioctl failed: ENOTTY; reboot the guest"),
        internalError("/dev/sev-guest: ioctl failed: EIO")}) {
    auto inner = std::make_shared<ScriptedDevice>(std::deque<Status>{error});
    RetryingDevice device(inner, policy(4), clock, jitter);
    StatusOr<SecretBytes> key = device.getDerivedKey(DerivedKeyRequest{});
    REQUIRE_FALSE(key.ok());
    CHECK(key.status().code() == error.code());
    CHECK(key.status().message() == error.message());
    CHECK(inner->calls() == 1);
  }
  CHECK(clock.sleeps().empty());
}

TEST_CASE("RetryingDevice: a final error after a busy answer says which attempt it was", "[snp]") {
  auto inner = std::make_shared<ScriptedDevice>(
      std::deque<Status>{busy(), failedPreconditionError("firmware error 0x27")});
  testing::FakeClock clock;
  HalfJitter jitter;
  RetryingDevice device(inner, policy(4), clock, jitter);
  StatusOr<Bytes> report = device.getReport({}, 0);
  REQUIRE_FALSE(report.ok());
  CHECK(report.status().code() == StatusCode::FailedPrecondition);
  CHECK_THAT(report.status().message(),
             Catch::Contains("SNP device: attempt 2") && Catch::Contains("firmware error 0x27"));
}

}  // namespace
}  // namespace skr::snp
