#include "agent/admin_handlers.h"

#include <utility>

#include "agent/api_error.h"
#include "agent/key_json.h"
#include "common/core/rfc3339.h"

namespace skr::agent {

void AdminHandlers::setHooks(AdminHooks hooks) {
  std::lock_guard lock(mutex_);
  hooks_ = std::move(hooks);
}

AdminHooks AdminHandlers::hooks() const {
  std::lock_guard lock(mutex_);
  return hooks_;
}

StatusOr<HttpResponse> AdminHandlers::status(const RouteCall& /*call*/) const {
  json::ObjectPtr root = new Poco::JSON::Object;
  root->set("ready", ready_.load());
  root->set("emulated", emulated_);
  Poco::JSON::Array::Ptr keys = new Poco::JSON::Array;
  for (const auto& entry : keyring_->entries()) {
    json::ObjectPtr item = new Poco::JSON::Object;
    item->set("name", entry->name);
    item->set("primary", entry->primary);
    item->set("generation", static_cast<Poco::UInt64>(entry->generation));
    item->set("last_error", entry->last_error);
    Poco::JSON::Array::Ptr versions = new Poco::JSON::Array;
    for (const auto& [name, v] : entry->versions) {
      json::ObjectPtr vo = new Poco::JSON::Object;
      vo->set("version", v->version);
      vo->set("kid", v->kid);
      vo->set("kty", std::string(jose::jwkTypeName(v->kty)));
      vo->set("released_at", formatRfc3339(v->released_at));
      vo->set("emulated", v->emulated);
      versions->add(vo);
    }
    item->set("versions", versions);
    keys->add(item);
  }
  root->set("keys", keys);
  return jsonResponse(200, root);
}

StatusOr<HttpResponse> AdminHandlers::metrics(const RouteCall& /*call*/) const {
  HttpResponse r;
  r.status = 200;
  r.headers.emplace_back("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
  r.body = SecretBytes::copyOf(asBytes(metrics_.render(*keyring_, ready_.load(), emulated_)));
  return r;
}

StatusOr<HttpResponse> AdminHandlers::retire(const RouteCall& call) const {
  const std::string& key = call.route.key;
  const std::string& version = *call.route.version;
  if (Status s = keyring_->retire(key, version); !s.ok()) {
    // The keyring refuses to retire the primary: a conflict with the key's state, not a wait.
    if (s.code() == StatusCode::FailedPrecondition) {
      return refuse(call.audit, {409, "Conflict", s.message(), "", {}});
    }
    return s;
  }
  if (AdminHooks h = hooks(); h.retire) {
    if (Status persisted = h.retire(key, version); !persisted.ok()) {
      keyring_->setLastError(key, "retire " + version + ": " + persisted.toString());
      return internalError("retired in memory, but removing the bundle failed: " +
                           persisted.message());
    }
  }
  json::ObjectPtr out = new Poco::JSON::Object;
  out->set("key", key);
  out->set("version", version);
  out->set("retired", true);
  return jsonResponse(200, out);
}

StatusOr<HttpResponse> AdminHandlers::rotate(const RouteCall& call) const {
  AdminHooks h = hooks();
  if (!h.rotate) return unimplementedError("rotation is not wired in this agent");
  std::optional<std::string> version;
  if (!call.request.body.empty()) {
    SKR_ASSIGN_OR_RETURN(json::ObjectPtr body, parseBody(call.request));
    StatusOr<std::optional<std::string>> v = json::getOptionalString(body, "version");
    if (!v.ok()) return invalidArgumentError(v.status().message());
    version = *v;
  }
  // A failed release already set the key's last_error (the hook's provisioner does it).
  SKR_ASSIGN_OR_RETURN(std::string kid, h.rotate(call.route.key, version));
  json::ObjectPtr out = new Poco::JSON::Object;
  out->set("kid", kid);
  return jsonResponse(200, out);
}

StatusOr<HttpResponse> AdminHandlers::reload(const RouteCall& /*call*/) const {
  AdminHooks h = hooks();
  if (!h.reload) return unimplementedError("reload is not wired in this agent");
  SKR_RETURN_IF_ERROR(h.reload());
  return jsonResponse(200, R"({"reloaded":true})");
}

}  // namespace skr::agent
