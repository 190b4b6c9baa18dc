#include "agent/event_handler.h"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "agent/api_error.h"
#include "agent/key_json.h"

namespace skr::agent {
namespace {

// A non-negative decimal <= max, without sign or spaces.
std::optional<uint64_t> parseDecimal(std::string_view text, uint64_t max) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto digit = static_cast<uint64_t>(c - '0');
    if (value > (max - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

}  // namespace

void EventHandler::setEventLog(std::shared_ptr<EventLog> events) {
  std::lock_guard lock(mutex_);
  events_ = std::move(events);
}

std::shared_ptr<EventLog> EventHandler::eventLog() const {
  std::lock_guard lock(mutex_);
  return events_;
}

StatusOr<HttpResponse> EventHandler::poll(const RouteCall& call) {
  std::shared_ptr<EventLog> log = eventLog();
  if (log == nullptr) return unimplementedError("events are not wired in this agent");
  uint64_t after = 0;
  int timeout_seconds = kDefaultTimeoutSeconds;
  for (const auto& [name, value] : call.request.query) {
    if (name == "after") {
      std::optional<uint64_t> n = parseDecimal(value, UINT64_MAX);
      if (!n) return invalidArgumentError("query 'after' must be a sequence number");
      after = *n;
    } else if (name == "timeout") {
      std::optional<uint64_t> n = parseDecimal(value, kMaxTimeoutSeconds);
      if (!n) {
        return invalidArgumentError("query 'timeout' must be 0.." +
                                    std::to_string(kMaxTimeoutSeconds) + " seconds");
      }
      timeout_seconds = static_cast<int>(*n);
    }
  }
  // A poll with events to return, or timeout=0, is answered at once even past max_waiters_.
  EventBatch batch;
  if (waiters_.fetch_add(1) < max_waiters_) {
    batch = log->waitAfter(after, std::chrono::seconds(timeout_seconds));
  } else {
    batch = log->after(after);
    if (batch.events.empty() && !batch.truncated && timeout_seconds > 0) {
      waiters_.fetch_sub(1);
      return refuse(call.audit, {429,
                                 "Throttled",
                                 "too many /events polls are waiting (at most " +
                                     std::to_string(max_waiters_) + "); retry with backoff",
                                 "",
                                 {{"Retry-After", std::to_string(retry_after_seconds_)}}});
    }
  }
  waiters_.fetch_sub(1);
  std::erase_if(batch.events, [&](const AgentEvent& event) {
    return !event.key.empty() && !call.caller->allows(Operation::Events, event.key);
  });
  return jsonResponse(200, eventBatchJson(batch));
}

}  // namespace skr::agent
