// Fuzz target for common/json: bounded parsing, typed getters and the canonical serializer.
// Properties:
//  - parse never throws and fails only with InvalidArgument or ResourceExhausted;
//  - parse (with its shortcut for flat objects of plain strings) gives the same error or the same
//    canonical text as internal::parseGeneral (every document through Poco);
//  - parseObject succeeds exactly when parse does and the top level is an object;
//  - whatever parses serializes canonically, and the canonical text re-parses and re-serializes to
//    identical bytes (canonical form is a fixed point);
//  - the typed getters never fail with anything but NotFound / InvalidArgument.
// A violated property traps, so libFuzzer (and the corpus replay) reports it as a crash.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <typeinfo>
#include <vector>

#include "common/json/json.h"

namespace {

using skr::StatusCode;

void require(bool condition) {
  if (!condition) __builtin_trap();
}

bool parseError(const skr::Status& status) {
  return status.code() == StatusCode::InvalidArgument ||
         status.code() == StatusCode::ResourceExhausted;
}

bool getterError(const skr::Status& status) {
  return status.ok() || status.code() == StatusCode::InvalidArgument ||
         status.code() == StatusCode::NotFound;
}

void exerciseGetters(const skr::json::ObjectPtr& object) {
  using namespace skr::json;
  std::vector<std::string> names = object->getNames();
  names.push_back("absent");
  for (const auto& name : names) {
    require(getterError(getString(object, name).status()));
    require(getterError(getInt(object, name).status()));
    require(getterError(getBool(object, name).status()));
    require(getterError(getObject(object, name).status()));
    require(getterError(getArray(object, name).status()));
    require(getterError(getStringArray(object, name).status()));
    require(getterError(getOptionalString(object, name).status()));
    require(getterError(getOptionalInt(object, name).status()));
    require(getterError(getOptionalBool(object, name).status()));
    require(getterError(getOptionalObject(object, name).status()));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace skr::json;
  const std::string_view text(reinterpret_cast<const char*>(data), size);  // NOLINT
  ParseLimits limits;
  limits.max_bytes = 64 * 1024;
  limits.max_depth = 16;
  limits.max_string_bytes = 1024;

  const auto value = parse(text, limits);
  const auto object = parseObject(text, limits);
  // parse's shortcut for flat objects of plain strings agrees with the general path.
  const auto general = internal::parseGeneral(text, limits);
  require(general.ok() == value.ok());
  if (!general.ok()) require(general.status() == value.status());
  if (general.ok()) {
    const auto a = serializeCanonical(*value);
    const auto b = serializeCanonical(*general);
    require(a.ok() == b.ok());
    if (a.ok()) require(*a == *b);
  }
  if (!value.ok()) {
    require(parseError(value.status()));
    require(!object.ok() && object.status() == value.status());
    return 0;
  }
  require(object.ok() == (value->type() == typeid(ObjectPtr)));
  if (object.ok()) exerciseGetters(*object);

  const auto first = serializeCanonical(*value);
  require(first.ok());
  // Canonical text can be longer than the input ("1E2" is "100"); depth and strings are unchanged.
  ParseLimits again_limits = limits;
  again_limits.max_bytes = std::max(limits.max_bytes, first->size());
  const auto reparsed = parse(*first, again_limits);
  require(reparsed.ok());
  const auto second = serializeCanonical(*reparsed);
  require(second.ok());
  require(*second == *first);
  return 0;
}
