// Digital signatures: RSA PKCS#1 v1.5, RSA-PSS (salt length = hash length, MGF1 with the same hash:
// JOSE PS* and AMD's RSASSA-PSS SHA-384 salt 48), ECDSA (DER-encoded signatures), plus the
// signature-format conversions JOSE and SEV-SNP need.
#pragma once

#include "common/core/bytes.h"
#include "common/core/status.h"
#include "common/crypto/digest.h"
#include "common/crypto/pkey.h"

namespace skr::crypto {

enum class SignatureScheme {
  RsaPkcs1Sha256,
  RsaPkcs1Sha384,
  RsaPkcs1Sha512,
  RsaPssSha256,
  RsaPssSha384,
  RsaPssSha512,
  EcdsaSha256,
  EcdsaSha384,
  EcdsaSha512,
};

HashAlg schemeHash(SignatureScheme scheme);
KeyType schemeKeyType(SignatureScheme scheme);

// ECDSA results are DER (ECDSA-Sig-Value). Fails with InvalidArgument when the key type does not
// fit the scheme.
StatusOr<Bytes> sign(const PrivateKey& key, SignatureScheme scheme, ByteView data);
// OK when valid; DataLoss "signature does not verify" when not; InvalidArgument when the key type
// does not fit the scheme or the signature is malformed.
Status verify(const PublicKey& key, SignatureScheme scheme, ByteView data, ByteView signature);

// JOSE ECDSA signature (RFC 7518 §3.4: r || s, each curveFieldSize() bytes, big-endian) <-> DER.
StatusOr<Bytes> ecdsaDerFromJose(Curve curve, ByteView jose_signature);
StatusOr<Bytes> ecdsaJoseFromDer(Curve curve, ByteView der_signature);
// SEV-SNP report signature (spec/azure-wire.md §6.3: r and s, 72 bytes each, little-endian) -> DER.
StatusOr<Bytes> ecdsaDerFromSnp(ByteView r_le72, ByteView s_le72);

}  // namespace skr::crypto
