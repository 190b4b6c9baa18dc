// Legacy /dev/sev of ACI's utility VM (Linux 5.15 with AMD's out-of-tree SNP guest driver,
// psp-sev-guest.h): the 40-byte struct sev_snp_guest_request with SEV_SNP_GUEST_MSG_REPORT and
// SEV_SNP_GUEST_MSG_KEY (spec/azure-wire.md §7.2). The ABI's only error field is the firmware
// error; the VMM's error code (GHCB exitinfo2[63:32]) is not reported, so a host-side failure
// shows as errno alone (EIO; EAGAIN/EBUSY for busy). Error policy as in sev_guest_device.h.
// Thread-safe.
#pragma once

#include <memory>
#include <string>

#include "common/snp/device_file.h"
#include "common/snp/snp_device.h"

namespace skr::snp {

class SevLegacyDevice final : public SnpDevice {
 public:
  static constexpr const char* kDefaultPath = "/dev/sev";

  static StatusOr<std::unique_ptr<SevLegacyDevice>> open(const std::string& path = kDefaultPath);

  std::string_view name() const override { return "sev-legacy"; }
  StatusOr<Bytes> getReport(const std::array<uint8_t, 64>& report_data,
                            uint32_t vmpl) const override;
  StatusOr<SecretBytes> getDerivedKey(const DerivedKeyRequest& request) const override;
  // Unimplemented: the legacy driver has no extended report (ACI supplies the certificates in
  // the security-context directory instead).
  StatusOr<ExtendedReport> getExtendedReport(const std::array<uint8_t, 64>& report_data,
                                             uint32_t vmpl) const override;

 private:
  explicit SevLegacyDevice(DeviceFile file) : file_(std::move(file)) {}
  DeviceFile file_;
};

}  // namespace skr::snp
