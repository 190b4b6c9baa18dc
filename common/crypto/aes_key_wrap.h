// AES key wrap (RFC 3394) and AES key wrap with padding (RFC 5649) for 128/192/256-bit KEKs.
// The wrapped form is not secret; the unwrapped key is.
#pragma once

#include "common/core/bytes.h"
#include "common/core/secret_bytes.h"
#include "common/core/status.h"

namespace skr::crypto {

// RFC 3394: key length a multiple of 8 and >= 16; output = input + 8 bytes.
StatusOr<Bytes> aesKeyWrap(const SecretBytes& kek, const SecretBytes& key);
// DataLoss when the integrity check fails (wrong KEK, corrupted input).
StatusOr<SecretBytes> aesKeyUnwrap(const SecretBytes& kek, ByteView wrapped);

// RFC 5649: any key length >= 1; output = padded length + 8 bytes (min 16).
StatusOr<Bytes> aesKeyWrapPad(const SecretBytes& kek, const SecretBytes& key);
StatusOr<SecretBytes> aesKeyUnwrapPad(const SecretBytes& kek, ByteView wrapped);

}  // namespace skr::crypto
