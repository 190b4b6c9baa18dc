// Bounded JSON parsing over Poco::JSON and a canonical serializer.
//
// Parsing runs in two passes. A linear pre-scan enforces the size and depth limits, validates the
// raw bytes of strings (UTF-8, no raw control characters) and the range of integer literals (Poco
// 1.11 silently wraps some overflowing ones) before Poco sees the text, so a megabyte of "[[[["
// cannot exhaust the stack in Poco's recursive parser. Poco then tokenizes, and our own Handler
// builds the tree: it accepts scalars at the top level (Poco's ParseHandler does not), rejects
// duplicate member names (RFC 8259 §4 leaves them undefined; a JWK or a claim set with two "kty"
// members is an attack, not data), re-validates decoded strings (escapes such as \ud800 could
// otherwise produce invalid UTF-8) and applies max_string_bytes to the decoded strings.
// Limits give ResourceExhausted; malformed input gives InvalidArgument.
#include "common/json/json.h"

#include <Poco/Dynamic/Struct.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Handler.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <exception>
#include <limits>
#include <optional>
#include <typeinfo>
#include <utility>

#include "common/encoding/json_string.h"

namespace skr::json {
namespace {

using Poco::Dynamic::Var;
using Poco::JSON::Array;
using Poco::JSON::Object;

// Serializing deeper than this is treated as a cycle (an object that contains itself).
constexpr int kMaxSerializeDepth = 512;

// Length of the well-formed UTF-8 sequence starting at `s[i]` (Unicode 15 table 3-7: no overlong
// forms, no surrogates, nothing above U+10FFFF), or 0 when it is ill-formed or truncated.
std::size_t utf8SequenceLength(std::string_view s, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<uint8_t>(s[k]); };
  const uint8_t b0 = byte(i);
  if (b0 < 0x80) return 1;
  std::size_t length = 0;
  uint8_t lo = 0x80;
  uint8_t hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    length = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    length = 3;
    if (b0 == 0xE0) lo = 0xA0;  // overlong
    if (b0 == 0xED) hi = 0x9F;  // surrogates U+D800..U+DFFF
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    length = 4;
    if (b0 == 0xF0) lo = 0x90;  // overlong
    if (b0 == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return 0;  // continuation byte, C0/C1 (overlong) or F5..FF
  }
  if (s.size() - i < length) return 0;
  const uint8_t b1 = byte(i + 1);
  if (b1 < lo || b1 > hi) return 0;
  for (std::size_t k = 2; k < length; ++k) {
    const uint8_t b = byte(i + k);
    if (b < 0x80 || b > 0xBF) return 0;
  }
  return length;
}

// Offset of the first ill-formed UTF-8 byte of `s`, or npos.
std::size_t findInvalidUtf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t length = utf8SequenceLength(s, i);
    if (length == 0) return i;
    i += length;
  }
  return std::string_view::npos;
}

// Poco's messages may quote input ("unexpected byte 'x'", "Not a valid unsigned integer: 123"),
// and a document may carry secrets: keep only the text before the first quote or colon.
std::string sanitizedPocoMessage(const std::string& message) {
  std::string out = message.substr(0, message.find_first_of("':"));
  while (!out.empty() && (out.back() == ' ' || out.back() == '.')) out.pop_back();
  return out.empty() ? std::string("syntax error") : out;
}

// False for an exponent-free number token outside [INT64_MIN, UINT64_MAX]: Poco 1.11's
// NumberParser wraps some of those around (18446744073709551616 parses as 0). Other malformed
// tokens are left to Poco's grammar check.
bool integerInRange(std::string_view number) {
  if (number.find_first_of(".eE") != std::string_view::npos) return true;
  const char* first = number.data();
  const char* last = number.data() + number.size();
  std::from_chars_result result;
  if (number.front() == '-') {
    int64_t value = 0;
    result = std::from_chars(first, last, value);
  } else {
    uint64_t value = 0;
    result = std::from_chars(first, last, value);
  }
  return result.ec != std::errc::result_out_of_range;
}

// The limits and raw-byte checks that must hold before Poco sees the text, in one linear pass:
// size, depth outside strings, UTF-8 and control characters inside strings, integer range.
Status preScan(std::string_view text, const ParseLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return resourceExhaustedError("JSON: document of " + std::to_string(text.size()) +
                                  " bytes exceeds the limit of " +
                                  std::to_string(limits.max_bytes) + " bytes");
  }
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return invalidArgumentError("JSON: empty document");
  }
  int depth = 0;
  bool in_string = false;
  std::size_t values = 0;
  auto countValue = [&](std::size_t offset) -> Status {
    if (++values > limits.max_values) {
      return resourceExhaustedError("JSON: more than " + std::to_string(limits.max_values) +
                                    " values (at offset " + std::to_string(offset) + ")");
    }
    return okStatus();
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<uint8_t>(text[i]);
    if (in_string) {
      if (c == '"') {
        in_string = false;
      } else if (c == '\\') {
        // Skip the escaped character when it is ASCII; anything else Poco rejects.
        if (i + 1 < text.size() && static_cast<uint8_t>(text[i + 1]) < 0x80) ++i;
      } else if (c < 0x20) {
        return invalidArgumentError("JSON: unescaped control character in a string at offset " +
                                    std::to_string(i));
      } else if (c >= 0x80) {
        const std::size_t length = utf8SequenceLength(text, i);
        if (length == 0) {
          return invalidArgumentError("JSON: invalid UTF-8 in a string at offset " +
                                      std::to_string(i));
        }
        i += length - 1;
      }
      continue;
    }
    if (c == '"' || c == '[' || c == '{' || c == '-' || (c >= '0' && c <= '9') || c == 't' ||
        c == 'f' || c == 'n') {
      SKR_RETURN_IF_ERROR(countValue(i));
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      const std::size_t end = text.find_first_not_of("0123456789+-.eE", i);
      const std::string_view number = text.substr(i, end - i);
      if (!integerInRange(number)) {
        return invalidArgumentError("JSON: integer at offset " + std::to_string(i) +
                                    " does not fit 64 bits");
      }
      i += number.size() - 1;
    } else if (c == '[' || c == '{') {
      if (++depth > limits.max_depth) {
        return resourceExhaustedError("JSON: nesting at offset " + std::to_string(i) +
                                      " exceeds the depth limit of " +
                                      std::to_string(limits.max_depth));
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return okStatus();
}

// Builds the value tree from Poco's tokenizer events. The first violation is recorded and parsing
// is aborted by throwing Rejected, which parse() catches.
class TreeBuilder final : public Poco::JSON::Handler {
 public:
  struct Rejected {};

  explicit TreeBuilder(const ParseLimits& limits) : limits_(limits) {}

  const Status& status() const { return status_; }
  Var result() const { return result_; }

  void reset() override {
    stack_.clear();
    result_ = Var();
    has_result_ = false;
    status_ = okStatus();
  }
  void startObject() override {
    ObjectPtr object = new Object();
    add(object);
    stack_.push_back(Frame{object, ArrayPtr(), {}});
  }
  void endObject() override { pop(); }
  void startArray() override {
    ArrayPtr array = new Array();
    add(array);
    stack_.push_back(Frame{ObjectPtr(), array, {}});
  }
  void endArray() override { pop(); }
  void key(const std::string& k) override {
    checkString(k, "member name");
    if (stack_.empty() || top().object.isNull()) {
      reject(internalError("JSON: member name outside an object"));
    }
    Frame& frame = stack_.back();
    if (frame.object->has(k)) {
      // The name itself may be attacker-chosen; report its size, not its content.
      reject(invalidArgumentError("JSON: duplicate member name (" + std::to_string(k.size()) +
                                  " bytes) in an object at depth " +
                                  std::to_string(stack_.size())));
    }
    frame.key = k;
  }
  void null() override { add(Var()); }
  void value(int v) override { add(Var(static_cast<Poco::Int64>(v))); }
  void value(unsigned v) override { add(Var(static_cast<Poco::UInt64>(v))); }
  void value(Poco::Int64 v) override { add(Var(v)); }
  void value(Poco::UInt64 v) override { add(Var(v)); }
  void value(const std::string& s) override {
    checkString(s, "string");
    add(Var(s));
  }
  void value(double d) override {
    if (!std::isfinite(d)) reject(invalidArgumentError("JSON: number out of range"));
    add(Var(d));
  }
  void value(bool b) override { add(Var(b)); }
  Var asVar() const override { return result_; }

 private:
  struct Frame {
    ObjectPtr object;  // exactly one of object / array is set
    ArrayPtr array;
    std::string key;  // the member name the next value is stored under
  };

  Frame& top() { return stack_.back(); }
  void pop() {
    if (stack_.empty()) reject(internalError("JSON: unbalanced end of container"));
    stack_.pop_back();
  }

  [[noreturn]] void reject(Status status) {
    status_ = std::move(status);
    throw Rejected{};
  }

  void checkString(const std::string& s, std::string_view what) {
    if (s.size() > limits_.max_string_bytes) {
      reject(resourceExhaustedError("JSON: " + std::string(what) + " of " +
                                    std::to_string(s.size()) + " bytes exceeds the limit of " +
                                    std::to_string(limits_.max_string_bytes) + " bytes"));
    }
    if (findInvalidUtf8(s) != std::string_view::npos) {
      reject(invalidArgumentError("JSON: " + std::string(what) +
                                  " decodes to invalid UTF-8 (an unpaired surrogate escape?)"));
    }
  }

  void add(const Var& v) {
    if (stack_.empty()) {
      if (has_result_) reject(invalidArgumentError("JSON: more than one top-level value"));
      result_ = v;
      has_result_ = true;
      return;
    }
    Frame& frame = stack_.back();
    if (frame.object) {
      frame.object->set(frame.key, v);
    } else {
      frame.array->add(v);
    }
  }

  ParseLimits limits_;
  std::vector<Frame> stack_;
  Var result_;
  bool has_result_ = false;
  Status status_;
};

// "a string", "a number", ... for type-mismatch messages.
std::string_view describe(const Var& v) {
  if (v.isEmpty()) return "null";
  const std::type_info& type = v.type();
  if (type == typeid(std::string)) return "a string";
  if (type == typeid(bool)) return "a boolean";
  if (type == typeid(ObjectPtr) || type == typeid(Object) || type == typeid(Poco::DynamicStruct) ||
      type == typeid(Poco::OrderedDynamicStruct)) {
    return "an object";
  }
  if (type == typeid(ArrayPtr) || type == typeid(Array) || type == typeid(std::vector<Var>)) {
    return "an array";
  }
  if (v.isNumeric()) return "a number";
  return "a non-JSON value";
}

std::string memberPrefix(std::string_view key) {
  return "member '" + std::string(key) + "'";
}

// `label` names the value in messages: "member 'kty'", "element 2 of 'keys'".
Status typeMismatch(std::string_view label, std::string_view expected, const Var& actual) {
  return invalidArgumentError(std::string(label) + ": expected " + std::string(expected) +
                              ", got " + std::string(describe(actual)));
}

// The member `key` of `object`, or nullopt when it is absent.
StatusOr<std::optional<Var>> findMember(const ObjectPtr& object, std::string_view key) {
  if (object.isNull()) return invalidArgumentError(memberPrefix(key) + ": no object to read");
  const std::string name(key);
  if (!object->has(name)) return std::optional<Var>();
  return std::optional<Var>(object->get(name));
}

StatusOr<Var> requireMember(const ObjectPtr& object, std::string_view key) {
  SKR_ASSIGN_OR_RETURN(std::optional<Var> member, findMember(object, key));
  if (!member) return notFoundError(memberPrefix(key) + " is missing");
  return std::move(*member);
}

StatusOr<std::string> stringOf(const Var& v, std::string_view label) {
  if (v.type() != typeid(std::string)) return typeMismatch(label, "a string", v);
  return v.extract<std::string>();
}

template <typename T>
bool holds(const Var& v) {
  return v.type() == typeid(T);
}

// Widen a Var holding the integer type T (false when it holds another type).
template <typename T>
bool extractSigned(const Var& v, int64_t& out) {
  if (!holds<T>(v)) return false;
  out = static_cast<int64_t>(v.extract<T>());
  return true;
}
template <typename T>
bool extractUnsigned(const Var& v, uint64_t& out) {
  if (!holds<T>(v)) return false;
  out = static_cast<uint64_t>(v.extract<T>());
  return true;
}

StatusOr<int64_t> intOf(const Var& v, std::string_view label) {
  int64_t signed_value = 0;
  if (asSigned(v, signed_value)) return signed_value;
  uint64_t unsigned_value = 0;
  if (asUnsigned(v, unsigned_value)) {
    if (unsigned_value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return invalidArgumentError(std::string(label) +
                                  ": number does not fit a 64-bit signed integer");
    }
    return static_cast<int64_t>(unsigned_value);
  }
  if (holds<double>(v) || holds<float>(v)) {
    const double d =
        holds<double>(v) ? v.extract<double>() : static_cast<double>(v.extract<float>());
    if (!std::isfinite(d) || std::trunc(d) != d) {
      return invalidArgumentError(std::string(label) + ": expected an integer, got a fraction");
    }
    // Integer literals within 64 bits arrive as Int64/UInt64; a double here came from an exponent
    // or fraction form ("1e3", "5.0") or from an integer literal beyond 64 bits that the parser
    // rounded. Only |d| < 2^53 is certain to be the value that was written (2^53 + 1 rounds to
    // 2^53).
    if (std::fabs(d) >= 9007199254740992.0) {
      return invalidArgumentError(std::string(label) +
                                  ": number is not an exactly representable 64-bit integer");
    }
    return static_cast<int64_t>(d);
  }
  return typeMismatch(label, "an integer", v);
}

StatusOr<double> numberOf(const Var& v, std::string_view label) {
  int64_t signed_value = 0;
  if (asSigned(v, signed_value)) return static_cast<double>(signed_value);
  uint64_t unsigned_value = 0;
  if (asUnsigned(v, unsigned_value)) return static_cast<double>(unsigned_value);
  if (holds<double>(v)) return v.extract<double>();
  if (holds<float>(v)) return static_cast<double>(v.extract<float>());
  return typeMismatch(label, "a number", v);
}

StatusOr<ObjectPtr> objectOf(const Var& v, std::string_view label) {
  if (holds<ObjectPtr>(v)) {
    ObjectPtr object = v.extract<ObjectPtr>();
    if (!object.isNull()) return object;
  } else if (holds<Object>(v)) {
    return ObjectPtr(new Object(v.extract<Object>()));
  }
  return typeMismatch(label, "an object", v);
}

StatusOr<ArrayPtr> arrayOf(const Var& v, std::string_view label) {
  if (holds<ArrayPtr>(v)) {
    ArrayPtr array = v.extract<ArrayPtr>();
    if (!array.isNull()) return array;
  } else if (holds<Array>(v)) {
    return ArrayPtr(new Array(v.extract<Array>()));
  }
  return typeMismatch(label, "an array", v);
}

// Runs `body` (a getter) and converts anything Poco or the standard library throws.
template <typename Body>
auto guarded(std::string_view label, Body&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const Poco::Exception& e) {
    return internalError(std::string(label) + ": " + sanitizedPocoMessage(e.message()));
  } catch (const std::exception& e) {
    return internalError(std::string(label) + ": " + e.what());
  } catch (...) {
    return internalError(std::string(label) + ": unexpected exception");
  }
}

template <typename T, typename Convert>
StatusOr<T> getRequired(const ObjectPtr& object, std::string_view key, Convert convert) {
  return guarded(memberPrefix(key), [&]() -> StatusOr<T> {
    SKR_ASSIGN_OR_RETURN(Var member, requireMember(object, key));
    return convert(member, memberPrefix(key));
  });
}

template <typename T, typename Convert>
StatusOr<std::optional<T>> getOptional(const ObjectPtr& object, std::string_view key,
                                       Convert convert) {
  return guarded(memberPrefix(key), [&]() -> StatusOr<std::optional<T>> {
    SKR_ASSIGN_OR_RETURN(std::optional<Var> member, findMember(object, key));
    if (!member || member->isEmpty()) return std::optional<T>();
    SKR_ASSIGN_OR_RETURN(T value, convert(*member, memberPrefix(key)));
    return std::optional<T>(std::move(value));
  });
}

StatusOr<bool> boolOf(const Var& v, std::string_view label) {
  if (!holds<bool>(v)) return typeMismatch(label, "a boolean", v);
  return v.extract<bool>();
}

// ---- canonical serializer ----

class CanonicalWriter {
 public:
  std::string take() { return std::move(out_); }

  Status write(const Var& v, int depth) {
    if (depth > kMaxSerializeDepth) {
      return invalidArgumentError("JSON serialize: nesting deeper than " +
                                  std::to_string(kMaxSerializeDepth) + " (a cycle?)");
    }
    if (v.isEmpty()) {
      out_ += "null";
      return okStatus();
    }
    if (holds<std::string>(v)) return writeString(v.extract<std::string>());
    if (holds<bool>(v)) {
      out_ += v.extract<bool>() ? "true" : "false";
      return okStatus();
    }
    if (holds<ObjectPtr>(v)) {
      const ObjectPtr& object = v.extract<ObjectPtr>();
      if (object.isNull()) return invalidArgumentError("JSON serialize: null object pointer");
      return writeMembers(*object, depth);
    }
    if (holds<Object>(v)) return writeMembers(v.extract<Object>(), depth);
    if (holds<Poco::DynamicStruct>(v)) return writeMembers(v.extract<Poco::DynamicStruct>(), depth);
    if (holds<Poco::OrderedDynamicStruct>(v)) {
      return writeMembers(v.extract<Poco::OrderedDynamicStruct>(), depth);
    }
    if (holds<ArrayPtr>(v)) {
      const ArrayPtr& array = v.extract<ArrayPtr>();
      if (array.isNull()) return invalidArgumentError("JSON serialize: null array pointer");
      return writeElements(*array, depth);
    }
    if (holds<Array>(v)) return writeElements(v.extract<Array>(), depth);
    if (holds<std::vector<Var>>(v)) return writeElements(v.extract<std::vector<Var>>(), depth);
    int64_t signed_value = 0;
    if (asSigned(v, signed_value)) return writeInteger(signed_value);
    uint64_t unsigned_value = 0;
    if (asUnsigned(v, unsigned_value)) return writeInteger(unsigned_value);
    if (holds<double>(v)) return writeDouble(v.extract<double>());
    if (holds<float>(v)) return writeFloat(v.extract<float>());
    return invalidArgumentError(std::string("JSON serialize: a value of type ") + v.type().name() +
                                " is not JSON");
  }

 private:
  Status writeString(const std::string& s) {
    const std::size_t bad = findInvalidUtf8(s);
    if (bad != std::string_view::npos) {
      return invalidArgumentError("JSON serialize: string has invalid UTF-8 at offset " +
                                  std::to_string(bad));
    }
    appendQuoted(out_, s);
    return okStatus();
  }

  // Members in byte order of their UTF-8 names (std::string compares as unsigned char).
  template <typename Members>
  Status writeMembers(const Members& members, int depth) {
    std::vector<std::pair<const std::string*, const Var*>> sorted;
    for (const auto& member : members) sorted.emplace_back(&member.first, &member.second);
    std::sort(sorted.begin(), sorted.end(),
              [](const auto& a, const auto& b) { return *a.first < *b.first; });
    out_.push_back('{');
    bool first = true;
    for (const auto& [name, value] : sorted) {
      if (!first) out_.push_back(',');
      first = false;
      SKR_RETURN_IF_ERROR(writeString(*name));
      out_.push_back(':');
      SKR_RETURN_IF_ERROR(write(*value, depth + 1));
    }
    out_.push_back('}');
    return okStatus();
  }

  template <typename Elements>
  Status writeElements(const Elements& elements, int depth) {
    out_.push_back('[');
    bool first = true;
    for (const auto& element : elements) {
      if (!first) out_.push_back(',');
      first = false;
      SKR_RETURN_IF_ERROR(write(element, depth + 1));
    }
    out_.push_back(']');
    return okStatus();
  }

  template <typename Int>
  Status writeInteger(Int value) {
    char buffer[24];
    const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
    out_.append(buffer, result.ptr);
    return okStatus();
  }

  // Shortest round-trip form. -0 is written as 0 (as RFC 8785 does). An integral value written
  // without exponent must stay within [INT64_MIN, UINT64_MAX], or a reader (ours included) that
  // parses exponent-free numbers as integers would overflow: outside that range the exponent form
  // is used.
  template <typename Float>
  Status writeFloating(Float value) {
    if (!std::isfinite(value)) {
      return invalidArgumentError("JSON serialize: NaN and infinity are not JSON numbers");
    }
    if (value == 0) {
      out_.push_back('0');
      return okStatus();
    }
    char buffer[64];
    auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
    const std::string_view shortest(buffer, static_cast<std::size_t>(result.ptr - buffer));
    const double wide = static_cast<double>(value);
    if (shortest.find_first_of(".e") == std::string_view::npos &&
        (wide < -9223372036854775808.0 || wide >= 18446744073709551616.0)) {
      result = std::to_chars(buffer, buffer + sizeof(buffer), value, std::chars_format::scientific);
    }
    if (result.ec != std::errc()) return internalError("JSON serialize: number formatting failed");
    out_.append(buffer, result.ptr);
    return okStatus();
  }
  Status writeDouble(double value) { return writeFloating(value); }
  Status writeFloat(float value) { return writeFloating(value); }

  std::string out_;
};

StatusOr<std::string> serializeGuarded(const Var& value) {
  try {
    CanonicalWriter writer;
    SKR_RETURN_IF_ERROR(writer.write(value, 0));
    return writer.take();
  } catch (const Poco::Exception& e) {
    return internalError("JSON serialize: " + sanitizedPocoMessage(e.message()));
  } catch (const std::exception& e) {
    return internalError(std::string("JSON serialize: ") + e.what());
  } catch (...) {
    return internalError("JSON serialize: unexpected exception");
  }
}

}  // namespace

bool asSigned(const Var& v, int64_t& out) {
  return extractSigned<signed char>(v, out) || extractSigned<short>(v, out) ||
         extractSigned<int>(v, out) || extractSigned<long>(v, out) ||
         extractSigned<long long>(v, out);
}
bool asUnsigned(const Var& v, uint64_t& out) {
  return extractUnsigned<unsigned char>(v, out) || extractUnsigned<unsigned short>(v, out) ||
         extractUnsigned<unsigned int>(v, out) || extractUnsigned<unsigned long>(v, out) ||
         extractUnsigned<unsigned long long>(v, out);
}

namespace {

bool jsonWhitespace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// A flat object whose members are all strings without escapes, such as every request body of
// the agent's symmetric key operations ({"alg":"A256KW","value":"..."}), built without Poco's
// tokenizer (which was three quarters of parsing such a body). nullopt for anything else -
// nesting, numbers, literals, an escape, a duplicate name, a string over max_string_bytes,
// malformed text - which then takes the general path, with its errors. Runs after preScan, so
// the size, the value count and the bytes inside strings (UTF-8, no control characters) are
// already checked; the result is the tree the general path builds for the same text.
std::optional<Var> parseFlatStringObject(std::string_view text, const ParseLimits& limits) {
  std::size_t i = 0;
  const auto skipWhitespace = [&] {
    while (i < text.size() && jsonWhitespace(text[i])) ++i;
  };
  // A string without escapes at text[i] (its opening quote); its content, i past the closing one.
  const auto plainString = [&]() -> std::optional<std::string_view> {
    if (i >= text.size() || text[i] != '"') return std::nullopt;
    const std::size_t start = ++i;
    while (i < text.size() && text[i] != '"') {
      if (text[i] == '\\') return std::nullopt;
      ++i;
    }
    if (i >= text.size()) return std::nullopt;
    const std::string_view content = text.substr(start, i - start);
    ++i;
    if (content.size() > limits.max_string_bytes) return std::nullopt;
    return content;
  };
  if (limits.max_depth < 1) return std::nullopt;
  skipWhitespace();
  if (i >= text.size() || text[i] != '{') return std::nullopt;
  ++i;
  ObjectPtr object = new Object();
  skipWhitespace();
  if (i < text.size() && text[i] == '}') {
    ++i;
  } else {
    while (true) {
      skipWhitespace();
      const std::optional<std::string_view> name = plainString();
      if (!name) return std::nullopt;
      skipWhitespace();
      if (i >= text.size() || text[i] != ':') return std::nullopt;
      ++i;
      skipWhitespace();
      const std::optional<std::string_view> value = plainString();
      if (!value) return std::nullopt;
      std::string key(*name);
      if (object->has(key)) return std::nullopt;
      object->set(key, Var(std::string(*value)));
      skipWhitespace();
      if (i >= text.size()) return std::nullopt;
      if (text[i] == '}') {
        ++i;
        break;
      }
      if (text[i] != ',') return std::nullopt;
      ++i;
    }
  }
  skipWhitespace();
  if (i != text.size()) return std::nullopt;
  return Var(object);
}

// The general path: Poco's tokenizer and the TreeBuilder, after preScan.
StatusOr<Var> parseTokens(std::string_view text, const ParseLimits& limits) {
  try {
    Poco::SharedPtr<TreeBuilder> builder = new TreeBuilder(limits);
    try {
      Poco::JSON::Parser parser(builder);
      // Poco's own limit, identical to the pre-scan's; a second line of defence.
      parser.setDepth(static_cast<std::size_t>(std::max(limits.max_depth, 1)));
      parser.parse(std::string(text));
    } catch (const TreeBuilder::Rejected&) {
      return builder->status();
    }
    return builder->result();
  } catch (const Poco::Exception& e) {
    return invalidArgumentError("JSON: " + sanitizedPocoMessage(e.message()));
  } catch (const std::bad_alloc&) {
    return resourceExhaustedError("JSON: out of memory");
  } catch (const std::exception& e) {
    return internalError(std::string("JSON: ") + e.what());
  } catch (...) {
    return internalError("JSON: unexpected exception");
  }
}

}  // namespace

StatusOr<Var> parse(std::string_view text, const ParseLimits& limits) {
  SKR_RETURN_IF_ERROR(preScan(text, limits));
  try {
    if (std::optional<Var> flat = parseFlatStringObject(text, limits)) return std::move(*flat);
  } catch (const std::bad_alloc&) {
    return resourceExhaustedError("JSON: out of memory");
  }
  return parseTokens(text, limits);
}

namespace internal {

StatusOr<Var> parseGeneral(std::string_view text, const ParseLimits& limits) {
  SKR_RETURN_IF_ERROR(preScan(text, limits));
  return parseTokens(text, limits);
}

}  // namespace internal

StatusOr<ObjectPtr> parseObject(std::string_view text, const ParseLimits& limits) {
  SKR_ASSIGN_OR_RETURN(Var value, parse(text, limits));
  if (!holds<ObjectPtr>(value)) {
    return invalidArgumentError(std::string("JSON: expected an object at the top level, got ") +
                                std::string(describe(value)));
  }
  return value.extract<ObjectPtr>();
}

StatusOr<std::string> getString(const ObjectPtr& object, std::string_view key) {
  return getRequired<std::string>(object, key, stringOf);
}

StatusOr<int64_t> getInt(const ObjectPtr& object, std::string_view key) {
  return getRequired<int64_t>(object, key, intOf);
}

StatusOr<bool> getBool(const ObjectPtr& object, std::string_view key) {
  return getRequired<bool>(object, key, boolOf);
}

StatusOr<ObjectPtr> getObject(const ObjectPtr& object, std::string_view key) {
  return getRequired<ObjectPtr>(object, key, objectOf);
}

StatusOr<ArrayPtr> getArray(const ObjectPtr& object, std::string_view key) {
  return getRequired<ArrayPtr>(object, key, arrayOf);
}

StatusOr<std::vector<std::string>> getStringArray(const ObjectPtr& object, std::string_view key) {
  return getRequired<std::vector<std::string>>(
      object, key, [](const Var& v, std::string_view label) -> StatusOr<std::vector<std::string>> {
        SKR_ASSIGN_OR_RETURN(ArrayPtr array, arrayOf(v, label));
        std::vector<std::string> out;
        out.reserve(array->size());
        for (std::size_t i = 0; i < array->size(); ++i) {
          const Var element = array->get(static_cast<unsigned>(i));
          if (!holds<std::string>(element)) {
            return invalidArgumentError(std::string(label) + ": element " + std::to_string(i) +
                                        ": expected a string, got " +
                                        std::string(describe(element)));
          }
          out.push_back(element.extract<std::string>());
        }
        return out;
      });
}

StatusOr<std::optional<std::string>> getOptionalString(const ObjectPtr& object,
                                                       std::string_view key) {
  return getOptional<std::string>(object, key, stringOf);
}

StatusOr<std::optional<int64_t>> getOptionalInt(const ObjectPtr& object, std::string_view key) {
  return getOptional<int64_t>(object, key, intOf);
}

StatusOr<std::optional<bool>> getOptionalBool(const ObjectPtr& object, std::string_view key) {
  return getOptional<bool>(object, key, boolOf);
}

StatusOr<std::optional<ObjectPtr>> getOptionalObject(const ObjectPtr& object,
                                                     std::string_view key) {
  return getOptional<ObjectPtr>(object, key, objectOf);
}

StatusOr<std::string> serializeCanonical(const Var& value) {
  return serializeGuarded(value);
}

StatusOr<std::string> serializeCanonical(const ObjectPtr& object) {
  if (object.isNull()) return invalidArgumentError("JSON serialize: null object pointer");
  return serializeGuarded(Var(object));
}

StatusOr<std::string> asString(const Var& value, std::string_view label) {
  return guarded(label, [&] { return stringOf(value, label); });
}
StatusOr<int64_t> asInt(const Var& value, std::string_view label) {
  return guarded(label, [&] { return intOf(value, label); });
}
StatusOr<double> asNumber(const Var& value, std::string_view label) {
  return guarded(label, [&] { return numberOf(value, label); });
}
StatusOr<bool> asBool(const Var& value, std::string_view label) {
  return guarded(label, [&] { return boolOf(value, label); });
}
StatusOr<ObjectPtr> asObject(const Var& value, std::string_view label) {
  return guarded(label, [&] { return objectOf(value, label); });
}
StatusOr<ArrayPtr> asArray(const Var& value, std::string_view label) {
  return guarded(label, [&] { return arrayOf(value, label); });
}

StatusOr<Var> getElement(const ArrayPtr& array, std::size_t index, std::string_view label) {
  const std::string where = std::string(label) + " element " + std::to_string(index);
  return guarded(where, [&]() -> StatusOr<Var> {
    if (array.isNull()) return invalidArgumentError(where + ": no array to read");
    if (index >= array->size()) {
      return notFoundError(where + " is missing (" + std::to_string(array->size()) + " elements)");
    }
    return array->get(static_cast<unsigned>(index));
  });
}

StatusOr<std::string> getString(const ArrayPtr& array, std::size_t index, std::string_view label) {
  SKR_ASSIGN_OR_RETURN(Var element, getElement(array, index, label));
  return asString(element, std::string(label) + " element " + std::to_string(index));
}

StatusOr<ObjectPtr> getObject(const ArrayPtr& array, std::size_t index, std::string_view label) {
  SKR_ASSIGN_OR_RETURN(Var element, getElement(array, index, label));
  return asObject(element, std::string(label) + " element " + std::to_string(index));
}

}  // namespace skr::json
