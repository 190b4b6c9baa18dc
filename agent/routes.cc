#include "agent/routes.h"

#include <algorithm>
#include <cctype>
#include <vector>

namespace skr::agent {
namespace {

// One segment of a route pattern: a literal, or a placeholder for a non-empty segment.
enum class Part { Literal, Name, Version, KeyOp };

struct Segment {
  Part part;
  std::string_view literal = {};
};

constexpr Segment lit(std::string_view text) {
  return {Part::Literal, text};
}
constexpr Segment kName{Part::Name};
constexpr Segment kVersion{Part::Version};
constexpr Segment kKeyOp{Part::KeyOp};

struct RouteSpec {
  std::vector<Segment> pattern;
  RouteKind kind;
  std::string_view method;
  Operation auth_op;
  bool admin;
  std::string_view op_label;  // empty: the key operation's own label
};

// First match wins: "/keys/{name}/rewrap" is the rewrap route, not version "rewrap".
const std::vector<RouteSpec>& routeTable() {
  static const std::vector<RouteSpec> table = {
      {{lit("healthz")}, RouteKind::Healthz, "GET", Operation::Keys, false, "healthz"},
      {{lit("readyz")}, RouteKind::Readyz, "GET", Operation::Keys, false, "readyz"},
      {{lit("status")}, RouteKind::Status, "GET", Operation::Admin, true, "status"},
      {{lit("metrics")}, RouteKind::Metrics, "GET", Operation::Admin, true, "metrics"},
      {{lit("reload")}, RouteKind::Reload, "POST", Operation::Admin, true, "reload"},
      {{lit("keys")}, RouteKind::ListKeys, "GET", Operation::Keys, false, "keys"},
      {{lit("events")}, RouteKind::Events, "GET", Operation::Events, false, "events"},
      {{lit("data"), lit("open")},
       RouteKind::DataOpen,
       "POST",
       Operation::OpenData,
       false,
       "data_open"},
      {{lit("keys"), kName}, RouteKind::GetKey, "GET", Operation::Keys, false, "getkey"},
      {{lit("keys"), kName, kKeyOp}, RouteKind::KeyOp, "POST", Operation::Keys, false, ""},
      {{lit("keys"), kName, lit("rewrap")},
       RouteKind::Rewrap,
       "POST",
       Operation::Rewrap,
       false,
       "rewrap"},
      {{lit("keys"), kName, lit("rotate")},
       RouteKind::Rotate,
       "POST",
       Operation::Admin,
       true,
       "rotate"},
      {{lit("keys"), kName, kVersion}, RouteKind::GetKey, "GET", Operation::Keys, false, "getkey"},
      {{lit("keys"), kName, lit("unwrapkey"), lit("batch")},
       RouteKind::Batch,
       "POST",
       Operation::Unwrap,
       false,
       "unwrapkey_batch"},
      {{lit("keys"), kName, kVersion, kKeyOp},
       RouteKind::KeyOp,
       "POST",
       Operation::Keys,
       false,
       ""},
      {{lit("keys"), kName, kVersion, lit("retire")},
       RouteKind::Retire,
       "POST",
       Operation::Admin,
       true,
       "retire"},
  };
  return table;
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

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// The key operations of the AKV data plane, as path segments.
std::optional<Operation> keyOpSegment(std::string_view segment) {
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

// `spec` applied to `segments`; nullopt when it does not match.
std::optional<Route> match(const RouteSpec& spec, const std::vector<std::string>& segments) {
  if (segments.size() != spec.pattern.size()) return std::nullopt;
  Route route{spec.kind,    std::string(spec.method),  spec.auth_op, spec.admin, {},
              std::nullopt, std::string(spec.op_label)};
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const std::string& segment = segments[i];
    const Segment& want = spec.pattern[i];
    switch (want.part) {
      case Part::Literal:
        // The first segment ("keys", "status", ...) is exact; later ones are case-insensitive.
        if ((i == 0 ? segment : lower(segment)) != want.literal) return std::nullopt;
        break;
      case Part::Name:
        if (segment.empty()) return std::nullopt;
        route.key = segment;
        break;
      case Part::Version:
        if (segment.empty()) return std::nullopt;
        route.version = segment;
        break;
      case Part::KeyOp: {
        std::optional<Operation> op = keyOpSegment(segment);
        if (!op) return std::nullopt;
        route.auth_op = *op;
        route.op_label = opLabel(*op);
        break;
      }
    }
  }
  return route;
}

}  // namespace

HttpResponse refuse(RequestAudit& audit, const ApiError& error) {
  audit.code = error.code;
  return errorResponse(error);
}

std::optional<Route> resolveRoute(std::string_view path) {
  const std::vector<std::string> segments = splitPath(path);
  for (const RouteSpec& spec : routeTable()) {
    if (std::optional<Route> route = match(spec, segments)) return route;
  }
  return std::nullopt;
}

}  // namespace skr::agent
