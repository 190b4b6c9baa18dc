#include "common/log/logger.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <utility>
#include <vector>

#include "common/core/warnings.h"
#include "common/encoding/json_string.h"
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
bool g_default_sink = true;  // currentSink() is stderrSink (under sinkMutex())

// The lines a Batch keeps for its thread: the text of each, newline-terminated, and their levels.
struct KeptLines {
  std::string text;
  std::vector<std::pair<Level, std::size_t>> ends;  // level and end offset (after '\n') per line
};
// Kept per thread and reused, so a loop that batches on every pass does not allocate per pass.
thread_local KeptLines t_kept_lines;
thread_local KeptLines* t_kept = nullptr;  // &t_kept_lines while a Batch lives on this thread

// Under sinkMutex(): the kept lines to the sink, then forgotten.
void flushKept(KeptLines& kept) {
  if (kept.ends.empty()) return;
  if (g_default_sink) {
    std::fwrite(kept.text.data(), 1, kept.text.size(), stderr);
    std::fflush(stderr);
  } else {
    std::size_t start = 0;
    for (const auto& [level, end] : kept.ends) {
      currentSink()(level, std::string_view(kept.text).substr(start, end - 1 - start));
      start = end;
    }
  }
  kept.text.clear();
  kept.ends.clear();
}

// Hands a finished line to the sink, or keeps it for this thread's Batch.
void emit(Level level, std::string_view line) {
  if (t_kept != nullptr) {
    t_kept->text.append(line).push_back('\n');
    t_kept->ends.emplace_back(level, t_kept->text.size());
    return;
  }
  std::lock_guard lock(sinkMutex());
  currentSink()(level, line);
}

std::atomic<int> g_min_level{static_cast<int>(Level::Info)};
std::atomic<int> g_format{static_cast<int>(Format::Json)};

// RFC 3339 UTC with milliseconds. The date and time up to the second are formatted once per
// second per thread (gmtime_r and snprintf on every line were a visible share of the agent's
// cost per request); the milliseconds are written into a copy.
std::string timestamp() {
  const auto now = std::chrono::system_clock::now();
  const auto secs = std::chrono::time_point_cast<std::chrono::seconds>(now);
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now - secs).count();
  const std::time_t t = std::chrono::system_clock::to_time_t(secs);
  thread_local std::time_t cached_second = -1;
  thread_local char cached[32];  // "YYYY-MM-DDTHH:MM:SS." (20 characters for years 0..9999)
  thread_local int cached_length = 0;
  if (t != cached_second || cached_length == 0) {
    std::tm tm{};
    gmtime_r(&t, &tm);
    const int n =
        std::snprintf(cached, sizeof cached, "%04d-%02d-%02dT%02d:%02d:%02d.", tm.tm_year + 1900,
                      tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    cached_length = n > 0 && n < static_cast<int>(sizeof cached) ? n : 0;
    cached_second = t;
  }
  std::string out(cached, static_cast<std::size_t>(cached_length));
  const int ms = millis >= 0 && millis <= 999 ? static_cast<int>(millis) : 0;
  out += {static_cast<char>('0' + ms / 100), static_cast<char>('0' + ms / 10 % 10),
          static_cast<char>('0' + ms % 10), 'Z'};
  return out;
}

// A text-format value: bare when it is a short run of characters that cannot be mistaken for
// structure (no space, quote, '=', control or non-ASCII byte), else quoted and escaped as the
// JSON format escapes it, so a value can never start a new line or a new field.
void appendTextValue(std::string& line, std::string_view value) {
  const bool bare =
      !value.empty() && value.size() <= 256 && std::all_of(value.begin(), value.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u > 0x20 && u < 0x7f && c != '"' && c != '=' && c != '\\';
      });
  if (bare) {
    line.append(value);
  } else {
    json::appendQuotedPrintable(line, value);
  }
}

// "<ts> <level> <event> key=value ...": for people reading a terminal (log.format: text).
std::string textLine(Level level, std::string_view event, std::initializer_list<Field> fields) {
  std::string line = timestamp();
  line += ' ';
  const std::string_view name = levelName(level);
  line.append(name).append(name.size() < 7 ? 7 - name.size() : 0, ' ');
  line += ' ';
  appendTextValue(line, event);
  for (const Field& f : fields) {
    line += ' ';
    appendTextValue(line, f.key);
    line += '=';
    if (const auto* s = std::get_if<std::string>(&f.value)) {
      appendTextValue(line, *s);
    } else if (const auto* i = std::get_if<int64_t>(&f.value)) {
      line += std::to_string(*i);
    } else if (const auto* b = std::get_if<bool>(&f.value)) {
      line += *b ? "true" : "false";
    } else {
      line += json::Writer().number(std::get<double>(f.value)).take();
    }
  }
  return line;
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
  using Function = void (*)(Level, std::string_view);
  const Function* function = sink ? sink.target<Function>() : nullptr;
  g_default_sink = !sink || (function != nullptr && *function == &stderrSink);
  currentSink() = sink ? std::move(sink) : Sink(stderrSink);
  return previous;
}

void setMinLevel(Level level) {
  g_min_level = static_cast<int>(level);
}
Level minLevel() {
  return static_cast<Level>(g_min_level.load());
}

void setFormat(Format format) {
  g_format = static_cast<int>(format);
}
Format format() {
  return static_cast<Format>(g_format.load());
}

StatusOr<Format> parseFormat(std::string_view name) {
  if (name == "json") return Format::Json;
  if (name == "text") return Format::Text;
  return invalidArgumentError("unknown log format '" + std::string(name) +
                              "', expected json | text");
}

void write(Level level, std::string_view event, std::initializer_list<Field> fields) {
  if (static_cast<int>(level) < g_min_level.load()) return;
  if (format() == Format::Text) {
    emit(level, textLine(level, event, fields));
    return;
  }
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
  emit(level, line.text());
}

Batch::Batch() {
  if (t_kept != nullptr) return;  // the outer Batch keeps them
  t_kept = &t_kept_lines;
  active_ = true;
}

Batch::~Batch() {
  if (!active_) return;
  flush();
  t_kept = nullptr;
}

void Batch::flush() {
  if (!active_ || t_kept->ends.empty()) return;
  std::lock_guard lock(sinkMutex());
  flushKept(*t_kept);
}

}  // namespace skr::log
