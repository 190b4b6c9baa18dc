#include "agent/key_json.h"

#include <chrono>
#include <utility>

#include "agent/secret_member.h"
#include "common/azure/akv_error.h"
#include "common/encoding/base64.h"
#include "common/encoding/json_string.h"

namespace skr::agent {
namespace {

// Request bodies are small, flat JSON documents; the server bounds the body size too.
constexpr std::size_t kMaxRequestJsonValues = 4096;
json::ParseLimits requestLimits() {
  json::ParseLimits limits;
  limits.max_bytes = 1024 * 1024;
  limits.max_depth = 8;
  limits.max_string_bytes = 512 * 1024;
  // A 100-item batch is about 500 values; a megabyte of "{}," would be 350,000 (issue 14).
  limits.max_values = kMaxRequestJsonValues;
  return limits;
}

StatusOr<json::ObjectPtr> parseBodyText(std::string_view text) {
  if (text.empty())
    return invalidArgumentError("the request body is empty; expected a JSON object");
  StatusOr<json::ObjectPtr> object = json::parseObject(text, requestLimits());
  if (!object.ok()) {
    return invalidArgumentError("the request body is not a valid JSON object: " +
                                object.status().message());
  }
  return object;
}

int64_t unixSeconds(SystemTime t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

}  // namespace

HttpResponse jsonResponse(int status, std::string_view text) {
  return jsonTextResponse(status, text);
}

HttpResponse jsonResponse(int status, const json::ObjectPtr& object) {
  StatusOr<std::string> text = json::serializeCanonical(object);
  if (!text.ok()) return jsonResponse(500, azure::akvErrorBody("Internal", "serialize"));
  return jsonResponse(status, *text);
}

StatusOr<json::ObjectPtr> parseBody(const HttpRequest& request) {
  const ByteView bytes = request.body.view(grantSecretAccess());
  return parseBodyText(asText(bytes));
}

StatusOr<SecretRequest> parseSecretBody(const HttpRequest& request, bool has_plaintext) {
  if (!has_plaintext) {
    SKR_ASSIGN_OR_RETURN(json::ObjectPtr body, parseBody(request));
    return SecretRequest{std::move(body), std::nullopt};
  }
  SKR_ASSIGN_OR_RETURN(SecretMemberSplit split, splitSecretMember(request.body, "value"));
  SKR_ASSIGN_OR_RETURN(json::ObjectPtr body, parseBodyText(split.redacted));
  return SecretRequest{std::move(body), std::move(split.value)};
}

StatusOr<std::string> requiredString(const json::ObjectPtr& body, std::string_view member) {
  StatusOr<std::string> value = json::getString(body, member);
  if (!value.ok()) {
    if (value.status().code() == StatusCode::NotFound) {
      return invalidArgumentError("member '" + std::string(member) + "' is required");
    }
    return invalidArgumentError(value.status().message());
  }
  return value;
}

StatusOr<KeyAlgorithm> algorithmOf(const json::ObjectPtr& body) {
  SKR_ASSIGN_OR_RETURN(std::string alg, requiredString(body, "alg"));
  StatusOr<KeyAlgorithm> parsed = parseKeyAlgorithm(alg);
  if (!parsed.ok()) return parsed.status().withContext("member 'alg'");
  return parsed;
}

StatusOr<Bytes> binaryMember(const json::ObjectPtr& body, std::string_view member, bool required) {
  StatusOr<std::optional<std::string>> text = json::getOptionalString(body, member);
  if (!text.ok()) return invalidArgumentError(text.status().message());
  if (!text->has_value()) {
    if (required) return invalidArgumentError("member '" + std::string(member) + "' is required");
    return Bytes{};
  }
  StatusOr<Bytes> bytes = encoding::base64DecodeLenient(**text);
  if (!bytes.ok()) {
    return invalidArgumentError("member '" + std::string(member) +
                                "' is not valid base64url: " + bytes.status().message());
  }
  return bytes;
}

StatusOr<SecretBytes> secretValue(const SecretRequest& request) {
  constexpr std::string_view member = "value";
  if (!request.value_text) {
    // Absent, not a string, or a name spelled with escapes (which would have put the secret
    // through the general parser): the parsed body says which.
    StatusOr<std::optional<std::string>> text = json::getOptionalString(request.body, member);
    if (!text.ok()) return invalidArgumentError(text.status().message());
    if (!text->has_value()) return invalidArgumentError("member 'value' is required");
    return invalidArgumentError("member 'value' must be named without escape sequences");
  }
  const ByteView view = request.value_text->view(grantSecretAccess());
  StatusOr<SecretBytes> bytes = encoding::base64DecodeLenientSecret(asText(view));
  if (!bytes.ok()) {
    return invalidArgumentError("member '" + std::string(member) +
                                "' is not valid base64url: " + bytes.status().message());
  }
  return bytes;
}

StatusOr<KidParts> kidOfKey(std::string_view kid_text, std::string_view key) {
  StatusOr<KidParts> kid = parseKid(kid_text);
  if (!kid.ok()) return invalidArgumentError("member 'kid': " + kid.status().message());
  if (kid->name != key) {
    return invalidArgumentError("member 'kid' names key '" + kid->name + "', not '" +
                                std::string(key) + "'");
  }
  return kid;
}

void appendSecretResult(SecretBytes& out, const std::string& kid, const SecretBytes& value) {
  std::string head = "{\"kid\":";
  json::appendQuoted(head, kid);
  head += ",\"value\":\"";
  out.append(asBytes(head));
  const SecretBytes encoded = encoding::base64UrlEncodeSecret(value);
  out.append(encoded.view(grantSecretAccess()));
  out.append(asBytes("\"}"));
}

HttpResponse secretResultResponse(const std::string& kid, const SecretBytes& value) {
  HttpResponse r;
  r.status = 200;
  r.headers.emplace_back("Content-Type", std::string(kJsonContentType));
  appendSecretResult(r.body, kid, value);
  return r;
}

StatusOr<json::ObjectPtr> keyBundleJson(const KeyVersion& v, bool primary) {
  json::ObjectPtr key;
  if (v.kty == jose::JwkType::Oct) {
    key = new Poco::JSON::Object;
    key->set("kty", "oct");
  } else {
    SKR_ASSIGN_OR_RETURN(key, v.key->publicJson());
  }
  key->set("kid", v.kid);
  Poco::JSON::Array::Ptr ops = new Poco::JSON::Array;
  for (const std::string& op : v.key_ops) ops->add(op);
  key->set("key_ops", ops);
  json::ObjectPtr attributes = new Poco::JSON::Object;
  attributes->set("enabled", true);
  attributes->set("created", unixSeconds(v.released_at));
  attributes->set("exportable", false);
  json::ObjectPtr skr = new Poco::JSON::Object;
  skr->set("version", v.version);
  skr->set("primary", primary);
  skr->set("emulated", v.emulated);
  json::ObjectPtr root = new Poco::JSON::Object;
  root->set("key", key);
  root->set("attributes", attributes);
  root->set("skr", skr);
  return root;
}

}  // namespace skr::agent
