#include "common/jose/jws.h"

#include <array>

#include "common/encoding/base64.h"
#include "common/encoding/printable.h"

namespace skr::jose {
namespace {

using crypto::Curve;
using crypto::KeyType;
using crypto::SignatureScheme;

constexpr std::size_t kMaxX5cCerts = 10;
constexpr int kMinRsaBits = 2048;  // RFC 7518 §3.3 and §3.5

struct AlgInfo {
  JwsAlgorithm alg;
  std::string_view name;
  SignatureScheme scheme;
};

constexpr std::array<AlgInfo, 9> kAlgorithms = {{
    {JwsAlgorithm::RS256, "RS256", SignatureScheme::RsaPkcs1Sha256},
    {JwsAlgorithm::RS384, "RS384", SignatureScheme::RsaPkcs1Sha384},
    {JwsAlgorithm::RS512, "RS512", SignatureScheme::RsaPkcs1Sha512},
    {JwsAlgorithm::PS256, "PS256", SignatureScheme::RsaPssSha256},
    {JwsAlgorithm::PS384, "PS384", SignatureScheme::RsaPssSha384},
    {JwsAlgorithm::PS512, "PS512", SignatureScheme::RsaPssSha512},
    {JwsAlgorithm::ES256, "ES256", SignatureScheme::EcdsaSha256},
    {JwsAlgorithm::ES384, "ES384", SignatureScheme::EcdsaSha384},
    {JwsAlgorithm::ES512, "ES512", SignatureScheme::EcdsaSha512},
}};

const AlgInfo& info(JwsAlgorithm alg) {
  for (const auto& a : kAlgorithms) {
    if (a.alg == alg) return a;
  }
  return kAlgorithms[0];  // unreachable: every enumerator is listed
}

// The curve an ES* algorithm requires (RFC 7518 §3.4).
Curve esCurve(JwsAlgorithm alg) {
  switch (alg) {
    case JwsAlgorithm::ES384: return Curve::P384;
    case JwsAlgorithm::ES512: return Curve::P521;
    default: return Curve::P256;
  }
}

bool isEs(JwsAlgorithm alg) {
  return alg == JwsAlgorithm::ES256 || alg == JwsAlgorithm::ES384 || alg == JwsAlgorithm::ES512;
}

// Checks that `type`/`curve`/`bits` of a key fit `alg`.
Status checkKeyFits(JwsAlgorithm alg, KeyType type, StatusOr<Curve> curve, int bits) {
  const std::string name(info(alg).name);
  if (isEs(alg)) {
    if (type != KeyType::Ec) {
      return invalidArgumentError("JWS algorithm " + name + " needs an EC key, got an RSA key");
    }
    if (!curve.ok() || *curve != esCurve(alg)) {
      return invalidArgumentError("JWS algorithm " + name + " needs curve " +
                                  crypto::curveName(esCurve(alg)) + ", got " +
                                  (curve.ok() ? crypto::curveName(*curve) : "unknown"));
    }
    return okStatus();
  }
  if (type != KeyType::Rsa) {
    return invalidArgumentError("JWS algorithm " + name + " needs an RSA key, got an EC key");
  }
  if (bits < kMinRsaBits) {
    return invalidArgumentError("JWS algorithm " + name + ": RSA key of " + std::to_string(bits) +
                                " bits is below the 2048-bit minimum");
  }
  return okStatus();
}

StatusOr<Bytes> decodePart(std::string_view part, std::string_view what, std::size_t max) {
  StatusOr<Bytes> bytes = encoding::base64UrlDecode(part, max);
  if (!bytes.ok()) return bytes.status().withContext("JWS " + std::string(what));
  return bytes;
}

}  // namespace

std::string_view jwsAlgorithmName(JwsAlgorithm alg) {
  return info(alg).name;
}

StatusOr<JwsAlgorithm> jwsAlgorithmFromName(std::string_view name) {
  for (const auto& a : kAlgorithms) {
    if (a.name == name) return a.alg;
  }
  // A well-formed token with an algorithm we never verify: a refusal of its signature.
  ErrorDetails refused;
  refused.cause = ErrorCause::Integrity;
  if (name == "none") {
    return invalidArgumentError(
               "JWS algorithm 'none' is rejected: unsigned tokens are never "
               "accepted")
        .withDetails(refused);
  }
  if (name.starts_with("HS")) {
    return invalidArgumentError("JWS algorithm '" + encoding::printable(name, 48) +
                                "' (HMAC) is not accepted: only RS*, PS* and ES* are")
        .withDetails(refused);
  }
  return invalidArgumentError("unknown JWS algorithm '" + encoding::printable(name, 48) + "'")
      .withDetails(refused);
}

crypto::SignatureScheme jwsSignatureScheme(JwsAlgorithm alg) {
  return info(alg).scheme;
}

StatusOr<Jws> Jws::parse(std::string_view compact, const JwsLimits& limits) {
  if (compact.size() > limits.max_compact_bytes) {
    return resourceExhaustedError("JWS is " + std::to_string(compact.size()) + " bytes, limit " +
                                  std::to_string(limits.max_compact_bytes));
  }
  const std::size_t dot1 = compact.find('.');
  const std::size_t dot2 = dot1 == std::string_view::npos ? dot1 : compact.find('.', dot1 + 1);
  if (dot1 == std::string_view::npos || dot2 == std::string_view::npos ||
      compact.find('.', dot2 + 1) != std::string_view::npos) {
    return invalidArgumentError(
        "JWS compact serialization must have exactly three parts separated by '.'");
  }
  const std::string_view header_part = compact.substr(0, dot1);
  const std::string_view payload_part = compact.substr(dot1 + 1, dot2 - dot1 - 1);
  const std::string_view signature_part = compact.substr(dot2 + 1);
  if (header_part.empty()) return invalidArgumentError("JWS header is empty");
  if (signature_part.empty()) {
    return invalidArgumentError("JWS signature is empty (unsigned tokens are rejected)");
  }

  Jws jws;
  SKR_ASSIGN_OR_RETURN(Bytes header_bytes,
                       decodePart(header_part, "header", limits.max_header_bytes));
  json::ParseLimits header_limits;
  header_limits.max_bytes = limits.max_header_bytes;
  header_limits.max_depth = 8;
  StatusOr<json::ObjectPtr> header = json::parseObject(toString(header_bytes), header_limits);
  if (!header.ok()) return header.status().withContext("JWS header");
  jws.header_ = std::move(header).value();

  StatusOr<std::string> alg_name = json::getString(jws.header_, "alg");
  if (!alg_name.ok()) {
    // A header without a usable "alg" is a malformed JWS (RFC 7515 §4.1.1), whatever the lookup
    // says.
    return invalidArgumentError("JWS header: " + alg_name.status().message());
  }
  SKR_ASSIGN_OR_RETURN(jws.alg_, jwsAlgorithmFromName(*alg_name));
  // RFC 7515 §4.1.11: extensions listed in "crit" must be understood; skr understands none.
  if (jws.header_->has("crit")) {
    return invalidArgumentError("JWS header has 'crit' extensions, none of which are supported");
  }

  SKR_ASSIGN_OR_RETURN(jws.payload_, decodePart(payload_part, "payload", limits.max_compact_bytes));
  SKR_ASSIGN_OR_RETURN(jws.signature_, decodePart(signature_part, "signature", 1024));
  jws.signing_input_ = std::string(compact.substr(0, dot2));
  return jws;
}

std::optional<std::string> Jws::kid() const {
  StatusOr<std::optional<std::string>> kid = json::getOptionalString(header_, "kid");
  if (!kid.ok()) return std::nullopt;
  return *kid;
}

StatusOr<json::ObjectPtr> Jws::payloadJson(const json::ParseLimits& limits) const {
  StatusOr<json::ObjectPtr> object = json::parseObject(toString(payload_), limits);
  if (!object.ok()) return object.status().withContext("JWS payload");
  return object;
}

StatusOr<std::vector<crypto::Certificate>> Jws::x5c() const {
  if (!header_->has("x5c")) return notFoundError("JWS header has no 'x5c'");
  StatusOr<std::vector<std::string>> entries = json::getStringArray(header_, "x5c");
  if (!entries.ok()) return entries.status().withContext("JWS header");
  if (entries->empty()) return invalidArgumentError("JWS header 'x5c' is empty");
  if (entries->size() > kMaxX5cCerts) {
    return invalidArgumentError("JWS header 'x5c' has " + std::to_string(entries->size()) +
                                " certificates, at most " + std::to_string(kMaxX5cCerts) +
                                " accepted");
  }
  std::vector<crypto::Certificate> certs;
  certs.reserve(entries->size());
  for (std::size_t i = 0; i < entries->size(); ++i) {
    const std::string context = "JWS header 'x5c'[" + std::to_string(i) + "]";
    // RFC 7515 §4.1.6: standard base64 (not base64url) of the DER.
    StatusOr<Bytes> der = encoding::base64Decode((*entries)[i], 64 * 1024);
    if (!der.ok()) return der.status().withContext(context);
    StatusOr<crypto::Certificate> cert = crypto::Certificate::fromDer(*der);
    if (!cert.ok()) return cert.status().withContext(context);
    certs.push_back(std::move(cert).value());
  }
  return certs;
}

Status Jws::verify(const crypto::PublicKey& key) const {
  SKR_RETURN_IF_ERROR(checkKeyFits(alg_, key.type(), key.curve(), key.bits()));
  const SignatureScheme scheme = jwsSignatureScheme(alg_);
  const ByteView input = asBytes(signing_input_);
  if (isEs(alg_)) {
    StatusOr<Bytes> der = crypto::ecdsaDerFromJose(esCurve(alg_), signature_);
    if (!der.ok()) {
      return dataLossError("JWS " + std::string(jwsAlgorithmName(alg_)) + " signature is " +
                           std::to_string(signature_.size()) + " bytes, expected " +
                           std::to_string(2 * crypto::curveFieldSize(esCurve(alg_))));
    }
    return crypto::verify(key, scheme, input, *der).withContext("JWS signature");
  }
  return crypto::verify(key, scheme, input, signature_).withContext("JWS signature");
}

StatusOr<std::string> signJws(const crypto::PrivateKey& key, JwsAlgorithm alg, ByteView payload,
                              const json::ObjectPtr& extra_header) {
  SKR_RETURN_IF_ERROR(checkKeyFits(alg, key.type(), key.curve(), key.bits()));
  json::ObjectPtr header = new Poco::JSON::Object();
  if (!extra_header.isNull()) {
    for (const auto& [name, value] : *extra_header) {
      if (name == "alg") return invalidArgumentError("signJws: extra header must not set 'alg'");
      header->set(name, value);
    }
  }
  header->set("alg", std::string(jwsAlgorithmName(alg)));
  SKR_ASSIGN_OR_RETURN(std::string header_json, json::serializeCanonical(header));
  std::string compact = encoding::base64UrlEncode(asBytes(header_json));
  compact.push_back('.');
  compact += encoding::base64UrlEncode(payload);
  SKR_ASSIGN_OR_RETURN(Bytes signature,
                       crypto::sign(key, jwsSignatureScheme(alg), asBytes(compact)));
  if (isEs(alg)) {
    SKR_ASSIGN_OR_RETURN(signature, crypto::ecdsaJoseFromDer(esCurve(alg), signature));
  }
  compact.push_back('.');
  compact += encoding::base64UrlEncode(signature);
  return compact;
}

}  // namespace skr::jose
