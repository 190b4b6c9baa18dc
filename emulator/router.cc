#include "emulator/router.h"

#include <algorithm>
#include <cstdlib>

#include "common/log/logger.h"

namespace skr::emulator {

std::vector<std::string> splitPath(std::string_view path) {
  std::vector<std::string> out;
  if (path.empty() || path.front() != '/') return out;
  std::size_t start = 1;
  while (true) {
    const std::size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) {
      out.emplace_back(path.substr(start));
      break;
    }
    out.emplace_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return out;
}

void Router::add(std::vector<std::string> listeners, std::string method, std::string_view pattern,
                 Handler handler) {
  if (listeners.empty() || pattern.empty() || pattern.front() != '/' || !handler) {
    log::error("emulator.router.bad_route", {{"pattern", std::string(pattern)}});
    std::abort();
  }
  Route route;
  route.listeners = std::move(listeners);
  route.method = std::move(method);
  for (std::string& s : splitPath(pattern)) {
    Segment seg;
    if (s.size() >= 2 && s.front() == '{' && s.back() == '}') {
      seg.capture = true;
      seg.text = s.substr(1, s.size() - 2);
    } else {
      seg.text = std::move(s);
    }
    route.segments.push_back(std::move(seg));
  }
  route.handler = std::move(handler);
  routes_.push_back(std::move(route));
}

Router::Outcome Router::find(const std::string& listener, const std::string& method,
                             const std::string& path, Match* match) const {
  const std::vector<std::string> parts = splitPath(path);
  bool path_matched = false;
  for (const Route& route : routes_) {
    if (std::find(route.listeners.begin(), route.listeners.end(), listener) ==
        route.listeners.end()) {
      continue;
    }
    if (route.segments.size() != parts.size()) continue;
    std::map<std::string, std::string> captures;
    bool ok = true;
    for (std::size_t i = 0; i < parts.size() && ok; ++i) {
      const Segment& seg = route.segments[i];
      if (seg.capture) {
        ok = !parts[i].empty();
        if (ok) captures[seg.text] = parts[i];
      } else {
        ok = seg.text == parts[i];
      }
    }
    if (!ok) continue;
    path_matched = true;
    if (route.method != method) continue;
    match->handler = &route.handler;
    match->captures = std::move(captures);
    return Outcome::Matched;
  }
  return path_matched ? Outcome::MethodNotAllowed : Outcome::NoRoute;
}

Response Router::dispatch(Request request) const {
  Match match;
  switch (find(request.listener, request.method, request.path, &match)) {
    case Outcome::NoRoute:
      return cloudError(404, "NotFound",
                        "skr-emulator: no route for " + request.method + " " + request.path +
                            " on listener '" + request.listener + "'");
    case Outcome::MethodNotAllowed:
      return cloudError(
          405, "MethodNotAllowed",
          "skr-emulator: method " + request.method + " is not allowed for " + request.path);
    case Outcome::Matched: break;
  }
  request.captures = std::move(match.captures);
  return (*match.handler)(request);
}

}  // namespace skr::emulator
