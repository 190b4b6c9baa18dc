#include "emulator/fault_injector.h"

#include <catch2/catch.hpp>

namespace skr::emulator {
namespace {

FaultRule parse(const std::string& text) {
  StatusOr<json::ObjectPtr> o = json::parseObject(text);
  REQUIRE(o.ok());
  StatusOr<FaultRule> rule = FaultRule::fromJson(*o);
  INFO(rule.status().toString());
  REQUIRE(rule.ok());
  return *rule;
}

TEST_CASE("a fault rule fires for exactly `count` matching requests, then disappears") {
  FaultInjector faults;
  REQUIRE(
      faults
          .add(parse(
              R"({"listener":"vault","path":"/keys/","count":2,"action":"status","status":503,"retry_after":3})"))
          .ok());
  CHECK(!faults.take("mhsm", "GET", "/keys/a"));
  CHECK(!faults.take("vault", "GET", "/other"));
  auto first = faults.take("vault", "GET", "/keys/a");
  REQUIRE(first);
  CHECK(first->kind == FaultKind::Status);
  CHECK(first->status == 503);
  CHECK(first->retry_after_seconds == 3);
  CHECK(faults.take("vault", "POST", "/keys/b/create"));
  CHECK(!faults.take("vault", "GET", "/keys/a"));
  CHECK(faults.list().empty());
}

TEST_CASE("fault rules match by method and whole-path regex, first rule first") {
  FaultInjector faults;
  REQUIRE(faults
              .add(parse(
                  R"({"method":"POST","path_regex":"^/keys/[^/]+/release$","action":"wrong_key"})"))
              .ok());
  REQUIRE(faults.add(parse(R"({"action":"delay","delay_ms":10,"count":5})")).ok());
  auto r = faults.take("vault", "POST", "/keys/k/release");
  REQUIRE(r);
  CHECK(r->kind == FaultKind::WrongKey);
  auto other = faults.take("vault", "GET", "/keys/k/release");
  REQUIRE(other);
  CHECK(other->kind == FaultKind::Delay);
  CHECK(other->delay_ms == 10);
  CHECK(!faults.take("admin", "GET", "/_emulator/health"));
  faults.clear();
  CHECK(!faults.take("vault", "POST", "/keys/k/release"));
}

TEST_CASE("fault rules reject unknown actions, out-of-range values and bad regexes") {
  for (const char* text :
       {R"({"action":"explode"})", R"({"action":"delay"})", R"({"action":"status","status":99})",
        R"({"action":"close","count":0})", R"({"action":"close","listener":"admin"})",
        R"({"action":"delay","delay_ms":999999})", R"({"path":"keys","action":"close"})",
        R"({"action":"slow_body"})", R"({"action":"content_type","content_type":""})",
        R"({"action":"content_type","content_type":"text/plain\r\nX-Evil: 1"})",
        R"({"action":"status","content_type":"text/plain"})"}) {
    INFO(text);
    StatusOr<json::ObjectPtr> o = json::parseObject(text);
    REQUIRE(o.ok());
    CHECK(FaultRule::fromJson(*o).status().code() == StatusCode::InvalidArgument);
  }
  FaultInjector faults;
  CHECK(faults.add(parse(R"({"action":"close","path_regex":"("})")).status().code() ==
        StatusCode::InvalidArgument);
}

TEST_CASE("slow_body carries its delay, content_type its type (text/html when not given)") {
  FaultInjector faults;
  REQUIRE(faults.add(parse(R"({"action":"slow_body","delay_ms":250})")).ok());
  REQUIRE(faults.add(parse(R"({"action":"content_type","content_type":"text/plain"})")).ok());
  REQUIRE(faults.add(parse(R"({"action":"content_type"})")).ok());
  CHECK(faults.list()[0].toJson()->getValue<int>("delay_ms") == 250);
  CHECK(faults.list()[1].toJson()->getValue<std::string>("content_type") == "text/plain");
  auto slow = faults.take("vault", "GET", "/keys/a");
  REQUIRE(slow);
  CHECK(slow->kind == FaultKind::SlowBody);
  CHECK(slow->delay_ms == 250);
  auto typed = faults.take("vault", "GET", "/keys/a");
  REQUIRE(typed);
  CHECK(typed->kind == FaultKind::ContentType);
  CHECK(typed->content_type == "text/plain");
  auto fallback = faults.take("vault", "GET", "/keys/a");
  REQUIRE(fallback);
  CHECK(fallback->content_type == "text/html; charset=utf-8");
  CHECK(!faults.take("vault", "GET", "/keys/a"));
}

TEST_CASE("corruptBody changes bytes but keeps the length") {
  std::string body = R"({"value":"abcdefghijklmnopqrstuvwxyz0123456789"})";
  const std::string original = body;
  corruptBody(body);
  CHECK(body.size() == original.size());
  CHECK(body != original);
}

}  // namespace
}  // namespace skr::emulator
