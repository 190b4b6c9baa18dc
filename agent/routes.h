// The agent's route table (router.h lists the routes): a request path to the route kind, the one
// method it answers, the operation a caller rule must grant, its socket and its metrics label.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "agent/api_error.h"
#include "agent/authorization.h"
#include "agent/http_message.h"

namespace skr::agent {

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
  Events,
  DataOpen
};

struct Route {
  RouteKind kind;
  std::string method;  // the one method it answers
  Operation auth_op = Operation::Keys;
  bool admin = false;  // served on the admin socket only (else the client socket only)
  std::string key;     // "" for routes without a key
  std::optional<std::string> version;
  std::string op_label;  // metrics label and audit "op"
};

// The route of a percent-decoded path; nullopt for an unknown path. Segments after
// "/keys/{name}" (operation names, "rewrap", "batch", ...) match case-insensitively, as AKV.
std::optional<Route> resolveRoute(std::string_view path);

// What the audit line and the metrics say about one request (Router::audit).
struct RequestAudit {
  std::string op = "unknown";  // metrics label and audit "op"
  std::string key;
  std::string version;  // the version a handler used
  std::string code;     // error code, empty on success
  std::string rule;
};

// One resolved and admitted request, as a handler sees it.
struct RouteCall {
  const HttpRequest& request;
  const Route& route;
  const Caller* caller;  // null for healthz / readyz, which need no rule
  RequestAudit& audit;   // a handler sets audit.version to the version it used
};

// `error` as the answer, noted in the audit line ("code"). For the answers no Status maps to
// (409 Conflict, 429 with Retry-After); everything else is a Status for apiErrorOf.
HttpResponse refuse(RequestAudit& audit, const ApiError& error);

}  // namespace skr::agent
