#include "common/snp/verifier.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "common/encoding/hex.h"
#include "common/snp/amd_roots.h"
#include "tests/unit/snp/amd_test_pki.h"

namespace skr::snp {
namespace {

using skr::testing::mintCertificate;
using skr::testing::MintedChain;
using skr::testing::mintMilanChain;
using skr::testing::readTestData;
using skr::testing::signReport;
using skr::testing::utcTime;

// Inside every certificate's validity: the VCEKs run 2022-11-29..2029-11-29 (aci) and
// 2022-09-24..2029-09-24 (go-sev-guest); ARK/ASK-Milan 2020-10-22..2045-10-22.
crypto::TimePoint pinnedTime() {
  return utcTime(2025, 6, 1);
}

VerifyOptions atPinnedTime() {
  VerifyOptions o;
  o.at = pinnedTime();
  return o;
}

struct Fixture {
  std::string name;
  Bytes report;
  crypto::Certificate vcek;
  std::vector<crypto::Certificate> chain;  // ASK, ARK
};

Fixture loadFixture(const std::string& dir, const std::string& vcek_file) {
  StatusOr<crypto::Certificate> vcek =
      crypto::Certificate::fromPemOrDer(readTestData("snp/" + dir + "/" + vcek_file));
  REQUIRE(vcek.ok());
  StatusOr<std::vector<crypto::Certificate>> chain =
      crypto::Certificate::parsePemBundle(toString(readTestData("snp/" + dir + "/ask_ark.pem")));
  REQUIRE(chain.ok());
  REQUIRE(chain->size() == 2);
  return Fixture{dir, readTestData("snp/" + dir + "/report.bin"), *vcek, *chain};
}

Fixture aci() {
  return loadFixture("aci-milan-v2", "vcek.pem");
}
Fixture gosevguest() {
  return loadFixture("gosevguest-milan-v2", "vcek.der");
}

crypto::Certificate pinned(Generation g, AmdKeyRole role) {
  StatusOr<crypto::Certificate> c = pinnedAmdCertificate(g, role);
  REQUIRE(c.ok());
  return *c;
}

const std::vector<std::string> kAllChecks = {
    "report",           "vcek-extensions", "ark",         "ask",     "vcek",
    "report-signature", "report-fields",   "signing-key", "chip-id", "tcb"};

// The aci report re-signed by a minted (non-AMD) chain whose VCEK carries the report's chip ID
// and TCB unless told otherwise.
struct Emulated {
  MintedChain chain;
  Bytes report;
};

Emulated emulated(uint8_t snp_spl = 8, std::optional<Bytes> hwid = std::nullopt) {
  Bytes report = readTestData("snp/aci-milan-v2/report.bin");
  Bytes chip_id(report.begin() + 0x1A0, report.begin() + 0x1E0);
  MintedChain chain = mintMilanChain(3, 0, snp_spl, 115, hwid.value_or(chip_id));
  signReport(report, chain.vcek.key);
  return Emulated{std::move(chain), std::move(report)};
}

std::vector<crypto::Certificate> chainOf(const MintedChain& c) {
  return {c.ask.certificate, c.ark.certificate};
}

void requireFailure(const StatusOr<VerificationResult>& r, StatusCode code,
                    const std::string& message_start) {
  INFO(r.status().toString());
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == code);
  CHECK_THAT(r.status().message(), Catch::StartsWith(message_start));
}

TEST_CASE("both fixture reports verify against the pinned AMD roots at 2025-06-01",
          "[snp][verifier]") {
  for (const Fixture& f : {aci(), gosevguest()}) {
    INFO(f.name);
    StatusOr<VerificationResult> r = verifyReport(f.report, f.vcek, f.chain, atPinnedTime());
    INFO(r.status().toString());
    REQUIRE(r.ok());
    CHECK(r->passed_checks == kAllChecks);
    CHECK(r->skipped_checks.empty());
    CHECK(r->generation == Generation::Milan);
    CHECK(r->ark_pinned);
    CHECK(r->ark_sha256_hex == "69d063b45344d26a2e94e1f4210de49ef555308287d4c174445c95639a540bcd");
    CHECK(r->signing_key == SigningKey::Vcek);
    CHECK(r->reported_tcb == r->key_extensions.tcb);
  }
}

TEST_CASE("the go-sev-guest report is a debug guest: reported, refused only on request",
          "[snp][verifier]") {
  Fixture f = gosevguest();
  StatusOr<VerificationResult> r = verifyReport(f.report, f.vcek, f.chain, atPinnedTime());
  REQUIRE(r.ok());
  CHECK(r->debug);
  VerifyOptions strict = atPinnedTime();
  strict.reject_debug = true;
  requireFailure(verifyReport(f.report, f.vcek, f.chain, strict), StatusCode::PermissionDenied,
                 "report-fields: POLICY.DEBUG is set and debug guests are refused");
  Fixture a = aci();
  StatusOr<VerificationResult> not_debug = verifyReport(a.report, a.vcek, a.chain, strict);
  REQUIRE(not_debug.ok());
  CHECK_FALSE(not_debug->debug);
}

TEST_CASE("an omitted ARK, or an omitted chain, is taken from the pinned roots",
          "[snp][verifier]") {
  Fixture f = aci();
  StatusOr<VerificationResult> ask_only =
      verifyReport(f.report, f.vcek, {f.chain[0]}, atPinnedTime());
  INFO(ask_only.status().toString());
  REQUIRE(ask_only.ok());
  CHECK(ask_only->ark_pinned);
  StatusOr<VerificationResult> none = verifyReport(f.report, f.vcek, {}, atPinnedTime());
  INFO(none.status().toString());
  REQUIRE(none.ok());
  CHECK(none->passed_checks == kAllChecks);
}

TEST_CASE("a parsed report verifies through re-serialization", "[snp][verifier]") {
  Fixture f = aci();
  StatusOr<SnpReport> report = SnpReport::parse(f.report);
  REQUIRE(report.ok());
  StatusOr<VerificationResult> r = verifyReport(*report, f.vcek, f.chain, atPinnedTime());
  INFO(r.status().toString());
  CHECK(r.ok());
}

TEST_CASE("one flipped byte anywhere in the signed region fails report-signature",
          "[snp][verifier]") {
  // One offset in every field of 0x000..0x29F, reserved regions included: version, guest_svn,
  // policy (incl. bit 17 at 0x0A), family_id, image_id, vmpl, signature_algo, current_tcb,
  // platform_info, signer info, reserved 0x4C, report_data, measurement, host_data,
  // id_key_digest, author_key_digest, report_id, report_id_ma, reported_tcb, cpuid fields,
  // reserved 0x18B, chip_id, committed_tcb, current/committed versions and their reserved bytes,
  // launch_tcb, mitigation vectors, reserved 0x208, the last signed byte.
  const std::size_t offsets[] = {0x000, 0x004, 0x008, 0x00A, 0x010, 0x01F, 0x020, 0x030, 0x034,
                                 0x038, 0x040, 0x048, 0x04C, 0x050, 0x08F, 0x090, 0x0C0, 0x0DF,
                                 0x0E0, 0x110, 0x140, 0x160, 0x180, 0x187, 0x188, 0x189, 0x18A,
                                 0x18B, 0x19F, 0x1A0, 0x1DF, 0x1E0, 0x1E8, 0x1EB, 0x1EC, 0x1EF,
                                 0x1F0, 0x1F8, 0x200, 0x208, 0x250, 0x29F};
  static_assert(std::size(offsets) >= 20);
  for (const Fixture& f : {aci(), gosevguest()}) {
    for (std::size_t offset : offsets) {
      for (uint8_t mask : {uint8_t{0x01}, uint8_t{0x80}}) {
        INFO(f.name << " offset 0x" << std::hex << offset << " mask 0x" << int{mask});
        Bytes tampered = f.report;
        tampered[offset] ^= mask;
        requireFailure(verifyReport(tampered, f.vcek, f.chain, atPinnedTime()),
                       StatusCode::DataLoss, "report-signature: does not verify with the VCEK");
      }
    }
  }
}

TEST_CASE("a flipped byte in the signature's r or s fails report-signature", "[snp][verifier]") {
  Fixture f = aci();
  for (std::size_t offset :
       {std::size_t{0x2A0}, std::size_t{0x2CF}, std::size_t{0x2E8}, std::size_t{0x317}}) {
    INFO("offset 0x" << std::hex << offset);
    Bytes tampered = f.report;
    tampered[offset] ^= 0x01;
    requireFailure(verifyReport(tampered, f.vcek, f.chain, atPinnedTime()), StatusCode::DataLoss,
                   "report-signature: ");
  }
}

TEST_CASE("a non-zero byte in the unsigned reserved signature area fails report-fields",
          "[snp][verifier]") {
  Fixture f = aci();
  Bytes tampered = f.report;
  tampered[0x400] = 0x01;
  requireFailure(verifyReport(tampered, f.vcek, f.chain, atPinnedTime()),
                 StatusCode::InvalidArgument,
                 "report-fields: reserved signature byte at offset 1024 is 1, expected 0");
}

TEST_CASE("a truncated or extended report is rejected by the report check", "[snp][verifier]") {
  Fixture f = aci();
  Bytes truncated(f.report.begin(), f.report.end() - 1);
  requireFailure(verifyReport(truncated, f.vcek, f.chain, atPinnedTime()),
                 StatusCode::InvalidArgument, "report: SNP report is 1183 bytes, expected 1184");
  Bytes half(f.report.begin(), f.report.begin() + 0x2A0);
  requireFailure(verifyReport(half, f.vcek, f.chain, atPinnedTime()), StatusCode::InvalidArgument,
                 "report: SNP report is 672 bytes, expected 1184");
  requireFailure(verifyReport(Bytes{}, f.vcek, f.chain, atPinnedTime()),
                 StatusCode::InvalidArgument, "report: SNP report is 0 bytes, expected 1184");
  Bytes longer = f.report;
  longer.push_back(0);
  requireFailure(verifyReport(longer, f.vcek, f.chain, atPinnedTime()), StatusCode::InvalidArgument,
                 "report: SNP report is 1185 bytes");
}

TEST_CASE("the other fixture's VCEK does not verify the report", "[snp][verifier]") {
  Fixture a = aci();
  Fixture g = gosevguest();
  requireFailure(verifyReport(a.report, g.vcek, g.chain, atPinnedTime()), StatusCode::DataLoss,
                 "report-signature: does not verify with the VCEK (SEV-VCEK, sha256 ");
  requireFailure(verifyReport(g.report, a.vcek, a.chain, atPinnedTime()), StatusCode::DataLoss,
                 "report-signature: does not verify with the VCEK");
}

TEST_CASE("an ARK of another generation fails the ark check", "[snp][verifier]") {
  Fixture f = aci();
  requireFailure(
      verifyReport(f.report, f.vcek, {f.chain[0], pinned(Generation::Genoa, AmdKeyRole::Ark)},
                   atPinnedTime()),
      StatusCode::DataLoss,
      "ark: presented ARK is the pinned ARK-Genoa of Genoa but the key's productName "
      "'Milan-B0' is Milan");
  requireFailure(verifyReport(f.report, f.vcek,
                              {pinned(Generation::Turin, AmdKeyRole::Ask),
                               pinned(Generation::Turin, AmdKeyRole::Ark)},
                              atPinnedTime()),
                 StatusCode::DataLoss, "ark: presented ARK is the pinned ARK-Turin of Turin");
}

TEST_CASE("an AMD intermediate presented as the ARK is refused", "[snp][verifier]") {
  Fixture f = aci();
  requireFailure(verifyReport(f.report, f.vcek, {f.chain[0], f.chain[0]}, atPinnedTime()),
                 StatusCode::PermissionDenied,
                 "ark: presented ARK is AMD's ASK SEV-Milan, not a root");
}

TEST_CASE("an intermediate of the right ARK but the wrong role fails the vcek check",
          "[snp][verifier]") {
  Fixture f = aci();
  requireFailure(
      verifyReport(f.report, f.vcek, {pinned(Generation::Milan, AmdKeyRole::Asvk), f.chain[1]},
                   atPinnedTime()),
      StatusCode::DataLoss, "vcek: SEV-VCEK is not signed by SEV-VLEK-Milan");
}

TEST_CASE("an intermediate not signed by the ARK fails the ask check", "[snp][verifier]") {
  Fixture f = aci();
  Emulated e = emulated();
  requireFailure(
      verifyReport(f.report, f.vcek, {e.chain.ask.certificate, f.chain[1]}, atPinnedTime()),
      StatusCode::DataLoss, "ask: SEV-Milan is not signed by ARK-Milan");
}

TEST_CASE("verification outside a certificate's validity fails with FailedPrecondition",
          "[snp][verifier]") {
  Fixture f = aci();
  VerifyOptions after = atPinnedTime();
  after.at = utcTime(2030, 1, 1);
  requireFailure(verifyReport(f.report, f.vcek, f.chain, after), StatusCode::FailedPrecondition,
                 "vcek: SEV-VCEK not valid at 2030-01-01T00:00:00Z (valid 2022-11-29T01:55:56Z "
                 ".. 2029-11-29T01:55:56Z)");
  VerifyOptions before = atPinnedTime();
  before.at = utcTime(2021, 1, 1);
  requireFailure(verifyReport(f.report, f.vcek, f.chain, before), StatusCode::FailedPrecondition,
                 "vcek: SEV-VCEK not valid at 2021-01-01T00:00:00Z");
  VerifyOptions late = atPinnedTime();
  late.at = utcTime(2046, 1, 1);
  requireFailure(verifyReport(f.report, f.vcek, f.chain, late), StatusCode::FailedPrecondition,
                 "ark: ARK-Milan not valid at 2046-01-01T00:00:00Z (valid 2020-10-22T17:23:05Z "
                 ".. 2045-10-22T17:23:05Z)");
}

TEST_CASE("a report signed under an untrusted ARK fails unless that ARK is given explicitly",
          "[snp][verifier]") {
  Emulated e = emulated();
  const std::string sha = encoding::hexEncode(e.chain.ark.certificate.sha256Fingerprint());
  requireFailure(verifyReport(e.report, e.chain.vcek.certificate, chainOf(e.chain), atPinnedTime()),
                 StatusCode::PermissionDenied,
                 "ark: presented ARK ARK-Milan is not a pinned AMD root (sha256 " + sha +
                     ") and no --trust-ark was given");

  VerifyOptions trusting = atPinnedTime();
  trusting.extra_trusted_arks = {e.chain.ark.certificate};
  StatusOr<VerificationResult> r =
      verifyReport(e.report, e.chain.vcek.certificate, chainOf(e.chain), trusting);
  INFO(r.status().toString());
  REQUIRE(r.ok());
  CHECK(r->passed_checks == kAllChecks);
  CHECK_FALSE(r->ark_pinned);
  CHECK(r->ark_sha256_hex == sha);

  // ARK omitted: the explicitly trusted ARK that signed the intermediate is used.
  StatusOr<VerificationResult> omitted =
      verifyReport(e.report, e.chain.vcek.certificate, {e.chain.ask.certificate}, trusting);
  INFO(omitted.status().toString());
  REQUIRE(omitted.ok());
  CHECK_FALSE(omitted->ark_pinned);

  // Without the trust, an omitted ARK means AMD's, which did not sign this intermediate.
  requireFailure(
      verifyReport(e.report, e.chain.vcek.certificate, {e.chain.ask.certificate}, atPinnedTime()),
      StatusCode::DataLoss, "ask: SEV-Milan is not signed by ARK-Milan");

  VerifyOptions other = atPinnedTime();
  other.extra_trusted_arks = {emulated().chain.ark.certificate};
  requireFailure(verifyReport(e.report, e.chain.vcek.certificate, chainOf(e.chain), other),
                 StatusCode::PermissionDenied,
                 "ark: presented ARK ARK-Milan is not a pinned AMD root (sha256 " + sha +
                     ") and matches none of the 1 explicitly trusted ARKs");
}

TEST_CASE("a VCEK hwID that differs from CHIP_ID fails the chip-id check", "[snp][verifier]") {
  Emulated e = emulated(8, Bytes(64, 0x11));
  VerifyOptions o = atPinnedTime();
  o.extra_trusted_arks = {e.chain.ark.certificate};
  requireFailure(verifyReport(e.report, e.chain.vcek.certificate, chainOf(e.chain), o),
                 StatusCode::DataLoss,
                 "chip-id: VCEK hwID " + std::string(128, '1') +
                     " != report CHIP_ID b12164b45a2a27426e04ab52c5781d404fe2eab35ef5c4f714ce0f"
                     "c23d2fb3f3e65631710244a4edfad191616be3366e48a6352b35128d748458bc9c282d0f5a");
  o.require_hwid_match = false;
  StatusOr<VerificationResult> r =
      verifyReport(e.report, e.chain.vcek.certificate, chainOf(e.chain), o);
  REQUIRE(r.ok());
  CHECK(r->skipped_checks == std::vector<std::string>{"chip-id: not required by the options"});
}

TEST_CASE("a VCEK TCB that differs from REPORTED_TCB fails the tcb check with both values",
          "[snp][verifier]") {
  Emulated e = emulated(9);
  VerifyOptions o = atPinnedTime();
  o.extra_trusted_arks = {e.chain.ark.certificate};
  requireFailure(verifyReport(e.report, e.chain.vcek.certificate, chainOf(e.chain), o),
                 StatusCode::DataLoss,
                 "tcb: VCEK TCB bl=3 tee=0 snp=9 ucode=115 (0x7309000000000003) != REPORTED_TCB "
                 "bl=3 tee=0 snp=8 ucode=115 (0x7308000000000003)");
}

TEST_CASE("a report that says VLEK but is signed by a VCEK fails the signing-key check",
          "[snp][verifier]") {
  Emulated e = emulated();
  e.report[0x48] = static_cast<uint8_t>(1 << 2);  // SIGNING_KEY = VLEK
  signReport(e.report, e.chain.vcek.key);
  VerifyOptions o = atPinnedTime();
  o.extra_trusted_arks = {e.chain.ark.certificate};
  requireFailure(verifyReport(e.report, e.chain.vcek.certificate, chainOf(e.chain), o),
                 StatusCode::DataLoss,
                 "signing-key: report says VLEK but the certificate is a VCEK (SEV-VCEK issued "
                 "by SEV-Milan)");
}

TEST_CASE("report fields MAA rejects fail report-fields even when signed", "[snp][verifier]") {
  struct Case {
    std::size_t offset;
    std::vector<uint8_t> bytes;
    std::string message;
  };
  const Case cases[] = {
      {0x30,
       {0xff, 0xff, 0xff, 0xff},
       "report-fields: VMPL is 4294967295 (a host-requested report), expected 0..3"},
      {0x34,
       {0x02, 0x00, 0x00, 0x00},
       "report-fields: SIGNATURE_ALGO is 2, expected 1 (ECDSA P-384 with SHA-384)"},
      {0x0A,
       {0x01},  // policy 0x3001F -> 0x1001F: bit 17 cleared
       "report-fields: POLICY 0x000000000001001f has reserved bit 17 clear, expected set"},
      {0x00, {0x04}, "report-fields: SNP report version 4 is not supported"},
  };
  for (const Case& c : cases) {
    INFO(c.message);
    Emulated e = emulated();
    std::copy(c.bytes.begin(), c.bytes.end(), e.report.begin() + static_cast<long>(c.offset));
    signReport(e.report, e.chain.vcek.key);
    VerifyOptions o = atPinnedTime();
    o.extra_trusted_arks = {e.chain.ark.certificate};
    requireFailure(verifyReport(e.report, e.chain.vcek.certificate, chainOf(e.chain), o),
                   StatusCode::InvalidArgument, c.message);
  }
}

TEST_CASE("a VLEK without hwID verifies under an explicitly trusted ASVK chain",
          "[snp][verifier]") {
  Bytes report = readTestData("snp/aci-milan-v2/report.bin");
  report[0x48] = static_cast<uint8_t>(1 << 2);  // SIGNING_KEY = VLEK
  auto ark = mintCertificate("ARK-Milan", "ARK-Milan", nullptr, {});
  auto asvk = mintCertificate("SEV-VLEK-Milan", "ARK-Milan", &ark.key, {});
  auto vlek =
      mintCertificate("SEV-VLEK", "SEV-VLEK-Milan", &asvk.key,
                      skr::testing::amdVcekExtensions("Milan-B0", 3, 0, 8, 115, std::nullopt));
  signReport(report, vlek.key);
  VerifyOptions o = atPinnedTime();
  o.extra_trusted_arks = {ark.certificate};
  StatusOr<VerificationResult> r =
      verifyReport(report, vlek.certificate, {asvk.certificate, ark.certificate}, o);
  INFO(r.status().toString());
  REQUIRE(r.ok());
  CHECK(r->passed_checks == std::vector<std::string>{"report", "vlek-extensions", "ark", "asvk",
                                                     "vlek", "report-signature", "report-fields",
                                                     "signing-key", "tcb"});
  CHECK(r->skipped_checks == std::vector<std::string>{"chip-id: the VLEK has no hwID extension"});
  CHECK(r->signing_key == SigningKey::Vlek);
}

TEST_CASE("a certificate without AMD's extensions fails the vcek-extensions check",
          "[snp][verifier]") {
  Fixture f = aci();
  requireFailure(verifyReport(f.report, f.chain[0], f.chain, atPinnedTime()),
                 StatusCode::InvalidArgument, "vcek-extensions: certificate '");
}

TEST_CASE("a bundle of ARK, ASK and ASVK in any order verifies a VCEK report through the ASK",
          "[snp][verifier]") {
  Fixture f = aci();
  const crypto::Certificate asvk = pinned(Generation::Milan, AmdKeyRole::Asvk);
  const crypto::Certificate& ask = f.chain[0];
  const crypto::Certificate& ark = f.chain[1];
  const std::vector<std::vector<crypto::Certificate>> bundles = {
      {ark, ask}, {ask, ark, asvk}, {ark, asvk, ask}, {asvk, ask, ark}, {ask, ark, ark}};
  for (std::size_t i = 0; i < bundles.size(); ++i) {
    StatusOr<VerificationResult> r = verifyReport(f.report, f.vcek, bundles[i], atPinnedTime());
    INFO("bundle " << i << ": " << r.status().toString());
    REQUIRE(r.ok());
    CHECK(r->passed_checks == kAllChecks);
    CHECK(r->ark_pinned);
  }
}

TEST_CASE("a bundle of ARK, ASK and ASVK verifies a VLEK report through the ASVK",
          "[snp][verifier]") {
  Bytes report = readTestData("snp/aci-milan-v2/report.bin");
  report[0x48] = static_cast<uint8_t>(1 << 2);  // SIGNING_KEY = VLEK
  auto ark = mintCertificate("ARK-Milan", "ARK-Milan", nullptr, {});
  auto ask = mintCertificate("SEV-Milan", "ARK-Milan", &ark.key, {});
  auto asvk = mintCertificate("SEV-VLEK-Milan", "ARK-Milan", &ark.key, {});
  auto vlek =
      mintCertificate("SEV-VLEK", "SEV-VLEK-Milan", &asvk.key,
                      skr::testing::amdVcekExtensions("Milan-B0", 3, 0, 8, 115, std::nullopt));
  signReport(report, vlek.key);
  VerifyOptions o = atPinnedTime();
  o.extra_trusted_arks = {ark.certificate};
  for (const std::vector<crypto::Certificate>& bundle :
       {std::vector<crypto::Certificate>{ask.certificate, ark.certificate, asvk.certificate},
        {asvk.certificate, ask.certificate, ark.certificate},
        {ark.certificate, ask.certificate, asvk.certificate}}) {
    StatusOr<VerificationResult> r = verifyReport(report, vlek.certificate, bundle, o);
    INFO(r.status().toString());
    REQUIRE(r.ok());
    CHECK(std::find(r->passed_checks.begin(), r->passed_checks.end(), "asvk") !=
          r->passed_checks.end());
    CHECK(r->signing_key == SigningKey::Vlek);
  }
}

TEST_CASE("a bundle with two roots, four certificates or no signing intermediate is refused",
          "[snp][verifier]") {
  Fixture f = aci();
  const crypto::Certificate genoa_ark = pinned(Generation::Genoa, AmdKeyRole::Ark);
  requireFailure(
      verifyReport(f.report, f.vcek, {f.chain[0], f.chain[1], genoa_ark}, atPinnedTime()),
      StatusCode::InvalidArgument, "ark: chain has 3 certificates (2 self-signed)");
  requireFailure(verifyReport(f.report, f.vcek,
                              {f.chain[0], f.chain[1], pinned(Generation::Milan, AmdKeyRole::Asvk),
                               pinned(Generation::Genoa, AmdKeyRole::Ask)},
                              atPinnedTime()),
                 StatusCode::InvalidArgument, "ark: chain has 4 certificates");
  requireFailure(verifyReport(f.report, f.vcek,
                              {pinned(Generation::Genoa, AmdKeyRole::Ask),
                               pinned(Generation::Genoa, AmdKeyRole::Asvk), f.chain[1]},
                              atPinnedTime()),
                 StatusCode::DataLoss,
                 "vcek: SEV-VCEK is signed by none of the chain's intermediates (SEV-Genoa, "
                 "SEV-VLEK-Genoa)");
}

}  // namespace
}  // namespace skr::snp
