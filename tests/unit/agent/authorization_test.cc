#include "agent/authorization.h"

#include <catch2/catch.hpp>

#include "common/crypto/digest.h"
#include "tests/unit/agent/agent_test_util.h"

namespace skr::agent {
namespace {

using testing::request;
using testing::take;

std::string sha256Hex(std::string_view token) {
  return encoding::hexEncode(crypto::sha256(asBytes(token)));
}

Authorizer makeAuthorizer() {
  std::vector<AuthRule> rules;
  rules.push_back({"app", {1000}, {}, {"unwrap", "keys"}, {"data-kek"}, std::nullopt});
  rules.push_back({"batch", {}, {2000}, {"*"}, {"*"}, sha256Hex("s3cret-token")});
  rules.push_back({"ops", {0}, {}, {"admin"}, {"*"}, std::nullopt});
  return take(Authorizer::create(std::move(rules)));
}

HttpRequest withToken(HttpRequest r, std::string token) {
  r.headers.emplace_back("authorization", "Bearer " + token);
  return r;
}

TEST_CASE("a caller whose uid matches a rule gets exactly that rule's grants") {
  const Authorizer auth = makeAuthorizer();
  auto result = auth.authenticate(request("POST", "/x", {}, 1000, 50));
  REQUIRE(std::holds_alternative<Caller>(result));
  const Caller& caller = std::get<Caller>(result);
  CHECK(caller.ruleNames() == "app");
  CHECK(caller.allows(Operation::Unwrap, "data-kek"));
  CHECK_FALSE(caller.allows(Operation::Unwrap, "other-kek"));
  CHECK_FALSE(caller.allows(Operation::Wrap, "data-kek"));
  std::optional<AuthError> refused = caller.check(Operation::Wrap, "data-kek");
  REQUIRE(refused);
  CHECK(refused->http_status == 403);
  CHECK(refused->reason == AuthFailure::NotGranted);
  CHECK(refused->message ==
        "caller uid 1000 gid 50 pid 4242 (rules: app) is not granted operation 'wrap' on key "
        "'data-kek'");
}

TEST_CASE("open-data is granted by name or by \"*\", per key") {
  std::vector<AuthRule> rules;
  rules.push_back({"reader", {1000}, {}, {"open-data"}, {"data-kek"}, std::nullopt});
  rules.push_back({"all", {1001}, {}, {"*"}, {"*"}, std::nullopt});
  rules.push_back({"unwrapper", {1002}, {}, {"unwrap"}, {"*"}, std::nullopt});
  const Authorizer auth = take(Authorizer::create(std::move(rules)));
  auto callerOf = [&](uid_t uid) {
    auto result = auth.authenticate(request("POST", "/data/open", {}, uid, 50));
    REQUIRE(std::holds_alternative<Caller>(result));
    return std::get<Caller>(result);
  };
  CHECK(operationName(Operation::OpenData) == "open-data");
  CHECK(callerOf(1000).allows(Operation::OpenData, "data-kek"));
  CHECK_FALSE(callerOf(1000).allows(Operation::OpenData, "other-kek"));
  CHECK_FALSE(callerOf(1000).allows(Operation::Unwrap, "data-kek"));
  CHECK(callerOf(1001).allows(Operation::OpenData, "any-key"));
  CHECK_FALSE(callerOf(1002).allows(Operation::OpenData, ""));
}

TEST_CASE("the X-SKR-Request header is required before anything else") {
  const Authorizer auth = makeAuthorizer();
  HttpRequest r = request("GET", "/keys", {}, 1000, 1000);
  r.headers.clear();
  auto result = auth.authenticate(r);
  REQUIRE(std::holds_alternative<AuthError>(result));
  CHECK(std::get<AuthError>(result).http_status == 401);
  CHECK(std::get<AuthError>(result).code == "MissingRequestHeader");
  r.headers.emplace_back("x-skr-request", "yes");
  CHECK(std::get<AuthError>(auth.authenticate(r)).reason == AuthFailure::MissingHeader);
}

TEST_CASE("an unknown uid and gid is 403 with no matching rule") {
  const Authorizer auth = makeAuthorizer();
  auto result = auth.authenticate(request("GET", "/keys", {}, 3000, 3000));
  REQUIRE(std::holds_alternative<AuthError>(result));
  const AuthError& e = std::get<AuthError>(result);
  CHECK(e.http_status == 403);
  CHECK(e.reason == AuthFailure::NoMatchingRule);
  CHECK(e.message == "caller uid 3000 gid 3000 pid 4242 matches no client rule");
}

TEST_CASE("a token rule needs the right bearer token, compared by its SHA-256") {
  const Authorizer auth = makeAuthorizer();
  auto missing = auth.authenticate(request("GET", "/keys", {}, 3000, 2000));
  REQUIRE(std::holds_alternative<AuthError>(missing));
  CHECK(std::get<AuthError>(missing).reason == AuthFailure::MissingToken);
  CHECK(std::get<AuthError>(missing).http_status == 401);
  CHECK(std::get<AuthError>(missing).www_authenticate);

  auto bad = auth.authenticate(withToken(request("GET", "/keys", {}, 3000, 2000), "wrong"));
  REQUIRE(std::holds_alternative<AuthError>(bad));
  CHECK(std::get<AuthError>(bad).reason == AuthFailure::BadToken);
  CHECK(std::get<AuthError>(bad).message.find("wrong") == std::string::npos);

  auto good = auth.authenticate(withToken(request("GET", "/keys", {}, 3000, 2000), "s3cret-token"));
  REQUIRE(std::holds_alternative<Caller>(good));
  CHECK(std::get<Caller>(good).allows(Operation::Rewrap, "any-key"));
  // "*" never grants admin.
  CHECK_FALSE(std::get<Caller>(good).allows(Operation::Admin, ""));
}

TEST_CASE("a wrong token is refused even where a tokenless rule would apply") {
  const Authorizer auth = makeAuthorizer();
  auto bad = auth.authenticate(withToken(request("GET", "/keys", {}, 1000, 1000), "guess"));
  REQUIRE(std::holds_alternative<AuthError>(bad));
  CHECK(std::get<AuthError>(bad).reason == AuthFailure::BadToken);
}

TEST_CASE("Authorizer::create rejects malformed rules naming the field") {
  auto bad = [](AuthRule rule) {
    StatusOr<Authorizer> a = Authorizer::create({std::move(rule)});
    REQUIRE_FALSE(a.ok());
    return a.status().message();
  };
  CHECK(bad({"r", {}, {}, {"unwrap"}, {"*"}, std::nullopt}) ==
        "client rule 0 'r': needs at least one uid or gid");
  CHECK(bad({"r", {1}, {}, {"fly"}, {"*"}, std::nullopt}).find("unknown operation 'fly'") !=
        std::string::npos);
  CHECK(bad({"r", {1}, {}, {"unwrap"}, {"*"}, std::string("abc")}) ==
        "client rule 0 'r': token_sha256 must be 64 hex digits (SHA-256 of the token)");
  CHECK(bad({"r", {1}, {}, {"unwrap"}, {"a/b"}, std::nullopt}).find("keys") != std::string::npos);
}

}  // namespace
}  // namespace skr::agent
