#include "agent/batch_handler.h"

#include <optional>
#include <string>

#include "agent/api_error.h"
#include "agent/key_json.h"
#include "common/azure/akv_error.h"

namespace skr::agent {

StatusOr<HttpResponse> BatchHandler::unwrapBatch(const RouteCall& call) const {
  SKR_ASSIGN_OR_RETURN(json::ObjectPtr body, parseBody(call.request));
  StatusOr<json::ArrayPtr> requests = json::getArray(body, "requests");
  if (!requests.ok()) {
    return invalidArgumentError(requests.status().code() == StatusCode::NotFound
                                    ? "member 'requests' is required"
                                    : requests.status().message());
  }
  const std::size_t n = (*requests)->size();
  if (n == 0 || n > max_items_) {
    return invalidArgumentError("member 'requests' has " + std::to_string(n) +
                                " items, expected 1.." + std::to_string(max_items_));
  }
  HttpResponse r;
  r.status = 200;
  r.headers.emplace_back("Content-Type", std::string(kJsonContentType));
  r.body.append(asBytes("{\"results\":["));
  for (std::size_t i = 0; i < n; ++i) {
    if (i > 0) r.body.append(asBytes(","));
    StatusOr<json::ObjectPtr> item = json::getObject(*requests, i, "member 'requests'");
    Status done =
        item.ok() ? unwrapItem(call, *item, r.body) : invalidArgumentError("expected an object");
    if (!done.ok()) {
      const ApiError e = apiErrorOf(done, retry_after_seconds_);
      r.body.append(asBytes(
          azure::akvErrorBody(e.code, "requests[" + std::to_string(i) + "]: " + e.message)));
    }
  }
  r.body.append(asBytes("]}"));
  return r;
}

Status BatchHandler::unwrapItem(const RouteCall& call, const json::ObjectPtr& item,
                                SecretBytes& out) const {
  SKR_ASSIGN_OR_RETURN(KeyAlgorithm alg, algorithmOf(item));
  StatusOr<std::optional<std::string>> kid_text = json::getOptionalString(item, "kid");
  if (!kid_text.ok()) return invalidArgumentError(kid_text.status().message());
  std::optional<std::string> version;
  if (kid_text->has_value()) {
    SKR_ASSIGN_OR_RETURN(KidParts kid, kidOfKey(**kid_text, call.route.key));
    version = kid.version;
  }
  SKR_ASSIGN_OR_RETURN(Bytes value, binaryMember(item, "value", true));
  SKR_ASSIGN_OR_RETURN(
      std::shared_ptr<const KeyVersion> key,
      keyring_->find(call.route.key,
                     version ? std::optional<std::string_view>(*version) : std::nullopt));
  SKR_ASSIGN_OR_RETURN(SecretBytes dek, unwrapKey(*key, alg, value));
  appendSecretResult(out, key->kid, dek);
  return okStatus();
}

}  // namespace skr::agent
