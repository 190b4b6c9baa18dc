#include "common/encoding/json_writer.h"

#include <charconv>
#include <cmath>

#include "common/encoding/json_string.h"

namespace skr::json {

void Writer::beforeValue() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!first_.empty()) {
    if (!first_.back()) out_ += ',';
    first_.back() = false;
  }
}

Writer& Writer::beginObject() {
  beforeValue();
  out_ += '{';
  first_.push_back(true);
  return *this;
}

Writer& Writer::endObject() {
  out_ += '}';
  if (!first_.empty()) first_.pop_back();
  return *this;
}

Writer& Writer::beginArray() {
  beforeValue();
  out_ += '[';
  first_.push_back(true);
  return *this;
}

Writer& Writer::endArray() {
  out_ += ']';
  if (!first_.empty()) first_.pop_back();
  return *this;
}

Writer& Writer::key(std::string_view name) {
  beforeValue();
  appendQuoted(out_, name);
  out_ += ':';
  after_key_ = true;
  return *this;
}

Writer& Writer::printableKey(std::string_view name) {
  beforeValue();
  appendQuotedPrintable(out_, name);
  out_ += ':';
  after_key_ = true;
  return *this;
}

Writer& Writer::string(std::string_view value) {
  beforeValue();
  appendQuoted(out_, value);
  return *this;
}

Writer& Writer::printableString(std::string_view value) {
  beforeValue();
  appendQuotedPrintable(out_, value);
  return *this;
}

Writer& Writer::number(int64_t value) {
  beforeValue();
  out_ += std::to_string(value);
  return *this;
}

Writer& Writer::unsignedNumber(uint64_t value) {
  beforeValue();
  out_ += std::to_string(value);
  return *this;
}

Writer& Writer::number(double value) {
  beforeValue();
  if (!std::isfinite(value)) {
    out_ += "null";
    return *this;
  }
  // The shortest text that reads back as the same double (0.1, not 0.10000000000000001);
  // std::to_chars, not printf: no locale, and cheap enough for every audit line's duration.
  char buffer[32];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  if (ec != std::errc()) {
    out_ += "null";  // cannot happen: 32 bytes hold any double's shortest form
    return *this;
  }
  out_.append(buffer, end);
  return *this;
}

Writer& Writer::boolean(bool value) {
  beforeValue();
  out_ += value ? "true" : "false";
  return *this;
}

Writer& Writer::null() {
  beforeValue();
  out_ += "null";
  return *this;
}

Writer& Writer::raw(std::string_view json_value) {
  beforeValue();
  out_ += json_value;
  return *this;
}

}  // namespace skr::json
