// JSON Web Keys (RFC 7517, 7518 §6) for RSA, EC (P-256/384/521) and oct keys, and RFC 7638
// thumbprints. Private members (d, p, q, dp, dq, qi, k) are held only in PrivateKey / SecretBytes
// and are serialized only through privateJson(), which needs a SecretAccess token.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/secret_bytes.h"
#include "common/core/status.h"
#include "common/crypto/pkey.h"
#include "common/json/json.h"

namespace skr::jose {

enum class JwkType { Rsa, Ec, Oct };
std::string_view jwkTypeName(JwkType type);  // "RSA", "EC", "oct"

class Jwk {
 public:
  // Parses a JWK object. Public-only or private (RSA with d (and CRT members), EC with d, oct with
  // k). Unknown members are ignored; wrong types, bad base64url, sizes that do not fit the curve,
  // and inconsistent private parts are InvalidArgument with the member named.
  static StatusOr<Jwk> fromJson(const json::ObjectPtr& object);
  // Parses JWK JSON text (bounded; see json::ParseLimits). Private JWK text is secret: pass it as
  // SecretBytes.
  static StatusOr<Jwk> parse(std::string_view public_json_text);
  static StatusOr<Jwk> parseSecret(const SecretBytes& json_text);

  static Jwk fromPublicKey(crypto::PublicKey key);
  static Jwk fromPrivateKey(crypto::PrivateKey key);
  // oct key; 1..512 bytes.
  static StatusOr<Jwk> fromOctet(SecretBytes key);

  JwkType type() const { return type_; }
  bool hasPrivate() const;

  const std::string& kid() const { return kid_; }
  void setKid(std::string kid) { kid_ = std::move(kid); }
  const std::vector<std::string>& keyOps() const { return key_ops_; }
  void setKeyOps(std::vector<std::string> ops) { key_ops_ = std::move(ops); }
  const std::optional<std::string>& alg() const { return alg_; }
  void setAlg(std::optional<std::string> alg) { alg_ = std::move(alg); }

  // The public key (RSA, EC); FailedPrecondition for oct. Owned by this Jwk.
  StatusOr<const crypto::PublicKey*> publicKey() const;
  // The private key (RSA, EC with private part); FailedPrecondition otherwise.
  StatusOr<const crypto::PrivateKey*> privateKey() const;
  // The symmetric key (oct); FailedPrecondition otherwise.
  StatusOr<const SecretBytes*> octet() const;

  // Public members only (kty, n/e or crv/x/y, plus kid, key_ops, alg when set). For oct keys
  // FailedPrecondition: an oct JWK has no public form.
  StatusOr<json::ObjectPtr> publicJson() const;
  // Canonical JSON of the whole key including private members, in secret storage.
  StatusOr<SecretBytes> privateJson(SecretAccess token) const;

  // RFC 7638 thumbprint: base64url(SHA-256(canonical required members)). For oct keys the hash of
  // {"k","kty"} (RFC 7638 §3.2).
  std::string thumbprint() const;

 private:
  Jwk() = default;
  JwkType type_ = JwkType::Rsa;
  std::optional<crypto::PublicKey> public_;
  std::optional<crypto::PrivateKey> private_;
  std::optional<SecretBytes> octet_;
  std::string kid_;
  std::vector<std::string> key_ops_;
  std::optional<std::string> alg_;
};

}  // namespace skr::jose
