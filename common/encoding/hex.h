// Hexadecimal encoding. Output is lower case (MAA claims and skrctl print lower case).
#pragma once

#include <string>
#include <string_view>

#include "common/core/bytes.h"
#include "common/core/secret_bytes.h"
#include "common/core/status.h"

namespace skr::encoding {

std::string hexEncode(ByteView bytes);

// Accepts upper and lower case; rejects odd lengths, other characters and inputs longer than
// `max_bytes` decoded bytes. Error messages give the offending offset, never the content.
StatusOr<Bytes> hexDecode(std::string_view text, std::size_t max_bytes = 1 << 20);

// As hexDecode, into secret storage (for key material given in hex, e.g. test vectors, keyfiles).
StatusOr<SecretBytes> hexDecodeSecret(std::string_view text, std::size_t max_bytes = 1 << 20);

}  // namespace skr::encoding
