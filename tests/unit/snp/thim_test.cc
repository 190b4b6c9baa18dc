#include "common/snp/thim.h"

#include <catch2/catch.hpp>
#include <string>

#include "common/encoding/base64.h"
#include "tests/unit/snp/amd_test_pki.h"

namespace skr::snp {
namespace {

std::string fixtureThimJson() {
  return toString(skr::testing::readTestData("snp/aci-milan-v2/thim.json"));
}

std::string thimJson(const std::string& tcbm, const std::string& extra = "") {
  StatusOr<crypto::Certificate> vcek = crypto::Certificate::fromPem(
      toString(skr::testing::readTestData("snp/aci-milan-v2/vcek.pem")));
  REQUIRE(vcek.ok());
  std::string pem = vcek->toPem();
  std::string escaped;
  for (char c : pem) escaped += c == '\n' ? std::string("\\n") : std::string(1, c);
  return "{\"vcekCert\":\"" + escaped + "\",\"tcbm\":\"" + tcbm + "\"" + extra + "}";
}

TEST_CASE("the ACI fixture THIM JSON parses to its VCEK, ASK+ARK chain, tcbm and cacheControl",
          "[snp][thim]") {
  StatusOr<ThimCertification> thim = parseThimJson(fixtureThimJson());
  INFO(thim.status().toString());
  REQUIRE(thim.ok());
  CHECK(thim->vcek.subjectCommonName() == "SEV-VCEK");
  REQUIRE(thim->chain.size() == 2);
  CHECK(thim->chain[0].subjectCommonName() == "SEV-Milan");
  CHECK(thim->chain[1].subjectCommonName() == "ARK-Milan");
  CHECK(thim->tcbm == "7308000000000003");
  CHECK(thim->tcbm_value == 0x7308000000000003ULL);
  CHECK(thim->cache_control_seconds == std::optional<uint32_t>(86400));
}

TEST_CASE("host-amd-cert-base64 content (base64 of the THIM JSON, trailing newline) parses",
          "[snp][thim]") {
  const std::string b64 = encoding::base64Encode(asBytes(fixtureThimJson())) + "\n";
  StatusOr<ThimCertification> thim = parseHostAmdCert(b64);
  INFO(thim.status().toString());
  REQUIRE(thim.ok());
  CHECK(thim->tcbm_value == 0x7308000000000003ULL);
  // Raw JSON is accepted as well.
  CHECK(parseHostAmdCert("  " + fixtureThimJson()).ok());
}

TEST_CASE("THIM JSON without certificateChain or cacheControl parses with an empty chain",
          "[snp][thim]") {
  StatusOr<ThimCertification> thim = parseThimJson(thimJson("7308000000000003"));
  INFO(thim.status().toString());
  REQUIRE(thim.ok());
  CHECK(thim->chain.empty());
  CHECK_FALSE(thim->cache_control_seconds.has_value());
}

TEST_CASE("malformed THIM JSON is rejected naming the member", "[snp][thim]") {
  struct Case {
    std::string json;
    StatusCode code;
    std::string message_part;
  };
  const Case cases[] = {
      {"{\"tcbm\":\"7308000000000003\"}", StatusCode::NotFound, "vcekCert"},
      {thimJson("73080000000003"), StatusCode::InvalidArgument,
       "'tcbm' is 14 characters, expected 16 hex digits"},
      {thimJson("7308000000000g03"), StatusCode::InvalidArgument,
       "'tcbm': character at offset 13 is not a hex digit"},
      {thimJson("7308000000000003", ",\"cacheControl\":86400"), StatusCode::InvalidArgument,
       "cacheControl"},
      {thimJson("7308000000000003", ",\"cacheControl\":\"86a00\""), StatusCode::InvalidArgument,
       "'cacheControl': character at offset 2 is not a decimal digit"},
      {thimJson("7308000000000003", ",\"cacheControl\":\"1234567890\""),
       StatusCode::InvalidArgument, "'cacheControl' is 10 characters"},
      {thimJson("7308000000000003", ",\"certificateChain\":\"-----BEGIN CERTIFICATE-----\\nAAA\""),
       StatusCode::InvalidArgument, "certificateChain"},
      {"{\"vcekCert\":\"not a pem\",\"tcbm\":\"7308000000000003\"}", StatusCode::InvalidArgument,
       "vcekCert"},
      {"[1,2]", StatusCode::InvalidArgument, "THIM JSON"},
      {"", StatusCode::InvalidArgument, "THIM JSON"},
  };
  for (const Case& c : cases) {
    INFO(c.json.substr(0, 80));
    StatusOr<ThimCertification> thim = parseThimJson(c.json);
    REQUIRE_FALSE(thim.ok());
    CHECK(thim.status().code() == c.code);
    CHECK_THAT(thim.status().message(), Catch::Contains(c.message_part));
  }
}

TEST_CASE("oversized THIM input is ResourceExhausted before parsing", "[snp][thim]") {
  const std::string big(kMaxThimJsonBytes + 1, ' ');
  StatusOr<ThimCertification> thim = parseThimJson(big);
  REQUIRE_FALSE(thim.ok());
  CHECK(thim.status().code() == StatusCode::ResourceExhausted);
  CHECK(thim.status().message() == "THIM JSON is 65537 bytes, limit 65536");

  const std::string big_b64(200 * 1024, 'A');
  StatusOr<ThimCertification> from_file = parseHostAmdCert(big_b64);
  REQUIRE_FALSE(from_file.ok());
  CHECK(from_file.status().code() == StatusCode::ResourceExhausted);
}

TEST_CASE("host-amd-cert-base64 that is not base64 is InvalidArgument", "[snp][thim]") {
  StatusOr<ThimCertification> thim = parseHostAmdCert("not*base64");
  REQUIRE_FALSE(thim.ok());
  CHECK(thim.status().code() == StatusCode::InvalidArgument);
  CHECK_THAT(thim.status().message(), Catch::StartsWith("host-amd-cert-base64: "));
}

}  // namespace
}  // namespace skr::snp
