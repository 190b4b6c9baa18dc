// Release policy parsing, evaluation and generation (spec/azure-wire.md §3).
//
// parse() turns the Poco tree into a small immutable tree of our own (validated once, so evaluate()
// never re-checks the grammar). evaluate() runs every condition without short-circuiting so it can
// tell which authority branch and which anyOf alternative came closest (most claim conditions
// satisfied) and name that one's first failing condition in the reason.
#include "common/azure/release_policy.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <exception>
#include <optional>
#include <typeinfo>
#include <utility>

#include "common/core/bytes.h"
#include "common/encoding/base64.h"
#include "common/encoding/json_string.h"

namespace skr::azure {

using Poco::Dynamic::Var;
using Poco::JSON::Array;
using Poco::JSON::Object;

namespace {

// Values longer than head + tail + 1 code points are shown as head…tail in reasons and errors:
// enough to tell two SHA-256 hex digests apart at a glance.
constexpr std::size_t kShownHead = 16;
constexpr std::size_t kShownTail = 8;
// Claim names, authorities and issuers are shown whole up to a larger bound.
constexpr std::size_t kShownNameHead = 48;
constexpr std::size_t kShownNameTail = 16;
// In a same-claim anyOf ("requires one of ..."), at most this many alternatives are listed.
constexpr std::size_t kShownAlternatives = 4;
// At most this many distinct authorities are listed when none matches the issuer.
constexpr std::size_t kShownAuthorities = 8;

enum class Operator {
  Equals,
  NotEquals,
  Less,
  LessOrEquals,
  Greater,
  GreaterOrEquals,
  Exists,
};

constexpr std::pair<std::string_view, Operator> kOperators[] = {
    {"equals", Operator::Equals},   {"notEquals", Operator::NotEquals},
    {"less", Operator::Less},       {"lessOrEquals", Operator::LessOrEquals},
    {"greater", Operator::Greater}, {"greaterOrEquals", Operator::GreaterOrEquals},
    {"exists", Operator::Exists},
};

std::optional<Operator> operatorNamed(std::string_view name) {
  for (const auto& [op_name, op] : kOperators) {
    if (op_name == name) return op;
  }
  return std::nullopt;
}

std::string_view operatorName(Operator op) {
  for (const auto& [op_name, candidate] : kOperators) {
    if (candidate == op) return op_name;
  }
  return "?";
}

// A number from a JSON number or a numeric string. Integers within 64 bits compare exactly;
// anything else compares as a double.
struct Number {
  bool integral = false;
  bool negative = false;   // integral only; never set for zero
  uint64_t magnitude = 0;  // integral only
  double approx = 0;
};

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

Number integerNumber(bool negative, uint64_t magnitude) {
  Number n;
  n.integral = true;
  n.negative = negative && magnitude != 0;
  n.magnitude = magnitude;
  n.approx = static_cast<double>(magnitude);
  if (n.negative) n.approx = -n.approx;
  return n;
}

// JSON number syntax ("-"? digits ("." digits)? ([eE] [+-]? digits)?), leading zeros allowed;
// no '+', whitespace, hex, "inf" or "nan". Out-of-range values (1e999) are not numbers.
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

// Shortest round-trip decimal form of a finite double ("1", "1.5", "1e+300"); -0 is "0".
std::string doubleText(double value) {
  if (value == 0) return "0";
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, result.ptr);
}

// A JSON scalar (string, boolean or number) with its canonical string form (the equals/notEquals
// comparand) and, when it is a number or a numeric string, its numeric value.
struct Scalar {
  enum class Type { String, Bool, Number };
  Type type = Type::String;
  std::string text;
  std::optional<Number> number;
};

Scalar stringScalar(std::string s) {
  Scalar scalar;
  scalar.type = Scalar::Type::String;
  scalar.number = parseNumericString(s);
  scalar.text = std::move(s);
  return scalar;
}

// What a JSON value is, for claims and policy values alike.
struct Classified {
  enum class Kind { Scalar, Null, Object, Array, Other };
  Kind kind = Kind::Other;
  Scalar scalar;           // kScalar only
  json::ObjectPtr object;  // kObject only
};

template <typename T>
bool holds(const Var& v) {
  return v.type() == typeid(T);
}

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

Classified classify(const Var& v) {
  Classified c;
  if (v.isEmpty()) {
    c.kind = Classified::Kind::Null;
    return c;
  }
  if (holds<std::string>(v)) {
    c.kind = Classified::Kind::Scalar;
    c.scalar = stringScalar(v.extract<std::string>());
    return c;
  }
  if (holds<bool>(v)) {
    c.kind = Classified::Kind::Scalar;
    c.scalar.type = Scalar::Type::Bool;
    c.scalar.text = v.extract<bool>() ? "true" : "false";
    return c;
  }
  if (holds<json::ObjectPtr>(v)) {
    json::ObjectPtr object = v.extract<json::ObjectPtr>();
    if (object.isNull()) {
      c.kind = Classified::Kind::Null;
    } else {
      c.kind = Classified::Kind::Object;
      c.object = std::move(object);
    }
    return c;
  }
  if (holds<Object>(v)) {
    c.kind = Classified::Kind::Object;
    c.object = new Object(v.extract<Object>());
    return c;
  }
  if (holds<json::ArrayPtr>(v) || holds<Array>(v)) {
    c.kind = Classified::Kind::Array;
    return c;
  }
  int64_t signed_value = 0;
  uint64_t unsigned_value = 0;
  if (extractSigned<signed char>(v, signed_value) || extractSigned<short>(v, signed_value) ||
      extractSigned<int>(v, signed_value) || extractSigned<long>(v, signed_value) ||
      extractSigned<long long>(v, signed_value)) {
    c.kind = Classified::Kind::Scalar;
    c.scalar.type = Scalar::Type::Number;
    c.scalar.text = std::to_string(signed_value);
    // |INT64_MIN| computed without overflow.
    const uint64_t magnitude = signed_value < 0 ? uint64_t{0} - static_cast<uint64_t>(signed_value)
                                                : static_cast<uint64_t>(signed_value);
    c.scalar.number = integerNumber(signed_value < 0, magnitude);
    return c;
  }
  if (extractUnsigned<unsigned char>(v, unsigned_value) ||
      extractUnsigned<unsigned short>(v, unsigned_value) ||
      extractUnsigned<unsigned int>(v, unsigned_value) ||
      extractUnsigned<unsigned long>(v, unsigned_value) ||
      extractUnsigned<unsigned long long>(v, unsigned_value)) {
    c.kind = Classified::Kind::Scalar;
    c.scalar.type = Scalar::Type::Number;
    c.scalar.text = std::to_string(unsigned_value);
    c.scalar.number = integerNumber(false, unsigned_value);
    return c;
  }
  if (holds<double>(v) || holds<float>(v)) {
    const double d =
        holds<double>(v) ? v.extract<double>() : static_cast<double>(v.extract<float>());
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

// ---- display of untrusted text in messages ----

bool isContinuationByte(char c) {
  return (static_cast<uint8_t>(c) & 0xC0) == 0x80;
}

// `s` cut to head…tail when longer than head + tail + 1 code points; cuts fall on code point
// boundaries.
std::string shortened(std::string_view s, std::size_t head, std::size_t tail) {
  std::size_t code_points = 0;
  for (char c : s) code_points += isContinuationByte(c) ? 0 : 1;
  if (code_points <= head + tail + 1) return std::string(s);
  std::size_t head_end = 0;
  for (std::size_t seen = 0; head_end < s.size(); ++head_end) {
    if (!isContinuationByte(s[head_end]) && seen++ == head) break;
  }
  std::size_t tail_start = s.size();
  for (std::size_t seen = 0; tail_start > 0;) {
    --tail_start;
    if (!isContinuationByte(s[tail_start]) && ++seen == tail) break;
  }
  return std::string(s.substr(0, head_end)) + "\u2026" + std::string(s.substr(tail_start));
}

// A string value as a JSON literal ("..."), shortened, control characters escaped.
std::string quoted(std::string_view s) {
  std::string out;
  json::appendQuoted(out, shortened(s, kShownHead, kShownTail));
  return out;
}

// A name (member, claim, authority, issuer) as a JSON literal, shortened only when very long.
std::string quotedName(std::string_view s) {
  std::string out;
  json::appendQuoted(out, shortened(s, kShownNameHead, kShownNameTail));
  return out;
}

// As quotedName() without the surrounding quotes: for claim names and authorities written inside
// single quotes or bare.
std::string escaped(std::string_view s) {
  std::string out = quotedName(s);
  return out.substr(1, out.size() - 2);
}

// A policy or claim scalar as shown in reasons: strings quoted, numbers and booleans bare.
std::string display(const Scalar& scalar) {
  return scalar.type == Scalar::Type::String ? quoted(scalar.text) : scalar.text;
}

Status policyError(std::string_view path, std::string_view problem) {
  std::string message = "release policy: ";
  if (!path.empty()) {
    message += path;
    message += ": ";
  }
  message += problem;
  return invalidArgumentError(std::move(message));
}

std::string operatorList() {
  std::string out;
  for (const auto& [name, op] : kOperators) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

bool isValidVersion(std::string_view version) {
  constexpr std::string_view kPrefix = "1.0.";
  if (version.substr(0, kPrefix.size()) != kPrefix || version.size() == kPrefix.size()) {
    return false;
  }
  return std::all_of(version.begin() + kPrefix.size(), version.end(),
                     [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

// ---- the validated tree ----

struct PolicyCondition {
  enum class Kind { AnyOf, AllOf, Claim };
  Kind kind = Kind::Claim;
  std::string path;  // JSON path of the condition object, e.g. "anyOf[0].allOf[2]"
  std::vector<PolicyCondition> children;  // kAnyOf / kAllOf
  // kClaim:
  std::string claim;
  std::vector<std::string> claim_segments;  // dot path into nested objects
  Operator op = Operator::Equals;
  Scalar value;
  bool expect_present = true;  // kExists
};

struct AuthorityStatement {
  std::string authority;
  std::string normalized_authority;
  PolicyCondition conditions;  // kAnyOf or kAllOf, path "anyOf[i]" / "allOf[i]"
};

struct ReleasePolicyTree {
  bool all_of = false;  // top-level allOf: every statement must hold
  std::vector<AuthorityStatement> statements;
};

namespace {

// ---- parsing ----

class PolicyParser {
 public:
  StatusOr<std::shared_ptr<ReleasePolicyTree>> parseRoot(const json::ObjectPtr& root) {
    auto tree = std::make_shared<ReleasePolicyTree>();
    bool has_any_of = false;
    bool has_all_of = false;
    Var list;
    for (const auto& [name, value] : *root) {
      if (name == "version") {
        const Classified version = classify(value);
        if (version.kind != Classified::Kind::Scalar ||
            version.scalar.type != Scalar::Type::String) {
          return policyError(
              "version", std::string("expected a string, got ") + std::string(describe(version)));
        }
        if (!isValidVersion(version.scalar.text)) {
          return policyError(
              "version", quoted(version.scalar.text) + " is not supported (expected \"1.0.0\")");
        }
      } else if (name == "anyOf" || name == "allOf") {
        (name == "anyOf" ? has_any_of : has_all_of) = true;
        list = value;
      } else {
        return policyError("", "unknown member " + quotedName(name) +
                                   " at the top level (expected 'version' and 'anyOf')");
      }
    }
    if (has_any_of && has_all_of) {
      return policyError("", "the top level has both 'allOf' and 'anyOf'");
    }
    if (!has_any_of && !has_all_of) {
      return policyError("", "the top level has no 'anyOf' list of authority statements");
    }
    tree->all_of = has_all_of;
    const std::string list_name = has_all_of ? "allOf" : "anyOf";
    SKR_ASSIGN_OR_RETURN(json::ArrayPtr array, asList(list, list_name, "authority statements"));
    for (std::size_t i = 0; i < array->size(); ++i) {
      const std::string path = list_name + "[" + std::to_string(i) + "]";
      AuthorityStatement statement;
      SKR_RETURN_IF_ERROR(parseStatement(array->get(static_cast<unsigned>(i)), path, statement));
      tree->statements.push_back(std::move(statement));
    }
    return tree;
  }

 private:
  // `value` as a non-empty array; `path` names the list ("anyOf[0].allOf").
  static StatusOr<json::ArrayPtr> asList(const Var& value, const std::string& path,
                                         std::string_view of_what) {
    json::ArrayPtr array;
    if (holds<json::ArrayPtr>(value)) {
      array = value.extract<json::ArrayPtr>();
    } else if (holds<Array>(value)) {
      array = new Array(value.extract<Array>());
    }
    if (array.isNull()) {
      return policyError(path, "expected an array of " + std::string(of_what) + ", got " +
                                   std::string(describe(classify(value))));
    }
    if (array->size() == 0) {
      return policyError(path,
                         "is empty (at least one of the " + std::string(of_what) + " is required)");
    }
    return array;
  }

  static StatusOr<json::ObjectPtr> asObject(const Var& value, const std::string& path,
                                            std::string_view what) {
    const Classified c = classify(value);
    if (c.kind != Classified::Kind::Object) {
      return policyError(path,
                         std::string(what) + " must be an object, got " + std::string(describe(c)));
    }
    return c.object;
  }

  Status countCondition(const std::string& path) {
    if (++conditions_ > kMaxReleasePolicyConditions) {
      return policyError(path, "the policy has more than " +
                                   std::to_string(kMaxReleasePolicyConditions) + " conditions");
    }
    return okStatus();
  }

  Status parseStatement(const Var& value, const std::string& path, AuthorityStatement& out) {
    SKR_ASSIGN_OR_RETURN(json::ObjectPtr object, asObject(value, path, "an authority statement"));
    std::optional<Var> authority;
    std::optional<std::pair<std::string, Var>> list;
    for (const auto& [name, member] : *object) {
      if (name == "authority") {
        authority = member;
      } else if (name == "anyOf" || name == "allOf") {
        if (list) {
          return policyError(path,
                             "authority statement has both 'allOf' and 'anyOf' (exactly one "
                             "is allowed)");
        }
        list.emplace(name, member);
      } else {
        return policyError(path, "unknown member " + quotedName(name) +
                                     " in an authority statement (expected 'authority' and one "
                                     "of 'anyOf' / 'allOf')");
      }
    }
    if (!authority) return policyError(path, "authority statement has no 'authority'");
    const Classified authority_value = classify(*authority);
    if (authority_value.kind != Classified::Kind::Scalar ||
        authority_value.scalar.type != Scalar::Type::String) {
      return policyError(path + ".authority",
                         "expected a string, got " + std::string(describe(authority_value)));
    }
    if (authority_value.scalar.text.empty()) {
      return policyError(path + ".authority", "is empty");
    }
    if (!list) {
      return policyError(path, "authority statement has neither 'anyOf' nor 'allOf'");
    }
    out.authority = authority_value.scalar.text;
    out.normalized_authority = normalizeAuthority(out.authority);
    return parseGroup(list->first, list->second, path, 1, out.conditions);
  }

  // The group at `path` whose member `kind_name` ("anyOf"/"allOf") holds the list `value`.
  Status parseGroup(const std::string& kind_name, const Var& value, const std::string& path,
                    int depth, PolicyCondition& out) {
    const std::string list_path = path + "." + kind_name;
    if (depth > kMaxReleasePolicyDepth) {
      return policyError(list_path, "conditions are nested deeper than " +
                                        std::to_string(kMaxReleasePolicyDepth) + " levels");
    }
    SKR_RETURN_IF_ERROR(countCondition(path));
    SKR_ASSIGN_OR_RETURN(json::ArrayPtr array, asList(value, list_path, "conditions"));
    out.kind = kind_name == "anyOf" ? PolicyCondition::Kind::AnyOf : PolicyCondition::Kind::AllOf;
    out.path = path;
    out.children.resize(array->size());
    for (std::size_t i = 0; i < array->size(); ++i) {
      const std::string child_path = list_path + "[" + std::to_string(i) + "]";
      SKR_RETURN_IF_ERROR(
          parseCondition(array->get(static_cast<unsigned>(i)), child_path, depth, out.children[i]));
    }
    return okStatus();
  }

  Status parseCondition(const Var& value, const std::string& path, int depth,
                        PolicyCondition& out) {
    SKR_ASSIGN_OR_RETURN(json::ObjectPtr object, asObject(value, path, "a condition"));
    std::vector<std::string> groups;     // anyOf / allOf
    std::vector<std::string> operators;  // equals, ...
    bool has_claim = false;
    bool has_legacy_condition = false;
    bool has_legacy_value = false;
    for (const auto& [name, member] : *object) {
      if (name == "anyOf" || name == "allOf") {
        groups.push_back(name);
      } else if (name == "claim") {
        has_claim = true;
      } else if (operatorNamed(name)) {
        operators.push_back(name);
      } else if (name == "condition") {
        has_legacy_condition = true;
      } else if (name == "value") {
        has_legacy_value = true;
      } else {
        return policyError(path, "unknown member " + quotedName(name) +
                                     " in a condition (expected 'claim' with one of " +
                                     operatorList() + ", or 'anyOf' / 'allOf')");
      }
    }
    if (!groups.empty()) {
      if (groups.size() > 1) return policyError(path, "condition has both 'allOf' and 'anyOf'");
      std::string other;
      if (has_claim) other = "claim";
      if (!operators.empty()) other = operators.front();
      if (has_legacy_condition) other = "condition";
      if (has_legacy_value) other = "value";
      if (!other.empty()) {
        return policyError(path, "condition has both '" + groups.front() + "' and '" + other + "'");
      }
      return parseGroup(groups.front(), object->get(groups.front()), path, depth + 1, out);
    }

    SKR_RETURN_IF_ERROR(countCondition(path));
    out.kind = PolicyCondition::Kind::Claim;
    out.path = path;
    if (!has_claim) {
      return policyError(path, "condition has neither 'claim' nor 'anyOf' / 'allOf'");
    }
    const Classified claim = classify(object->get("claim"));
    if (claim.kind != Classified::Kind::Scalar || claim.scalar.type != Scalar::Type::String) {
      return policyError(path + ".claim", "expected a string, got " + std::string(describe(claim)));
    }
    SKR_RETURN_IF_ERROR(setClaim(claim.scalar.text, path, out));

    if (operators.size() > 1) {
      return policyError(path, "condition has both '" + operators[0] + "' and '" + operators[1] +
                                   "' (exactly one operator is allowed)");
    }
    std::string value_path;
    Var operand;
    if (operators.size() == 1) {
      if (has_legacy_condition || has_legacy_value) {
        return policyError(path, "condition has both '" + operators[0] + "' and the legacy '" +
                                     (has_legacy_condition ? "condition" : "value") + "'");
      }
      out.op = *operatorNamed(operators[0]);
      value_path = path + "." + operators[0];
      operand = object->get(operators[0]);
    } else if (has_legacy_condition || has_legacy_value) {
      // Pre-GA form (spec §3.1): {"claim", "condition": "<operator>", "value": <value>}.
      if (!has_legacy_condition || !has_legacy_value) {
        return policyError(path, std::string("legacy condition has '") +
                                     (has_legacy_condition ? "condition" : "value") + "' but no '" +
                                     (has_legacy_condition ? "value" : "condition") + "'");
      }
      const Classified name = classify(object->get("condition"));
      if (name.kind != Classified::Kind::Scalar || name.scalar.type != Scalar::Type::String) {
        return policyError(path + ".condition",
                           "expected an operator name, got " + std::string(describe(name)));
      }
      const std::optional<Operator> op = operatorNamed(name.scalar.text);
      if (!op) {
        return policyError(path + ".condition", quotedName(name.scalar.text) +
                                                    " is not an operator (expected one of " +
                                                    operatorList() + ")");
      }
      out.op = *op;
      value_path = path + ".value";
      operand = object->get("value");
    } else {
      return policyError(path, "condition on claim '" + escaped(out.claim) +
                                   "' has no operator (expected one of " + operatorList() + ")");
    }
    return setValue(operand, value_path, out);
  }

  static Status setClaim(const std::string& claim, const std::string& path, PolicyCondition& out) {
    if (claim.empty()) return policyError(path + ".claim", "is empty");
    std::vector<std::string> segments;
    std::size_t start = 0;
    while (true) {
      const std::size_t dot = claim.find('.', start);
      const std::string segment = claim.substr(start, dot == std::string::npos ? dot : dot - start);
      if (segment.empty()) {
        return policyError(path + ".claim", "claim name '" + escaped(claim) +
                                                "' has an empty segment in its dot path");
      }
      segments.push_back(segment);
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    out.claim = claim;
    out.claim_segments = std::move(segments);
    return okStatus();
  }

  static Status setValue(const Var& operand, const std::string& value_path, PolicyCondition& out) {
    const Classified value = classify(operand);
    switch (value.kind) {
      case Classified::Kind::Scalar: break;
      case Classified::Kind::Null: return policyError(value_path, "null isn't allowed as a value");
      case Classified::Kind::Object:
        return policyError(value_path, "objects aren't allowed as values");
      case Classified::Kind::Array:
        return policyError(value_path, "arrays aren't allowed as values");
      case Classified::Kind::Other: return policyError(value_path, "unsupported value type");
    }
    if (out.op == Operator::Exists) {
      if (value.scalar.text != "true" && value.scalar.text != "false") {
        return policyError(value_path, "expected true or false, got " + display(value.scalar));
      }
      out.expect_present = value.scalar.text == "true";
    }
    out.value = value.scalar;
    return okStatus();
  }

  std::size_t conditions_ = 0;
};

// ---- evaluation ----

// The result of one condition subtree.
struct Outcome {
  bool pass = false;
  std::size_t satisfied = 0;  // claim conditions that hold: how close a failing branch came
  std::string reason;         // the first failing claim condition, e.g. "claim 'x' is missing"
  std::string at;             // its path
  std::string none_of;        // the outermost anyOf none of whose alternatives holds, if any
};

// The claim at `segments` (dot path), or nullopt when it (or an object on its path) is absent.
std::optional<Classified> lookupClaim(const json::ObjectPtr& claims,
                                      const std::vector<std::string>& segments) {
  json::ObjectPtr current = claims;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    if (current.isNull() || !current->has(segments[i])) return std::nullopt;
    Classified c = classify(current->get(segments[i]));
    if (i + 1 == segments.size()) return c;
    if (c.kind != Classified::Kind::Object) return std::nullopt;
    current = c.object;
  }
  return std::nullopt;
}

std::string claimLabel(const std::string& claim) {
  return "claim '" + escaped(claim) + "'";
}

// Why a claim that is absent or not a scalar cannot satisfy a comparison.
std::string unusableClaim(const std::string& label, const std::optional<Classified>& found) {
  if (!found) return label + " is missing";
  switch (found->kind) {
    case Classified::Kind::Null: return label + " is null";
    case Classified::Kind::Object:
      return label + " is an object, which a release policy cannot compare";
    case Classified::Kind::Array:
      return label + " is an array, which a release policy cannot compare";
    case Classified::Kind::Other: return label + " has a value of an unsupported type";
    case Classified::Kind::Scalar: break;
  }
  return label + " is unusable";
}

std::string_view orderingPhrase(Operator op) {
  switch (op) {
    case Operator::Less: return "less than";
    case Operator::LessOrEquals: return "at most";
    case Operator::Greater: return "greater than";
    case Operator::GreaterOrEquals: return "at least";
    default: return "?";
  }
}

// " (they differ at character N)" when shortening hides the difference between two strings.
std::string hiddenDifference(const Scalar& token, const Scalar& policy) {
  if (display(token) != display(policy)) return "";
  std::size_t offset = 0;
  std::size_t characters = 0;
  while (offset < token.text.size() && offset < policy.text.size() &&
         token.text[offset] == policy.text[offset]) {
    characters += isContinuationByte(token.text[offset]) ? 0 : 1;
    ++offset;
  }
  return " (they differ at character " + std::to_string(characters + 1) + ")";
}

Outcome evaluateClaim(const PolicyCondition& condition, const json::ObjectPtr& claims) {
  Outcome outcome;
  outcome.at = condition.path;
  const std::string label = claimLabel(condition.claim);
  const std::optional<Classified> found = lookupClaim(claims, condition.claim_segments);

  if (condition.op == Operator::Exists) {
    const bool present = found && found->kind != Classified::Kind::Null;
    outcome.pass = present == condition.expect_present;
    if (!outcome.pass) {
      if (condition.expect_present) {
        outcome.reason = unusableClaim(label, found);
      } else {
        outcome.reason =
            label + " is present" +
            (found->kind == Classified::Kind::Scalar ? " (" + display(found->scalar) + ")"
                                                     : " (" + std::string(describe(*found)) + ")") +
            " but the policy requires it to be absent";
      }
    }
  } else if (!found || found->kind != Classified::Kind::Scalar) {
    outcome.reason = unusableClaim(label, found);
  } else {
    const Scalar& token = found->scalar;
    const Scalar& policy = condition.value;
    switch (condition.op) {
      case Operator::Equals:
        outcome.pass = token.text == policy.text;
        outcome.reason = label + " is " + display(token) + " but the policy requires " +
                         display(policy) + hiddenDifference(token, policy);
        break;
      case Operator::NotEquals:
        outcome.pass = token.text != policy.text;
        outcome.reason = label + " is " + display(token) +
                         " but the policy requires a value other than " + display(policy);
        break;
      case Operator::Less:
      case Operator::LessOrEquals:
      case Operator::Greater:
      case Operator::GreaterOrEquals: {
        const std::string requirement = " the policy requires a value " +
                                        std::string(orderingPhrase(condition.op)) + " " +
                                        display(policy);
        if (!policy.number) {
          outcome.reason = label + " is " + display(token) + " but the policy value " +
                           display(policy) + " of '" + std::string(operatorName(condition.op)) +
                           "' is not a number";
        } else if (!token.number) {
          outcome.reason =
              label + " is " + display(token) + ", which is not a number, but" + requirement;
        } else {
          const int order = compareNumbers(*token.number, *policy.number);
          outcome.pass = condition.op == Operator::Less           ? order < 0
                         : condition.op == Operator::LessOrEquals ? order <= 0
                         : condition.op == Operator::Greater      ? order > 0
                                                                  : order >= 0;
          outcome.reason = label + " is " + display(token) + " but" + requirement;
        }
        break;
      }
      case Operator::Exists: break;  // handled above
    }
  }
  if (outcome.pass) {
    outcome.satisfied = 1;
    outcome.reason.clear();
    outcome.at.clear();
  }
  return outcome;
}

// For an anyOf whose alternatives all test one claim with equals: "claim 'x' is "a" but the
// policy requires one of "b", "c"", or nullopt when the alternatives are of another shape.
std::optional<std::string> oneOfReason(const PolicyCondition& group,
                                       const json::ObjectPtr& claims) {
  if (group.children.size() < 2) return std::nullopt;
  for (const PolicyCondition& child : group.children) {
    if (child.kind != PolicyCondition::Kind::Claim || child.op != Operator::Equals ||
        child.claim != group.children.front().claim) {
      return std::nullopt;
    }
  }
  const PolicyCondition& first = group.children.front();
  const std::string label = claimLabel(first.claim);
  const std::optional<Classified> found = lookupClaim(claims, first.claim_segments);
  if (!found || found->kind != Classified::Kind::Scalar) return unusableClaim(label, found);
  std::string reason = label + " is " + display(found->scalar) + " but the policy requires one of ";
  for (std::size_t i = 0; i < group.children.size() && i < kShownAlternatives; ++i) {
    if (i > 0) reason += ", ";
    reason += display(group.children[i].value);
  }
  if (group.children.size() > kShownAlternatives) {
    reason += " and " + std::to_string(group.children.size() - kShownAlternatives) + " more";
  }
  return reason;
}

Outcome evaluateCondition(const PolicyCondition& condition, const json::ObjectPtr& claims) {
  if (condition.kind == PolicyCondition::Kind::Claim) return evaluateClaim(condition, claims);

  std::vector<Outcome> children;
  children.reserve(condition.children.size());
  for (const PolicyCondition& child : condition.children) {
    children.push_back(evaluateCondition(child, claims));
  }
  Outcome outcome;
  if (condition.kind == PolicyCondition::Kind::AllOf) {
    outcome.pass = true;
    for (Outcome& child : children) {
      outcome.satisfied += child.satisfied;
      if (!child.pass && outcome.pass) {
        outcome.pass = false;
        outcome.reason = std::move(child.reason);
        outcome.at = std::move(child.at);
        outcome.none_of = std::move(child.none_of);
      }
    }
    return outcome;
  }
  // anyOf: the alternative that satisfied the most claim conditions (the first on ties).
  std::size_t closest = 0;
  for (std::size_t i = 0; i < children.size(); ++i) {
    if (children[i].pass) outcome.pass = true;
    if (children[i].satisfied > children[closest].satisfied) closest = i;
  }
  outcome.satisfied = children[closest].satisfied;
  if (outcome.pass) return outcome;
  if (std::optional<std::string> one_of = oneOfReason(condition, claims)) {
    outcome.reason = std::move(*one_of);
    outcome.at = condition.path;
    return outcome;
  }
  outcome.reason = std::move(children[closest].reason);
  outcome.at = std::move(children[closest].at);
  outcome.none_of = condition.path;
  return outcome;
}

std::string failureText(const Outcome& outcome) {
  std::string text;
  if (!outcome.none_of.empty()) {
    text = "no alternative of the anyOf at " + outcome.none_of + " holds; the closest fails: ";
  }
  return text + outcome.reason + " (at " + outcome.at + ")";
}

std::string noAuthorityReason(const ReleasePolicyTree& tree, std::string_view issuer) {
  std::vector<std::string> shown;
  std::size_t distinct = 0;
  std::vector<std::string_view> seen;
  for (const AuthorityStatement& statement : tree.statements) {
    if (std::find(seen.begin(), seen.end(), statement.authority) != seen.end()) continue;
    seen.push_back(statement.authority);
    ++distinct;
    if (shown.size() < kShownAuthorities) shown.push_back(escaped(statement.authority));
  }
  std::string reason = "no policy authority matches the token issuer " + quotedName(issuer) +
                       " (policy authorities: ";
  for (std::size_t i = 0; i < shown.size(); ++i) {
    if (i > 0) reason += ", ";
    reason += shown[i];
  }
  if (distinct > shown.size())
    reason += " and " + std::to_string(distinct - shown.size()) + " more";
  return reason + ")";
}

PolicyDecision evaluateTree(const ReleasePolicyTree& tree, const json::ObjectPtr& claims,
                            std::string_view issuer) {
  const std::string normalized_issuer = normalizeAuthority(issuer);
  if (tree.all_of) {
    std::size_t i = 0;
    for (const AuthorityStatement& statement : tree.statements) {
      const std::string path = "allOf[" + std::to_string(i++) + "]";
      if (statement.normalized_authority != normalized_issuer) {
        std::string reason =
            "the policy's top-level allOf requires every authority statement to "
            "hold, but the token issuer " +
            quotedName(issuer) + " does not match the authority " + escaped(statement.authority) +
            " of " + path;
        if (tree.statements.size() > 1) {
          reason +=
              " (a token has one issuer: a top-level allOf over several authorities never "
              "passes; use anyOf)";
        }
        return {false, std::move(reason)};
      }
      const Outcome outcome = evaluateCondition(statement.conditions, claims);
      if (!outcome.pass) return {false, failureText(outcome)};
    }
    return {true, "every authority statement of the policy holds for issuer " + quotedName(issuer)};
  }

  const Outcome* closest = nullptr;
  std::vector<Outcome> outcomes;
  outcomes.reserve(tree.statements.size());
  for (const AuthorityStatement& statement : tree.statements) {
    if (statement.normalized_authority != normalized_issuer) continue;
    outcomes.push_back(evaluateCondition(statement.conditions, claims));
    if (outcomes.back().pass) {
      return {true, "the conditions of " + statement.conditions.path + " (authority " +
                        escaped(statement.authority) + ") hold"};
    }
  }
  for (const Outcome& outcome : outcomes) {
    if (closest == nullptr || outcome.satisfied > closest->satisfied) closest = &outcome;
  }
  if (closest == nullptr) return {false, noAuthorityReason(tree, issuer)};
  return {false, failureText(*closest)};
}

}  // namespace

std::string normalizeAuthority(std::string_view authority) {
  std::string out(authority);
  const std::size_t scheme_end = out.find("://");
  const std::size_t host_start = scheme_end == std::string::npos ? 0 : scheme_end + 3;
  std::size_t host_end = out.find_first_of("/?#", host_start);
  if (host_end == std::string::npos) host_end = out.size();
  for (std::size_t i = 0; i < host_end; ++i) {
    if (out[i] >= 'A' && out[i] <= 'Z') out[i] = static_cast<char>(out[i] - 'A' + 'a');
  }
  if (out.size() > host_start && out.back() == '/') out.pop_back();
  return out;
}

StatusOr<ReleasePolicy> ReleasePolicy::parse(std::string_view json_text) {
  if (json_text.size() > kMaxReleasePolicyBytes) {
    return policyError("", "the policy is " + std::to_string(json_text.size()) +
                               " bytes, above the limit of " +
                               std::to_string(kMaxReleasePolicyBytes) + " bytes");
  }
  try {
    json::ParseLimits limits;
    limits.max_bytes = kMaxReleasePolicyBytes;
    // Deeper than any valid policy (3 + 2 per nesting level), so most over-deep policies get the
    // path-naming error below rather than the JSON layer's.
    limits.max_depth = 2 * kMaxReleasePolicyDepth + 32;
    limits.max_string_bytes = kMaxReleasePolicyBytes;
    StatusOr<json::ObjectPtr> root = json::parseObject(json_text, limits);
    if (!root.ok()) return policyError("", root.status().message());
    PolicyParser parser;
    SKR_ASSIGN_OR_RETURN(std::shared_ptr<ReleasePolicyTree> tree, parser.parseRoot(*root));
    StatusOr<std::string> canonical = json::serializeCanonical(*root);
    if (!canonical.ok()) return policyError("", canonical.status().message());
    return ReleasePolicy(std::move(tree), std::move(canonical).value());
  } catch (const Poco::Exception& e) {
    return internalError("release policy: unexpected " + std::string(e.className()));
  } catch (const std::bad_alloc&) {
    return resourceExhaustedError("release policy: out of memory");
  } catch (const std::exception& e) {
    return internalError(std::string("release policy: ") + e.what());
  }
}

StatusOr<ReleasePolicy> ReleasePolicy::fromWire(const json::ObjectPtr& release_policy) {
  const auto wireError = [](std::string problem) {
    return invalidArgumentError("release_policy: " + std::move(problem));
  };
  if (release_policy.isNull()) return wireError("expected an object");
  try {
    std::optional<Classified> data;
    for (const auto& [name, member] : *release_policy) {
      const Classified value = classify(member);
      if (name == "contentType") {
        if (value.kind != Classified::Kind::Scalar || value.scalar.type != Scalar::Type::String) {
          return wireError("'contentType' must be a string, got " + std::string(describe(value)));
        }
        std::string media_type = value.scalar.text.substr(0, value.scalar.text.find(';'));
        std::transform(media_type.begin(), media_type.end(), media_type.begin(), [](char c) {
          return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
        });
        while (!media_type.empty() && media_type.back() == ' ') media_type.pop_back();
        if (media_type != "application/json") {
          return wireError("'contentType' " + quotedName(value.scalar.text) +
                           " is not application/json");
        }
      } else if (name == "data") {
        data = value;
      } else if (name == "immutable") {
        if (value.kind != Classified::Kind::Scalar || value.scalar.type != Scalar::Type::Bool) {
          return wireError("'immutable' must be a boolean, got " + std::string(describe(value)));
        }
      } else {
        return wireError("unknown member " + quotedName(name) +
                         " (expected 'contentType', 'data' and 'immutable')");
      }
    }
    if (!data) return wireError("'data' is missing");
    if (data->kind != Classified::Kind::Scalar || data->scalar.type != Scalar::Type::String) {
      return wireError("'data' must be a string, got " + std::string(describe(*data)));
    }
    StatusOr<Bytes> text = encoding::base64DecodeLenient(data->scalar.text, kMaxReleasePolicyBytes);
    if (!text.ok()) return wireError("'data' is not base64url: " + text.status().message());
    StatusOr<ReleasePolicy> policy = parse(toString(*text));
    if (!policy.ok()) return policy.status().withContext("release_policy.data");
    return policy;
  } catch (const Poco::Exception& e) {
    return internalError("release_policy: unexpected " + std::string(e.className()));
  } catch (const std::bad_alloc&) {
    return resourceExhaustedError("release_policy: out of memory");
  } catch (const std::exception& e) {
    return internalError(std::string("release_policy: ") + e.what());
  }
}

std::vector<std::string> ReleasePolicy::authorities() const {
  std::vector<std::string> out;
  for (const AuthorityStatement& statement : tree_->statements) out.push_back(statement.authority);
  return out;
}

PolicyDecision ReleasePolicy::evaluate(const json::ObjectPtr& claims,
                                       std::string_view issuer) const {
  if (claims.isNull()) return {false, "the token has no claims"};
  try {
    return evaluateTree(*tree_, claims, issuer);
  } catch (const Poco::Exception& e) {
    return {false, "release policy evaluation failed: unexpected " + std::string(e.className())};
  } catch (const std::exception& e) {
    return {false, std::string("release policy evaluation failed: ") + e.what()};
  }
}

StatusOr<std::string> makeAciReleasePolicy(std::string_view authority,
                                           std::string_view hostdata_hex,
                                           bool require_uvm_compliance) {
  if (authority.empty()) {
    return invalidArgumentError("ACI release policy: the authority (MAA endpoint) is empty");
  }
  if (hostdata_hex.size() != 64) {
    return invalidArgumentError(
        "ACI release policy: hostdata must be 64 hex digits (SHA-256 of "
        "the CCE policy), got " +
        std::to_string(hostdata_hex.size()) + " characters");
  }
  std::string hostdata(hostdata_hex);
  for (std::size_t i = 0; i < hostdata.size(); ++i) {
    char& c = hostdata[i];
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return invalidArgumentError(
          "ACI release policy: hostdata has a non-hex character at offset " + std::to_string(i));
    }
  }
  std::string full_authority(authority);
  if (full_authority.find("://") == std::string::npos) full_authority = "https://" + full_authority;

  try {
    const auto equals = [](std::string_view claim, std::string_view value) {
      json::ObjectPtr condition = new Object();
      condition->set("claim", std::string(claim));
      condition->set("equals", std::string(value));
      return condition;
    };
    // Values as SIDECAR's tests/skr/key.py writes them: is-debuggable and vmpl as strings.
    json::ArrayPtr all_of = new Array();
    all_of->add(equals("x-ms-sevsnpvm-hostdata", hostdata));
    if (require_uvm_compliance) {
      all_of->add(equals("x-ms-compliance-status", "azure-compliant-uvm"));
    }
    all_of->add(equals("x-ms-sevsnpvm-is-debuggable", "false"));
    all_of->add(equals("x-ms-sevsnpvm-vmpl", "0"));
    json::ObjectPtr statement = new Object();
    statement->set("authority", full_authority);
    statement->set("allOf", all_of);
    json::ArrayPtr any_of = new Array();
    any_of->add(statement);
    json::ObjectPtr policy = new Object();
    policy->set("version", std::string("1.0.0"));
    policy->set("anyOf", any_of);
    StatusOr<std::string> text = json::serializeCanonical(policy);
    if (!text.ok()) return text.status().withContext("ACI release policy");
    return text;
  } catch (const Poco::Exception& e) {
    return internalError("ACI release policy: unexpected " + std::string(e.className()));
  } catch (const std::exception& e) {
    return internalError(std::string("ACI release policy: ") + e.what());
  }
}

std::string toWireBase64Url(std::string_view policy_json) {
  return encoding::base64UrlEncode(asBytes(policy_json));
}

}  // namespace skr::azure
