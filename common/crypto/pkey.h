// Asymmetric keys: PublicKey and PrivateKey over EVP_PKEY (RSA and EC P-256/P-384/P-521).
// Import/export: SubjectPublicKeyInfo (DER/PEM), PKCS#8 (DER/PEM), raw components (for JWK).
// Objects are valid once built; a PrivateKey's material is only exported as SecretBytes.
// Thread safety: const methods may be called concurrently (EVP_PKEY is read-only after creation).
#pragma once

#include <openssl/evp.h>

#include <string>
#include <string_view>

#include "common/core/bytes.h"
#include "common/core/secret_bytes.h"
#include "common/core/ssl_ptr.h"
#include "common/core/status.h"

namespace skr::crypto {

enum class KeyType { Rsa, Ec };
enum class Curve { P256, P384, P521 };

// "P-256" / "P-384" / "P-521" (JOSE names).
const char* curveName(Curve curve);
StatusOr<Curve> curveFromName(std::string_view jose_name);
// Size in bytes of a coordinate / scalar: 32, 48, 66.
std::size_t curveFieldSize(Curve curve);

// Public RSA components, big-endian unsigned, no leading zeros (JWK n, e).
struct RsaPublicComponents {
  Bytes n;
  Bytes e;
};
// Private RSA components (JWK d, p, q, dp, dq, qi), big-endian unsigned.
struct RsaPrivateComponents {
  SecretBytes d, p, q, dp, dq, qi;
};
// EC public point, each coordinate left-padded to curveFieldSize() (JWK x, y).
struct EcPublicPoint {
  Curve curve;
  Bytes x;
  Bytes y;
};

class PublicKey {
 public:
  static StatusOr<PublicKey> fromSpkiDer(ByteView der);
  static StatusOr<PublicKey> fromPem(std::string_view pem);  // "PUBLIC KEY"
  static StatusOr<PublicKey> fromRsaComponents(ByteView n, ByteView e);
  static StatusOr<PublicKey> fromEcPoint(Curve curve, ByteView x, ByteView y);
  // Takes ownership of an EVP_PKEY that holds an RSA or supported EC key (e.g. from X509).
  static StatusOr<PublicKey> fromEvp(SslPtr<EVP_PKEY> pkey);

  KeyType type() const { return type_; }
  int bits() const;               // modulus bits (RSA) or curve bits (EC)
  StatusOr<Curve> curve() const;  // error for RSA keys
  StatusOr<RsaPublicComponents> rsaComponents() const;
  StatusOr<EcPublicPoint> ecPoint() const;

  Bytes toSpkiDer() const;
  std::string toPem() const;

  // Same algorithm and same public parameters.
  bool equals(const PublicKey& other) const;

  EVP_PKEY* evp() const { return pkey_.get(); }

 private:
  PublicKey(SslPtr<EVP_PKEY> pkey, KeyType type) : pkey_(std::move(pkey)), type_(type) {}
  SslPtr<EVP_PKEY> pkey_;
  KeyType type_;
};

class PrivateKey {
 public:
  // bits: 2048, 3072 or 4096.
  static StatusOr<PrivateKey> generateRsa(int bits);
  static StatusOr<PrivateKey> generateEc(Curve curve);
  static StatusOr<PrivateKey> fromPkcs8Der(const SecretBytes& der);
  // "PRIVATE KEY" (PKCS#8) PEM; also accepts "RSA PRIVATE KEY" / "EC PRIVATE KEY".
  static StatusOr<PrivateKey> fromPem(const SecretBytes& pem);
  static StatusOr<PrivateKey> fromRsaComponents(const RsaPublicComponents& pub,
                                                const RsaPrivateComponents& priv);
  // d: the private scalar, big-endian (JWK "d"); x, y must match it.
  static StatusOr<PrivateKey> fromEcPrivate(Curve curve, const SecretBytes& d, ByteView x,
                                            ByteView y);

  KeyType type() const { return type_; }
  int bits() const;
  StatusOr<Curve> curve() const;
  PublicKey publicKey() const;

  SecretBytes toPkcs8Der() const;
  SecretBytes toPkcs8Pem() const;
  StatusOr<RsaPrivateComponents> rsaPrivateComponents() const;
  // The private scalar d, left-padded to curveFieldSize().
  StatusOr<SecretBytes> ecPrivateScalar() const;

  EVP_PKEY* evp() const { return pkey_.get(); }

 private:
  PrivateKey(SslPtr<EVP_PKEY> pkey, KeyType type) : pkey_(std::move(pkey)), type_(type) {}
  SslPtr<EVP_PKEY> pkey_;
  KeyType type_;
};

}  // namespace skr::crypto
