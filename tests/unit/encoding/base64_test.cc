#include "common/encoding/base64.h"

#include <catch2/catch.hpp>
#include <string>
#include <utility>
#include <vector>

namespace skr::encoding {
namespace {

// RFC 4648 §10 test vectors: BASE64(input) with padding; base64url output is the same characters
// without '=' (none of these encodings use characters 62 or 63).
const std::vector<std::pair<std::string, std::string>> kRfc4648Vectors = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

std::string withoutPadding(std::string s) {
  while (!s.empty() && s.back() == '=') s.pop_back();
  return s;
}

std::string secretToString(const SecretBytes& secret) {
  return toString(secret.view(grantSecretAccess()));
}

// The bytes 0xfb 0xff use values 62 and 63: "+/8=" in the standard alphabet, "-_8" in the URL one.
const Bytes kHighBytes = {0xfb, 0xff};

TEST_CASE("base64Encode and base64Decode match the RFC 4648 section 10 vectors") {
  for (const auto& [plain, encoded] : kRfc4648Vectors) {
    CAPTURE(plain);
    CHECK(base64Encode(asBytes(plain)) == encoded);
    const auto decoded = base64Decode(encoded);
    REQUIRE(decoded.ok());
    CHECK(toString(*decoded) == plain);
  }
}

TEST_CASE("base64UrlEncode and base64UrlDecode match the RFC 4648 vectors without padding") {
  for (const auto& [plain, encoded] : kRfc4648Vectors) {
    CAPTURE(plain);
    CHECK(base64UrlEncode(asBytes(plain)) == withoutPadding(encoded));
    const auto decoded = base64UrlDecode(withoutPadding(encoded));
    REQUIRE(decoded.ok());
    CHECK(toString(*decoded) == plain);
  }
}

TEST_CASE("base64DecodeLenient accepts the RFC 4648 vectors padded and unpadded") {
  for (const auto& [plain, encoded] : kRfc4648Vectors) {
    CAPTURE(plain);
    CHECK(toString(base64DecodeLenient(encoded).value()) == plain);
    CHECK(toString(base64DecodeLenient(withoutPadding(encoded)).value()) == plain);
  }
}

TEST_CASE("the URL alphabet encodes 0xfb 0xff as -_8 and the standard one as +/8=") {
  CHECK(base64Encode(kHighBytes) == "+/8=");
  CHECK(base64UrlEncode(kHighBytes) == "-_8");
  CHECK(base64Decode("+/8=").value() == kHighBytes);
  CHECK(base64UrlDecode("-_8").value() == kHighBytes);
  CHECK(base64DecodeLenient("+/8=").value() == kHighBytes);
  CHECK(base64DecodeLenient("+/8").value() == kHighBytes);
  CHECK(base64DecodeLenient("-_8").value() == kHighBytes);
  CHECK(base64DecodeLenient("-_8=").value() == kHighBytes);
  const Bytes three = {0xfb, 0xff, 0xbf};
  CHECK(base64Encode(three) == "+/+/");
  CHECK(base64UrlEncode(three) == "-_-_");
}

TEST_CASE("encoders and strict decoders round-trip every length and byte value") {
  for (std::size_t length = 0; length <= 66; ++length) {
    Bytes bytes(length);
    for (std::size_t i = 0; i < length; ++i) bytes[i] = static_cast<uint8_t>(i * 37 + length * 11);
    CAPTURE(length);
    CHECK(base64Decode(base64Encode(bytes)).value() == bytes);
    CHECK(base64UrlDecode(base64UrlEncode(bytes)).value() == bytes);
    CHECK(base64DecodeLenient(base64Encode(bytes)).value() == bytes);
    CHECK(base64DecodeLenient(base64UrlEncode(bytes)).value() == bytes);
  }
  Bytes all(256);
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<uint8_t>(i);
  CHECK(base64Decode(base64Encode(all)).value() == all);
  CHECK(base64UrlDecode(base64UrlEncode(all)).value() == all);
}

struct Rejection {
  std::string input;
  StatusCode code;
  std::string message;
};

void checkRejections(StatusOr<Bytes> (*decode)(std::string_view, std::size_t),
                     const std::vector<Rejection>& cases) {
  for (const auto& c : cases) {
    CAPTURE(c.input);
    const auto result = decode(c.input, kDefaultMaxDecoded);
    REQUIRE_FALSE(result.ok());
    CHECK(result.status().code() == c.code);
    CHECK(result.status().message() == c.message);
  }
}

TEST_CASE("base64Decode rejects truncated input, missing, bad and extra padding") {
  const auto k = StatusCode::InvalidArgument;
  checkRejections(
      base64Decode,
      {
          {"Zm9vY", k, "base64: length 5 is not a multiple of 4 (padding is required)"},
          {"Zg", k, "base64: length 2 is not a multiple of 4 (padding is required)"},
          {"Zm8", k, "base64: length 3 is not a multiple of 4 (padding is required)"},
          {"Zg=", k, "base64: padded length 3 is not a multiple of 4"},
          {"Zm8==", k, "base64: padded length 5 is not a multiple of 4"},
          {"Zg===", k, "base64: 3 padding characters at offset 2, at most 2 are allowed"},
          {"Zm9v====", k, "base64: 4 padding characters at offset 4, at most 2 are allowed"},
          {"====", k, "base64: 4 padding characters at offset 0, at most 2 are allowed"},
          {"Z===", k, "base64: 3 padding characters at offset 1, at most 2 are allowed"},
          {"Zm9vY===", k, "base64: 3 padding characters at offset 5, at most 2 are allowed"},
          {"Zg=a", k, "base64: invalid character at offset 2 (expected A-Z, a-z, 0-9, '+', '/')"},
          {"Zg==Zg==", k,
           "base64: invalid character at offset 2 (expected A-Z, a-z, 0-9, '+', '/')"},
      });
}

TEST_CASE("base64Decode rejects the URL alphabet, whitespace and other characters") {
  const auto k = StatusCode::InvalidArgument;
  const std::string expected = " (expected A-Z, a-z, 0-9, '+', '/')";
  checkRejections(
      base64Decode,
      {
          {"-_8=", k, "base64: invalid character at offset 0" + expected},
          {"+_8=", k, "base64: invalid character at offset 1" + expected},
          {"Zm9vYm y", k, "base64: invalid character at offset 6" + expected},
          {"Zm9v\nYg=", k, "base64: invalid character at offset 4" + expected},
          {" Zm9vYm=", k, "base64: invalid character at offset 0" + expected},
          {"Zm9v\tYmF", k, "base64: invalid character at offset 4" + expected},
          {"Zm9v.Ymy", k, "base64: invalid character at offset 4" + expected},
          {std::string("Zm9v\0Ymy", 8), k, "base64: invalid character at offset 4" + expected},
          {"Zm9v\xc3\xa9Yg", k, "base64: invalid character at offset 4" + expected},
      });
  // A trailing newline changes the length: still InvalidArgument.
  CHECK(base64Decode("Zm9vYmFy\n").status().code() == StatusCode::InvalidArgument);
}

TEST_CASE("base64Decode rejects non-zero trailing bits (non-canonical encodings)") {
  const auto k = StatusCode::InvalidArgument;
  checkRejections(
      base64Decode,
      {
          // 'h' = 33 = 0b100001: the 4 bits after "f" must be zero ("Zg==" is canonical).
          {"Zh==", k,
           "base64: character at offset 1 has non-zero unused bits (non-canonical "
           "encoding)"},
          {"Zm9vYh==", k,
           "base64: character at offset 5 has non-zero unused bits (non-canonical "
           "encoding)"},
          // '9' = 61 = 0b111101: the 2 bits after "fo" must be zero ("Zm8=" is canonical).
          {"Zm9=", k,
           "base64: character at offset 2 has non-zero unused bits (non-canonical "
           "encoding)"},
          {"+/9=", k,
           "base64: character at offset 2 has non-zero unused bits (non-canonical "
           "encoding)"},
      });
}

TEST_CASE("base64UrlDecode rejects padding") {
  const auto k = StatusCode::InvalidArgument;
  checkRejections(
      base64UrlDecode,
      {
          {"Zg==", k, "base64url: padding at offset 2 is not allowed (RFC 7515 §2)"},
          {"Zm8=", k, "base64url: padding at offset 3 is not allowed (RFC 7515 §2)"},
          {"-_8=", k, "base64url: padding at offset 3 is not allowed (RFC 7515 §2)"},
          {"=", k, "base64url: padding at offset 0 is not allowed (RFC 7515 §2)"},
          {"Zg=a", k,
           "base64url: invalid character at offset 2 (expected A-Z, a-z, 0-9, '-', '_')"},
      });
}

TEST_CASE("base64UrlDecode rejects truncated input, the standard alphabet and whitespace") {
  const auto k = StatusCode::InvalidArgument;
  const std::string expected = " (expected A-Z, a-z, 0-9, '-', '_')";
  checkRejections(
      base64UrlDecode,
      {
          {"Zm9vY", k,
           "base64url: length 5 is truncated (a single character cannot encode a "
           "byte)"},
          {"A", k, "base64url: length 1 is truncated (a single character cannot encode a byte)"},
          {"+/8", k, "base64url: invalid character at offset 0" + expected},
          {"-/8", k, "base64url: invalid character at offset 1" + expected},
          {"Zm 9vYg", k, "base64url: invalid character at offset 2" + expected},
          {"Zm9vYg\n", k, "base64url: invalid character at offset 6" + expected},
          {"Zm9v\r\nYg", k, "base64url: invalid character at offset 4" + expected},
      });
}

TEST_CASE("base64UrlDecode rejects non-zero trailing bits") {
  const auto k = StatusCode::InvalidArgument;
  checkRejections(base64UrlDecode,
                  {
                      {"Zh", k,
                       "base64url: character at offset 1 has non-zero unused bits (non-canonical "
                       "encoding)"},
                      {"Zm9", k,
                       "base64url: character at offset 2 has non-zero unused bits (non-canonical "
                       "encoding)"},
                      {"-_9", k,
                       "base64url: character at offset 2 has non-zero unused bits (non-canonical "
                       "encoding)"},
                  });
}

TEST_CASE("base64DecodeLenient rejects mixed alphabets") {
  const auto k = StatusCode::InvalidArgument;
  checkRejections(base64DecodeLenient,
                  {
                      {"+_8=", k,
                       "base64 (lenient): character at offset 1 mixes the standard and URL "
                       "alphabets"},
                      {"-/8", k,
                       "base64 (lenient): character at offset 1 mixes the standard and URL "
                       "alphabets"},
                      {"-_-_+/+/", k,
                       "base64 (lenient): character at offset 4 mixes the standard and URL "
                       "alphabets"},
                  });
}

TEST_CASE("base64DecodeLenient rejects bad padding, truncation, whitespace and trailing bits") {
  const auto k = StatusCode::InvalidArgument;
  const std::string expected = " (expected a base64 or base64url character)";
  checkRejections(base64DecodeLenient,
                  {
                      {"Zg=", k, "base64 (lenient): padded length 3 is not a multiple of 4"},
                      {"Zm9v=", k, "base64 (lenient): padded length 5 is not a multiple of 4"},
                      {"Zg===", k,
                       "base64 (lenient): 3 padding characters at offset 2, at most 2 are "
                       "allowed"},
                      {"Zg=a", k, "base64 (lenient): invalid character at offset 2" + expected},
                      {"Zm9vY", k,
                       "base64 (lenient): length 5 is truncated (a single character cannot "
                       "encode a byte)"},
                      {"Zm9v Yg", k, "base64 (lenient): invalid character at offset 4" + expected},
                      {"Zm9vYg\n", k, "base64 (lenient): invalid character at offset 6" + expected},
                      {"Zh", k,
                       "base64 (lenient): character at offset 1 has non-zero unused bits "
                       "(non-canonical encoding)"},
                      {"Zh==", k,
                       "base64 (lenient): character at offset 1 has non-zero unused bits "
                       "(non-canonical encoding)"},
                  });
}

TEST_CASE("decoders accept the empty string as zero bytes") {
  CHECK(base64Decode("").value().empty());
  CHECK(base64UrlDecode("").value().empty());
  CHECK(base64DecodeLenient("").value().empty());
  CHECK(base64UrlDecodeSecret("").value().empty());
  CHECK(base64DecodeLenientSecret("").value().empty());
}

TEST_CASE("decoders enforce the decoded size bound with ResourceExhausted before decoding") {
  // "Zm9vYmFy" is 6 bytes: a bound of 6 passes, 5 fails.
  CHECK(base64Decode("Zm9vYmFy", 6).ok());
  CHECK(base64UrlDecode("Zm9vYmFy", 6).ok());
  CHECK(base64DecodeLenient("Zm9vYmE=", 5).ok());
  const std::string message = "decoded size 6 bytes exceeds the limit of 5 bytes";
  const auto standard = base64Decode("Zm9vYmFy", 5);
  CHECK(standard.status().code() == StatusCode::ResourceExhausted);
  CHECK(standard.status().message() == "base64: " + message);
  const auto url = base64UrlDecode("Zm9vYmFy", 5);
  CHECK(url.status().code() == StatusCode::ResourceExhausted);
  CHECK(url.status().message() == "base64url: " + message);
  const auto lenient = base64DecodeLenient("Zm9vYmFy", 5);
  CHECK(lenient.status().code() == StatusCode::ResourceExhausted);
  CHECK(lenient.status().message() == "base64 (lenient): " + message);
  CHECK(base64UrlDecodeSecret("Zm9vYmFy", 5).status().code() == StatusCode::ResourceExhausted);
  CHECK(base64DecodeLenientSecret("Zm9vYmFy", 5).status().code() == StatusCode::ResourceExhausted);
  // The bound is checked from the length alone, before any character is looked at.
  const auto garbage = base64UrlDecode("!!!!!!!!", 5);
  CHECK(garbage.status().code() == StatusCode::ResourceExhausted);
}

TEST_CASE("the default bound rejects more than 16 MiB of decoded output") {
  // 16 MiB + 3 bytes of output: one group too many.
  const std::string text((kDefaultMaxDecoded / 3 + 1) * 4 + 4, 'A');
  const auto result = base64UrlDecode(text);
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().code() == StatusCode::ResourceExhausted);
  const std::string at_limit((kDefaultMaxDecoded / 3) * 4, 'A');
  const auto ok = base64UrlDecode(at_limit);
  REQUIRE(ok.ok());
  CHECK(ok->size() == kDefaultMaxDecoded / 3 * 3);
}

TEST_CASE("base64UrlDecodeSecret decodes into secret storage") {
  for (const auto& [plain, encoded] : kRfc4648Vectors) {
    CAPTURE(plain);
    const auto secret = base64UrlDecodeSecret(withoutPadding(encoded));
    REQUIRE(secret.ok());
    CHECK(secretToString(*secret) == plain);
  }
  const auto high = base64UrlDecodeSecret("-_8");
  REQUIRE(high.ok());
  CHECK(*high == SecretBytes::copyOf(kHighBytes));
}

TEST_CASE("base64DecodeLenientSecret accepts both alphabets, padded or not") {
  for (const char* text : {"+/8=", "+/8", "-_8", "-_8="}) {
    CAPTURE(text);
    const auto secret = base64DecodeLenientSecret(text);
    REQUIRE(secret.ok());
    CHECK(*secret == SecretBytes::copyOf(kHighBytes));
  }
}

TEST_CASE("secret decoders report offsets and sizes but never the input") {
  // The secret-looking part contains invalid characters, bad bits and padding in turn.
  const std::string secret = "c2VjcmV0S2V5";  // base64 of "secretKey"
  const std::vector<std::pair<std::string, std::string>> cases = {
      {secret + "!", "length 13 is truncated (a single character cannot encode a byte)"},
      {secret + "*A", "invalid character at offset 12 (expected A-Z, a-z, 0-9, '-', '_')"},
      {secret + "Zh", "character at offset 13 has non-zero unused bits (non-canonical encoding)"},
      {secret + "Zg==", "padding at offset 14 is not allowed (RFC 7515 §2)"},
  };
  for (const auto& [input, message] : cases) {
    CAPTURE(input);
    const auto result = base64UrlDecodeSecret(input);
    REQUIRE_FALSE(result.ok());
    CHECK(result.status().code() == StatusCode::InvalidArgument);
    CHECK(result.status().message() == "base64url: " + message);
    CHECK(result.status().message().find(secret) == std::string::npos);
    CHECK(result.status().message().find("secret") == std::string::npos);
  }
  const auto mixed = base64DecodeLenientSecret(secret + "+_");
  REQUIRE_FALSE(mixed.ok());
  CHECK(mixed.status().code() == StatusCode::InvalidArgument);
  CHECK(mixed.status().message() ==
        "base64 (lenient): character at offset 13 mixes the standard and URL alphabets");
}

TEST_CASE("base64UrlEncodeSecret encodes into secret storage without padding") {
  for (const auto& [plain, encoded] : kRfc4648Vectors) {
    CAPTURE(plain);
    const SecretBytes out = base64UrlEncodeSecret(SecretBytes::copyOf(asBytes(plain)));
    CHECK(secretToString(out) == withoutPadding(encoded));
  }
  CHECK(secretToString(base64UrlEncodeSecret(SecretBytes::copyOf(kHighBytes))) == "-_8");
}

}  // namespace
}  // namespace skr::encoding
