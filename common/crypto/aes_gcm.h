// AES-GCM (NIST SP 800-38D) with a 96-bit IV and a 128-bit tag, with additional authenticated data.
// Keys of 16, 24 or 32 bytes (the agent's A256GCM and the sealed bundle use 32).
#pragma once

#include "common/core/bytes.h"
#include "common/core/secret_bytes.h"
#include "common/core/status.h"

namespace skr::crypto {

inline constexpr std::size_t kGcmIvSize = 12;
inline constexpr std::size_t kGcmTagSize = 16;

struct GcmSealed {
  Bytes iv;          // 12 bytes
  Bytes ciphertext;  // same length as the plaintext
  Bytes tag;         // 16 bytes
};

// Encrypts with a fresh random IV.
StatusOr<GcmSealed> aesGcmEncrypt(const SecretBytes& key, ByteView plaintext, ByteView aad);
// Encrypts with a caller-chosen IV (known-answer tests; callers must never reuse an IV under a
// key).
StatusOr<GcmSealed> aesGcmEncryptWithIv(const SecretBytes& key, ByteView iv, ByteView plaintext,
                                        ByteView aad);
// DataLoss "AES-GCM: authentication tag does not verify" on any tampering.
StatusOr<SecretBytes> aesGcmDecrypt(const SecretBytes& key, ByteView iv, ByteView ciphertext,
                                    ByteView tag, ByteView aad);

}  // namespace skr::crypto
