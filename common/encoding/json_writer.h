// The one JSON text writer for output the project composes itself (configuration summaries, agent
// events, error bodies, request bodies, log lines): members in the order written, no whitespace,
// strings escaped by json_string.h. Structure (commas, nesting) is tracked here, so callers never
// concatenate JSON punctuation. Parsed documents are serialized by json::serializeCanonical
// (common/json/json.h) instead; secret values are written into SecretBytes by their own owners
// (jose::Jwk, the agent's secret results), never through a std::string.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace skr::json {

class Writer {
 public:
  // Containers. In an object, every value is preceded by key(); in an array, never.
  Writer& beginObject();
  Writer& endObject();
  Writer& beginArray();
  Writer& endArray();
  Writer& key(std::string_view name);
  // A key escaped as printableString escapes it (log field names).
  Writer& printableKey(std::string_view name);

  // Values.
  Writer& string(std::string_view value);
  // A string for log lines: appendQuotedPrintable (escapes characters that hide or reorder text).
  Writer& printableString(std::string_view value);
  Writer& number(int64_t value);
  Writer& unsignedNumber(uint64_t value);
  // A finite double in its shortest form that reads back as the same value ("0.1", "2",
  // "1e+300"); NaN and infinities are written as null.
  Writer& number(double value);
  Writer& boolean(bool value);
  Writer& null();
  // A value that is already JSON text (e.g. a canonical serialization); written unchanged.
  Writer& raw(std::string_view json_value);

  // key(name) followed by the value.
  Writer& member(std::string_view name, std::string_view value) { return key(name).string(value); }
  Writer& member(std::string_view name, const char* value) { return key(name).string(value); }
  Writer& member(std::string_view name, int64_t value) { return key(name).number(value); }
  Writer& member(std::string_view name, int value) { return key(name).number(int64_t{value}); }
  Writer& member(std::string_view name, uint32_t value) { return key(name).number(int64_t{value}); }
  Writer& member(std::string_view name, uint64_t value) { return key(name).unsignedNumber(value); }
  Writer& member(std::string_view name, bool value) { return key(name).boolean(value); }

  // The text so far (complete once every container is closed).
  const std::string& text() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  void beforeValue();
  std::string out_;
  // One entry per open container: true while it has no element yet.
  std::vector<bool> first_;
  bool after_key_ = false;
};

}  // namespace skr::json
