#include "common/snp/sev_legacy_device.h"

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace skr::snp {
namespace {

// AMD psp-sev-guest.h (spec/azure-wire.md §7.2); natural x86-64 alignment gives 40 bytes.
struct SevSnpGuestRequest {
  uint8_t req_msg_type;
  uint8_t rsp_msg_type;
  uint8_t msg_version;
  uint16_t request_len;
  uint64_t request_uaddr;
  uint16_t response_len;
  uint64_t response_uaddr;
  uint32_t error;  // firmware error code on failure
};
static_assert(sizeof(SevSnpGuestRequest) == 40);
static_assert(offsetof(SevSnpGuestRequest, msg_version) == 2);
static_assert(offsetof(SevSnpGuestRequest, request_len) == 4);
static_assert(offsetof(SevSnpGuestRequest, request_uaddr) == 8);
static_assert(offsetof(SevSnpGuestRequest, response_len) == 16);
static_assert(offsetof(SevSnpGuestRequest, response_uaddr) == 24);
static_assert(offsetof(SevSnpGuestRequest, error) == 32);

// _IOWR('S', nr, struct sev_snp_guest_request): size 40 = 0x28.
constexpr unsigned long kSevSnpGuestMsgReport = 0xC0285301;
constexpr unsigned long kSevSnpGuestMsgKey = 0xC0285302;
constexpr uint8_t kMsgKeyReq = 3;
constexpr uint8_t kMsgKeyRsp = 4;
constexpr uint8_t kMsgReportReq = 5;
constexpr uint8_t kMsgReportRsp = 6;
constexpr uint8_t kMsgVersion = 1;
constexpr uint16_t kReportRequestLen = 96;
constexpr uint16_t kReportResponseLen = 1280;  // SEV_SNP_REPORT_RSP_BUF_SZ
constexpr uint16_t kKeyRequestLen = 32;
constexpr uint16_t kKeyResponseLen = 64;

const char* const kInterface = "/dev/sev (legacy SNP guest driver, ACI Linux 5.15)";

Status ioctlError(const std::string& what, int err, uint32_t fw_error) {
  if (fw_error != 0) {
    return failedPreconditionError(what + ": firmware error " + describeFirmwareStatus(fw_error));
  }
  switch (err) {
    case EAGAIN:
    case EBUSY:
      return unavailableError(what + ": ioctl failed: " + errnoText(err) +
                              "; the host is busy, retry later");
    case EIO:
      return failedPreconditionError(
          what + ": ioctl failed: " + errnoText(err) +
          " with no firmware error: the host (VMM) failed the guest request (this ABI does not "
          "report VMM error codes)");
    default: return internalError(what + ": ioctl failed: " + errnoText(err));
  }
}

// One guest request: `response` is sized to the buffer length announced to the driver; on return
// it is cut to the response_len the driver wrote back.
Status guestRequest(const DeviceFile& file, unsigned long ioctl_nr, uint8_t req_type,
                    uint8_t rsp_type, ByteView request, std::span<uint8_t> response,
                    std::size_t* response_len, const std::string& what) {
  SevSnpGuestRequest io{};
  io.req_msg_type = req_type;
  io.rsp_msg_type = rsp_type;
  io.msg_version = kMsgVersion;
  io.request_len = static_cast<uint16_t>(request.size());
  io.request_uaddr = reinterpret_cast<uintptr_t>(request.data());  // NOLINT: kernel ABI
  io.response_len = static_cast<uint16_t>(response.size());
  io.response_uaddr = reinterpret_cast<uintptr_t>(response.data());  // NOLINT
  if (const int err = file.ioctl(ioctl_nr, &io); err != 0) return ioctlError(what, err, io.error);
  if (io.response_len > response.size()) {
    return internalError(what + ": the driver reports a " + std::to_string(io.response_len) +
                         "-byte response for a " + std::to_string(response.size()) +
                         "-byte buffer");
  }
  *response_len = io.response_len;
  return okStatus();
}

}  // namespace

StatusOr<std::unique_ptr<SevLegacyDevice>> SevLegacyDevice::open(const std::string& path) {
  SKR_ASSIGN_OR_RETURN(DeviceFile file, DeviceFile::open(path, kInterface));
  return std::unique_ptr<SevLegacyDevice>(new SevLegacyDevice(std::move(file)));
}

StatusOr<Bytes> SevLegacyDevice::getReport(const std::array<uint8_t, 64>& report_data,
                                           uint32_t vmpl) const {
  const std::string what = "SEV_SNP_GUEST_MSG_REPORT on " + file_.path();
  SKR_ASSIGN_OR_RETURN(auto request, encodeReportRequest(report_data, vmpl, what));
  static_assert(sizeof(request) == kReportRequestLen);
  std::vector<uint8_t> response(kReportResponseLen, 0);
  std::size_t response_len = 0;
  SKR_RETURN_IF_ERROR(guestRequest(file_, kSevSnpGuestMsgReport, kMsgReportReq, kMsgReportRsp,
                                   request, response, &response_len, what));
  return reportFromResponse(ByteView(response.data(), response_len), what);
}

StatusOr<SecretBytes> SevLegacyDevice::getDerivedKey(const DerivedKeyRequest& request) const {
  const std::string what = "SEV_SNP_GUEST_MSG_KEY on " + file_.path();
  SKR_ASSIGN_OR_RETURN(auto encoded, encodeKeyRequest(request, what));
  static_assert(sizeof(encoded) == kKeyRequestLen);
  SecretBytes response(kKeyResponseLen);
  std::size_t response_len = 0;
  SKR_RETURN_IF_ERROR(guestRequest(file_, kSevSnpGuestMsgKey, kMsgKeyReq, kMsgKeyRsp, encoded,
                                   response.mutableView(grantSecretAccess()), &response_len, what));
  return keyFromResponse(response.view(grantSecretAccess()).first(response_len), what);
}

StatusOr<ExtendedReport> SevLegacyDevice::getExtendedReport(const std::array<uint8_t, 64>&,
                                                            uint32_t) const {
  return unimplementedError(
      "extended report on " + file_.path() +
      ": the legacy /dev/sev driver has no SNP_GET_EXT_REPORT; on ACI the certificates come from "
      "the security-context directory");
}

}  // namespace skr::snp
