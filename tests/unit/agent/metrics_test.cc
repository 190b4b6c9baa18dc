// AgentMetrics exposition: the counters and gauges DESIGN.md §10 names, in Prometheus text format.
#include "agent/metrics.h"

#include <catch2/catch.hpp>
#include <chrono>

#include "agent/keyring.h"

namespace skr::agent {
namespace {

bool has(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

TEST_CASE("metrics render request counts, retries by step and token expiry timestamps",
          "[agent][metrics]") {
  AgentMetrics metrics;
  Keyring keyring;
  metrics.recordRequest("unwrapkey", "ok", 0.0004);
  metrics.recordRequest("unwrapkey", "ok", 0.003);
  metrics.recordRequest("unwrapkey", "BadParameter", 0.0001);
  metrics.recordRetries("maa", 2);
  metrics.recordRetries("maa", 1);
  metrics.recordRetries("release", 0);  // no retry: nothing recorded
  const auto expiry = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));
  metrics.setTokenExpirySource([&] {
    return std::vector<std::pair<std::string, std::chrono::system_clock::time_point>>{
        {"maa", expiry}, {"entra", expiry + std::chrono::seconds(60)}};
  });

  const std::string text = metrics.render(keyring, true, false);
  INFO(text);
  CHECK(has(text, "skr_requests_total{op=\"unwrapkey\",outcome=\"ok\"} 2"));
  CHECK(has(text, "skr_requests_total{op=\"unwrapkey\",outcome=\"BadParameter\"} 1"));
  CHECK(has(text, "skr_request_duration_seconds_bucket{op=\"unwrapkey\",le=\"0.0005\"} 2"));
  CHECK(has(text, "skr_request_duration_seconds_count{op=\"unwrapkey\"} 3"));
  CHECK(has(text, "skr_dependency_retries_total{step=\"maa\"} 3"));
  CHECK(text.find("skr_dependency_retries_total{step=\"release\"}") == std::string::npos);
  CHECK(has(text, "skr_token_expiry_timestamp_seconds{token=\"maa\"} 1800000000"));
  CHECK(has(text, "skr_token_expiry_timestamp_seconds{token=\"entra\"} 1800000060"));
  CHECK(has(text, "skr_ready 1"));
  CHECK(has(text, "skr_keys_loaded 0"));
}

TEST_CASE("metrics without a token source render no token gauge samples", "[agent][metrics]") {
  AgentMetrics metrics;
  Keyring keyring;
  const std::string text = metrics.render(keyring, false, true);
  CHECK(text.find("skr_token_expiry_timestamp_seconds{") == std::string::npos);
  CHECK(has(text, "# TYPE skr_token_expiry_timestamp_seconds gauge"));
  CHECK(has(text, "skr_emulated 1"));
}

}  // namespace
}  // namespace skr::agent
