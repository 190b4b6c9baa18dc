// Fault injection through /_emulator/faults, observed with plain HTTP(S) clients: status with
// Retry-After, delay, close, truncate, corrupt, wrong_key, slow_body, content_type, and "count N
// then normal".
#include <catch2/catch.hpp>
#include <chrono>

#include "tests/integration/emulator_process.h"

namespace skr::testing {
namespace {

std::string jwksUrl(const EmulatorProcess& emu) {
  return emu.url("entra") + "/k8s-issuer/openid/v1/jwks";
}

TEST_CASE("fault 'status' answers the status with Retry-After for N requests, then normally",
          "[emulator]") {
  auto emu = EmulatorProcess::start();
  emu->admin(
      "POST", "/_emulator/faults",
      R"({"listener":"entra","path":"/k8s-issuer/","count":2,"action":"status","status":503,"retry_after":2})");
  CHECK(emu->admin("GET", "/_emulator/faults")->getArray("faults")->size() == 1);
  for (int i = 0; i < 2; ++i) {
    HttpResult r = emu->get(jwksUrl(*emu));
    CHECK(r.status == 503);
    CHECK(r.header("retry-after") == "2");
    CHECK(r.json()->getObject("error")->getValue<std::string>("code") == "EmulatedFault");
  }
  CHECK(emu->get(jwksUrl(*emu)).status == 200);
  CHECK(emu->admin("GET", "/_emulator/faults")->getArray("faults")->size() == 0);

  // Matching by method and regex; other listeners are unaffected.
  emu->admin("POST", "/_emulator/faults",
             R"({"method":"GET","path_regex":"^/keys/[a-z]+$","action":"status","status":429})");
  CHECK(emu->get(jwksUrl(*emu)).status == 200);
  CHECK(emu->get(emu->url("vault") + "/keys/abc?api-version=7.4").status == 429);
  CHECK(emu->get(emu->url("vault") + "/keys/abc?api-version=7.4").status == 401);

  json::ObjectPtr log = emu->admin("GET", "/_emulator/requests?listener=entra");
  CHECK(log->getArray("requests")->getObject(0)->getValue<std::string>("fault") == "status");
  CHECK(emu->stop() == 0);
}

TEST_CASE("fault 'delay' holds the response at least delay_ms", "[emulator]") {
  auto emu = EmulatorProcess::start();
  emu->admin(
      "POST", "/_emulator/faults",
      R"({"listener":"entra","path":"/k8s-issuer/openid/v1/jwks","action":"delay","delay_ms":700})");
  const auto start = std::chrono::steady_clock::now();
  HttpResult r = emu->get(jwksUrl(*emu));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(r.status == 200);
  CHECK(elapsed >= std::chrono::milliseconds(700));
  CHECK(emu->stop() == 0);
}

TEST_CASE("fault 'close' drops the connection without a response", "[emulator]") {
  auto emu = EmulatorProcess::start();
  emu->admin("POST", "/_emulator/faults", R"({"listener":"imds","action":"close"})");
  HttpResult r =
      emu->get(emu->url("imds") + "/metadata/THIM/amd/certification", {{"Metadata", "true"}});
  CHECK(r.transport_error);
  CHECK(r.status == 0);
  CHECK(emu->get(emu->url("imds") + "/metadata/THIM/amd/certification", {{"Metadata", "true"}})
            .status == 200);
  CHECK(emu->stop() == 0);
}

TEST_CASE("fault 'truncate' sends a short body under the full Content-Length", "[emulator]") {
  auto emu = EmulatorProcess::start();
  const std::string url = emu->url("imds") + "/metadata/THIM/amd/certification";
  HttpResult full = emu->get(url, {{"Metadata", "true"}});
  REQUIRE(full.status == 200);
  emu->admin("POST", "/_emulator/faults", R"({"listener":"imds","action":"truncate"})");
  HttpResult r = emu->get(url, {{"Metadata", "true"}});
  INFO(r.error);
  const bool short_body = !r.transport_error &&
                          r.content_length == static_cast<long long>(full.body.size()) &&
                          r.body.size() < full.body.size();
  CHECK((r.transport_error || short_body));
  CHECK(emu->stop() == 0);
}

TEST_CASE("fault 'corrupt' changes body bytes but not the length", "[emulator]") {
  auto emu = EmulatorProcess::start();
  HttpResult full = emu->get(jwksUrl(*emu));
  REQUIRE(full.status == 200);
  emu->admin("POST", "/_emulator/faults",
             R"({"path":"/k8s-issuer/openid/v1/jwks","action":"corrupt"})");
  HttpResult r = emu->get(jwksUrl(*emu));
  CHECK(r.status == 200);
  CHECK(r.body.size() == full.body.size());
  CHECK(r.body != full.body);
  CHECK(emu->get(jwksUrl(*emu)).body == full.body);
  CHECK(emu->stop() == 0);
}

TEST_CASE("fault 'slow_body' sends half the body, then the rest after delay_ms", "[emulator]") {
  auto emu = EmulatorProcess::start();
  HttpResult full = emu->get(jwksUrl(*emu));
  REQUIRE(full.status == 200);
  emu->admin("POST", "/_emulator/faults",
             R"({"path":"/k8s-issuer/openid/v1/jwks","action":"slow_body","delay_ms":700})");
  auto start = std::chrono::steady_clock::now();
  HttpResult slow = emu->get(jwksUrl(*emu));
  CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(700));
  CHECK(slow.status == 200);
  CHECK(slow.body == full.body);

  // A client that waits less than the stall gets no complete answer.
  emu->admin("POST", "/_emulator/faults",
             R"({"path":"/k8s-issuer/openid/v1/jwks","action":"slow_body","delay_ms":5000})");
  HttpCall impatient;
  impatient.url = jwksUrl(*emu);
  impatient.timeout = std::chrono::seconds(1);
  start = std::chrono::steady_clock::now();
  HttpResult cut = emu->call(impatient);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(4500));
  CHECK((cut.transport_error || cut.body.size() < full.body.size()));
  CHECK(emu->admin("GET", "/_emulator/requests?listener=entra")
            ->getArray("requests")
            ->getObject(2)
            ->getValue<std::string>("fault") == "slow_body");
  CHECK(emu->stop() == 0);
}

TEST_CASE("fault 'content_type' answers normally under another Content-Type", "[emulator]") {
  auto emu = EmulatorProcess::start();
  HttpResult full = emu->get(jwksUrl(*emu));
  REQUIRE(full.status == 200);
  REQUIRE(full.header("content-type").find("application/json") == 0);
  emu->admin("POST", "/_emulator/faults",
             R"({"path":"/k8s-issuer/openid/v1/jwks","action":"content_type"})");
  emu->admin(
      "POST", "/_emulator/faults",
      R"({"path":"/k8s-issuer/openid/v1/jwks","action":"content_type","content_type":"text/plain"})");
  HttpResult html = emu->get(jwksUrl(*emu));
  CHECK(html.header("content-type") == "text/html; charset=utf-8");
  CHECK(html.body == full.body);
  CHECK(emu->get(jwksUrl(*emu)).header("content-type") == "text/plain");
  CHECK(emu->get(jwksUrl(*emu)).header("content-type").find("application/json") == 0);
  CHECK(emu->stop() == 0);
}

TEST_CASE("fault 'wrong_key' makes IMDS sign with an untrusted key: the vault answers 401",
          "[emulator]") {
  auto emu = EmulatorProcess::start();
  const TestIdentity id = addUserIdentity(*emu, "wrong-key");
  assignRole(*emu, id.object_id, "Key Vault Crypto User");
  emu->admin(
      "POST", "/_emulator/faults",
      R"({"listener":"imds","path":"/metadata/identity/oauth2/token","action":"wrong_key"})");
  const std::string bad = imdsToken(*emu, "https://vault.azure.net", id.client_id);
  const std::string good = imdsToken(*emu, "https://vault.azure.net", id.client_id);
  const std::string url = emu->url("vault") + "/keys/none?api-version=7.4";
  HttpResult rejected = emu->get(url, {{"Authorization", "Bearer " + bad}});
  CHECK(rejected.status == 401);
  CHECK(emu->get(url, {{"Authorization", "Bearer " + good}}).status == 404);
  CHECK(emu->stop() == 0);
}

TEST_CASE("bad fault definitions are refused and reset clears faults", "[emulator]") {
  auto emu = EmulatorProcess::start();
  HttpCall c;
  c.method = "POST";
  c.url = emu->url("admin") + "/_emulator/faults";
  for (const char* body :
       {R"({"action":"explode"})", R"({"action":"delay"})", R"({"action":"status","count":0})",
        R"({"listener":"admin","action":"close"})", R"({"action":"status","path_regex":"("})",
        "{"}) {
    INFO(body);
    c.body = body;
    CHECK(emu->call(c).status == 400);
  }
  emu->admin("POST", "/_emulator/faults", R"({"action":"status","status":500,"count":5})");
  emu->admin("POST", "/_emulator/reset");
  CHECK(emu->get(jwksUrl(*emu)).status == 200);
  CHECK(emu->stop() == 0);
}

}  // namespace
}  // namespace skr::testing
