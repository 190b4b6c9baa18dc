#include "common/encoding/hex.h"

#include <cstdint>
#include <span>
#include <string>

namespace skr::encoding {
namespace {

// All-ones when `lo <= c <= hi`, else zero, without a data-dependent branch, so decoding key
// material in hex does not leak its digits through branch prediction.
uint32_t inRangeMask(uint32_t c, uint32_t lo, uint32_t hi) {
  const uint32_t below = (c - lo) >> 31;  // 1 when c < lo (the subtraction wraps)
  const uint32_t above = (hi - c) >> 31;  // 1 when c > hi
  return ((below | above) ^ 1U) * 0xFFFFFFFFU;
}

// The value of hex digit `c` (0..15), or 0x100 (an out-of-range marker) when `c` is not a digit.
uint32_t nibbleValue(uint8_t byte) {
  const uint32_t c = byte;
  const uint32_t digit = inRangeMask(c, '0', '9');
  const uint32_t lower = inRangeMask(c, 'a', 'f');
  const uint32_t upper = inRangeMask(c, 'A', 'F');
  const uint32_t valid = digit | lower | upper;
  return (digit & (c - '0')) | (lower & (c - 'a' + 10)) | (upper & (c - 'A' + 10)) |
         (~valid & 0x100U);
}

// Decodes `text` (even length, already checked) into `out` (text.size() / 2 bytes).
Status decodeInto(std::string_view text, std::span<uint8_t> out) {
  for (std::size_t i = 0; i < out.size(); ++i) {
    const uint32_t high = nibbleValue(static_cast<uint8_t>(text[2 * i]));
    const uint32_t low = nibbleValue(static_cast<uint8_t>(text[2 * i + 1]));
    if (((high | low) & 0x100U) != 0) {
      const std::size_t offset = (high & 0x100U) != 0 ? 2 * i : 2 * i + 1;
      return invalidArgumentError("hex: invalid character at offset " + std::to_string(offset) +
                                  " (expected 0-9, a-f or A-F)");
    }
    out[i] = static_cast<uint8_t>((high << 4) | low);
  }
  return okStatus();
}

// Checks the length of `text` against the format and `max_bytes`, before anything is allocated.
Status checkLength(std::string_view text, std::size_t max_bytes) {
  if (text.size() % 2 != 0) {
    return invalidArgumentError("hex: odd length " + std::to_string(text.size()) +
                                ", expected two digits per byte");
  }
  if (text.size() / 2 > max_bytes) {
    return resourceExhaustedError("hex: decoded size " + std::to_string(text.size() / 2) +
                                  " bytes exceeds the limit of " + std::to_string(max_bytes) +
                                  " bytes");
  }
  return okStatus();
}

}  // namespace

std::string hexEncode(ByteView bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0x0F]);
  }
  return out;
}

StatusOr<Bytes> hexDecode(std::string_view text, std::size_t max_bytes) {
  SKR_RETURN_IF_ERROR(checkLength(text, max_bytes));
  Bytes out(text.size() / 2);
  SKR_RETURN_IF_ERROR(decodeInto(text, out));
  return out;
}

StatusOr<SecretBytes> hexDecodeSecret(std::string_view text, std::size_t max_bytes) {
  SKR_RETURN_IF_ERROR(checkLength(text, max_bytes));
  SecretBytes out(text.size() / 2);
  SKR_RETURN_IF_ERROR(decodeInto(text, out.mutableView(grantSecretAccess())));
  return out;
}

}  // namespace skr::encoding
