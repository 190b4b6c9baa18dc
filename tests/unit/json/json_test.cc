#include "common/json/json.h"

#include <Poco/Dynamic/Struct.h>
#include <openssl/evp.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "common/encoding/base64.h"
#include "common/encoding/json_string.h"

namespace skr::json {
namespace {

using Poco::Dynamic::Var;

ObjectPtr parseOk(std::string_view text, const ParseLimits& limits = {}) {
  auto result = parseObject(text, limits);
  INFO(result.status().toString());
  REQUIRE(result.ok());
  return std::move(result).value();
}

std::string canonical(std::string_view text) {
  auto value = parse(text);
  INFO(value.status().toString());
  REQUIRE(value.ok());
  auto out = serializeCanonical(*value);
  INFO(out.status().toString());
  REQUIRE(out.ok());
  return std::move(out).value();
}

std::string canonicalOf(const Var& value) {
  auto out = serializeCanonical(value);
  INFO(out.status().toString());
  REQUIRE(out.ok());
  return std::move(out).value();
}

Status parseError(std::string_view text, const ParseLimits& limits = {}) {
  auto result = parse(text, limits);
  REQUIRE_FALSE(result.ok());
  return result.status();
}

std::string nested(int depth, std::string_view open, std::string_view inner,
                   std::string_view close) {
  std::string out;
  for (int i = 0; i < depth; ++i) out += open;
  out += inner;
  for (int i = 0; i < depth; ++i) out += close;
  return out;
}

const char* const kTypedDocument = R"({
  "s": "text", "i": 42, "neg": -7, "t": true, "f": false, "o": {"x": 1}, "a": [1, "two"],
  "sa": ["a", "b", ""], "empty": [], "n": null, "frac": 1.5, "whole": 2.0, "exp": 1e3,
  "max": 9223372036854775807, "min": -9223372036854775808, "umax": 18446744073709551615,
  "over": 9223372036854775808, "huge": 1e19,
  "big_exp": 9007199254740993e0
})";

// ---- typed getters ----

TEST_CASE("typed getters return the members of their type") {
  const ObjectPtr doc = parseOk(kTypedDocument);
  CHECK(getString(doc, "s").value() == "text");
  CHECK(getInt(doc, "i").value() == 42);
  CHECK(getInt(doc, "neg").value() == -7);
  CHECK(getBool(doc, "t").value() == true);
  CHECK(getBool(doc, "f").value() == false);
  CHECK(getInt(getObject(doc, "o").value(), "x").value() == 1);
  CHECK(getArray(doc, "a").value()->size() == 2);
  CHECK(getStringArray(doc, "sa").value() == std::vector<std::string>{"a", "b", ""});
  CHECK(getStringArray(doc, "empty").value().empty());
}

TEST_CASE("getInt accepts integral numbers that fit int64, including 2.0 and 1e3") {
  const ObjectPtr doc = parseOk(kTypedDocument);
  CHECK(getInt(doc, "max").value() == std::numeric_limits<int64_t>::max());
  CHECK(getInt(doc, "min").value() == std::numeric_limits<int64_t>::min());
  CHECK(getInt(doc, "whole").value() == 2);
  CHECK(getInt(doc, "exp").value() == 1000);
}

TEST_CASE("getInt rejects fractions and numbers outside int64 with InvalidArgument") {
  const ObjectPtr doc = parseOk(kTypedDocument);
  const auto frac = getInt(doc, "frac");
  CHECK(frac.status().code() == StatusCode::InvalidArgument);
  CHECK(frac.status().message() == "member 'frac': expected an integer, got a fraction");
  for (const char* key : {"umax", "over"}) {
    CAPTURE(key);
    const auto result = getInt(doc, key);
    CHECK(result.status().code() == StatusCode::InvalidArgument);
    CHECK(result.status().message() ==
          "member '" + std::string(key) + "': number does not fit a 64-bit signed integer");
  }
  // Integer literals beyond 64 bits are refused by the parser itself; exponent forms arrive as
  // doubles, and only those a double holds exactly (|x| < 2^53) are integers for getInt.
  for (const char* key : {"huge", "big_exp"}) {
    CAPTURE(key);
    const auto result = getInt(doc, key);
    CHECK(result.status().code() == StatusCode::InvalidArgument);
    CHECK(result.status().message() ==
          "member '" + std::string(key) +
              "': number is not an exactly representable 64-bit integer");
  }
}

TEST_CASE("typed getters name the member and both types on a mismatch") {
  const ObjectPtr doc = parseOk(kTypedDocument);
  struct Case {
    Status status;
    std::string message;
  };
  const std::vector<Case> cases = {
      {getString(doc, "i").status(), "member 'i': expected a string, got a number"},
      {getString(doc, "n").status(), "member 'n': expected a string, got null"},
      {getString(doc, "o").status(), "member 'o': expected a string, got an object"},
      {getInt(doc, "s").status(), "member 's': expected an integer, got a string"},
      {getInt(doc, "t").status(), "member 't': expected an integer, got a boolean"},
      {getBool(doc, "s").status(), "member 's': expected a boolean, got a string"},
      {getBool(doc, "i").status(), "member 'i': expected a boolean, got a number"},
      {getObject(doc, "a").status(), "member 'a': expected an object, got an array"},
      {getObject(doc, "n").status(), "member 'n': expected an object, got null"},
      {getArray(doc, "o").status(), "member 'o': expected an array, got an object"},
      {getArray(doc, "s").status(), "member 's': expected an array, got a string"},
      {getStringArray(doc, "s").status(), "member 's': expected an array, got a string"},
      {getStringArray(doc, "a").status(), "member 'a': element 0: expected a string, got a number"},
  };
  for (const auto& c : cases) {
    CHECK(c.status.code() == StatusCode::InvalidArgument);
    CHECK(c.status.message() == c.message);
  }
}

TEST_CASE("typed getters report a missing member as NotFound") {
  const ObjectPtr doc = parseOk(R"({"kid":"k1"})");
  const std::vector<Status> statuses = {
      getString(doc, "kty").status(), getInt(doc, "kty").status(),
      getBool(doc, "kty").status(),   getObject(doc, "kty").status(),
      getArray(doc, "kty").status(),  getStringArray(doc, "kty").status(),
  };
  for (const auto& status : statuses) {
    CHECK(status.code() == StatusCode::NotFound);
    CHECK(status.message() == "member 'kty' is missing");
  }
}

TEST_CASE("getters on a null object pointer fail with InvalidArgument") {
  const ObjectPtr none;
  CHECK(getString(none, "kty").status().code() == StatusCode::InvalidArgument);
  CHECK(getOptionalInt(none, "exp").status().code() == StatusCode::InvalidArgument);
  CHECK(getString(none, "kty").status().message() == "member 'kty': no object to read");
}

TEST_CASE("optional getters give nullopt for absent and null members") {
  const ObjectPtr doc = parseOk(kTypedDocument);
  CHECK(getOptionalString(doc, "absent").value() == std::nullopt);
  CHECK(getOptionalString(doc, "n").value() == std::nullopt);
  CHECK(getOptionalInt(doc, "absent").value() == std::nullopt);
  CHECK(getOptionalInt(doc, "n").value() == std::nullopt);
  CHECK(getOptionalBool(doc, "absent").value() == std::nullopt);
  CHECK(getOptionalBool(doc, "n").value() == std::nullopt);
  CHECK(getOptionalObject(doc, "absent").value() == std::nullopt);
  CHECK(getOptionalObject(doc, "n").value() == std::nullopt);
}

TEST_CASE("optional getters return present members") {
  const ObjectPtr doc = parseOk(kTypedDocument);
  CHECK(getOptionalString(doc, "s").value() == std::optional<std::string>("text"));
  CHECK(getOptionalInt(doc, "i").value() == std::optional<int64_t>(42));
  CHECK(getOptionalBool(doc, "f").value() == std::optional<bool>(false));
  const auto object = getOptionalObject(doc, "o").value();
  REQUIRE(object.has_value());
  CHECK(getInt(*object, "x").value() == 1);
}

TEST_CASE("optional getters still reject a member of the wrong type") {
  const ObjectPtr doc = parseOk(kTypedDocument);
  CHECK(getOptionalString(doc, "i").status().message() ==
        "member 'i': expected a string, got a number");
  CHECK(getOptionalInt(doc, "frac").status().code() == StatusCode::InvalidArgument);
  CHECK(getOptionalBool(doc, "s").status().code() == StatusCode::InvalidArgument);
  CHECK(getOptionalObject(doc, "a").status().message() ==
        "member 'a': expected an object, got an array");
}

// ---- parsing: accepted forms ----

TEST_CASE("value converters name the value and both types, and never throw") {
  const ObjectPtr o = parseOk(R"({"s":"x","i":-7,"u":18446744073709551615,"d":2.5,"b":true,)"
                              R"("o":{"k":1},"a":[1],"n":null})");
  CHECK(asString(o->get("s"), "member 's'").value() == "x");
  CHECK(asInt(o->get("i"), "member 'i'").value() == -7);
  CHECK(asNumber(o->get("i"), "i").value() == -7.0);
  CHECK(asNumber(o->get("u"), "u").value() == 18446744073709551615.0);
  CHECK(asNumber(o->get("d"), "d").value() == 2.5);
  CHECK(asBool(o->get("b"), "b").value());
  CHECK(asObject(o->get("o"), "o").value()->has("k"));
  CHECK(asArray(o->get("a"), "a").value()->size() == 1);

  const auto s_as_int = asInt(o->get("s"), "member 's'");
  CHECK(s_as_int.status().code() == StatusCode::InvalidArgument);
  CHECK(s_as_int.status().message() == "member 's': expected an integer, got a string");
  CHECK(asNumber(o->get("b"), "flag").status().message() ==
        "flag: expected a number, got a boolean");
  CHECK(asObject(o->get("a"), "a").status().message() == "a: expected an object, got an array");
  CHECK(asArray(o->get("n"), "n").status().message() == "n: expected an array, got null");
  CHECK(asString(o->get("missing"), "m").status().message() == "m: expected a string, got null");
  CHECK(asObject(Var(ObjectPtr()), "p").status().code() == StatusCode::InvalidArgument);
}

TEST_CASE("array elements by index: NotFound past the end, InvalidArgument for another type") {
  const ObjectPtr o = parseOk(R"({"keys":[{"kty":"RSA"},"x5c",3]})");
  const ArrayPtr keys = getArray(o, "keys").value();
  CHECK(getObject(keys, 0, "member 'keys'").value()->has("kty"));
  CHECK(getString(keys, 1, "member 'keys'").value() == "x5c");
  CHECK(asInt(getElement(keys, 2, "member 'keys'").value(), "three").value() == 3);

  const auto past = getElement(keys, 3, "member 'keys'");
  CHECK(past.status().code() == StatusCode::NotFound);
  CHECK(past.status().message() == "member 'keys' element 3 is missing (3 elements)");
  CHECK(getObject(keys, 7, "member 'keys'").status().code() == StatusCode::NotFound);

  const auto not_object = getObject(keys, 1, "member 'keys'");
  CHECK(not_object.status().code() == StatusCode::InvalidArgument);
  CHECK(not_object.status().message() ==
        "member 'keys' element 1: expected an object, got a string");
  CHECK(getString(keys, 2, "member 'keys'").status().message() ==
        "member 'keys' element 2: expected a string, got a number");
  CHECK(getElement(ArrayPtr(), 0, "none").status().code() == StatusCode::InvalidArgument);
}

TEST_CASE("parse accepts scalars at the top level and surrounding whitespace") {
  CHECK(parse("true").value().extract<bool>() == true);
  CHECK(parse(" \t\r\nfalse\n ").value().extract<bool>() == false);
  CHECK(parse("null").value().isEmpty());
  CHECK(parse("\"x\"").value().extract<std::string>() == "x");
  CHECK(canonical(" 5 ") == "5");
  CHECK(canonical("-1.25") == "-1.25");
}

TEST_CASE("parseObject rejects a top-level value that is not an object") {
  const auto result = parseObject("[1]");
  CHECK(result.status().code() == StatusCode::InvalidArgument);
  CHECK(result.status().message() == "JSON: expected an object at the top level, got an array");
  CHECK(parseObject("\"s\"").status().message() ==
        "JSON: expected an object at the top level, got a string");
}

TEST_CASE("parse decodes escapes and passes UTF-8 through") {
  const ObjectPtr doc = parseOk(R"({"s":"a\"b\\c\/d\b\f\n\r\t\u0041\u00e9\u20ac\ud83d\ude00é"})");
  CHECK(getString(doc, "s").value() ==
        "a\"b\\c/d\b\f\n\r\tA\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xc3\xa9");
}

// ---- parsing: limits ----

TEST_CASE("parse accepts arrays nested exactly max_depth deep and rejects one more") {
  ParseLimits limits;
  limits.max_depth = 5;
  CHECK(canonical(nested(5, "[", "1", "]")) == "[[[[[1]]]]]");
  CHECK(parse(nested(5, "[", "", "]"), limits).ok());
  const Status status = parseError(nested(6, "[", "", "]"), limits);
  CHECK(status.code() == StatusCode::ResourceExhausted);
  CHECK(status.message() == "JSON: nesting at offset 5 exceeds the depth limit of 5");
}

TEST_CASE("parse accepts objects nested exactly max_depth deep and rejects one more") {
  ParseLimits limits;
  limits.max_depth = 4;
  const std::string ok = nested(4, R"({"a":)", "1", "}");
  CHECK(parse(ok, limits).ok());
  CHECK(canonical(ok) == ok);
  const Status status = parseError(nested(5, R"({"a":)", "1", "}"), limits);
  CHECK(status.code() == StatusCode::ResourceExhausted);
  CHECK(status.message() == "JSON: nesting at offset 20 exceeds the depth limit of 4");
  // Mixed nesting counts both kinds.
  CHECK(parse(R"({"a":[{"b":[1]}]})", limits).ok());
  CHECK(parseError(R"({"a":[{"b":[[1]]}]})", limits).code() == StatusCode::ResourceExhausted);
}

TEST_CASE("the default depth limit is 32") {
  CHECK(parse(nested(32, "[", "", "]")).ok());
  CHECK(parseError(nested(33, "[", "", "]")).code() == StatusCode::ResourceExhausted);
}

TEST_CASE("a megabyte of open brackets is rejected by depth without recursion") {
  const std::string brackets(1024 * 1024, '[');
  const Status status = parseError(brackets);
  CHECK(status.code() == StatusCode::ResourceExhausted);
  CHECK(status.message() == "JSON: nesting at offset 32 exceeds the depth limit of 32");
  const std::string braces = nested(100000, R"({"a":)", "1", "}");
  ParseLimits limits;
  limits.max_bytes = braces.size();
  CHECK(parseError(braces, limits).code() == StatusCode::ResourceExhausted);
}

TEST_CASE("brackets inside strings do not count toward the depth") {
  ParseLimits limits;
  limits.max_depth = 1;
  const auto value = parse(R"(["[[[[{{{{\"]]]"])", limits);
  REQUIRE(value.ok());
  CHECK(canonicalOf(*value) == R"(["[[[[{{{{\"]]]"])");
}

TEST_CASE("parse enforces max_bytes on the whole document with ResourceExhausted") {
  ParseLimits limits;
  limits.max_bytes = 10;
  CHECK(parse(R"({"a":"12"})", limits).ok());  // exactly 10 bytes
  const Status status = parseError(R"({"a":"123"})", limits);
  CHECK(status.code() == StatusCode::ResourceExhausted);
  CHECK(status.message() == "JSON: document of 11 bytes exceeds the limit of 10 bytes");
}

TEST_CASE("parse enforces max_string_bytes on decoded strings and member names") {
  ParseLimits limits;
  limits.max_string_bytes = 4;
  CHECK(parse(R"(["abcd"])", limits).ok());
  const Status value = parseError(R"(["abcde"])", limits);
  CHECK(value.code() == StatusCode::ResourceExhausted);
  CHECK(value.message() == "JSON: string of 5 bytes exceeds the limit of 4 bytes");
  const Status name = parseError(R"({"abcde":1})", limits);
  CHECK(name.code() == StatusCode::ResourceExhausted);
  CHECK(name.message() == "JSON: member name of 5 bytes exceeds the limit of 4 bytes");
  // The limit applies to the decoded bytes: six escapes decode to one byte each.
  CHECK(parse(R"(["\u0041\u0042\u0043\u0044"])", limits).ok());
  // "é" is two bytes of UTF-8.
  CHECK(parse("[\"\xc3\xa9\xc3\xa9\"]", limits).ok());
  CHECK(parseError("[\"\xc3\xa9\xc3\xa9x\"]", limits).code() == StatusCode::ResourceExhausted);
}

// ---- parsing: rejected input ----

TEST_CASE("parse rejects empty and whitespace-only input") {
  for (const char* text : {"", " ", "\n\t\r "}) {
    const Status status = parseError(text);
    CHECK(status.code() == StatusCode::InvalidArgument);
    CHECK(status.message() == "JSON: empty document");
  }
}

TEST_CASE("parse rejects invalid UTF-8 in strings and names the offset") {
  struct Case {
    std::string text;
    std::size_t offset;
  };
  const std::vector<Case> cases = {
      {"[\"\xc0\xaf\"]", 2},          // overlong '/'
      {"[\"\xe0\x80\xaf\"]", 2},      // overlong, 3 bytes
      {"[\"\xf0\x80\x80\xaf\"]", 2},  // overlong, 4 bytes
      {"[\"ab\xed\xa0\x80\"]", 4},    // UTF-8-encoded surrogate U+D800
      {"[\"\xed\xbf\xbf\"]", 2},      // surrogate U+DFFF
      {"[\"\xf4\x90\x80\x80\"]", 2},  // above U+10FFFF
      {"[\"\xff\"]", 2},              // never valid
      {"[\"\xfe\"]", 2},
      {"[\"\x80\"]", 2},      // lone continuation byte
      {"[\"\xe2\x82\"]", 2},  // truncated sequence
      {"{\"k\xc3\":1}", 3},   // in a member name
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    const Status status = parseError(c.text);
    CHECK(status.code() == StatusCode::InvalidArgument);
    CHECK(status.message() ==
          "JSON: invalid UTF-8 in a string at offset " + std::to_string(c.offset));
  }
}

TEST_CASE("parse rejects escapes that decode to unpaired surrogates") {
  for (const char* text :
       {R"(["\ud800"])", R"(["\udc00"])", R"(["\ud800\u0041"])", R"(["\ude00\ud83d"])"}) {
    CAPTURE(text);
    CHECK(parseError(text).code() == StatusCode::InvalidArgument);
  }
}

TEST_CASE("parse rejects unescaped control characters in strings") {
  const Status status = parseError("[\"a\x01\"]");
  CHECK(status.code() == StatusCode::InvalidArgument);
  CHECK(status.message() == "JSON: unescaped control character in a string at offset 3");
  CHECK(parseError("[\"a\nb\"]").code() == StatusCode::InvalidArgument);
  CHECK(parseError(std::string("[\"a\0b\"]", 7)).code() == StatusCode::InvalidArgument);
}

TEST_CASE("parse rejects trailing garbage after the value") {
  const std::vector<std::string> texts = {
      "{} x",        "{}{}",       "[1]]", "1 2",   "true false",
      "\"a\" \"b\"", "{\"a\":1}}", "[] ,", "null/", std::string("{}\0", 3)};
  for (const auto& text : texts) {
    CAPTURE(text);
    CHECK(parseError(text).code() == StatusCode::InvalidArgument);
  }
  CHECK(parse("{} \n\t").ok());
}

TEST_CASE("parse rejects syntax that is not RFC 8259 JSON") {
  for (const char* text : {"[1,]",       "{\"a\":1,}", "{'a':1}",   "{a:1}",     "[01]",
                           "[1.]",       "[.5]",       "[+1]",      "[-]",       "[NaN]",
                           "[Infinity]", "/*c*/[1]",   "[1]//c",    "[\"\\x\"]", "\xef\xbb\xbf{}",
                           "[",          "]",          "{\"a\" 1}", "{\"a\":}",  "tru",
                           "[1e]",       "{,}",        "[1 2]"}) {
    CAPTURE(text);
    CHECK(parseError(text).code() == StatusCode::InvalidArgument);
  }
}

TEST_CASE("parse rejects duplicate member names, also when written with escapes") {
  for (const char* text : {R"({"a":1,"a":2})", R"({"a":1,"b":{"x":1,"x":1}})",
                           R"({"a":1,"\u0061":2})", R"([{"k":[],"k":null}])"}) {
    CAPTURE(text);
    const Status status = parseError(text);
    CHECK(status.code() == StatusCode::InvalidArgument);
    CHECK(status.message().find("duplicate member name") != std::string::npos);
  }
  // The same name in different objects is fine.
  CHECK(parse(R"({"a":{"a":{"a":1}},"b":[{"a":1},{"a":2}]})").ok());
}

TEST_CASE("duplicate member errors name the size, not the member") {
  const Status status = parseError(R"({"secretname":1,"secretname":2})");
  CHECK(status.message() == "JSON: duplicate member name (10 bytes) in an object at depth 1");
}

TEST_CASE("parse rejects numbers outside the int64/uint64/double range") {
  for (const char* text :
       {"[18446744073709551616]", "[-9223372036854775809]", "[123456789012345678901234567890]",
        "[1e400]", "[-1e400]", "[1.7976931348623159e308]"}) {
    CAPTURE(text);
    CHECK(parseError(text).code() == StatusCode::InvalidArgument);
  }
  // Poco 1.11 alone would wrap these around to 0 and INT64_MIN.
  const Status wrapped = parseError("[1,18446744073709551616]");
  CHECK(wrapped.message() == "JSON: integer at offset 3 does not fit 64 bits");
  CHECK(parseError(R"({"a":-9223372036854775809})").message() ==
        "JSON: integer at offset 5 does not fit 64 bits");
  CHECK(canonical("[1e308]") == "[1e+308]");
  CHECK(canonical("[5e-324]") == "[5e-324]");
}

TEST_CASE("parse error messages do not echo the document") {
  for (const char* text : {R"({"d":"SECRETVALUE" x})", R"({"d":123456789012345678901234567890})",
                           R"({"d":"SECRETVALUE",})", R"({"d":SECRETVALUE})"}) {
    CAPTURE(text);
    const Status status = parseError(text);
    CHECK(status.code() == StatusCode::InvalidArgument);
    CHECK(status.message().rfind("JSON: ", 0) == 0);
    CHECK(status.message().find("SECRET") == std::string::npos);
    CHECK(status.message().find("1234") == std::string::npos);
  }
}

// ---- canonical serialization ----

TEST_CASE("serializeCanonical sorts members at every level and drops whitespace") {
  CHECK(
      canonical(
          R"( { "b" : 1, "a" : 2, "c" : { "z" : 1, "y" : [ 3, { "k" : true, "j" : null } ] } } )") ==
      R"({"a":2,"b":1,"c":{"y":[3,{"j":null,"k":true}],"z":1}})");
  CHECK(canonical("{}") == "{}");
  CHECK(canonical("[]") == "[]");
  CHECK(canonical("[[],{},[{}]]") == "[[],{},[{}]]");
}

TEST_CASE("serializeCanonical orders member names by their UTF-8 bytes") {
  // "" < "A" < "a" < "aa" < "b" < U+00E9 (c3 a9) < U+20AC (e2 82 ac) < U+FFFD (ef bf bd)
  // < U+1F600 (f0 9f 98 80). UTF-16 order would put U+1F600 (a surrogate pair) before U+FFFD.
  const std::string doc =
      "{\"\xf0\x9f\x98\x80\":8,\"\xef\xbf\xbd\":7,\"\xe2\x82\xac\":6,\"\xc3\xa9\":5,"
      "\"b\":4,\"aa\":3,\"a\":2,\"A\":1,\"\":0}";
  CHECK(canonical(doc) ==
        "{\"\":0,\"A\":1,\"a\":2,\"aa\":3,\"b\":4,\"\xc3\xa9\":5,\"\xe2\x82\xac\":6,"
        "\"\xef\xbf\xbd\":7,\"\xf0\x9f\x98\x80\":8}");
}

TEST_CASE("serializeCanonical escapes quotes, backslashes and control characters only") {
  CHECK(canonical(R"(["\"\\\/\b\f\n\r\t\u0000\u0001\u001f\u007f\u00e9 /"])") ==
        "[\"\\\"\\\\/\\b\\f\\n\\r\\t\\u0000\\u0001\\u001f\x7f\xc3\xa9 /\"]");
  // UTF-8 passes through unchanged, whether it arrived raw or escaped.
  CHECK(canonical("[\"\xe2\x82\xac\\u20ac\\ud83d\\ude00\"]") ==
        "[\"\xe2\x82\xac\xe2\x82\xac\xf0\x9f\x98\x80\"]");
  CHECK(canonical(R"({"a\nb":"x"})") == R"({"a\nb":"x"})");
}

TEST_CASE("serializeCanonical writes integers in decimal, including the 64-bit extremes") {
  CHECK(canonical("[0,-0,1,-1,2147483648,-2147483649]") == "[0,0,1,-1,2147483648,-2147483649]");
  CHECK(canonical("[-9223372036854775808,9223372036854775807,18446744073709551615]") ==
        "[-9223372036854775808,9223372036854775807,18446744073709551615]");
  Poco::JSON::Array::Ptr array = new Poco::JSON::Array();
  array->add(std::numeric_limits<int64_t>::min());
  array->add(std::numeric_limits<uint64_t>::max());
  array->add(static_cast<int8_t>(-128));
  array->add(static_cast<uint8_t>(255));
  array->add(static_cast<int16_t>(-32768));
  array->add(static_cast<uint16_t>(65535));
  array->add(std::numeric_limits<int32_t>::min());
  array->add(std::numeric_limits<uint32_t>::max());
  array->add(static_cast<long long>(-5));
  array->add(static_cast<unsigned long long>(5));
  CHECK(canonicalOf(array) ==
        "[-9223372036854775808,18446744073709551615,-128,255,-32768,65535,-2147483648,"
        "4294967295,-5,5]");
}

TEST_CASE("serializeCanonical writes doubles in shortest round-trip form") {
  CHECK(canonical("[1.5,0.1,-2.5e-7,1e300,2.0,1E2,-0.0,0.0,1e21,3.141592653589793]") ==
        "[1.5,0.1,-2.5e-07,1e+300,2,100,0,0,1e+21,3.141592653589793]");
  Poco::JSON::Array::Ptr array = new Poco::JSON::Array();
  array->add(0.1f);
  array->add(1.0 / 3.0);
  array->add(-0.0);
  array->add(std::numeric_limits<double>::max());
  array->add(std::numeric_limits<double>::denorm_min());
  CHECK(canonicalOf(array) == "[0.1,0.3333333333333333,0,1.7976931348623157e+308,5e-324]");
}

TEST_CASE("serializeCanonical writes integral doubles beyond uint64 with an exponent") {
  // Written without an exponent these would re-parse as (overflowing) integers.
  Poco::JSON::Array::Ptr array = new Poco::JSON::Array();
  array->add(123456789012345678901.0);
  array->add(18446744073709551616.0);  // 2^64
  array->add(-9223372036854777856.0);  // just below INT64_MIN
  const std::string out = canonicalOf(array);
  CHECK(out == "[1.2345678901234568e+20,1.8446744073709552e+19,-9.223372036854778e+18]");
  CHECK(canonical(out) == out);
}

TEST_CASE("serializeCanonical rejects NaN and infinities") {
  for (double d :
       {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
        -std::numeric_limits<double>::infinity()}) {
    ObjectPtr object = new Poco::JSON::Object();
    object->set("x", d);
    const auto result = serializeCanonical(object);
    CHECK(result.status().code() == StatusCode::InvalidArgument);
    CHECK(result.status().message() == "JSON serialize: NaN and infinity are not JSON numbers");
  }
  CHECK(serializeCanonical(Var(std::numeric_limits<float>::infinity())).status().code() ==
        StatusCode::InvalidArgument);
}

TEST_CASE("serializeCanonical handles Poco structs, vectors and objects held by value") {
  Poco::DynamicStruct inner;
  inner["z"] = 1;
  inner["y"] = "s";
  std::vector<Var> list = {Var(true), Var(), Var(std::string("v"))};
  Poco::JSON::Object by_value;
  by_value.set("q", 1);
  by_value.set("p", 2);
  ObjectPtr object = new Poco::JSON::Object();
  object->set("struct", inner);
  object->set("list", list);
  object->set("object", by_value);
  object->set("null", Var());
  CHECK(canonicalOf(object) ==
        R"({"list":[true,null,"v"],"null":null,"object":{"p":2,"q":1},"struct":{"y":"s","z":1}})");
}

TEST_CASE("serializeCanonical rejects values that are not JSON") {
  struct NotJson {
    int x = 0;
  };
  const auto result = serializeCanonical(Var(NotJson{}));
  CHECK(result.status().code() == StatusCode::InvalidArgument);
  CHECK(result.status().message().find("is not JSON") != std::string::npos);
  CHECK(serializeCanonical(ObjectPtr()).status().code() == StatusCode::InvalidArgument);
  CHECK(serializeCanonical(Var(std::string("\xff"))).status().message() ==
        "JSON serialize: string has invalid UTF-8 at offset 0");
}

TEST_CASE("serializeCanonical fails on an object that contains itself") {
  ObjectPtr object = new Poco::JSON::Object();
  object->set("self", object);
  const auto result = serializeCanonical(object);
  object->remove("self");  // break the reference cycle so the object is freed
  CHECK(result.status().code() == StatusCode::InvalidArgument);
  CHECK(result.status().message() == "JSON serialize: nesting deeper than 512 (a cycle?)");
}

TEST_CASE("canonical output re-parses to the same canonical output") {
  const std::string doc =
      R"({"z":[1,2.5,"x",{"b":null,"a":[true,false]}],"a":"\u00e9\"","m":-9223372036854775808})";
  const std::string once = canonical(doc);
  CHECK(once ==
        "{\"a\":\"\xc3\xa9\\\"\",\"m\":-9223372036854775808,"
        "\"z\":[1,2.5,\"x\",{\"a\":[true,false],\"b\":null}]}");
  CHECK(canonical(once) == once);
}

// RFC 7638 §3.1: the canonical form of the example RSA key's required members {"e","kty","n"},
// whose SHA-256 the RFC gives as NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs.
TEST_CASE("serializeCanonical produces the RFC 7638 section 3.1 thumbprint input") {
  const std::string n =
      "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_"
      "BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_"
      "FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI"
      "4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
  // The JWK as the RFC shows it (members in its order, plus the optional "alg" and "kid").
  const ObjectPtr jwk =
      parseOk(R"({"kty":"RSA","n":")" + n + R"(","e":"AQAB","alg":"RS256","kid":"2011-04-29"})");
  ObjectPtr required = new Poco::JSON::Object();
  for (const char* member : {"kty", "n", "e"}) {
    required->set(member, getString(jwk, member).value());
  }
  const std::string expected = R"({"e":"AQAB","kty":"RSA","n":")" + n + R"("})";
  const auto out = serializeCanonical(required);
  REQUIRE(out.ok());
  CHECK(*out == expected);

  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_size = 0;
  REQUIRE(EVP_Digest(out->data(), out->size(), digest, &digest_size, EVP_sha256(), nullptr) == 1);
  CHECK(encoding::base64UrlEncode(ByteView(digest, digest_size)) ==
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
}

TEST_CASE("parse counts values before building a tree and refuses more than max_values") {
  ParseLimits limits;
  limits.max_values = 10;
  // {"a":[1,2,3]} : object, name, array, three numbers = 6 values.
  CHECK(parse(R"({"a":[1,2,3]})", limits).ok());
  // 1 object + 1 name + 1 array + 8 empty objects = 11.
  const auto over = parse(R"({"a":[{},{},{},{},{},{},{},{}]})", limits);
  REQUIRE_FALSE(over.ok());
  CHECK(over.status().code() == StatusCode::ResourceExhausted);
  CHECK_THAT(over.status().message(), Catch::Contains("more than 10 values"));
  // Brackets and literals inside strings are not values.
  CHECK(parse(R"({"a":"[{},{},{},{},{},{},{},{},{},true,null]"})", limits).ok());
  CHECK(parse(R"([true,false,null,-1,2.5e3,"x"])", limits).ok());
}

TEST_CASE("appendQuoted escapes bytes that are not UTF-8, appendQuotedPrintable also bidi and C1") {
  std::string out;
  appendQuoted(out, std::string("a\xff"
                                "b\xc3\xa9"
                                "c\xe2\x80\xae"
                                "d\x7f",
                                11));
  CHECK(out ==
        "\"a\\u00ffb\xc3\xa9"
        "c\xe2\x80\xae"
        "d\x7f\"");
  CHECK(parse(out).ok());
  out.clear();
  appendQuotedPrintable(out, std::string("a\xff"
                                         "b\xc3\xa9"
                                         "c\xe2\x80\xae"
                                         "d\x7f"
                                         "e\xc2\x85",
                                         14));
  CHECK(out ==
        "\"a\\u00ffb\xc3\xa9"
        "c\\u202ed\\u007fe\\u0085\"");
  CHECK(parse(out).ok());
  // A truncated sequence, an overlong form and a surrogate are single bytes each.
  out.clear();
  appendQuoted(out, std::string("\xe2\x80"
                                "x\xc0\xaf\xed\xa0\x80",
                                8));
  CHECK(out == "\"\\u00e2\\u0080x\\u00c0\\u00af\\u00ed\\u00a0\\u0080\"");
}

TEST_CASE("isReadableUtf8 accepts well-formed text and refuses what a log line would escape") {
  CHECK(isReadableUtf8(""));
  CHECK(isReadableUtf8("plain-key"));
  CHECK(isReadableUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91"));  // é € U+1F511
  CHECK_FALSE(isReadableUtf8("a\xff"));                                // not UTF-8
  CHECK_FALSE(isReadableUtf8("\xe2\x80"));                             // truncated
  CHECK_FALSE(isReadableUtf8("\xc0\xaf"));                             // overlong '/'
  CHECK_FALSE(isReadableUtf8("\xed\xa0\x80"));                         // surrogate
  CHECK_FALSE(isReadableUtf8("\xf4\x90\x80\x80"));                     // above U+10FFFF
  CHECK_FALSE(isReadableUtf8("\xc2\x85"));                             // C1 NEL
  CHECK_FALSE(isReadableUtf8("x\xe2\x80\xaey"));  // U+202E right-to-left override
  CHECK_FALSE(isReadableUtf8("\xe2\x81\xa6"));    // U+2066 isolate
  CHECK_FALSE(isReadableUtf8("\xe2\x80\xa8"));    // U+2028 line separator
}

// parse() and the general path give the same answer for `text`: the same error, or trees with
// the same canonical text and the same member types.
void checkSameAsGeneral(const std::string& text, const ParseLimits& limits = {}) {
  INFO("document: " << text);
  const StatusOr<Var> fast = parse(text, limits);
  const StatusOr<Var> general = internal::parseGeneral(text, limits);
  REQUIRE(fast.ok() == general.ok());
  if (!fast.ok()) {
    CHECK(fast.status() == general.status());
    return;
  }
  const StatusOr<std::string> a = serializeCanonical(*fast);
  const StatusOr<std::string> b = serializeCanonical(*general);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(*a == *b);
  CHECK(fast->type() == general->type());
}

TEST_CASE(
    "parse takes flat objects of plain strings without Poco and agrees with the general "
    "path") {
  // The shapes of the agent's request bodies, and near misses that must take the general path.
  for (const char* text : {
           R"({"alg":"A256KW","value":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"})",
           R"( { "alg" : "A256GCM" , "value" : "x", "iv":"y","tag":"z" } )",
           "{\t\"a\"\r\n:\n\"b\"}",
           "{}",
           " {  } ",
           R"({"":""})",
           R"({"a":"cafÃ© ð","â®":""})",
           R"({"a":"b","a":"c"})",  // duplicate: an error either way
           R"({"a":"b\"c"})",       // an escape
           R"({"a":"\u00e9"})",     // an escape
           R"({"a":1})",            // a number
           R"({"a":"b","c":{"d":"e"}})",
           R"({"a":"b",})",   // trailing comma
           R"({"a":"b"} x)",  // trailing garbage
           R"({"a":"b"}{})",  // two values
           R"({"a" "b"})",    // no colon
           R"({"a":"b")",     // unterminated
           R"({"a":"b)",      // unterminated string
           R"({a:"b"})",      // unquoted name
           R"(["a","b"])",    // not an object
           R"("a")",
           "{\"a\":\"\x01\"}",  // control character
           "{\"a\":\"\xc3\"}",  // invalid UTF-8
       }) {
    checkSameAsGeneral(text);
  }
  ParseLimits tight;
  tight.max_string_bytes = 3;
  checkSameAsGeneral(R"({"abc":"abc"})", tight);
  checkSameAsGeneral(R"({"abcd":"a"})", tight);  // over the limit: the general path's error
  checkSameAsGeneral(R"({"a":"abcd"})", tight);
  tight.max_depth = 0;
  checkSameAsGeneral(R"({"a":"b"})", tight);
}

TEST_CASE("parse agrees with the general path on random flat documents") {
  std::mt19937 rng(7);
  const std::vector<std::string> pieces = {
      "{",    "}", "\"",   ":",      ",",        " ",           "\n",
      "\\",   "a", "alg",  "A256KW", "\xc3\xa9", "\xff",        "1",
      "[",    "]", "true", "\"k\"",  "\"v\"",    "\"k\":\"v\"", ",\"k2\":\"v2\"",
      "\x7f", "\t"};
  for (int round = 0; round < 3000; ++round) {
    // Mostly well-formed flat objects, with a piece inserted, dropped or replaced now and then.
    std::string text = "{";
    const int members = static_cast<int>(rng() % 4);
    for (int m = 0; m < members; ++m) {
      if (m > 0) text += ",";
      text += "\"" + pieces[rng() % pieces.size()] + "\":\"" + pieces[rng() % pieces.size()] + "\"";
    }
    text += "}";
    const int edits = static_cast<int>(rng() % 3);
    for (int e = 0; e < edits && !text.empty(); ++e) {
      const std::size_t at = rng() % text.size();
      switch (rng() % 3) {
        case 0: text.insert(at, pieces[rng() % pieces.size()]); break;
        case 1: text.erase(at, 1); break;
        default: text[at] = pieces[rng() % pieces.size()][0]; break;
      }
    }
    checkSameAsGeneral(text);
  }
}

}  // namespace
}  // namespace skr::json
