#include "common/snp/retrying_device.h"

#include <algorithm>
#include <chrono>
#include <string>
#include <utility>

#include "common/log/logger.h"

namespace skr::snp {

using std::chrono::milliseconds;

RetryingDevice::RetryingDevice(std::shared_ptr<const SnpDevice> inner, http::RetryPolicy policy,
                               Clock& clock, http::JitterSource& jitter)
    : inner_(std::move(inner)), policy_(std::move(policy)), clock_(clock), jitter_(jitter) {}

template <typename T, typename Call>
StatusOr<T> RetryingDevice::withRetry(const char* what, const Call& call) const {
  const int budget = std::max(policy_.max_attempts, 1);
  const auto deadline = clock_.steadyNow() + policy_.overall_deadline;
  int attempt = 0;
  while (true) {
    ++attempt;
    StatusOr<T> result = call();
    if (result.ok() || result.status().code() != StatusCode::Unavailable) {
      if (!result.ok() && attempt > 1) {
        return result.status().withContext(policy_.dependency + ": attempt " +
                                           std::to_string(attempt));
      }
      return result;
    }
    std::string stop_reason;
    if (attempt >= budget) {
      stop_reason = "attempt budget";
    } else {
      const milliseconds delay = http::retryDelay(attempt, policy_.backoff, jitter_, std::nullopt);
      if (clock_.steadyNow() + delay >= deadline) {
        stop_reason = "overall deadline " + std::to_string(policy_.overall_deadline.count()) +
                      " ms would pass during a " + std::to_string(delay.count()) + " ms backoff";
      } else {
        log::warning("device_retry", {{"dependency", policy_.dependency},
                                      {"request", what},
                                      {"attempt", attempt},
                                      {"outcome", result.status().message()},
                                      {"delay_ms", static_cast<int64_t>(delay.count())}});
        clock_.sleepFor(delay);
        continue;
      }
    }
    return result.status().withContext(
        policy_.dependency + ": gave up after " + std::to_string(attempt) +
        (attempt == 1 ? " attempt (" : " attempts (") + stop_reason + ")");
  }
}

StatusOr<Bytes> RetryingDevice::getReport(const std::array<uint8_t, 64>& report_data,
                                          uint32_t vmpl) const {
  return withRetry<Bytes>("report", [&] { return inner_->getReport(report_data, vmpl); });
}

StatusOr<SecretBytes> RetryingDevice::getDerivedKey(const DerivedKeyRequest& request) const {
  return withRetry<SecretBytes>("derived key", [&] { return inner_->getDerivedKey(request); });
}

StatusOr<ExtendedReport> RetryingDevice::getExtendedReport(
    const std::array<uint8_t, 64>& report_data, uint32_t vmpl) const {
  return withRetry<ExtendedReport>("extended report",
                                   [&] { return inner_->getExtendedReport(report_data, vmpl); });
}

}  // namespace skr::snp
