// Base64 per RFC 4648 §4 (standard alphabet) and §5 (URL alphabet), with canonical decoding
// (§3.5: non-zero pad bits are rejected). Character <-> value mapping is arithmetic rather than a
// table lookup, so decoding or encoding key material does not index memory with secret bits; the
// error paths are not constant time (they only report malformed input).
#include "common/encoding/base64.h"

#include <cstdint>
#include <span>
#include <string>

namespace skr::encoding {
namespace {

enum class Mode {
  Standard,  // RFC 4648 §4, padding required
  Url,       // RFC 4648 §5, no padding (RFC 7515 §2)
  Lenient,   // either alphabet (not mixed), padding optional but correct when present
};

std::string_view modeName(Mode mode) {
  switch (mode) {
    case Mode::Standard: return "base64";
    case Mode::Url: return "base64url";
    case Mode::Lenient: return "base64 (lenient)";
  }
  return "base64";
}

// All-ones when `lo <= c <= hi`, else zero (c, lo, hi < 2^31), without a data-dependent branch.
uint32_t inRangeMask(uint32_t c, uint32_t lo, uint32_t hi) {
  const uint32_t below = (c - lo) >> 31;
  const uint32_t above = (hi - c) >> 31;
  return ((below | above) ^ 1U) * 0xFFFFFFFFU;
}
uint32_t equalMask(uint32_t c, uint32_t v) {
  return inRangeMask(c, v, v);
}

// Flags above the 6-bit value returned by sextetOf().
constexpr uint32_t kInvalid = 0x100;       // not a base64 character of either alphabet
constexpr uint32_t kStandardOnly = 0x200;  // '+' or '/'
constexpr uint32_t kUrlOnly = 0x400;       // '-' or '_'

// The 6-bit value of `byte` in either alphabet, with kStandardOnly / kUrlOnly telling which
// alphabet it belongs to when it is not shared, or kInvalid.
uint32_t sextetOf(uint8_t byte) {
  const uint32_t c = byte;
  const uint32_t upper = inRangeMask(c, 'A', 'Z');
  const uint32_t lower = inRangeMask(c, 'a', 'z');
  const uint32_t digit = inRangeMask(c, '0', '9');
  const uint32_t plus = equalMask(c, '+');
  const uint32_t slash = equalMask(c, '/');
  const uint32_t minus = equalMask(c, '-');
  const uint32_t underscore = equalMask(c, '_');
  const uint32_t valid = upper | lower | digit | plus | slash | minus | underscore;
  return (upper & (c - 'A')) | (lower & (c - 'a' + 26)) | (digit & (c - '0' + 52)) |
         ((plus | minus) & 62U) | ((slash | underscore) & 63U) | ((plus | slash) & kStandardOnly) |
         ((minus | underscore) & kUrlOnly) | (~valid & kInvalid);
}

// The character for 6-bit value `v` in the standard or URL alphabet.
uint8_t charOf(uint32_t v, bool url) {
  const uint32_t upper = inRangeMask(v, 0, 25);
  const uint32_t lower = inRangeMask(v, 26, 51);
  const uint32_t digit = inRangeMask(v, 52, 61);
  const uint32_t is62 = equalMask(v, 62);
  const uint32_t is63 = equalMask(v, 63);
  const uint32_t c62 = url ? '-' : '+';
  const uint32_t c63 = url ? '_' : '/';
  return static_cast<uint8_t>((upper & (v + 'A')) | (lower & (v - 26 + 'a')) |
                              (digit & (v - 52 + '0')) | (is62 & c62) | (is63 & c63));
}

std::size_t encodedLength(std::size_t n, bool pad) {
  if (pad) return (n + 2) / 3 * 4;
  return n / 3 * 4 + (n % 3 == 0 ? 0 : n % 3 + 1);
}

// Writes the encoding of `in` to `out`, which holds exactly encodedLength(in.size(), pad) units.
template <typename Unit>
void encodeInto(ByteView in, std::span<Unit> out, bool url, bool pad) {
  std::size_t o = 0;
  std::size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const uint32_t group = (uint32_t{in[i]} << 16) | (uint32_t{in[i + 1]} << 8) | in[i + 2];
    out[o++] = static_cast<Unit>(charOf((group >> 18) & 63U, url));
    out[o++] = static_cast<Unit>(charOf((group >> 12) & 63U, url));
    out[o++] = static_cast<Unit>(charOf((group >> 6) & 63U, url));
    out[o++] = static_cast<Unit>(charOf(group & 63U, url));
  }
  const std::size_t rest = in.size() - i;
  if (rest == 0) return;
  const uint32_t group = (uint32_t{in[i]} << 16) | (rest == 2 ? uint32_t{in[i + 1]} << 8 : 0U);
  out[o++] = static_cast<Unit>(charOf((group >> 18) & 63U, url));
  out[o++] = static_cast<Unit>(charOf((group >> 12) & 63U, url));
  if (rest == 2) out[o++] = static_cast<Unit>(charOf((group >> 6) & 63U, url));
  if (pad) {
    out[o++] = static_cast<Unit>('=');
    if (rest == 1) out[o++] = static_cast<Unit>('=');
  }
}

// Where the data characters end and how many bytes they decode to; derived from the length and
// the trailing padding only, so it is known (and bounded) before anything is allocated.
struct Layout {
  std::size_t data_chars = 0;
  std::size_t decoded_size = 0;
};

StatusOr<Layout> checkLayout(std::string_view text, Mode mode, std::size_t max_bytes) {
  const std::string_view name = modeName(mode);
  const std::string length = std::to_string(text.size());
  std::size_t padding = 0;
  while (padding < text.size() && text[text.size() - 1 - padding] == '=') ++padding;
  const std::size_t data_chars = text.size() - padding;

  if (mode == Mode::Url && padding > 0) {
    return invalidArgumentError(std::string(name) + ": padding at offset " +
                                std::to_string(data_chars) + " is not allowed (RFC 7515 §2)");
  }
  if (padding > 2) {
    return invalidArgumentError(std::string(name) + ": " + std::to_string(padding) +
                                " padding characters at offset " + std::to_string(data_chars) +
                                ", at most 2 are allowed");
  }
  if (padding > 0 && text.size() % 4 != 0) {
    return invalidArgumentError(std::string(name) + ": padded length " + length +
                                " is not a multiple of 4");
  }
  if (mode == Mode::Standard && text.size() % 4 != 0) {
    return invalidArgumentError(std::string(name) + ": length " + length +
                                " is not a multiple of 4 (padding is required)");
  }
  if (data_chars % 4 == 1) {
    return invalidArgumentError(std::string(name) + ": length " + length +
                                " is truncated (a single character cannot encode a byte)");
  }
  Layout layout;
  layout.data_chars = data_chars;
  layout.decoded_size = data_chars / 4 * 3 + (data_chars % 4 == 0 ? 0 : data_chars % 4 - 1);
  if (layout.decoded_size > max_bytes) {
    return resourceExhaustedError(
        std::string(name) + ": decoded size " + std::to_string(layout.decoded_size) +
        " bytes exceeds the limit of " + std::to_string(max_bytes) + " bytes");
  }
  return layout;
}

// Returns the sextet at `offset`, or an error naming the offset (never the character).
// `seen` accumulates kStandardOnly / kUrlOnly flags to detect mixed alphabets.
Status checkSextet(uint32_t sextet, Mode mode, std::size_t offset, uint32_t& seen) {
  seen |= sextet & (kStandardOnly | kUrlOnly);
  const bool wrong_alphabet = (mode == Mode::Standard && (sextet & kUrlOnly) != 0) ||
                              (mode == Mode::Url && (sextet & kStandardOnly) != 0);
  if ((sextet & kInvalid) != 0 || wrong_alphabet) {
    std::string expected = mode == Mode::Standard ? "A-Z, a-z, 0-9, '+', '/'"
                           : mode == Mode::Url    ? "A-Z, a-z, 0-9, '-', '_'"
                                                  : "a base64 or base64url character";
    return invalidArgumentError(std::string(modeName(mode)) + ": invalid character at offset " +
                                std::to_string(offset) + " (expected " + expected + ")");
  }
  if (seen == (kStandardOnly | kUrlOnly)) {
    return invalidArgumentError(std::string(modeName(mode)) + ": character at offset " +
                                std::to_string(offset) + " mixes the standard and URL alphabets");
  }
  return okStatus();
}

// Decodes the data characters of `text` (layout from checkLayout) into `out`, checking each
// character as it goes: the error names the first offending offset.
Status decodeChecked(std::string_view text, Mode mode, const Layout& layout,
                     std::span<uint8_t> out) {
  uint32_t seen = 0;
  std::size_t o = 0;
  std::size_t i = 0;
  uint32_t sextets[4] = {0, 0, 0, 0};
  for (; i + 4 <= layout.data_chars; i += 4) {
    for (std::size_t k = 0; k < 4; ++k) {
      sextets[k] = sextetOf(static_cast<uint8_t>(text[i + k]));
      SKR_RETURN_IF_ERROR(checkSextet(sextets[k], mode, i + k, seen));
    }
    const uint32_t group = ((sextets[0] & 63U) << 18) | ((sextets[1] & 63U) << 12) |
                           ((sextets[2] & 63U) << 6) | (sextets[3] & 63U);
    out[o++] = static_cast<uint8_t>(group >> 16);
    out[o++] = static_cast<uint8_t>(group >> 8);
    out[o++] = static_cast<uint8_t>(group);
  }
  const std::size_t rest = layout.data_chars - i;  // 0, 2 or 3 (checkLayout rejects 1)
  if (rest > 0) {
    for (std::size_t k = 0; k < rest; ++k) {
      sextets[k] = sextetOf(static_cast<uint8_t>(text[i + k]));
      SKR_RETURN_IF_ERROR(checkSextet(sextets[k], mode, i + k, seen));
    }
    // RFC 4648 §3.5: the bits of the last character that do not form a byte must be zero.
    const uint32_t last = sextets[rest - 1] & 63U;
    const uint32_t unused_mask = rest == 2 ? 0x0FU : 0x03U;
    if ((last & unused_mask) != 0) {
      return invalidArgumentError(std::string(modeName(mode)) + ": character at offset " +
                                  std::to_string(i + rest - 1) +
                                  " has non-zero unused bits (non-canonical encoding)");
    }
    const uint32_t group = ((sextets[0] & 63U) << 18) | ((sextets[1] & 63U) << 12) |
                           (rest == 3 ? (sextets[2] & 63U) << 6 : 0U);
    out[o++] = static_cast<uint8_t>(group >> 16);
    if (rest == 3) out[o++] = static_cast<uint8_t>(group >> 8);
  }
  return okStatus();
}

// Decodes the data characters of `text` (layout from checkLayout) into `out`. The characters are
// checked all together (their flags OR-ed), not one Status per character; when any is wrong,
// decodeChecked runs again from the start for the error naming the first offending offset.
Status decodeInto(std::string_view text, Mode mode, const Layout& layout, std::span<uint8_t> out) {
  uint32_t flags = 0;
  std::size_t o = 0;
  std::size_t i = 0;
  for (; i + 4 <= layout.data_chars; i += 4) {
    const uint32_t s0 = sextetOf(static_cast<uint8_t>(text[i]));
    const uint32_t s1 = sextetOf(static_cast<uint8_t>(text[i + 1]));
    const uint32_t s2 = sextetOf(static_cast<uint8_t>(text[i + 2]));
    const uint32_t s3 = sextetOf(static_cast<uint8_t>(text[i + 3]));
    flags |= s0 | s1 | s2 | s3;
    const uint32_t group = ((s0 & 63U) << 18) | ((s1 & 63U) << 12) | ((s2 & 63U) << 6) | (s3 & 63U);
    out[o++] = static_cast<uint8_t>(group >> 16);
    out[o++] = static_cast<uint8_t>(group >> 8);
    out[o++] = static_cast<uint8_t>(group);
  }
  const std::size_t rest = layout.data_chars - i;  // 0, 2 or 3 (checkLayout rejects 1)
  uint32_t unused_bits = 0;
  if (rest > 0) {
    uint32_t sextets[3] = {0, 0, 0};
    for (std::size_t k = 0; k < rest; ++k) {
      sextets[k] = sextetOf(static_cast<uint8_t>(text[i + k]));
      flags |= sextets[k];
    }
    // RFC 4648 §3.5: the bits of the last character that do not form a byte must be zero.
    unused_bits = (sextets[rest - 1] & 63U) & (rest == 2 ? 0x0FU : 0x03U);
    const uint32_t group = ((sextets[0] & 63U) << 18) | ((sextets[1] & 63U) << 12) |
                           (rest == 3 ? (sextets[2] & 63U) << 6 : 0U);
    out[o++] = static_cast<uint8_t>(group >> 16);
    if (rest == 3) out[o++] = static_cast<uint8_t>(group >> 8);
  }
  const bool wrong_alphabet = (mode == Mode::Standard && (flags & kUrlOnly) != 0) ||
                              (mode == Mode::Url && (flags & kStandardOnly) != 0) ||
                              (flags & (kStandardOnly | kUrlOnly)) == (kStandardOnly | kUrlOnly);
  if ((flags & kInvalid) != 0 || wrong_alphabet || unused_bits != 0) {
    Status error = decodeChecked(text, mode, layout, out);
    if (error.ok()) return invalidArgumentError(std::string(modeName(mode)) + ": invalid input");
    return error;
  }
  return okStatus();
}

StatusOr<Bytes> decodePublic(std::string_view text, Mode mode, std::size_t max_bytes) {
  SKR_ASSIGN_OR_RETURN(const Layout layout, checkLayout(text, mode, max_bytes));
  Bytes out(layout.decoded_size);
  SKR_RETURN_IF_ERROR(decodeInto(text, mode, layout, out));
  return out;
}

// Decodes straight into secret storage: no decoded byte ever lives in a non-secret buffer, and
// on failure the partially filled SecretBytes is wiped when it goes out of scope.
StatusOr<SecretBytes> decodeSecret(std::string_view text, Mode mode, std::size_t max_bytes) {
  SKR_ASSIGN_OR_RETURN(const Layout layout, checkLayout(text, mode, max_bytes));
  SecretBytes out(layout.decoded_size);
  SKR_RETURN_IF_ERROR(decodeInto(text, mode, layout, out.mutableView(grantSecretAccess())));
  return out;
}

std::string encodeString(ByteView bytes, bool url, bool pad) {
  std::string out(encodedLength(bytes.size(), pad), '\0');
  encodeInto(bytes, std::span<char>(out.data(), out.size()), url, pad);
  return out;
}

}  // namespace

std::string base64Encode(ByteView bytes) {
  return encodeString(bytes, /*url=*/false, true);
}

std::string base64UrlEncode(ByteView bytes) {
  return encodeString(bytes, /*url=*/true, false);
}

StatusOr<Bytes> base64Decode(std::string_view text, std::size_t max_bytes) {
  return decodePublic(text, Mode::Standard, max_bytes);
}

StatusOr<Bytes> base64UrlDecode(std::string_view text, std::size_t max_bytes) {
  return decodePublic(text, Mode::Url, max_bytes);
}

StatusOr<Bytes> base64DecodeLenient(std::string_view text, std::size_t max_bytes) {
  return decodePublic(text, Mode::Lenient, max_bytes);
}

StatusOr<SecretBytes> base64UrlDecodeSecret(std::string_view text, std::size_t max_bytes) {
  return decodeSecret(text, Mode::Url, max_bytes);
}

StatusOr<SecretBytes> base64DecodeLenientSecret(std::string_view text, std::size_t max_bytes) {
  return decodeSecret(text, Mode::Lenient, max_bytes);
}

SecretBytes base64UrlEncodeSecret(const SecretBytes& bytes) {
  SecretBytes out(encodedLength(bytes.size(), /*pad=*/false));
  encodeInto(bytes.view(grantSecretAccess()), out.mutableView(grantSecretAccess()), /*url=*/true,
             /*pad=*/false);
  return out;
}

}  // namespace skr::encoding
