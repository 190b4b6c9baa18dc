#include "common/azure/policy_text.h"

#include <cstdint>

#include "common/encoding/json_string.h"

namespace skr::azure::policy {
namespace {

// Values longer than head + tail + 1 code points are shown as head…tail in reasons and errors:
// enough to tell two SHA-256 hex digests apart at a glance.
constexpr std::size_t kShownHead = 16;
constexpr std::size_t kShownTail = 8;
// Claim names, authorities and issuers are shown whole up to a larger bound.
constexpr std::size_t kShownNameHead = 48;
constexpr std::size_t kShownNameTail = 16;

// `s` cut to head…tail when longer than head + tail + 1 code points; cuts fall on code point
// boundaries.
std::string shortened(std::string_view s, std::size_t head, std::size_t tail) {
  std::size_t code_points = 0;
  for (char c : s) code_points += isContinuationByte(c) ? 0 : 1;
  if (code_points <= head + tail + 1) return std::string(s);
  std::size_t head_end = 0;
  for (std::size_t seen = 0; head_end < s.size(); ++head_end) {
    if (!isContinuationByte(s[head_end]) && seen++ == head) break;
  }
  std::size_t tail_start = s.size();
  for (std::size_t seen = 0; tail_start > 0;) {
    --tail_start;
    if (!isContinuationByte(s[tail_start]) && ++seen == tail) break;
  }
  return std::string(s.substr(0, head_end)) + "\u2026" + std::string(s.substr(tail_start));
}

}  // namespace

bool isContinuationByte(char c) {
  return (static_cast<uint8_t>(c) & 0xC0) == 0x80;
}

std::string quoted(std::string_view s) {
  std::string out;
  json::appendQuoted(out, shortened(s, kShownHead, kShownTail));
  return out;
}

std::string quotedName(std::string_view s) {
  std::string out;
  json::appendQuoted(out, shortened(s, kShownNameHead, kShownNameTail));
  return out;
}

std::string escaped(std::string_view s) {
  std::string out = quotedName(s);
  return out.substr(1, out.size() - 2);
}

std::string display(const Scalar& scalar) {
  return scalar.type == Scalar::Type::String ? quoted(scalar.text) : scalar.text;
}

}  // namespace skr::azure::policy
