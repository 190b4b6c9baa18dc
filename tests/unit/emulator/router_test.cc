#include "emulator/router.h"

#include <catch2/catch.hpp>

namespace skr::emulator {
namespace {

Handler named(std::string name) {
  return [name](const Request& r) {
    Response resp;
    resp.body = name;
    for (const auto& [k, v] : r.captures) resp.body += " " + k + "=" + v;
    return resp;
  };
}

Request req(std::string listener, std::string method, std::string path) {
  Request r;
  r.listener = std::move(listener);
  r.method = std::move(method);
  r.path = std::move(path);
  return r;
}

TEST_CASE("router matches literal segments and {name} captures per listener and method") {
  Router router;
  router.add({"vault", "mhsm"}, "GET", "/keys/{name}/versions", named("versions"));
  router.add({"vault", "mhsm"}, "GET", "/keys/{name}", named("get"));
  router.add({"vault", "mhsm"}, "GET", "/keys/{name}/", named("get-slash"));
  router.add({"vault", "mhsm"}, "GET", "/keys/{name}/{version}", named("get-version"));
  router.add({"vault"}, "POST", "/keys/{name}/rotate", named("rotate"));

  CHECK(router.dispatch(req("vault", "GET", "/keys/k1")).body == "get name=k1");
  CHECK(router.dispatch(req("mhsm", "GET", "/keys/k1/")).body == "get-slash name=k1");
  CHECK(router.dispatch(req("vault", "GET", "/keys/k1/versions")).body == "versions name=k1");
  CHECK(router.dispatch(req("vault", "GET", "/keys/k1/abc")).body ==
        "get-version name=k1 version=abc");
  CHECK(router.dispatch(req("vault", "POST", "/keys/k1/rotate")).body == "rotate name=k1");
}

TEST_CASE("router answers 404 for unknown paths or listeners and 405 for other methods") {
  Router router;
  router.add({"vault"}, "GET", "/keys/{name}", named("get"));
  CHECK(router.dispatch(req("vault", "GET", "/secrets/x")).status == 404);
  CHECK(router.dispatch(req("imds", "GET", "/keys/x")).status == 404);
  CHECK(router.dispatch(req("vault", "GET", "/keys//")).status == 404);
  CHECK(router.dispatch(req("vault", "GET", "/keys")).status == 404);
  Response wrong_method = router.dispatch(req("vault", "DELETE", "/keys/x"));
  CHECK(wrong_method.status == 405);
  CHECK(wrong_method.body.find("MethodNotAllowed") != std::string::npos);
}

TEST_CASE("splitPath keeps empty segments so a trailing slash is significant") {
  CHECK(splitPath("/a/b") == std::vector<std::string>{"a", "b"});
  CHECK(splitPath("/a/b/") == std::vector<std::string>{"a", "b", ""});
  CHECK(splitPath("/") == std::vector<std::string>{""});
  CHECK(splitPath("relative").empty());
}

}  // namespace
}  // namespace skr::emulator
