// Retry policy for calls to Azure dependencies (IMDS, Entra ID, MAA, Key Vault):
//  - retryable: transport failures of an attempt (Unavailable, DeadlineExceeded) and the statuses
//    in RetryPolicy::retryable_statuses (408, 429, 500, 502, 503, 504 by default); anything else,
//    including other 4xx, is final;
//  - delay: full-jitter exponential backoff, uniform in [0, min(cap, base * 2^(retry-1))], or the
//    server's Retry-After (delta-seconds or HTTP-date, RFC 9110 §10.2.3) capped at
//    max_retry_after;
//  - limits: an attempt budget and an overall deadline covering attempts and sleeps.
// retryDelay() is a pure function; sendWithRetry() is the thin loop that sleeps through an
// injected Clock, so tests never sleep.
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/clock.h"
#include "common/core/status.h"
#include "common/http/http_transport.h"

namespace skr::http {

struct BackoffParams {
  std::chrono::milliseconds base{500};
  std::chrono::milliseconds cap{10'000};
  std::chrono::milliseconds max_retry_after{60'000};
};

struct RetryPolicy {
  std::string dependency = "HTTP";  // named in messages and logs: "IMDS", "Entra ID", ...
  int max_attempts = 4;             // attempt budget, >= 1
  BackoffParams backoff;
  std::chrono::milliseconds overall_deadline{60'000};  // attempts and sleeps together
  std::vector<int> retryable_statuses{408, 429, 500, 502, 503, 504};
};

// Source of jitter: values uniform in [0, 1). Implementations are thread-safe.
class JitterSource {
 public:
  virtual ~JitterSource() = default;
  virtual double next() = 0;
};

// A std::mt19937_64 seeded from std::random_device (jitter need not be unpredictable, only spread).
class RandomJitter : public JitterSource {
 public:
  RandomJitter();
  double next() override;

 private:
  std::mutex mutex_;
  std::mt19937_64 engine_;
};

// The delay before retry number `retry` (1 = before the second attempt). With `retry_after` set:
// that value clamped to [0, params.max_retry_after]; else full jitter as above, using one value
// of `jitter`. Pure: the same inputs and jitter value give the same delay.
std::chrono::milliseconds retryDelay(int retry, const BackoffParams& params, JitterSource& jitter,
                                     std::optional<std::chrono::milliseconds> retry_after);

// Parses a Retry-After value: delta-seconds ("120") or an HTTP-date (IMF-fixdate, RFC 850 or
// asctime form) relative to `now` (a date in the past gives 0). nullopt when it is neither.
std::optional<std::chrono::milliseconds> parseRetryAfter(std::string_view value,
                                                         std::chrono::system_clock::time_point now);

bool isRetryableStatus(const RetryPolicy& policy, int status);
// Transport failures worth another attempt: Unavailable, DeadlineExceeded.
bool isRetryableError(const Status& status);

// Why sendWithRetry stopped: the answer was final, or it gave up on a retryable one.
enum class RetryStop : uint8_t { Final, AttemptBudget, Deadline };

struct RetriedResponse {
  HttpResponse response;  // the last response; its status may be an error status
  int attempts = 0;
  RetryStop stop = RetryStop::Final;
  // "" when the last response was final; else why retrying stopped ("gave up after 4 attempts
  // (attempt budget)"), for the caller's error message. Decisions read `stop`.
  std::string gave_up;
};

// The details of a failure after `attempts` requests to `url`: cause Transport, the URL's host,
// the attempts. The dependency is left for the client to name.
ErrorDetails transportFailure(const std::string& url, int attempts, int http_status = 0);

// `status` of a request to `url`, attributed: its details name `dependency`, the URL's host and
// `cause` (Unspecified keeps the cause it has); the other detail fields are kept.
Status failedRequest(const Status& status, Dependency dependency, std::string_view url,
                     ErrorCause cause = ErrorCause::Unspecified);

// Sends `request` until it gets a final response, the attempt budget is spent or the overall
// deadline would pass; each attempt's timeout is the request's, shortened to the time left.
// Returns the last response (see RetriedResponse), or the last transport error with context
// "<dependency>: gave up after N attempts (...)" / "<dependency>: attempt N" and the details of
// transportFailure() (DeadlineExceeded when the deadline passed before any attempt).
StatusOr<RetriedResponse> sendWithRetry(HttpTransport& transport, const HttpRequest& request,
                                        const RetryPolicy& policy, Clock& clock,
                                        JitterSource& jitter);

}  // namespace skr::http
