// JSON over Poco::JSON for untrusted input: bounded parsing, typed getters returning StatusOr, and
// a canonical compact serializer with sorted keys (RFC 7638 thumbprints and the byte-exact MAA
// runtime data, spec/azure-wire.md §1.2, depend on it).
// Poco throws; nothing thrown here escapes: every failure is a Status naming the field.
#pragma once

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/status.h"

namespace skr::json {

using ObjectPtr = Poco::JSON::Object::Ptr;
using ArrayPtr = Poco::JSON::Array::Ptr;

struct ParseLimits {
  std::size_t max_bytes = 1024 * 1024;  // whole document
  int max_depth = 32;                   // nesting of objects and arrays
  std::size_t max_string_bytes = 256 * 1024;
  // Values (objects, arrays, strings, numbers, literals; member names count too) in the whole
  // document, counted before any tree is built: a megabyte of "{}," is 350,000 values.
  std::size_t max_values = std::size_t{1} << 20;
};

// Parses any JSON value. Rejects: empty input, over-size, over-deep, trailing garbage, invalid
// UTF-8 in strings. Never throws.
StatusOr<Poco::Dynamic::Var> parse(std::string_view text, const ParseLimits& limits = {});
// Parses a document whose top level must be an object.
StatusOr<ObjectPtr> parseObject(std::string_view text, const ParseLimits& limits = {});

namespace internal {
// parse() without its shortcut for flat objects of escape-free strings: every document through
// Poco's tokenizer. For the tests and the fuzz target, which check that both agree.
StatusOr<Poco::Dynamic::Var> parseGeneral(std::string_view text, const ParseLimits& limits = {});
}  // namespace internal

// Typed getters. A missing member is NotFound; a member of another type is InvalidArgument; the
// message names the member: "member 'kty': expected a string, got a number".
StatusOr<std::string> getString(const ObjectPtr& object, std::string_view key);
StatusOr<int64_t> getInt(const ObjectPtr& object, std::string_view key);  // integral numbers only
StatusOr<bool> getBool(const ObjectPtr& object, std::string_view key);
StatusOr<ObjectPtr> getObject(const ObjectPtr& object, std::string_view key);
StatusOr<ArrayPtr> getArray(const ObjectPtr& object, std::string_view key);
// Array of strings (each element must be a string).
StatusOr<std::vector<std::string>> getStringArray(const ObjectPtr& object, std::string_view key);

// Optional variants: absent (or JSON null) gives std::nullopt; a wrong type is still an error.
StatusOr<std::optional<std::string>> getOptionalString(const ObjectPtr& object,
                                                       std::string_view key);
StatusOr<std::optional<int64_t>> getOptionalInt(const ObjectPtr& object, std::string_view key);
StatusOr<std::optional<bool>> getOptionalBool(const ObjectPtr& object, std::string_view key);
StatusOr<std::optional<ObjectPtr>> getOptionalObject(const ObjectPtr& object, std::string_view key);

// The same conversions for a value already in hand, for code that walks a document generically
// (release policies, templates) or reads array elements. `label` names the value in the message:
// asString(v, "element 2 of 'x5c'") fails with "element 2 of 'x5c': expected a string, got a
// number". asNumber accepts any JSON number (integers widened to double).
StatusOr<std::string> asString(const Poco::Dynamic::Var& value, std::string_view label);
StatusOr<int64_t> asInt(const Poco::Dynamic::Var& value, std::string_view label);
StatusOr<double> asNumber(const Poco::Dynamic::Var& value, std::string_view label);
StatusOr<bool> asBool(const Poco::Dynamic::Var& value, std::string_view label);
StatusOr<ObjectPtr> asObject(const Poco::Dynamic::Var& value, std::string_view label);
StatusOr<ArrayPtr> asArray(const Poco::Dynamic::Var& value, std::string_view label);

// Array elements by index: NotFound past the end, InvalidArgument for another type. `label` names
// the array ("member 'keys'"); messages say "member 'keys' element 3 ...".
StatusOr<Poco::Dynamic::Var> getElement(const ArrayPtr& array, std::size_t index,
                                        std::string_view label);
StatusOr<std::string> getString(const ArrayPtr& array, std::size_t index, std::string_view label);
StatusOr<ObjectPtr> getObject(const ArrayPtr& array, std::size_t index, std::string_view label);

// Poco's own readers (Object::getValue/getObject/getArray, Var::extract/convert) throw on a missing
// member or another type; code outside common/json uses the functions above instead
// (tests/layers/check_poco_json.py enforces it).

// The integer a parsed value holds, widened: Poco stores a JSON integer in the smallest C++ type
// that fits, signed when it fits int64. False when the value holds no integer of that signedness.
bool asSigned(const Poco::Dynamic::Var& value, int64_t& out);
bool asUnsigned(const Poco::Dynamic::Var& value, uint64_t& out);

// Canonical compact serialization: object members sorted by key (byte order of the UTF-8
// encoding), no whitespace, strings escaped as in json_string.h, integers in decimal, finite
// doubles in shortest round-trip form. Fails on NaN/Inf or a value that is not JSON.
StatusOr<std::string> serializeCanonical(const Poco::Dynamic::Var& value);
StatusOr<std::string> serializeCanonical(const ObjectPtr& object);

}  // namespace skr::json
