#include "common/snp/hostdata.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/Exception.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

#include "common/crypto/digest.h"
#include "common/encoding/base64.h"
#include "common/json/json.h"

namespace skr::snp {
namespace {

bool isAsciiWhitespace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

struct FoundPolicy {
  std::string where;  // JSON path, e.g. resources[0].properties.confidentialComputeProperties
  std::string value;
};

constexpr int kMaxTemplateDepth = 64;

// Collects every confidentialComputeProperties.ccePolicy below `value`.
Status collectPolicies(const Poco::Dynamic::Var& value, const std::string& path, int depth,
                       std::vector<FoundPolicy>& out) {
  if (depth > kMaxTemplateDepth) {
    return invalidArgumentError("ARM template: nesting deeper than " +
                                std::to_string(kMaxTemplateDepth) + " at " + path);
  }
  if (StatusOr<json::ObjectPtr> object = json::asObject(value, path); object.ok()) {
    for (const auto& [key, member] : **object) {
      const std::string member_path = path.empty() ? key : path + "." + key;
      if (key == "confidentialComputeProperties") {
        StatusOr<json::ObjectPtr> properties = json::asObject(member, member_path);
        if (properties.ok() && (*properties)->has("ccePolicy")) {
          StatusOr<std::string> policy = json::getString(*properties, "ccePolicy");
          if (!policy.ok()) return policy.status().withContext("ARM template " + member_path);
          out.push_back(FoundPolicy{member_path, std::move(policy).value()});
        }
      }
      SKR_RETURN_IF_ERROR(collectPolicies(member, member_path, depth + 1, out));
    }
  } else if (StatusOr<json::ArrayPtr> array = json::asArray(value, path); array.ok()) {
    for (std::size_t i = 0; i < (*array)->size(); ++i) {
      SKR_ASSIGN_OR_RETURN(Poco::Dynamic::Var element, json::getElement(*array, i, path));
      SKR_RETURN_IF_ERROR(
          collectPolicies(element, path + "[" + std::to_string(i) + "]", depth + 1, out));
    }
  }
  return okStatus();
}

// An ARM template expression is a string in brackets; "[[" escapes a literal '['.
bool isArmExpression(std::string_view s) {
  return s.size() >= 2 && s.front() == '[' && s.back() == ']' && s[1] != '[';
}

}  // namespace

StatusOr<HostData> hostDataFromPolicyBase64(std::string_view base64_policy_text) {
  if (base64_policy_text.size() > kMaxPolicyBase64Bytes) {
    return resourceExhaustedError("CCE policy is " + std::to_string(base64_policy_text.size()) +
                                  " bytes of base64, limit " +
                                  std::to_string(kMaxPolicyBase64Bytes));
  }
  std::string compact;
  compact.reserve(base64_policy_text.size());
  for (char c : base64_policy_text) {
    if (!isAsciiWhitespace(c)) compact.push_back(c);
  }
  if (compact.empty()) return invalidArgumentError("CCE policy: the base64 text is empty");
  StatusOr<Bytes> policy = encoding::base64DecodeLenient(compact, kMaxPolicyBase64Bytes);
  if (!policy.ok()) return policy.status().withContext("CCE policy is not valid base64");
  const Bytes digest = crypto::sha256(*policy);
  HostData out{};
  std::copy(digest.begin(), digest.end(), out.begin());
  return out;
}

StatusOr<HostData> hostDataFromPolicyFile(const std::filesystem::path& path) {
  std::error_code ec;
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) return notFoundError("CCE policy file " + path.string() + ": " + ec.message());
  if (size > kMaxPolicyBase64Bytes) {
    return resourceExhaustedError("CCE policy file " + path.string() + " is " +
                                  std::to_string(size) + " bytes, limit " +
                                  std::to_string(kMaxPolicyBase64Bytes));
  }
  std::ifstream in(path, std::ios::binary);
  std::string text(static_cast<std::size_t>(size), '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (!in || in.gcount() != static_cast<std::streamsize>(text.size())) {
    return notFoundError("CCE policy file " + path.string() + ": read failed");
  }
  StatusOr<HostData> out = hostDataFromPolicyBase64(text);
  if (!out.ok()) return out.status().withContext("CCE policy file " + path.string());
  return out;
}

StatusOr<HostData> hostDataFromArmTemplate(std::string_view template_json) {
  json::ParseLimits limits;
  limits.max_bytes = kMaxArmTemplateBytes;
  limits.max_depth = kMaxTemplateDepth;
  limits.max_string_bytes = kMaxPolicyBase64Bytes;
  StatusOr<Poco::Dynamic::Var> parsed = json::parse(template_json, limits);
  if (!parsed.ok()) return parsed.status().withContext("ARM template");

  std::vector<FoundPolicy> found;
  try {
    SKR_RETURN_IF_ERROR(collectPolicies(*parsed, "", 0, found));
  } catch (const Poco::Exception& e) {
    return invalidArgumentError("ARM template: " + e.displayText());
  }
  if (found.empty()) {
    return notFoundError(
        "ARM template has no resources[*].properties.confidentialComputeProperties.ccePolicy");
  }
  for (const FoundPolicy& f : found) {
    if (isArmExpression(f.value)) {
      return invalidArgumentError(
          "ARM template: " + f.where + ".ccePolicy is the ARM expression \"" +
          f.value.substr(0, 120) +
          "\", which only the deployment resolves; pass the policy itself (--policy) or a "
          "template with the literal base64 policy");
    }
  }
  for (const FoundPolicy& f : found) {
    if (f.value != found.front().value) {
      return invalidArgumentError("ARM template has " + std::to_string(found.size()) +
                                  " different ccePolicy values (" + found.front().where + " and " +
                                  f.where + "); pass the policy of one container group");
    }
  }
  StatusOr<HostData> out = hostDataFromPolicyBase64(found.front().value);
  if (!out.ok()) return out.status().withContext("ARM template " + found.front().where);
  return out;
}

}  // namespace skr::snp
