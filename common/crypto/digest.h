// Hashes, HMAC and HKDF over OpenSSL 3 EVP (EVP_Q_digest / EVP_MAC / EVP_KDF).
// Failures inside OpenSSL for valid arguments are treated as broken invariants and abort.
#pragma once

#include <cstddef>

#include "common/core/bytes.h"
#include "common/core/secret_bytes.h"
#include "common/core/status.h"

namespace skr::crypto {

enum class HashAlg { Sha1, Sha256, Sha384, Sha512 };

std::size_t digestSize(HashAlg alg);
// "SHA-256", ... (OpenSSL fetch names; also used in messages).
const char* hashName(HashAlg alg);

Bytes digest(HashAlg alg, ByteView data);
inline Bytes sha256(ByteView data) {
  return digest(HashAlg::Sha256, data);
}
inline Bytes sha384(ByteView data) {
  return digest(HashAlg::Sha384, data);
}
inline Bytes sha512(ByteView data) {
  return digest(HashAlg::Sha512, data);
}

// HMAC (RFC 2104). The key is secret; the tag is not.
Bytes hmac(HashAlg alg, const SecretBytes& key, ByteView data);

// HKDF extract-and-expand (RFC 5869). `length` must be 1..255*digestSize(alg).
StatusOr<SecretBytes> hkdf(HashAlg alg, const SecretBytes& ikm, ByteView salt, ByteView info,
                           std::size_t length);

}  // namespace skr::crypto
