#include "common/snp/device_file.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "common/snp/report.h"

namespace skr::snp {

StatusOr<DeviceFile> DeviceFile::open(const std::string& path, std::string_view interface) {
  int fd = -1;
  do {
    fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd >= 0) return DeviceFile(fd, path);
  const int err = errno;
  const std::string what = std::string(interface) + ": " + path;
  switch (err) {
    case ENOENT:
    case ENODEV:
    case ENXIO: return failedPreconditionError(what + " does not exist (" + errnoText(err) + ")");
    case EACCES:
    case EPERM:
      return permissionDeniedError(what + " cannot be opened for reading and writing (" +
                                   errnoText(err) + ")");
    default: return internalError(what + ": open failed: " + errnoText(err));
  }
}

DeviceFile::DeviceFile(DeviceFile&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)) {}

DeviceFile& DeviceFile::operator=(DeviceFile&& other) noexcept {
  if (this != &other) {
    reset();
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
  }
  return *this;
}

DeviceFile::~DeviceFile() {
  reset();
}

void DeviceFile::reset() noexcept {
  // close() is not retried on EINTR: on Linux the descriptor is released either way.
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

int DeviceFile::ioctl(unsigned long request, void* arg) const {
  for (;;) {
    if (::ioctl(fd_, request, arg) == 0) return 0;
    if (errno != EINTR) return errno;
  }
}

std::string errnoText(int err) {
  char buf[128];
  // GNU strerror_r returns the message (possibly not in buf).
  const char* text = strerror_r(err, buf, sizeof buf);
  return std::string(text) + " (errno " + std::to_string(err) + ")";
}

std::string_view firmwareStatusName(uint32_t code) {
  // SEV-SNP firmware ABI #56860, "Status Codes"; kernel include/uapi/linux/psp-sev.h names.
  switch (code) {
    case 0x00: return "SEV_RET_SUCCESS";
    case 0x01: return "SEV_RET_INVALID_PLATFORM_STATE";
    case 0x02: return "SEV_RET_INVALID_GUEST_STATE";
    case 0x03: return "SEV_RET_INVALID_CONFIG";
    case 0x04: return "SEV_RET_INVALID_LEN";
    case 0x05: return "SEV_RET_ALREADY_OWNED";
    case 0x06: return "SEV_RET_INVALID_CERTIFICATE";
    case 0x07: return "SEV_RET_POLICY_FAILURE";
    case 0x08: return "SEV_RET_INACTIVE";
    case 0x09: return "SEV_RET_INVALID_ADDRESS";
    case 0x0a: return "SEV_RET_BAD_SIGNATURE";
    case 0x0b: return "SEV_RET_BAD_MEASUREMENT";
    case 0x0c: return "SEV_RET_ASID_OWNED";
    case 0x0d: return "SEV_RET_INVALID_ASID";
    case 0x0e: return "SEV_RET_WBINVD_REQUIRED";
    case 0x0f: return "SEV_RET_DFFLUSH_REQUIRED";
    case 0x10: return "SEV_RET_INVALID_GUEST";
    case 0x11: return "SEV_RET_INVALID_COMMAND";
    case 0x12: return "SEV_RET_ACTIVE";
    case 0x13: return "SEV_RET_HWSEV_RET_PLATFORM";
    case 0x14: return "SEV_RET_HWSEV_RET_UNSAFE";
    case 0x15: return "SEV_RET_UNSUPPORTED";
    case 0x16: return "SEV_RET_INVALID_PARAM";
    case 0x17: return "SEV_RET_RESOURCE_LIMIT";
    case 0x18: return "SEV_RET_SECURE_DATA_INVALID";
    case 0x27: return "SEV_RET_INVALID_KEY";
    default: return "unknown";
  }
}

std::string describeFirmwareStatus(uint32_t code) {
  char hex[16];
  std::snprintf(hex, sizeof hex, "0x%x", code);
  return std::string(hex) + " (" + std::string(firmwareStatusName(code)) + ")";
}

namespace {
constexpr std::size_t kResponseHeaderSize = 0x20;
constexpr std::size_t kDerivedKeySize = 32;
constexpr uint32_t kMaxVmpl = 3;
}  // namespace

StatusOr<Bytes> reportFromResponse(ByteView response, std::string_view what) {
  const std::string w(what);
  if (response.size() < kResponseHeaderSize) {
    return internalError(w + ": short response: " + std::to_string(response.size()) +
                         " bytes, expected at least " + std::to_string(kResponseHeaderSize));
  }
  const uint32_t status = loadLe32(response.data());
  if (status != 0) {
    return failedPreconditionError(w + ": MSG_REPORT_RSP status " + describeFirmwareStatus(status));
  }
  const uint32_t report_size = loadLe32(response.data() + 4);
  if (report_size < kReportSize) {
    return internalError(w + ": short response: " + std::to_string(report_size) +
                         " bytes, expected " + std::to_string(kReportSize));
  }
  if (report_size > kReportSize) {
    return internalError(w + ": report_size is " + std::to_string(report_size) +
                         " bytes, expected " + std::to_string(kReportSize));
  }
  if (response.size() < kResponseHeaderSize + report_size) {
    return internalError(
        w + ": short response: " + std::to_string(response.size() - kResponseHeaderSize) +
        " bytes, expected " + std::to_string(kReportSize));
  }
  Bytes report(response.begin() + kResponseHeaderSize,
               response.begin() + kResponseHeaderSize + report_size);
  StatusOr<SnpReport> parsed = SnpReport::parse(report);
  if (!parsed.ok()) return parsed.status().withContext(w);
  return report;
}

StatusOr<SecretBytes> keyFromResponse(ByteView response, std::string_view what) {
  const std::string w(what);
  if (response.size() < kResponseHeaderSize + kDerivedKeySize) {
    return internalError(w + ": short response: " + std::to_string(response.size()) +
                         " bytes, expected " +
                         std::to_string(kResponseHeaderSize + kDerivedKeySize));
  }
  const uint32_t status = loadLe32(response.data());
  if (status != 0) {
    return failedPreconditionError(w + ": MSG_KEY_RSP status " + describeFirmwareStatus(status));
  }
  return SecretBytes::copyOf(response.subspan(kResponseHeaderSize, kDerivedKeySize));
}

StatusOr<std::array<uint8_t, 32>> encodeKeyRequest(const DerivedKeyRequest& request,
                                                   std::string_view what) {
  const std::string w(what);
  const auto root = static_cast<uint32_t>(request.root_key_select);
  if (root > 1) {
    return invalidArgumentError(w + ": root_key_select " + std::to_string(root) +
                                ", expected 0 (VCEK) or 1 (VMRK)");
  }
  if ((request.guest_field_select & ~kGuestFieldSelectMask) != 0) {
    char hex[32];
    std::snprintf(hex, sizeof hex, "0x%llx",
                  static_cast<unsigned long long>(request.guest_field_select));
    return invalidArgumentError(w + ": guest_field_select " + hex + " has reserved bits 63:7 set");
  }
  if (request.vmpl > kMaxVmpl) {
    return invalidArgumentError(w + ": vmpl " + std::to_string(request.vmpl) + ", expected 0..3");
  }
  // struct snp_derived_key_req: root_key_select @0, rsvd @4, guest_field_select @8, vmpl @16,
  // guest_svn @20, tcb_version @24.
  std::array<uint8_t, 32> out{};
  storeLe32(out.data(), root);
  storeLe64(out.data() + 8, request.guest_field_select);
  storeLe32(out.data() + 16, request.vmpl);
  storeLe32(out.data() + 20, request.guest_svn);
  storeLe64(out.data() + 24, request.tcb_version);
  return out;
}

StatusOr<std::array<uint8_t, 96>> encodeReportRequest(const std::array<uint8_t, 64>& report_data,
                                                      uint32_t vmpl, std::string_view what) {
  if (vmpl > kMaxVmpl) {
    return invalidArgumentError(std::string(what) + ": vmpl " + std::to_string(vmpl) +
                                ", expected 0..3");
  }
  std::array<uint8_t, 96> out{};
  std::copy(report_data.begin(), report_data.end(), out.begin());
  storeLe32(out.data() + 64, vmpl);
  return out;
}

uint32_t loadLe32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

uint64_t loadLe64(const uint8_t* p) {
  return static_cast<uint64_t>(loadLe32(p)) | static_cast<uint64_t>(loadLe32(p + 4)) << 32;
}

void storeLe32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

void storeLe64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

}  // namespace skr::snp
