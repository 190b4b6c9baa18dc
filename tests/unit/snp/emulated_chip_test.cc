#include "common/snp/emulated_chip.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "common/crypto/signature.h"
#include "common/crypto/x509.h"
#include "common/encoding/hex.h"
#include "common/snp/ghcb_cert_table.h"
#include "common/snp/report.h"
#include "common/snp/verifier.h"

namespace skr::snp {
namespace {

namespace fs = std::filesystem;

template <typename T>
T take(StatusOr<T> s) {
  INFO(s.status().toString());
  REQUIRE(s.ok());
  return std::move(s).value();
}

std::string makeTempDir() {
  std::string templ = (fs::temp_directory_path() / "skr-chip-test-XXXXXX").string();
  REQUIRE(::mkdtemp(templ.data()) != nullptr);
  return templ;
}

// RSA-4096 generation is slow: one chip per test binary; tests that change it work on a copy.
const std::string& pristineChipDir() {
  static const std::string dir = [] {
    const std::string parent = makeTempDir();
    const std::string d = parent + "/chip";
    take(EmulatedChip::openOrCreate(d));
    return d;
  }();
  return dir;
}

std::string copyOfChip() {
  const std::string d = makeTempDir() + "/chip";
  fs::copy(pristineChipDir(), d, fs::copy_options::recursive);
  return d;
}

mode_t modeOf(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

std::array<uint8_t, 64> reportData(uint8_t seed) {
  std::array<uint8_t, 64> d{};
  for (std::size_t i = 0; i < d.size(); ++i) d[i] = static_cast<uint8_t>(seed + i);
  return d;
}

Bytes extension(const crypto::Certificate& c, const char* oid) {
  std::optional<Bytes> v = take(c.extensionValue(oid));
  REQUIRE(v.has_value());
  return *v;
}

std::vector<std::string> extensionOids(const crypto::Certificate& c) {
  std::vector<std::string> out;
  for (int i = 0; i < X509_get_ext_count(c.x509()); ++i) {
    char oid[80];
    OBJ_obj2txt(oid, sizeof oid, X509_EXTENSION_get_object(X509_get_ext(c.x509(), i)), 1);
    out.emplace_back(oid);
  }
  return out;
}

Status verifyReportSignature(ByteView report, const crypto::Certificate& vcek) {
  const SnpReport parsed = take(SnpReport::parse(report));
  const Bytes der = take(crypto::ecdsaDerFromSnp(parsed.signature_r, parsed.signature_s));
  return crypto::verify(vcek.publicKey(), crypto::SignatureScheme::EcdsaSha384,
                        report.first(kSignedRegionSize), der);
}

TEST_CASE("the emulated chip is created with restrictive modes and persists across reopen",
          "[snp-device]") {
  const std::string dir = pristineChipDir();
  CHECK(modeOf(dir) == 0700);
  for (const char* secret :
       {"ark_key.pem", "ask_key.pem", "vcek_key.pem", "chip_secret.bin", "vmrk_secret.bin"}) {
    INFO(secret);
    CHECK(modeOf(dir + "/" + secret) == 0600);
  }
  for (const char* pub : {"ark.pem", "ask.pem", "vcek.pem", "chip_id.bin", "chip.json"}) {
    INFO(pub);
    CHECK(modeOf(dir + "/" + pub) == 0644);
  }
  // No temporary files are left behind.
  for (const auto& entry : fs::directory_iterator(dir)) {
    CHECK(entry.path().filename().string().find(".tmp-") == std::string::npos);
  }
  EmulatedChip a = take(EmulatedChip::openOrCreate(dir));
  EmulatedChip b = take(EmulatedChip::openOrCreate(dir));
  CHECK(a.chipId() == b.chipId());
  CHECK(a.ark().der() == b.ark().der());
  CHECK(a.vcek().der() == b.vcek().der());
  CHECK(a.config().report_id == b.config().report_id);
  CHECK(a.config().report_id != std::array<uint8_t, 32>{});
}

TEST_CASE("the emulated PKI chains ARK <- ASK <- VCEK and is visibly not AMD's", "[snp-device]") {
  EmulatedChip chip = take(EmulatedChip::openOrCreate(pristineChipDir()));
  CHECK(chip.ark().subjectCommonName() == "ARK-Emulated (skr emulator - not AMD)");
  CHECK(chip.ark().isSelfIssued());
  CHECK(chip.ark().verifySignedBy(chip.ark()).ok());
  CHECK(chip.ask().subjectCommonName() == "SEV-Emulated");
  CHECK(chip.ask().verifySignedBy(chip.ark()).ok());
  CHECK(chip.vcek().subjectCommonName() == "SEV-VCEK");
  CHECK(chip.vcek().subjectOneLine() == "CN=SEV-VCEK,OU=Emulated SEV-SNP,O=skr emulator - not AMD");
  CHECK(chip.vcek().issuerCommonName() == "SEV-Emulated");
  CHECK(chip.vcek().verifySignedBy(chip.ask()).ok());
  CHECK_FALSE(chip.vcek().verifySignedBy(chip.ark()).ok());
  for (const crypto::Certificate* c : {&chip.ark(), &chip.ask(), &chip.vcek()}) {
    CHECK(c->signatureAlgorithmOid() == "1.2.840.113549.1.1.10");  // RSASSA-PSS
  }
  CHECK(chip.ark().publicKey().bits() == 4096);
  CHECK(chip.ask().publicKey().bits() == 4096);
  CHECK(take(chip.vcek().publicKey().curve()) == crypto::Curve::P384);
  CHECK(chip.vcek().serialHex() == "0");
  CHECK_FALSE(take(chip.vcek().extensionValue("2.5.29.35")).has_value());  // no AKI, like AMD
}

TEST_CASE("the emulated VCEK carries AMD's extensions in the real VCEK's order and encodings",
          "[snp-device]") {
  EmulatedChip chip = take(EmulatedChip::openOrCreate(pristineChipDir()));
  std::ifstream in(std::string(SKR_TEST_DATA_DIR) + "/snp/aci-milan-v2/vcek.pem");
  std::stringstream pem;
  pem << in.rdbuf();
  const crypto::Certificate amd = take(crypto::Certificate::fromPem(pem.str()));
  CHECK(extensionOids(chip.vcek()) == extensionOids(amd));
  for (const char* oid :
       {"1.3.6.1.4.1.3704.1.1", "1.3.6.1.4.1.3704.1.2", "1.3.6.1.4.1.3704.1.3.1",
        "1.3.6.1.4.1.3704.1.3.2", "1.3.6.1.4.1.3704.1.3.3", "1.3.6.1.4.1.3704.1.3.4",
        "1.3.6.1.4.1.3704.1.3.5", "1.3.6.1.4.1.3704.1.3.6", "1.3.6.1.4.1.3704.1.3.7",
        "1.3.6.1.4.1.3704.1.3.8"}) {
    INFO(oid);  // default TCB bl 3 tee 0 snp 8 ucode 115 = the ACI fixture's
    CHECK(extension(chip.vcek(), oid) == extension(amd, oid));
  }
  CHECK(extension(chip.vcek(), "1.3.6.1.4.1.3704.1.4") ==
        Bytes(chip.chipId().begin(), chip.chipId().end()));
  const VcekExtensions ext = take(parseVcekExtensions(chip.vcek()));
  CHECK(ext.product_name == "Milan-B0");
  CHECK(ext.tcb.raw == 0x7308000000000003ULL);
}

TEST_CASE("emulated reports carry the configured guest and verify with the VCEK", "[snp-device]") {
  EmulatedChip chip = take(EmulatedChip::openOrCreate(pristineChipDir()));
  const Bytes bytes = take(chip.signReport(reportData(7), 1));
  REQUIRE(bytes.size() == kReportSize);
  const SnpReport r = take(SnpReport::parse(bytes));
  CHECK(r.version == 3);
  CHECK(r.generation() == Generation::Milan);
  CHECK(r.report_data == reportData(7));
  CHECK(r.vmpl == 1);
  CHECK(r.signature_algo == 1);
  CHECK(r.policy.raw == 0x3001f);
  CHECK(r.chip_id == chip.chipId());
  CHECK(r.reported_tcb == 0x7308000000000003ULL);
  CHECK(r.current_tcb == r.reported_tcb);
  CHECK(r.committed_tcb == r.reported_tcb);
  CHECK(r.launch_tcb == r.reported_tcb);
  CHECK(r.report_id == chip.config().report_id);
  CHECK(r.report_id_ma == [] {
    std::array<uint8_t, 32> ff{};
    ff.fill(0xff);
    return ff;
  }());
  CHECK(r.signingKey() == SigningKey::Vcek);
  CHECK(verifyReportSignature(bytes, chip.vcek()).ok());
  Bytes tampered = bytes;
  tampered[0x50] ^= 1;
  CHECK(verifyReportSignature(tampered, chip.vcek()).code() == StatusCode::DataLoss);

  StatusOr<Bytes> refused = chip.signReport(reportData(0), 4);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().toString() ==
        "FailedPrecondition: emulated chip: MSG_REPORT_REQ rejected with 0x16 "
        "(SEV_RET_INVALID_PARAM): vmpl 4 is not in 0..3");
}

TEST_CASE("emulated reports pass the verifier only when the emulated ARK is trusted",
          "[snp-device]") {
  EmulatedChip chip = take(EmulatedChip::openOrCreate(pristineChipDir()));
  const Bytes bytes = take(chip.signReport(reportData(1), 0));
  VerifyOptions options;
  StatusOr<VerificationResult> untrusted =
      verifyReport(bytes, chip.vcek(), {chip.ask(), chip.ark()}, options);
  REQUIRE_FALSE(untrusted.ok());
  CHECK(untrusted.status().code() == StatusCode::PermissionDenied);
  options.extra_trusted_arks.push_back(chip.ark());
  VerificationResult trusted =
      take(verifyReport(bytes, chip.vcek(), {chip.ask(), chip.ark()}, options));
  CHECK_FALSE(trusted.ark_pinned);
  CHECK(trusted.generation == Generation::Milan);
}

TEST_CASE("a TCB change in the config re-issues the VCEK with the new SPLs", "[snp-device]") {
  const std::string dir = copyOfChip();
  EmulatedChip chip = take(EmulatedChip::openOrCreate(dir));
  const Bytes old_vcek = chip.vcek().der();
  ChipConfig config = chip.config();
  config.snp = 9;
  config.microcode = 0xd1;
  REQUIRE(chip.updateConfig(config).ok());
  CHECK(chip.vcek().der() != old_vcek);
  CHECK_FALSE(
      chip.vcek().publicKey().equals(take(crypto::Certificate::fromDer(old_vcek)).publicKey()));
  CHECK(chip.vcek().verifySignedBy(chip.ask()).ok());
  CHECK(extension(chip.vcek(), "1.3.6.1.4.1.3704.1.3.3") == Bytes{0x02, 0x01, 0x09});
  CHECK(extension(chip.vcek(), "1.3.6.1.4.1.3704.1.3.8") == Bytes{0x02, 0x02, 0x00, 0xd1});
  const Bytes report = take(chip.signReport(reportData(2), 0));
  CHECK(take(SnpReport::parse(report)).reported_tcb == 0xd109000000000003ULL);
  CHECK(verifyReportSignature(report, chip.vcek()).ok());

  // Persisted; and an edit of chip.json by another process (the emulator's admin API) is picked
  // up on open.
  EmulatedChip reopened = take(EmulatedChip::openOrCreate(dir));
  CHECK(reopened.vcek().der() == chip.vcek().der());
  config.bootloader = 4;
  {
    std::ofstream out(dir + "/chip.json", std::ios::trunc);
    out << config.toJson();
  }
  EmulatedChip edited = take(EmulatedChip::openOrCreate(dir));
  CHECK(extension(edited.vcek(), "1.3.6.1.4.1.3704.1.3.1") == Bytes{0x02, 0x01, 0x04});
  CHECK(edited.chipId() == chip.chipId());
  CHECK(modeOf(dir + "/vcek_key.pem") == 0600);
}

TEST_CASE("derived keys mix exactly the selected guest fields", "[snp-device]") {
  const std::string dir = copyOfChip();
  EmulatedChip chip = take(EmulatedChip::openOrCreate(dir));
  ChipConfig config = chip.config();
  config.guest_svn = 5;
  REQUIRE(chip.updateConfig(config).ok());

  DerivedKeyRequest req;
  req.guest_field_select = kFieldMeasurement | kFieldGuestPolicy;
  const SecretBytes k1 = take(chip.deriveKey(req));
  CHECK(k1.size() == 32);
  CHECK(take(chip.deriveKey(req)) == k1);

  DerivedKeyRequest other_select = req;
  other_select.guest_field_select |= kFieldImageId;
  CHECK_FALSE(take(chip.deriveKey(other_select)) == k1);
  DerivedKeyRequest vmrk = req;
  vmrk.root_key_select = RootKey::Vmrk;
  CHECK_FALSE(take(chip.deriveKey(vmrk)) == k1);
  DerivedKeyRequest vmpl1 = req;
  vmpl1.vmpl = 1;
  CHECK_FALSE(take(chip.deriveKey(vmpl1)) == k1);

  // A selected field (measurement) changes the key; an unselected one (image id) does not.
  ChipConfig changed = config;
  changed.image_id[0] ^= 1;
  REQUIRE(chip.updateConfig(changed).ok());
  CHECK(take(chip.deriveKey(req)) == k1);
  changed.measurement[0] ^= 1;
  REQUIRE(chip.updateConfig(changed).ok());
  CHECK_FALSE(take(chip.deriveKey(req)) == k1);
  REQUIRE(chip.updateConfig(config).ok());
  CHECK(take(chip.deriveKey(req)) == k1);

  // guest_svn and tcb_version count only when selected, and are bounded like the firmware does.
  DerivedKeyRequest svn = req;
  svn.guest_svn = 3;
  CHECK(take(chip.deriveKey(svn)) == k1);
  svn.guest_field_select |= kFieldGuestSvn;
  const SecretBytes k_svn3 = take(chip.deriveKey(svn));
  svn.guest_svn = 4;
  CHECK_FALSE(take(chip.deriveKey(svn)) == k_svn3);
  svn.guest_svn = 6;
  StatusOr<SecretBytes> too_new = chip.deriveKey(svn);
  REQUIRE_FALSE(too_new.ok());
  CHECK(too_new.status().toString() ==
        "FailedPrecondition: emulated chip: MSG_KEY_REQ rejected with 0x16 "
        "(SEV_RET_INVALID_PARAM): guest_svn 6 is above the launch GUEST_SVN 5");
  DerivedKeyRequest tcb = req;
  tcb.guest_field_select |= kFieldTcbVersion;
  tcb.tcb_version = config.tcbRaw();
  CHECK(chip.deriveKey(tcb).ok());
  tcb.tcb_version = TcbVersion::compose(Generation::Milan, 3, 0, 9, 115).raw;
  CHECK(chip.deriveKey(tcb).status().toString() ==
        "FailedPrecondition: emulated chip: MSG_KEY_REQ rejected with 0x16 "
        "(SEV_RET_INVALID_PARAM): tcb_version 0x7309000000000003 is above the COMMITTED_TCB "
        "0x7308000000000003");
  DerivedKeyRequest reserved = req;
  reserved.guest_field_select = 1u << 7;
  CHECK(chip.deriveKey(reserved).status().toString() ==
        "FailedPrecondition: emulated chip: MSG_KEY_REQ rejected with 0x16 "
        "(SEV_RET_INVALID_PARAM): guest_field_select 0x80 has reserved bits set");

  // The secret is the chip's: another chip derives another key.
  const std::string other_dir = makeTempDir() + "/chip";
  fs::copy(dir, other_dir, fs::copy_options::recursive);
  fs::remove(other_dir + "/chip_secret.bin");
  {
    std::ofstream out(other_dir + "/chip_secret.bin", std::ios::binary);
    out << std::string(32, 'x');
  }
  EmulatedChip other = take(EmulatedChip::openOrCreate(other_dir));
  CHECK_FALSE(take(other.deriveKey(req)) == k1);
}

TEST_CASE("the emulated device serves reports, keys and a GHCB certificate table", "[snp-device]") {
  std::unique_ptr<EmulatedDevice> device = take(EmulatedDevice::open(pristineChipDir()));
  CHECK(device->name() == "emulated");
  ExtendedReport ext = take(device->getExtendedReport(reportData(3), 0));
  CHECK(take(SnpReport::parse(ext.report)).report_data == reportData(3));
  REQUIRE(ext.certificates.size() == 3);
  CHECK(guidToString(ext.certificates[0].guid) == kVcekGuid);
  CHECK(ext.certificates[0].der == device->chip().vcek().der());
  CHECK(guidToString(ext.certificates[1].guid) == kAskGuid);
  CHECK(guidToString(ext.certificates[2].guid) == kArkGuid);
  CHECK(take(device->getDerivedKey(DerivedKeyRequest())).size() == 32);
}

TEST_CASE("ecdsaSnpFromDer inverts ecdsaDerFromSnp", "[snp-device]") {
  std::array<uint8_t, 72> r{};
  std::array<uint8_t, 72> s{};
  r[0] = 0x01;
  r[47] = 0x80;
  s[1] = 0xff;
  const Bytes der = take(crypto::ecdsaDerFromSnp(r, s));
  const SnpSignature back = take(ecdsaSnpFromDer(der));
  CHECK(back.r == r);
  CHECK(back.s == s);
  CHECK(ecdsaSnpFromDer(Bytes{0x30, 0x00, 0x00}).status().toString() ==
        "InvalidArgument: ECDSA signature: 3 bytes are not one DER ECDSA-Sig-Value");
}

TEST_CASE("chip.json round-trips and rejects bad members by name", "[snp-device]") {
  ChipConfig c;
  c.guest_svn = 2;
  c.host_data[31] = 0xcd;
  c.policy = 0x3001f | (1ULL << 19);
  c.report_version = 2;
  const ChipConfig back = take(ChipConfig::fromJson(c.toJson()));
  CHECK(back.toJson() == c.toJson());
  CHECK(back.host_data == c.host_data);
  CHECK(back.policy == c.policy);
  CHECK(ChipConfig::fromJson(R"({"format":"skr-emulated-chip/1","policy":"0x1f"})")
            .status()
            .toString() ==
        "InvalidArgument: chip.json: policy 0x1f has reserved bit 17 clear; the firmware "
        "requires it set");
  CHECK(ChipConfig::fromJson(R"({"format":"skr-emulated-chip/1","measurement":"00"})")
            .status()
            .toString() ==
        "InvalidArgument: chip.json: member 'measurement' must be 96 hex digits");
  CHECK(ChipConfig::fromJson(R"({"format":"skr-emulated-chip/1","tcb":{"snp":256}})")
            .status()
            .toString() == "InvalidArgument: chip.json: member 'snp' is 256, expected 0..255");
  CHECK(ChipConfig::fromJson(R"({"format":"x"})").status().toString() ==
        "InvalidArgument: chip.json: format is 'x', expected 'skr-emulated-chip/1'");
}

}  // namespace
}  // namespace skr::snp
