// JSON Web Signature, compact serialization (RFC 7515): parse, verify and sign with RS256/384/512,
// PS256/384/512 and ES256/384/512 (RFC 7518 §3). "none", HMAC algorithms, unknown algorithms,
// "crit" headers and algorithm/key mismatches are rejected.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/bytes.h"
#include "common/core/status.h"
#include "common/crypto/pkey.h"
#include "common/crypto/signature.h"
#include "common/crypto/x509.h"
#include "common/json/json.h"

namespace skr::jose {

enum class JwsAlgorithm { RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512 };

std::string_view jwsAlgorithmName(JwsAlgorithm alg);
// InvalidArgument with cause Integrity in its details for a name that is not one of the above
// ("none", HMAC, unknown): Jws::parse passes it on, so callers can tell an unacceptable algorithm.
StatusOr<JwsAlgorithm> jwsAlgorithmFromName(std::string_view name);
crypto::SignatureScheme jwsSignatureScheme(JwsAlgorithm alg);

struct JwsLimits {
  std::size_t max_compact_bytes = 1024 * 1024;
  std::size_t max_header_bytes = 64 * 1024;  // decoded; x5c chains can be a few KiB
};

// A parsed, not yet verified, compact JWS. Accessors expose what a verifier needs; nothing here is
// trusted until verify() returned OK.
class Jws {
 public:
  static StatusOr<Jws> parse(std::string_view compact, const JwsLimits& limits = {});

  JwsAlgorithm algorithm() const { return alg_; }
  const json::ObjectPtr& header() const { return header_; }
  std::optional<std::string> kid() const;
  const Bytes& payload() const { return payload_; }
  // Parses the payload as a JSON object (JWT claims, AKV release payload).
  StatusOr<json::ObjectPtr> payloadJson(const json::ParseLimits& limits = {}) const;
  // The "x5c" header certificates, leaf first (standard base64 DER, RFC 7515 §4.1.6);
  // NotFound when there is none.
  StatusOr<std::vector<crypto::Certificate>> x5c() const;

  // Verifies the signature with `key`. InvalidArgument when the key does not fit the algorithm
  // (RSA key for ES256, wrong curve, RSA key under 2048 bits); DataLoss when it does not verify.
  Status verify(const crypto::PublicKey& key) const;

 private:
  Jws() = default;
  JwsAlgorithm alg_ = JwsAlgorithm::RS256;
  json::ObjectPtr header_;
  Bytes payload_;
  std::string signing_input_;  // ASCII(BASE64URL(header) || '.' || BASE64URL(payload))
  Bytes signature_;            // raw signature bytes (JOSE r||s for ECDSA)
};

// Signs `payload` and returns the compact serialization. `extra_header` members (kid, typ, x5c,
// jku, ...) are added to {"alg": ...}; an "alg" in it is an error. The header is serialized
// canonically.
StatusOr<std::string> signJws(const crypto::PrivateKey& key, JwsAlgorithm alg, ByteView payload,
                              const json::ObjectPtr& extra_header = nullptr);

}  // namespace skr::jose
