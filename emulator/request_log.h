// The request log behind GET /_emulator/requests: listener, method, path (no query: it may carry
// identity ids), status, fault, time and duration. Never headers, tokens or bodies. A bounded ring
// (oldest entries dropped). Thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "common/json/json.h"

namespace skr::emulator {

struct RequestLogEntry {
  int64_t seq = 0;
  std::string time;  // RFC 3339 with milliseconds, UTC
  std::string listener;
  std::string method;
  std::string path;
  int status = 0;     // 0 when the connection was closed without a response
  std::string fault;  // fault action name, empty when none
  int64_t duration_ms = 0;
};

class RequestLog {
 public:
  explicit RequestLog(std::size_t capacity = 2000) : capacity_(capacity) {}
  void append(RequestLogEntry entry);
  // Entries in arrival order, optionally only one listener's ("" = all).
  std::vector<RequestLogEntry> entries(const std::string& listener = {}) const;
  void clear();
  static json::ObjectPtr toJson(const RequestLogEntry& entry);

 private:
  mutable std::mutex mutex_;
  std::size_t capacity_;
  std::deque<RequestLogEntry> entries_;
  int64_t next_seq_ = 1;
};

}  // namespace skr::emulator
