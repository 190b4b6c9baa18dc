// GET /events?after=N[&timeout=S] (router.h): the long poll on the agent's event log. A waiting
// poll holds one server worker, so at most `max_waiters` wait at once; past that a poll that
// would have to wait is 429 Throttled. Only events of the caller's keys (and agent-wide ones) are
// returned. Thread-safe.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>

#include "agent/events.h"
#include "agent/routes.h"
#include "common/core/status.h"

namespace skr::agent {

class EventHandler {
 public:
  static constexpr int kDefaultTimeoutSeconds = 30;
  static constexpr int kMaxTimeoutSeconds = 60;

  EventHandler(int max_waiters, int retry_after_seconds)
      : max_waiters_(max_waiters), retry_after_seconds_(retry_after_seconds) {}

  // The log polls read (unset: 501).
  void setEventLog(std::shared_ptr<EventLog> events);

  StatusOr<HttpResponse> poll(const RouteCall& call);

 private:
  std::shared_ptr<EventLog> eventLog() const;

  const int max_waiters_;
  const int retry_after_seconds_;
  mutable std::mutex mutex_;  // guards events_
  std::shared_ptr<EventLog> events_;
  std::atomic<int> waiters_{0};
};

}  // namespace skr::agent
