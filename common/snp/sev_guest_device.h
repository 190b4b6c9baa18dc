// /dev/sev-guest (upstream Linux >= 5.19 / 6.x SNP guest driver): SNP_GET_REPORT,
// SNP_GET_DERIVED_KEY and SNP_GET_EXT_REPORT (spec/azure-wire.md §7.1, kernel
// include/uapi/linux/sev-guest.h). Error policy, shared with sev_legacy_device:
//   missing device                          FailedPrecondition
//   firmware error (exitinfo2[31:0] or the  FailedPrecondition: the firmware refused the request
//   MSG_*_RSP status)                       in the guest's current state; retrying does not help
//                                           (the kernel may also have disabled the VMPCK)
//   VMM busy (exitinfo2[63:32] == 2),       Unavailable: retry later
//   EAGAIN/EBUSY
//   other VMM error                         FailedPrecondition
//   short/inconsistent response             Internal
//   other errno                             Internal
// Thread-safe: the descriptor is opened once and the kernel serialises requests.
#pragma once

#include <memory>
#include <string>

#include "common/snp/device_file.h"
#include "common/snp/snp_device.h"

namespace skr::snp {

class SevGuestDevice final : public SnpDevice {
 public:
  static constexpr const char* kDefaultPath = "/dev/sev-guest";
  // Upper bound of the certificate buffer SNP_GET_EXT_REPORT may ask for.
  static constexpr std::size_t kMaxCertsBuffer = 64 * 1024;
  static constexpr std::size_t kInitialCertsBuffer = 4 * 4096;

  // Opens the device (FailedPrecondition when it does not exist).
  static StatusOr<std::unique_ptr<SevGuestDevice>> open(const std::string& path = kDefaultPath);

  std::string_view name() const override { return "sev-guest"; }
  StatusOr<Bytes> getReport(const std::array<uint8_t, 64>& report_data,
                            uint32_t vmpl) const override;
  StatusOr<SecretBytes> getDerivedKey(const DerivedKeyRequest& request) const override;
  // Starts with a 4-page certificate buffer; when the host answers SNP_GUEST_VMM_ERR_INVALID_LEN
  // it grows to the size the kernel reports (at most kMaxCertsBuffer) and retries once.
  StatusOr<ExtendedReport> getExtendedReport(const std::array<uint8_t, 64>& report_data,
                                             uint32_t vmpl) const override;

 private:
  explicit SevGuestDevice(DeviceFile file) : file_(std::move(file)) {}
  DeviceFile file_;
};

}  // namespace skr::snp
