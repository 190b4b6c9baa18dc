#include "common/encoding/json_writer.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>

#include "common/core/secret_bytes.h"
#include "common/encoding/json_string.h"
#include "common/json/json.h"

namespace skr::json {
namespace {

TEST_CASE("json::Writer places commas and colons for nested objects and arrays") {
  Writer w;
  w.beginObject()
      .member("a", "x")
      .key("list")
      .beginArray()
      .number(int64_t{1})
      .beginObject()
      .member("b", true)
      .endObject()
      .beginArray()
      .endArray()
      .string("s")
      .null()
      .endArray()
      .key("empty")
      .beginObject()
      .endObject()
      .member("n", int64_t{-7})
      .member("u", uint64_t{18446744073709551615ULL})
      .endObject();
  CHECK(w.text() == R"({"a":"x","list":[1,{"b":true},[],"s",null],"empty":{},"n":-7,)"
                    R"("u":18446744073709551615})");
  // What it writes is JSON that the bounded parser accepts, members in written order.
  CHECK(parse(w.text()).ok());
}

TEST_CASE("json::Writer escapes keys and strings as appendQuoted does") {
  const std::string tricky = std::string("q\"b\\s\n\x01") + "\xc3\xa9" + "\xff";
  std::string expected = "{";
  appendQuoted(expected, tricky);
  expected += ":";
  appendQuoted(expected, tricky);
  expected += "}";
  CHECK(Writer().beginObject().member(tricky, tricky).endObject().take() == expected);
  CHECK(parse(expected).ok());
}

TEST_CASE("json::Writer's printable forms escape characters that reorder a log line") {
  const std::string rlo =
      "a\xe2\x80\xae"
      "b";  // U+202E RIGHT-TO-LEFT OVERRIDE
  Writer w;
  w.beginObject().printableKey(rlo).printableString(rlo).endObject();
  CHECK(w.text() == R"({"a\u202eb":"a\u202eb"})");
  // The plain form keeps well-formed UTF-8 unchanged.
  CHECK(Writer().string(rlo).take() == "\"" + rlo + "\"");
}

TEST_CASE(
    "json::Writer writes doubles in their shortest round-trip form and null for non-finite "
    "ones") {
  Writer w;
  w.beginArray()
      .number(0.1)
      .number(std::numeric_limits<double>::quiet_NaN())
      .number(std::numeric_limits<double>::infinity())
      .number(2.0)
      .number(-1.5e300)
      .number(0.1 + 0.2)
      .endArray();
  CHECK(w.text() == "[0.1,null,null,2,-1.5e+300,0.30000000000000004]");
  // Every form reads back as the same double.
  for (double value : {0.1, 1.0 / 3, 123456.789, 5e-324, 1.7976931348623157e308}) {
    const std::string text = Writer().number(value).take();
    CHECK(std::strtod(text.c_str(), nullptr) == value);
  }
}

TEST_CASE("json::Writer raw inserts a serialized value as one element") {
  CHECK(Writer().beginArray().raw(R"({"k":1})").raw("2").endArray().take() == R"([{"k":1},2])");
}

TEST_CASE("json::Writer member overloads pick the JSON type of the C++ value") {
  // A string literal must not decay to bool.
  CHECK(Writer().beginObject().member("s", "text").endObject().take() == R"({"s":"text"})");
  CHECK(Writer().beginObject().member("b", false).endObject().take() == R"({"b":false})");
  CHECK(Writer().beginObject().member("i", 42).endObject().take() == R"({"i":42})");
  CHECK(Writer().beginObject().member("u32", uint32_t{4000000000U}).endObject().take() ==
        R"({"u32":4000000000})");
}

TEST_CASE("appendQuoted into secret storage writes the same bytes as into a string") {
  for (const std::string& value : {std::string("plain"), std::string("q\"b\\s\n\t\x01\x1f"),
                                   std::string("\xc3\xa9\xff"), std::string("")}) {
    std::string text;
    appendQuoted(text, value);
    SecretBytes secret;
    appendQuoted(secret, value);
    CHECK(toString(secret.view(grantSecretAccess())) == text);
  }
}

}  // namespace
}  // namespace skr::json
