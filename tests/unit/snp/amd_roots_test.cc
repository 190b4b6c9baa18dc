#include "common/snp/amd_roots.h"

#include <catch2/catch.hpp>
#include <set>
#include <string>

#include "common/encoding/hex.h"
#include "common/json/json.h"
#include "tests/unit/snp/amd_test_pki.h"

namespace skr::snp {
namespace {

TEST_CASE("every embedded AMD certificate's pin equals fingerprints.json and the fixture file",
          "[snp][amd_roots]") {
  StatusOr<json::ObjectPtr> fingerprints =
      json::parseObject(toString(skr::testing::readTestData("amd/fingerprints.json")));
  REQUIRE(fingerprints.ok());
  REQUIRE(pinnedAmdCertificates().size() == 9);
  std::set<std::string> seen;
  for (const PinnedAmdCertificate& p : pinnedAmdCertificates()) {
    const std::string file(p.file_name);
    INFO(file);
    seen.insert(file);
    StatusOr<json::ObjectPtr> entry = json::getObject(*fingerprints, file);
    REQUIRE(entry.ok());
    StatusOr<std::string> pin = json::getString(*entry, "sha256_der");
    REQUIRE(pin.ok());
    CHECK(std::string(p.sha256_hex) == *pin);
    CHECK(encoding::hexEncode(p.certificate.sha256Fingerprint()) == *pin);
    // Embedded byte for byte.
    CHECK(toBytes(p.pem) == skr::testing::readTestData("amd/" + file));
    StatusOr<std::string> cn = json::getString(*entry, "subject_cn");
    REQUIRE(cn.ok());
    CHECK(p.certificate.subjectCommonName() == *cn);
  }
  CHECK(seen.size() == 9);
}

TEST_CASE("pinned certificates are found by generation and role", "[snp][amd_roots]") {
  auto milan_ark = pinnedAmdCertificate(Generation::Milan, AmdKeyRole::Ark);
  REQUIRE(milan_ark.ok());
  CHECK(milan_ark->subjectCommonName() == "ARK-Milan");
  auto genoa_asvk = pinnedAmdCertificate(Generation::Genoa, AmdKeyRole::Asvk);
  REQUIRE(genoa_asvk.ok());
  CHECK(genoa_asvk->subjectCommonName() == "SEV-VLEK-Genoa");
  auto turin_ask = pinnedAmdCertificate(Generation::Turin, AmdKeyRole::Ask);
  REQUIRE(turin_ask.ok());
  CHECK(turin_ask->subjectCommonName() == "SEV-Turin");
  auto unknown = pinnedAmdCertificate(Generation::Unknown, AmdKeyRole::Ark);
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.status().code() == StatusCode::NotFound);
}

TEST_CASE("each pinned intermediate is signed by its generation's pinned ARK", "[snp][amd_roots]") {
  for (Generation g : {Generation::Milan, Generation::Genoa, Generation::Turin}) {
    INFO(generationName(g));
    auto ark = pinnedAmdCertificate(g, AmdKeyRole::Ark);
    REQUIRE(ark.ok());
    CHECK(ark->verifySignedBy(*ark).ok());
    for (AmdKeyRole role : {AmdKeyRole::Ask, AmdKeyRole::Asvk}) {
      auto cert = pinnedAmdCertificate(g, role);
      REQUIRE(cert.ok());
      CHECK(cert->verifySignedBy(*ark).ok());
    }
  }
}

TEST_CASE("findPinnedAmdCertificate matches by SHA-256 of the DER only", "[snp][amd_roots]") {
  auto ark = pinnedAmdCertificate(Generation::Genoa, AmdKeyRole::Ark);
  REQUIRE(ark.ok());
  const PinnedAmdCertificate* found = findPinnedAmdCertificate(ark->sha256Fingerprint());
  REQUIRE(found != nullptr);
  CHECK(found->generation == Generation::Genoa);
  CHECK(found->role == AmdKeyRole::Ark);
  Bytes other = ark->sha256Fingerprint();
  other[0] ^= 1;
  CHECK(findPinnedAmdCertificate(other) == nullptr);
}

}  // namespace
}  // namespace skr::snp
