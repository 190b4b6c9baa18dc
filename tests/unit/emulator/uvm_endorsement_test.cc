// COSE_Sign1 UVM endorsements (RFC 9052; spec/azure-wire.md §5.1) as the emulated MAA reads them.
#include "emulator/uvm_endorsement.h"

#include <catch2/catch.hpp>
#include <string>

#include "common/encoding/hex.h"
#include "tests/fakes/test_pki.h"
#include "tests/fakes/uvm_endorsement_builder.h"

namespace skr::emulator {
namespace {

const std::string kMeasurement(
    "51068107cdc7ee3d89c7821b05bca6147eb77b2005ae759050fc049b65a1b0beabc65a9d857acecf23225f5ec76849"
    "f5");

struct Signer {
  skr::testing::TestCa root = skr::testing::TestCa::create("UVM root");
  skr::testing::IssuedCertificate leaf = [this] {
    skr::testing::CertificateProfile p = skr::testing::profile("UVM signer");
    p.key_type = skr::testing::TestKeyType::EcP384;
    return root.issue(p);
  }();
  skr::testing::UvmEndorsementSpec spec() const {
    skr::testing::UvmEndorsementSpec s;
    s.launch_measurement_hex = kMeasurement;
    s.x5chain = {leaf.certificate, root.certificate()};
    return s;
  }
};

TEST_CASE("a COSE_Sign1 reference-info parses, names its feed and issuer, and verifies",
          "[emulator][cose]") {
  Signer signer;
  for (bool tagged : {true, false}) {
    skr::testing::UvmEndorsementSpec spec = signer.spec();
    spec.tagged = tagged;
    StatusOr<UvmEndorsement> e =
        UvmEndorsement::parse(skr::testing::makeUvmEndorsement(spec, signer.leaf.key));
    INFO(e.status().toString());
    REQUIRE(e.ok());
    CHECK(e->alg == -35);
    CHECK(e->launch_measurement_hex == kMeasurement);
    CHECK(e->guest_svn == std::optional<std::string>("2"));
    CHECK(e->feed == std::optional<std::string>("ContainerPlat-AMD-UVM"));
    CHECK_THAT(e->issuer.value_or(""), Catch::StartsWith("did:x509:0:sha256:"));
    REQUIRE(e->x5chain.size() == 2);
    CHECK(e->verifySignature().ok());
  }
}

TEST_CASE("a COSE_Sign1 signed by another key, or with a chain that does not link, fails",
          "[emulator][cose]") {
  Signer signer;
  Signer other;
  skr::testing::UvmEndorsementSpec spec = signer.spec();
  StatusOr<UvmEndorsement> wrong_key =
      UvmEndorsement::parse(skr::testing::makeUvmEndorsement(spec, other.leaf.key));
  REQUIRE(wrong_key.ok());
  CHECK(wrong_key->verifySignature().code() == StatusCode::DataLoss);

  spec.x5chain = {signer.leaf.certificate, other.root.certificate()};
  StatusOr<UvmEndorsement> unlinked =
      UvmEndorsement::parse(skr::testing::makeUvmEndorsement(spec, signer.leaf.key));
  REQUIRE(unlinked.ok());
  Status s = unlinked->verifySignature();
  CHECK(s.code() == StatusCode::DataLoss);
  CHECK_THAT(s.message(), Catch::Contains("x5chain[0] is not signed by x5chain[1]"));

  // PS256 claimed for an EC key.
  StatusOr<UvmEndorsement> misfit =
      UvmEndorsement::parse(skr::testing::makeUvmEndorsement(signer.spec(), signer.leaf.key));
  REQUIRE(misfit.ok());
  misfit->alg = -37;
  CHECK(misfit->verifySignature().code() == StatusCode::InvalidArgument);
}

TEST_CASE("every truncation and structural damage of a COSE_Sign1 is an InvalidArgument",
          "[emulator][cose]") {
  Signer signer;
  const Bytes good = skr::testing::makeUvmEndorsement(signer.spec(), signer.leaf.key);
  for (std::size_t n = 0; n < good.size(); ++n) {
    StatusOr<UvmEndorsement> e = UvmEndorsement::parse(ByteView(good).first(n));
    REQUIRE_FALSE(e.ok());
    CHECK(e.status().code() == StatusCode::InvalidArgument);
  }
  Bytes trailing = good;
  trailing.push_back(0);
  CHECK_THAT(UvmEndorsement::parse(trailing).status().message(), Catch::Contains("trailing"));

  Bytes wrong_tag = good;
  wrong_tag[0] = 0xd1;  // tag 17 (COSE_Mac0)
  CHECK_THAT(UvmEndorsement::parse(wrong_tag).status().message(),
             Catch::Contains("expected 18 (COSE_Sign1)"));

  // An indefinite-length array: not produced by COSE encoders, refused.
  CHECK_THAT(UvmEndorsement::parse(Bytes{0xd2, 0x9f, 0xff}).status().message(),
             Catch::Contains("indefinite"));
  // [h'a10126', {}, nil, h'']: a detached payload.
  CHECK_THAT(UvmEndorsement::parse(Bytes{0x84, 0x43, 0xa1, 0x01, 0x26, 0xa0, 0xf6, 0x40})
                 .status()
                 .message(),
             Catch::Contains("detached"));
  // A protected header without alg.
  CHECK_THAT(
      UvmEndorsement::parse(Bytes{0x84, 0x41, 0xa0, 0xa0, 0x42, '{', '}', 0x40}).status().message(),
      Catch::Contains("no alg"));

  skr::testing::UvmEndorsementSpec no_measurement = signer.spec();
  no_measurement.payload_json = R"({"x-ms-sevsnpvm-guestsvn":"1"})";
  CHECK_THAT(
      UvmEndorsement::parse(skr::testing::makeUvmEndorsement(no_measurement, signer.leaf.key))
          .status()
          .message(),
      Catch::StartsWith("UVM endorsement payload:"));
  no_measurement.payload_json = R"({"x-ms-sevsnpvm-launchmeasurement":"abcd"})";
  CHECK_THAT(
      UvmEndorsement::parse(skr::testing::makeUvmEndorsement(no_measurement, signer.leaf.key))
          .status()
          .message(),
      Catch::Contains("not 48 bytes of hex"));
}

TEST_CASE("Sig_structure is the RFC 9052 CBOR array", "[emulator][cose]") {
  // ["Signature1", h'A10126', h'', h'7B7D'] (protected {1: -7}, payload "{}").
  const Bytes expected = {0x84, 0x6a, 'S',  'i',  'g',  'n',  'a',  't',  'u', 'r',
                          'e',  '1',  0x43, 0xa1, 0x01, 0x26, 0x40, 0x42, '{', '}'};
  CHECK(coseSign1SigStructure(Bytes{0xa1, 0x01, 0x26}, asBytes("{}")) == expected);
}

}  // namespace
}  // namespace skr::emulator
