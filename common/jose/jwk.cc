#include "common/jose/jwk.h"

#include <map>
#include <utility>

#include "common/crypto/digest.h"
#include "common/encoding/base64.h"
#include "common/encoding/json_string.h"
#include "common/encoding/printable.h"

namespace skr::jose {
namespace {

using crypto::Curve;
using crypto::KeyType;
using crypto::PrivateKey;
using crypto::PublicKey;

constexpr std::size_t kMaxJwkMemberBytes = 16 * 1024;  // RSA-16384 n is ~2.7 KiB in base64url
constexpr std::size_t kMaxOctBytes = 512;

StatusOr<Bytes> decodePublicMember(const json::ObjectPtr& object, std::string_view name) {
  SKR_ASSIGN_OR_RETURN(std::string text, json::getString(object, name));
  StatusOr<Bytes> bytes = encoding::base64DecodeLenient(text, kMaxJwkMemberBytes);
  if (!bytes.ok()) return bytes.status().withContext("JWK member '" + std::string(name) + "'");
  if (bytes->empty()) {
    return invalidArgumentError("JWK member '" + std::string(name) + "' is empty");
  }
  return bytes;
}

StatusOr<SecretBytes> decodePrivateMember(const json::ObjectPtr& object, std::string_view name) {
  SKR_ASSIGN_OR_RETURN(std::string text, json::getString(object, name));
  StatusOr<SecretBytes> bytes = encoding::base64DecodeLenientSecret(text, kMaxJwkMemberBytes);
  if (!bytes.ok()) return bytes.status().withContext("JWK member '" + std::string(name) + "'");
  if (bytes->empty()) {
    return invalidArgumentError("JWK member '" + std::string(name) + "' is empty");
  }
  return bytes;
}

// Canonical JSON object written member by member, in sorted order, into secret storage. Values
// are either public JSON snippets or secret base64url strings.
class SecretObjectWriter {
 public:
  void addString(std::string_view key, std::string_view value) {
    std::string snippet;
    json::appendQuoted(snippet, value);
    members_[std::string(key)] = Value{SecretBytes::copyOf(asBytes(snippet)), false};
  }
  void addRaw(std::string_view key, std::string_view json_snippet) {
    members_[std::string(key)] = Value{SecretBytes::copyOf(asBytes(json_snippet)), false};
  }
  void addPublicBytes(std::string_view key, ByteView bytes) {
    addString(key, encoding::base64UrlEncode(bytes));
  }
  void addSecretBytes(std::string_view key, const SecretBytes& bytes) {
    members_[std::string(key)] = Value{encoding::base64UrlEncodeSecret(bytes), true};
  }
  SecretBytes finish() const {
    SecretBytes out;
    const auto access = grantSecretAccess();
    out.append(asBytes("{"));
    bool first = true;
    for (const auto& [key, value] : members_) {
      if (!first) out.append(asBytes(","));
      first = false;
      std::string quoted_key;
      json::appendQuoted(quoted_key, key);
      out.append(asBytes(quoted_key));
      out.append(asBytes(":"));
      if (value.quote) out.append(asBytes("\""));
      out.append(value.bytes.view(access));
      if (value.quote) out.append(asBytes("\""));
    }
    out.append(asBytes("}"));
    return out;
  }

 private:
  struct Value {
    SecretBytes bytes;
    bool quote = false;  // secret base64url text still needs its quotes
  };
  std::map<std::string, Value> members_;  // std::map: byte-wise sorted keys, as RFC 7638 needs
};

std::string keyOpsJson(const std::vector<std::string>& ops) {
  std::string out = "[";
  for (std::size_t i = 0; i < ops.size(); ++i) {
    if (i > 0) out.push_back(',');
    json::appendQuoted(out, ops[i]);
  }
  out.push_back(']');
  return out;
}

Status readCommonMembers(const json::ObjectPtr& object, std::string& kid,
                         std::vector<std::string>& key_ops, std::optional<std::string>& alg) {
  SKR_ASSIGN_OR_RETURN(std::optional<std::string> k, json::getOptionalString(object, "kid"));
  if (k) kid = std::move(*k);
  if (object->has("key_ops") && !object->isNull("key_ops")) {
    SKR_ASSIGN_OR_RETURN(key_ops, json::getStringArray(object, "key_ops"));
  }
  SKR_ASSIGN_OR_RETURN(alg, json::getOptionalString(object, "alg"));
  return okStatus();
}

}  // namespace

std::string_view jwkTypeName(JwkType type) {
  switch (type) {
    case JwkType::Rsa: return "RSA";
    case JwkType::Ec: return "EC";
    case JwkType::Oct: return "oct";
  }
  return "?";
}

StatusOr<Jwk> Jwk::fromJson(const json::ObjectPtr& object) {
  if (object.isNull()) return invalidArgumentError("JWK: not a JSON object");
  SKR_ASSIGN_OR_RETURN(std::string kty, json::getString(object, "kty"));
  Jwk jwk;
  SKR_RETURN_IF_ERROR(readCommonMembers(object, jwk.kid_, jwk.key_ops_, jwk.alg_));

  if (kty == "RSA") {
    jwk.type_ = JwkType::Rsa;
    crypto::RsaPublicComponents pub;
    SKR_ASSIGN_OR_RETURN(pub.n, decodePublicMember(object, "n"));
    SKR_ASSIGN_OR_RETURN(pub.e, decodePublicMember(object, "e"));
    if (object->has("oth")) {
      return unimplementedError("RSA JWK with 'oth' (multi-prime) is not supported");
    }
    if (object->has("d")) {
      for (const char* member : {"p", "q", "dp", "dq", "qi"}) {
        if (!object->has(member)) {
          return invalidArgumentError(std::string("RSA JWK has 'd' but no '") + member +
                                      "': private RSA JWKs need all CRT members (RFC 7518 "
                                      "§6.3.2)");
        }
      }
      crypto::RsaPrivateComponents priv;
      SKR_ASSIGN_OR_RETURN(priv.d, decodePrivateMember(object, "d"));
      SKR_ASSIGN_OR_RETURN(priv.p, decodePrivateMember(object, "p"));
      SKR_ASSIGN_OR_RETURN(priv.q, decodePrivateMember(object, "q"));
      SKR_ASSIGN_OR_RETURN(priv.dp, decodePrivateMember(object, "dp"));
      SKR_ASSIGN_OR_RETURN(priv.dq, decodePrivateMember(object, "dq"));
      SKR_ASSIGN_OR_RETURN(priv.qi, decodePrivateMember(object, "qi"));
      StatusOr<PrivateKey> key = PrivateKey::fromRsaComponents(pub, priv);
      if (!key.ok()) return key.status().withContext("RSA JWK");
      jwk.public_.emplace(key->publicKey());
      jwk.private_.emplace(std::move(key).value());
    } else {
      StatusOr<PublicKey> key = PublicKey::fromRsaComponents(pub.n, pub.e);
      if (!key.ok()) return key.status().withContext("RSA JWK");
      jwk.public_.emplace(std::move(key).value());
    }
    return jwk;
  }

  if (kty == "EC") {
    jwk.type_ = JwkType::Ec;
    SKR_ASSIGN_OR_RETURN(std::string crv, json::getString(object, "crv"));
    StatusOr<Curve> curve = crypto::curveFromName(crv);
    if (!curve.ok()) return curve.status().withContext("EC JWK member 'crv'");
    SKR_ASSIGN_OR_RETURN(Bytes x, decodePublicMember(object, "x"));
    SKR_ASSIGN_OR_RETURN(Bytes y, decodePublicMember(object, "y"));
    const std::size_t field = crypto::curveFieldSize(*curve);
    // RFC 7518 §6.2.1.2/3: x and y are the full field size, not stripped of leading zeros.
    if (x.size() != field || y.size() != field) {
      return invalidArgumentError("EC JWK: 'x' is " + std::to_string(x.size()) + " bytes and 'y' " +
                                  std::to_string(y.size()) + " bytes, expected " +
                                  std::to_string(field) + " each for " + crv);
    }
    if (object->has("d")) {
      SKR_ASSIGN_OR_RETURN(SecretBytes d, decodePrivateMember(object, "d"));
      if (d.size() != field) {
        return invalidArgumentError("EC JWK: 'd' is " + std::to_string(d.size()) +
                                    " bytes, expected " + std::to_string(field) + " for " + crv);
      }
      StatusOr<PrivateKey> key = PrivateKey::fromEcPrivate(*curve, d, x, y);
      if (!key.ok()) return key.status().withContext("EC JWK");
      jwk.public_.emplace(key->publicKey());
      jwk.private_.emplace(std::move(key).value());
    } else {
      StatusOr<PublicKey> key = PublicKey::fromEcPoint(*curve, x, y);
      if (!key.ok()) return key.status().withContext("EC JWK");
      jwk.public_.emplace(std::move(key).value());
    }
    return jwk;
  }

  if (kty == "oct") {
    jwk.type_ = JwkType::Oct;
    SKR_ASSIGN_OR_RETURN(SecretBytes k, decodePrivateMember(object, "k"));
    if (k.size() > kMaxOctBytes) {
      return invalidArgumentError("oct JWK: 'k' is " + std::to_string(k.size()) +
                                  " bytes, at most " + std::to_string(kMaxOctBytes) + " allowed");
    }
    jwk.octet_.emplace(std::move(k));
    return jwk;
  }

  return invalidArgumentError("JWK: unsupported 'kty' \"" + encoding::printable(kty, 48) +
                              "\" (expected RSA, EC or oct)");
}

StatusOr<Jwk> Jwk::parse(std::string_view public_json_text) {
  SKR_ASSIGN_OR_RETURN(json::ObjectPtr object, json::parseObject(public_json_text));
  return fromJson(object);
}

StatusOr<Jwk> Jwk::parseSecret(const SecretBytes& json_text) {
  const ByteView view = json_text.view(grantSecretAccess());
  // Poco keeps transient copies of the member strings while parsing; the decoded key material
  // goes straight into SecretBytes.
  SKR_ASSIGN_OR_RETURN(json::ObjectPtr object,
                       json::parseObject(std::string_view(
                           reinterpret_cast<const char*>(view.data()), view.size())));  // NOLINT
  return fromJson(object);
}

Jwk Jwk::fromPublicKey(PublicKey key) {
  Jwk jwk;
  jwk.type_ = key.type() == KeyType::Rsa ? JwkType::Rsa : JwkType::Ec;
  jwk.public_.emplace(std::move(key));
  return jwk;
}

Jwk Jwk::fromPrivateKey(PrivateKey key) {
  Jwk jwk;
  jwk.type_ = key.type() == KeyType::Rsa ? JwkType::Rsa : JwkType::Ec;
  jwk.public_.emplace(key.publicKey());
  jwk.private_.emplace(std::move(key));
  return jwk;
}

StatusOr<Jwk> Jwk::fromOctet(SecretBytes key) {
  if (key.empty() || key.size() > kMaxOctBytes) {
    return invalidArgumentError("oct JWK: key is " + std::to_string(key.size()) +
                                " bytes, expected 1.." + std::to_string(kMaxOctBytes));
  }
  Jwk jwk;
  jwk.type_ = JwkType::Oct;
  jwk.octet_.emplace(std::move(key));
  return jwk;
}

bool Jwk::hasPrivate() const {
  return private_.has_value() || octet_.has_value();
}

StatusOr<const PublicKey*> Jwk::publicKey() const {
  if (!public_) return failedPreconditionError("an oct JWK has no public key");
  return &*public_;
}

StatusOr<const PrivateKey*> Jwk::privateKey() const {
  if (!private_) {
    return failedPreconditionError(std::string(jwkTypeName(type_)) + " JWK holds no private key");
  }
  return &*private_;
}

StatusOr<const SecretBytes*> Jwk::octet() const {
  if (!octet_) {
    return failedPreconditionError(std::string(jwkTypeName(type_)) + " JWK is not an oct key");
  }
  return &*octet_;
}

StatusOr<json::ObjectPtr> Jwk::publicJson() const {
  if (!public_) return failedPreconditionError("an oct JWK has no public form");
  json::ObjectPtr out = new Poco::JSON::Object();
  out->set("kty", std::string(jwkTypeName(type_)));
  if (type_ == JwkType::Rsa) {
    SKR_ASSIGN_OR_RETURN(crypto::RsaPublicComponents c, public_->rsaComponents());
    out->set("n", encoding::base64UrlEncode(c.n));
    out->set("e", encoding::base64UrlEncode(c.e));
  } else {
    SKR_ASSIGN_OR_RETURN(crypto::EcPublicPoint p, public_->ecPoint());
    out->set("crv", std::string(crypto::curveName(p.curve)));
    out->set("x", encoding::base64UrlEncode(p.x));
    out->set("y", encoding::base64UrlEncode(p.y));
  }
  if (!kid_.empty()) out->set("kid", kid_);
  if (!key_ops_.empty()) {
    Poco::JSON::Array::Ptr ops = new Poco::JSON::Array();
    for (const auto& op : key_ops_) ops->add(op);
    out->set("key_ops", ops);
  }
  if (alg_) out->set("alg", *alg_);
  return out;
}

StatusOr<SecretBytes> Jwk::privateJson(SecretAccess /*token*/) const {
  SecretObjectWriter writer;
  writer.addString("kty", jwkTypeName(type_));
  if (!kid_.empty()) writer.addString("kid", kid_);
  if (!key_ops_.empty()) writer.addRaw("key_ops", keyOpsJson(key_ops_));
  if (alg_) writer.addString("alg", *alg_);
  if (type_ == JwkType::Oct) {
    writer.addSecretBytes("k", *octet_);
    return writer.finish();
  }
  if (type_ == JwkType::Rsa) {
    SKR_ASSIGN_OR_RETURN(crypto::RsaPublicComponents c, public_->rsaComponents());
    writer.addPublicBytes("n", c.n);
    writer.addPublicBytes("e", c.e);
    if (private_) {
      SKR_ASSIGN_OR_RETURN(crypto::RsaPrivateComponents p, private_->rsaPrivateComponents());
      writer.addSecretBytes("d", p.d);
      writer.addSecretBytes("p", p.p);
      writer.addSecretBytes("q", p.q);
      writer.addSecretBytes("dp", p.dp);
      writer.addSecretBytes("dq", p.dq);
      writer.addSecretBytes("qi", p.qi);
    }
    return writer.finish();
  }
  SKR_ASSIGN_OR_RETURN(crypto::EcPublicPoint point, public_->ecPoint());
  writer.addString("crv", crypto::curveName(point.curve));
  writer.addPublicBytes("x", point.x);
  writer.addPublicBytes("y", point.y);
  if (private_) {
    SKR_ASSIGN_OR_RETURN(SecretBytes d, private_->ecPrivateScalar());
    writer.addSecretBytes("d", d);
  }
  return writer.finish();
}

std::string Jwk::thumbprint() const {
  // RFC 7638 §3.2: only the required members, lexicographic order, no whitespace.
  SecretObjectWriter writer;
  writer.addString("kty", jwkTypeName(type_));
  if (type_ == JwkType::Oct) {
    writer.addSecretBytes("k", *octet_);
  } else if (type_ == JwkType::Rsa) {
    const auto c = public_->rsaComponents();
    writer.addPublicBytes("n", c->n);
    writer.addPublicBytes("e", c->e);
  } else {
    const auto point = public_->ecPoint();
    writer.addString("crv", crypto::curveName(point->curve));
    writer.addPublicBytes("x", point->x);
    writer.addPublicBytes("y", point->y);
  }
  const SecretBytes canonical = writer.finish();
  return encoding::base64UrlEncode(crypto::sha256(canonical.view(grantSecretAccess())));
}

}  // namespace skr::jose
