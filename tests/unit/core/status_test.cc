#include "common/core/status.h"

#include <catch2/catch.hpp>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <type_traits>

namespace skr {
namespace {

StatusOr<int> parsePositive(int v) {
  if (v <= 0) return invalidArgumentError("value " + std::to_string(v) + " is not positive");
  return v;
}

Status useReturnIfError(int v) {
  SKR_RETURN_IF_ERROR(parsePositive(v));
  return okStatus();
}

StatusOr<int> useAssignOrReturn(int v) {
  SKR_ASSIGN_OR_RETURN(int x, parsePositive(v));
  return x * 2;
}

TEST_CASE("an OK status has no message and prints OK") {
  Status s;
  CHECK(s.ok());
  CHECK(s.code() == StatusCode::Ok);
  CHECK(s.message().empty());
  CHECK(s.toString() == "OK");
  CHECK(Status(StatusCode::Ok, "ignored").message().empty());
}

TEST_CASE("an error status keeps its code and message") {
  Status s = dataLossError("AES-KWP unwrap: integrity check failed");
  CHECK_FALSE(s.ok());
  CHECK(s.code() == StatusCode::DataLoss);
  CHECK(s.toString() == "DataLoss: AES-KWP unwrap: integrity check failed");
}

TEST_CASE("withContext prefixes the message like a trace and leaves OK alone") {
  Status s = unavailableError("HTTP 503").withContext("MAA attest").withContext("release 'k1'");
  CHECK(s.message() == "release 'k1': MAA attest: HTTP 503");
  CHECK(s.code() == StatusCode::Unavailable);
  CHECK(okStatus().withContext("x").ok());
  const Status lvalue = notFoundError("no key");
  CHECK(lvalue.withContext("get").message() == "get: no key");
  CHECK(lvalue.message() == "no key");
}

TEST_CASE("every status code has a distinct name") {
  std::set<std::string_view> names;
  for (int c = 0; c <= static_cast<int>(StatusCode::Internal); ++c) {
    names.insert(statusCodeName(static_cast<StatusCode>(c)));
  }
  CHECK(names.size() == static_cast<std::size_t>(StatusCode::Internal) + 1);
}

TEST_CASE("StatusOr holds a value or an error") {
  StatusOr<int> good = parsePositive(3);
  REQUIRE(good.ok());
  CHECK(*good == 3);
  StatusOr<int> bad = parsePositive(-1);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == StatusCode::InvalidArgument);
  CHECK(bad.status().message() == "value -1 is not positive");
}

TEST_CASE("StatusOr works with move-only values") {
  StatusOr<std::unique_ptr<int>> p = std::make_unique<int>(7);
  REQUIRE(p.ok());
  std::unique_ptr<int> taken = std::move(p).value();
  CHECK(*taken == 7);
}

TEST_CASE("SKR_RETURN_IF_ERROR and SKR_ASSIGN_OR_RETURN propagate errors unchanged") {
  CHECK(useReturnIfError(1).ok());
  CHECK(useReturnIfError(0).message() == "value 0 is not positive");
  StatusOr<int> doubled = useAssignOrReturn(21);
  REQUIRE(doubled.ok());
  CHECK(*doubled == 42);
  CHECK(useAssignOrReturn(-5).status().code() == StatusCode::InvalidArgument);
}

}  // namespace
}  // namespace skr

namespace skr {
namespace {

TEST_CASE("ok() asks on both Status and StatusOr, okStatus() makes one") {
  STATIC_REQUIRE(std::is_same_v<decltype(std::declval<Status>().ok()), bool>);
  STATIC_REQUIRE(std::is_same_v<decltype(std::declval<StatusOr<int>>().ok()), bool>);
  STATIC_REQUIRE(!std::is_convertible_v<bool, Status>);  // `return s.ok();` cannot make a Status
  CHECK(okStatus().ok());
  CHECK_FALSE(internalError("x").ok());
}

TEST_CASE("typed details travel with the status through withContext and copies") {
  ErrorDetails details;
  details.dependency = Dependency::KeyVault;
  details.cause = ErrorCause::PolicyDenied;
  details.host = "vault.example:443";
  details.http_status = 403;
  details.service_code = "Forbidden/AccessDenied";
  details.attempts = 2;
  const Status denied = permissionDeniedError("release denied").withDetails(details);
  CHECK(denied.hasDetails());
  const Status traced = denied.withContext("release key 'k'");
  CHECK(traced.message() == "release key 'k': release denied");
  CHECK(traced.details() == details);
  Status moved = Status(denied).withContext("outer");
  CHECK(moved.details().cause == ErrorCause::PolicyDenied);

  CHECK_FALSE(internalError("plain").hasDetails());
  CHECK(internalError("plain").details() == ErrorDetails{});
  CHECK_FALSE(okStatus().withDetails(details).hasDetails());  // OK never carries details
  CHECK(denied != permissionDeniedError("release denied"));   // details take part in ==
}

TEST_CASE("dependency and cause names are distinct and stable") {
  std::set<std::string_view> names;
  for (Dependency d : {Dependency::None, Dependency::Identity, Dependency::Maa,
                       Dependency::KeyVault, Dependency::Collateral, Dependency::Agent}) {
    names.insert(dependencyName(d));
  }
  CHECK(names.size() == 6);
  CHECK(dependencyName(Dependency::KeyVault) == "keyvault");
  std::set<std::string_view> causes;
  for (ErrorCause c :
       {ErrorCause::Unspecified, ErrorCause::Identity, ErrorCause::AttestationRejected,
        ErrorCause::PolicyDenied, ErrorCause::RoleMissing, ErrorCause::Transport,
        ErrorCause::Integrity, ErrorCause::VersionNotFound}) {
    causes.insert(errorCauseName(c));
  }
  CHECK(causes.size() == 8);
}

std::string scramble(std::string_view message) {
  return "reworded#" + std::to_string(std::hash<std::string_view>{}(message));
}

TEST_CASE("the test-only rewriter rewords every message, and codes and details stay") {
  testing::setMessageRewriterForTest(&scramble);
  const Status s = notFoundError("key 'k' not found")
                       .withDetails(ErrorDetails{Dependency::KeyVault, ErrorCause::Unspecified, "h",
                                                 404, "KeyNotFound", 1});
  const Status traced = s.withContext("release");
  testing::setMessageRewriterForTest(nullptr);
  CHECK(s.message().rfind("reworded#", 0) == 0);
  CHECK(s.message().find("not found") == std::string::npos);
  CHECK(traced.message().rfind("reworded#", 0) == 0);
  CHECK(traced.code() == StatusCode::NotFound);
  CHECK(traced.details().http_status == 404);
  CHECK(notFoundError("plain again").message() == "plain again");
}

}  // namespace
}  // namespace skr
