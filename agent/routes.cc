#include "agent/routes.h"

#include <array>
#include <span>
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

// The longest pattern in routeTable(): a path with more segments matches nothing.
constexpr std::size_t kMaxSegments = 4;

// The segments of `path` ("/a/b" -> "a", "b"; "" and paths not starting with '/' have none), as
// views into it; false when there are more than kMaxSegments. Matching works on views and builds
// the one Route that matched (every request resolves its route twice: admission and dispatch).
bool splitPath(std::string_view path, std::array<std::string_view, kMaxSegments>& out,
               std::size_t& count) {
  count = 0;
  if (path.empty() || path.front() != '/') return true;
  path.remove_prefix(1);
  while (!path.empty()) {
    if (count == kMaxSegments) return false;
    const std::size_t slash = path.find('/');
    out[count++] = path.substr(0, slash);
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return true;
}

// `segment` equals `literal` (lower case) ignoring ASCII case.
bool equalsIgnoringCase(std::string_view segment, std::string_view literal) {
  if (segment.size() != literal.size()) return false;
  for (std::size_t i = 0; i < segment.size(); ++i) {
    char c = segment[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != literal[i]) return false;
  }
  return true;
}

// The key operations of the AKV data plane, as path segments.
std::optional<Operation> keyOpSegment(std::string_view segment) {
  if (equalsIgnoringCase(segment, "unwrapkey")) return Operation::Unwrap;
  if (equalsIgnoringCase(segment, "wrapkey")) return Operation::Wrap;
  if (equalsIgnoringCase(segment, "decrypt")) return Operation::Decrypt;
  if (equalsIgnoringCase(segment, "encrypt")) return Operation::Encrypt;
  return std::nullopt;
}

std::string opLabel(Operation op) {
  switch (op) {
    case Operation::Unwrap: return "unwrapkey";
    case Operation::Wrap: return "wrapkey";
    default: return std::string(operationName(op));
  }
}

// Whether `spec` matches `segments`; `key_op` is set to the operation of a KeyOp segment.
bool matches(const RouteSpec& spec, std::span<const std::string_view> segments,
             std::optional<Operation>& key_op) {
  if (segments.size() != spec.pattern.size()) return false;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const std::string_view segment = segments[i];
    const Segment& want = spec.pattern[i];
    switch (want.part) {
      case Part::Literal:
        // The first segment ("keys", "status", ...) is exact; later ones are case-insensitive.
        if (i == 0 ? segment != want.literal : !equalsIgnoringCase(segment, want.literal)) {
          return false;
        }
        break;
      case Part::Name:
      case Part::Version:
        if (segment.empty()) return false;
        break;
      case Part::KeyOp:
        key_op = keyOpSegment(segment);
        if (!key_op) return false;
        break;
    }
  }
  return true;
}

// The Route of a spec that matched.
Route routeOf(const RouteSpec& spec, std::span<const std::string_view> segments,
              std::optional<Operation> key_op) {
  Route route{spec.kind,    std::string(spec.method),  spec.auth_op, spec.admin, {},
              std::nullopt, std::string(spec.op_label)};
  for (std::size_t i = 0; i < segments.size(); ++i) {
    if (spec.pattern[i].part == Part::Name) route.key = std::string(segments[i]);
    if (spec.pattern[i].part == Part::Version) route.version = std::string(segments[i]);
  }
  if (key_op) {
    route.auth_op = *key_op;
    route.op_label = opLabel(*key_op);
  }
  return route;
}

}  // namespace

HttpResponse refuse(RequestAudit& audit, const ApiError& error) {
  audit.code = error.code;
  return errorResponse(error);
}

std::optional<Route> resolveRoute(std::string_view path) {
  std::array<std::string_view, kMaxSegments> storage;
  std::size_t count = 0;
  if (!splitPath(path, storage, count)) return std::nullopt;
  const std::span<const std::string_view> segments(storage.data(), count);
  for (const RouteSpec& spec : routeTable()) {
    std::optional<Operation> key_op;
    if (matches(spec, segments, key_op)) return routeOf(spec, segments, key_op);
  }
  return std::nullopt;
}

}  // namespace skr::agent
