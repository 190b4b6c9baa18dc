// LD_PRELOAD test seam for the SNP guest-request ioctl code: makes /dev/sev-guest and /dev/sev
// exist and implements their ioctl ABIs on top of the emulated chip, so tests run the production
// SevGuestDevice / SevLegacyDevice byte for byte.
//
// The sev-guest ABI comes from the kernel's own uapi header (<linux/sev-guest.h>), not from the
// production code, so a layout mistake there cannot hide here; the legacy ABI (not upstream) is
// restated from AMD's psp-sev-guest.h. Driver behaviours reproduced (spec/azure-wire.md §7.1/7.2):
//   sev-guest: EINVAL for msg_version 0 (struct untouched); exitinfo2 = 0xff before the firmware
//     call; exitinfo2 copied back only when non-zero; fw errors -> EIO with exitinfo2[31:0];
//     VMM errors -> EIO with exitinfo2[63:32]; EXT_REPORT: certs_len must be a page multiple
//     <= 16 KiB (else EINVAL); too small -> EIO, VMM error 1, certs_len = the size needed.
//   sev (legacy): the ioctl sets message types/version itself; EINVAL when request_len is above
//     or response_len below the message's buffer size; fw error in `error` with EIO; the ABI has
//     no VMM error field (VMM errors are EIO with error 0).
// Environment:
//   SKR_FAKE_SEV_DEVICES     which devices exist: "sev-guest,sev" (default both; "" none)
//   SKR_FAKE_SEV_CHIP_DIR    the emulated chip's state directory (created on first use)
//   SKR_FAKE_SEV_FAULT       fw_error:<hex> | vmm_error:<n> | busy | short | einval | big_certs
//                            (big_certs: a host certificate table of 5 pages, on a kernel with
//                            the proposed 20 KiB SEV_FW_BLOB_MAX_SIZE; not a failure)
//   SKR_FAKE_SEV_FAULT_COUNT the fault applies to this many guest requests (default: all)
// Built without sanitizers and with hidden visibility: only the interposed symbols are exported.
// open and open64 are both defined here: without this, -D_FILE_OFFSET_BITS=64 (from Poco's
// interface flags) renames open to open64 in the headers and the two definitions collide.
#undef _FILE_OFFSET_BITS
#include <dlfcn.h>
#include <fcntl.h>
#include <linux/sev-guest.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/snp/emulated_chip.h"
#include "common/snp/ghcb_cert_table.h"

namespace {

using skr::snp::EmulatedChip;

// --- the legacy ABI (AMD psp-sev-guest.h) ---
struct sev_snp_guest_request {  // NOLINT: kernel name
  uint8_t req_msg_type;
  uint8_t rsp_msg_type;
  uint8_t msg_version;
  uint16_t request_len;
  uint64_t request_uaddr;
  uint16_t response_len;
  uint64_t response_uaddr;
  uint32_t error;
};
static_assert(sizeof(sev_snp_guest_request) == 40);
constexpr unsigned long kLegacyMsgReport = _IOWR('S', 0x1, sev_snp_guest_request);
constexpr unsigned long kLegacyMsgKey = _IOWR('S', 0x2, sev_snp_guest_request);
static_assert(kLegacyMsgReport == 0xC0285301);
static_assert(SNP_GET_REPORT == 0xC0205300);
static_assert(sizeof(snp_guest_request_ioctl) == 32);

constexpr uint8_t kMsgKeyReq = 3, kMsgKeyRsp = 4, kMsgReportReq = 5, kMsgReportRsp = 6;
constexpr std::size_t kPage = 4096;
constexpr std::size_t kFwBlobMax = 16 * 1024;  // SEV_FW_BLOB_MAX_SIZE
// big_certs models a kernel with the proposed 20 KiB limit and a host table that needs 5 pages.
constexpr std::size_t kFwBlobMaxBig = 20 * 1024;
constexpr std::size_t kBigExtraCert = 12000;
constexpr uint32_t kShortReportSize = 200;

enum class Device { SevGuest, SevLegacy };
enum class FaultKind { None, FwError, VmmError, Busy, Short, Einval, BigCerts };

struct Config {
  bool sev_guest = true;
  bool sev_legacy = true;
  std::string chip_dir;
  FaultKind fault = FaultKind::None;
  uint64_t fault_value = 0;
  long fault_count = -1;  // -1: every request
};

const Config& config() {
  static const Config c = [] {
    Config out;
    if (const char* devices = std::getenv("SKR_FAKE_SEV_DEVICES")) {
      const std::string d = std::string(",") + devices + ",";
      out.sev_guest = d.find(",sev-guest,") != std::string::npos;
      out.sev_legacy = d.find(",sev,") != std::string::npos;
    }
    if (const char* dir = std::getenv("SKR_FAKE_SEV_CHIP_DIR")) out.chip_dir = dir;
    if (const char* fault = std::getenv("SKR_FAKE_SEV_FAULT")) {
      const std::string f = fault;
      if (f.rfind("fw_error:", 0) == 0) {
        out.fault = FaultKind::FwError;
        out.fault_value = std::strtoull(f.c_str() + 9, nullptr, 16);
      } else if (f.rfind("vmm_error:", 0) == 0) {
        out.fault = FaultKind::VmmError;
        out.fault_value = std::strtoull(f.c_str() + 10, nullptr, 10);
      } else if (f == "busy") {
        out.fault = FaultKind::Busy;
      } else if (f == "short") {
        out.fault = FaultKind::Short;
      } else if (f == "einval") {
        out.fault = FaultKind::Einval;
      } else if (f == "big_certs") {
        out.fault = FaultKind::BigCerts;
      } else if (!f.empty()) {
        std::fprintf(stderr, "skr_sev_preload: unknown SKR_FAKE_SEV_FAULT '%s'\n", fault);
        std::abort();
      }
    }
    if (const char* count = std::getenv("SKR_FAKE_SEV_FAULT_COUNT")) {
      out.fault_count = std::strtol(count, nullptr, 10);
    }
    return out;
  }();
  return c;
}

// The fault for this request (consumes one from the count).
FaultKind takeFault() {
  static std::atomic<long> used{0};
  const Config& c = config();
  if (c.fault == FaultKind::None) return FaultKind::None;
  if (c.fault_count >= 0 && used.fetch_add(1) >= c.fault_count) return FaultKind::None;
  return c.fault;
}

// Guards the descriptor table only (held for no other call: the chip's own file I/O goes
// through the interposed close()).
std::mutex& mu() {
  static std::mutex m;
  return m;
}
// Serialises guest requests, as the drivers do.
std::mutex& requestMu() {
  static std::mutex m;
  return m;
}
std::map<int, Device>& fds() {
  static std::map<int, Device> m;
  return m;
}

// The chip, opened on the first request (under requestMu()).
const EmulatedChip* chip() {
  static std::optional<EmulatedChip> c;
  if (!c) {
    if (config().chip_dir.empty()) return nullptr;
    skr::StatusOr<EmulatedChip> opened = EmulatedChip::openOrCreate(config().chip_dir);
    if (!opened.ok()) {
      std::fprintf(stderr, "skr_sev_preload: %s\n", opened.status().toString().c_str());
      return nullptr;
    }
    c.emplace(std::move(opened).value());
  }
  return &*c;
}

template <typename Fn>
Fn next(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));  // NOLINT
}

std::optional<Device> deviceFor(const char* path) {
  if (path == nullptr) return std::nullopt;
  if (std::strcmp(path, "/dev/sev-guest") == 0) return Device::SevGuest;
  if (std::strcmp(path, "/dev/sev") == 0) return Device::SevLegacy;
  return std::nullopt;
}

// Opens /dev/null as the stand-in descriptor, or fails like a missing node.
int openFake(Device device, int flags) {
  const bool exists = device == Device::SevGuest ? config().sev_guest : config().sev_legacy;
  if (!exists) {
    errno = ENOENT;
    return -1;
  }
  static auto real_open = next<int (*)(const char*, int, ...)>("open");
  const int fd = real_open("/dev/null", O_RDWR | (flags & O_CLOEXEC));
  if (fd >= 0) {
    std::lock_guard<std::mutex> lock(mu());
    fds()[fd] = device;
  }
  return fd;
}

void putLe32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint32_t getLe32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}
uint64_t getLe64(const uint8_t* p) {
  return static_cast<uint64_t>(getLe32(p)) | static_cast<uint64_t>(getLe32(p + 4)) << 32;
}

// MSG_REPORT_RSP into `resp` (>= 0x20 + 1184 bytes): the firmware's answer to MSG_REPORT_REQ.
void reportResponse(const EmulatedChip& c, const uint8_t* req, uint8_t* resp, bool short_report) {
  std::array<uint8_t, 64> data{};
  std::memcpy(data.data(), req, 64);
  const uint32_t vmpl = getLe32(req + 64);
  std::string why;
  const uint32_t status = c.checkReportRequest(vmpl, &why);
  std::memset(resp, 0, 0x20);
  putLe32(resp, status);
  if (status != 0) return;
  skr::StatusOr<skr::Bytes> report = c.signReport(data, vmpl);
  if (!report.ok()) std::abort();  // checked above
  putLe32(resp + 4, short_report ? kShortReportSize : static_cast<uint32_t>(report->size()));
  std::memcpy(resp + 0x20, report->data(), report->size());
}

// MSG_KEY_RSP into `resp` (64 bytes).
void keyResponse(const EmulatedChip& c, const uint8_t* req, uint8_t* resp) {
  skr::snp::DerivedKeyRequest r;
  r.root_key_select = static_cast<skr::snp::RootKey>(getLe32(req));
  r.guest_field_select = getLe64(req + 8);
  r.vmpl = getLe32(req + 16);
  r.guest_svn = getLe32(req + 20);
  r.tcb_version = getLe64(req + 24);
  std::string why;
  std::memset(resp, 0, 64);
  const uint32_t status = c.checkKeyRequest(r, &why);
  putLe32(resp, status);
  if (status != 0) return;
  skr::StatusOr<skr::SecretBytes> key = c.deriveKey(r);
  if (!key.ok()) std::abort();
  const skr::ByteView k = key->view(skr::grantSecretAccess());
  std::memcpy(resp + 0x20, k.data(), k.size());
}

skr::Bytes certTable(const EmulatedChip& c, bool big) {
  std::vector<skr::snp::CertTableEntry> entries = {
      {*skr::snp::guidFromString(skr::snp::kVcekGuid), c.vcek().der()},
      {*skr::snp::guidFromString(skr::snp::kAskGuid), c.ask().der()},
      {*skr::snp::guidFromString(skr::snp::kArkGuid), c.ark().der()}};
  if (big) {
    // A host that also supplies a large extra blob: the table no longer fits in 4 pages.
    entries.push_back({*skr::snp::guidFromString("00000000-0000-0000-0000-0000000000aa"),
                       skr::Bytes(kBigExtraCert, 0xaa)});
  }
  return skr::snp::serializeCertTable(entries);
}

// sev-guest: returns 0 or the errno; `user` is the caller's struct.
int sevGuestIoctl(unsigned long request, snp_guest_request_ioctl* user) {
  if (request != SNP_GET_REPORT && request != SNP_GET_DERIVED_KEY &&
      request != SNP_GET_EXT_REPORT) {
    return ENOTTY;
  }
  snp_guest_request_ioctl input = *user;
  input.exitinfo2 = 0xff;
  const FaultKind fault = takeFault();
  if (input.msg_version == 0 || fault == FaultKind::Einval) return EINVAL;
  const EmulatedChip* c = chip();
  if (c == nullptr) return ENODEV;

  int ret = 0;
  auto* req = reinterpret_cast<uint8_t*>(input.req_data);    // NOLINT: user pointers
  auto* resp = reinterpret_cast<uint8_t*>(input.resp_data);  // NOLINT
  if (fault == FaultKind::FwError) {
    input.exitinfo2 = config().fault_value & 0xffffffffu;
    ret = EIO;
  } else if (fault == FaultKind::VmmError) {
    input.exitinfo2 = config().fault_value << 32;
    ret = EIO;
  } else if (fault == FaultKind::Busy) {
    input.exitinfo2 = uint64_t{SNP_GUEST_VMM_ERR_BUSY} << 32;
    ret = EAGAIN;
  } else if (request == SNP_GET_REPORT) {
    reportResponse(*c, req, resp, fault == FaultKind::Short);
    input.exitinfo2 = 0;
  } else if (request == SNP_GET_DERIVED_KEY) {
    keyResponse(*c, req, resp);
    input.exitinfo2 = 0;
  } else {
    auto* ext = reinterpret_cast<snp_ext_report_req*>(req);  // NOLINT
    const std::size_t max = fault == FaultKind::BigCerts ? kFwBlobMaxBig : kFwBlobMax;
    if (ext->certs_len > max || ext->certs_len % kPage != 0) return EINVAL;
    const skr::Bytes table = certTable(*c, fault == FaultKind::BigCerts);
    const std::size_t needed = (table.size() + kPage - 1) / kPage * kPage;
    if (ext->certs_address != 0 && ext->certs_len < needed) {
      ext->certs_len = static_cast<uint32_t>(needed);
      input.exitinfo2 = uint64_t{SNP_GUEST_VMM_ERR_INVALID_LEN} << 32;
      ret = EIO;
    } else {
      reportResponse(*c, reinterpret_cast<uint8_t*>(&ext->data), resp,  // NOLINT
                     fault == FaultKind::Short);
      if (ext->certs_address != 0) {
        auto* certs = reinterpret_cast<uint8_t*>(ext->certs_address);  // NOLINT
        std::memset(certs, 0, ext->certs_len);
        std::memcpy(certs, table.data(), table.size());
      }
      input.exitinfo2 = 0;
    }
  }
  if (input.exitinfo2 != 0) *user = input;
  return ret;
}

int legacyIoctl(unsigned long request, sev_snp_guest_request* input) {
  std::size_t req_size = 0;
  std::size_t rsp_size = 0;
  if (request == kLegacyMsgReport) {
    input->req_msg_type = kMsgReportReq;
    input->rsp_msg_type = kMsgReportRsp;
    req_size = 96;
    rsp_size = 1280;
  } else if (request == kLegacyMsgKey) {
    input->req_msg_type = kMsgKeyReq;
    input->rsp_msg_type = kMsgKeyRsp;
    req_size = 32;
    rsp_size = 64;
  } else {
    return ENOTTY;
  }
  input->msg_version = 1;
  const FaultKind fault = takeFault();
  if (input->request_len > req_size || input->response_len < rsp_size ||
      fault == FaultKind::Einval) {
    return EINVAL;
  }
  const EmulatedChip* c = chip();
  if (c == nullptr) return ENODEV;
  switch (fault) {
    case FaultKind::FwError: input->error = static_cast<uint32_t>(config().fault_value); return EIO;
    case FaultKind::VmmError:
      input->error = 0;  // exitinfo2[63:32] does not fit the ABI's 32-bit error
      return EIO;
    case FaultKind::Busy: return EAGAIN;
    default: break;
  }
  // The driver bounces through a kernel buffer of response_len bytes and copies all of it back.
  std::vector<uint8_t> rsp(input->response_len, 0);
  std::vector<uint8_t> req(req_size, 0);
  std::memcpy(req.data(), reinterpret_cast<const void*>(input->request_uaddr),  // NOLINT
              input->request_len);
  if (request == kLegacyMsgReport) {
    reportResponse(*c, req.data(), rsp.data(), fault == FaultKind::Short);
  } else {
    keyResponse(*c, req.data(), rsp.data());
  }
  std::memcpy(reinterpret_cast<void*>(input->response_uaddr), rsp.data(), rsp.size());  // NOLINT
  return 0;
}

}  // namespace

extern "C" {

#define SKR_EXPORT __attribute__((visibility("default")))

SKR_EXPORT int open(const char* path, int flags, ...) {
  if (auto device = deviceFor(path)) return openFake(*device, flags);
  mode_t mode = 0;
  if ((flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE) {
    va_list ap;
    va_start(ap, flags);
    mode = va_arg(ap, mode_t);
    va_end(ap);
  }
  static auto real = next<int (*)(const char*, int, ...)>("open");
  return real(path, flags, mode);
}

SKR_EXPORT int open64(const char* path, int flags, ...) {
  if (auto device = deviceFor(path)) return openFake(*device, flags);
  mode_t mode = 0;
  if ((flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE) {
    va_list ap;
    va_start(ap, flags);
    mode = va_arg(ap, mode_t);
    va_end(ap);
  }
  static auto real = next<int (*)(const char*, int, ...)>("open64");
  return real(path, flags, mode);
}

SKR_EXPORT int openat(int dirfd, const char* path, int flags, ...) {
  if (auto device = deviceFor(path)) return openFake(*device, flags);
  mode_t mode = 0;
  if ((flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE) {
    va_list ap;
    va_start(ap, flags);
    mode = va_arg(ap, mode_t);
    va_end(ap);
  }
  static auto real = next<int (*)(int, const char*, int, ...)>("openat");
  return real(dirfd, path, flags, mode);
}

SKR_EXPORT int openat64(int dirfd, const char* path, int flags, ...) {
  if (auto device = deviceFor(path)) return openFake(*device, flags);
  mode_t mode = 0;
  if ((flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE) {
    va_list ap;
    va_start(ap, flags);
    mode = va_arg(ap, mode_t);
    va_end(ap);
  }
  static auto real = next<int (*)(int, const char*, int, ...)>("openat64");
  return real(dirfd, path, flags, mode);
}

// _FORTIFY_SOURCE variants.
SKR_EXPORT int __open_2(const char* path, int flags) {
  return open(path, flags);
}
SKR_EXPORT int __open64_2(const char* path, int flags) {
  return open64(path, flags);
}

SKR_EXPORT int close(int fd) {
  {
    std::lock_guard<std::mutex> lock(mu());
    fds().erase(fd);
  }
  static auto real = next<int (*)(int)>("close");
  return real(fd);
}

SKR_EXPORT int ioctl(int fd, unsigned long request, ...) {
  va_list ap;
  va_start(ap, request);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  std::optional<Device> device;
  {
    std::lock_guard<std::mutex> lock(mu());
    auto it = fds().find(fd);
    if (it != fds().end()) device = it->second;
  }
  if (!device) {
    static auto real = next<int (*)(int, unsigned long, ...)>("ioctl");
    return real(fd, request, arg);
  }
  // The drivers serialise guest requests on a mutex; so does this.
  std::lock_guard<std::mutex> lock(requestMu());
  const int err = *device == Device::SevGuest
                      ? sevGuestIoctl(request, static_cast<snp_guest_request_ioctl*>(arg))
                      : legacyIoctl(request, static_cast<sev_snp_guest_request*>(arg));
  if (err != 0) {
    errno = err;
    return -1;
  }
  return 0;
}

}  // extern "C"
