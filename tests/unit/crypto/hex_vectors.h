// Hex helpers for the crypto unit tests: vectors are written as in their sources (spaces and
// line breaks allowed between digits).
#pragma once

#include <catch2/catch.hpp>
#include <cctype>
#include <string>
#include <string_view>

#include "common/core/bytes.h"
#include "common/core/secret_bytes.h"

namespace skr::crypto::testing {

inline Bytes hex(std::string_view text) {
  std::string digits;
  for (char c : text) {
    if (std::isxdigit(static_cast<unsigned char>(c))) digits.push_back(c);
  }
  REQUIRE(digits.size() % 2 == 0);
  Bytes out;
  for (std::size_t i = 0; i < digits.size(); i += 2) {
    out.push_back(static_cast<uint8_t>(std::stoi(digits.substr(i, 2), nullptr, 16)));
  }
  return out;
}

inline std::string toHex(ByteView bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  for (uint8_t b : bytes) out += {kDigits[b >> 4], kDigits[b & 15]};
  return out;
}

inline SecretBytes secretHex(std::string_view text) {
  return SecretBytes::copyOf(hex(text));
}

}  // namespace skr::crypto::testing
