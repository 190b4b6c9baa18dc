#include "common/snp/sev_guest_device.h"

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "common/snp/ghcb_cert_table.h"

namespace skr::snp {
namespace {

// Kernel uapi include/uapi/linux/sev-guest.h (spec/azure-wire.md §7.1), restated so the build does
// not depend on the installed kernel headers.
struct SnpReportReq {
  uint8_t user_data[64];
  uint32_t vmpl;
  uint8_t rsvd[28];
};
struct SnpReportResp {
  uint8_t data[4000];
};
struct SnpDerivedKeyReq {
  uint8_t bytes[32];  // encodeKeyRequest() lays out the fields
};
struct SnpDerivedKeyResp {
  uint8_t data[64];
};
struct SnpGuestRequestIoctl {
  uint8_t msg_version;
  uint64_t req_data;
  uint64_t resp_data;
  uint64_t exitinfo2;  // bits 31:0 fw_error, 63:32 vmm_error
};
struct SnpExtReportReq {
  SnpReportReq data;
  uint64_t certs_address;
  uint32_t certs_len;
};
static_assert(sizeof(SnpReportReq) == 96);
static_assert(sizeof(SnpReportResp) == 4000);
static_assert(sizeof(SnpDerivedKeyReq) == 32);
static_assert(sizeof(SnpDerivedKeyResp) == 64);
static_assert(sizeof(SnpGuestRequestIoctl) == 32);
static_assert(offsetof(SnpGuestRequestIoctl, req_data) == 8);
static_assert(offsetof(SnpGuestRequestIoctl, exitinfo2) == 24);
static_assert(sizeof(SnpExtReportReq) == 112);  // 108 + 4 bytes tail padding
static_assert(offsetof(SnpExtReportReq, certs_address) == 96);
static_assert(offsetof(SnpExtReportReq, certs_len) == 104);

// _IOWR('S', nr, struct snp_guest_request_ioctl): dir 3 << 30 | size 32 << 16 | 'S' << 8 | nr.
constexpr unsigned long kSnpGetReport = 0xC0205300;
constexpr unsigned long kSnpGetDerivedKey = 0xC0205301;
constexpr unsigned long kSnpGetExtReport = 0xC0205302;
constexpr uint8_t kMsgVersion = 1;
constexpr uint32_t kVmmErrInvalidLen = 1;
constexpr uint32_t kVmmErrBusy = 2;
// The driver preloads exitinfo2 with 0xff (older kernels) or all ones (SEV_RET_NO_FW_CALL, newer)
// and copies it back only when non-zero: either value means no firmware call was made.
constexpr uint64_t kNoFirmwareCallShort = 0xff;
constexpr uint64_t kNoFirmwareCall = ~uint64_t{0};

const char* const kInterface = "/dev/sev-guest (SNP guest driver)";

std::string vmmErrorText(uint32_t vmm_error) {
  switch (vmm_error) {
    case kVmmErrInvalidLen:
      return "VMM error 1 (invalid length: the certificate buffer is too small)";
    case kVmmErrBusy:
      return "VMM error 2 (busy: the host is throttling guest requests; retry later)";
    default:
      return "VMM error " + std::to_string(vmm_error) + " (not defined by the GHCB specification)";
  }
}

// Maps a failed ioctl to a Status following the policy in the header.
Status ioctlError(const std::string& what, int err, uint64_t exitinfo2) {
  if (exitinfo2 != 0 && exitinfo2 != kNoFirmwareCallShort && exitinfo2 != kNoFirmwareCall) {
    const auto fw_error = static_cast<uint32_t>(exitinfo2 & 0xffffffffu);
    const auto vmm_error = static_cast<uint32_t>(exitinfo2 >> 32);
    if (vmm_error == kVmmErrBusy) return unavailableError(what + ": " + vmmErrorText(vmm_error));
    if (vmm_error != 0) return failedPreconditionError(what + ": " + vmmErrorText(vmm_error));
    return failedPreconditionError(what + ": firmware error " + describeFirmwareStatus(fw_error));
  }
  switch (err) {
    case EAGAIN:
    case EBUSY:
      return unavailableError(what + ": ioctl failed: " + errnoText(err) +
                              "; the guest request channel is busy, retry later");
    case ENOTTY:
      return failedPreconditionError(
          what + ": ioctl failed: " + errnoText(err) +
          "; the kernel disables the VMPCK after a failed guest request: reboot the guest");
    default: return internalError(what + ": ioctl failed: " + errnoText(err));
  }
}

}  // namespace

StatusOr<std::unique_ptr<SevGuestDevice>> SevGuestDevice::open(const std::string& path) {
  SKR_ASSIGN_OR_RETURN(DeviceFile file, DeviceFile::open(path, kInterface));
  return std::unique_ptr<SevGuestDevice>(new SevGuestDevice(std::move(file)));
}

StatusOr<Bytes> SevGuestDevice::getReport(const std::array<uint8_t, 64>& report_data,
                                          uint32_t vmpl) const {
  const std::string what = "SNP_GET_REPORT on " + file_.path();
  SKR_ASSIGN_OR_RETURN(auto encoded, encodeReportRequest(report_data, vmpl, what));
  SnpReportReq req{};
  std::memcpy(&req, encoded.data(), sizeof req);
  std::vector<uint8_t> resp(sizeof(SnpReportResp), 0);
  SnpGuestRequestIoctl io{};
  io.msg_version = kMsgVersion;
  io.req_data = reinterpret_cast<uintptr_t>(&req);          // NOLINT: kernel ABI takes addresses
  io.resp_data = reinterpret_cast<uintptr_t>(resp.data());  // NOLINT
  if (const int err = file_.ioctl(kSnpGetReport, &io); err != 0) {
    return ioctlError(what, err, io.exitinfo2);
  }
  return reportFromResponse(resp, what);
}

StatusOr<SecretBytes> SevGuestDevice::getDerivedKey(const DerivedKeyRequest& request) const {
  const std::string what = "SNP_GET_DERIVED_KEY on " + file_.path();
  SKR_ASSIGN_OR_RETURN(auto encoded, encodeKeyRequest(request, what));
  SnpDerivedKeyReq req{};
  std::memcpy(req.bytes, encoded.data(), sizeof req.bytes);
  // The response carries the key: it lives in secret storage from the start.
  SecretBytes resp(sizeof(SnpDerivedKeyResp));
  SnpGuestRequestIoctl io{};
  io.msg_version = kMsgVersion;
  io.req_data = reinterpret_cast<uintptr_t>(&req);  // NOLINT
  io.resp_data =
      reinterpret_cast<uintptr_t>(resp.mutableView(grantSecretAccess()).data());  // NOLINT
  if (const int err = file_.ioctl(kSnpGetDerivedKey, &io); err != 0) {
    return ioctlError(what, err, io.exitinfo2);
  }
  return keyFromResponse(resp.view(grantSecretAccess()), what);
}

StatusOr<ExtendedReport> SevGuestDevice::getExtendedReport(
    const std::array<uint8_t, 64>& report_data, uint32_t vmpl) const {
  const std::string what = "SNP_GET_EXT_REPORT on " + file_.path();
  SKR_ASSIGN_OR_RETURN(auto encoded, encodeReportRequest(report_data, vmpl, what));
  std::size_t certs_size = kInitialCertsBuffer;
  for (int attempt = 0;; ++attempt) {
    SnpExtReportReq req{};
    std::memcpy(&req.data, encoded.data(), sizeof req.data);
    std::vector<uint8_t> certs(certs_size, 0);
    std::vector<uint8_t> resp(sizeof(SnpReportResp), 0);
    req.certs_address = reinterpret_cast<uintptr_t>(certs.data());  // NOLINT
    req.certs_len = static_cast<uint32_t>(certs.size());
    SnpGuestRequestIoctl io{};
    io.msg_version = kMsgVersion;
    io.req_data = reinterpret_cast<uintptr_t>(&req);          // NOLINT
    io.resp_data = reinterpret_cast<uintptr_t>(resp.data());  // NOLINT
    const int err = file_.ioctl(kSnpGetExtReport, &io);
    if (err != 0) {
      const bool too_small =
          (io.exitinfo2 >> 32) == kVmmErrInvalidLen && io.exitinfo2 != kNoFirmwareCall;
      if (!too_small) return ioctlError(what, err, io.exitinfo2);
      // The kernel wrote the required size into certs_len.
      if (attempt > 0) {
        return internalError(what +
                             ": the host still reports the certificate buffer too small "
                             "after growing it to " +
                             std::to_string(certs_size) + " bytes");
      }
      if (req.certs_len <= certs_size || req.certs_len > kMaxCertsBuffer ||
          req.certs_len % 4096 != 0) {
        return internalError(what + ": the host asks for a " + std::to_string(req.certs_len) +
                             "-byte certificate buffer; expected a multiple of 4096 above " +
                             std::to_string(certs_size) + " and at most " +
                             std::to_string(kMaxCertsBuffer));
      }
      certs_size = req.certs_len;
      continue;
    }
    ExtendedReport out;
    SKR_ASSIGN_OR_RETURN(out.report, reportFromResponse(resp, what));
    StatusOr<std::vector<CertTableEntry>> table = parseCertTable(certs);
    if (!table.ok()) return table.status().withContext(what);
    out.certificates = std::move(table).value();
    return out;
  }
}

}  // namespace skr::snp
