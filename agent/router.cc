#include "agent/router.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <exception>
#include <utility>
#include <variant>
#include <vector>

#include "agent/key_operations.h"
#include "agent/secret_member.h"
#include "common/azure/akv_error.h"
#include "common/encoding/base64.h"
#include "common/json/json.h"
#include "common/json/json_string.h"
#include "common/log/logger.h"

namespace skr::agent {

// What the audit line and the metrics say about one request.
struct Router::Context {
  std::string op = "unknown";  // metrics label and audit "op"
  std::string key;
  std::string version;
  std::string code;  // error code, empty on success
  std::string rule;
};

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

// An error reply, AKV-shaped.
struct ApiError {
  int status;
  std::string code;
  std::string message;
  std::string inner;  // innererror.code, optional
  std::vector<std::pair<std::string, std::string>> headers;
};

HttpResponse jsonResponse(int status, std::string_view text) {
  return jsonTextResponse(status, text);
}

HttpResponse jsonResponse(int status, const json::ObjectPtr& object) {
  StatusOr<std::string> text = json::serializeCanonical(object);
  if (!text.ok()) return jsonResponse(500, azure::akvErrorBody("Internal", "serialize"));
  return jsonResponse(status, *text);
}

HttpResponse errorResponse(const ApiError& e) {
  HttpResponse r = jsonResponse(e.status, azure::akvErrorBody(e.code, e.message, e.inner));
  for (const auto& h : e.headers) r.headers.push_back(h);
  return r;
}

ApiError badParameter(std::string message) {
  return {400, "BadParameter", std::move(message), "", {}};
}

// Maps a key lookup or key operation failure to its reply.
ApiError fromStatus(const Status& s, int retry_after) {
  switch (s.code()) {
    case StatusCode::InvalidArgument:
    case StatusCode::DataLoss: return badParameter(s.message());
    case StatusCode::PermissionDenied:
      return {403, "Forbidden", s.message(), "KeyOperationForbidden", {}};
    case StatusCode::NotFound: {
      const bool version = s.message().rfind("version ", 0) == 0;
      return {404, version ? "VersionNotFound" : "KeyNotFound", s.message(), "", {}};
    }
    case StatusCode::FailedPrecondition:
    case StatusCode::Unavailable:
    case StatusCode::DeadlineExceeded:
      return {503, "NotReady", s.message(), "", {{"Retry-After", std::to_string(retry_after)}}};
    case StatusCode::Unimplemented: return {501, "NotImplemented", s.message(), "", {}};
    case StatusCode::ResourceExhausted: return {429, "Throttled", s.message(), "", {}};
    default: return {500, "Internal", s.message(), "", {}};
  }
}

std::vector<std::string> splitPath(std::string_view path) {
  std::vector<std::string> out;
  if (path.empty() || path.front() != '/') return out;
  path.remove_prefix(1);
  while (!path.empty()) {
    const std::size_t slash = path.find('/');
    out.emplace_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// The key operations of the AKV data plane, as path segments (case-insensitive, as AKV).
std::optional<Operation> keyOpSegment(const std::string& segment) {
  const std::string s = lower(segment);
  if (s == "unwrapkey") return Operation::Unwrap;
  if (s == "wrapkey") return Operation::Wrap;
  if (s == "decrypt") return Operation::Decrypt;
  if (s == "encrypt") return Operation::Encrypt;
  return std::nullopt;
}

std::string opLabel(Operation op) {
  switch (op) {
    case Operation::Unwrap: return "unwrapkey";
    case Operation::Wrap: return "wrapkey";
    default: return std::string(operationName(op));
  }
}

// The resolved route of a request.
enum class RouteKind {
  Healthz,
  Readyz,
  ListKeys,
  GetKey,
  KeyOp,
  Rewrap,
  Batch,
  Status,
  Metrics,
  Retire,
  Rotate,
  Reload,
  Events
};

struct Route {
  RouteKind kind;
  std::string method;  // the one method it answers
  Operation auth_op = Operation::Keys;
  bool admin = false;
  std::string key;
  std::optional<std::string> version;
  std::string op_label;
};

// A non-negative decimal <= max, without sign or spaces.
std::optional<uint64_t> parseDecimal(std::string_view text, uint64_t max) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto digit = static_cast<uint64_t>(c - '0');
    if (value > (max - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

// Resolves the path; nullopt for an unknown path.
std::optional<Route> resolve(const std::vector<std::string>& seg) {
  auto route = [](RouteKind kind, std::string method, Operation op, bool admin, std::string label) {
    Route r{kind, std::move(method), op, admin, {}, std::nullopt, std::move(label)};
    return r;
  };
  if (seg.size() == 1) {
    if (seg[0] == "healthz")
      return route(RouteKind::Healthz, "GET", Operation::Keys, false, "healthz");
    if (seg[0] == "readyz")
      return route(RouteKind::Readyz, "GET", Operation::Keys, false, "readyz");
    if (seg[0] == "status")
      return route(RouteKind::Status, "GET", Operation::Admin, true, "status");
    if (seg[0] == "metrics")
      return route(RouteKind::Metrics, "GET", Operation::Admin, true, "metrics");
    if (seg[0] == "reload")
      return route(RouteKind::Reload, "POST", Operation::Admin, true, "reload");
    if (seg[0] == "keys") return route(RouteKind::ListKeys, "GET", Operation::Keys, false, "keys");
    if (seg[0] == "events")
      return route(RouteKind::Events, "GET", Operation::Events, false, "events");
    return std::nullopt;
  }
  if (seg.empty() || seg[0] != "keys" || seg[1].empty()) return std::nullopt;
  for (std::size_t i = 2; i < seg.size(); ++i) {
    if (seg[i].empty()) return std::nullopt;
  }
  std::optional<Route> r;
  if (seg.size() == 2) {
    r = route(RouteKind::GetKey, "GET", Operation::Keys, false, "getkey");
  } else if (seg.size() == 3) {
    const std::string s = lower(seg[2]);
    if (std::optional<Operation> op = keyOpSegment(seg[2])) {
      r = route(RouteKind::KeyOp, "POST", *op, false, opLabel(*op));
    } else if (s == "rewrap") {
      r = route(RouteKind::Rewrap, "POST", Operation::Rewrap, false, "rewrap");
    } else if (s == "rotate") {
      r = route(RouteKind::Rotate, "POST", Operation::Admin, true, "rotate");
    } else {
      r = route(RouteKind::GetKey, "GET", Operation::Keys, false, "getkey");
      r->version = seg[2];
    }
  } else if (seg.size() == 4) {
    if (lower(seg[2]) == "unwrapkey" && lower(seg[3]) == "batch") {
      r = route(RouteKind::Batch, "POST", Operation::Unwrap, false, "unwrapkey_batch");
    } else if (std::optional<Operation> op = keyOpSegment(seg[3])) {
      r = route(RouteKind::KeyOp, "POST", *op, false, opLabel(*op));
      r->version = seg[2];
    } else if (lower(seg[3]) == "retire") {
      r = route(RouteKind::Retire, "POST", Operation::Admin, true, "retire");
      r->version = seg[2];
    } else {
      return std::nullopt;
    }
  } else {
    return std::nullopt;
  }
  r->key = seg[1];
  return r;
}

// Request body helpers. Messages name the member; they never echo values.
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

StatusOr<json::ObjectPtr> parseBody(const HttpRequest& request) {
  const ByteView bytes = request.body.view(grantSecretAccess());
  return parseBodyText(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

// A key operation's body; for wrapkey / encrypt (`has_plaintext`) its plaintext `value` is taken
// out as a secret first (secret_member.h) and the rest parsed as usual.
struct SecretRequest {
  json::ObjectPtr body;
  std::optional<SecretBytes> value_text;  // the base64 text of `value`
};
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

// A base64url member (padding and the standard alphabet accepted). Absent -> empty.
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

// The secret `value` of a SecretRequest, base64-decoded.
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
  StatusOr<SecretBytes> bytes = encoding::base64DecodeLenientSecret(
      std::string_view(reinterpret_cast<const char*>(view.data()), view.size()));
  if (!bytes.ok()) {
    return invalidArgumentError("member '" + std::string(member) +
                                "' is not valid base64url: " + bytes.status().message());
  }
  return bytes;
}

// {"kid":"...","value":"<base64url of a secret>"} built directly in secret storage.
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

int64_t unixSeconds(SystemTime t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

// {key: public JWK (RSA/EC) or {kid, kty, key_ops} (oct), attributes}.
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

}  // namespace

struct Router::Preflight {
  std::optional<Route> route;
  std::optional<Caller> caller;         // unset for healthz / readyz
  std::optional<HttpResponse> refusal;  // set: answer this, nothing else
};

struct Router::CompatPreflight {
  std::optional<CompatRoute> route;
  std::optional<Caller> caller;  // unset for routes that need no rule
  std::optional<HttpResponse> refusal;
};

Router::Router(std::shared_ptr<Keyring> keyring, std::shared_ptr<const Authorizer> authorizer,
               const Clock& clock, RouterOptions options)
    : keyring_(std::move(keyring)),
      authorizer_(std::move(authorizer)),
      clock_(&clock),
      options_(options) {}

void Router::setAdminHooks(AdminHooks hooks) {
  std::lock_guard lock(hooks_mutex_);
  hooks_ = std::move(hooks);
}

void Router::setEventLog(std::shared_ptr<EventLog> events) {
  std::lock_guard lock(hooks_mutex_);
  events_ = std::move(events);
}

std::shared_ptr<EventLog> Router::eventLog() const {
  std::lock_guard lock(hooks_mutex_);
  return events_;
}

AdminHooks Router::hooks() const {
  std::lock_guard lock(hooks_mutex_);
  return hooks_;
}

void Router::refused(Listener /*listener*/, int /*status*/, std::string_view code, double seconds) {
  metrics_.recordRequest("http", code, seconds);
}

HttpResponse Router::handle(const HttpRequest& request) {
  const auto start = clock_->steadyNow();
  Context ctx;
  HttpResponse response;
  try {
    response = dispatch(request, ctx);
  } catch (const std::exception&) {
    ctx.code = "Internal";
    response =
        errorResponse({500, "Internal", "internal error while handling the request", "", {}});
  } catch (...) {
    ctx.code = "Internal";
    response =
        errorResponse({500, "Internal", "internal error while handling the request", "", {}});
  }
  audit(request, ctx, response.status,
        std::chrono::duration<double>(clock_->steadyNow() - start).count());
  return response;
}

void Router::audit(const HttpRequest& request, const Context& ctx, int status, double seconds) {
  metrics_.recordRequest(ctx.op, ctx.code.empty() ? "ok" : ctx.code, seconds);
  const char* listener = request.listener == Listener::Admin    ? "admin"
                         : request.listener == Listener::Compat ? "compat"
                                                                : "client";
  log::info("request", {{"listener", listener},
                        {"method", request.method},
                        {"op", ctx.op},
                        {"key", ctx.key},
                        {"version", ctx.version},
                        {"status", status},
                        {"code", ctx.code},
                        {"caller_uid", static_cast<int64_t>(request.peer.uid)},
                        {"caller_gid", static_cast<int64_t>(request.peer.gid)},
                        {"caller_pid", static_cast<int64_t>(request.peer.pid)},
                        {"rule", ctx.rule},
                        {"duration_ms", seconds * 1000.0}});
}

std::optional<HttpResponse> Router::admit(const HttpRequest& head) {
  const auto start = clock_->steadyNow();
  Context ctx;
  std::optional<HttpResponse> refusal;
  try {
    if (head.listener == Listener::Compat) {
      refusal = compatPreflight(head, ctx).refusal;
    } else {
      refusal = preflight(head, ctx).refusal;
    }
  } catch (...) {
    return std::nullopt;  // handle() answers it, with its own error handling
  }
  if (!refusal) return std::nullopt;
  audit(head, ctx, refusal->status,
        std::chrono::duration<double>(clock_->steadyNow() - start).count());
  return refusal;
}

bool Router::knownPeer(Listener listener, const PeerCredentials& peer) {
  return authorizer_->namesPeer(peer, listener == Listener::Admin);
}

// The sidecar listener: its own routes and error shape ({"error": "..."}), the same caller
// authentication as the other sockets.
Router::CompatPreflight Router::compatPreflight(const HttpRequest& request, Context& ctx) {
  CompatPreflight out;
  out.route = compat_ ? SidecarCompat::resolve(request.path) : std::nullopt;
  if (!out.route) {
    ctx.code = "NotFound";
    out.refusal = SidecarCompat::error(404, "no route for " + request.method + " " + request.path +
                                                " on the Azure SKR sidecar listener");
    return out;
  }
  ctx.op = out.route->label;
  if (request.method != out.route->method) {
    ctx.code = "MethodNotAllowed";
    out.refusal = SidecarCompat::error(
        405, request.method + " is not allowed here; use " + out.route->method);
    out.refusal->headers.emplace_back("Allow", out.route->method);
    return out;
  }
  if (out.route->needs_rule) {
    std::variant<Caller, AuthError> auth =
        authorizer_->authenticate(request, compat_requires_header_);
    if (auto* error = std::get_if<AuthError>(&auth)) {
      metrics_.recordAuthFailure(authFailureName(error->reason));
      ctx.code = error->code;
      out.refusal = SidecarCompat::error(error->http_status, error->message);
      if (error->www_authenticate) out.refusal->headers.emplace_back("WWW-Authenticate", "Bearer");
      return out;
    }
    out.caller = std::get<Caller>(std::move(auth));
    ctx.rule = out.caller->ruleNames();
  }
  return out;
}

HttpResponse Router::dispatchCompat(const HttpRequest& request, Context& ctx) {
  CompatPreflight checked = compatPreflight(request, ctx);
  if (checked.refusal) return std::move(*checked.refusal);
  CompatAudit audit;
  HttpResponse response = compat_->serve(
      *checked.route, request, checked.caller ? &*checked.caller : nullptr, ready(), audit);
  ctx.key = audit.key;
  ctx.version = audit.version;
  ctx.code = audit.code;
  if (audit.auth_failure) metrics_.recordAuthFailure(authFailureName(*audit.auth_failure));
  return response;
}

// Everything decided from the request line and headers alone: the route, its method, the
// socket, the caller and its grant on the route's operation and key. Healthz and readyz pass
// with no caller. Runs for handle() and, before the body is read, for admit().
Router::Preflight Router::preflight(const HttpRequest& request, Context& ctx) {
  Preflight out;
  auto fail = [&](ApiError e) {
    ctx.code = e.code;
    out.refusal = errorResponse(e);
    return std::move(out);
  };
  std::optional<Route> route = resolve(splitPath(request.path));
  if (!route) {
    return fail({404, "NotFound", "no route for " + request.method + " " + request.path, "", {}});
  }
  ctx.op = route->op_label;
  ctx.key = route->key;
  if (route->version) ctx.version = *route->version;
  if (request.method != route->method) {
    return fail({405,
                 "MethodNotAllowed",
                 request.method + " is not allowed here; use " + route->method,
                 "",
                 {{"Allow", route->method}}});
  }
  out.route = route;
  // Liveness and readiness: no caller rule, on either socket.
  if (route->kind == RouteKind::Healthz || route->kind == RouteKind::Readyz) return out;

  if (route->admin && request.listener != Listener::Admin) {
    return fail({403, "Forbidden", "admin operations are served only on the admin socket", "", {}});
  }
  if (!route->admin && request.listener != Listener::Client) {
    return fail({403, "Forbidden", "key operations are served only on the client socket", "", {}});
  }

  std::variant<Caller, AuthError> auth = authorizer_->authenticate(request);
  if (auto* error = std::get_if<AuthError>(&auth)) {
    metrics_.recordAuthFailure(authFailureName(error->reason));
    ApiError e{error->http_status, error->code, error->message, "", {}};
    if (error->www_authenticate) e.headers.emplace_back("WWW-Authenticate", "Bearer");
    return fail(std::move(e));
  }
  const Caller& caller = std::get<Caller>(auth);
  ctx.rule = caller.ruleNames();
  // A listing is filtered per key below; everything else needs the grant on the route's key.
  if (route->kind != RouteKind::ListKeys && route->kind != RouteKind::Status &&
      route->kind != RouteKind::Metrics && route->kind != RouteKind::Reload &&
      route->kind != RouteKind::Events) {
    if (std::optional<AuthError> refused = caller.check(route->auth_op, route->key)) {
      metrics_.recordAuthFailure(authFailureName(refused->reason));
      return fail({refused->http_status, refused->code, refused->message, "", {}});
    }
  } else if (std::optional<AuthError> refused = caller.check(route->auth_op, "")) {
    metrics_.recordAuthFailure(authFailureName(refused->reason));
    return fail({refused->http_status, refused->code, refused->message, "", {}});
  }
  out.caller = caller;
  return out;
}

HttpResponse Router::dispatch(const HttpRequest& request, Context& ctx) {
  auto fail = [&](ApiError e) {
    ctx.code = e.code;
    return errorResponse(e);
  };
  auto notReady = [&](std::string message) {
    return fail({503,
                 "NotReady",
                 std::move(message),
                 "",
                 {{"Retry-After", std::to_string(options_.retry_after_seconds)}}});
  };

  if (request.listener == Listener::Compat) return dispatchCompat(request, ctx);
  Preflight checked = preflight(request, ctx);
  if (checked.refusal) return std::move(*checked.refusal);
  const std::optional<Route>& route = checked.route;
  if (route->kind == RouteKind::Healthz) return jsonResponse(200, R"({"status":"ok"})");
  if (route->kind == RouteKind::Readyz) {
    if (!ready()) return notReady("not every configured key is released and verified yet");
    return jsonResponse(200, R"({"status":"ready"})");
  }
  const Caller& caller = *checked.caller;

  const int retry_after = options_.retry_after_seconds;
  auto lookup = [&](const std::optional<std::string>& version)
      -> StatusOr<std::shared_ptr<const KeyVersion>> {
    return keyring_->find(route->key,
                          version ? std::optional<std::string_view>(*version) : std::nullopt);
  };

  switch (route->kind) {
    case RouteKind::ListKeys: {
      Poco::JSON::Array::Ptr list = new Poco::JSON::Array;
      for (const auto& entry : keyring_->entries()) {
        if (!caller.allows(Operation::Keys, entry->name)) continue;
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

    case RouteKind::GetKey: {
      StatusOr<std::shared_ptr<const KeyVersion>> v = lookup(route->version);
      if (!v.ok()) return fail(fromStatus(v.status(), retry_after));
      ctx.version = (*v)->version;
      std::shared_ptr<const KeyEntry> entry = keyring_->entry(route->key);
      const bool primary = entry != nullptr && entry->primary == (*v)->version;
      StatusOr<json::ObjectPtr> body = keyBundleJson(**v, primary);
      if (!body.ok()) return fail(fromStatus(body.status(), retry_after));
      return jsonResponse(200, *body);
    }

    case RouteKind::KeyOp: {
      if (!ready()) return notReady("the agent is not ready: keys are still being released");
      // wrapkey / encrypt carry plaintext: it is taken out before the JSON parser sees the body.
      const bool plaintext_in =
          route->auth_op == Operation::Wrap || route->auth_op == Operation::Encrypt;
      StatusOr<SecretRequest> secret_request = parseSecretBody(request, plaintext_in);
      if (!secret_request.ok()) return fail(fromStatus(secret_request.status(), retry_after));
      StatusOr<json::ObjectPtr> body = secret_request->body;
      StatusOr<KeyAlgorithm> alg = algorithmOf(*body);
      if (!alg.ok()) return fail(fromStatus(alg.status(), retry_after));
      StatusOr<std::shared_ptr<const KeyVersion>> found = lookup(route->version);
      if (!found.ok()) return fail(fromStatus(found.status(), retry_after));
      const KeyVersion& key = **found;
      ctx.version = key.version;

      if (route->auth_op == Operation::Unwrap) {
        StatusOr<Bytes> value = binaryMember(*body, "value", true);
        if (!value.ok()) return fail(fromStatus(value.status(), retry_after));
        StatusOr<SecretBytes> dek = unwrapKey(key, *alg, *value);
        if (!dek.ok()) return fail(fromStatus(dek.status(), retry_after));
        return secretResultResponse(key.kid, *dek);
      }
      if (route->auth_op == Operation::Decrypt) {
        StatusOr<Bytes> value = binaryMember(*body, "value", true);
        if (!value.ok()) return fail(fromStatus(value.status(), retry_after));
        StatusOr<Bytes> iv = binaryMember(*body, "iv", false);
        if (!iv.ok()) return fail(fromStatus(iv.status(), retry_after));
        StatusOr<Bytes> tag = binaryMember(*body, "tag", false);
        if (!tag.ok()) return fail(fromStatus(tag.status(), retry_after));
        StatusOr<Bytes> aad = binaryMember(*body, "aad", false);
        if (!aad.ok()) return fail(fromStatus(aad.status(), retry_after));
        StatusOr<SecretBytes> plain = decrypt(key, *alg, *value, *iv, *tag, *aad);
        if (!plain.ok()) return fail(fromStatus(plain.status(), retry_after));
        return secretResultResponse(key.kid, *plain);
      }
      StatusOr<SecretBytes> value = secretValue(*secret_request);
      if (!value.ok()) return fail(fromStatus(value.status(), retry_after));
      json::ObjectPtr out = new Poco::JSON::Object;
      out->set("kid", key.kid);
      if (route->auth_op == Operation::Wrap) {
        StatusOr<Bytes> wrapped = wrapKey(key, *alg, *value);
        if (!wrapped.ok()) return fail(fromStatus(wrapped.status(), retry_after));
        out->set("value", encoding::base64UrlEncode(*wrapped));
        return jsonResponse(200, out);
      }
      // encrypt
      if (body.value()->has("iv") || body.value()->has("tag")) {
        return fail(badParameter(
            "members 'iv' and 'tag' must not be sent to encrypt: the agent picks a fresh IV"));
      }
      StatusOr<Bytes> aad = binaryMember(*body, "aad", false);
      if (!aad.ok()) return fail(fromStatus(aad.status(), retry_after));
      StatusOr<EncryptResult> sealed = encrypt(key, *alg, *value, *aad);
      if (!sealed.ok()) return fail(fromStatus(sealed.status(), retry_after));
      out->set("value", encoding::base64UrlEncode(sealed->ciphertext));
      if (!sealed->iv.empty()) out->set("iv", encoding::base64UrlEncode(sealed->iv));
      if (!sealed->tag.empty()) out->set("tag", encoding::base64UrlEncode(sealed->tag));
      return jsonResponse(200, out);
    }

    case RouteKind::Rewrap: {
      if (!ready()) return notReady("the agent is not ready: keys are still being released");
      StatusOr<json::ObjectPtr> body = parseBody(request);
      if (!body.ok()) return fail(fromStatus(body.status(), retry_after));
      StatusOr<std::string> kid_text = requiredString(*body, "kid");
      if (!kid_text.ok()) return fail(fromStatus(kid_text.status(), retry_after));
      StatusOr<KidParts> kid = parseKid(*kid_text);
      if (!kid.ok()) return fail(badParameter("member 'kid': " + kid.status().message()));
      if (kid->name != route->key) {
        return fail(
            badParameter("member 'kid' names key '" + kid->name + "', not '" + route->key + "'"));
      }
      StatusOr<KeyAlgorithm> alg = algorithmOf(*body);
      if (!alg.ok()) return fail(fromStatus(alg.status(), retry_after));
      StatusOr<Bytes> value = binaryMember(*body, "value", true);
      if (!value.ok()) return fail(fromStatus(value.status(), retry_after));
      StatusOr<std::shared_ptr<const KeyVersion>> old_key = lookup(kid->version);
      if (!old_key.ok()) return fail(fromStatus(old_key.status(), retry_after));
      StatusOr<std::shared_ptr<const KeyVersion>> primary = lookup(std::nullopt);
      if (!primary.ok()) return fail(fromStatus(primary.status(), retry_after));
      ctx.version = (*primary)->version;
      StatusOr<SecretBytes> dek = unwrapKey(**old_key, *alg, *value);
      if (!dek.ok()) return fail(fromStatus(dek.status(), retry_after));
      StatusOr<Bytes> wrapped = wrapKey(**primary, *alg, *dek);
      if (!wrapped.ok()) return fail(fromStatus(wrapped.status(), retry_after));
      json::ObjectPtr out = new Poco::JSON::Object;
      out->set("kid", (*primary)->kid);
      out->set("value", encoding::base64UrlEncode(*wrapped));
      return jsonResponse(200, out);
    }

    case RouteKind::Batch: {
      if (!ready()) return notReady("the agent is not ready: keys are still being released");
      StatusOr<json::ObjectPtr> body = parseBody(request);
      if (!body.ok()) return fail(fromStatus(body.status(), retry_after));
      StatusOr<json::ArrayPtr> requests = json::getArray(*body, "requests");
      if (!requests.ok()) {
        return fail(badParameter(requests.status().code() == StatusCode::NotFound
                                     ? "member 'requests' is required"
                                     : requests.status().message()));
      }
      const std::size_t n = (*requests)->size();
      if (n == 0 || n > options_.max_batch_items) {
        return fail(badParameter("member 'requests' has " + std::to_string(n) +
                                 " items, expected 1.." +
                                 std::to_string(options_.max_batch_items)));
      }
      HttpResponse r;
      r.status = 200;
      r.headers.emplace_back("Content-Type", std::string(kJsonContentType));
      r.body.append(asBytes("{\"results\":["));
      for (std::size_t i = 0; i < n; ++i) {
        if (i > 0) r.body.append(asBytes(","));
        const std::string where = "requests[" + std::to_string(i) + "]";
        auto item_error = [&](const ApiError& e) {
          r.body.append(asBytes(azure::akvErrorBody(e.code, where + ": " + e.message)));
        };
        json::ObjectPtr item = (*requests)->getObject(static_cast<unsigned>(i));
        if (item.isNull()) {
          item_error(badParameter("expected an object"));
          continue;
        }
        StatusOr<KeyAlgorithm> alg = algorithmOf(item);
        if (!alg.ok()) {
          item_error(fromStatus(alg.status(), retry_after));
          continue;
        }
        StatusOr<std::optional<std::string>> kid_text = json::getOptionalString(item, "kid");
        if (!kid_text.ok()) {
          item_error(badParameter(kid_text.status().message()));
          continue;
        }
        std::optional<std::string> version;
        if (kid_text->has_value()) {
          StatusOr<KidParts> kid = parseKid(**kid_text);
          if (!kid.ok()) {
            item_error(badParameter("member 'kid': " + kid.status().message()));
            continue;
          }
          if (kid->name != route->key) {
            item_error(badParameter("member 'kid' names key '" + kid->name + "', not '" +
                                    route->key + "'"));
            continue;
          }
          version = kid->version;
        }
        StatusOr<Bytes> value = binaryMember(item, "value", true);
        if (!value.ok()) {
          item_error(fromStatus(value.status(), retry_after));
          continue;
        }
        StatusOr<std::shared_ptr<const KeyVersion>> key = lookup(version);
        if (!key.ok()) {
          item_error(fromStatus(key.status(), retry_after));
          continue;
        }
        StatusOr<SecretBytes> dek = unwrapKey(**key, *alg, *value);
        if (!dek.ok()) {
          item_error(fromStatus(dek.status(), retry_after));
          continue;
        }
        appendSecretResult(r.body, (*key)->kid, *dek);
      }
      r.body.append(asBytes("]}"));
      return r;
    }

    case RouteKind::Status: {
      json::ObjectPtr root = new Poco::JSON::Object;
      root->set("ready", ready());
      root->set("emulated", options_.emulated);
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

    case RouteKind::Metrics: {
      HttpResponse r;
      r.status = 200;
      r.headers.emplace_back("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
      r.body = SecretBytes::copyOf(asBytes(metrics_.render(*keyring_, ready(), options_.emulated)));
      return r;
    }

    case RouteKind::Retire: {
      Status s = keyring_->retire(route->key, *route->version);
      if (!s.ok()) {
        if (s.code() == StatusCode::FailedPrecondition) {
          return fail({409, "Conflict", s.message(), "", {}});
        }
        return fail(fromStatus(s, retry_after));
      }
      if (AdminHooks h = hooks(); h.retire) {
        if (Status persisted = h.retire(route->key, *route->version); !persisted.ok()) {
          keyring_->setLastError(route->key,
                                 "retire " + *route->version + ": " + persisted.toString());
          return fail({500,
                       "Internal",
                       "retired in memory, but removing the bundle failed: " + persisted.message(),
                       "",
                       {}});
        }
      }
      json::ObjectPtr out = new Poco::JSON::Object;
      out->set("key", route->key);
      out->set("version", *route->version);
      out->set("retired", true);
      return jsonResponse(200, out);
    }

    case RouteKind::Rotate: {
      AdminHooks h = hooks();
      if (!h.rotate)
        return fail({501, "NotImplemented", "rotation is not wired in this agent", "", {}});
      std::optional<std::string> version;
      if (!request.body.empty()) {
        StatusOr<json::ObjectPtr> body = parseBody(request);
        if (!body.ok()) return fail(fromStatus(body.status(), retry_after));
        StatusOr<std::optional<std::string>> v = json::getOptionalString(*body, "version");
        if (!v.ok()) return fail(badParameter(v.status().message()));
        version = *v;
      }
      StatusOr<std::string> kid = h.rotate(route->key, version);
      // A failed release already set the key's last_error (the hook's provisioner does it).
      if (!kid.ok()) return fail(fromStatus(kid.status(), retry_after));
      json::ObjectPtr out = new Poco::JSON::Object;
      out->set("kid", *kid);
      return jsonResponse(200, out);
    }

    case RouteKind::Reload: {
      AdminHooks h = hooks();
      if (!h.reload)
        return fail({501, "NotImplemented", "reload is not wired in this agent", "", {}});
      if (Status s = h.reload(); !s.ok()) return fail(fromStatus(s, retry_after));
      return jsonResponse(200, R"({"reloaded":true})");
    }

    case RouteKind::Events: {
      std::shared_ptr<EventLog> log = eventLog();
      if (log == nullptr)
        return fail({501, "NotImplemented", "events are not wired in this agent", "", {}});
      uint64_t after = 0;
      int timeout_seconds = kDefaultEventsTimeoutSeconds;
      for (const auto& [name, value] : request.query) {
        if (name == "after") {
          std::optional<uint64_t> n = parseDecimal(value, UINT64_MAX);
          if (!n) return fail(badParameter("query 'after' must be a sequence number"));
          after = *n;
        } else if (name == "timeout") {
          std::optional<uint64_t> n = parseDecimal(value, kMaxEventsTimeoutSeconds);
          if (!n) {
            return fail(badParameter("query 'timeout' must be 0.." +
                                     std::to_string(kMaxEventsTimeoutSeconds) + " seconds"));
          }
          timeout_seconds = static_cast<int>(*n);
        }
      }
      // Only the caller's keys (and agent-wide events) are shown.
      // Past max_event_waiters a poll that would have to wait is 429 Throttled instead of
      // holding a worker (one with events to return, or timeout=0, is answered at once).
      EventBatch batch;
      if (event_waiters_.fetch_add(1) < options_.max_event_waiters) {
        batch = log->waitAfter(after, std::chrono::seconds(timeout_seconds));
      } else {
        batch = log->after(after);
        if (batch.events.empty() && !batch.truncated && timeout_seconds > 0) {
          event_waiters_.fetch_sub(1);
          return fail({429,
                       "Throttled",
                       "too many /events polls are waiting (at most " +
                           std::to_string(options_.max_event_waiters) + "); retry with backoff",
                       "",
                       {{"Retry-After", std::to_string(options_.retry_after_seconds)}}});
        }
      }
      event_waiters_.fetch_sub(1);
      std::erase_if(batch.events, [&](const AgentEvent& event) {
        return !event.key.empty() && !caller.allows(Operation::Events, event.key);
      });
      return jsonResponse(200, eventBatchJson(batch));
    }

    case RouteKind::Healthz:
    case RouteKind::Readyz: break;
  }
  return fail({500, "Internal", "unhandled route", "", {}});
}

}  // namespace skr::agent
