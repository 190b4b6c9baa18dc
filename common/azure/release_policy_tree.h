// The validated condition tree of a release policy: built once by ReleasePolicy::parse
// (release_policy.cc), walked by ReleasePolicy::evaluate (release_policy_eval.cc). Internal.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/azure/policy_value.h"

namespace skr::azure {
namespace policy {

enum class Operator {
  Equals,
  NotEquals,
  Less,
  LessOrEquals,
  Greater,
  GreaterOrEquals,
  Exists,
};

inline constexpr std::pair<std::string_view, Operator> kOperators[] = {
    {"equals", Operator::Equals},   {"notEquals", Operator::NotEquals},
    {"less", Operator::Less},       {"lessOrEquals", Operator::LessOrEquals},
    {"greater", Operator::Greater}, {"greaterOrEquals", Operator::GreaterOrEquals},
    {"exists", Operator::Exists},
};

inline std::optional<Operator> operatorNamed(std::string_view name) {
  for (const auto& [op_name, op] : kOperators) {
    if (op_name == name) return op;
  }
  return std::nullopt;
}

inline std::string_view operatorName(Operator op) {
  for (const auto& [op_name, candidate] : kOperators) {
    if (candidate == op) return op_name;
  }
  return "?";
}

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

}  // namespace policy

struct ReleasePolicyTree {
  bool all_of = false;  // top-level allOf: every statement must hold
  std::vector<policy::AuthorityStatement> statements;
};

}  // namespace skr::azure
