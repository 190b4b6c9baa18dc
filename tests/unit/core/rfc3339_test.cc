#include "common/core/rfc3339.h"

#include <catch2/catch.hpp>

namespace skr {
namespace {

using std::chrono::seconds;

SystemTime at(int64_t epoch_seconds) {
  return SystemTime(seconds(epoch_seconds));
}

TEST_CASE("RFC 3339 times format in UTC with a Z") {
  CHECK(formatRfc3339(at(0)) == "1970-01-01T00:00:00Z");
  CHECK(formatRfc3339(at(1'800'000'000)) == "2027-01-15T08:00:00Z");
}

TEST_CASE("RFC 3339 parsing accepts Z, offsets, fractions and lower case") {
  CHECK(*parseRfc3339("2027-01-15T08:00:00Z") == at(1'800'000'000));
  CHECK(*parseRfc3339("2027-01-15t08:00:00z") == at(1'800'000'000));
  CHECK(*parseRfc3339("2027-01-15T09:30:00+01:30") == at(1'800'000'000));
  CHECK(*parseRfc3339("2027-01-15T07:00:00-01:00") == at(1'800'000'000));
  CHECK(*parseRfc3339("2027-01-15T08:00:00.999Z") == at(1'800'000'000));
  CHECK(*parseRfc3339("2024-02-29T00:00:00Z") == at(1'709'164'800));
}

TEST_CASE("RFC 3339 parsing rejects malformed and out-of-range times with the text named") {
  for (const char* text :
       {"", "2027-01-15", "2027-01-15T08:00:00", "2027-13-01T00:00:00Z", "2027-02-30T00:00:00Z",
        "2023-02-29T00:00:00Z", "2027-01-15T24:00:00Z", "2027-01-15T08:00:00Zjunk",
        "2027-01-15T08:00:00+1:00", "2027-01-15T08:00:00.Z", "27-01-15T08:00:00Z",
        // beyond system_clock's int64 nanoseconds (was signed overflow)
        "3026-11-28T10:00:00Z", "2262-04-12T00:00:00Z", "9999-12-31T23:59:59Z",
        "1677-01-01T00:00:00Z", "0000-01-01T00:00:00Z"}) {
    INFO(text);
    StatusOr<SystemTime> t = parseRfc3339(text);
    REQUIRE_FALSE(t.ok());
    CHECK(t.status().code() == StatusCode::InvalidArgument);
    CHECK(t.status().message().find("is not an RFC 3339 time") != std::string::npos);
  }
}

}  // namespace
}  // namespace skr
