#include "agent/metrics.h"

#include <charconv>
#include <system_error>

namespace skr::agent {
namespace {

// Label values are op names, error codes and reasons chosen by the agent; escaped anyway.
std::string label(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

// The shortest text that reads back as `v` ("0.0005", not "0.00050000000000000001").
std::string number(double v) {
  char buf[64];
  std::to_chars_result r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  if (r.ec != std::errc()) r = std::to_chars(buf, buf + sizeof buf, v);  // too long for fixed
  return std::string(buf, r.ptr);
}

}  // namespace

void AgentMetrics::recordRequest(std::string_view op, std::string_view outcome, double seconds) {
  std::lock_guard lock(mutex_);
  ++requests_[{std::string(op), std::string(outcome)}];
  Histogram& h = durations_[std::string(op)];
  ++h.count;
  h.sum += seconds;
  for (std::size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) {
      ++h.buckets[i];
      break;
    }
  }
}

void AgentMetrics::recordAuthFailure(std::string_view reason) {
  std::lock_guard lock(mutex_);
  ++auth_failures_[std::string(reason)];
}

void AgentMetrics::recordRelease(std::string_view reason, std::string_view outcome) {
  std::lock_guard lock(mutex_);
  ++releases_[{std::string(reason), std::string(outcome)}];
}

void AgentMetrics::recordRetries(std::string_view step, int retries) {
  if (retries <= 0) return;
  std::lock_guard lock(mutex_);
  retries_[std::string(step)] += static_cast<uint64_t>(retries);
}

void AgentMetrics::recordDataOpen(std::string_view result, uint64_t bytes) {
  std::lock_guard lock(mutex_);
  ++data_opens_[std::string(result)];
  data_open_bytes_ += bytes;
}

void AgentMetrics::setTokenExpirySource(TokenExpirySource source) {
  std::lock_guard lock(mutex_);
  token_expiry_ = std::move(source);
}

std::string AgentMetrics::render(const Keyring& keyring, bool ready, bool emulated) const {
  std::string out;
  TokenExpirySource token_expiry;
  {
    std::lock_guard lock(mutex_);
    out += "# HELP skr_requests_total Agent requests by operation and outcome.\n";
    out += "# TYPE skr_requests_total counter\n";
    for (const auto& [key, n] : requests_) {
      out += "skr_requests_total{op=\"" + label(key.first) + "\",outcome=\"" + label(key.second) +
             "\"} " + std::to_string(n) + "\n";
    }
    out += "# HELP skr_request_duration_seconds Time to answer a request, by operation.\n";
    out += "# TYPE skr_request_duration_seconds histogram\n";
    for (const auto& [op, h] : durations_) {
      const std::string l = "op=\"" + label(op) + "\"";
      uint64_t cumulative = 0;
      for (std::size_t i = 0; i < kBuckets.size(); ++i) {
        cumulative += h.buckets[i];
        out += "skr_request_duration_seconds_bucket{" + l + ",le=\"" + number(kBuckets[i]) +
               "\"} " + std::to_string(cumulative) + "\n";
      }
      out += "skr_request_duration_seconds_bucket{" + l + ",le=\"+Inf\"} " +
             std::to_string(h.count) + "\n";
      out += "skr_request_duration_seconds_sum{" + l + "} " + number(h.sum) + "\n";
      out += "skr_request_duration_seconds_count{" + l + "} " + std::to_string(h.count) + "\n";
    }
    out += "# HELP skr_auth_failures_total Refused callers by reason.\n";
    out += "# TYPE skr_auth_failures_total counter\n";
    for (const auto& [reason, n] : auth_failures_) {
      out +=
          "skr_auth_failures_total{reason=\"" + label(reason) + "\"} " + std::to_string(n) + "\n";
    }
    out += "# HELP skr_releases_total Key releases by the agent, by reason and outcome.\n";
    out += "# TYPE skr_releases_total counter\n";
    for (const auto& [key, n] : releases_) {
      out += "skr_releases_total{reason=\"" + label(key.first) + "\",outcome=\"" +
             label(key.second) + "\"} " + std::to_string(n) + "\n";
    }
    out += "# HELP skr_dependency_retries_total Extra attempts release steps needed, by step.\n";
    out += "# TYPE skr_dependency_retries_total counter\n";
    for (const auto& [step, n] : retries_) {
      out +=
          "skr_dependency_retries_total{step=\"" + label(step) + "\"} " + std::to_string(n) + "\n";
    }
    out += "# HELP skr_data_opens_total Encrypted objects opened by POST /data/open, by result.\n";
    out += "# TYPE skr_data_opens_total counter\n";
    for (const auto& [result, n] : data_opens_) {
      out += "skr_data_opens_total{result=\"" + label(result) + "\"} " + std::to_string(n) + "\n";
    }
    out += "# HELP skr_data_open_bytes_total Plaintext bytes streamed by POST /data/open.\n";
    out += "# TYPE skr_data_open_bytes_total counter\n";
    out += "skr_data_open_bytes_total " + std::to_string(data_open_bytes_) + "\n";
    token_expiry = token_expiry_;
  }
  // Outside the lock: the source takes its own locks.
  out += "# HELP skr_token_expiry_timestamp_seconds Unix time at which a cached token expires.\n";
  out += "# TYPE skr_token_expiry_timestamp_seconds gauge\n";
  if (token_expiry) {
    for (const auto& [token, expires] : token_expiry()) {
      const auto seconds =
          std::chrono::duration_cast<std::chrono::seconds>(expires.time_since_epoch()).count();
      out += "skr_token_expiry_timestamp_seconds{token=\"" + label(token) + "\"} " +
             std::to_string(seconds) + "\n";
    }
  }
  std::size_t keys_loaded = 0;
  std::size_t versions = 0;
  for (const auto& entry : keyring.entries()) {
    if (entry->primaryVersion() != nullptr) ++keys_loaded;
    versions += entry->versions.size();
  }
  out += "# HELP skr_keys_loaded Keys with a usable primary version.\n";
  out += "# TYPE skr_keys_loaded gauge\n";
  out += "skr_keys_loaded " + std::to_string(keys_loaded) + "\n";
  out += "# HELP skr_key_versions_loaded Key versions held in memory.\n";
  out += "# TYPE skr_key_versions_loaded gauge\n";
  out += "skr_key_versions_loaded " + std::to_string(versions) + "\n";
  out += "# HELP skr_ready 1 when every configured key is released and verified.\n";
  out += "# TYPE skr_ready gauge\n";
  out += std::string("skr_ready ") + (ready ? "1" : "0") + "\n";
  out += "# HELP skr_emulated 1 when the agent runs on the emulated platform (never production).\n";
  out += "# TYPE skr_emulated gauge\n";
  out += std::string("skr_emulated ") + (emulated ? "1" : "0") + "\n";
  return out;
}

}  // namespace skr::agent
