#include "agent/events.h"

#include <algorithm>
#include <utility>

#include "common/encoding/json_writer.h"

namespace skr::agent {

std::string_view eventTypeName(EventType type) {
  switch (type) {
    case EventType::Rotated: return "rotated";
    case EventType::Ready: return "ready";
    case EventType::Released: return "released";
  }
  return "unknown";
}

uint64_t firstSeqFromClock(SystemTime now) {
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
  return micros > 0 ? static_cast<uint64_t>(micros) : 1;
}

EventLog::EventLog(std::size_t capacity, uint64_t first_seq)
    : capacity_(capacity == 0 ? 1 : capacity),
      first_seq_(first_seq == 0 ? 1 : first_seq),
      last_seq_(first_seq_ - 1) {}

uint64_t EventLog::publish(EventType type, std::string key, std::string version, SystemTime time) {
  uint64_t seq = 0;
  {
    std::lock_guard lock(mutex_);
    seq = ++last_seq_;
    events_.push_back({seq, type, std::move(key), std::move(version), time});
    while (events_.size() > capacity_) events_.pop_front();
  }
  changed_.notify_all();
  return seq;
}

EventBatch EventLog::collect(uint64_t after) const {
  EventBatch batch;
  batch.next = std::min(after, last_seq_);
  if (!events_.empty()) {
    // after = 0 asks for everything this process kept: only its own drops count.
    const uint64_t expected_front = after == 0 ? first_seq_ : after + 1;
    batch.truncated = expected_front < events_.front().seq;
  }
  for (const AgentEvent& event : events_) {
    if (event.seq <= after) continue;
    batch.events.push_back(event);
    batch.next = event.seq;
  }
  return batch;
}

EventBatch EventLog::collectFrom(uint64_t after) const {
  if (after <= last_seq_) return collect(after);
  EventBatch batch = collect(0);
  batch.truncated = true;
  return batch;
}

EventBatch EventLog::after(uint64_t after) const {
  std::lock_guard lock(mutex_);
  return collectFrom(after);
}

EventBatch EventLog::waitAfter(uint64_t after, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  // A cursor beyond the log comes from an earlier agent process whose clock ran ahead of ours:
  // everything kept is new to it.
  if (after > last_seq_) return collectFrom(after);
  changed_.wait_for(lock, timeout, [&] { return closed_ || last_seq_ > after; });
  return collectFrom(after);
}

void EventLog::close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  changed_.notify_all();
}

uint64_t EventLog::lastSeq() const {
  std::lock_guard lock(mutex_);
  return last_seq_;
}

std::string eventBatchJson(const EventBatch& batch) {
  json::Writer out;
  out.beginObject().key("events").beginArray();
  for (const AgentEvent& event : batch.events) {
    out.beginObject()
        .member("seq", event.seq)
        .member("type", eventTypeName(event.type))
        .member("key", event.key)
        .member("version", event.version)
        .member("time", formatRfc3339(event.time))
        .endObject();
  }
  out.endArray().member("next", batch.next);
  if (batch.truncated) out.member("truncated", true);
  out.endObject();
  return out.take();
}

}  // namespace skr::agent
