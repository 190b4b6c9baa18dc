#include "common/http/retry.h"

#include <catch2/catch.hpp>
#include <random>

#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_http_transport.h"

namespace skr::http {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class FixedJitter : public JitterSource {
 public:
  explicit FixedJitter(double value) : value_(value) {}
  double next() override { return value_; }

 private:
  double value_;
};

class SeededJitter : public JitterSource {
 public:
  double next() override { return std::uniform_real_distribution<double>(0.0, 1.0)(engine_); }

 private:
  std::mt19937_64 engine_{42};
};

const std::string kUrl = "https://dep.example/op";

HttpRequest request() {
  HttpRequest r;
  r.url = kUrl;
  r.timeout = milliseconds(5'000);
  return r;
}

RetryPolicy policy() {
  RetryPolicy p;
  p.dependency = "Dep";
  p.max_attempts = 4;
  p.backoff = {milliseconds(100), milliseconds(1'000), milliseconds(30'000)};
  p.overall_deadline = milliseconds(60'000);
  return p;
}

TEST_CASE("retry delay is full jitter within [0, min(cap, base * 2^(retry-1))]") {
  const BackoffParams params{milliseconds(100), milliseconds(1'000), milliseconds(30'000)};
  FixedJitter low(0.0);
  FixedJitter high(0.999999999);
  FixedJitter half(0.5);
  CHECK(retryDelay(1, params, low, std::nullopt) == milliseconds(0));
  CHECK(retryDelay(1, params, high, std::nullopt) == milliseconds(100));
  CHECK(retryDelay(2, params, high, std::nullopt) == milliseconds(200));
  CHECK(retryDelay(3, params, high, std::nullopt) == milliseconds(400));
  CHECK(retryDelay(4, params, high, std::nullopt) == milliseconds(800));
  CHECK(retryDelay(5, params, high, std::nullopt) == milliseconds(1'000));  // capped
  CHECK(retryDelay(1000, params, high, std::nullopt) == milliseconds(1'000));
  CHECK(retryDelay(3, params, half, std::nullopt) == milliseconds(200));
  FixedJitter out_of_range(1.5);
  CHECK(retryDelay(2, params, out_of_range, std::nullopt) == milliseconds(200));
}

TEST_CASE("retry delays are spread over the whole jitter range") {
  const BackoffParams params{milliseconds(100), milliseconds(1'000), milliseconds(30'000)};
  SeededJitter jitter;
  milliseconds min_seen(1'000'000);
  milliseconds max_seen(0);
  int64_t sum = 0;
  constexpr int kSamples = 4000;
  for (int i = 0; i < kSamples; ++i) {
    const milliseconds d = retryDelay(4, params, jitter, std::nullopt);
    REQUIRE(d >= milliseconds(0));
    REQUIRE(d <= milliseconds(800));
    min_seen = std::min(min_seen, d);
    max_seen = std::max(max_seen, d);
    sum += d.count();
  }
  CHECK(min_seen < milliseconds(40));
  CHECK(max_seen > milliseconds(760));
  const double mean = static_cast<double>(sum) / kSamples;
  CHECK(mean > 370.0);
  CHECK(mean < 430.0);
}

TEST_CASE("Retry-After overrides the backoff and is capped") {
  const BackoffParams params{milliseconds(100), milliseconds(1'000), milliseconds(30'000)};
  FixedJitter jitter(0.5);
  CHECK(retryDelay(1, params, jitter, milliseconds(7'000)) == milliseconds(7'000));
  CHECK(retryDelay(1, params, jitter, milliseconds(90'000)) == milliseconds(30'000));
  CHECK(retryDelay(1, params, jitter, milliseconds(-5)) == milliseconds(0));
}

TEST_CASE("Retry-After parses delta-seconds and all three HTTP-date forms") {
  // 2026-01-01T00:00:00Z
  const auto now = std::chrono::system_clock::time_point(seconds(1767225600));
  CHECK(parseRetryAfter("120", now) == milliseconds(120'000));
  CHECK(parseRetryAfter(" 0 ", now) == milliseconds(0));
  CHECK(parseRetryAfter("Thu, 01 Jan 2026 00:00:30 GMT", now) == milliseconds(30'000));
  CHECK(parseRetryAfter("Thursday, 01-Jan-26 00:01:00 GMT", now) == milliseconds(60'000));
  CHECK(parseRetryAfter("Thu Jan  1 00:00:05 2026", now) == milliseconds(5'000));
  // A date past 2200 (system_clock ends in 2262) is absurd: the largest delay, then the cap.
  CHECK(parseRetryAfter("Thu, 01 Jan 3026 00:00:30 GMT", now) ==
        milliseconds(999'999'999LL * 1000));
  CHECK(parseRetryAfter("Wed, 31 Dec 2025 23:00:00 GMT", now) == milliseconds(0));  // past
  CHECK(*parseRetryAfter("99999999999999", now) > milliseconds(30'000));  // cap applies later
  CHECK_FALSE(parseRetryAfter("", now).has_value());
  CHECK_FALSE(parseRetryAfter("-5", now).has_value());
  CHECK_FALSE(parseRetryAfter("1.5", now).has_value());
  CHECK_FALSE(parseRetryAfter("soon", now).has_value());
  CHECK_FALSE(parseRetryAfter("Thu, 01 Foo 2026 00:00:30 GMT", now).has_value());
  CHECK_FALSE(parseRetryAfter("Thu, 01 Jan 2026 00:00:30 GMT trailing", now).has_value());
  CHECK_FALSE(parseRetryAfter("Thu, 01 Jan 2026 25:00:30 GMT", now).has_value());
}

TEST_CASE("500 twice then 200 succeeds after exactly 3 attempts") {
  testing::FakeHttpTransport transport;
  transport.queueResponse(kUrl, 500, "{}");
  transport.queueResponse(kUrl, 500, "{}");
  transport.setResponse(kUrl, 200, "ok");
  testing::FakeClock clock;
  FixedJitter jitter(0.999999);
  StatusOr<RetriedResponse> result = sendWithRetry(transport, request(), policy(), clock, jitter);
  REQUIRE(result.ok());
  CHECK(result->response.status == 200);
  CHECK(result->response.body == "ok");
  CHECK(result->attempts == 3);
  CHECK(result->gave_up.empty());
  CHECK(transport.requestCount() == 3);
  CHECK(clock.sleeps() == std::vector<milliseconds>{milliseconds(100), milliseconds(200)});
}

TEST_CASE("408, 429, 502, 503, 504 and transport failures are retried") {
  for (int status : {408, 429, 502, 503, 504}) {
    testing::FakeHttpTransport transport;
    transport.queueResponse(kUrl, status, "");
    transport.setResponse(kUrl, 200, "ok");
    testing::FakeClock clock;
    FixedJitter jitter(0.0);
    auto result = sendWithRetry(transport, request(), policy(), clock, jitter);
    REQUIRE(result.ok());
    CHECK(result->attempts == 2);
  }
  for (const Status& error : {unavailableError("reset"), deadlineExceededError("slow")}) {
    testing::FakeHttpTransport transport;
    transport.queueError(kUrl, error);
    transport.setResponse(kUrl, 200, "ok");
    testing::FakeClock clock;
    FixedJitter jitter(0.0);
    auto result = sendWithRetry(transport, request(), policy(), clock, jitter);
    REQUIRE(result.ok());
    CHECK(result->attempts == 2);
  }
}

TEST_CASE("other 4xx answers are final after one attempt") {
  for (int status : {400, 401, 403, 404, 409}) {
    testing::FakeHttpTransport transport;
    transport.setResponse(kUrl, status, "{\"error\":\"x\"}");
    testing::FakeClock clock;
    FixedJitter jitter(0.5);
    auto result = sendWithRetry(transport, request(), policy(), clock, jitter);
    REQUIRE(result.ok());
    CHECK(result->response.status == status);
    CHECK(result->attempts == 1);
    CHECK(result->gave_up.empty());
    CHECK(transport.requestCount() == 1);
    CHECK(clock.sleeps().empty());
  }
}

TEST_CASE("non-retryable transport errors are final and name the attempt") {
  testing::FakeHttpTransport transport;
  transport.setError(kUrl, resourceExhaustedError("too big"));
  testing::FakeClock clock;
  FixedJitter jitter(0.5);
  auto result = sendWithRetry(transport, request(), policy(), clock, jitter);
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().code() == StatusCode::ResourceExhausted);
  CHECK(result.status().message() == "Dep: attempt 1: too big");
  CHECK(transport.requestCount() == 1);
}

TEST_CASE("the attempt budget stops retries and the last response says so") {
  testing::FakeHttpTransport transport;
  transport.setResponse(kUrl, 503, "busy");
  testing::FakeClock clock;
  FixedJitter jitter(0.5);
  auto result = sendWithRetry(transport, request(), policy(), clock, jitter);
  REQUIRE(result.ok());
  CHECK(result->response.status == 503);
  CHECK(result->attempts == 4);
  CHECK(result->gave_up == "gave up after 4 attempts (attempt budget)");
  CHECK(transport.requestCount() == 4);
  CHECK(clock.sleeps().size() == 3);
}

TEST_CASE("the last transport error is returned with the number of attempts") {
  testing::FakeHttpTransport transport;
  transport.setError(kUrl, unavailableError("connection refused"));
  testing::FakeClock clock;
  FixedJitter jitter(0.5);
  RetryPolicy p = policy();
  p.max_attempts = 2;
  auto result = sendWithRetry(transport, request(), p, clock, jitter);
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().code() == StatusCode::Unavailable);
  CHECK(result.status().message() ==
        "Dep: gave up after 2 attempts (attempt budget): connection refused");
}

TEST_CASE("429 with Retry-After waits what the server asked, capped") {
  testing::FakeHttpTransport transport;
  transport.queueResponse(kUrl, 429, "", {{"Retry-After", "7"}});
  transport.queueResponse(kUrl, 429, "", {{"retry-after", "Thu, 01 Jan 2026 00:10:00 GMT"}});
  transport.setResponse(kUrl, 200, "ok");
  testing::FakeClock clock;  // 2026-01-01T00:00:00Z
  FixedJitter jitter(0.5);
  RetryPolicy p = policy();
  p.overall_deadline = milliseconds(600'000);
  auto result = sendWithRetry(transport, request(), p, clock, jitter);
  REQUIRE(result.ok());
  CHECK(result->attempts == 3);
  // The date is 593 s after the first sleep: capped at max_retry_after (30 s).
  CHECK(clock.sleeps() == std::vector<milliseconds>{milliseconds(7'000), milliseconds(30'000)});
}

TEST_CASE("the overall deadline stops retries before a sleep would pass it") {
  testing::FakeHttpTransport transport;
  transport.setResponse(kUrl, 503, "", {{"Retry-After", "20"}});
  testing::FakeClock clock;
  FixedJitter jitter(0.5);
  RetryPolicy p = policy();
  p.max_attempts = 10;
  p.overall_deadline = milliseconds(50'000);
  auto result = sendWithRetry(transport, request(), p, clock, jitter);
  REQUIRE(result.ok());
  CHECK(result->response.status == 503);
  CHECK(result->attempts == 3);  // t=0, t=20 s, t=40 s; a third 20 s sleep would pass 50 s
  CHECK(result->gave_up.find("gave up after 3 attempts (overall deadline 50000 ms") == 0);
}

TEST_CASE("each attempt's timeout is shortened to the time left") {
  testing::FakeHttpTransport transport;
  transport.setResponse(kUrl, 503, "", {{"Retry-After", "4"}});
  testing::FakeClock clock;
  FixedJitter jitter(0.5);
  RetryPolicy p = policy();
  p.overall_deadline = milliseconds(10'000);
  auto result = sendWithRetry(transport, request(), p, clock, jitter);
  REQUIRE(result.ok());
  const auto sent = transport.requests();
  REQUIRE(sent.size() == 3);
  CHECK(sent[0].timeout == milliseconds(5'000));
  CHECK(sent[1].timeout == milliseconds(5'000));
  CHECK(sent[2].timeout == milliseconds(2'000));
}

}  // namespace
}  // namespace skr::http
