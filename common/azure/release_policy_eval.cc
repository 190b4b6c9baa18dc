// ReleasePolicy::evaluate (spec/azure-wire.md §3.2) runs every condition without short-circuiting
// so it can tell which authority branch and which anyOf alternative came closest (most claim
// conditions satisfied) and name that one's first failing condition in the reason.
#include <Poco/Exception.h>

#include <algorithm>
#include <exception>
#include <optional>
#include <utility>

#include "common/azure/policy_text.h"
#include "common/azure/policy_value.h"
#include "common/azure/release_policy.h"
#include "common/azure/release_policy_tree.h"

namespace skr::azure {
namespace {

using namespace policy;  // NOLINT(google-build-using-namespace): the policy's own vocabulary

// In a same-claim anyOf ("requires one of ..."), at most this many alternatives are listed.
constexpr std::size_t kShownAlternatives = 4;
// At most this many distinct authorities are listed when none matches the issuer.
constexpr std::size_t kShownAuthorities = 8;

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

}  // namespace skr::azure
