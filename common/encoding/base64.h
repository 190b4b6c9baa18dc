// Base64 (RFC 4648 §4) and base64url (§5) with strict and lenient decoders
// (spec/azure-wire.md §0: Azure emits unpadded base64url, accepts padded; x5c is standard base64).
#pragma once

#include <string>
#include <string_view>

#include "common/core/bytes.h"
#include "common/core/secret_bytes.h"
#include "common/core/status.h"

namespace skr::encoding {

// Default bound on decoded size for untrusted input; callers with larger legitimate inputs pass
// their own bound.
inline constexpr std::size_t kDefaultMaxDecoded = 16 * 1024 * 1024;

// Standard alphabet, with '=' padding.
std::string base64Encode(ByteView bytes);
// URL alphabet ('-', '_'), without padding: what Azure and JOSE emit.
std::string base64UrlEncode(ByteView bytes);

// Strict: standard alphabet, padding required, no whitespace, non-canonical trailing bits rejected.
StatusOr<Bytes> base64Decode(std::string_view text, std::size_t max_bytes = kDefaultMaxDecoded);
// Strict: URL alphabet, no padding (JOSE, RFC 7515 §2), non-canonical trailing bits rejected.
StatusOr<Bytes> base64UrlDecode(std::string_view text, std::size_t max_bytes = kDefaultMaxDecoded);
// Lenient: either alphabet (not mixed), padding optional but correct when present, no whitespace.
// For fields that Azure or its clients send in either form.
StatusOr<Bytes> base64DecodeLenient(std::string_view text,
                                    std::size_t max_bytes = kDefaultMaxDecoded);

// Secret variants: decode straight into SecretBytes (JWK private members, released key material).
StatusOr<SecretBytes> base64UrlDecodeSecret(std::string_view text,
                                            std::size_t max_bytes = kDefaultMaxDecoded);
StatusOr<SecretBytes> base64DecodeLenientSecret(std::string_view text,
                                                std::size_t max_bytes = kDefaultMaxDecoded);
// Encodes secret bytes as base64url without padding into secret storage (ASCII bytes).
SecretBytes base64UrlEncodeSecret(const SecretBytes& bytes);

}  // namespace skr::encoding
