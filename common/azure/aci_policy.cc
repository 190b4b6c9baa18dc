#include "common/azure/aci_policy.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <exception>

#include "common/json/json.h"

namespace skr::azure {

using Poco::JSON::Array;
using Poco::JSON::Object;

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

}  // namespace skr::azure
