#include "agent/events.h"

#include <algorithm>
#include <utility>

#include "common/json/json_string.h"

namespace skr::agent {

std::string_view eventTypeName(EventType type) {
  switch (type) {
    case EventType::Rotated: return "rotated";
    case EventType::Ready: return "ready";
    case EventType::Released: return "released";
  }
  return "unknown";
}

EventLog::EventLog(std::size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

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
  if (!events_.empty() && after + 1 < events_.front().seq) batch.truncated = true;
  for (const AgentEvent& event : events_) {
    if (event.seq <= after) continue;
    batch.events.push_back(event);
    batch.next = event.seq;
  }
  return batch;
}

EventBatch EventLog::after(uint64_t after) const {
  std::lock_guard lock(mutex_);
  return collect(after > last_seq_ ? 0 : after);
}

EventBatch EventLog::waitAfter(uint64_t after, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  // A cursor beyond the log comes from before an agent restart: everything kept is new to it.
  if (after > last_seq_) return collect(0);
  changed_.wait_for(lock, timeout, [&] { return closed_ || last_seq_ > after; });
  return collect(after);
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
  std::string out = "{\"events\":[";
  bool first = true;
  for (const AgentEvent& event : batch.events) {
    if (!first) out += ",";
    first = false;
    out += "{\"seq\":" + std::to_string(event.seq) + ",\"type\":";
    json::appendQuoted(out, eventTypeName(event.type));
    out += ",\"key\":";
    json::appendQuoted(out, event.key);
    out += ",\"version\":";
    json::appendQuoted(out, event.version);
    out += ",\"time\":";
    json::appendQuoted(out, formatRfc3339(event.time));
    out += "}";
  }
  out += "],\"next\":" + std::to_string(batch.next);
  if (batch.truncated) out += ",\"truncated\":true";
  out += "}";
  return out;
}

}  // namespace skr::agent
