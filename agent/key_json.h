// The JSON of the agent's key routes (router.h): decoding request bodies (messages name the
// member and never echo values; secrets go straight into SecretBytes) and writing replies.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "agent/http_message.h"
#include "agent/key_operations.h"
#include "agent/key_version.h"
#include "common/core/secret_bytes.h"
#include "common/core/status.h"
#include "common/json/json.h"

namespace skr::agent {

// The body as a JSON object (bounded: request bodies are small, flat documents).
// InvalidArgument when empty or not an object.
StatusOr<json::ObjectPtr> parseBody(const HttpRequest& request);

// A key operation's body; for wrapkey / encrypt (`has_plaintext`) its plaintext `value` is taken
// out as a secret first (secret_member.h) and the rest parsed as usual.
struct SecretRequest {
  json::ObjectPtr body;
  std::optional<SecretBytes> value_text;  // the base64 text of `value`
};
StatusOr<SecretRequest> parseSecretBody(const HttpRequest& request, bool has_plaintext);

// A required string member; InvalidArgument naming it when absent or not a string.
StatusOr<std::string> requiredString(const json::ObjectPtr& body, std::string_view member);
// The required `alg` member.
StatusOr<KeyAlgorithm> algorithmOf(const json::ObjectPtr& body);
// A base64url member (padding and the standard alphabet accepted). Absent -> empty.
StatusOr<Bytes> binaryMember(const json::ObjectPtr& body, std::string_view member, bool required);
// The secret `value` of a SecretRequest, base64-decoded.
StatusOr<SecretBytes> secretValue(const SecretRequest& request);
// A `kid` member's text, which must name a version of `key`.
StatusOr<KidParts> kidOfKey(std::string_view kid_text, std::string_view key);

// A JSON answer: `object` serialized canonically, or `text` as it is.
HttpResponse jsonResponse(int status, const json::ObjectPtr& object);
HttpResponse jsonResponse(int status, std::string_view text);
// {"kid":"...","value":"<base64url of a secret>"} built directly in secret storage.
void appendSecretResult(SecretBytes& out, const std::string& kid, const SecretBytes& value);
// 200 with that body.
HttpResponse secretResultResponse(const std::string& kid, const SecretBytes& value);
// {key: public JWK (RSA/EC) or {kid, kty, key_ops} (oct), attributes, skr}.
StatusOr<json::ObjectPtr> keyBundleJson(const KeyVersion& v, bool primary);

}  // namespace skr::agent
