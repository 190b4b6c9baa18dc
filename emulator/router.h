// Routes (listener, method, path pattern) to handlers. Patterns are literal segments and `{name}`
// captures, each capture matching exactly one non-empty segment: "/keys/{name}/{version}".
// Routes are added at start-up (not thread-safe); dispatch() is const and thread-safe afterwards.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "emulator/http_types.h"

namespace skr::emulator {

using Handler = std::function<Response(const Request&)>;

class Router {
 public:
  // `listeners`: the listener names this route serves (e.g. {"vault", "mhsm"}); never empty.
  // A pattern must start with '/'; adding a malformed pattern is a programming error (aborts).
  void add(std::vector<std::string> listeners, std::string method, std::string_view pattern,
           Handler handler);

  struct Match {
    const Handler* handler = nullptr;
    std::map<std::string, std::string> captures;
  };
  enum class Outcome { Matched, NoRoute, MethodNotAllowed };

  // Finds the route for request.listener/method/path. On kMatched, `match` is filled. The first
  // added route wins when several match.
  Outcome find(const std::string& listener, const std::string& method, const std::string& path,
               Match* match) const;

  // find() + call, with 404 / 405 CloudError answers for unknown routes.
  Response dispatch(Request request) const;

 private:
  struct Segment {
    std::string text;
    bool capture = false;
  };
  struct Route {
    std::vector<std::string> listeners;
    std::string method;
    std::vector<Segment> segments;
    Handler handler;
  };
  std::vector<Route> routes_;
};

// Splits "/a/b/" into {"a", "b", ""}: a trailing slash yields an empty last segment, so
// "/keys/k/" does not match "/keys/{name}" (AKV's versionless "/keys/{name}/" is routed
// explicitly).
std::vector<std::string> splitPath(std::string_view path);

}  // namespace skr::emulator
