// The agent's event log (DESIGN.md §6 `GET /events?after={seq}`, §7): rotation, readiness and
// release events with a sequence number, kept in a bounded history so a long-polling client that
// remembers the last `seq` it saw never misses an event still in the history. The agent starts its
// numbering at the microseconds since the Unix epoch of its start (firstSeqFromClock), so the
// numbers of a restarted agent are above every cursor a client kept from the one before: such a
// cursor gets every kept event, flagged `truncated` (events may have been missed: resync).
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
  uint64_t seq = 0;  // first_seq, first_seq + 1, ... in publication order
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
  // Events between `after` and the oldest kept one may be missing: they were dropped from the
  // history, or `after` is a cursor from an earlier agent process. Never set for after = 0 unless
  // this process dropped some.
  bool truncated = false;
};

// A first sequence number above any an earlier agent process can have used: microseconds since
// the Unix epoch (about 1.8e15, exact in a JSON double).
uint64_t firstSeqFromClock(SystemTime now);

class EventLog {
 public:
  static constexpr std::size_t kDefaultCapacity = 1000;
  // The first event gets `first_seq` (>= 1).
  explicit EventLog(std::size_t capacity = kDefaultCapacity, uint64_t first_seq = 1);

  // Appends an event (assigning its seq) and wakes every waiter. Returns the seq.
  uint64_t publish(EventType type, std::string key, std::string version, SystemTime time);

  // Events with seq > after, without waiting (a cursor beyond the log, i.e. a clock stepped back
  // between agent processes: as after(0)).
  EventBatch after(uint64_t after) const;
  // Waits until an event with seq > after exists, close() is called, or `timeout` passed; then
  // as after(). An `after` beyond the last seq returns at once every event kept, as after(0).
  EventBatch waitAfter(uint64_t after, std::chrono::milliseconds timeout) const;

  // Wakes every waiter for good (the agent stops); later waits return at once.
  void close();

  uint64_t lastSeq() const;

 private:
  EventBatch collect(uint64_t after) const;  // mutex_ held
  // collect(), and for a cursor beyond the log every kept event, truncated. mutex_ held.
  EventBatch collectFrom(uint64_t after) const;

  const std::size_t capacity_;
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::deque<AgentEvent> events_;
  const uint64_t first_seq_;
  uint64_t last_seq_;
  bool closed_ = false;
};

// {"events":[{"seq","type","key","version","time"}...],"next":N[,"truncated":true]}
std::string eventBatchJson(const EventBatch& batch);

}  // namespace skr::agent
