#include "common/azure/policy_value.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <charconv>
#include <cmath>
#include <typeinfo>
#include <utility>

namespace skr::azure::policy {

using Poco::Dynamic::Var;
using Poco::JSON::Array;
using Poco::JSON::Object;

namespace {

Number integerNumber(bool negative, uint64_t magnitude) {
  Number n;
  n.integral = true;
  n.negative = negative && magnitude != 0;
  n.magnitude = magnitude;
  n.approx = static_cast<double>(magnitude);
  if (n.negative) n.approx = -n.approx;
  return n;
}

// Shortest round-trip decimal form of a finite double ("1", "1.5", "1e+300"); -0 is "0".
std::string doubleText(double value) {
  if (value == 0) return "0";
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, result.ptr);
}

Scalar stringScalar(std::string s) {
  Scalar scalar;
  scalar.type = Scalar::Type::String;
  scalar.number = parseNumericString(s);
  scalar.text = std::move(s);
  return scalar;
}

}  // namespace

int compareNumbers(const Number& a, const Number& b) {
  if (a.integral && b.integral) {
    if (a.negative != b.negative) return a.negative ? -1 : 1;
    if (a.magnitude == b.magnitude) return 0;
    const bool a_smaller_magnitude = a.magnitude < b.magnitude;
    return (a_smaller_magnitude != a.negative) ? -1 : 1;
  }
  if (a.approx < b.approx) return -1;
  return a.approx > b.approx ? 1 : 0;
}

std::optional<Number> parseNumericString(std::string_view s) {
  std::size_t i = 0;
  const bool negative = !s.empty() && s[0] == '-';
  if (negative) ++i;
  const auto digits = [&]() {
    const std::size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    return i > start;
  };
  if (!digits()) return std::nullopt;
  const std::size_t integer_end = i;
  bool integral = true;
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (!digits()) return std::nullopt;
    integral = false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (!digits()) return std::nullopt;
    integral = false;
  }
  if (i != s.size()) return std::nullopt;
  if (integral) {
    uint64_t magnitude = 0;
    const char* first = s.data() + (negative ? 1 : 0);
    const auto result = std::from_chars(first, s.data() + integer_end, magnitude);
    if (result.ec == std::errc() && result.ptr == s.data() + integer_end) {
      return integerNumber(negative, magnitude);
    }
  }
  double value = 0;
  const auto result = std::from_chars(s.data(), s.data() + s.size(), value);
  if (result.ec != std::errc() || result.ptr != s.data() + s.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  Number n;
  n.approx = value;
  return n;
}

Classified classify(const Var& v) {
  Classified c;
  if (v.isEmpty()) {
    c.kind = Classified::Kind::Null;
    return c;
  }
  if (holds<std::string>(v)) {
    c.kind = Classified::Kind::Scalar;
    c.scalar = stringScalar(json::asString(v, "value").value());
    return c;
  }
  if (holds<bool>(v)) {
    c.kind = Classified::Kind::Scalar;
    c.scalar.type = Scalar::Type::Bool;
    c.scalar.text = json::asBool(v, "value").value() ? "true" : "false";
    return c;
  }
  if (holds<json::ObjectPtr>(v) || holds<Object>(v)) {
    StatusOr<json::ObjectPtr> object = json::asObject(v, "value");
    if (object.ok()) {
      c.kind = Classified::Kind::Object;
      c.object = std::move(object).value();
    } else {
      c.kind = Classified::Kind::Null;  // a null object pointer, built in code
    }
    return c;
  }
  if (holds<json::ArrayPtr>(v) || holds<Array>(v)) {
    c.kind = Classified::Kind::Array;
    return c;
  }
  int64_t signed_value = 0;
  uint64_t unsigned_value = 0;
  if (json::asSigned(v, signed_value)) {
    c.kind = Classified::Kind::Scalar;
    c.scalar.type = Scalar::Type::Number;
    c.scalar.text = std::to_string(signed_value);
    // |INT64_MIN| computed without overflow.
    const uint64_t magnitude = signed_value < 0 ? uint64_t{0} - static_cast<uint64_t>(signed_value)
                                                : static_cast<uint64_t>(signed_value);
    c.scalar.number = integerNumber(signed_value < 0, magnitude);
    return c;
  }
  if (json::asUnsigned(v, unsigned_value)) {
    c.kind = Classified::Kind::Scalar;
    c.scalar.type = Scalar::Type::Number;
    c.scalar.text = std::to_string(unsigned_value);
    c.scalar.number = integerNumber(false, unsigned_value);
    return c;
  }
  if (holds<double>(v) || holds<float>(v)) {
    const double d = json::asNumber(v, "value").value();
    if (!std::isfinite(d)) return c;  // kOther
    c.kind = Classified::Kind::Scalar;
    c.scalar.type = Scalar::Type::Number;
    c.scalar.text = doubleText(d);
    Number n;
    n.approx = d;
    c.scalar.number = n;
    return c;
  }
  return c;
}

std::string_view describe(const Classified& c) {
  switch (c.kind) {
    case Classified::Kind::Null: return "null";
    case Classified::Kind::Object: return "an object";
    case Classified::Kind::Array: return "an array";
    case Classified::Kind::Other: return "a value of an unsupported type";
    case Classified::Kind::Scalar: break;
  }
  switch (c.scalar.type) {
    case Scalar::Type::String: return "a string";
    case Scalar::Type::Bool: return "a boolean";
    case Scalar::Type::Number: return "a number";
  }
  return "a value";
}

}  // namespace skr::azure::policy
