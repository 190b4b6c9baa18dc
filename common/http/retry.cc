#include "common/http/retry.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "common/core/time_limits.h"
#include "common/http/url.h"
#include "common/log/logger.h"

namespace skr::http {
namespace {

using std::chrono::milliseconds;

int monthIndex(const char* name) {
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (int i = 0; i < 12; ++i) {
    if (std::strcmp(name, kMonths[i]) == 0) return i;
  }
  return -1;
}

// IMF-fixdate, RFC 850 and asctime forms (RFC 9110 §5.6.7), all GMT. The whole text must match.
std::optional<std::time_t> parseHttpDate(std::string_view value) {
  if (value.size() < 20 || value.size() > 40) return std::nullopt;
  const std::string text(value);
  char weekday[16] = {};
  char month[4] = {};
  int day = 0;
  int year = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
  int consumed = 0;
  bool matched = false;
  // NOLINTBEGIN(cert-err34-c): each field is range-checked below and %n proves full consumption.
  if (std::sscanf(text.c_str(), "%3[A-Za-z], %2d %3[A-Za-z] %4d %2d:%2d:%2d GMT%n", weekday, &day,
                  month, &year, &hour, &minute, &second, &consumed) == 7 &&
      static_cast<std::size_t>(consumed) == text.size()) {
    matched = true;
  } else if (std::sscanf(text.c_str(), "%15[A-Za-z], %2d-%3[A-Za-z]-%2d %2d:%2d:%2d GMT%n", weekday,
                         &day, month, &year, &hour, &minute, &second, &consumed) == 7 &&
             static_cast<std::size_t>(consumed) == text.size()) {
    year += year < 70 ? 2000 : 1900;  // RFC 9110: interpret two-digit years within 50 years
    matched = true;
  } else if (std::sscanf(text.c_str(), "%3[A-Za-z] %3[A-Za-z] %2d %2d:%2d:%2d %4d%n", weekday,
                         month, &day, &hour, &minute, &second, &year, &consumed) == 7 &&
             static_cast<std::size_t>(consumed) == text.size()) {
    matched = true;
  }
  // NOLINTEND(cert-err34-c)
  if (!matched) return std::nullopt;
  const int mon = monthIndex(month);
  if (mon < 0 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60 || year < 1970 ||
      year > 9999 || hour < 0 || minute < 0 || second < 0) {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = mon;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  return timegm(&tm);
}

std::string describeOutcome(const StatusOr<HttpResponse>& result) {
  if (result.ok()) return "HTTP " + std::to_string(result->status);
  return std::string(statusCodeName(result.status().code()));
}

}  // namespace

RandomJitter::RandomJitter() : engine_(std::random_device{}()) {}

double RandomJitter::next() {
  std::lock_guard<std::mutex> lock(mutex_);
  return std::uniform_real_distribution<double>(0.0, 1.0)(engine_);
}

milliseconds retryDelay(int retry, const BackoffParams& params, JitterSource& jitter,
                        std::optional<milliseconds> retry_after) {
  if (retry_after.has_value()) {
    return std::clamp(*retry_after, milliseconds(0), params.max_retry_after);
  }
  const int64_t base = std::max<int64_t>(params.base.count(), 0);
  const int64_t cap = std::max<int64_t>(params.cap.count(), 0);
  // base * 2^(retry-1), saturating at cap without overflow.
  int64_t ceiling = base;
  for (int i = 1; i < retry && ceiling < cap; ++i) ceiling *= 2;
  ceiling = std::min(ceiling, cap);
  double u = jitter.next();
  if (!(u >= 0.0)) u = 0.0;  // also NaN
  if (u >= 1.0) u = std::nextafter(1.0, 0.0);
  const auto delay = static_cast<int64_t>(std::floor(u * static_cast<double>(ceiling + 1)));
  return milliseconds(std::min(delay, ceiling));
}

std::optional<milliseconds> parseRetryAfter(std::string_view value,
                                            std::chrono::system_clock::time_point now) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (value.size() > 9) return milliseconds(999'999'999LL * 1000);  // absurd: the cap applies
    int64_t seconds = 0;
    for (char c : value) seconds = seconds * 10 + (c - '0');
    return milliseconds(seconds * 1000);
  }
  const std::optional<std::time_t> date = parseHttpDate(value);
  if (!date.has_value()) return std::nullopt;
  // A date past kLatestEpochSeconds would overflow system_clock: absurd, like an over-long delta,
  // so the cap applies.
  if (*date >= kLatestEpochSeconds) return milliseconds(999'999'999LL * 1000);
  const auto at = std::chrono::system_clock::from_time_t(*date);
  if (at <= now) return milliseconds(0);
  return std::chrono::duration_cast<milliseconds>(at - now);
}

bool isRetryableStatus(const RetryPolicy& policy, int status) {
  return std::find(policy.retryable_statuses.begin(), policy.retryable_statuses.end(), status) !=
         policy.retryable_statuses.end();
}

bool isRetryableError(const Status& status) {
  return status.code() == StatusCode::Unavailable || status.code() == StatusCode::DeadlineExceeded;
}

ErrorDetails transportFailure(const std::string& url, int attempts, int http_status) {
  ErrorDetails details;
  details.cause = ErrorCause::Transport;
  details.host = std::string(http::urlAuthority(url));
  details.http_status = http_status;
  details.attempts = attempts;
  return details;
}

Status failedRequest(const Status& status, Dependency dependency, std::string_view url,
                     ErrorCause cause) {
  ErrorDetails details = status.details();
  details.dependency = dependency;
  details.host = std::string(http::urlAuthority(url));
  if (cause != ErrorCause::Unspecified) details.cause = cause;
  return status.withDetails(std::move(details));
}

StatusOr<RetriedResponse> sendWithRetry(HttpTransport& transport, const HttpRequest& request,
                                        const RetryPolicy& policy, Clock& clock,
                                        JitterSource& jitter) {
  const int budget = std::max(policy.max_attempts, 1);
  const auto deadline = clock.steadyNow() + policy.overall_deadline;
  std::optional<StatusOr<HttpResponse>> last;
  std::string stop_reason;
  RetryStop stop = RetryStop::Deadline;
  int attempt = 0;
  HttpRequest this_attempt = request;  // one copy: only the timeout changes between attempts
  // The copy holds the caller's credentials (Authorization, a token in the body): wiped on return.
  struct WipeCopy {
    HttpRequest& request;
    ~WipeCopy() { wipeRequest(request); }
  } wipe_copy{this_attempt};
  while (true) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - clock.steadyNow());
    if (left.count() <= 0) {
      stop_reason = "overall deadline " + std::to_string(policy.overall_deadline.count()) + " ms";
      break;
    }
    ++attempt;
    this_attempt.timeout = std::min(request.timeout, left);
    last.emplace(transport.send(this_attempt));
    const bool retryable =
        last->ok() ? isRetryableStatus(policy, (*last)->status) : isRetryableError(last->status());
    if (!retryable) {
      if (last->ok()) {
        return RetriedResponse{std::move(*last).value(), attempt, RetryStop::Final, ""};
      }
      return last->status()
          .withContext(policy.dependency + ": attempt " + std::to_string(attempt))
          .withDetails(transportFailure(request.url, attempt));
    }
    if (attempt >= budget) {
      stop_reason = "attempt budget";
      stop = RetryStop::AttemptBudget;
      break;
    }
    std::optional<milliseconds> retry_after;
    if (last->ok()) {
      const std::string header = (*last)->header("Retry-After");
      if (!header.empty()) retry_after = parseRetryAfter(header, clock.now());
    }
    const milliseconds delay = retryDelay(attempt, policy.backoff, jitter, retry_after);
    if (clock.steadyNow() + delay >= deadline) {
      stop_reason = "overall deadline " + std::to_string(policy.overall_deadline.count()) +
                    " ms would pass during a " + std::to_string(delay.count()) + " ms backoff";
      break;
    }
    log::warning("http_retry", {{"dependency", policy.dependency},
                                {"attempt", attempt},
                                {"outcome", describeOutcome(*last)},
                                {"delay_ms", static_cast<int64_t>(delay.count())}});
    clock.sleepFor(delay);
  }
  const std::string gave_up = "gave up after " + std::to_string(attempt) +
                              (attempt == 1 ? " attempt (" : " attempts (") + stop_reason + ")";
  if (!last.has_value()) {
    return deadlineExceededError(policy.dependency + ": " + gave_up)
        .withDetails(transportFailure(request.url, attempt));
  }
  if (last->ok()) return RetriedResponse{std::move(*last).value(), attempt, stop, gave_up};
  return last->status()
      .withContext(policy.dependency + ": " + gave_up)
      .withDetails(transportFailure(request.url, attempt));
}

}  // namespace skr::http
