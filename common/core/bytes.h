// Byte containers for public (non-secret) data. Secrets use SecretBytes (secret_bytes.h).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace skr {

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;

inline ByteView asBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};  // NOLINT
}
inline Bytes toBytes(std::string_view s) {
  return Bytes(s.begin(), s.end());
}
// A view of the bytes as text (no copy): for bytes that must not be copied into a std::string.
inline std::string_view asText(ByteView b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};  // NOLINT
}
inline std::string toString(ByteView b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());  // NOLINT
}

}  // namespace skr
