// The emulated MAA's request parsing, evidence checks and claim mapping (spec/azure-wire.md §1),
// on the real ACI fixture report (tests/data/snp/aci-milan-v2) and on that report re-signed by a
// minted (non-AMD) chain.
#include "emulator/maa_attestation.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <iterator>
#include <set>
#include <string>

#include "common/crypto/digest.h"
#include "common/encoding/base64.h"
#include "common/encoding/hex.h"
#include "common/json/json.h"
#include "tests/fakes/test_pki.h"
#include "tests/fakes/uvm_endorsement_builder.h"
#include "tests/unit/snp/amd_test_pki.h"

namespace skr::emulator {
namespace {

using skr::testing::MintedChain;
using skr::testing::mintMilanChain;
using skr::testing::readTestData;
using skr::testing::utcTime;

const std::string kRuntime =
    R"({"keys":[{"e":"AQAB","key_ops":["encrypt"],"kid":"TransferKey","kty":"RSA","n":"ur08"}],"Zeta":{"B":1,"a":[true,null]}})";

json::ObjectPtr expectedFields() {
  StatusOr<json::ObjectPtr> e =
      json::parseObject(toString(readTestData("snp/aci-milan-v2/expected.json")));
  REQUIRE(e.ok());
  return e.value()->getObject("fields");
}

// The body the confidential-sidecar sends (§1.2); `encode` picks the base64 flavour of each field.
struct BodySpec {
  BodySpec(Bytes r, std::string chain) : report(std::move(r)), chain_pem(std::move(chain)) {}
  Bytes report;
  std::string chain_pem;
  std::string runtime = kRuntime;
  std::string runtime_type = "JSON";
  std::optional<std::string> init_time;
  std::string nonce_json;  // raw JSON value, e.g. "\"abc\"" or "12345"
  std::vector<Bytes> uvm;
  bool padded = false;
};

std::string b64(ByteView b, bool padded) {
  if (!padded) return encoding::base64UrlEncode(b);
  std::string s = encoding::base64UrlEncode(b);
  while (s.size() % 4 != 0) s.push_back('=');
  return s;
}

std::string body(const BodySpec& s) {
  std::string inner = "{\n  \"SnpReport\": \"" + b64(s.report, s.padded) +
                      "\",\n  \"VcekCertChain\": \"" + b64(asBytes(s.chain_pem), s.padded) + "\"";
  if (!s.uvm.empty()) {
    std::string uvm = R"({"Uvm":[)";
    for (std::size_t i = 0; i < s.uvm.size(); ++i) {
      uvm += (i ? ",\"" : "\"") + b64(s.uvm[i], s.padded) + "\"";
    }
    uvm += "]}";
    inner += ",\n  \"Endorsements\": \"" + b64(asBytes(uvm), s.padded) + "\"";
  }
  inner += "\n}";
  std::string out = R"({"report":")" + b64(asBytes(inner), s.padded) +
                    R"(","runtimeData":{"data":")" + b64(asBytes(s.runtime), s.padded) +
                    R"(","dataType":")" + s.runtime_type + "\"}";
  if (s.init_time) {
    out += R"(,"initTimeData":{"data":")" + b64(asBytes(*s.init_time), s.padded) +
           R"(","dataType":"Binary"})";
  }
  if (!s.nonce_json.empty()) out += R"(,"nonce":)" + s.nonce_json;
  return out + "}";
}

std::string aciChainPem() {
  return toString(readTestData("snp/aci-milan-v2/vcek.pem")) +
         toString(readTestData("snp/aci-milan-v2/ask_ark.pem"));
}

std::string securityPolicy() {
  std::string text = toString(readTestData("snp/aci-milan-v2/security_policy.base64"));
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  StatusOr<Bytes> policy = encoding::base64Decode(text);
  REQUIRE(policy.ok());
  return toString(*policy);
}

// The ACI report with REPORT_DATA = SHA-256(runtime) || tail, re-signed by a minted chain that
// carries the report's chip ID and TCB.
struct Resigned {
  MintedChain chain;
  Bytes report;
  std::string chainPem() const {
    return chain.vcek.certificate.toPem() + chain.ask.certificate.toPem() +
           chain.ark.certificate.toPem();
  }
  MaaVerifyOptions options() const {
    MaaVerifyOptions o;
    o.at = utcTime(2025, 6, 1);
    o.trusted_arks.push_back(chain.ark.certificate);
    return o;
  }
};

Resigned resigned(const std::string& runtime = kRuntime, uint8_t tail = 0) {
  Bytes report = readTestData("snp/aci-milan-v2/report.bin");
  const Bytes hash = crypto::sha256(asBytes(runtime));
  std::copy(hash.begin(), hash.end(), report.begin() + 0x50);
  std::fill(report.begin() + 0x70, report.begin() + 0x90, 0);
  report[0x8F] = tail;
  Bytes chip_id(report.begin() + 0x1A0, report.begin() + 0x1E0);
  MintedChain chain = mintMilanChain(3, 0, 8, 115, chip_id);
  skr::testing::signReport(report, chain.vcek.key);
  return Resigned{std::move(chain), std::move(report)};
}

AttestSevSnpVmRequest parsed(const std::string& text) {
  StatusOr<AttestSevSnpVmRequest> r = AttestSevSnpVmRequest::parse(text);
  INFO(r.status().toString());
  REQUIRE(r.ok());
  return std::move(r).value();
}

void requireRejected(const StatusOr<MaaEvidence>& r, const std::string& prefix) {
  INFO(r.status().toString());
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.status().message(), Catch::StartsWith(prefix));
}

TEST_CASE("claims of the ACI fixture report have MAA's names, JSON types and the report's values",
          "[emulator][maa]") {
  StatusOr<snp::SnpReport> report =
      snp::SnpReport::parse(readTestData("snp/aci-milan-v2/report.bin"));
  REQUIRE(report.ok());
  json::ObjectPtr c = sevSnpReportClaims(*report, report->reportedTcb());
  json::ObjectPtr f = expectedFields();

  std::set<std::string> names;
  for (const auto& [name, value] : *c) names.insert(name);
  // The complete x-ms-sevsnpvm-* list of §1.5.
  CHECK(names == std::set<std::string>{
                     "x-ms-sevsnpvm-authorkeydigest", "x-ms-sevsnpvm-bootloader-svn",
                     "x-ms-sevsnpvm-familyId", "x-ms-sevsnpvm-guestsvn", "x-ms-sevsnpvm-hostdata",
                     "x-ms-sevsnpvm-idkeydigest", "x-ms-sevsnpvm-imageId",
                     "x-ms-sevsnpvm-is-debuggable", "x-ms-sevsnpvm-launchmeasurement",
                     "x-ms-sevsnpvm-microcode-svn", "x-ms-sevsnpvm-migration-allowed",
                     "x-ms-sevsnpvm-reportdata", "x-ms-sevsnpvm-reportid",
                     "x-ms-sevsnpvm-smt-allowed", "x-ms-sevsnpvm-snpfw-svn",
                     "x-ms-sevsnpvm-tee-svn", "x-ms-sevsnpvm-vmpl"});
  auto str = [&](const char* claim) { return c->getValue<std::string>(claim); };
  CHECK(str("x-ms-sevsnpvm-hostdata") == f->getValue<std::string>("host_data"));
  CHECK(str("x-ms-sevsnpvm-launchmeasurement") == f->getValue<std::string>("measurement"));
  CHECK(str("x-ms-sevsnpvm-reportdata") == f->getValue<std::string>("report_data"));
  CHECK(str("x-ms-sevsnpvm-idkeydigest") == f->getValue<std::string>("id_key_digest"));
  CHECK(str("x-ms-sevsnpvm-authorkeydigest") == f->getValue<std::string>("author_key_digest"));
  CHECK(str("x-ms-sevsnpvm-reportid") == f->getValue<std::string>("report_id"));
  CHECK(str("x-ms-sevsnpvm-familyId") == f->getValue<std::string>("family_id"));
  CHECK(str("x-ms-sevsnpvm-imageId") == f->getValue<std::string>("image_id"));
  // Numbers, not strings.
  CHECK(c->get("x-ms-sevsnpvm-guestsvn").isInteger());
  CHECK(c->getValue<int>("x-ms-sevsnpvm-guestsvn") == 2);
  CHECK(c->getValue<int>("x-ms-sevsnpvm-vmpl") == 0);
  CHECK(c->get("x-ms-sevsnpvm-vmpl").isInteger());
  CHECK(c->getValue<int>("x-ms-sevsnpvm-bootloader-svn") == 3);
  CHECK(c->getValue<int>("x-ms-sevsnpvm-tee-svn") == 0);
  CHECK(c->getValue<int>("x-ms-sevsnpvm-snpfw-svn") == 8);
  CHECK(c->getValue<int>("x-ms-sevsnpvm-microcode-svn") == 115);
  // POLICY 0x3001f: SMT set, MIGRATE_MA and DEBUG clear; booleans.
  CHECK(c->get("x-ms-sevsnpvm-is-debuggable").type() == typeid(bool));
  CHECK_FALSE(c->getValue<bool>("x-ms-sevsnpvm-is-debuggable"));
  CHECK(c->getValue<bool>("x-ms-sevsnpvm-smt-allowed"));
  CHECK_FALSE(c->getValue<bool>("x-ms-sevsnpvm-migration-allowed"));
}

TEST_CASE("is-debuggable and migration-allowed follow POLICY bits 19 and 18", "[emulator][maa]") {
  StatusOr<snp::SnpReport> report =
      snp::SnpReport::parse(readTestData("snp/aci-milan-v2/report.bin"));
  REQUIRE(report.ok());
  report->policy.raw = 0x20000 | (1ull << 19) | (1ull << 18);  // bit 17 set, SMT clear
  json::ObjectPtr c = sevSnpReportClaims(*report, report->reportedTcb());
  CHECK(c->getValue<bool>("x-ms-sevsnpvm-is-debuggable"));
  CHECK(c->getValue<bool>("x-ms-sevsnpvm-migration-allowed"));
  CHECK_FALSE(c->getValue<bool>("x-ms-sevsnpvm-smt-allowed"));
}

TEST_CASE(
    "the real ACI report passes the pinned-AMD chain and signature checks, then fails the "
    "runtime-data binding for data it was not made for",
    "[emulator][maa]") {
  AttestSevSnpVmRequest r =
      parsed(body({readTestData("snp/aci-milan-v2/report.bin"), aciChainPem()}));
  MaaVerifyOptions o;
  o.at = utcTime(2025, 6, 1);
  StatusOr<MaaEvidence> e = verifyAttestation(r, o);
  requireRejected(e, "runtime-data: SHA-256 of runtimeData ");
  CHECK_THAT(e.status().message(),
             Catch::EndsWith("!= REPORT_DATA[0:32] "
                             "ee986ff2bd7e3f22e29f640918627816cf8e23b9d9c312767168eab68c861c71"));
}

TEST_CASE("a report bound to the runtime data verifies and yields MAA's token claims",
          "[emulator][maa]") {
  Resigned s = resigned();
  BodySpec spec{s.report, s.chainPem()};
  spec.nonce_json = "12345678901234";
  spec.init_time = securityPolicy();  // SHA-256 == the fixture's HOST_DATA
  AttestSevSnpVmRequest r = parsed(body(spec));
  StatusOr<MaaEvidence> e = verifyAttestation(r, s.options());
  INFO(e.status().toString());
  REQUIRE(e.ok());
  CHECK_FALSE(e->verification.ark_pinned);
  CHECK_FALSE(e->uvm.has_value());

  json::ObjectPtr c =
      maaTokenClaims(r, *e, "https://127.0.0.1:4443", {1700000000, 28800}, std::string(64, 'a'));
  CHECK(c->getValue<std::string>("iss") == "https://127.0.0.1:4443");
  CHECK(c->getValue<int64_t>("iat") == 1700000000);
  CHECK(c->getValue<int64_t>("nbf") == 1700000000);
  CHECK(c->getValue<int64_t>("exp") == 1700000000 + 28800);
  CHECK(c->getValue<std::string>("jti") == std::string(64, 'a'));
  CHECK(c->get("nonce").isString());
  CHECK(c->getValue<std::string>("nonce") == "12345678901234");
  CHECK(c->getValue<std::string>("x-ms-ver") == "1.0");
  CHECK(c->getValue<std::string>("x-ms-attestation-type") == "sevsnpvm");
  CHECK_FALSE(c->has("x-ms-compliance-status"));
  CHECK(c->getValue<bool>("x-ms-emulated"));
  CHECK(c->getValue<std::string>("x-ms-policy-hash") ==
        encoding::base64UrlEncode(crypto::sha256(asBytes(kEmulatedMaaPolicy))));
  CHECK_FALSE(c->has("x-ms-inittime"));  // Binary init-time data has no claim
  // x-ms-runtime is the runtime data object, member names as sent.
  StatusOr<std::string> runtime = json::serializeCanonical(c->getObject("x-ms-runtime"));
  REQUIRE(runtime.ok());
  StatusOr<json::ObjectPtr> sent = json::parseObject(kRuntime);
  REQUIRE(sent.ok());
  CHECK(*runtime == json::serializeCanonical(*sent).value());
  CHECK(c->getValue<std::string>("x-ms-sevsnpvm-reportdata") ==
        encoding::hexEncode(crypto::sha256(asBytes(kRuntime))) + std::string(64, '0'));
}

TEST_CASE("padded base64url and the standard alphabet are accepted like MAA accepts them",
          "[emulator][maa]") {
  Resigned s = resigned();
  BodySpec spec{s.report, s.chainPem()};
  spec.padded = true;
  spec.nonce_json = "\"n-1\"";
  AttestSevSnpVmRequest r = parsed(body(spec));
  CHECK(r.report == s.report);
  CHECK(r.vcek_cert_chain.size() == 3);
  CHECK(r.nonce == std::optional<std::string>("n-1"));
  CHECK(verifyAttestation(r, s.options()).ok());

  // Standard alphabet for the inner report (as SIDECAR's example "report" is).
  std::string inner = R"({"SnpReport":")" + encoding::base64Encode(s.report) +
                      R"(","VcekCertChain":")" + encoding::base64Encode(asBytes(s.chainPem())) +
                      "\"}";
  std::string text = R"({"report":")" + encoding::base64Encode(asBytes(inner)) +
                     R"(","runtimeData":{"data":")" + encoding::base64UrlEncode(asBytes(kRuntime)) +
                     R"(","dataType":"json"}})";
  CHECK(verifyAttestation(parsed(text), s.options()).ok());
}

TEST_CASE("each evidence check rejects with a message naming it", "[emulator][maa]") {
  Resigned s = resigned();

  SECTION("runtime data that is not what REPORT_DATA binds") {
    BodySpec spec{s.report, s.chainPem()};
    spec.runtime = R"({"keys":[]})";
    requireRejected(verifyAttestation(parsed(body(spec)), s.options()), "runtime-data: SHA-256");
  }
  SECTION("REPORT_DATA[32:64] not zero") {
    Resigned t = resigned(kRuntime, 0x01);
    requireRejected(verifyAttestation(parsed(body({t.report, t.chainPem()})), t.options()),
                    "runtime-data: REPORT_DATA[32:64] is not zero");
  }
  SECTION("a flipped report byte breaks the signature") {
    Bytes report = s.report;
    report[0x90] ^= 0x01;
    requireRejected(verifyAttestation(parsed(body({report, s.chainPem()})), s.options()),
                    "report-signature:");
  }
  SECTION("a root that is neither AMD's nor trusted") {
    requireRejected(verifyAttestation(parsed(body({s.report, s.chainPem()})),
                                      MaaVerifyOptions{utcTime(2025, 6, 1), {}}),
                    "ark:");
  }
  SECTION("AMD's real chain for a report the emulated VCEK signed") {
    requireRejected(verifyAttestation(parsed(body({s.report, aciChainPem()})), s.options()),
                    "report-signature:");
  }
  SECTION("initTimeData whose hash is not HOST_DATA") {
    BodySpec spec{s.report, s.chainPem()};
    spec.init_time = "not the policy";
    requireRejected(verifyAttestation(parsed(body(spec)), s.options()),
                    "init-time-data: SHA-256 of initTimeData");
  }
  SECTION("a truncated report") {
    Bytes report(s.report.begin(), s.report.begin() + 1000);
    requireRejected(verifyAttestation(parsed(body({report, s.chainPem()})), s.options()),
                    "report: SNP report is 1000 bytes");
  }
}

TEST_CASE(
    "a UVM endorsement over the report's measurement earns azure-compliant-uvm, a wrong "
    "measurement or signature is rejected",
    "[emulator][maa]") {
  Resigned s = resigned();
  skr::testing::TestCa root = skr::testing::TestCa::create("UVM signing root");
  skr::testing::CertificateProfile leaf_profile = skr::testing::profile("UVM signer");
  leaf_profile.key_type = skr::testing::TestKeyType::EcP384;
  skr::testing::IssuedCertificate leaf = root.issue(leaf_profile);
  const std::string measurement = encoding::hexEncode(ByteView(s.report).subspan(0x90, 48));

  skr::testing::UvmEndorsementSpec uvm;
  uvm.launch_measurement_hex = measurement;
  uvm.x5chain = {leaf.certificate, root.certificate()};
  BodySpec spec{s.report, s.chainPem()};
  spec.uvm = {skr::testing::makeUvmEndorsement(uvm, leaf.key)};
  AttestSevSnpVmRequest r = parsed(body(spec));
  StatusOr<MaaEvidence> e = verifyAttestation(r, s.options());
  INFO(e.status().toString());
  REQUIRE(e.ok());
  REQUIRE(e->uvm.has_value());
  CHECK(e->uvm->feed == std::optional<std::string>("ContainerPlat-AMD-UVM"));
  json::ObjectPtr c = maaTokenClaims(r, *e, "https://maa", {0, 1}, "00");
  CHECK(c->getValue<std::string>("x-ms-compliance-status") == "azure-compliant-uvm");

  SECTION("another measurement") {
    uvm.launch_measurement_hex = std::string(96, '0');
    spec.uvm = {skr::testing::makeUvmEndorsement(uvm, leaf.key)};
    requireRejected(verifyAttestation(parsed(body(spec)), s.options()),
                    "uvm-endorsement: endorsed launch measurement 000");
  }
  SECTION("a corrupted signature") {
    uvm.corrupt_signature = true;
    spec.uvm = {skr::testing::makeUvmEndorsement(uvm, leaf.key)};
    requireRejected(verifyAttestation(parsed(body(spec)), s.options()),
                    "uvm-endorsement: COSE_Sign1: signature does not verify");
  }
  SECTION("no x5chain to verify it with") {
    uvm.x5chain.clear();
    spec.uvm = {skr::testing::makeUvmEndorsement(uvm, leaf.key)};
    requireRejected(verifyAttestation(parsed(body(spec)), s.options()),
                    "uvm-endorsement: COSE_Sign1: no x5chain");
  }
  SECTION("not CBOR") {
    spec.uvm = {toBytes("not cbor at all")};
    requireRejected(verifyAttestation(parsed(body(spec)), s.options()), "uvm-endorsement:");
  }
}

TEST_CASE("malformed requests are rejected with the member that is wrong", "[emulator][maa]") {
  Resigned s = resigned();
  const std::string good = body({s.report, s.chainPem()});
  auto reject = [](const std::string& text, const std::string& needle) {
    StatusOr<AttestSevSnpVmRequest> r = AttestSevSnpVmRequest::parse(text);
    INFO(text.substr(0, 200));
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == StatusCode::InvalidArgument);
    CHECK_THAT(r.status().message(), Catch::StartsWith("request: "));
    CHECK_THAT(r.status().message(), Catch::Contains(needle));
  };
  reject("", "not a JSON object");
  reject("[]", "not a JSON object");
  reject(R"({"runtimeData":{"data":"e30","dataType":"JSON"}})", "'report'");
  reject(R"({"report":"***","runtimeData":{"data":"e30","dataType":"JSON"}})", "not base64url");
  reject(R"({"report":"bm90IGpzb24","runtimeData":{"data":"e30","dataType":"JSON"}})",
         "not base64url of a JSON object");
  const std::string no_chain = encoding::base64UrlEncode(asBytes(R"({"SnpReport":"AAAA"})"));
  reject(R"({"report":")" + no_chain + R"(","runtimeData":{"data":"e30","dataType":"JSON"}})",
         "VcekCertChain");
  const std::string junk_chain =
      encoding::base64UrlEncode(asBytes(R"({"SnpReport":"AAAA","VcekCertChain":")" +
                                        encoding::base64UrlEncode(asBytes("no pem here")) + "\"}"));
  reject(R"({"report":")" + junk_chain + R"(","runtimeData":{"data":"e30","dataType":"JSON"}})",
         "VcekCertChain");
  const std::string four = encoding::base64UrlEncode(asBytes(
      R"({"SnpReport":"AAAA","VcekCertChain":")" +
      encoding::base64UrlEncode(asBytes(s.chainPem() + s.chain.ark.certificate.toPem())) + "\"}"));
  reject(R"({"report":")" + four + R"(","runtimeData":{"data":"e30","dataType":"JSON"}})",
         "has 4 certificates");

  const std::string report_member = good.substr(0, good.find(",\"runtimeData\""));
  reject(report_member + "}", "'runtimeData'");
  reject(report_member + R"(,"runtimeData":{"data":"e30","dataType":"XML"}})",
         "dataType 'XML' is not one of JSON, Binary");
  reject(report_member + R"(,"runtimeData":{"data":"WzEsMl0","dataType":"JSON"}})",
         "dataType is JSON but data is not a JSON object");
  reject(report_member + R"(,"runtimeData":{"data":"e30","dataType":"JSON"},"nonce":{}})",
         "'nonce'");
  reject(report_member + R"(,"runtimeData":{"data":"e30","dataType":"JSON"},"nonce":")" +
             std::string(2000, 'n') + "\"}",
         "'nonce' is 2000 bytes");
  const std::string bad_uvm = encoding::base64UrlEncode(
      asBytes(R"({"SnpReport":"AAAA","VcekCertChain":")" +
              encoding::base64UrlEncode(asBytes(s.chainPem())) + R"(","Endorsements":")" +
              encoding::base64UrlEncode(asBytes(R"({"Uvm":"x"})")) + "\"}"));
  reject(R"({"report":")" + bad_uvm + R"(","runtimeData":{"data":"e30","dataType":"JSON"}})",
         "Endorsements");
}

}  // namespace
}  // namespace skr::emulator

namespace skr::emulator {
namespace {

// Keeps the fuzz seeds meaningful: they reach the success paths of both parsers.
TEST_CASE("the maa_request fuzz seeds parse", "[emulator][maa]") {
  auto read = [](const std::string& name) {
    std::ifstream in(std::string(SKR_FUZZ_DIR) + "/corpus/maa_request/" + name, std::ios::binary);
    REQUIRE(in.good());
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  };
  StatusOr<AttestSevSnpVmRequest> aci =
      AttestSevSnpVmRequest::parse(read("attest_request_aci.json"));
  INFO(aci.status().toString());
  REQUIRE(aci.ok());
  CHECK(aci->vcek_cert_chain.size() == 3);
  CHECK(aci->uvm_endorsements.size() == 1);
  CHECK(aci->nonce == std::optional<std::string>("12345"));
  CHECK(aci->init_time_data.has_value());
  StatusOr<AttestSevSnpVmRequest> padded =
      AttestSevSnpVmRequest::parse(read("attest_request_padded_binary.json"));
  INFO(padded.status().toString());
  REQUIRE(padded.ok());
  CHECK(padded->runtime_data.type == MaaData::Type::Binary);
  StatusOr<UvmEndorsement> uvm =
      UvmEndorsement::parse(asBytes(read("uvm_endorsement_cose_sign1.bin")));
  INFO(uvm.status().toString());
  REQUIRE(uvm.ok());
  CHECK(uvm->verifySignature().code() == StatusCode::FailedPrecondition);  // no x5chain
  CHECK(UvmEndorsement::parse(aci->uvm_endorsements.front()).ok());
}

}  // namespace
}  // namespace skr::emulator
