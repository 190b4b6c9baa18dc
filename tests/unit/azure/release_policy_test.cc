#include "common/azure/release_policy.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Object.h>

#include <catch2/catch.hpp>
#include <string>
#include <utility>
#include <vector>

#include "common/azure/aci_policy.h"
#include "common/core/bytes.h"
#include "common/encoding/base64.h"
#include "common/json/json.h"

namespace skr::azure {
namespace {

using Poco::Dynamic::Var;

constexpr const char* kMaa = "https://sharedeus.eus.attest.azure.net";
constexpr const char* kHostData =
    "532eaabd9574880dbf76b9b8cc00832c20a6ec113d682299550d7a6e0f345e25";
constexpr const char* kOtherHostData =
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

// spec/azure-wire.md §3.3 (a): ACI confidential containers, SKR-EX example 1.
constexpr const char* kExampleA =
    R"({"version":"1.0.0","anyOf":[{"authority":"https://fabrikam1.wus.attest.azure.net","allOf":[
  {"claim":"x-ms-attestation-type","equals":"sevsnpvm"},
  {"claim":"x-ms-compliance-status","equals":"azure-compliant-uvm"},
  {"claim":"x-ms-sevsnpvm-hostdata","equals":"532eaabd9574880dbf76b9b8cc00832c20a6ec113d682299550d7a6e0f345e25"}]}]})";

// §3.3 (b): the SIDECAR-generated ACI policy (tests/skr/key.py).
constexpr const char* kExampleB =
    R"({"version":"1.0.0","anyOf":[{"authority":"https://sharedeus.eus.attest.azure.net","allOf":[
  {"claim":"x-ms-sevsnpvm-hostdata","equals":"532eaabd9574880dbf76b9b8cc00832c20a6ec113d682299550d7a6e0f345e25"},
  {"claim":"x-ms-compliance-status","equals":"azure-compliant-uvm"},
  {"claim":"x-ms-sevsnpvm-is-debuggable","equals":"false"},
  {"claim":"x-ms-sevsnpvm-vmpl","equals":"0"}]}]})";

// §3.3 (c): confidential VM, one authority entry of CVM-POL, nested anyOf, authority with '/'.
constexpr const char* kExampleC = R"({"anyOf":[{"allOf":[
   {"claim":"x-ms-compliance-status","equals":"azure-compliant-cvm"},
   {"anyOf":[{"claim":"x-ms-attestation-type","equals":"tdxvm"},{"claim":"x-ms-attestation-type","equals":"sevsnpvm"}]}],
  "authority":"https://sharedeus.eus.attest.azure.net/"}],
 "version":"1.0.0"})";

// §3.3 (d): confidential VM with nested claims under a top-level allOf (SKR-EX CVM example 2).
constexpr const char* kExampleD =
    R"({"version":"1.0.0","allOf":[{"authority":"https://sharedeus.eus.attest.azure.net","allOf":[
  {"claim":"x-ms-isolation-tee.x-ms-attestation-type","equals":"sevsnpvm"},
  {"claim":"x-ms-isolation-tee.x-ms-compliance-status","equals":"azure-compliant-cvm"},
  {"claim":"x-ms-azurevm-vmid","equals":"b958dc88-e41d-47f1-8d20-e57b6b7e9825"}]}]})";

// Claims of an ACI token (spec §1.5), as MAA types them: is-debuggable boolean, vmpl number.
constexpr const char* kAciClaims = R"({
  "iss":"https://sharedeus.eus.attest.azure.net","exp":1663825651,"iat":1663796851,
  "x-ms-attestation-type":"sevsnpvm","x-ms-compliance-status":"azure-compliant-uvm",
  "x-ms-sevsnpvm-hostdata":"532eaabd9574880dbf76b9b8cc00832c20a6ec113d682299550d7a6e0f345e25",
  "x-ms-sevsnpvm-is-debuggable":false,"x-ms-sevsnpvm-vmpl":0,"x-ms-sevsnpvm-guestsvn":2,
  "x-ms-sevsnpvm-microcode-svn":40,"x-ms-ver":"1.0",
  "x-ms-runtime":{"keys":[{"kid":"TpmEphemeralEncryptionKey","kty":"RSA","key_ops":["encrypt"]}]}})";

// Claims of a CVM token with the x-ms-isolation-tee object.
constexpr const char* kCvmClaims = R"({
  "iss":"https://sharedeus.eus.attest.azure.net","x-ms-attestation-type":"azurevm",
  "x-ms-azurevm-vmid":"b958dc88-e41d-47f1-8d20-e57b6b7e9825",
  "x-ms-isolation-tee":{"x-ms-attestation-type":"sevsnpvm","x-ms-compliance-status":"azure-compliant-cvm"}})";

json::ObjectPtr claimsOf(std::string_view text) {
  StatusOr<json::ObjectPtr> claims = json::parseObject(text);
  INFO(claims.status().toString());
  REQUIRE(claims.ok());
  return *claims;
}

// A copy of `claims` with `name` set to `value` (or removed when `value` is empty).
json::ObjectPtr with(const json::ObjectPtr& claims, const std::string& name, const Var& value) {
  json::ObjectPtr copy = new Poco::JSON::Object(*claims);
  if (value.isEmpty()) {
    copy->remove(name);
  } else {
    copy->set(name, value);
  }
  return copy;
}

json::ObjectPtr without(const json::ObjectPtr& claims, const std::string& name) {
  return with(claims, name, Var());
}

ReleasePolicy parseOk(std::string_view text) {
  StatusOr<ReleasePolicy> policy = ReleasePolicy::parse(text);
  INFO(policy.status().toString());
  REQUIRE(policy.ok());
  return std::move(policy).value();
}

std::string parseError(std::string_view text) {
  StatusOr<ReleasePolicy> policy = ReleasePolicy::parse(text);
  REQUIRE_FALSE(policy.ok());
  CHECK(policy.status().code() == StatusCode::InvalidArgument);
  return policy.status().message();
}

// A policy with one authority kMaa whose allOf holds `conditions` (comma-separated JSON).
std::string oneAuthority(const std::string& conditions) {
  return R"({"version":"1.0.0","anyOf":[{"authority":"https://sharedeus.eus.attest.azure.net","allOf":[)" +
         conditions + "]}]}";
}

// Evaluates `policy` against `claims` issued by kMaa.
PolicyDecision decide(const std::string& policy, const json::ObjectPtr& claims,
                      std::string_view issuer = kMaa) {
  return parseOk(policy).evaluate(claims, issuer);
}

void checkAllowed(const PolicyDecision& decision) {
  INFO(decision.reason);
  CHECK(decision.allowed);
}

void checkDenied(const PolicyDecision& decision, const std::string& reason) {
  CHECK_FALSE(decision.allowed);
  CHECK(decision.reason == reason);
}

// ---- the spec's examples ----

TEST_CASE("example (a) releases to a token with the ACI claims and names each differing claim",
          "[azure][policy]") {
  const ReleasePolicy policy = parseOk(kExampleA);
  const std::string issuer = "https://fabrikam1.wus.attest.azure.net";
  const json::ObjectPtr claims = claimsOf(kAciClaims);
  checkAllowed(policy.evaluate(claims, issuer));

  checkDenied(policy.evaluate(with(claims, "x-ms-attestation-type", "sgx"), issuer),
              "claim 'x-ms-attestation-type' is \"sgx\" but the policy requires \"sevsnpvm\" "
              "(at anyOf[0].allOf[0])");
  checkDenied(
      policy.evaluate(with(claims, "x-ms-compliance-status", "azure-compliant-cvm"), issuer),
      "claim 'x-ms-compliance-status' is \"azure-compliant-cvm\" but the policy requires "
      "\"azure-compliant-uvm\" (at anyOf[0].allOf[1])");
  checkDenied(
      policy.evaluate(with(claims, "x-ms-sevsnpvm-hostdata", std::string(kOtherHostData)), issuer),
      "claim 'x-ms-sevsnpvm-hostdata' is \"aaaaaaaaaaaaaaaa\u2026aaaaaaaa\" but the policy "
      "requires \"532eaabd9574880d\u20260f345e25\" (at anyOf[0].allOf[2])");
  checkDenied(policy.evaluate(without(claims, "x-ms-compliance-status"), issuer),
              "claim 'x-ms-compliance-status' is missing (at anyOf[0].allOf[1])");
}

TEST_CASE("example (b) releases with boolean and numeric claims written as strings",
          "[azure][policy]") {
  const ReleasePolicy policy = parseOk(kExampleB);
  const json::ObjectPtr claims = claimsOf(kAciClaims);
  checkAllowed(policy.evaluate(claims, kMaa));

  checkDenied(
      policy.evaluate(with(claims, "x-ms-sevsnpvm-hostdata", std::string(kOtherHostData)), kMaa),
      "claim 'x-ms-sevsnpvm-hostdata' is \"aaaaaaaaaaaaaaaa\u2026aaaaaaaa\" but the "
      "policy requires \"532eaabd9574880d\u20260f345e25\" (at anyOf[0].allOf[0])");
  checkDenied(
      policy.evaluate(with(claims, "x-ms-compliance-status", "azure-signed-katacc-uvm"), kMaa),
      "claim 'x-ms-compliance-status' is \"azure-signed-katacc-uvm\" but the policy "
      "requires \"azure-compliant-uvm\" (at anyOf[0].allOf[1])");
  checkDenied(policy.evaluate(with(claims, "x-ms-sevsnpvm-is-debuggable", true), kMaa),
              "claim 'x-ms-sevsnpvm-is-debuggable' is true but the policy requires \"false\" "
              "(at anyOf[0].allOf[2])");
  checkDenied(policy.evaluate(with(claims, "x-ms-sevsnpvm-vmpl", 1), kMaa),
              "claim 'x-ms-sevsnpvm-vmpl' is 1 but the policy requires \"0\" "
              "(at anyOf[0].allOf[3])");
}

TEST_CASE("example (c) matches either TEE type through its nested anyOf", "[azure][policy]") {
  const ReleasePolicy policy = parseOk(kExampleC);
  const json::ObjectPtr claims =
      with(claimsOf(kAciClaims), "x-ms-compliance-status", "azure-compliant-cvm");
  checkAllowed(policy.evaluate(claims, kMaa));
  checkAllowed(policy.evaluate(with(claims, "x-ms-attestation-type", "tdxvm"), kMaa));

  checkDenied(policy.evaluate(with(claims, "x-ms-attestation-type", "sgx"), kMaa),
              "claim 'x-ms-attestation-type' is \"sgx\" but the policy requires one of "
              "\"tdxvm\", \"sevsnpvm\" (at anyOf[0].allOf[1])");
  checkDenied(policy.evaluate(with(claims, "x-ms-compliance-status", "azure-compliant-uvm"), kMaa),
              "claim 'x-ms-compliance-status' is \"azure-compliant-uvm\" but the policy requires "
              "\"azure-compliant-cvm\" (at anyOf[0].allOf[0])");
  checkDenied(policy.evaluate(without(claims, "x-ms-attestation-type"), kMaa),
              "claim 'x-ms-attestation-type' is missing (at anyOf[0].allOf[1])");
}

TEST_CASE("example (d) reads nested claims by dot path under a top-level allOf",
          "[azure][policy]") {
  const ReleasePolicy policy = parseOk(kExampleD);
  const json::ObjectPtr claims = claimsOf(kCvmClaims);
  checkAllowed(policy.evaluate(claims, kMaa));

  json::ObjectPtr tee = claimsOf(R"({"x-ms-attestation-type":"tdxvm",
                                     "x-ms-compliance-status":"azure-compliant-cvm"})");
  checkDenied(policy.evaluate(with(claims, "x-ms-isolation-tee", tee), kMaa),
              "claim 'x-ms-isolation-tee.x-ms-attestation-type' is \"tdxvm\" but the policy "
              "requires \"sevsnpvm\" (at allOf[0].allOf[0])");
  tee = claimsOf(R"({"x-ms-attestation-type":"sevsnpvm","x-ms-compliance-status":"none"})");
  checkDenied(policy.evaluate(with(claims, "x-ms-isolation-tee", tee), kMaa),
              "claim 'x-ms-isolation-tee.x-ms-compliance-status' is \"none\" but the policy "
              "requires \"azure-compliant-cvm\" (at allOf[0].allOf[1])");
  checkDenied(policy.evaluate(with(claims, "x-ms-azurevm-vmid", "00000000-0000"), kMaa),
              "claim 'x-ms-azurevm-vmid' is \"00000000-0000\" but the policy requires "
              "\"b958dc88-e41d-47\u20266b7e9825\" (at allOf[0].allOf[2])");
  checkDenied(policy.evaluate(without(claims, "x-ms-isolation-tee"), kMaa),
              "claim 'x-ms-isolation-tee.x-ms-attestation-type' is missing "
              "(at allOf[0].allOf[0])");
}

// ---- authorities ----

TEST_CASE("the authority matches the issuer regardless of a trailing slash and host case",
          "[azure][policy]") {
  const json::ObjectPtr claims = claimsOf(R"({"x-ms-attestation-type":"sevsnpvm"})");
  const std::string condition = R"({"claim":"x-ms-attestation-type","equals":"sevsnpvm"})";
  const auto policyFor = [&](const std::string& authority) {
    return R"({"anyOf":[{"authority":")" + authority + R"(","allOf":[)" + condition + "]}]}";
  };
  checkAllowed(decide(policyFor("https://sharedeus.eus.attest.azure.net/"), claims, kMaa));
  checkAllowed(decide(policyFor("https://sharedeus.eus.attest.azure.net"), claims,
                      "https://sharedeus.eus.attest.azure.net/"));
  checkAllowed(decide(policyFor("HTTPS://SharedEUS.eus.Attest.Azure.net/"), claims, kMaa));
  checkAllowed(
      decide(policyFor("https://maa.example/Tenant/"), claims, "https://MAA.example/Tenant"));
  // The path keeps its case.
  checkDenied(decide(policyFor("https://maa.example/Tenant"), claims, "https://maa.example/tenant"),
              "no policy authority matches the token issuer \"https://maa.example/tenant\" "
              "(policy authorities: https://maa.example/Tenant)");
}

TEST_CASE("normalizeAuthority lower-cases scheme and host, keeps the path, drops one slash",
          "[azure][policy]") {
  CHECK(normalizeAuthority("HTTPS://Shared.EUS.attest.azure.net/") ==
        "https://shared.eus.attest.azure.net");
  CHECK(normalizeAuthority("https://Host:8443/Path/X/") == "https://host:8443/Path/X");
  CHECK(normalizeAuthority("http://localhost:8023/") == "http://localhost:8023");
  CHECK(normalizeAuthority("https://a//") == "https://a/");
  CHECK(normalizeAuthority("Bare.Host") == "bare.host");
  CHECK(normalizeAuthority("") == "");
}

TEST_CASE("a token from an authority the policy does not name is denied, listing the authorities",
          "[azure][policy]") {
  const std::string policy = R"({"anyOf":[
    {"authority":"https://a.attest.azure.net","allOf":[{"claim":"x","equals":1}]},
    {"authority":"https://b.attest.azure.net/","allOf":[{"claim":"x","equals":1}]},
    {"authority":"https://a.attest.azure.net","allOf":[{"claim":"x","equals":2}]}]})";
  checkDenied(decide(policy, claimsOf(R"({"x":1})"), "https://evil.example"),
              "no policy authority matches the token issuer \"https://evil.example\" (policy "
              "authorities: https://a.attest.azure.net, https://b.attest.azure.net/)");
  checkAllowed(decide(policy, claimsOf(R"({"x":2})"), "https://a.attest.azure.net"));
}

TEST_CASE("several statements for one authority: any may pass, the closest one is reported",
          "[azure][policy]") {
  const std::string policy = R"({"anyOf":[
    {"authority":"https://maa.example","allOf":[{"claim":"a","equals":1},{"claim":"b","equals":1}]},
    {"authority":"https://maa.example","allOf":[{"claim":"a","equals":2},{"claim":"c","equals":3}]}]})";
  checkAllowed(decide(policy, claimsOf(R"({"a":2,"c":3})"), "https://maa.example"));
  checkDenied(decide(policy, claimsOf(R"({"a":2,"c":4})"), "https://maa.example"),
              "claim 'c' is 4 but the policy requires 3 (at anyOf[1].allOf[1])");
  checkDenied(decide(policy, claimsOf(R"({"a":5})"), "https://maa.example"),
              "claim 'a' is 5 but the policy requires 1 (at anyOf[0].allOf[0])");
}

TEST_CASE("a top-level allOf over two authorities never passes with one token", "[azure][policy]") {
  // spec §3.2 point 2: every listed authority statement must hold, and a token has one issuer.
  const ReleasePolicy policy = parseOk(R"({"allOf":[
    {"authority":"https://a.example","allOf":[{"claim":"x","equals":1}]},
    {"authority":"https://b.example","allOf":[{"claim":"x","equals":1}]}]})");
  const json::ObjectPtr claims = claimsOf(R"({"x":1})");
  checkDenied(policy.evaluate(claims, "https://a.example"),
              "the policy's top-level allOf requires every authority statement to hold, but the "
              "token issuer \"https://a.example\" does not match the authority https://b.example "
              "of allOf[1] (a token has one issuer: a top-level allOf over several authorities "
              "never passes; use anyOf)");
  CHECK_FALSE(policy.evaluate(claims, "https://b.example").allowed);

  const ReleasePolicy single = parseOk(
      R"({"allOf":[{"authority":"https://a.example","allOf":[{"claim":"x","equals":1}]}]})");
  checkAllowed(single.evaluate(claims, "https://a.example/"));
  checkDenied(single.evaluate(claims, "https://b.example"),
              "the policy's top-level allOf requires every authority statement to hold, but the "
              "token issuer \"https://b.example\" does not match the authority https://a.example "
              "of allOf[0]");
}

// ---- condition trees ----

TEST_CASE("nested anyOf and allOf combine and report the closest failing alternative",
          "[azure][policy]") {
  const std::string policy = oneAuthority(R"(
    {"claim":"tee","equals":"sevsnpvm"},
    {"anyOf":[
      {"allOf":[{"claim":"svn","greaterOrEquals":3},{"claim":"vendor","equals":"amd"}]},
      {"allOf":[{"claim":"debug","equals":false},{"claim":"vendor","equals":"intel"},{"claim":"svn","greater":5}]}]})");
  checkAllowed(decide(policy, claimsOf(R"({"tee":"sevsnpvm","svn":3,"vendor":"amd"})")));
  checkAllowed(
      decide(policy, claimsOf(R"({"tee":"sevsnpvm","svn":6,"vendor":"intel","debug":false})")));
  // Second alternative satisfies two of three conditions, the first one of two.
  checkDenied(
      decide(policy, claimsOf(R"({"tee":"sevsnpvm","svn":2,"vendor":"intel","debug":false})")),
      "no alternative of the anyOf at anyOf[0].allOf[1] holds; the closest fails: claim 'svn' is "
      "2 but the policy requires a value greater than 5 (at anyOf[0].allOf[1].anyOf[1].allOf[2])");
  checkDenied(
      decide(policy, claimsOf(R"({"tee":"tdxvm","svn":3,"vendor":"amd"})")),
      "claim 'tee' is \"tdxvm\" but the policy requires \"sevsnpvm\" (at anyOf[0].allOf[0])");
}

TEST_CASE("an authority statement may hold an anyOf directly", "[azure][policy]") {
  const std::string policy =
      R"({"anyOf":[{"authority":"https://sharedeus.eus.attest.azure.net","anyOf":[{"claim":"a","equals":1},{"claim":"b","equals":2}]}]})";
  checkAllowed(decide(policy, claimsOf(R"({"b":2})")));
  checkDenied(decide(policy, claimsOf(R"({"a":3})")),
              "no alternative of the anyOf at anyOf[0] holds; the closest fails: claim 'a' is 3 "
              "but the policy requires 1 (at anyOf[0].anyOf[0])");
}

// ---- operators and coercion ----

TEST_CASE("equals compares canonical string forms of scalars", "[azure][policy]") {
  const auto equals = [](const std::string& value, const std::string& claim_json) {
    return decide(oneAuthority(R"({"claim":"c","equals":)" + value + "}"),
                  claimsOf(R"({"c":)" + claim_json + "}"))
        .allowed;
  };
  CHECK(equals(R"("false")", "false"));
  CHECK(equals("false", R"("false")"));
  CHECK(equals("true", "true"));
  CHECK(equals(R"("0")", "0"));
  CHECK(equals("0", R"("0")"));
  CHECK(equals("40", "40"));
  CHECK(equals("-3", R"("-3")"));
  CHECK(equals("1.0", "1"));  // the JSON number 1.0 is the number 1
  CHECK(equals("18446744073709551615", R"("18446744073709551615")"));
  CHECK(equals(R"("sevsnpvm")", R"("sevsnpvm")"));
  CHECK_FALSE(equals(R"("1.0")", "1"));  // strings compare as written
  CHECK_FALSE(equals(R"("00")", "0"));
  CHECK_FALSE(equals(R"("False")", "false"));
  CHECK_FALSE(equals("1", "true"));
  CHECK_FALSE(equals(R"("sevsnpvm")", R"("SEVSNPVM")"));
}

TEST_CASE("hex claims compare case-sensitively", "[azure][policy]") {
  std::string upper = kHostData;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const PolicyDecision decision =
      decide(oneAuthority(R"({"claim":"x-ms-sevsnpvm-hostdata","equals":")" + upper + "\"}"),
             claimsOf(kAciClaims));
  checkDenied(decision,
              "claim 'x-ms-sevsnpvm-hostdata' is \"532eaabd9574880d\u20260f345e25\" but the policy "
              "requires \"532EAABD9574880D\u20260F345E25\" (at anyOf[0].allOf[0])");
}

TEST_CASE("values that differ only in the elided middle say where they differ", "[azure][policy]") {
  std::string policy_value = kHostData;
  policy_value[30] = policy_value[30] == '0' ? '1' : '0';
  checkDenied(
      decide(oneAuthority(R"({"claim":"x-ms-sevsnpvm-hostdata","equals":")" + policy_value + "\"}"),
             claimsOf(kAciClaims)),
      "claim 'x-ms-sevsnpvm-hostdata' is \"532eaabd9574880d\u20260f345e25\" but the policy "
      "requires \"532eaabd9574880d\u20260f345e25\" (they differ at character 31) "
      "(at anyOf[0].allOf[0])");
}

TEST_CASE("notEquals holds for a different value and fails for the same or a missing claim",
          "[azure][policy]") {
  const std::string policy =
      oneAuthority(R"({"claim":"x-ms-sevsnpvm-is-debuggable","notEquals":"true"})");
  checkAllowed(decide(policy, claimsOf(R"({"x-ms-sevsnpvm-is-debuggable":false})")));
  checkDenied(decide(policy, claimsOf(R"({"x-ms-sevsnpvm-is-debuggable":true})")),
              "claim 'x-ms-sevsnpvm-is-debuggable' is true but the policy requires a value other "
              "than \"true\" (at anyOf[0].allOf[0])");
  checkDenied(decide(policy, claimsOf("{}")),
              "claim 'x-ms-sevsnpvm-is-debuggable' is missing (at anyOf[0].allOf[0])");
}

TEST_CASE("ordering operators compare numbers and numeric strings numerically", "[azure][policy]") {
  const auto holds = [](const std::string& op, const std::string& value,
                        const std::string& claim_json) {
    return decide(oneAuthority(R"({"claim":"c",")" + op + "\":" + value + "}"),
                  claimsOf(R"({"c":)" + claim_json + "}"))
        .allowed;
  };
  CHECK(holds("greater", "1", "2"));
  CHECK_FALSE(holds("greater", "2", "2"));
  CHECK(holds("greaterOrEquals", "2", "2"));
  CHECK_FALSE(holds("greaterOrEquals", "3", "2"));
  CHECK(holds("less", "10", "9"));
  CHECK_FALSE(holds("less", "9", "9"));
  CHECK(holds("lessOrEquals", "9", "9"));
  CHECK_FALSE(holds("lessOrEquals", "8", "9"));
  // Numeric strings on either side, compared as numbers, not text ("10" < "9" as text).
  CHECK(holds("greater", R"("9")", "10"));
  CHECK(holds("greater", "9", R"("10")"));
  CHECK(holds("greaterOrEquals", R"("1e1")", "10"));
  CHECK(holds("less", "0", R"("-0.5")"));
  CHECK(holds("less", "-1", "-2"));
  CHECK(holds("greater", "-2", "1"));
  CHECK(holds("greater", "1.5", "2"));
  CHECK(holds("lessOrEquals", "2", "1.999"));
  // 64-bit integers compare exactly (as doubles both would be 2^64).
  CHECK(holds("greater", "18446744073709551614", "18446744073709551615"));
  CHECK(holds("less", "9223372036854775807", "9223372036854775806"));
  CHECK(holds("less", R"("-9223372036854775806")", R"("-9223372036854775807")"));
  // Negative JSON numbers beyond -2^53 are not exact: Poco 1.11 parses them through a double.
  // Non-numbers never order.
  CHECK_FALSE(holds("greater", "1", R"("abc")"));
  CHECK_FALSE(holds("greater", "0", "true"));
  CHECK_FALSE(holds("greater", "1", R"("0x10")"));
  CHECK_FALSE(holds("greater", "1", R"(" 2")"));
  CHECK_FALSE(holds("greater", R"("abc")", R"("abd")"));
  CHECK_FALSE(holds("less", R"("1e999")", "5"));
}

TEST_CASE("ordering failures name the bound and which side is not a number", "[azure][policy]") {
  checkDenied(decide(oneAuthority(R"({"claim":"x-ms-sevsnpvm-guestsvn","greaterOrEquals":3})"),
                     claimsOf(kAciClaims)),
              "claim 'x-ms-sevsnpvm-guestsvn' is 2 but the policy requires a value at least 3 "
              "(at anyOf[0].allOf[0])");
  checkDenied(decide(oneAuthority(R"({"claim":"x-ms-sevsnpvm-guestsvn","less":"2"})"),
                     claimsOf(kAciClaims)),
              "claim 'x-ms-sevsnpvm-guestsvn' is 2 but the policy requires a value less than \"2\" "
              "(at anyOf[0].allOf[0])");
  checkDenied(decide(oneAuthority(R"({"claim":"x-ms-sevsnpvm-guestsvn","lessOrEquals":1})"),
                     claimsOf(kAciClaims)),
              "claim 'x-ms-sevsnpvm-guestsvn' is 2 but the policy requires a value at most 1 "
              "(at anyOf[0].allOf[0])");
  checkDenied(decide(oneAuthority(R"({"claim":"x-ms-attestation-type","greater":1})"),
                     claimsOf(kAciClaims)),
              "claim 'x-ms-attestation-type' is \"sevsnpvm\", which is not a number, but the "
              "policy requires a value greater than 1 (at anyOf[0].allOf[0])");
  checkDenied(decide(oneAuthority(R"({"claim":"x-ms-sevsnpvm-vmpl","greater":"high"})"),
                     claimsOf(kAciClaims)),
              "claim 'x-ms-sevsnpvm-vmpl' is 0 but the policy value \"high\" of 'greater' is not "
              "a number (at anyOf[0].allOf[0])");
}

TEST_CASE("dot paths reach into nested objects and nowhere else", "[azure][policy]") {
  const json::ObjectPtr claims =
      claimsOf(R"({"a":{"b":{"c":"deep"},"s":"text","arr":[1,2]},"a.b":"flat","n":null})");
  checkAllowed(decide(oneAuthority(R"({"claim":"a.b.c","equals":"deep"})"), claims));
  checkDenied(decide(oneAuthority(R"({"claim":"a.s.x","equals":"text"})"), claims),
              "claim 'a.s.x' is missing (at anyOf[0].allOf[0])");
  checkDenied(decide(oneAuthority(R"({"claim":"a.b","equals":"flat"})"), claims),
              "claim 'a.b' is an object, which a release policy cannot compare "
              "(at anyOf[0].allOf[0])");
  checkDenied(decide(oneAuthority(R"({"claim":"a.arr","equals":1})"), claims),
              "claim 'a.arr' is an array, which a release policy cannot compare "
              "(at anyOf[0].allOf[0])");
  checkDenied(decide(oneAuthority(R"({"claim":"a.arr.0","equals":1})"), claims),
              "claim 'a.arr.0' is missing (at anyOf[0].allOf[0])");
  checkDenied(decide(oneAuthority(R"({"claim":"n","notEquals":1})"), claims),
              "claim 'n' is null (at anyOf[0].allOf[0])");
}

TEST_CASE("exists holds for present non-null claims and exists false requires absence",
          "[azure][policy]") {
  const json::ObjectPtr claims = claimsOf(R"({"present":"", "obj":{"k":1}, "nul":null})");
  const std::string exists = oneAuthority(R"({"claim":"present","exists":true})");
  checkAllowed(decide(exists, claims));
  checkAllowed(decide(oneAuthority(R"({"claim":"obj","exists":"true"})"), claims));
  checkAllowed(decide(oneAuthority(R"({"claim":"obj.k","exists":true})"), claims));
  checkDenied(decide(oneAuthority(R"({"claim":"absent","exists":true})"), claims),
              "claim 'absent' is missing (at anyOf[0].allOf[0])");
  checkDenied(decide(oneAuthority(R"({"claim":"nul","exists":true})"), claims),
              "claim 'nul' is null (at anyOf[0].allOf[0])");
  checkAllowed(decide(oneAuthority(R"({"claim":"absent","exists":false})"), claims));
  checkAllowed(decide(oneAuthority(R"({"claim":"nul","exists":false})"), claims));
  checkDenied(decide(oneAuthority(R"({"claim":"present","exists":false})"), claims),
              "claim 'present' is present (\"\") but the policy requires it to be absent "
              "(at anyOf[0].allOf[0])");
  checkDenied(decide(oneAuthority(R"({"claim":"obj","exists":false})"), claims),
              "claim 'obj' is present (an object) but the policy requires it to be absent "
              "(at anyOf[0].allOf[0])");
}

TEST_CASE("the legacy condition/value form evaluates like the operator form", "[azure][policy]") {
  // swagger 7.5 / azure-sdk-for-js SKR tests (spec §3.1).
  const ReleasePolicy policy = parseOk(
      R"({"anyOf":[{"allOf":[{"claim":"x-ms-sgx-mrsigner","condition":"equals","value":"abcd"},
                             {"claim":"svn","condition":"greaterOrEquals","value":2}],
                   "authority":"http://localhost:8023/"}]})");
  checkAllowed(policy.evaluate(claimsOf(R"({"x-ms-sgx-mrsigner":"abcd","svn":2})"),
                               "http://localhost:8023"));
  checkDenied(
      policy.evaluate(claimsOf(R"({"x-ms-sgx-mrsigner":"abcd","svn":1})"), "http://localhost:8023"),
      "claim 'svn' is 1 but the policy requires a value at least 2 (at anyOf[0].allOf[1])");
}

TEST_CASE("reasons escape control characters and shorten long claim values", "[azure][policy]") {
  const json::ObjectPtr claims =
      claimsOf(R"({"c":"line1\nline2\u0007","long":"0123456789abcdefghijklmnopqrstuvwxyz"})");
  checkDenied(decide(oneAuthority(R"({"claim":"c","equals":"x"})"), claims),
              "claim 'c' is \"line1\\nline2\\u0007\" but the policy requires \"x\" "
              "(at anyOf[0].allOf[0])");
  checkDenied(decide(oneAuthority(R"({"claim":"long","equals":"x"})"), claims),
              "claim 'long' is \"0123456789abcdef\u2026stuvwxyz\" but the policy requires \"x\" "
              "(at anyOf[0].allOf[0])");
  // Multi-byte characters are never cut in half.
  const json::ObjectPtr utf8 = claimsOf(
      "{\"u\":"
      "\"\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"
      "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"
      "\u00e9\"}");
  const PolicyDecision decision = decide(oneAuthority(R"({"claim":"u","equals":"x"})"), utf8);
  CHECK(decision.reason ==
        "claim 'u' is \"\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"
        "\u00e9\u00e9\u00e9\u00e9\u2026\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\" but the "
        "policy requires \"x\" (at anyOf[0].allOf[0])");
}

TEST_CASE("a decision on a null claims object is a denial", "[azure][policy]") {
  checkDenied(parseOk(kExampleB).evaluate(json::ObjectPtr(), kMaa), "the token has no claims");
}

// ---- grammar ----

TEST_CASE("version may be absent, 1.0.0 or any 1.0.x", "[azure][policy]") {
  const std::string body =
      R"("anyOf":[{"authority":"https://a","allOf":[{"claim":"c","equals":1}]}])";
  parseOk("{" + body + "}");
  parseOk(R"({"version":"1.0.0",)" + body + "}");
  parseOk(R"({"version":"1.0.2",)" + body + "}");
  CHECK(parseError(R"({"version":"2.0.0",)" + body + "}") ==
        "release policy: version: \"2.0.0\" is not supported (expected \"1.0.0\")");
  CHECK(parseError(R"({"version":"1.0",)" + body + "}") ==
        "release policy: version: \"1.0\" is not supported (expected \"1.0.0\")");
  CHECK(parseError(R"({"version":"1.0.x",)" + body + "}") ==
        "release policy: version: \"1.0.x\" is not supported (expected \"1.0.0\")");
  CHECK(parseError(R"({"version":1,)" + body + "}") ==
        "release policy: version: expected a string, got a number");
}

TEST_CASE("every grammar error is InvalidArgument naming the JSON path", "[azure][policy]") {
  struct Case {
    std::string policy;
    std::string message;
  };
  const auto statement = [](const std::string& conditions) {
    return R"({"anyOf":[{"authority":"https://a","allOf":[)" + conditions + "]}]}";
  };
  const std::vector<Case> cases = {
      {"[]", "release policy: JSON: expected an object at the top level, got an array"},
      {"{", "release policy: JSON: unexpected end of text"},
      {"{}", "release policy: the top level has no 'anyOf' list of authority statements"},
      {R"({"anyOf":[],"allOf":[]})", "release policy: the top level has both 'allOf' and 'anyOf'"},
      {R"({"anyOf":[{"authority":"https://a","allOf":[{"claim":"c","equals":1}]}],"extra":1})",
       "release policy: unknown member \"extra\" at the top level (expected 'version' and "
       "'anyOf')"},
      {R"({"anyOf":[]})",
       "release policy: anyOf: is empty (at least one of the authority statements is required)"},
      {R"({"anyOf":{}})",
       "release policy: anyOf: expected an array of authority statements, got an object"},
      {R"({"anyOf":["https://a"]})",
       "release policy: anyOf[0]: an authority statement must be an object, got a string"},
      {R"({"anyOf":[{"allOf":[{"claim":"c","equals":1}]}]})",
       "release policy: anyOf[0]: authority statement has no 'authority'"},
      {R"({"anyOf":[{"authority":1,"allOf":[{"claim":"c","equals":1}]}]})",
       "release policy: anyOf[0].authority: expected a string, got a number"},
      {R"({"anyOf":[{"authority":"","allOf":[{"claim":"c","equals":1}]}]})",
       "release policy: anyOf[0].authority: is empty"},
      {R"({"anyOf":[{"authority":"https://a"}]})",
       "release policy: anyOf[0]: authority statement has neither 'anyOf' nor 'allOf'"},
      {R"({"anyOf":[{"authority":"https://a","allOf":[{"claim":"c","equals":1}],"anyOf":[{"claim":"c","equals":1}]}]})",
       "release policy: anyOf[0]: authority statement has both 'allOf' and 'anyOf' (exactly one "
       "is allowed)"},
      {R"({"anyOf":[{"authority":"https://a","claim":"c","allOf":[{"claim":"c","equals":1}]}]})",
       "release policy: anyOf[0]: unknown member \"claim\" in an authority statement (expected "
       "'authority' and one of 'anyOf' / 'allOf')"},
      {R"({"anyOf":[{"authority":"https://a","allOf":[]}]})",
       "release policy: anyOf[0].allOf: is empty (at least one of the conditions is required)"},
      {R"({"anyOf":[{"authority":"https://a","allOf":"c"}]})",
       "release policy: anyOf[0].allOf: expected an array of conditions, got a string"},
      {statement(R"({"claim":"c","equals":1},{"claim":"c","equals":1},[])"),
       "release policy: anyOf[0].allOf[2]: a condition must be an object, got an array"},
      {statement(
           R"({"claim":"c","equals":1},{"claim":"c","equals":1},{"claim":"c","equals":1,"greater":0})"),
       "release policy: anyOf[0].allOf[2]: condition has both 'equals' and 'greater' (exactly "
       "one operator is allowed)"},
      {statement(R"({"claim":"c"})"),
       "release policy: anyOf[0].allOf[0]: condition on claim 'c' has no operator (expected one "
       "of equals, notEquals, less, lessOrEquals, greater, greaterOrEquals, exists)"},
      {statement(R"({"claim":"c","equal":1})"),
       "release policy: anyOf[0].allOf[0]: unknown member \"equal\" in a condition (expected "
       "'claim' with one of equals, notEquals, less, lessOrEquals, greater, greaterOrEquals, "
       "exists, or 'anyOf' / 'allOf')"},
      {statement(R"({"equals":1})"),
       "release policy: anyOf[0].allOf[0]: condition has neither 'claim' nor 'anyOf' / 'allOf'"},
      {statement(R"({"claim":7,"equals":1})"),
       "release policy: anyOf[0].allOf[0].claim: expected a string, got a number"},
      {statement(R"({"claim":"","equals":1})"),
       "release policy: anyOf[0].allOf[0].claim: is empty"},
      {statement(R"({"claim":"a..b","equals":1})"),
       "release policy: anyOf[0].allOf[0].claim: claim name 'a..b' has an empty segment in its "
       "dot path"},
      {statement(R"({"claim":"a.","equals":1})"),
       "release policy: anyOf[0].allOf[0].claim: claim name 'a.' has an empty segment in its dot "
       "path"},
      {statement(R"({"claim":"c","equals":{"x":1}})"),
       "release policy: anyOf[0].allOf[0].equals: objects aren't allowed as values"},
      {statement(R"({"claim":"c","notEquals":[1]})"),
       "release policy: anyOf[0].allOf[0].notEquals: arrays aren't allowed as values"},
      {statement(R"({"claim":"c","equals":null})"),
       "release policy: anyOf[0].allOf[0].equals: null isn't allowed as a value"},
      {statement(R"({"claim":"c","exists":1})"),
       "release policy: anyOf[0].allOf[0].exists: expected true or false, got 1"},
      {statement(R"({"claim":"c","exists":"yes"})"),
       "release policy: anyOf[0].allOf[0].exists: expected true or false, got \"yes\""},
      {statement(R"({"anyOf":[{"claim":"c","equals":1}],"allOf":[{"claim":"c","equals":1}]})"),
       "release policy: anyOf[0].allOf[0]: condition has both 'allOf' and 'anyOf'"},
      {statement(R"({"anyOf":[{"claim":"c","equals":1}],"claim":"c"})"),
       "release policy: anyOf[0].allOf[0]: condition has both 'anyOf' and 'claim'"},
      {statement(R"({"anyOf":[{"claim":"c","equals":1}],"equals":1})"),
       "release policy: anyOf[0].allOf[0]: condition has both 'anyOf' and 'equals'"},
      {statement(R"({"anyOf":[]})"),
       "release policy: anyOf[0].allOf[0].anyOf: is empty (at least one of the conditions is "
       "required)"},
      {statement(R"({"allOf":[{"claim":"c","equals":1},{"anyOf":[{"claim":"c","equals":{}}]}]})"),
       "release policy: anyOf[0].allOf[0].allOf[1].anyOf[0].equals: objects aren't allowed as "
       "values"},
      // Legacy form.
      {statement(R"({"claim":"c","condition":"equals"})"),
       "release policy: anyOf[0].allOf[0]: legacy condition has 'condition' but no 'value'"},
      {statement(R"({"claim":"c","value":1})"),
       "release policy: anyOf[0].allOf[0]: legacy condition has 'value' but no 'condition'"},
      {statement(R"({"claim":"c","condition":"eq","value":1})"),
       "release policy: anyOf[0].allOf[0].condition: \"eq\" is not an operator (expected one of "
       "equals, notEquals, less, lessOrEquals, greater, greaterOrEquals, exists)"},
      {statement(R"({"claim":"c","condition":1,"value":1})"),
       "release policy: anyOf[0].allOf[0].condition: expected an operator name, got a number"},
      {statement(R"({"claim":"c","condition":"equals","value":{}})"),
       "release policy: anyOf[0].allOf[0].value: objects aren't allowed as values"},
      {statement(R"({"claim":"c","equals":1,"condition":"equals","value":1})"),
       "release policy: anyOf[0].allOf[0]: condition has both 'equals' and the legacy "
       "'condition'"},
  };
  for (const Case& c : cases) {
    INFO(c.policy);
    CHECK(parseError(c.policy) == c.message);
  }
}

TEST_CASE("duplicate members are rejected by the JSON layer", "[azure][policy]") {
  CHECK_THAT(
      parseError(
          R"({"anyOf":[{"authority":"https://a","allOf":[{"claim":"c","equals":1,"equals":2}]}]})"),
      Catch::StartsWith("release policy: JSON: duplicate member name"));
}

// ---- limits ----

// A policy whose authority list holds `levels` nested condition lists (the authority's own is 1).
std::string nestedPolicy(int levels) {
  std::string inner = R"({"claim":"c","equals":1})";
  for (int i = 1; i < levels; ++i) inner = R"({"anyOf":[)" + inner + "]}";
  return R"({"anyOf":[{"authority":"https://a","allOf":[)" + inner + "]}]}";
}

TEST_CASE("conditions may nest 16 levels deep and no deeper", "[azure][policy]") {
  const ReleasePolicy policy = parseOk(nestedPolicy(kMaxReleasePolicyDepth));
  checkAllowed(policy.evaluate(claimsOf(R"({"c":1})"), "https://a"));

  std::string path = "anyOf[0].allOf[0]";
  for (int i = 2; i < kMaxReleasePolicyDepth + 1; ++i) path += ".anyOf[0]";
  CHECK(parseError(nestedPolicy(kMaxReleasePolicyDepth + 1)) ==
        "release policy: " + path + ".anyOf: conditions are nested deeper than 16 levels");
  CHECK_THAT(parseError(nestedPolicy(40)),
             Catch::StartsWith("release policy: JSON: nesting at offset") &&
                 Catch::EndsWith("exceeds the depth limit of 64"));
}

TEST_CASE("a policy may hold 1024 conditions and no more", "[azure][policy]") {
  const auto withClaims = [](std::size_t n) {
    std::string conditions;
    for (std::size_t i = 0; i < n; ++i) {
      if (i > 0) conditions += ",";
      conditions += R"({"claim":"c","equals":1})";
    }
    return R"({"anyOf":[{"authority":"https://a","allOf":[)" + conditions + "]}]}";
  };
  // The authority's allOf counts as one condition.
  parseOk(withClaims(kMaxReleasePolicyConditions - 1));
  CHECK(parseError(withClaims(kMaxReleasePolicyConditions)) ==
        "release policy: anyOf[0].allOf[1023]: the policy has more than 1024 conditions");
}

TEST_CASE("a policy above 64 KiB is refused before parsing", "[azure][policy]") {
  std::string policy = oneAuthority(R"({"claim":"c","equals":1})");
  policy += std::string(kMaxReleasePolicyBytes - policy.size(), ' ');
  parseOk(policy);
  policy += " ";
  CHECK(parseError(policy) ==
        "release policy: the policy is 65537 bytes, above the limit of 65536 bytes");
}

// ---- canonical form ----

TEST_CASE("canonicalJson sorts members, drops whitespace and re-parses to itself",
          "[azure][policy]") {
  const ReleasePolicy policy = parseOk(kExampleC);
  CHECK(policy.canonicalJson() ==
        R"({"anyOf":[{"allOf":[{"claim":"x-ms-compliance-status","equals":"azure-compliant-cvm"},)"
        R"({"anyOf":[{"claim":"x-ms-attestation-type","equals":"tdxvm"},)"
        R"({"claim":"x-ms-attestation-type","equals":"sevsnpvm"}]}],)"
        R"("authority":"https://sharedeus.eus.attest.azure.net/"}],"version":"1.0.0"})");
  CHECK(parseOk(policy.canonicalJson()).canonicalJson() == policy.canonicalJson());
  CHECK(policy.authorities() ==
        std::vector<std::string>{"https://sharedeus.eus.attest.azure.net/"});
}

// ---- generation ----

TEST_CASE("the generated ACI policy has exactly the SIDECAR shape", "[azure][policy]") {
  StatusOr<std::string> policy = makeAciReleasePolicy(kMaa, kHostData);
  REQUIRE(policy.ok());
  CHECK(
      *policy ==
      R"({"anyOf":[{"allOf":[)"
      R"({"claim":"x-ms-sevsnpvm-hostdata","equals":"532eaabd9574880dbf76b9b8cc00832c20a6ec113d682299550d7a6e0f345e25"},)"
      R"({"claim":"x-ms-compliance-status","equals":"azure-compliant-uvm"},)"
      R"({"claim":"x-ms-sevsnpvm-is-debuggable","equals":"false"},)"
      R"({"claim":"x-ms-sevsnpvm-vmpl","equals":"0"}],)"
      R"("authority":"https://sharedeus.eus.attest.azure.net"}],"version":"1.0.0"})");
  // Same policy as the spec's example (b).
  CHECK(*policy == parseOk(kExampleB).canonicalJson());
}

TEST_CASE("the generated ACI policy parses and releases to a token with matching claims",
          "[azure][policy]") {
  StatusOr<std::string> text = makeAciReleasePolicy(kMaa, kHostData);
  REQUIRE(text.ok());
  const ReleasePolicy policy = parseOk(*text);
  const json::ObjectPtr claims = claimsOf(kAciClaims);
  checkAllowed(policy.evaluate(claims, kMaa));
  checkDenied(
      policy.evaluate(with(claims, "x-ms-sevsnpvm-hostdata", std::string(kOtherHostData)), kMaa),
      "claim 'x-ms-sevsnpvm-hostdata' is \"aaaaaaaaaaaaaaaa\u2026aaaaaaaa\" but the "
      "policy requires \"532eaabd9574880d\u20260f345e25\" (at anyOf[0].allOf[0])");
}

TEST_CASE("makeAciReleasePolicy prefixes https, lower-cases hex and can drop compliance",
          "[azure][policy]") {
  std::string upper = kHostData;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  StatusOr<std::string> text = makeAciReleasePolicy("sharedeus.eus.attest.azure.net", upper,
                                                    /*require_uvm_compliance=*/false);
  REQUIRE(text.ok());
  CHECK(
      *text ==
      R"({"anyOf":[{"allOf":[)"
      R"({"claim":"x-ms-sevsnpvm-hostdata","equals":"532eaabd9574880dbf76b9b8cc00832c20a6ec113d682299550d7a6e0f345e25"},)"
      R"({"claim":"x-ms-sevsnpvm-is-debuggable","equals":"false"},)"
      R"({"claim":"x-ms-sevsnpvm-vmpl","equals":"0"}],)"
      R"("authority":"https://sharedeus.eus.attest.azure.net"}],"version":"1.0.0"})");
  checkAllowed(
      parseOk(*text).evaluate(without(claimsOf(kAciClaims), "x-ms-compliance-status"), kMaa));
}

TEST_CASE("makeAciReleasePolicy refuses an empty authority and malformed hostdata",
          "[azure][policy]") {
  StatusOr<std::string> empty = makeAciReleasePolicy("", kHostData);
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.status().message() == "ACI release policy: the authority (MAA endpoint) is empty");
  StatusOr<std::string> short_hex = makeAciReleasePolicy(kMaa, "abcd");
  REQUIRE_FALSE(short_hex.ok());
  CHECK(short_hex.status().code() == StatusCode::InvalidArgument);
  CHECK(short_hex.status().message() ==
        "ACI release policy: hostdata must be 64 hex digits (SHA-256 of the CCE policy), got 4 "
        "characters");
  std::string bad = kHostData;
  bad[10] = 'g';
  StatusOr<std::string> not_hex = makeAciReleasePolicy(kMaa, bad);
  REQUIRE_FALSE(not_hex.ok());
  CHECK(not_hex.status().message() ==
        "ACI release policy: hostdata has a non-hex character at offset 10");
}

// ---- wire form ----

json::ObjectPtr wireObject(const std::string& data, const std::string& extra = "") {
  return claimsOf(R"({"contentType":"application/json; charset=utf-8","data":")" + data + "\"" +
                  extra + "}");
}

TEST_CASE("toWireBase64Url is unpadded base64url of the policy bytes", "[azure][policy]") {
  CHECK(toWireBase64Url("{\"a\":\"?\?>\"}") == "eyJhIjoiPz8-In0");
  StatusOr<Bytes> decoded = encoding::base64UrlDecode(toWireBase64Url(kExampleB));
  REQUIRE(decoded.ok());
  CHECK(toString(*decoded) == kExampleB);
}

TEST_CASE("fromWire accepts base64url and standard base64 data", "[azure][policy]") {
  const std::string canonical = parseOk(kExampleB).canonicalJson();
  StatusOr<ReleasePolicy> url = ReleasePolicy::fromWire(wireObject(toWireBase64Url(kExampleB)));
  INFO(url.status().toString());
  REQUIRE(url.ok());
  CHECK(url->canonicalJson() == canonical);
  checkAllowed(url->evaluate(claimsOf(kAciClaims), kMaa));

  // tests/skr/key.py sends standard base64 with padding. The value's aligned "~~~" and "???"
  // encode as "fn5+" and "Pz8/", the trailing newline forces padding.
  const std::string text =
      oneAuthority(R"({"claim":"c","equals":"~~~~~~)" + std::string(6, '?') + "\"}") + "\n";
  const std::string standard = encoding::base64Encode(asBytes(text));
  REQUIRE(standard.find('+') != std::string::npos);
  REQUIRE(standard.find('/') != std::string::npos);
  REQUIRE(standard.back() == '=');
  StatusOr<ReleasePolicy> std_b64 =
      ReleasePolicy::fromWire(wireObject(standard, R"(,"immutable":false)"));
  INFO(std_b64.status().toString());
  REQUIRE(std_b64.ok());
  CHECK(std_b64->canonicalJson() == parseOk(text).canonicalJson());
  checkAllowed(std_b64->evaluate(claimsOf(R"({"c":"~~~~~~)" + std::string(6, '?') + "\"}"), kMaa));

  StatusOr<ReleasePolicy> no_content_type =
      ReleasePolicy::fromWire(claimsOf("{\"data\":\"" + toWireBase64Url(kExampleB) + "\"}"));
  CHECK(no_content_type.ok());
}

TEST_CASE("fromWire errors name the wire member or the policy path", "[azure][policy]") {
  const auto wireError = [](const json::ObjectPtr& wire) {
    StatusOr<ReleasePolicy> policy = ReleasePolicy::fromWire(wire);
    REQUIRE_FALSE(policy.ok());
    CHECK(policy.status().code() == StatusCode::InvalidArgument);
    return policy.status().message();
  };
  CHECK(wireError(json::ObjectPtr()) == "release_policy: expected an object");
  CHECK(wireError(claimsOf(R"({"contentType":"application/json"})")) ==
        "release_policy: 'data' is missing");
  CHECK(wireError(claimsOf(R"({"data":5})")) ==
        "release_policy: 'data' must be a string, got a "
        "number");
  CHECK(wireError(claimsOf(R"({"contentType":"text/plain","data":"e30"})")) ==
        "release_policy: 'contentType' \"text/plain\" is not application/json");
  CHECK(wireError(claimsOf(R"({"data":"e30","immutable":"yes"})")) ==
        "release_policy: 'immutable' must be a boolean, got a string");
  CHECK(wireError(claimsOf(R"({"data":"e30","policy":"x"})")) ==
        "release_policy: unknown member \"policy\" (expected 'contentType', 'data' and "
        "'immutable')");
  CHECK_THAT(wireError(wireObject("e30*")), Catch::StartsWith("release_policy: 'data' is not "
                                                              "base64url: "));
  CHECK(wireError(wireObject(toWireBase64Url(R"({"anyOf":[]})"))) ==
        "release_policy.data: release policy: anyOf: is empty (at least one of the authority "
        "statements is required)");
}

}  // namespace
}  // namespace skr::azure
