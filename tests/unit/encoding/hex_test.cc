#include "common/encoding/hex.h"

#include <catch2/catch.hpp>
#include <string>

namespace skr::encoding {
namespace {

TEST_CASE("hexEncode writes lower-case digits, two per byte") {
  CHECK(hexEncode({}) == "");
  const Bytes bytes = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xcd, 0xef, 0xff};
  CHECK(hexEncode(bytes) == "00017f80abcdefff");
}

TEST_CASE("hexDecode accepts lower, upper and mixed case") {
  const Bytes expected = {0xde, 0xad, 0xbe, 0xef, 0x09};
  CHECK(hexDecode("deadbeef09").value() == expected);
  CHECK(hexDecode("DEADBEEF09").value() == expected);
  CHECK(hexDecode("DeAdBeEf09").value() == expected);
  CHECK(hexDecode("").value().empty());
}

TEST_CASE("hexDecode round-trips every byte value") {
  Bytes all(256);
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<uint8_t>(i);
  const std::string text = hexEncode(all);
  CHECK(text.size() == 512);
  CHECK(text.substr(0, 8) == "00010203");
  CHECK(text.substr(504) == "fcfdfeff");
  CHECK(hexDecode(text).value() == all);
}

TEST_CASE("hexDecode rejects an odd length with InvalidArgument naming the length") {
  const auto result = hexDecode("abc");
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().code() == StatusCode::InvalidArgument);
  CHECK(result.status().message() == "hex: odd length 3, expected two digits per byte");
}

TEST_CASE("hexDecode rejects a non-hex character and names its offset, not the character") {
  // Each character just outside the digit ranges, at different offsets.
  const char* inputs[] = {"0g", "0G", "/0", ":0", "@0", "`0", "00 0", "00\n0", "0x00"};
  const std::size_t offsets[] = {1, 1, 0, 0, 0, 0, 2, 2, 1};
  for (std::size_t i = 0; i < std::size(inputs); ++i) {
    const std::string input = inputs[i];
    CAPTURE(input);
    const auto result = hexDecode(input.size() % 2 == 0 ? input : input + "0");
    REQUIRE_FALSE(result.ok());
    CHECK(result.status().code() == StatusCode::InvalidArgument);
    CHECK(result.status().message() == "hex: invalid character at offset " +
                                           std::to_string(offsets[i]) +
                                           " (expected 0-9, a-f or A-F)");
  }
  // A non-ASCII byte.
  const auto result = hexDecode("00\xc3\xa9");
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().message().find("offset 2") != std::string::npos);
}

TEST_CASE("hexDecode enforces the decoded size bound with ResourceExhausted") {
  CHECK(hexDecode("00112233", 4).ok());
  const auto result = hexDecode("0011223344", 4);
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().code() == StatusCode::ResourceExhausted);
  CHECK(result.status().message() == "hex: decoded size 5 bytes exceeds the limit of 4 bytes");
}

TEST_CASE("hexDecodeSecret decodes into secret storage") {
  const auto secret = hexDecodeSecret("000102ABCDEF");
  REQUIRE(secret.ok());
  CHECK(secret->size() == 6);
  const Bytes expected = {0x00, 0x01, 0x02, 0xab, 0xcd, 0xef};
  const ByteView view = secret->view(grantSecretAccess());
  CHECK(Bytes(view.begin(), view.end()) == expected);
}

TEST_CASE("hexDecodeSecret errors name offsets and sizes but never the secret digits") {
  const std::string secret_text = "5ecre7";  // 'r' is not a hex digit
  const auto result = hexDecodeSecret("a1b2c3" + secret_text);
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().code() == StatusCode::InvalidArgument);
  CHECK(result.status().message() ==
        "hex: invalid character at offset 9 (expected 0-9, a-f or A-F)");
  CHECK(result.status().message().find("5ecre7") == std::string::npos);

  const auto odd = hexDecodeSecret("abc");
  REQUIRE_FALSE(odd.ok());
  CHECK(odd.status().code() == StatusCode::InvalidArgument);

  const auto big = hexDecodeSecret("00112233", 3);
  REQUIRE_FALSE(big.ok());
  CHECK(big.status().code() == StatusCode::ResourceExhausted);
}

}  // namespace
}  // namespace skr::encoding
