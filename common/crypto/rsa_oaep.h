// RSA-OAEP (RFC 8017 §7.1) with SHA-1, SHA-256 or SHA-384; MGF1 always uses the same hash, as JOSE
// (RSA-OAEP, RSA-OAEP-256) and PKCS#11 CKM_RSA_AES_KEY_WRAP expect. Empty label.
#pragma once

#include "common/core/bytes.h"
#include "common/core/secret_bytes.h"
#include "common/core/status.h"
#include "common/crypto/digest.h"
#include "common/crypto/pkey.h"

namespace skr::crypto {

// Fails with InvalidArgument for a non-RSA key, SHA-512, or a plaintext longer than
// k - 2*hLen - 2 bytes.
StatusOr<Bytes> rsaOaepEncrypt(const PublicKey& key, HashAlg hash, ByteView plaintext);
// Fails with DataLoss when the ciphertext does not decrypt (wrong key, wrong hash, corrupted),
// InvalidArgument when its length is not the modulus size.
StatusOr<SecretBytes> rsaOaepDecrypt(const PrivateKey& key, HashAlg hash, ByteView ciphertext);

}  // namespace skr::crypto
