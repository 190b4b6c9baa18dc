#include "common/snp/hostdata.h"

#include <catch2/catch.hpp>
#include <string>

#include "common/crypto/digest.h"
#include "common/encoding/base64.h"
#include "common/encoding/hex.h"
#include "common/snp/report.h"
#include "tests/unit/snp/amd_test_pki.h"

namespace skr::snp {
namespace {

constexpr const char* kAciHostData =
    "cadd74f71ebb8fbf9782baab649612520f3c416bc5ce9ac768808ddc8d9b031c";

std::string hexOf(const HostData& h) {
  return encoding::hexEncode(ByteView(h));
}

std::string fixturePolicy() {
  return toString(skr::testing::readTestData("snp/aci-milan-v2/security_policy.base64"));
}

TEST_CASE("hostdata of the ACI policy file equals the report's HOST_DATA", "[snp][hostdata]") {
  StatusOr<HostData> from_file = hostDataFromPolicyFile(std::string(SKR_TEST_DATA_DIR) +
                                                        "/snp/aci-milan-v2/security_policy.base64");
  INFO(from_file.status().toString());
  REQUIRE(from_file.ok());
  CHECK(hexOf(*from_file) == kAciHostData);

  StatusOr<SnpReport> report =
      SnpReport::parse(skr::testing::readTestData("snp/aci-milan-v2/report.bin"));
  REQUIRE(report.ok());
  CHECK(*from_file == report->host_data);
}

TEST_CASE("hostdata ignores surrounding and embedded whitespace and accepts missing padding",
          "[snp][hostdata]") {
  std::string policy = fixturePolicy();
  while (!policy.empty() && (policy.back() == '\n' || policy.back() == '=')) policy.pop_back();
  std::string wrapped = "  \n";
  for (std::size_t i = 0; i < policy.size(); i += 76) wrapped += policy.substr(i, 76) + "\r\n";
  StatusOr<HostData> h = hostDataFromPolicyBase64(wrapped);
  INFO(h.status().toString());
  REQUIRE(h.ok());
  CHECK(hexOf(*h) == kAciHostData);
}

TEST_CASE("hostdata of empty or non-base64 text is InvalidArgument", "[snp][hostdata]") {
  StatusOr<HostData> empty = hostDataFromPolicyBase64(" \n");
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.status().code() == StatusCode::InvalidArgument);
  CHECK(empty.status().message() == "CCE policy: the base64 text is empty");

  StatusOr<HostData> bad = hostDataFromPolicyBase64("cGFja2FnZ*");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == StatusCode::InvalidArgument);
  CHECK_THAT(bad.status().message(), Catch::StartsWith("CCE policy is not valid base64: "));
}

TEST_CASE("hostdata of a missing policy file is NotFound naming the path", "[snp][hostdata]") {
  StatusOr<HostData> h = hostDataFromPolicyFile("/nonexistent/skr/policy.base64");
  REQUIRE_FALSE(h.ok());
  CHECK(h.status().code() == StatusCode::NotFound);
  CHECK_THAT(h.status().message(), Catch::Contains("/nonexistent/skr/policy.base64"));
}

TEST_CASE("hostdata of an ARM template's ccePolicy equals the report's HOST_DATA",
          "[snp][hostdata]") {
  StatusOr<HostData> h =
      hostDataFromArmTemplate(toString(skr::testing::readTestData("arm/aci_cce_policy.json")));
  INFO(h.status().toString());
  REQUIRE(h.ok());
  CHECK(hexOf(*h) == kAciHostData);
}

TEST_CASE("an ARM template whose ccePolicy is a parameter expression is refused clearly",
          "[snp][hostdata]") {
  StatusOr<HostData> h = hostDataFromArmTemplate(
      toString(skr::testing::readTestData("arm/aci_cce_policy_parameter.json")));
  REQUIRE_FALSE(h.ok());
  CHECK(h.status().code() == StatusCode::InvalidArgument);
  CHECK_THAT(h.status().message(),
             Catch::Contains("resources[1].properties.confidentialComputeProperties.ccePolicy is "
                             "the ARM expression \"[parameters('ccePolicy')]\""));
}

TEST_CASE("an ARM template without ccePolicy is NotFound", "[snp][hostdata]") {
  StatusOr<HostData> h = hostDataFromArmTemplate(
      R"({"resources":[{"type":"Microsoft.ContainerInstance/containerGroups","properties":{}}]})");
  REQUIRE_FALSE(h.ok());
  CHECK(h.status().code() == StatusCode::NotFound);
  CHECK(h.status().message() ==
        "ARM template has no resources[*].properties.confidentialComputeProperties.ccePolicy");
}

TEST_CASE("an ARM template with two different ccePolicy values is refused, equal ones agree",
          "[snp][hostdata]") {
  auto group = [](const std::string& policy) {
    return R"({"type":"Microsoft.ContainerInstance/containerGroups","properties":{)"
           R"("confidentialComputeProperties":{"ccePolicy":")" +
           policy + R"("}}})";
  };
  const std::string a = encoding::base64Encode(asBytes("package policy\n"));
  const std::string b = encoding::base64Encode(asBytes("package other\n"));
  StatusOr<HostData> differ =
      hostDataFromArmTemplate("{\"resources\":[" + group(a) + "," + group(b) + "]}");
  REQUIRE_FALSE(differ.ok());
  CHECK(differ.status().code() == StatusCode::InvalidArgument);
  CHECK_THAT(differ.status().message(),
             Catch::Contains("2 different ccePolicy values (resources[0].properties."
                             "confidentialComputeProperties and resources[1].properties."
                             "confidentialComputeProperties)"));

  StatusOr<HostData> same =
      hostDataFromArmTemplate("{\"resources\":[" + group(a) + "," + group(a) + "]}");
  REQUIRE(same.ok());
  CHECK(hexOf(*same) == encoding::hexEncode(crypto::sha256(asBytes("package policy\n"))));
}

}  // namespace
}  // namespace skr::snp
