// Fuzz target for common/azure/release_policy: the AKV release policy parser and evaluator.
// The input is tried both ways:
//  - as a policy: parse never throws and fails only with InvalidArgument; a parsed policy's
//    canonicalJson() re-parses to identical bytes, fromWire of its base64url gives the same
//    policy, and evaluating it against fixed SNP claims (as each of its own authorities, and as a
//    stranger) is deterministic with a bounded, non-empty reason;
//  - as a claim set (when it is a JSON object): a fixed policy using every operator, nested
//    groups and dot paths evaluates it without crashing, deterministically, with a bounded reason.
// A violated property traps, so libFuzzer (and the corpus replay) reports it as a crash.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/azure/release_policy.h"
#include "common/json/json.h"

namespace {

using skr::azure::PolicyDecision;
using skr::azure::ReleasePolicy;

void require(bool condition) {
  if (!condition) __builtin_trap();
}

// Reasons quote at most a few shortened values, eight authorities and a path of at most 16
// levels (worst case about 3.6 KiB with every character escaped as \u00XX).
constexpr std::size_t kMaxReasonBytes = 4096;

void checkDecision(const ReleasePolicy& policy, const skr::json::ObjectPtr& claims,
                   std::string_view issuer) {
  const PolicyDecision first = policy.evaluate(claims, issuer);
  const PolicyDecision second = policy.evaluate(claims, issuer);
  require(first.allowed == second.allowed && first.reason == second.reason);
  require(!first.reason.empty() && first.reason.size() <= kMaxReasonBytes);
}

const skr::json::ObjectPtr& snpClaims() {
  static const skr::json::ObjectPtr claims = [] {
    auto parsed = skr::json::parseObject(R"({
      "iss":"https://sharedeus.eus.attest.azure.net","x-ms-attestation-type":"sevsnpvm",
      "x-ms-compliance-status":"azure-compliant-uvm",
      "x-ms-sevsnpvm-hostdata":"532eaabd9574880dbf76b9b8cc00832c20a6ec113d682299550d7a6e0f345e25",
      "x-ms-sevsnpvm-is-debuggable":false,"x-ms-sevsnpvm-vmpl":0,"x-ms-sevsnpvm-guestsvn":2,
      "x-ms-isolation-tee":{"x-ms-attestation-type":"sevsnpvm","x-ms-compliance-status":"azure-compliant-cvm"},
      "c":1,"n":null,"arr":[1],"num":"12.5e1"})");
    require(parsed.ok());
    return *parsed;
  }();
  return claims;
}

const ReleasePolicy& fixedPolicy() {
  static const ReleasePolicy policy = [] {
    auto parsed = ReleasePolicy::parse(R"({"version":"1.0.0","anyOf":[
      {"authority":"https://sharedeus.eus.attest.azure.net/","allOf":[
        {"claim":"x-ms-sevsnpvm-hostdata","equals":"532eaabd9574880dbf76b9b8cc00832c20a6ec113d682299550d7a6e0f345e25"},
        {"claim":"x-ms-sevsnpvm-is-debuggable","equals":"false"},
        {"claim":"x-ms-sevsnpvm-vmpl","equals":"0"},
        {"anyOf":[{"claim":"x-ms-attestation-type","equals":"tdxvm"},
                  {"claim":"x-ms-isolation-tee.x-ms-attestation-type","equals":"sevsnpvm"}]},
        {"claim":"x-ms-sevsnpvm-guestsvn","greaterOrEquals":"1"},
        {"claim":"x-ms-sevsnpvm-guestsvn","less":1e3},
        {"claim":"x-ms-sevsnpvm-guestsvn","notEquals":7},
        {"claim":"x-ms-sevsnpvm-guestsvn","lessOrEquals":-1.5},
        {"claim":"x-ms-sevsnpvm-guestsvn","greater":"x"},
        {"claim":"x-ms-runtime.keys","exists":true},
        {"claim":"x-ms-debug","exists":false},
        {"claim":"legacy","condition":"equals","value":true}]},
      {"authority":"https://other.example","anyOf":[{"claim":"a.b.c","equals":1}]}]})");
    require(parsed.ok());
    return *parsed;
  }();
  return policy;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);  // NOLINT

  const skr::StatusOr<ReleasePolicy> policy = ReleasePolicy::parse(text);
  if (!policy.ok()) {
    require(policy.status().code() == skr::StatusCode::InvalidArgument);
  } else {
    const std::string& canonical = policy->canonicalJson();
    const skr::StatusOr<ReleasePolicy> again = ReleasePolicy::parse(canonical);
    require(again.ok() && again->canonicalJson() == canonical);

    skr::json::ObjectPtr wire = new Poco::JSON::Object();
    wire->set("contentType", std::string(skr::azure::kReleasePolicyContentType));
    wire->set("data", skr::azure::toWireBase64Url(text));
    const skr::StatusOr<ReleasePolicy> from_wire = ReleasePolicy::fromWire(wire);
    require(from_wire.ok() && from_wire->canonicalJson() == canonical);

    for (const std::string& authority : policy->authorities()) {
      checkDecision(*policy, snpClaims(), authority);
    }
    checkDecision(*policy, snpClaims(), "https://stranger.example");
    checkDecision(*policy, skr::json::ObjectPtr(new Poco::JSON::Object()),
                  "https://sharedeus.eus.attest.azure.net");
  }

  const skr::StatusOr<skr::json::ObjectPtr> claims = skr::json::parseObject(text);
  if (claims.ok()) {
    checkDecision(fixedPolicy(), *claims, "https://sharedeus.eus.attest.azure.net");
    checkDecision(fixedPolicy(), *claims, "HTTPS://Other.Example/");
  }
  return 0;
}
