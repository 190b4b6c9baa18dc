#include "emulator/key_store.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <algorithm>

#include "common/crypto/random.h"
#include "common/encoding/base64.h"
#include "common/encoding/hex.h"
#include "common/log/logger.h"
#include "emulator/pattern.h"
#include "emulator/state_files.h"

namespace skr::emulator {
namespace {

constexpr const char* kFormat = "skr-emulator-key/1";

std::string familyName(KeyFamily f) {
  switch (f) {
    case KeyFamily::Rsa: return "RSA";
    case KeyFamily::Ec: return "EC";
    case KeyFamily::Oct: return "oct";
  }
  return "RSA";
}

StatusOr<KeyFamily> familyFromName(const std::string& s) {
  if (s == "RSA") return KeyFamily::Rsa;
  if (s == "EC") return KeyFamily::Ec;
  if (s == "oct") return KeyFamily::Oct;
  return invalidArgumentError("key family '" + s + "'");
}

bool validName(const std::string& s) {
  static const Pattern re = Pattern::literal("[0-9A-Za-z-]{1,127}");
  return re.matches(s);
}

bool validVersion(const std::string& s) {
  static const Pattern re = Pattern::literal("[0-9a-f]{32}");
  return re.matches(s);
}

}  // namespace

std::string newKeyVersionId() {
  return encoding::hexEncode(crypto::randomBytes(16));
}

KeyVersion KeyVersion::clone() const {
  KeyVersion c;
  c.vault = vault;
  c.name = name;
  c.version = version;
  c.sequence = sequence;
  c.kty = kty;
  c.family = family;
  c.key_size = key_size;
  c.curve = curve;
  c.key_ops = key_ops;
  c.material = material.clone();
  c.n = n;
  c.e = e;
  c.x = x;
  c.y = y;
  c.attributes = attributes;
  c.release_policy = release_policy;
  c.tags = tags;
  return c;
}

StatusOr<crypto::PrivateKey> KeyVersion::privateKey() const {
  if (family == KeyFamily::Oct) {
    return failedPreconditionError("key '" + name + "' is a symmetric (oct) key");
  }
  return crypto::PrivateKey::fromPkcs8Der(material);
}

Status derivePublicMembers(KeyVersion& v) {
  if (v.family == KeyFamily::Oct) {
    const std::size_t bytes = v.material.size();
    if (bytes != 16 && bytes != 24 && bytes != 32) {
      return invalidArgumentError("oct key is " + std::to_string(bytes) +
                                  " bytes, expected 16, 24 or 32");
    }
    v.key_size = static_cast<int>(bytes * 8);
    return okStatus();
  }
  SKR_ASSIGN_OR_RETURN(crypto::PrivateKey key, crypto::PrivateKey::fromPkcs8Der(v.material));
  const crypto::PublicKey pub = key.publicKey();
  if (v.family == KeyFamily::Rsa) {
    if (key.type() != crypto::KeyType::Rsa) return invalidArgumentError("material is not RSA");
    SKR_ASSIGN_OR_RETURN(crypto::RsaPublicComponents c, pub.rsaComponents());
    v.n = std::move(c.n);
    v.e = std::move(c.e);
    v.key_size = key.bits();
  } else {
    if (key.type() != crypto::KeyType::Ec) return invalidArgumentError("material is not EC");
    SKR_ASSIGN_OR_RETURN(crypto::EcPublicPoint p, pub.ecPoint());
    v.x = std::move(p.x);
    v.y = std::move(p.y);
    v.curve = crypto::curveName(p.curve);
    v.key_size = 0;
  }
  return okStatus();
}

Status generateKeyMaterial(const KeySpec& spec, KeyVersion& out) {
  out.family = spec.family;
  switch (spec.family) {
    case KeyFamily::Rsa: {
      SKR_ASSIGN_OR_RETURN(crypto::PrivateKey key, crypto::PrivateKey::generateRsa(spec.key_size));
      out.material = key.toPkcs8Der();
      break;
    }
    case KeyFamily::Ec: {
      SKR_ASSIGN_OR_RETURN(crypto::PrivateKey key, crypto::PrivateKey::generateEc(spec.curve));
      out.material = key.toPkcs8Der();
      break;
    }
    case KeyFamily::Oct:
      if (spec.key_size != 128 && spec.key_size != 192 && spec.key_size != 256) {
        return invalidArgumentError("oct key size " + std::to_string(spec.key_size) +
                                    " is not 128, 192 or 256");
      }
      out.material = crypto::randomSecret(static_cast<std::size_t>(spec.key_size / 8));
      break;
  }
  return derivePublicMembers(out);
}

json::ObjectPtr keyVersionMetadataJson(const KeyVersion& v) {
  json::ObjectPtr o = new Poco::JSON::Object;
  o->set("format", kFormat);
  o->set("vault", v.vault);
  o->set("name", v.name);
  o->set("version", v.version);
  o->set("sequence", static_cast<Poco::Int64>(v.sequence));
  o->set("kty", v.kty);
  o->set("family", familyName(v.family));
  Poco::JSON::Array::Ptr ops = new Poco::JSON::Array;
  for (const auto& op : v.key_ops) ops->add(op);
  o->set("key_ops", ops);
  json::ObjectPtr a = new Poco::JSON::Object;
  a->set("enabled", v.attributes.enabled);
  a->set("exportable", v.attributes.exportable);
  a->set("created", static_cast<Poco::Int64>(v.attributes.created));
  a->set("updated", static_cast<Poco::Int64>(v.attributes.updated));
  if (v.attributes.not_before) a->set("nbf", static_cast<Poco::Int64>(*v.attributes.not_before));
  if (v.attributes.expires) a->set("exp", static_cast<Poco::Int64>(*v.attributes.expires));
  o->set("attributes", a);
  if (v.release_policy) {
    json::ObjectPtr p = new Poco::JSON::Object;
    p->set("contentType", v.release_policy->content_type);
    p->set("data", encoding::base64UrlEncode(v.release_policy->data));
    p->set("immutable", v.release_policy->immutable);
    o->set("release_policy", p);
  }
  json::ObjectPtr t = new Poco::JSON::Object;
  for (const auto& [k, val] : v.tags) t->set(k, val);
  o->set("tags", t);
  return o;
}

namespace {

StatusOr<KeyVersion> parseStoredVersion(const SecretBytes& text) {
  const ByteView view = text.view(grantSecretAccess());
  SKR_ASSIGN_OR_RETURN(json::ObjectPtr o,
                       json::parseObject(std::string_view(
                           reinterpret_cast<const char*>(view.data()), view.size())));  // NOLINT
  SKR_ASSIGN_OR_RETURN(std::string format, json::getString(o, "format"));
  if (format != kFormat) return invalidArgumentError("unknown format '" + format + "'");
  KeyVersion v;
  SKR_ASSIGN_OR_RETURN(v.vault, json::getString(o, "vault"));
  SKR_ASSIGN_OR_RETURN(v.name, json::getString(o, "name"));
  SKR_ASSIGN_OR_RETURN(v.version, json::getString(o, "version"));
  SKR_ASSIGN_OR_RETURN(v.sequence, json::getInt(o, "sequence"));
  SKR_ASSIGN_OR_RETURN(v.kty, json::getString(o, "kty"));
  SKR_ASSIGN_OR_RETURN(std::string family, json::getString(o, "family"));
  SKR_ASSIGN_OR_RETURN(v.family, familyFromName(family));
  SKR_ASSIGN_OR_RETURN(v.key_ops, json::getStringArray(o, "key_ops"));
  SKR_ASSIGN_OR_RETURN(json::ObjectPtr a, json::getObject(o, "attributes"));
  SKR_ASSIGN_OR_RETURN(v.attributes.enabled, json::getBool(a, "enabled"));
  SKR_ASSIGN_OR_RETURN(v.attributes.exportable, json::getBool(a, "exportable"));
  SKR_ASSIGN_OR_RETURN(v.attributes.created, json::getInt(a, "created"));
  SKR_ASSIGN_OR_RETURN(v.attributes.updated, json::getInt(a, "updated"));
  SKR_ASSIGN_OR_RETURN(v.attributes.not_before, json::getOptionalInt(a, "nbf"));
  SKR_ASSIGN_OR_RETURN(v.attributes.expires, json::getOptionalInt(a, "exp"));
  SKR_ASSIGN_OR_RETURN(std::optional<json::ObjectPtr> p,
                       json::getOptionalObject(o, "release_policy"));
  if (p) {
    KeyReleasePolicy policy;
    SKR_ASSIGN_OR_RETURN(policy.content_type, json::getString(*p, "contentType"));
    SKR_ASSIGN_OR_RETURN(std::string data, json::getString(*p, "data"));
    SKR_ASSIGN_OR_RETURN(policy.data, encoding::base64UrlDecode(data));
    SKR_ASSIGN_OR_RETURN(policy.immutable, json::getBool(*p, "immutable"));
    v.release_policy = std::move(policy);
  }
  SKR_ASSIGN_OR_RETURN(json::ObjectPtr tags, json::getObject(o, "tags"));
  for (const auto& [k, val] : *tags) {
    StatusOr<std::string> value = json::asString(val, "tag '" + k + "'");
    if (!value.ok()) return invalidArgumentError("tag '" + k + "' is not a string");
    v.tags[k] = std::move(value).value();
  }
  SKR_ASSIGN_OR_RETURN(std::string material, json::getString(o, "material"));
  SKR_ASSIGN_OR_RETURN(v.material, encoding::base64UrlDecodeSecret(material));
  SKR_RETURN_IF_ERROR(derivePublicMembers(v));
  return v;
}

}  // namespace

StatusOr<std::unique_ptr<KeyStore>> KeyStore::open(const std::string& state_dir) {
  std::unique_ptr<KeyStore> store(new KeyStore(state_dir + "/keys"));
  SKR_RETURN_IF_ERROR(ensureDirectory(store->dir_));
  for (const std::string& vault : listDirectory(store->dir_)) {
    const std::string vault_dir = store->dir_ + "/" + vault;
    for (const std::string& name : listDirectory(vault_dir)) {
      const std::string key_dir = vault_dir + "/" + name;
      for (const std::string& file : listDirectory(key_dir)) {
        if (file.size() != 37 || file.substr(32) != ".json") continue;  // skips *.tmp-*
        const std::string path = key_dir + "/" + file;
        SKR_ASSIGN_OR_RETURN(SecretBytes text, readSecretFile(path));
        StatusOr<KeyVersion> v = parseStoredVersion(text);
        if (!v.ok()) return dataLossError("key state " + path + ": " + v.status().message());
        if (v->vault != vault || v->name != name || v->version + ".json" != file) {
          return dataLossError("key state " + path + ": vault/name/version do not match its path");
        }
        store->next_sequence_ = std::max(store->next_sequence_, v->sequence + 1);
        store->keys_[{vault, name}].push_back(
            std::make_shared<const KeyVersion>(std::move(v).value()));
      }
    }
  }
  for (auto& [key, versions] : store->keys_) {
    std::sort(versions.begin(), versions.end(), [](const KeyVersionPtr& a, const KeyVersionPtr& b) {
      return a->sequence < b->sequence;
    });
  }
  return store;
}

std::string KeyStore::versionPath(const KeyVersion& v) const {
  return dir_ + "/" + v.vault + "/" + v.name + "/" + v.version + ".json";
}

Status KeyStore::persist(const KeyVersion& v) const {
  if (!validName(v.vault) || !validName(v.name) || !validVersion(v.version)) {
    return invalidArgumentError("key store: bad vault/name/version '" + v.vault + "/" + v.name +
                                "/" + v.version + "'");
  }
  SKR_RETURN_IF_ERROR(ensureDirectory(dir_ + "/" + v.vault));
  SKR_RETURN_IF_ERROR(ensureDirectory(dir_ + "/" + v.vault + "/" + v.name));
  SKR_ASSIGN_OR_RETURN(std::string meta, json::serializeCanonical(keyVersionMetadataJson(v)));
  // {"material":"<b64url>",<metadata members>}: the material only ever sits in SecretBytes.
  SecretBytes text;
  text.append(asBytes("{\"material\":\""));
  const SecretBytes encoded = encoding::base64UrlEncodeSecret(v.material);
  text.append(encoded.view(grantSecretAccess()));
  text.append(asBytes("\","));
  text.append(asBytes(std::string_view(meta).substr(1)));
  text.append(asBytes("\n"));
  return writeSecretFileAtomic(versionPath(v), text);
}

StatusOr<KeyVersionPtr> KeyStore::addVersion(KeyVersion version) {
  std::lock_guard lock(mutex_);
  auto& versions = keys_[{version.vault, version.name}];
  for (const KeyVersionPtr& existing : versions) {
    if (existing->version == version.version) {
      return invalidArgumentError("key version " + version.version + " already exists");
    }
  }
  version.sequence = next_sequence_++;
  SKR_RETURN_IF_ERROR(persist(version));
  auto ptr = std::make_shared<const KeyVersion>(std::move(version));
  versions.push_back(ptr);
  return KeyVersionPtr(ptr);
}

StatusOr<KeyVersionPtr> KeyStore::updateVersion(const std::string& vault, const std::string& name,
                                                const std::string& version,
                                                const std::function<Status(KeyVersion&)>& update) {
  std::lock_guard lock(mutex_);
  auto it = keys_.find({vault, name});
  if (it == keys_.end()) return notFoundError("key '" + name + "' does not exist");
  for (KeyVersionPtr& slot : it->second) {
    if (slot->version != version) continue;
    KeyVersion copy = slot->clone();
    SKR_RETURN_IF_ERROR(update(copy));
    SKR_RETURN_IF_ERROR(persist(copy));
    slot = std::make_shared<const KeyVersion>(std::move(copy));
    return slot;
  }
  return notFoundError("key '" + name + "' has no version " + version);
}

KeyVersionPtr KeyStore::latest(const std::string& vault, const std::string& name) const {
  std::lock_guard lock(mutex_);
  auto it = keys_.find({vault, name});
  if (it == keys_.end() || it->second.empty()) return nullptr;
  return it->second.back();
}

KeyVersionPtr KeyStore::get(const std::string& vault, const std::string& name,
                            const std::string& version) const {
  std::lock_guard lock(mutex_);
  auto it = keys_.find({vault, name});
  if (it == keys_.end()) return nullptr;
  for (const KeyVersionPtr& v : it->second) {
    if (v->version == version) return v;
  }
  return nullptr;
}

std::vector<KeyVersionPtr> KeyStore::versions(const std::string& vault,
                                              const std::string& name) const {
  std::lock_guard lock(mutex_);
  auto it = keys_.find({vault, name});
  if (it == keys_.end()) return {};
  return it->second;
}

std::vector<std::string> KeyStore::names(const std::string& vault) const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  for (const auto& [key, versions] : keys_) {
    if (key.first == vault && !versions.empty()) out.push_back(key.second);
  }
  return out;
}

}  // namespace skr::emulator
