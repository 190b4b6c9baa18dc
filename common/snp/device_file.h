// Shared plumbing of the SNP guest-request device sources (sev_guest_device, sev_legacy_device):
// an owned descriptor opened O_RDWR|O_CLOEXEC and closed on destruction, an ioctl that retries on
// EINTR, and the names of SEV firmware status codes for messages.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/core/bytes.h"
#include "common/core/secret_bytes.h"
#include "common/core/status.h"
#include "common/snp/snp_device.h"

namespace skr::snp {

// One open device node. Move-only; closes in the destructor. ioctl() may be called concurrently
// (the kernel serialises guest requests).
class DeviceFile {
 public:
  // Opens `path` O_RDWR|O_CLOEXEC (retrying on EINTR). ENOENT/ENODEV/ENXIO -> FailedPrecondition
  // "<interface>: <path> does not exist (...)", EACCES/EPERM -> PermissionDenied, else Internal.
  // `interface` names the source in messages, e.g. "/dev/sev-guest (SNP guest driver, Linux 6.x)".
  static StatusOr<DeviceFile> open(const std::string& path, std::string_view interface);

  DeviceFile(DeviceFile&& other) noexcept;
  DeviceFile& operator=(DeviceFile&& other) noexcept;
  DeviceFile(const DeviceFile&) = delete;
  DeviceFile& operator=(const DeviceFile&) = delete;
  ~DeviceFile();

  // ioctl(fd, request, arg), repeated while it fails with EINTR. Returns 0 or the errno.
  int ioctl(unsigned long request, void* arg) const;

  const std::string& path() const { return path_; }

 private:
  DeviceFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  void reset() noexcept;
  int fd_ = -1;
  std::string path_;
};

// "Invalid argument (errno 22)".
std::string errnoText(int err);

// SEV firmware status code name, e.g. 0x16 -> "SEV_RET_INVALID_PARAM"; "unknown" otherwise.
std::string_view firmwareStatusName(uint32_t code);
// "0x16 (SEV_RET_INVALID_PARAM)".
std::string describeFirmwareStatus(uint32_t code);

// MSG_REPORT_RSP (spec §7.1: u32 status @0, u32 report_size @4, report @0x20) -> the report bytes,
// validated by SnpReport::parse. `what` prefixes messages ("SNP_GET_REPORT on /dev/sev-guest").
// Non-zero status: FailedPrecondition "<what>: MSG_REPORT_RSP status 0x16 (SEV_RET_INVALID_PARAM)";
// report_size != 1184 or beyond the response: Internal "<what>: short response: 200 bytes,
// expected 1184".
StatusOr<Bytes> reportFromResponse(ByteView response, std::string_view what);
// MSG_KEY_RSP (u32 status @0, key[32] @0x20) -> the key.
StatusOr<SecretBytes> keyFromResponse(ByteView response, std::string_view what);
// MSG_KEY_REQ (32 bytes, the layout of struct snp_derived_key_req) after checking the request:
// root key 0/1, guest_field_select bits 63:7 clear, vmpl 0..3 (InvalidArgument otherwise).
StatusOr<std::array<uint8_t, 32>> encodeKeyRequest(const DerivedKeyRequest& request,
                                                   std::string_view what);
// MSG_REPORT_REQ (96 bytes: report_data[64], u32 vmpl, 28 reserved) after checking vmpl 0..3.
StatusOr<std::array<uint8_t, 96>> encodeReportRequest(const std::array<uint8_t, 64>& report_data,
                                                      uint32_t vmpl, std::string_view what);

// Little-endian reads/writes for request and response buffers.
uint32_t loadLe32(const uint8_t* p);
uint64_t loadLe64(const uint8_t* p);
void storeLe32(uint8_t* p, uint32_t v);
void storeLe64(uint8_t* p, uint64_t v);

}  // namespace skr::snp
