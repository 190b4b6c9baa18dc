#include "common/snp/report.h"

#include <Poco/JSON/Parser.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <iterator>
#include <string>

#include "common/encoding/hex.h"
#include "common/json/json.h"
#include "common/snp/report_json.h"

namespace skr::snp {
namespace {

Bytes readBytes(const std::string& relative) {
  std::ifstream in(std::string(SKR_TEST_DATA_DIR) + "/" + relative, std::ios::binary);
  REQUIRE(in.good());
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

json::ObjectPtr readJson(const std::string& relative) {
  const Bytes text = readBytes(relative);
  StatusOr<json::ObjectPtr> obj = json::parseObject(toString(text));
  REQUIRE(obj.ok());
  return *obj;
}

// expected.json keeps TCBs as {bootloader, tee, snp, microcode, raw}.
void checkTcb(const json::ObjectPtr& rendered, const json::ObjectPtr& expected) {
  for (const char* k : {"bootloader", "tee", "snp", "microcode"}) {
    INFO(k);
    CHECK(rendered->getValue<int>(k) == expected->getValue<int>(k));
  }
  CHECK(rendered->getValue<std::string>("raw") == expected->getValue<std::string>("raw"));
  CHECK_FALSE(rendered->has("fmc"));
}

void checkFixture(const std::string& dir) {
  const Bytes raw = readBytes(dir + "/report.bin");
  const json::ObjectPtr fields = readJson(dir + "/expected.json")->getObject("fields");
  StatusOr<SnpReport> report = SnpReport::parse(raw);
  REQUIRE(report.ok());
  const json::ObjectPtr out = reportToJson(*report);

  for (const char* k : {"version", "guest_svn", "vmpl", "signature_algo"}) {
    INFO(k);
    CHECK(out->getValue<uint64_t>(k) == fields->getValue<uint64_t>(k));
  }
  for (const char* k : {"policy", "platform_info", "family_id", "image_id", "report_data",
                        "measurement", "host_data", "id_key_digest", "author_key_digest",
                        "report_id", "report_id_ma", "chip_id"}) {
    INFO(k);
    CHECK(out->getValue<std::string>(k) == fields->getValue<std::string>(k));
  }
  for (const char* k : {"current_tcb", "reported_tcb", "committed_tcb", "launch_tcb"}) {
    INFO(k);
    checkTcb(out->getObject(k), fields->getObject(k));
  }
  CHECK(out->getValue<std::string>("signing_key") == "vcek");
  CHECK(static_cast<int>(report->signingKey()) ==
        fields->getValue<int>("signing_key(bits2-4 of 0x48)"));
  CHECK(hex64(report->signer_info).substr(10) ==
        fields->getValue<std::string>("flags_0x48").substr(2));
  CHECK(encoding::hexEncode(report->signature_r) == fields->getValue<std::string>("sig_r_le"));
  CHECK(encoding::hexEncode(report->signature_s) == fields->getValue<std::string>("sig_s_le"));
  const std::string current = fields->getValue<std::string>("current_build.minor.major");
  CHECK(std::to_string(report->current_version.build) + "." +
            std::to_string(report->current_version.minor) + "." +
            std::to_string(report->current_version.major) ==
        current);
  const std::string committed = fields->getValue<std::string>("committed_build.minor.major");
  CHECK(std::to_string(report->committed_version.build) + "." +
            std::to_string(report->committed_version.minor) + "." +
            std::to_string(report->committed_version.major) ==
        committed);
  // Serialization is the exact inverse of parsing.
  CHECK(report->serialize() == raw);
}

TEST_CASE("the ACI Milan fixture report parses to every expected field") {
  checkFixture("snp/aci-milan-v2");
}

TEST_CASE("the go-sev-guest Milan fixture report parses to every expected field") {
  checkFixture("snp/gosevguest-milan-v2");
}

TEST_CASE("named policy and platform bits of the ACI fixture") {
  StatusOr<SnpReport> r = SnpReport::parse(readBytes("snp/aci-milan-v2/report.bin"));
  REQUIRE(r.ok());
  CHECK(r->policy.abiMajor() == 0);
  CHECK(r->policy.abiMinor() == 0x1f);
  CHECK(r->policy.smt());
  CHECK(r->policy.reservedBit17());
  CHECK_FALSE(r->policy.debug());
  CHECK_FALSE(r->policy.migrateMa());
  CHECK(r->platform_info.smtEnabled());
  CHECK_FALSE(r->platform_info.tsmeEnabled());
  CHECK(r->generation() == Generation::Unknown);  // v2 carries no CPUID
  const std::string text = reportToText(*r);
  CHECK(text.find("host_data            "
                  "cadd74f71ebb8fbf9782baab649612520f3c416bc5ce9ac768808ddc8d9b031c") !=
        std::string::npos);
  CHECK(text.find("policy               0x000000000003001f abi=0.31 smt,reserved17") !=
        std::string::npos);
}

TEST_CASE("reports of the wrong size are rejected with both sizes in the message") {
  Bytes raw = readBytes("snp/aci-milan-v2/report.bin");
  for (std::size_t size :
       {std::size_t{0}, std::size_t{1183}, std::size_t{1185}, std::size_t{4000}}) {
    Bytes b = raw;
    b.resize(size);
    StatusOr<SnpReport> r = SnpReport::parse(b);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == StatusCode::InvalidArgument);
    CHECK(r.status().message() ==
          "SNP report is " + std::to_string(size) + " bytes, expected 1184");
  }
}

TEST_CASE("report versions other than 2, 3 and 5 are rejected") {
  Bytes raw = readBytes("snp/aci-milan-v2/report.bin");
  for (uint8_t v : {0, 1, 4, 6, 255}) {
    raw[0] = v;
    StatusOr<SnpReport> r = SnpReport::parse(raw);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message() ==
          "SNP report version " + std::to_string(v) + " is not supported (2, 3, 5)");
  }
  for (uint8_t v : {2, 3, 5}) {
    raw[0] = v;
    CHECK(SnpReport::parse(raw).ok());
  }
}

TEST_CASE("v3 CPUID fields select the generation and Turin's TCB layout") {
  Bytes raw = readBytes("snp/aci-milan-v2/report.bin");
  raw[0] = 3;
  raw[0x188] = 0x1a;  // family 0x1A: Turin
  raw[0x189] = 0x02;
  // Turin TCB: fmc=1 bl=2 tee=3 snp=4 ... ucode=0x55 at byte 7.
  const uint8_t turin_tcb[8] = {1, 2, 3, 4, 0, 0, 0, 0x55};
  std::copy(std::begin(turin_tcb), std::end(turin_tcb), raw.begin() + 0x180);
  StatusOr<SnpReport> r = SnpReport::parse(raw);
  REQUIRE(r.ok());
  CHECK(r->generation() == Generation::Turin);
  const TcbVersion t = r->reportedTcb();
  CHECK(t.fmc == 1);
  CHECK(t.bootloader == 2);
  CHECK(t.tee == 3);
  CHECK(t.snp == 4);
  CHECK(t.microcode == 0x55);
  const json::ObjectPtr tcb = reportToJson(*r)->getObject("reported_tcb");
  CHECK(tcb->getValue<int>("fmc") == 1);
  CHECK(tcb->getValue<std::string>("raw") == "0x5500000004030201");
  CHECK(r->serialize() == raw);

  raw[0x188] = 0x19;
  raw[0x189] = 0x11;
  CHECK(SnpReport::parse(raw)->generation() == Generation::Genoa);
  raw[0x189] = 0x01;
  CHECK(SnpReport::parse(raw)->generation() == Generation::Milan);
}

TEST_CASE("TcbVersion compose and decode are inverse for both layouts") {
  const TcbVersion milan = TcbVersion::compose(Generation::Milan, 3, 0, 8, 115);
  CHECK(milan.raw == 0x7308000000000003ULL);
  CHECK(TcbVersion::decode(milan.raw, Generation::Milan) == milan);
  const TcbVersion turin = TcbVersion::compose(Generation::Turin, 2, 3, 4, 0x55, 1);
  CHECK(turin.raw == 0x5500000004030201ULL);
  CHECK(turin.fmc == 1);
  CHECK(turin.snp == 4);
}

TEST_CASE("signing key selector comes from bits 4:2 at 0x48") {
  Bytes raw = readBytes("snp/aci-milan-v2/report.bin");
  raw[0x48] = 1 << 2;
  StatusOr<SnpReport> r = SnpReport::parse(raw);
  REQUIRE(r.ok());
  CHECK(r->signingKey() == SigningKey::Vlek);
  CHECK(reportToJson(*r)->getValue<std::string>("signing_key") == "vlek");
  raw[0x48] = (7 << 2) | 3;
  r = SnpReport::parse(raw);
  CHECK(r->signingKey() == SigningKey::None);
  CHECK(r->authorKeyEnabled());
  CHECK(r->maskChipKey());
  raw[0x48] = 3 << 2;
  CHECK(reportToJson(*SnpReport::parse(raw))->getValue<std::string>("signing_key") ==
        "reserved(3)");
}

TEST_CASE("generation names from products") {
  CHECK(generationFromProductName("Milan-B0") == Generation::Milan);
  CHECK(generationFromProductName("Genoa") == Generation::Genoa);
  CHECK(generationFromProductName("Turin") == Generation::Turin);
  CHECK(generationFromProductName("Naples") == Generation::Unknown);
  CHECK(generationName(Generation::Turin) == "Turin");
}

}  // namespace
}  // namespace skr::snp
