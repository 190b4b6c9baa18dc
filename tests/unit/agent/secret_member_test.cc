// splitSecretMember: the plaintext of wrapkey / encrypt taken out of the JSON text before Poco's
// parser sees it.
#include "agent/secret_member.h"

#include <catch2/catch.hpp>

#include "common/json/json.h"
#include "tests/unit/agent/agent_test_util.h"

namespace skr::agent {
namespace {

using testing::take;

SecretMemberSplit split(std::string_view body) {
  return take(splitSecretMember(SecretBytes::copyOf(asBytes(body)), "value"));
}

std::string valueOf(const SecretMemberSplit& s) {
  REQUIRE(s.value.has_value());
  return toString(s.value->view(grantSecretAccess()));
}

TEST_CASE("the top-level value string is taken out and the rest is left for the parser") {
  SecretMemberSplit s = split(R"({"alg":"A256KW", "value" : "c2VjcmV0", "aad":"YQ"})");
  CHECK(valueOf(s) == "c2VjcmV0");
  CHECK(s.redacted == R"({"alg":"A256KW", "value" : "", "aad":"YQ"})");
  json::ObjectPtr rest = take(json::parseObject(s.redacted));
  CHECK(rest->getValue<std::string>("alg") == "A256KW");
  CHECK(rest->getValue<std::string>("value").empty());
}

TEST_CASE("nested members, strings that look like members and escapes do not confuse the scan") {
  SecretMemberSplit s =
      split(R"({"x":{"value":"inner"},"y":["value","\"value\":"],"n\"ame":"v","value":"YW\/Jj"})");
  CHECK(valueOf(s) == "YW/Jj");
  CHECK(s.redacted ==
        R"({"x":{"value":"inner"},"y":["value","\"value\":"],"n\"ame":"v","value":""})");
}

TEST_CASE("no top-level string value: nothing is taken, the body is unchanged") {
  for (std::string_view body :
       {R"({"alg":"A256KW"})", R"({"value":5})", R"({"value":null})", R"(["value","x"])",
        R"(not json)", "", R"({"value":"unterminated)", R"({"val\u0075e":"c2VjcmV0"})"}) {
    SecretMemberSplit s = split(body);
    CHECK_FALSE(s.value.has_value());
    CHECK(s.redacted == body);
  }
}

TEST_CASE(
    "a duplicate value, a control character or an unneeded escape is refused without "
    "quoting the body") {
  for (std::string_view body : {R"({"value":"c2Vj","value":"cmV0"})", "{\"value\":\"c2\x01Vj\"}",
                                R"({"value":"c2V\njcmV0"})", R"({"value":"\u0063"})"}) {
    StatusOr<SecretMemberSplit> s = splitSecretMember(SecretBytes::copyOf(asBytes(body)), "value");
    REQUIRE_FALSE(s.ok());
    CHECK(s.status().code() == StatusCode::InvalidArgument);
    CHECK(s.status().message().find("c2") == std::string::npos);
  }
}

}  // namespace
}  // namespace skr::agent
