// The agent's event log (DESIGN.md §6 `GET /events?after={seq}`, §7): rotation, readiness and
// release events with a sequence number, kept in a bounded history so a long-polling client that
// remembers the last `seq` it saw never misses an event still in the history.
// Thread safety: all methods may be called concurrently; waitAfter() blocks on a condition
// variable (real time; it is woken by publish() and by close()). No secrets: events carry names,
// versions and times only.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "common/core/rfc3339.h"

namespace skr::agent {

enum class EventType { Rotated, Ready, Released };
// "rotated", "ready", "released".
std::string_view eventTypeName(EventType type);

struct AgentEvent {
  uint64_t seq = 0;  // 1, 2, 3 ... in publication order
  EventType type = EventType::Ready;
  std::string key;      // key name ("" for the agent-wide "ready")
  std::string version;  // the version released / made primary ("" when none)
  SystemTime time;
};

// What a long poll returns: the events with seq > after (oldest first, at most the history), and
// the seq to pass as `after` next time.
struct EventBatch {
  std::vector<AgentEvent> events;
  uint64_t next = 0;
  bool truncated = false;  // events between `after` and the oldest kept one were dropped
};

class EventLog {
 public:
  static constexpr std::size_t kDefaultCapacity = 1000;
  explicit EventLog(std::size_t capacity = kDefaultCapacity);

  // Appends an event (assigning its seq) and wakes every waiter. Returns the seq.
  uint64_t publish(EventType type, std::string key, std::string version, SystemTime time);

  // Events with seq > after, without waiting (a cursor beyond the log: as after(0)).
  EventBatch after(uint64_t after) const;
  // Waits until an event with seq > after exists, close() is called, or `timeout` passed; then
  // as after(). An `after` beyond the last seq (a cursor from before an agent restart) returns
  // at once every event kept, as after(0).
  EventBatch waitAfter(uint64_t after, std::chrono::milliseconds timeout) const;

  // Wakes every waiter for good (the agent stops); later waits return at once.
  void close();

  uint64_t lastSeq() const;

 private:
  EventBatch collect(uint64_t after) const;  // mutex_ held

  const std::size_t capacity_;
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::deque<AgentEvent> events_;
  uint64_t last_seq_ = 0;
  bool closed_ = false;
};

// {"events":[{"seq","type","key","version","time"}...],"next":N[,"truncated":true]}
std::string eventBatchJson(const EventBatch& batch);

}  // namespace skr::agent
