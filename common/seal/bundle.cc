#include "common/seal/bundle.h"

#include <algorithm>
#include <array>
#include <set>
#include <utility>

#include "common/crypto/aes_gcm.h"
#include "common/crypto/digest.h"
#include "common/encoding/base64.h"
#include "common/encoding/hex.h"
#include "common/encoding/printable.h"
#include "common/log/logger.h"
#include "common/snp/platform.h"

namespace skr::seal {

// Builds and reads the JSON form; a class so SealedBundle can befriend it.
class BundleCodec {
 public:
  static StatusOr<std::string> seal(const BundleInfo& info, jose::JwkType kty,
                                    const jose::Jwk* public_jwk, std::string_view material,
                                    const SecretBytes& plaintext,
                                    const SealingKeyProvider& provider);
  static StatusOr<SealedBundle> parse(std::string_view text);
  static StatusOr<SecretBytes> open(const SealedBundle& bundle, BundleKind expected,
                                    const SealingKeyProvider& provider, const OpenOptions& options);
  static const std::string& material(const SealedBundle& b) { return b.material_; }
};

namespace {

constexpr std::size_t kMaxVaultLength = 255;
constexpr std::size_t kMaxKidLength = 1024;
constexpr std::size_t kMaxIssuerLength = 1024;
constexpr std::size_t kMaxKeyOps = 16;
constexpr std::size_t kMaxKeyOpLength = 32;
constexpr std::size_t kMaxMaaTokenBytes = std::size_t{64} * 1024;

const std::set<std::string, std::less<>> kTopMembers = {
    "format",      "kind", "key_name", "vault",    "kid",      "kty",      "key_ops", "public_jwk",
    "released_at", "maa",  "hostdata", "platform", "emulated", "material", "seal",    "sealed"};

// Names and members from a bundle file in messages: printable, cut at 128 bytes.
std::string quoted(std::string_view s) {
  return encoding::quoted(s, 128);
}

bool isLowerHex(std::string_view s, std::size_t length) {
  return s.size() == length && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

bool isPrintableAscii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

std::string_view ktyName(jose::JwkType t) {
  return jose::jwkTypeName(t);
}

StatusOr<jose::JwkType> parseKty(std::string_view s) {
  for (jose::JwkType t : {jose::JwkType::Rsa, jose::JwkType::Ec, jose::JwkType::Oct}) {
    if (s == jose::jwkTypeName(t)) return t;
  }
  return invalidArgumentError("member 'kty': " + quoted(s) + " is not RSA, EC or oct");
}

std::string expectedMaterial(BundleKind kind, jose::JwkType kty) {
  if (kind == BundleKind::Pending) return "pending";
  return kty == jose::JwkType::Oct ? "raw" : "jwk";
}

Status validateInfo(const BundleInfo& info) {
  SKR_RETURN_IF_ERROR(validateKeyName(info.key_name));
  if (info.vault.empty() || info.vault.size() > kMaxVaultLength || !isPrintableAscii(info.vault)) {
    return invalidArgumentError("member 'vault': expected 1.." + std::to_string(kMaxVaultLength) +
                                " printable ASCII characters");
  }
  if (info.kid.size() > kMaxKidLength || !isPrintableAscii(info.kid)) {
    return invalidArgumentError("member 'kid': expected at most " + std::to_string(kMaxKidLength) +
                                " printable ASCII characters");
  }
  if (info.kind == BundleKind::Key && info.kid.empty()) {
    return invalidArgumentError("member 'kid': a key bundle needs the full kid with version");
  }
  if (info.key_ops.size() > kMaxKeyOps) {
    return invalidArgumentError("member 'key_ops': " + std::to_string(info.key_ops.size()) +
                                " entries, at most " + std::to_string(kMaxKeyOps));
  }
  for (const std::string& op : info.key_ops) {
    if (op.empty() || op.size() > kMaxKeyOpLength || !isPrintableAscii(op)) {
      return invalidArgumentError("member 'key_ops': an entry is not 1.." +
                                  std::to_string(kMaxKeyOpLength) + " printable characters");
    }
  }
  if (info.maa.issuer.empty() || info.maa.issuer.size() > kMaxIssuerLength ||
      !isPrintableAscii(info.maa.issuer)) {
    return invalidArgumentError("member 'maa.issuer': expected 1.." +
                                std::to_string(kMaxIssuerLength) + " printable characters");
  }
  if (!isLowerHex(info.maa.token_sha256, 64)) {
    return invalidArgumentError("member 'maa.token_sha256': expected 64 lowercase hex digits");
  }
  if (!isLowerHex(info.hostdata, 64)) {
    return invalidArgumentError("member 'hostdata': expected 64 lowercase hex digits, got " +
                                std::to_string(info.hostdata.size()) + " characters");
  }
  StatusOr<snp::PlatformKind> platform = snp::parsePlatformKind(info.platform);
  if (!platform.ok() || *platform == snp::PlatformKind::Auto) {
    return invalidArgumentError("member 'platform': " + quoted(info.platform) +
                                " is not a concrete platform (sev-guest, sev-legacy, tsm, "
                                "emulated)");
  }
  if (*platform == snp::PlatformKind::Emulated && !info.emulated) {
    return invalidArgumentError("member 'emulated': platform 'emulated' requires the stamp");
  }
  return okStatus();
}

json::ObjectPtr maaJson(const MaaTokenInfo& maa) {
  json::ObjectPtr o = new Poco::JSON::Object();
  o->set("issuer", maa.issuer);
  o->set("token_sha256", maa.token_sha256);
  o->set("token_expires_at", formatRfc3339(maa.expires_at));
  return o;
}

StatusOr<SystemTime> getTime(const json::ObjectPtr& o, std::string_view member) {
  SKR_ASSIGN_OR_RETURN(std::string text, json::getString(o, member));
  StatusOr<SystemTime> t = parseRfc3339(text);
  if (!t.ok()) return invalidArgumentError("member '" + std::string(member) + "': not RFC 3339");
  return t;
}

Status onlyMembers(const json::ObjectPtr& o, std::string_view where,
                   std::initializer_list<std::string_view> allowed) {
  for (const auto& member : *o) {
    if (std::find(allowed.begin(), allowed.end(), member.first) == allowed.end()) {
      return invalidArgumentError("unknown member " + quoted(member.first) + " in " +
                                  std::string(where));
    }
  }
  return okStatus();
}

StatusOr<Bytes> getBase64Url(const json::ObjectPtr& o, std::string_view member,
                             std::size_t max_bytes) {
  SKR_ASSIGN_OR_RETURN(std::string text, json::getString(o, member));
  StatusOr<Bytes> bytes = encoding::base64UrlDecode(text, max_bytes);
  if (!bytes.ok()) return bytes.status().withContext("member 'sealed." + std::string(member) + "'");
  return bytes;
}

void warnNone(std::string_view op, const BundleInfo& info) {
  log::warning(
      "seal.provider_none",
      {{"op", op}, {"key", info.key_name}, {"message", "key material is stored in plaintext"}});
}

std::string describeParameters(const json::ObjectPtr& p) {
  StatusOr<std::string> s = json::serializeCanonical(p);
  return s.ok() ? s->substr(0, 512) : "(unprintable)";
}

void storeBe32(SecretBytes& out, uint32_t v) {
  const std::array<uint8_t, 4> b = {static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16),
                                    static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)};
  out.append(b);
}

}  // namespace

std::string_view bundleKindName(BundleKind kind) {
  return kind == BundleKind::Pending ? "pending" : "key";
}

Status validateKeyName(std::string_view name) {
  if (name.empty() || name.size() > kMaxKeyNameLength) {
    return invalidArgumentError("key name: " + std::to_string(name.size()) +
                                " characters, expected 1.." + std::to_string(kMaxKeyNameLength));
  }
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok =
        (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
    if (!ok) {
      return invalidArgumentError("key name " + quoted(isPrintableAscii(name) ? name : "?") +
                                  ": character " + std::to_string(i) +
                                  " is not one of [0-9a-zA-Z-]");
    }
  }
  return okStatus();
}

MaaTokenInfo MaaTokenInfo::describe(std::string issuer, std::string_view token,
                                    SystemTime expires_at) {
  return MaaTokenInfo{std::move(issuer), encoding::hexEncode(crypto::sha256(asBytes(token))),
                      expires_at};
}

StatusOr<std::string> BundleCodec::seal(const BundleInfo& info, jose::JwkType kty,
                                        const jose::Jwk* public_jwk, std::string_view material,
                                        const SecretBytes& plaintext,
                                        const SealingKeyProvider& provider) {
  SKR_RETURN_IF_ERROR(validateInfo(info));
  if (provider.emulated() && !info.emulated) {
    return failedPreconditionError("seal provider '" + std::string(provider.name()) +
                                   "' is emulated: the bundle must carry the emulated stamp");
  }
  json::ObjectPtr o = new Poco::JSON::Object();
  o->set("format", std::string(kBundleFormat));
  o->set("kind", std::string(bundleKindName(info.kind)));
  o->set("key_name", info.key_name);
  o->set("vault", info.vault);
  if (!info.kid.empty()) o->set("kid", info.kid);
  o->set("kty", std::string(ktyName(kty)));
  Poco::JSON::Array::Ptr ops = new Poco::JSON::Array();
  for (const std::string& op : info.key_ops) ops->add(op);
  o->set("key_ops", ops);
  if (public_jwk != nullptr) {
    SKR_ASSIGN_OR_RETURN(const crypto::PublicKey* pub, public_jwk->publicKey());
    // Public members only: a fresh Jwk without kid, key_ops or alg.
    SKR_ASSIGN_OR_RETURN(crypto::PublicKey copy, crypto::PublicKey::fromSpkiDer(pub->toSpkiDer()));
    SKR_ASSIGN_OR_RETURN(json::ObjectPtr pj,
                         jose::Jwk::fromPublicKey(std::move(copy)).publicJson());
    o->set("public_jwk", pj);
  }
  o->set("released_at", formatRfc3339(info.released_at));
  o->set("maa", maaJson(info.maa));
  o->set("hostdata", info.hostdata);
  o->set("platform", info.platform);
  o->set("emulated", info.emulated);
  o->set("material", std::string(material));
  json::ObjectPtr seal = new Poco::JSON::Object();
  seal->set("provider", std::string(provider.name()));
  seal->set("parameters", provider.parameters());
  o->set("seal", seal);

  SKR_ASSIGN_OR_RETURN(std::string aad, json::serializeCanonical(o));
  json::ObjectPtr sealed = new Poco::JSON::Object();
  if (provider.kind() == SealProviderKind::None) {
    warnNone("seal", info);
    sealed->set("plaintext",
                encoding::base64UrlEncode(plaintext.view(grantSecretAccess())));  // by request
  } else {
    SKR_ASSIGN_OR_RETURN(SecretBytes key, provider.sealingKey());
    SKR_ASSIGN_OR_RETURN(
        crypto::GcmSealed gcm,
        crypto::aesGcmEncrypt(key, plaintext.view(grantSecretAccess()), asBytes(aad)));
    sealed->set("iv", encoding::base64UrlEncode(gcm.iv));
    sealed->set("ciphertext", encoding::base64UrlEncode(gcm.ciphertext));
    sealed->set("tag", encoding::base64UrlEncode(gcm.tag));
  }
  o->set("sealed", sealed);
  SKR_ASSIGN_OR_RETURN(std::string text, json::serializeCanonical(o));
  text.push_back('\n');
  if (text.size() > kMaxBundleBytes) {
    return resourceExhaustedError("sealed bundle for key " + quoted(info.key_name) + " is " +
                                  std::to_string(text.size()) + " bytes, limit " +
                                  std::to_string(kMaxBundleBytes));
  }
  return text;
}

StatusOr<SealedBundle> BundleCodec::parse(std::string_view text) {
  if (text.size() > kMaxBundleBytes) {
    return resourceExhaustedError("sealed bundle: " + std::to_string(text.size()) +
                                  " bytes, limit " + std::to_string(kMaxBundleBytes));
  }
  json::ParseLimits limits;
  limits.max_bytes = kMaxBundleBytes;
  limits.max_depth = 8;
  SKR_ASSIGN_OR_RETURN(json::ObjectPtr o, json::parseObject(text, limits));
  SKR_ASSIGN_OR_RETURN(std::string format, json::getString(o, "format"));
  if (format != kBundleFormat) {
    return invalidArgumentError("unknown format " + quoted(format) + ", expected '" +
                                std::string(kBundleFormat) + "'");
  }
  for (const auto& member : *o) {
    if (kTopMembers.find(member.first) == kTopMembers.end()) {
      return invalidArgumentError("unknown member " + quoted(member.first));
    }
  }
  SealedBundle b;
  BundleInfo& info = b.info_;
  SKR_ASSIGN_OR_RETURN(std::string kind, json::getString(o, "kind"));
  if (kind == "key") {
    info.kind = BundleKind::Key;
  } else if (kind == "pending") {
    info.kind = BundleKind::Pending;
  } else {
    return invalidArgumentError("member 'kind': " + quoted(kind) + " is not key or pending");
  }
  SKR_ASSIGN_OR_RETURN(info.key_name, json::getString(o, "key_name"));
  SKR_ASSIGN_OR_RETURN(info.vault, json::getString(o, "vault"));
  SKR_ASSIGN_OR_RETURN(std::optional<std::string> kid, json::getOptionalString(o, "kid"));
  if (kid.has_value() && kid->empty()) return invalidArgumentError("member 'kid' is empty");
  info.kid = kid.value_or("");
  SKR_ASSIGN_OR_RETURN(std::string kty, json::getString(o, "kty"));
  SKR_ASSIGN_OR_RETURN(b.kty_, parseKty(kty));
  SKR_ASSIGN_OR_RETURN(info.key_ops, json::getStringArray(o, "key_ops"));
  SKR_ASSIGN_OR_RETURN(std::optional<json::ObjectPtr> pj, json::getOptionalObject(o, "public_jwk"));
  if (b.kty_ == jose::JwkType::Oct) {
    if (pj.has_value())
      return invalidArgumentError("member 'public_jwk' is present for an oct key");
  } else {
    if (!pj.has_value()) return invalidArgumentError("member 'public_jwk' is missing");
    StatusOr<jose::Jwk> jwk = jose::Jwk::fromJson(*pj);
    if (!jwk.ok()) return jwk.status().withContext("member 'public_jwk'");
    if (jwk->hasPrivate()) return invalidArgumentError("member 'public_jwk' has private members");
    if (jwk->type() != b.kty_) {
      return invalidArgumentError("member 'public_jwk': kty " +
                                  std::string(jose::jwkTypeName(jwk->type())) + ", expected " +
                                  kty);
    }
    b.public_jwk_.emplace(std::move(jwk).value());
  }
  SKR_ASSIGN_OR_RETURN(info.released_at, getTime(o, "released_at"));
  SKR_ASSIGN_OR_RETURN(json::ObjectPtr maa, json::getObject(o, "maa"));
  SKR_RETURN_IF_ERROR(onlyMembers(maa, "'maa'", {"issuer", "token_sha256", "token_expires_at"}));
  SKR_ASSIGN_OR_RETURN(info.maa.issuer, json::getString(maa, "issuer"));
  SKR_ASSIGN_OR_RETURN(info.maa.token_sha256, json::getString(maa, "token_sha256"));
  SKR_ASSIGN_OR_RETURN(info.maa.expires_at, getTime(maa, "token_expires_at"));
  SKR_ASSIGN_OR_RETURN(info.hostdata, json::getString(o, "hostdata"));
  SKR_ASSIGN_OR_RETURN(info.platform, json::getString(o, "platform"));
  SKR_ASSIGN_OR_RETURN(info.emulated, json::getBool(o, "emulated"));
  SKR_RETURN_IF_ERROR(validateInfo(info));

  SKR_ASSIGN_OR_RETURN(b.material_, json::getString(o, "material"));
  const std::string expected = expectedMaterial(info.kind, b.kty_);
  if (b.material_ != expected) {
    return invalidArgumentError("member 'material': " + quoted(b.material_) + ", expected '" +
                                expected + "' for a " + std::string(bundleKindName(info.kind)) +
                                " bundle of kty " + kty);
  }
  if (info.kind == BundleKind::Pending && b.kty_ != jose::JwkType::Rsa) {
    return invalidArgumentError("pending bundle: the transfer key must be RSA, got " + kty);
  }

  SKR_ASSIGN_OR_RETURN(json::ObjectPtr seal, json::getObject(o, "seal"));
  SKR_RETURN_IF_ERROR(onlyMembers(seal, "'seal'", {"provider", "parameters"}));
  SKR_ASSIGN_OR_RETURN(b.provider_, json::getString(seal, "provider"));
  SKR_ASSIGN_OR_RETURN(SealProviderKind provider, parseSealProvider(b.provider_));
  SKR_ASSIGN_OR_RETURN(b.parameters_, json::getObject(seal, "parameters"));

  SKR_ASSIGN_OR_RETURN(json::ObjectPtr sealed, json::getObject(o, "sealed"));
  b.encrypted_ = provider != SealProviderKind::None;
  if (b.encrypted_) {
    SKR_RETURN_IF_ERROR(onlyMembers(sealed, "'sealed'", {"iv", "ciphertext", "tag"}));
    SKR_ASSIGN_OR_RETURN(b.iv_, getBase64Url(sealed, "iv", crypto::kGcmIvSize));
    SKR_ASSIGN_OR_RETURN(b.ciphertext_, getBase64Url(sealed, "ciphertext", kMaxBundleBytes));
    SKR_ASSIGN_OR_RETURN(b.tag_, getBase64Url(sealed, "tag", crypto::kGcmTagSize));
    if (b.iv_.size() != crypto::kGcmIvSize || b.tag_.size() != crypto::kGcmTagSize ||
        b.ciphertext_.empty()) {
      return invalidArgumentError("member 'sealed': iv " + std::to_string(b.iv_.size()) +
                                  " bytes, tag " + std::to_string(b.tag_.size()) +
                                  " bytes, ciphertext " + std::to_string(b.ciphertext_.size()) +
                                  " bytes; expected 12, 16 and at least 1");
    }
  } else {
    SKR_RETURN_IF_ERROR(onlyMembers(sealed, "'sealed'", {"plaintext"}));
    SKR_ASSIGN_OR_RETURN(b.plaintext_b64_, json::getString(sealed, "plaintext"));
    if (b.plaintext_b64_.empty()) return invalidArgumentError("member 'sealed.plaintext' is empty");
  }

  json::ObjectPtr covered = new Poco::JSON::Object();
  for (const auto& member : *o) {
    if (member.first != "sealed") covered->set(member.first, member.second);
  }
  SKR_ASSIGN_OR_RETURN(b.aad_, json::serializeCanonical(covered));
  return b;
}

StatusOr<SecretBytes> BundleCodec::open(const SealedBundle& b, BundleKind expected,
                                        const SealingKeyProvider& provider,
                                        const OpenOptions& options) {
  const BundleInfo& info = b.info_;
  if (info.kind != expected) {
    return invalidArgumentError("sealed bundle is a " + std::string(bundleKindName(info.kind)) +
                                " bundle, expected a " + std::string(bundleKindName(expected)) +
                                " bundle");
  }
  if (info.emulated != options.emulated) {
    return failedPreconditionError(std::string("emulation stamp differs: the bundle was sealed ") +
                                   (info.emulated ? "on the emulated platform" : "on hardware") +
                                   ", this process runs " +
                                   (options.emulated ? "emulated" : "on hardware"));
  }
  if (b.provider_ != provider.name()) {
    return failedPreconditionError("seal provider differs: the bundle was sealed with '" +
                                   b.provider_.substr(0, 32) + "', this process uses '" +
                                   std::string(provider.name()) + "'");
  }
  SKR_ASSIGN_OR_RETURN(std::string theirs, json::serializeCanonical(b.parameters_));
  SKR_ASSIGN_OR_RETURN(std::string ours, json::serializeCanonical(provider.parameters()));
  if (theirs != ours) {
    return failedPreconditionError("seal parameters differ: bundle " + theirs.substr(0, 512) +
                                   ", configured " + describeParameters(provider.parameters()));
  }
  if (!b.encrypted_) {
    warnNone("open", info);
    StatusOr<SecretBytes> plain =
        encoding::base64UrlDecodeSecret(b.plaintext_b64_, kMaxBundleBytes);
    if (!plain.ok()) return plain.status().withContext("member 'sealed.plaintext'");
    return plain;
  }
  SKR_ASSIGN_OR_RETURN(SecretBytes key, provider.sealingKey());
  StatusOr<SecretBytes> plain =
      crypto::aesGcmDecrypt(key, b.iv_, b.ciphertext_, b.tag_, asBytes(b.aad_));
  if (!plain.ok()) {
    return dataLossError("sealed bundle for key " + quoted(info.key_name) +
                         ": authentication tag does not verify (tampered, or sealed under "
                         "another key: different UVM measurement, policy, SVN or keyfile)");
  }
  return plain;
}

StatusOr<SealedBundle> SealedBundle::parse(std::string_view text) {
  StatusOr<SealedBundle> b = BundleCodec::parse(text);
  if (!b.ok()) return b.status().withContext("sealed bundle");
  return b;
}

StatusOr<std::string> sealKey(const BundleInfo& info, const jose::Jwk& key,
                              const SealingKeyProvider& provider) {
  const std::string ctx = "seal key " + quoted(info.key_name);
  if (info.kind != BundleKind::Key) {
    return invalidArgumentError(ctx + ": BundleInfo.kind must be key");
  }
  SecretBytes plaintext;
  if (key.type() == jose::JwkType::Oct) {
    StatusOr<const SecretBytes*> octet = key.octet();
    if (!octet.ok()) return octet.status().withContext(ctx);
    plaintext = (*octet)->clone();
  } else {
    if (!key.hasPrivate()) return invalidArgumentError(ctx + ": the key has no private part");
    StatusOr<SecretBytes> pj = key.privateJson(grantSecretAccess());
    if (!pj.ok()) return pj.status().withContext(ctx);
    plaintext = std::move(pj).value();
  }
  const jose::JwkType kty = key.type();
  StatusOr<std::string> text =
      BundleCodec::seal(info, kty, kty == jose::JwkType::Oct ? nullptr : &key,
                        expectedMaterial(BundleKind::Key, kty), plaintext, provider);
  if (!text.ok()) return text.status().withContext(ctx);
  return text;
}

StatusOr<jose::Jwk> openKey(const SealedBundle& bundle, const SealingKeyProvider& provider,
                            const OpenOptions& options) {
  const std::string ctx = "open sealed key " + quoted(bundle.info().key_name);
  StatusOr<SecretBytes> plain = BundleCodec::open(bundle, BundleKind::Key, provider, options);
  if (!plain.ok()) return plain.status().withContext(ctx);
  StatusOr<jose::Jwk> key = bundle.kty() == jose::JwkType::Oct
                                ? jose::Jwk::fromOctet(std::move(plain).value())
                                : jose::Jwk::parseSecret(*plain);
  if (!key.ok()) {
    return dataLossError(ctx + ": key material is not a valid " +
                         std::string(jose::jwkTypeName(bundle.kty())) + " key (" +
                         std::string(statusCodeName(key.status().code())) + ")");
  }
  if (key->type() != bundle.kty()) {
    return dataLossError(ctx + ": key material is " + std::string(jose::jwkTypeName(key->type())) +
                         ", the bundle says " + std::string(jose::jwkTypeName(bundle.kty())));
  }
  if (bundle.kty() != jose::JwkType::Oct) {
    StatusOr<const crypto::PublicKey*> mine = key->publicKey();
    StatusOr<const crypto::PublicKey*> theirs = bundle.publicJwk()->publicKey();
    if (!key->hasPrivate() || !mine.ok() || !theirs.ok() || !(*mine)->equals(**theirs)) {
      return dataLossError(ctx + ": key material does not match public_jwk");
    }
  }
  key->setKid(bundle.info().kid);
  key->setKeyOps(bundle.info().key_ops);
  return key;
}

// Pending material: u32 big-endian length of the MAA token, the token, the transfer key's
// canonical private JWK (binary framing: the secret is never parsed as a larger JSON document).
StatusOr<std::string> sealPending(BundleInfo info, const jose::Jwk& transfer_key,
                                  std::string_view maa_token, const SealingKeyProvider& provider) {
  const std::string ctx = "seal pending bundle for key " + quoted(info.key_name);
  if (info.kind != BundleKind::Pending) {
    return invalidArgumentError(ctx + ": BundleInfo.kind must be pending");
  }
  if (transfer_key.type() != jose::JwkType::Rsa || !transfer_key.hasPrivate()) {
    return invalidArgumentError(ctx + ": the transfer key must be an RSA private key");
  }
  if (maa_token.empty() || maa_token.size() > kMaxMaaTokenBytes) {
    return invalidArgumentError(ctx + ": MAA token is " + std::to_string(maa_token.size()) +
                                " bytes, expected 1.." + std::to_string(kMaxMaaTokenBytes));
  }
  const std::string digest = encoding::hexEncode(crypto::sha256(asBytes(maa_token)));
  if (!info.maa.token_sha256.empty() && info.maa.token_sha256 != digest) {
    return invalidArgumentError(ctx + ": maa.token_sha256 does not describe the token");
  }
  info.maa.token_sha256 = digest;
  SecretBytes plaintext;
  storeBe32(plaintext, static_cast<uint32_t>(maa_token.size()));
  plaintext.append(asBytes(maa_token));
  StatusOr<SecretBytes> pj = transfer_key.privateJson(grantSecretAccess());
  if (!pj.ok()) return pj.status().withContext(ctx);
  plaintext.append(pj->view(grantSecretAccess()));
  StatusOr<std::string> text =
      BundleCodec::seal(info, jose::JwkType::Rsa, &transfer_key, "pending", plaintext, provider);
  if (!text.ok()) return text.status().withContext(ctx);
  return text;
}

StatusOr<PendingRelease> openPending(const SealedBundle& bundle, const SealingKeyProvider& provider,
                                     const OpenOptions& options) {
  const std::string ctx = "open pending bundle for key " + quoted(bundle.info().key_name);
  StatusOr<SecretBytes> plain = BundleCodec::open(bundle, BundleKind::Pending, provider, options);
  if (!plain.ok()) return plain.status().withContext(ctx);
  const ByteView view = plain->view(grantSecretAccess());
  if (view.size() < 4) return dataLossError(ctx + ": material is truncated");
  const std::size_t token_size = (std::size_t{view[0]} << 24) | (std::size_t{view[1]} << 16) |
                                 (std::size_t{view[2]} << 8) | std::size_t{view[3]};
  if (token_size == 0 || token_size > kMaxMaaTokenBytes || token_size > view.size() - 4) {
    return dataLossError(ctx + ": material has a token length of " + std::to_string(token_size) +
                         " bytes, " + std::to_string(view.size() - 4) + " available");
  }
  std::string token = toString(view.subspan(4, token_size));
  if (encoding::hexEncode(crypto::sha256(asBytes(token))) != bundle.info().maa.token_sha256) {
    return dataLossError(ctx + ": the MAA token does not match maa.token_sha256");
  }
  StatusOr<jose::Jwk> key =
      jose::Jwk::parseSecret(SecretBytes::copyOf(view.subspan(4 + token_size)));
  if (!key.ok() || key->type() != jose::JwkType::Rsa || !key->hasPrivate()) {
    return dataLossError(ctx + ": the transfer key is not a valid RSA private JWK");
  }
  StatusOr<const crypto::PublicKey*> mine = key->publicKey();
  StatusOr<const crypto::PublicKey*> theirs = bundle.publicJwk()->publicKey();
  if (!mine.ok() || !theirs.ok() || !(*mine)->equals(**theirs)) {
    return dataLossError(ctx + ": the transfer key does not match public_jwk");
  }
  return PendingRelease{std::move(key).value(), std::move(token)};
}

}  // namespace skr::seal
