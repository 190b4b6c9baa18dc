// The production SevGuestDevice and SevLegacyDevice, opened at the real /dev paths, against the
// skr_sev_preload seam (sev_preload.cc), which implements both ioctl ABIs on the emulated chip.
// Each scenario is one ctest entry (tests/preload/CMakeLists.txt) because the fault is chosen per
// process through the environment; the test cases are hidden ("[.]") so that running the binary
// without a tag does not run a scenario without its environment.
#include <dirent.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>

#include "common/crypto/signature.h"
#include "common/snp/emulated_chip.h"
#include "common/snp/ghcb_cert_table.h"
#include "common/snp/report.h"
#include "common/snp/sev_guest_device.h"
#include "common/snp/sev_legacy_device.h"
#include "common/snp/verifier.h"

namespace skr::snp {
namespace {

template <typename T>
T take(StatusOr<T> s) {
  INFO(s.status().toString());
  REQUIRE(s.ok());
  return std::move(s).value();
}

const EmulatedChip& chip() {
  static const EmulatedChip c = [] {
    const char* dir = std::getenv("SKR_FAKE_SEV_CHIP_DIR");
    INFO("run through ctest: LD_PRELOAD and SKR_FAKE_SEV_CHIP_DIR must be set");
    REQUIRE(dir != nullptr);
    REQUIRE(std::getenv("LD_PRELOAD") != nullptr);
    return take(EmulatedChip::openOrCreate(dir));
  }();
  return c;
}

std::array<uint8_t, 64> reportData(uint8_t seed) {
  std::array<uint8_t, 64> d{};
  for (std::size_t i = 0; i < d.size(); ++i) d[i] = static_cast<uint8_t>(seed ^ i);
  return d;
}

std::unique_ptr<SnpDevice> sevGuest() {
  chip();
  return take(SevGuestDevice::open("/dev/sev-guest"));
}
std::unique_ptr<SnpDevice> sevLegacy() {
  chip();
  return take(SevLegacyDevice::open("/dev/sev"));
}

std::string reportError(const SnpDevice& device) {
  StatusOr<Bytes> r = device.getReport(reportData(1), 0);
  REQUIRE_FALSE(r.ok());
  return r.status().toString();
}

std::string keyError(const SnpDevice& device) {
  DerivedKeyRequest req;
  req.guest_field_select = kFieldMeasurement;
  StatusOr<SecretBytes> k = device.getDerivedKey(req);
  REQUIRE_FALSE(k.ok());
  return k.status().toString();
}

int openDescriptors() {
  int n = 0;
  DIR* d = ::opendir("/proc/self/fd");
  REQUIRE(d != nullptr);
  while (::readdir(d) != nullptr) ++n;
  ::closedir(d);
  return n;
}

void checkGenuineReport(const Bytes& bytes, uint8_t seed, uint32_t vmpl) {
  const SnpReport r = take(SnpReport::parse(bytes));
  CHECK(r.report_data == reportData(seed));
  CHECK(r.vmpl == vmpl);
  CHECK(r.chip_id == chip().chipId());
  const Bytes der = take(crypto::ecdsaDerFromSnp(r.signature_r, r.signature_s));
  CHECK(crypto::verify(chip().vcek().publicKey(), crypto::SignatureScheme::EcdsaSha384,
                       ByteView(bytes).first(kSignedRegionSize), der)
            .ok());
  VerifyOptions options;
  options.extra_trusted_arks.push_back(chip().ark());
  CHECK(verifyReport(bytes, chip().vcek(), {chip().ask(), chip().ark()}, options).ok());
}

TEST_CASE("success: both ABIs return signed reports and stable derived keys",
          "[.][preload-success]") {
  const int fds_before = openDescriptors();
  {
    std::unique_ptr<SnpDevice> guest = sevGuest();
    std::unique_ptr<SnpDevice> legacy = sevLegacy();
    checkGenuineReport(take(guest->getReport(reportData(1), 0)), 1, 0);
    checkGenuineReport(take(guest->getReport(reportData(2), 3)), 2, 3);
    checkGenuineReport(take(legacy->getReport(reportData(3), 0)), 3, 0);
    checkGenuineReport(take(legacy->getReport(reportData(4), 1)), 4, 1);

    DerivedKeyRequest req;
    req.guest_field_select = kFieldMeasurement | kFieldGuestPolicy;
    const SecretBytes k = take(guest->getDerivedKey(req));
    CHECK(k.size() == 32);
    CHECK(take(guest->getDerivedKey(req)) == k);
    CHECK(take(legacy->getDerivedKey(req)) == k);  // same chip, same request
    CHECK(take(chip().deriveKey(req)) == k);
    DerivedKeyRequest other = req;
    other.guest_field_select = kFieldMeasurement;
    CHECK_FALSE(take(guest->getDerivedKey(other)) == k);
    CHECK_FALSE(take(legacy->getDerivedKey(other)) == k);

    // The firmware's own refusal arrives in the response status, not as an ioctl error.
    DerivedKeyRequest too_new = req;
    too_new.guest_svn = chip().config().guest_svn + 1;
    CHECK(guest->getDerivedKey(too_new).status().toString() ==
          "FailedPrecondition: SNP_GET_DERIVED_KEY on /dev/sev-guest: MSG_KEY_RSP status 0x16 "
          "(SEV_RET_INVALID_PARAM)");
    CHECK(legacy->getDerivedKey(too_new).status().toString() ==
          "FailedPrecondition: SEV_SNP_GUEST_MSG_KEY on /dev/sev: MSG_KEY_RSP status 0x16 "
          "(SEV_RET_INVALID_PARAM)");
    DerivedKeyRequest reserved = req;
    reserved.guest_field_select = 1u << 8;
    CHECK(guest->getDerivedKey(reserved).status().toString() ==
          "InvalidArgument: SNP_GET_DERIVED_KEY on /dev/sev-guest: guest_field_select 0x100 has "
          "reserved bits 63:7 set");
    CHECK(guest->getReport(reportData(0), 4).status().toString() ==
          "InvalidArgument: SNP_GET_REPORT on /dev/sev-guest: vmpl 4, expected 0..3");

    ExtendedReport ext = take(guest->getExtendedReport(reportData(5), 0));
    checkGenuineReport(ext.report, 5, 0);
    REQUIRE(ext.certificates.size() == 3);
    CHECK(guidToString(ext.certificates[0].guid) == kVcekGuid);
    CHECK(ext.certificates[0].der == chip().vcek().der());
    CHECK(ext.certificates[1].der == chip().ask().der());
    CHECK(ext.certificates[2].der == chip().ark().der());
    CHECK(legacy->getExtendedReport(reportData(5), 0).status().toString() ==
          "Unimplemented: extended report on /dev/sev: the legacy /dev/sev driver has no "
          "SNP_GET_EXT_REPORT; on ACI the certificates come from the security-context directory");
  }
  CHECK(openDescriptors() == fds_before);  // both descriptors closed
}

TEST_CASE("firmware error: exitinfo2[31:0] / error is reported by name", "[.][preload-fw-error]") {
  CHECK(reportError(*sevGuest()) ==
        "FailedPrecondition: SNP_GET_REPORT on /dev/sev-guest: firmware error 0x16 "
        "(SEV_RET_INVALID_PARAM)");
  CHECK(keyError(*sevGuest()) ==
        "FailedPrecondition: SNP_GET_DERIVED_KEY on /dev/sev-guest: firmware error 0x16 "
        "(SEV_RET_INVALID_PARAM)");
  CHECK(reportError(*sevLegacy()) ==
        "FailedPrecondition: SEV_SNP_GUEST_MSG_REPORT on /dev/sev: firmware error 0x16 "
        "(SEV_RET_INVALID_PARAM)");
  CHECK(keyError(*sevLegacy()) ==
        "FailedPrecondition: SEV_SNP_GUEST_MSG_KEY on /dev/sev: firmware error 0x16 "
        "(SEV_RET_INVALID_PARAM)");
}

TEST_CASE("VMM error: exitinfo2[63:32] on sev-guest, errno alone on the legacy ABI",
          "[.][preload-vmm-error]") {
  CHECK(reportError(*sevGuest()) ==
        "FailedPrecondition: SNP_GET_REPORT on /dev/sev-guest: VMM error 3 (not defined by the "
        "GHCB specification)");
  CHECK(keyError(*sevGuest()) ==
        "FailedPrecondition: SNP_GET_DERIVED_KEY on /dev/sev-guest: VMM error 3 (not defined by "
        "the GHCB specification)");
  StatusOr<ExtendedReport> ext = sevGuest()->getExtendedReport(reportData(1), 0);
  CHECK(ext.status().toString() ==
        "FailedPrecondition: SNP_GET_EXT_REPORT on /dev/sev-guest: VMM error 3 (not defined by "
        "the GHCB specification)");
  CHECK(reportError(*sevLegacy()) ==
        "FailedPrecondition: SEV_SNP_GUEST_MSG_REPORT on /dev/sev: ioctl failed: Input/output "
        "error (errno 5) with no firmware error: the host (VMM) failed the guest request (this "
        "ABI does not report VMM error codes)");
}

TEST_CASE("busy: the host throttles guest requests", "[.][preload-busy]") {
  CHECK(reportError(*sevGuest()) ==
        "Unavailable: SNP_GET_REPORT on /dev/sev-guest: VMM error 2 (busy: the host is "
        "throttling guest requests; retry later)");
  CHECK(keyError(*sevGuest()) ==
        "Unavailable: SNP_GET_DERIVED_KEY on /dev/sev-guest: VMM error 2 (busy: the host is "
        "throttling guest requests; retry later)");
  CHECK(reportError(*sevLegacy()) ==
        "Unavailable: SEV_SNP_GUEST_MSG_REPORT on /dev/sev: ioctl failed: Resource temporarily "
        "unavailable (errno 11); the host is busy, retry later");
  CHECK(keyError(*sevLegacy()) ==
        "Unavailable: SEV_SNP_GUEST_MSG_KEY on /dev/sev: ioctl failed: Resource temporarily "
        "unavailable (errno 11); the host is busy, retry later");
}

TEST_CASE("busy once: the caller's retry succeeds", "[.][preload-busy-once]") {
  std::unique_ptr<SnpDevice> guest = sevGuest();
  CHECK(guest->getReport(reportData(1), 0).status().code() == StatusCode::Unavailable);
  checkGenuineReport(take(guest->getReport(reportData(1), 0)), 1, 0);
}

TEST_CASE("short response: report_size below 1184", "[.][preload-short]") {
  CHECK(reportError(*sevGuest()) ==
        "Internal: SNP_GET_REPORT on /dev/sev-guest: short response: 200 bytes, expected 1184");
  CHECK(sevGuest()->getExtendedReport(reportData(1), 0).status().toString() ==
        "Internal: SNP_GET_EXT_REPORT on /dev/sev-guest: short response: 200 bytes, expected "
        "1184");
  CHECK(reportError(*sevLegacy()) ==
        "Internal: SEV_SNP_GUEST_MSG_REPORT on /dev/sev: short response: 200 bytes, expected "
        "1184");
}

TEST_CASE("EINVAL before the firmware call: errno is reported", "[.][preload-einval]") {
  CHECK(reportError(*sevGuest()) ==
        "Internal: SNP_GET_REPORT on /dev/sev-guest: ioctl failed: Invalid argument (errno 22)");
  CHECK(reportError(*sevLegacy()) ==
        "Internal: SEV_SNP_GUEST_MSG_REPORT on /dev/sev: ioctl failed: Invalid argument (errno "
        "22)");
}

TEST_CASE("a large host certificate table: the buffer grows once to the size the kernel asks",
          "[.][preload-big-certs]") {
  ExtendedReport ext = take(sevGuest()->getExtendedReport(reportData(6), 0));
  checkGenuineReport(ext.report, 6, 0);
  REQUIRE(ext.certificates.size() == 4);
  CHECK(ext.certificates[3].der == Bytes(12000, 0xaa));
}

TEST_CASE("missing devices: opening fails with the path and errno", "[.][preload-absent]") {
  chip();
  CHECK(SevGuestDevice::open("/dev/sev-guest").status().toString() ==
        "FailedPrecondition: /dev/sev-guest (SNP guest driver): /dev/sev-guest does not exist "
        "(No such file or directory (errno 2))");
  CHECK(SevLegacyDevice::open("/dev/sev").status().toString() ==
        "FailedPrecondition: /dev/sev (legacy SNP guest driver, ACI Linux 5.15): /dev/sev does "
        "not exist (No such file or directory (errno 2))");
}

}  // namespace
}  // namespace skr::snp
