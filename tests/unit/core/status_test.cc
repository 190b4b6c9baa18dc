#include "common/core/status.h"

#include <catch2/catch.hpp>
#include <memory>
#include <set>
#include <string>

namespace skr {
namespace {

StatusOr<int> parsePositive(int v) {
  if (v <= 0) return invalidArgumentError("value " + std::to_string(v) + " is not positive");
  return v;
}

Status useReturnIfError(int v) {
  SKR_RETURN_IF_ERROR(parsePositive(v));
  return Status::ok();
}

StatusOr<int> useAssignOrReturn(int v) {
  SKR_ASSIGN_OR_RETURN(int x, parsePositive(v));
  return x * 2;
}

TEST_CASE("an OK status has no message and prints OK") {
  Status s;
  CHECK(s.isOk());
  CHECK(s.code() == StatusCode::Ok);
  CHECK(s.message().empty());
  CHECK(s.toString() == "OK");
  CHECK(Status(StatusCode::Ok, "ignored").message().empty());
}

TEST_CASE("an error status keeps its code and message") {
  Status s = dataLossError("AES-KWP unwrap: integrity check failed");
  CHECK_FALSE(s.isOk());
  CHECK(s.code() == StatusCode::DataLoss);
  CHECK(s.toString() == "DataLoss: AES-KWP unwrap: integrity check failed");
}

TEST_CASE("withContext prefixes the message like a trace and leaves OK alone") {
  Status s = unavailableError("HTTP 503").withContext("MAA attest").withContext("release 'k1'");
  CHECK(s.message() == "release 'k1': MAA attest: HTTP 503");
  CHECK(s.code() == StatusCode::Unavailable);
  CHECK(Status::ok().withContext("x").isOk());
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
  CHECK(useReturnIfError(1).isOk());
  CHECK(useReturnIfError(0).message() == "value 0 is not positive");
  StatusOr<int> doubled = useAssignOrReturn(21);
  REQUIRE(doubled.ok());
  CHECK(*doubled == 42);
  CHECK(useAssignOrReturn(-5).status().code() == StatusCode::InvalidArgument);
}

}  // namespace
}  // namespace skr
