#include "agent/router.h"

#include <chrono>
#include <utility>
#include <variant>

#include "agent/api_error.h"
#include "agent/key_json.h"
#include "common/log/logger.h"

namespace skr::agent {

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
      options_(options),
      keys_(keyring_),
      batch_(keyring_, options.max_batch_items, options.retry_after_seconds),
      events_(options.max_event_waiters, options.retry_after_seconds),
      admin_(keyring_, metrics_, ready_, options.emulated),
      data_(keyring_, metrics_) {}

void Router::refused(Listener /*listener*/, int /*status*/, std::string_view code, double seconds) {
  metrics_.recordRequest("http", code, seconds);
}

HttpResponse Router::handle(const HttpRequest& request) {
  const auto start = clock_->steadyNow();
  RequestAudit ctx;
  HttpResponse response;
  try {
    response = dispatch(request, ctx);
  } catch (...) {
    response = refuse(ctx, {500, "Internal", "internal error while handling the request", "", {}});
  }
  // A streamed answer writes its audit line when the stream ends (data_handlers.h).
  if (response.stream) return response;
  if (ctx.op == "data_open") metrics_.recordDataOpen(ctx.code.empty() ? "ok" : ctx.code, 0);
  audit(request, ctx, response.status,
        std::chrono::duration<double>(clock_->steadyNow() - start).count());
  return response;
}

DataHandlers::AuditLine Router::deferredAudit(const HttpRequest& request) {
  return [this, listener = request.listener, method = request.method, peer = request.peer,
          start = clock_->steadyNow()](const RequestAudit& ctx, int status) {
    HttpRequest head;
    head.listener = listener;
    head.method = method;
    head.peer = peer;
    audit(head, ctx, status, std::chrono::duration<double>(clock_->steadyNow() - start).count());
  };
}

void Router::audit(const HttpRequest& request, const RequestAudit& ctx, int status,
                   double seconds) {
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
  RequestAudit ctx;
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

bool Router::quick(const HttpRequest& request) {
  if (request.listener == Listener::Compat || request.body.size() > kQuickBodyBytes) return false;
  const std::optional<Route> route = resolveRoute(request.path);
  if (!route || request.method != route->method) return false;
  if (route->kind == RouteKind::Healthz || route->kind == RouteKind::Readyz) return true;
  if (route->kind != RouteKind::KeyOp || request.listener != Listener::Client) return false;
  // The version handle() will use (a rotation in between changes the version, not the key type
  // in practice; at worst one operation runs on the loop thread).
  const auto version = keyring_->find(route->key, route->version);
  return version.ok() && (*version)->kty == jose::JwkType::Oct;
}

// The sidecar listener: its own routes and error shape ({"error": "..."}), the same caller
// authentication as the other sockets.
Router::CompatPreflight Router::compatPreflight(const HttpRequest& request, RequestAudit& ctx) {
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

HttpResponse Router::dispatchCompat(const HttpRequest& request, RequestAudit& ctx) {
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
Router::Preflight Router::preflight(const HttpRequest& request, RequestAudit& ctx) {
  Preflight out;
  auto fail = [&](const ApiError& e) {
    out.refusal = refuse(ctx, e);
    return std::move(out);
  };
  std::optional<Route> route = resolveRoute(request.path);
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

HttpResponse Router::dispatch(const HttpRequest& request, RequestAudit& ctx) {
  if (request.listener == Listener::Compat) return dispatchCompat(request, ctx);
  Preflight checked = preflight(request, ctx);
  if (checked.refusal) return std::move(*checked.refusal);
  const RouteCall call{request, *checked.route, checked.caller ? &*checked.caller : nullptr, ctx};
  StatusOr<HttpResponse> reply = serve(call);
  if (reply.ok()) return std::move(reply).value();
  return refuse(ctx, apiErrorOf(reply.status(), options_.retry_after_seconds));
}

StatusOr<HttpResponse> Router::serve(const RouteCall& call) {
  auto requireReady = [&]() -> Status {
    if (ready()) return okStatus();
    return unavailableError("the agent is not ready: keys are still being released");
  };
  switch (call.route.kind) {
    case RouteKind::Healthz: return jsonResponse(200, R"({"status":"ok"})");
    case RouteKind::Readyz:
      if (!ready())
        return unavailableError("not every configured key is released and verified yet");
      return jsonResponse(200, R"({"status":"ready"})");
    case RouteKind::ListKeys: return keys_.listKeys(call);
    case RouteKind::GetKey: return keys_.getKey(call);
    case RouteKind::KeyOp: SKR_RETURN_IF_ERROR(requireReady()); return keys_.keyOperation(call);
    case RouteKind::Rewrap: SKR_RETURN_IF_ERROR(requireReady()); return keys_.rewrap(call);
    case RouteKind::Batch: SKR_RETURN_IF_ERROR(requireReady()); return batch_.unwrapBatch(call);
    case RouteKind::Events: return events_.poll(call);
    case RouteKind::Status: return admin_.status(call);
    case RouteKind::Metrics: return admin_.metrics(call);
    case RouteKind::Retire: return admin_.retire(call);
    case RouteKind::Rotate: return admin_.rotate(call);
    case RouteKind::Reload: return admin_.reload(call);
    case RouteKind::DataOpen:
      SKR_RETURN_IF_ERROR(requireReady());
      return data_.open(call, deferredAudit(call.request));
  }
  return internalError("unhandled route");
}

}  // namespace skr::agent
