// The agent's Prometheus metrics (DESIGN.md §10), rendered in the text exposition format 0.0.4:
//   skr_requests_total{op,outcome}            counter; outcome "ok" or the error code; op "http"
//                                             for requests the HTTP server refused itself
//   skr_request_duration_seconds{op}          histogram
//   skr_auth_failures_total{reason}           counter (authFailureName)
//   skr_releases_total{reason,outcome}         counter: releases by the agent; reason "start",
//                                             "pending", "rotate", "scheduled"; outcome "ok" or
//                                             the failed step
//   skr_keys_loaded                           gauge: keys with a primary version
//   skr_key_versions_loaded                   gauge: versions held
//   skr_ready                                 gauge: 1 when every configured key is ready
//   skr_emulated                              gauge: 1 when the agent runs in emulation mode
//   skr_dependency_retries_total{step}        counter: extra attempts (retries) a release step
//                                             needed ("maa", "release", ...)
//   skr_data_opens_total{result}               counter: POST /data/open by result: "ok", the error
//                                             code answered before streaming, or "cut" (failed
//                                             or cancelled after streaming began)
//   skr_data_open_bytes_total                 counter: plaintext bytes streamed by /data/open
//   skr_token_expiry_timestamp_seconds{token} gauge: unix time at which the cached token
//                                             ("maa", "entra") expires; absent when none is
//                                             cached. Alert on `... - time() < 300`.
// Thread-safe (one mutex; a request updates it once).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/keyring.h"

namespace skr::agent {

class AgentMetrics {
 public:
  // Upper bounds of the duration histogram, in seconds.
  static constexpr std::array<double, 12> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                      0.05,   0.1,   0.25,   0.5,   1.0,  2.5};

  void recordRequest(std::string_view op, std::string_view outcome, double seconds);
  void recordAuthFailure(std::string_view reason);
  void recordRelease(std::string_view reason, std::string_view outcome);
  // `retries` = attempts - 1 of one release step; 0 records nothing.
  void recordRetries(std::string_view step, int retries);
  // One POST /data/open that ended with `result`, after streaming `bytes` of plaintext.
  void recordDataOpen(std::string_view result, uint64_t bytes);

  // Cached tokens and their expiry, asked for at each render (set once, before serving).
  using TokenExpirySource =
      std::function<std::vector<std::pair<std::string, std::chrono::system_clock::time_point>>()>;
  void setTokenExpirySource(TokenExpirySource source);

  // The whole exposition, with the gauges taken from `keyring` now.
  std::string render(const Keyring& keyring, bool ready, bool emulated) const;

 private:
  struct Histogram {
    std::array<uint64_t, kBuckets.size()> buckets{};  // non-cumulative counts
    uint64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, uint64_t> requests_;
  std::map<std::string, Histogram> durations_;
  std::map<std::string, uint64_t> auth_failures_;
  std::map<std::pair<std::string, std::string>, uint64_t> releases_;
  std::map<std::string, uint64_t> retries_;
  std::map<std::string, uint64_t> data_opens_;
  uint64_t data_open_bytes_ = 0;
  TokenExpirySource token_expiry_;
};

}  // namespace skr::agent
