#include "common/jose/jwt.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <string>

#include "common/json/json.h"

namespace skr::jose {
namespace {

using std::chrono::seconds;
using Clock = std::chrono::system_clock;

const Clock::time_point kNow = Clock::time_point(seconds(1'800'000'000));  // 2027-01-15T08:00:00Z

json::ObjectPtr claims(const std::string& text) {
  StatusOr<json::ObjectPtr> obj = json::parseObject(text);
  REQUIRE(obj.ok());
  return *obj;
}

ClaimCheck check() {
  ClaimCheck c;
  c.now = kNow;
  c.leeway = seconds(60);
  return c;
}

TEST_CASE("a token inside its validity window passes") {
  CHECK(
      checkClaims(claims(R"({"iat":1799999000,"nbf":1799999000,"exp":1800028800})"), check()).ok());
}

TEST_CASE("an expired token fails with the expiry time and the clock in the message") {
  Status s = checkClaims(claims(R"({"exp":1799990000})"), check());
  CHECK(s.code() == StatusCode::Unauthenticated);
  CHECK(s.message() ==
        "token expired at 2027-01-15T05:13:20Z, now 2027-01-15T08:00:00Z, leeway 60 s");
}

TEST_CASE("leeway applies at the exp and nbf boundaries") {
  // exp 59 s ago: inside the 60 s leeway.
  CHECK(checkClaims(claims(R"({"exp":1799999941})"), check()).ok());
  // exp exactly 60 s ago: expired (exp is exclusive, RFC 7519 §4.1.4).
  CHECK(checkClaims(claims(R"({"exp":1799999940})"), check()).code() ==
        StatusCode::Unauthenticated);
  // nbf 60 s ahead: accepted; 61 s ahead: not yet valid.
  CHECK(checkClaims(claims(R"({"exp":1800028800,"nbf":1800000060})"), check()).ok());
  Status early = checkClaims(claims(R"({"exp":1800028800,"nbf":1800000061})"), check());
  CHECK(early.code() == StatusCode::Unauthenticated);
  CHECK(early.message().find("not valid before") != std::string::npos);
}

TEST_CASE("zero leeway is exact") {
  ClaimCheck c = check();
  c.leeway = seconds(0);
  CHECK(checkClaims(claims(R"({"exp":1800000001})"), c).ok());
  CHECK_FALSE(checkClaims(claims(R"({"exp":1800000000})"), c).ok());
}

TEST_CASE("iat in the future beyond the leeway is rejected") {
  Status s = checkClaims(claims(R"({"exp":1800028800,"iat":1800000100})"), check());
  CHECK(s.code() == StatusCode::Unauthenticated);
  CHECK(s.message().find("issued in the future") != std::string::npos);
}

TEST_CASE("missing exp is rejected unless not required, and required nbf/iat are enforced") {
  CHECK(checkClaims(claims(R"({})"), check()).message() == "token has no 'exp' claim");
  ClaimCheck c = check();
  c.require_exp = false;
  CHECK(checkClaims(claims(R"({})"), c).ok());
  c.require_nbf = true;
  CHECK(checkClaims(claims(R"({})"), c).message() == "token has no 'nbf' claim");
  c.require_nbf = false;
  c.require_iat = true;
  CHECK(checkClaims(claims(R"({})"), c).message() == "token has no 'iat' claim");
}

TEST_CASE("fractional NumericDates are accepted") {
  CHECK(checkClaims(claims(R"({"exp":1800028800.5})"), check()).ok());
}

TEST_CASE("time claims of the wrong type are InvalidArgument") {
  for (const char* text : {R"({"exp":"1800028800"})", R"({"exp":true})", R"({"nbf":[1]})",
                           R"({"exp":1800028800,"iat":{}})", R"({"exp":-5})", R"({"exp":1e300})"}) {
    INFO(text);
    CHECK(checkClaims(claims(text), check()).code() == StatusCode::InvalidArgument);
  }
}

TEST_CASE("time claims beyond 2200 are out of range, not an overflow") {
  // system_clock (nanoseconds) ends in 2262; year 7571 was accepted before and overflowed.
  for (const char* text : {R"({"exp":176767225000})", R"({"exp":1800028800,"nbf":9300000000})",
                           R"({"exp":7258118401})"}) {
    INFO(text);
    const Status s = checkClaims(claims(text), check());
    CHECK(s.code() == StatusCode::InvalidArgument);
    CHECK(s.message().find("out of range") != std::string::npos);
  }
  CHECK(checkClaims(claims(R"({"exp":7258118400})"), check()).ok());
}

TEST_CASE("issuer must match exactly when required") {
  ClaimCheck c = check();
  c.issuer = "https://sharedeus.eus.attest.azure.net";
  CHECK(
      checkClaims(claims(R"({"exp":1800028800,"iss":"https://sharedeus.eus.attest.azure.net"})"), c)
          .ok());
  Status wrong = checkClaims(
      claims(R"({"exp":1800028800,"iss":"https://sharedeus.eus.attest.azure.net/"})"), c);
  CHECK(wrong.code() == StatusCode::Unauthenticated);
  CHECK(wrong.message().find("is not the expected") != std::string::npos);
  CHECK(checkClaims(claims(R"({"exp":1800028800})"), c).code() == StatusCode::Unauthenticated);
  CHECK(checkClaims(claims(R"({"exp":1800028800,"iss":5})"), c).code() ==
        StatusCode::InvalidArgument);
}

TEST_CASE("audience may be a string or an array containing the expected value") {
  ClaimCheck c = check();
  c.audience = "https://vault.azure.net";
  CHECK(checkClaims(claims(R"({"exp":1800028800,"aud":"https://vault.azure.net"})"), c).ok());
  CHECK(checkClaims(claims(R"({"exp":1800028800,"aud":["x","https://vault.azure.net"]})"), c).ok());
  CHECK(checkClaims(claims(R"({"exp":1800028800,"aud":["x","y"]})"), c).code() ==
        StatusCode::Unauthenticated);
  CHECK(checkClaims(claims(R"({"exp":1800028800})"), c).code() == StatusCode::Unauthenticated);
  CHECK(checkClaims(claims(R"({"exp":1800028800,"aud":[1]})"), c).code() ==
        StatusCode::InvalidArgument);
}

}  // namespace
}  // namespace skr::jose
