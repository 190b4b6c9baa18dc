// Fault injection (the admin API's /_emulator/faults): "for the next N requests matching a rule,
// misbehave like this". Pure logic plus a mutex: the server adapter asks take() once per request
// before routing and carries out the returned action. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/core/status.h"
#include "common/json/json.h"
#include "emulator/pattern.h"

namespace skr::emulator {

enum class FaultKind {
  Status,       // answer `status` (+ Retry-After when retry_after is set) instead of the handler
  Delay,        // wait delay_ms, then handle normally
  Close,        // close the connection without any response
  Truncate,     // handle, then send only the first half of the body (Content-Length stays full)
  Corrupt,      // handle, then flip bits in the body (same length)
  WrongKey,     // handle with Request::sign_with_wrong_key set
  SlowBody,     // handle, send the headers and half the body, wait delay_ms, then send the rest
  ContentType,  // handle, then answer with Content-Type `content_type` instead of the handler's
};
std::string_view faultKindName(FaultKind kind);
StatusOr<FaultKind> faultKindFromName(std::string_view name);

inline constexpr int kMaxFaultCount = 10000;
inline constexpr int kMaxFaultDelayMs = 120'000;
inline constexpr std::size_t kMaxFaultRules = 256;
inline constexpr std::size_t kMaxFaultContentType = 256;
inline constexpr const char* kDefaultFaultContentType = "text/html; charset=utf-8";

struct FaultRule {
  int64_t id = 0;
  std::optional<std::string> listener;     // any listener when unset (never "admin")
  std::optional<std::string> method;       // any method when unset
  std::optional<std::string> path_prefix;  // "path": prefix of the request path
  std::optional<std::string> path_regex;   // "path_regex": ECMAScript regex, whole-path match
  int remaining = 1;                       // "count"
  FaultKind kind = FaultKind::Status;
  int status = 503;
  std::optional<int> retry_after_seconds;
  int delay_ms = 0;
  std::string body;          // status action: body; empty = a CloudError
  std::string content_type;  // content_type action: the Content-Type sent

  // Parses the admin API's JSON; InvalidArgument naming the member.
  static StatusOr<FaultRule> fromJson(const json::ObjectPtr& object);
  json::ObjectPtr toJson() const;
};

// What the server must do for one request.
struct FaultAction {
  int64_t rule_id = 0;
  FaultKind kind = FaultKind::Status;
  int status = 503;
  std::optional<int> retry_after_seconds;
  int delay_ms = 0;
  std::string body;
  std::string content_type;
};

class FaultInjector {
 public:
  // Adds a rule (id assigned here). ResourceExhausted past kMaxFaultRules live rules.
  StatusOr<int64_t> add(FaultRule rule);
  // The first live rule matching the request (rules in insertion order), consuming one count; a
  // rule whose count reaches 0 is removed. nullopt: behave normally.
  std::optional<FaultAction> take(const std::string& listener, const std::string& method,
                                  const std::string& path);
  std::vector<FaultRule> list() const;
  void clear();

 private:
  struct Live {
    FaultRule rule;
    std::optional<Pattern> regex;
  };
  mutable std::mutex mutex_;
  std::vector<Live> rules_;
  int64_t next_id_ = 1;
};

// Flips bits in the middle of `body` so that the bytes differ but the length does not. A
// deterministic pattern: tests assert "differs", clients see broken JSON or signatures.
void corruptBody(std::string& body);

}  // namespace skr::emulator
