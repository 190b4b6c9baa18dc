#include "agent/key_handlers.h"

#include <utility>

#include "agent/key_json.h"
#include "agent/key_operations.h"
#include "common/encoding/base64.h"

namespace skr::agent {

StatusOr<std::shared_ptr<const KeyVersion>> KeyHandlers::lookup(
    const RouteCall& call, const std::optional<std::string>& version) const {
  return keyring_->find(call.route.key,
                        version ? std::optional<std::string_view>(*version) : std::nullopt);
}

StatusOr<HttpResponse> KeyHandlers::listKeys(const RouteCall& call) const {
  Poco::JSON::Array::Ptr list = new Poco::JSON::Array;
  for (const auto& entry : keyring_->entries()) {
    if (!call.caller->allows(Operation::Keys, entry->name)) continue;
    json::ObjectPtr item = new Poco::JSON::Object;
    item->set("name", entry->name);
    Poco::JSON::Array::Ptr versions = new Poco::JSON::Array;
    for (const auto& [name, v] : entry->versions) versions->add(name);
    item->set("versions", versions);
    item->set("generation", static_cast<Poco::UInt64>(entry->generation));
    std::shared_ptr<const KeyVersion> primary = entry->primaryVersion();
    item->set("state", primary ? "ready" : "unavailable");
    if (primary) {
      item->set("kid", primary->kid);
      item->set("primary_version", primary->version);
      item->set("kty", std::string(jose::jwkTypeName(primary->kty)));
    }
    list->add(item);
  }
  json::ObjectPtr root = new Poco::JSON::Object;
  root->set("value", list);
  return jsonResponse(200, root);
}

StatusOr<HttpResponse> KeyHandlers::getKey(const RouteCall& call) const {
  SKR_ASSIGN_OR_RETURN(std::shared_ptr<const KeyVersion> v, lookup(call, call.route.version));
  call.audit.version = v->version;
  std::shared_ptr<const KeyEntry> entry = keyring_->entry(call.route.key);
  const bool primary = entry != nullptr && entry->primary == v->version;
  SKR_ASSIGN_OR_RETURN(json::ObjectPtr body, keyBundleJson(*v, primary));
  return jsonResponse(200, body);
}

StatusOr<HttpResponse> KeyHandlers::keyOperation(const RouteCall& call) const {
  const Operation op = call.route.auth_op;
  // wrapkey / encrypt carry plaintext: it is taken out before the JSON parser sees the body.
  const bool plaintext_in = op == Operation::Wrap || op == Operation::Encrypt;
  SKR_ASSIGN_OR_RETURN(SecretRequest secret_request, parseSecretBody(call.request, plaintext_in));
  const json::ObjectPtr& body = secret_request.body;
  SKR_ASSIGN_OR_RETURN(KeyAlgorithm alg, algorithmOf(body));
  SKR_ASSIGN_OR_RETURN(std::shared_ptr<const KeyVersion> found, lookup(call, call.route.version));
  const KeyVersion& key = *found;
  call.audit.version = key.version;

  if (op == Operation::Unwrap) {
    SKR_ASSIGN_OR_RETURN(Bytes value, binaryMember(body, "value", true));
    SKR_ASSIGN_OR_RETURN(SecretBytes dek, unwrapKey(key, alg, value));
    return secretResultResponse(key.kid, dek);
  }
  if (op == Operation::Decrypt) {
    SKR_ASSIGN_OR_RETURN(Bytes value, binaryMember(body, "value", true));
    SKR_ASSIGN_OR_RETURN(Bytes iv, binaryMember(body, "iv", false));
    SKR_ASSIGN_OR_RETURN(Bytes tag, binaryMember(body, "tag", false));
    SKR_ASSIGN_OR_RETURN(Bytes aad, binaryMember(body, "aad", false));
    SKR_ASSIGN_OR_RETURN(SecretBytes plain, decrypt(key, alg, value, iv, tag, aad));
    return secretResultResponse(key.kid, plain);
  }
  SKR_ASSIGN_OR_RETURN(SecretBytes value, secretValue(secret_request));
  json::ObjectPtr out = new Poco::JSON::Object;
  out->set("kid", key.kid);
  if (op == Operation::Wrap) {
    SKR_ASSIGN_OR_RETURN(Bytes wrapped, wrapKey(key, alg, value));
    out->set("value", encoding::base64UrlEncode(wrapped));
    return jsonResponse(200, out);
  }
  // encrypt
  if (body->has("iv") || body->has("tag")) {
    return invalidArgumentError(
        "members 'iv' and 'tag' must not be sent to encrypt: the agent picks a fresh IV");
  }
  SKR_ASSIGN_OR_RETURN(Bytes aad, binaryMember(body, "aad", false));
  SKR_ASSIGN_OR_RETURN(EncryptResult sealed, encrypt(key, alg, value, aad));
  out->set("value", encoding::base64UrlEncode(sealed.ciphertext));
  if (!sealed.iv.empty()) out->set("iv", encoding::base64UrlEncode(sealed.iv));
  if (!sealed.tag.empty()) out->set("tag", encoding::base64UrlEncode(sealed.tag));
  return jsonResponse(200, out);
}

StatusOr<HttpResponse> KeyHandlers::rewrap(const RouteCall& call) const {
  SKR_ASSIGN_OR_RETURN(json::ObjectPtr body, parseBody(call.request));
  SKR_ASSIGN_OR_RETURN(std::string kid_text, requiredString(body, "kid"));
  SKR_ASSIGN_OR_RETURN(KidParts kid, kidOfKey(kid_text, call.route.key));
  SKR_ASSIGN_OR_RETURN(KeyAlgorithm alg, algorithmOf(body));
  SKR_ASSIGN_OR_RETURN(Bytes value, binaryMember(body, "value", true));
  SKR_ASSIGN_OR_RETURN(std::shared_ptr<const KeyVersion> old_key, lookup(call, kid.version));
  SKR_ASSIGN_OR_RETURN(std::shared_ptr<const KeyVersion> primary, lookup(call, std::nullopt));
  call.audit.version = primary->version;
  SKR_ASSIGN_OR_RETURN(SecretBytes dek, unwrapKey(*old_key, alg, value));
  SKR_ASSIGN_OR_RETURN(Bytes wrapped, wrapKey(*primary, alg, dek));
  json::ObjectPtr out = new Poco::JSON::Object;
  out->set("kid", primary->kid);
  out->set("value", encoding::base64UrlEncode(wrapped));
  return jsonResponse(200, out);
}

}  // namespace skr::agent
