#include "emulator/request_log.h"

#include <Poco/JSON/Object.h>

namespace skr::emulator {

void RequestLog::append(RequestLogEntry entry) {
  std::lock_guard lock(mutex_);
  entry.seq = next_seq_++;
  entries_.push_back(std::move(entry));
  while (entries_.size() > capacity_) entries_.pop_front();
}

std::vector<RequestLogEntry> RequestLog::entries(const std::string& listener) const {
  std::lock_guard lock(mutex_);
  std::vector<RequestLogEntry> out;
  for (const RequestLogEntry& e : entries_) {
    if (listener.empty() || e.listener == listener) out.push_back(e);
  }
  return out;
}

void RequestLog::clear() {
  std::lock_guard lock(mutex_);
  entries_.clear();
}

json::ObjectPtr RequestLog::toJson(const RequestLogEntry& e) {
  json::ObjectPtr o = new Poco::JSON::Object;
  o->set("seq", static_cast<Poco::Int64>(e.seq));
  o->set("time", e.time);
  o->set("listener", e.listener);
  o->set("method", e.method);
  o->set("path", e.path);
  o->set("status", e.status);
  if (!e.fault.empty()) o->set("fault", e.fault);
  o->set("duration_ms", static_cast<Poco::Int64>(e.duration_ms));
  return o;
}

}  // namespace skr::emulator
