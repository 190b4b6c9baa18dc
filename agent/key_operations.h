// The cryptographic operations the agent performs with a key version (DESIGN.md §6), with Azure
// Key Vault's algorithm names and key_ops semantics. Pure functions: no I/O, no logging; safe to
// call concurrently on the same KeyVersion. Inputs and outputs that are keys or plaintext are
// SecretBytes; messages name algorithms and sizes, never bytes.
//   RSA-OAEP      RSA, OAEP with SHA-1 and MGF1-SHA-1 (AKV "RSA-OAEP")
//   RSA-OAEP-256  RSA, OAEP with SHA-256 and MGF1-SHA-256
//   A128KW/A192KW/A256KW  oct of 16/24/32 bytes, AES key wrap (RFC 3394)
//   A256KWPAD     oct of 32 bytes, AES key wrap with padding (RFC 5649)
//   A256GCM       oct of 32 bytes, AES-GCM, 96-bit IV, 128-bit tag (encrypt/decrypt only)
// EC keys support none of these.
#pragma once

#include <string_view>

#include "agent/key_version.h"
#include "common/core/bytes.h"
#include "common/core/secret_bytes.h"
#include "common/core/status.h"

namespace skr::agent {

enum class KeyOperation { WrapKey, UnwrapKey, Encrypt, Decrypt };
// The AKV key_ops name: "wrapKey", "unwrapKey", "encrypt", "decrypt".
std::string_view keyOperationName(KeyOperation op);

enum class KeyAlgorithm { RsaOaep, RsaOaep256, A128Kw, A192Kw, A256Kw, A256KwPad, A256Gcm };
// "RSA-OAEP", "RSA-OAEP-256", "A128KW", "A192KW", "A256KW", "A256KWPAD", "A256GCM".
std::string_view keyAlgorithmName(KeyAlgorithm alg);
// Exact (case-sensitive, as AKV). InvalidArgument listing the supported names otherwise.
StatusOr<KeyAlgorithm> parseKeyAlgorithm(std::string_view name);

// Checks that `op` with `alg` can run on `key`: key_ops (when non-empty) lists the op
// (PermissionDenied, as AKV's 403 KeyOperationForbidden), the alg fits the op (A256GCM only for
// encrypt/decrypt, key wrap algorithms only for wrapKey/unwrapKey) and the key type and size
// (InvalidArgument).
Status checkOperation(const KeyVersion& key, KeyOperation op, KeyAlgorithm alg);

// Wraps `plaintext_key` (a DEK). RSA-OAEP*: with the public key; AES-KW: plaintext a multiple of
// 8 bytes and >= 16; AES-KWP: >= 1 byte.
StatusOr<Bytes> wrapKey(const KeyVersion& key, KeyAlgorithm alg, const SecretBytes& plaintext_key);
// Inverse of wrapKey. DataLoss when the ciphertext does not unwrap under this key.
StatusOr<SecretBytes> unwrapKey(const KeyVersion& key, KeyAlgorithm alg, ByteView wrapped);

struct EncryptResult {
  Bytes ciphertext;
  Bytes iv;   // A256GCM: 12 fresh random bytes; empty for RSA
  Bytes tag;  // A256GCM: 16 bytes; empty for RSA
};
// RSA-OAEP*: `aad` must be empty. A256GCM: fresh random IV.
StatusOr<EncryptResult> encrypt(const KeyVersion& key, KeyAlgorithm alg,
                                const SecretBytes& plaintext, ByteView aad);
// RSA-OAEP*: iv, tag, aad must be empty. A256GCM: iv 12 bytes, tag 16 bytes. DataLoss when the
// ciphertext or tag does not verify.
StatusOr<SecretBytes> decrypt(const KeyVersion& key, KeyAlgorithm alg, ByteView ciphertext,
                              ByteView iv, ByteView tag, ByteView aad);

}  // namespace skr::agent
