#include "common/snp/vcek_extensions.h"

#include <catch2/catch.hpp>
#include <string>
#include <variant>

#include "common/encoding/hex.h"
#include "tests/unit/snp/amd_test_pki.h"

namespace skr::snp {
namespace {

using skr::testing::amdVcekExtensions;
using skr::testing::mintCertificate;
using skr::testing::RawExtension;
using skr::testing::readTestData;

crypto::Certificate fixtureVcek(const std::string& path) {
  StatusOr<crypto::Certificate> cert = crypto::Certificate::fromPemOrDer(readTestData(path));
  REQUIRE(cert.ok());
  return *cert;
}

Bytes hex(std::string_view text) {
  StatusOr<Bytes> b = encoding::hexDecode(text);
  REQUIRE(b.ok());
  return *b;
}

TEST_CASE("the ACI fixture VCEK's extensions parse to Milan-B0 with TCB bl=3 tee=0 snp=8 ucode=115",
          "[snp][vcek]") {
  StatusOr<VcekExtensions> ext = parseVcekExtensions(fixtureVcek("snp/aci-milan-v2/vcek.pem"));
  INFO(ext.status().toString());
  REQUIRE(ext.ok());
  CHECK(ext->struct_version == std::optional<uint32_t>(0));
  CHECK(ext->product_name == "Milan-B0");
  CHECK(ext->generation == Generation::Milan);
  CHECK(ext->bl_spl == 3);
  CHECK(ext->tee_spl == 0);
  CHECK(ext->snp_spl == 8);
  CHECK(ext->ucode_spl == 115);
  CHECK_FALSE(ext->fmc_spl.has_value());
  CHECK(ext->tcb.raw == 0x7308000000000003ULL);
  REQUIRE(ext->hwid.has_value());
  CHECK(encoding::hexEncode(*ext->hwid) ==
        "b12164b45a2a27426e04ab52c5781d404fe2eab35ef5c4f714ce0fc23d2fb3f3e65631710244a4edfad1916"
        "16be3366e48a6352b35128d748458bc9c282d0f5a");
  CHECK(describeTcb(ext->tcb) == "bl=3 tee=0 snp=8 ucode=115");
}

TEST_CASE("the go-sev-guest fixture VCEK (DER) parses to TCB bl=2 tee=0 snp=5 ucode=68",
          "[snp][vcek]") {
  StatusOr<VcekExtensions> ext =
      parseVcekExtensions(fixtureVcek("snp/gosevguest-milan-v2/vcek.der"));
  INFO(ext.status().toString());
  REQUIRE(ext.ok());
  CHECK(ext->tcb.raw == 0x4405000000000002ULL);
  REQUIRE(ext->hwid.has_value());
  CHECK(encoding::hexEncode(*ext->hwid).starts_with("3ac3fe21e13fb099"));
}

TEST_CASE("extension values decode by OID", "[snp][vcek]") {
  auto spl = parseVcekExtensionValue(kOidBlSpl, Bytes{0x02, 0x01, 0x03});
  REQUIRE(spl.ok());
  CHECK(std::get<uint32_t>(*spl) == 3);

  auto big = parseVcekExtensionValue(kOidUcodeSpl, Bytes{0x02, 0x02, 0x00, 0xd5});
  REQUIRE(big.ok());
  CHECK(std::get<uint32_t>(*big) == 213);

  auto name = parseVcekExtensionValue(kOidProductName, hex("16084d696c616e2d4230"));
  REQUIRE(name.ok());
  CHECK(std::get<std::string>(*name) == "Milan-B0");

  Bytes raw(64, 0xab);
  auto hwid_raw = parseVcekExtensionValue(kOidHwid, raw);
  REQUIRE(hwid_raw.ok());
  CHECK(std::get<Bytes>(*hwid_raw) == raw);

  Bytes wrapped(66, 0xab);
  wrapped[0] = 0x04;
  wrapped[1] = 0x40;
  auto hwid_wrapped = parseVcekExtensionValue(kOidHwid, wrapped);
  REQUIRE(hwid_wrapped.ok());
  CHECK(std::get<Bytes>(*hwid_wrapped) == raw);

  auto turin = parseVcekExtensionValue(kOidHwid, Bytes{0x04, 0x08, 1, 2, 3, 4, 5, 6, 7, 8});
  REQUIRE(turin.ok());
  CHECK(std::get<Bytes>(*turin) == Bytes{1, 2, 3, 4, 5, 6, 7, 8});
}

TEST_CASE("malformed extension values are InvalidArgument naming the OID", "[snp][vcek]") {
  struct Case {
    std::string_view oid;
    Bytes der;
    std::string message_part;
  };
  const Case cases[] = {
      {kOidBlSpl, {0x02, 0x01, 0x80}, "negative INTEGER"},
      {kOidBlSpl, {0x02, 0x02, 0x00, 0x05}, "not in minimal DER form"},
      {kOidBlSpl, {0x02, 0x02, 0x01, 0x00}, "value 256 is out of range (max 255)"},
      {kOidBlSpl, {0x02, 0x00}, "empty INTEGER"},
      {kOidBlSpl, {0x02, 0x01}, "DER length says 1 content bytes, value has 0"},
      {kOidBlSpl, {0x02, 0x01, 0x03, 0x00}, "DER length says 1 content bytes, value has 2"},
      {kOidBlSpl, {0x04, 0x01, 0x03}, "expected INTEGER (0x02)"},
      {kOidBlSpl, {0x02, 0x80, 0x03, 0x00, 0x00}, "indefinite length"},
      {kOidBlSpl, {0x02, 0x81, 0x01, 0x03}, "not in minimal DER form"},
      {kOidBlSpl, {0x02, 0x84, 0x00, 0x00, 0x00, 0x01, 0x03}, "length uses 4 octets"},
      {kOidBlSpl, {0x02}, "expected a DER element of at least 2"},
      {kOidBlSpl, {0x1f, 0x81, 0x01, 0x00}, "multi-byte DER tags"},
      {kOidStructVersion, {0x02, 0x05, 0x01, 0x00, 0x00, 0x00, 0x00}, "out of range"},
      {kOidProductName, {0x0c, 0x02, 'M', 'i'}, "expected IA5String (0x16)"},
      {kOidProductName, {0x16, 0x00}, "0 characters, expected 1..64"},
      {kOidProductName, {0x16, 0x02, 'M', 0x00}, "not printable ASCII"},
      {kOidHwid, Bytes(63, 0x01), "expected the 64-byte (Turin: 8-byte) chip ID"},
      {kOidHwid, Bytes{0x04, 0x07, 1, 2, 3, 4, 5, 6, 7}, "expected the 64-byte"},
      {"1.3.6.1.4.1.3704.1.9", {0x02, 0x01, 0x00}, "not one of AMD's known extensions"},
  };
  for (const Case& c : cases) {
    INFO(std::string(c.oid) << " " << encoding::hexEncode(c.der));
    auto v = parseVcekExtensionValue(c.oid, c.der);
    REQUIRE_FALSE(v.ok());
    CHECK(v.status().code() == StatusCode::InvalidArgument);
    CHECK_THAT(v.status().message(), Catch::Contains(c.message_part));
    CHECK_THAT(v.status().message(), Catch::Contains(std::string(c.oid)));
  }
}

TEST_CASE("a certificate without productName or with an unknown product is rejected",
          "[snp][vcek]") {
  std::vector<RawExtension> exts = amdVcekExtensions("Milan-B0", 3, 0, 8, 115, Bytes(64, 1));
  exts.erase(exts.begin() + 1);  // productName
  auto no_name = mintCertificate("SEV-VCEK", "SEV-Milan", nullptr, exts);
  auto e1 = parseVcekExtensions(no_name.certificate);
  REQUIRE_FALSE(e1.ok());
  CHECK_THAT(e1.status().message(),
             Catch::Contains("productName (1.3.6.1.4.1.3704.1.2) is missing"));
  CHECK_THAT(e1.status().message(), Catch::Contains("CN=SEV-VCEK"));

  auto unknown = mintCertificate("SEV-VCEK", "SEV-Milan", nullptr,
                                 amdVcekExtensions("Rome-B0", 3, 0, 8, 115, Bytes(64, 1)));
  auto e2 = parseVcekExtensions(unknown.certificate);
  REQUIRE_FALSE(e2.ok());
  CHECK_THAT(e2.status().message(), Catch::Contains("'Rome-B0' names no known SEV-SNP generation"));
}

TEST_CASE("a certificate missing a required SPL is rejected naming it", "[snp][vcek]") {
  std::vector<RawExtension> exts = amdVcekExtensions("Genoa", 3, 0, 8, 115, Bytes(64, 1));
  std::erase_if(exts, [](const RawExtension& e) { return e.oid == "1.3.6.1.4.1.3704.1.3.8"; });
  auto cert = mintCertificate("SEV-VCEK", "SEV-Genoa", nullptr, exts);
  auto ext = parseVcekExtensions(cert.certificate);
  REQUIRE_FALSE(ext.ok());
  CHECK(ext.status().code() == StatusCode::InvalidArgument);
  CHECK_THAT(ext.status().message(),
             Catch::Contains("ucodeSPL (1.3.6.1.4.1.3704.1.3.8) is missing"));
}

TEST_CASE("a Turin certificate needs fmcSPL and composes the Turin TCB layout", "[snp][vcek]") {
  std::vector<RawExtension> exts = amdVcekExtensions("Turin-B0", 1, 2, 4, 82, Bytes(8, 0x6b));
  auto without_fmc = mintCertificate("SEV-VCEK", "SEV-Turin", nullptr, exts);
  auto e1 = parseVcekExtensions(without_fmc.certificate);
  REQUIRE_FALSE(e1.ok());
  CHECK_THAT(e1.status().message(), Catch::Contains("fmcSPL (1.3.6.1.4.1.3704.1.3.9) is missing"));

  exts.push_back({"1.3.6.1.4.1.3704.1.3.9", skr::testing::derInteger(5)});
  auto with_fmc = mintCertificate("SEV-VCEK", "SEV-Turin", nullptr, exts);
  auto e2 = parseVcekExtensions(with_fmc.certificate);
  INFO(e2.status().toString());
  REQUIRE(e2.ok());
  CHECK(e2->generation == Generation::Turin);
  // ucode<<56 | snp<<24 | tee<<16 | bl<<8 | fmc
  CHECK(e2->tcb.raw == 0x5200000004020105ULL);
  CHECK(describeTcb(e2->tcb) == "fmc=5 bl=1 tee=2 snp=4 ucode=82");
  REQUIRE(e2->hwid.has_value());
  CHECK(e2->hwid->size() == 8);
}

TEST_CASE("a Milan certificate with an 8-byte hwID is rejected", "[snp][vcek]") {
  auto cert = mintCertificate("SEV-VCEK", "SEV-Milan", nullptr,
                              amdVcekExtensions("Milan-B0", 3, 0, 8, 115, Bytes(8, 1)));
  auto ext = parseVcekExtensions(cert.certificate);
  REQUIRE_FALSE(ext.ok());
  CHECK_THAT(ext.status().message(), Catch::Contains("hwID (1.3.6.1.4.1.3704.1.4) is 8 bytes"));
}

TEST_CASE("a VLEK-style certificate without hwID parses with no hwid", "[snp][vcek]") {
  auto cert = mintCertificate("SEV-VLEK", "SEV-VLEK-Milan", nullptr,
                              amdVcekExtensions("Milan-B0", 3, 0, 8, 115, std::nullopt));
  auto ext = parseVcekExtensions(cert.certificate);
  INFO(ext.status().toString());
  REQUIRE(ext.ok());
  CHECK_FALSE(ext->hwid.has_value());
}

TEST_CASE("reserved SPLs 4..7 land in TCB bytes 2..5 on Milan", "[snp][vcek]") {
  std::vector<RawExtension> exts = amdVcekExtensions("Milan-B0", 3, 0, 8, 115, Bytes(64, 1));
  for (auto& e : exts) {
    if (e.oid == "1.3.6.1.4.1.3704.1.3.5") e.value = skr::testing::derInteger(9);
  }
  auto cert = mintCertificate("SEV-VCEK", "SEV-Milan", nullptr, exts);
  auto ext = parseVcekExtensions(cert.certificate);
  REQUIRE(ext.ok());
  CHECK(ext->spl5 == 9);
  CHECK(ext->tcb.raw == 0x7308000009000003ULL);
}

}  // namespace
}  // namespace skr::snp
