// The values a release policy compares (spec/azure-wire.md §3.2), shared by its parser and its
// evaluator: JSON scalars with their canonical string form and, for numbers and numeric strings, a
// numeric value. Internal to common/azure/release_policy*.cc.
#pragma once

#include <Poco/Dynamic/Var.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <typeinfo>

#include "common/json/json.h"

namespace skr::azure::policy {

// A number from a JSON number or a numeric string. Integers within 64 bits compare exactly;
// anything else compares as a double.
struct Number {
  bool integral = false;
  bool negative = false;   // integral only; never set for zero
  uint64_t magnitude = 0;  // integral only
  double approx = 0;
};

// <0, 0 or >0 as `a` is less than, equal to or greater than `b`.
int compareNumbers(const Number& a, const Number& b);

// JSON number syntax ("-"? digits ("." digits)? ([eE] [+-]? digits)?), leading zeros allowed;
// no '+', whitespace, hex, "inf" or "nan". Out-of-range values (1e999) are not numbers.
std::optional<Number> parseNumericString(std::string_view s);

// A JSON scalar (string, boolean or number) with its canonical string form (the equals/notEquals
// comparand) and, when it is a number or a numeric string, its numeric value.
struct Scalar {
  enum class Type { String, Bool, Number };
  Type type = Type::String;
  std::string text;
  std::optional<Number> number;
};

// What a JSON value is, for claims and policy values alike.
struct Classified {
  enum class Kind { Scalar, Null, Object, Array, Other };
  Kind kind = Kind::Other;
  Scalar scalar;           // kScalar only
  json::ObjectPtr object;  // kObject only
};

// Whether `v` holds exactly a T (no conversion).
template <typename T>
bool holds(const Poco::Dynamic::Var& v) {
  return v.type() == typeid(T);
}

Classified classify(const Poco::Dynamic::Var& v);

// "null", "an object", "a string", ...: what `c` is, for messages.
std::string_view describe(const Classified& c);

}  // namespace skr::azure::policy
