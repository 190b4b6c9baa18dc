#include "common/azure/akv_error.h"

#include <catch2/catch.hpp>

namespace skr::azure {
namespace {

TEST_CASE("akvErrorBody writes code and message in canonical order") {
  CHECK(akvErrorBody("BadParameter", "member 'value' is required") ==
        R"({"error":{"code":"BadParameter","message":"member 'value' is required"}})");
}

TEST_CASE("akvErrorBody adds innererror only when an inner code is given") {
  CHECK(
      akvErrorBody("Forbidden", "no", "KeyOperationForbidden") ==
      R"({"error":{"code":"Forbidden","innererror":{"code":"KeyOperationForbidden"},"message":"no"}})");
}

TEST_CASE("akvErrorBody escapes quotes and control characters") {
  CHECK(akvErrorBody("X", "a\"b\n") == R"({"error":{"code":"X","message":"a\"b\n"}})");
}

}  // namespace
}  // namespace skr::azure
