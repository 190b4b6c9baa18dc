// Fuzz target for splitSecretMember (agent/secret_member.h), which scans untrusted request bodies
// before any JSON parser. Properties:
//  - it never reads out of bounds or crashes;
//  - with no value taken, `redacted` is the body unchanged;
//  - with a value taken, `redacted` is the body minus exactly the value's escaped text, and when
//    the body is a JSON object with one top-level "value" string, the parser reads the same
//    string there and "" at the same place in `redacted`.
// A violated property traps, so libFuzzer (and the corpus replay) reports it as a crash.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "agent/secret_member.h"
#include "common/json/json.h"

namespace {

void require(bool condition) {
  if (!condition) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace skr;  // NOLINT(google-build-using-namespace)
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const SecretBytes secret = SecretBytes::copyOf(ByteView(data, size));
  StatusOr<agent::SecretMemberSplit> split = agent::splitSecretMember(secret, "value");
  if (!split.ok()) return 0;
  if (!split->value) {
    require(split->redacted == body);
    return 0;
  }
  const std::string value = toString(split->value->view(grantSecretAccess()));
  require(split->redacted.size() <= body.size());
  require(split->redacted.size() + value.size() <= body.size());
  // One top-level member named "value" (a crude count: no other occurrence of the name at all).
  const std::size_t first = body.find("\"value\"");
  const bool single = first != std::string_view::npos &&
                      body.find("\"value\"", first + 1) == std::string_view::npos;
  StatusOr<json::ObjectPtr> original = json::parseObject(body);
  if (single && original.ok()) {
    StatusOr<std::string> parsed = json::getString(*original, "value");
    require(parsed.ok() && *parsed == value);
    StatusOr<json::ObjectPtr> rest = json::parseObject(split->redacted);
    require(rest.ok());
    StatusOr<std::string> empty = json::getString(*rest, "value");
    require(empty.ok() && empty->empty());
  }
  return 0;
}
