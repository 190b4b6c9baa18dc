#include "common/log/logger.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

#include "common/core/warnings.h"
#include "common/encoding/json_writer.h"

namespace skr::log {
namespace {

std::mutex& sinkMutex() {
  static std::mutex m;
  return m;
}

// stderr is unbuffered: one fwrite is one write(2), so the line and its newline go out together
// (the agent writes an audit line per request).
void stderrSink(Level /*level*/, std::string_view line) {
  std::string out;
  out.reserve(line.size() + 1);
  out.append(line).push_back('\n');
  std::fwrite(out.data(), 1, out.size(), stderr);
  std::fflush(stderr);
}

Sink& currentSink() {
  static Sink sink = stderrSink;
  return sink;
}

std::atomic<int> g_min_level{static_cast<int>(Level::Info)};

std::string timestamp() {
  const auto now = std::chrono::system_clock::now();
  const auto secs = std::chrono::time_point_cast<std::chrono::seconds>(now);
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now - secs).count();
  const std::time_t t = std::chrono::system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[80];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(millis));
  return buf;
}

void logCoreWarning(std::string_view event, std::string_view reason, core::WarningNumber number) {
  warning(event, {{"reason", reason}, {number.key, number.value}});
}

// common/core cannot call the logger (it is the lower layer): core warnings come here from the
// moment this file is linked in and initialised.
[[maybe_unused]] const bool g_core_warnings_installed =
    (core::setWarningSink(&logCoreWarning), true);

}  // namespace

std::string_view levelName(Level level) {
  switch (level) {
    case Level::Debug: return "debug";
    case Level::Info: return "info";
    case Level::Warning: return "warning";
    case Level::Error: return "error";
  }
  return "info";
}

Sink setSink(Sink sink) {
  std::lock_guard lock(sinkMutex());
  Sink previous = std::move(currentSink());
  currentSink() = sink ? std::move(sink) : Sink(stderrSink);
  return previous;
}

void setMinLevel(Level level) {
  g_min_level = static_cast<int>(level);
}
Level minLevel() {
  return static_cast<Level>(g_min_level.load());
}

void write(Level level, std::string_view event, std::initializer_list<Field> fields) {
  if (static_cast<int>(level) < g_min_level.load()) return;
  json::Writer line;
  line.beginObject().member("ts", timestamp()).member("level", levelName(level));
  line.key("event").printableString(event);
  for (const Field& f : fields) {
    line.printableKey(f.key);
    if (const auto* s = std::get_if<std::string>(&f.value)) {
      line.printableString(*s);
    } else if (const auto* i = std::get_if<int64_t>(&f.value)) {
      line.number(*i);
    } else if (const auto* b = std::get_if<bool>(&f.value)) {
      line.boolean(*b);
    } else {
      line.number(std::get<double>(f.value));
    }
  }
  line.endObject();
  std::lock_guard lock(sinkMutex());
  currentSink()(level, line.text());
}

}  // namespace skr::log
