// Structured logging: one JSON object per line (DESIGN.md §10), or, with log.format: text, one
// "<ts> <level> <event> key=value ..." line for people reading a terminal.
// Callers pass an event name and typed fields; nothing here formats secrets, and callers must not
// pass them (tokens are described, never logged: see the redaction helpers of the http module).
// Thread-safe: lines are written whole under a mutex.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <variant>

#include "common/core/status.h"

namespace skr::log {

enum class Level { Debug = 0, Info, Warning, Error };

std::string_view levelName(Level level);

struct Field {
  Field(std::string_view k, std::string_view v) : key(k), value(std::string(v)) {}
  Field(std::string_view k, const char* v) : key(k), value(std::string(v)) {}
  Field(std::string_view k, const std::string& v) : key(k), value(v) {}
  Field(std::string_view k, int64_t v) : key(k), value(v) {}
  Field(std::string_view k, int v) : key(k), value(static_cast<int64_t>(v)) {}
  Field(std::string_view k, bool v) : key(k), value(v) {}
  Field(std::string_view k, double v) : key(k), value(v) {}

  std::string_view key;
  std::variant<std::string, int64_t, bool, double> value;
};

// Where finished lines go (without the trailing newline). Default: stderr.
using Sink = std::function<void(Level, std::string_view line)>;

// Replaces the sink; returns the previous one. For main() and tests.
Sink setSink(Sink sink);
void setMinLevel(Level level);
Level minLevel();

enum class Format { Json, Text };
void setFormat(Format format);
Format format();
// "json" or "text" (log.format); InvalidArgument otherwise.
StatusOr<Format> parseFormat(std::string_view name);

// Formats {"ts":"<RFC 3339 UTC>","level":"...","event":"...",<fields>} (Format::Json) or
// `<ts> <level> <event> key=value ...` (Format::Text; a value with a space, quote, '=', control or
// non-ASCII byte is quoted and escaped as in JSON) and hands it to the sink.
void write(Level level, std::string_view event, std::initializer_list<Field> fields = {});

// While a Batch lives on a thread, the lines that thread writes are kept and handed to the sink
// together when it ends (or at flush()), in order: one write(2) for the default stderr sink
// instead of one per line. For a loop that writes many lines in one pass (the agent's audit
// line per request answered on its event-loop thread) and flushes them before it answers.
// Lines of other threads are not held. A Batch inside a Batch on the same thread does nothing.
// Lines not flushed when the process dies are lost, so flush before acting on what they record.
class Batch {
 public:
  Batch();
  ~Batch();
  Batch(const Batch&) = delete;
  Batch& operator=(const Batch&) = delete;
  // Hands the kept lines to the sink now.
  void flush();

 private:
  bool active_ = false;
};

inline void debug(std::string_view e, std::initializer_list<Field> f = {}) {
  write(Level::Debug, e, f);
}
inline void info(std::string_view e, std::initializer_list<Field> f = {}) {
  write(Level::Info, e, f);
}
inline void warning(std::string_view e, std::initializer_list<Field> f = {}) {
  write(Level::Warning, e, f);
}
inline void error(std::string_view e, std::initializer_list<Field> f = {}) {
  write(Level::Error, e, f);
}

}  // namespace skr::log
