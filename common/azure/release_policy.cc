// Release policy parsing (spec/azure-wire.md §3.1): parse() turns the Poco tree into a small
// immutable tree of our own (release_policy_tree.h), validated once so evaluate()
// (release_policy_eval.cc) never re-checks the grammar.
#include "common/azure/release_policy.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <algorithm>
#include <exception>
#include <optional>
#include <utility>

#include "common/azure/policy_text.h"
#include "common/azure/policy_value.h"
#include "common/azure/release_policy_tree.h"
#include "common/core/bytes.h"
#include "common/encoding/base64.h"

namespace skr::azure {

using Poco::Dynamic::Var;
using Poco::JSON::Array;
using Poco::JSON::Object;

using namespace policy;  // NOLINT(google-build-using-namespace): the policy's own vocabulary

namespace {

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
    StatusOr<json::ArrayPtr> list = json::asArray(value, path);
    if (!list.ok()) {
      return policyError(path, "expected an array of " + std::string(of_what) + ", got " +
                                   std::string(describe(classify(value))));
    }
    if ((*list)->size() == 0) {
      return policyError(path,
                         "is empty (at least one of the " + std::string(of_what) + " is required)");
    }
    return list;
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

std::string toWireBase64Url(std::string_view policy_json) {
  return encoding::base64UrlEncode(asBytes(policy_json));
}

}  // namespace skr::azure
