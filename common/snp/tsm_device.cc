#include "common/snp/tsm_device.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>

#include "common/crypto/random.h"
#include "common/log/logger.h"
#include "common/snp/device_file.h"
#include "common/snp/ghcb_cert_table.h"
#include "common/snp/report.h"

namespace skr::snp {
namespace {

constexpr std::string_view kProvider = "sev_guest";

class PosixTsmFileSystem final : public TsmFileSystem {
 public:
  int makeDirectory(const std::string& path) override {
    return ::mkdir(path.c_str(), 0700) == 0 ? 0 : errno;
  }
  int removeDirectory(const std::string& path) override {
    return ::rmdir(path.c_str()) == 0 ? 0 : errno;
  }
  bool isDirectory(const std::string& path) override {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  }
  int readFile(const std::string& path, std::size_t max_bytes, Bytes* out) override {
    const int fd = openRetrying(path, O_RDONLY);
    if (fd < 0) return errno;
    out->clear();
    uint8_t buf[4096];
    int err = 0;
    for (;;) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        err = errno;
        break;
      }
      if (n == 0) break;
      if (out->size() + static_cast<std::size_t>(n) > max_bytes) {
        err = EFBIG;
        break;
      }
      out->insert(out->end(), buf, buf + n);
    }
    ::close(fd);
    return err;
  }
  int writeFile(const std::string& path, ByteView data) override {
    const int fd = openRetrying(path, O_WRONLY);
    if (fd < 0) return errno;
    ssize_t n = -1;
    do {
      n = ::write(fd, data.data(), data.size());
    } while (n < 0 && errno == EINTR);
    const int err = n < 0 ? errno : (static_cast<std::size_t>(n) != data.size() ? EIO : 0);
    ::close(fd);
    return err;
  }

 private:
  static int openRetrying(const std::string& path, int flags) {
    int fd = -1;
    do {
      fd = ::open(path.c_str(), flags | O_CLOEXEC | O_NOFOLLOW);
    } while (fd < 0 && errno == EINTR);
    return fd;
  }
};

// Removes the instance directory when the request ends, whatever the outcome.
class InstanceDir {
 public:
  InstanceDir(TsmFileSystem& fs, std::string path) : fs_(fs), path_(std::move(path)) {}
  InstanceDir(const InstanceDir&) = delete;
  InstanceDir& operator=(const InstanceDir&) = delete;
  ~InstanceDir() {
    if (const int err = fs_.removeDirectory(path_); err != 0) {
      log::warning("snp.tsm.rmdir_failed", {{"path", path_}, {"error", errnoText(err)}});
    }
  }
  const std::string& path() const { return path_; }

 private:
  TsmFileSystem& fs_;
  std::string path_;
};

Status fileError(const std::string& what, const std::string& file, int err) {
  const std::string msg = what + ": " + file + ": " + errnoText(err);
  switch (err) {
    case EAGAIN:
    case EBUSY: return unavailableError(msg + "; the guest request channel is busy, retry later");
    case EINVAL:
      // sev_guest maps SEV_RET_INVALID_PARAM / SEV_RET_INVALID_KEY to -EINVAL.
      return failedPreconditionError(msg + " (the firmware rejected the request)");
    case ENXIO: return failedPreconditionError(msg + " (firmware error)");
    case EACCES:
    case EPERM: return permissionDeniedError(msg);
    default: return internalError(msg);
  }
}

StatusOr<uint64_t> readGeneration(TsmFileSystem& fs, const std::string& instance,
                                  const std::string& what) {
  Bytes text;
  if (const int err = fs.readFile(instance + "/generation", 64, &text); err != 0) {
    return fileError(what, "generation", err);
  }
  std::string s = toString(text);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) {
    return internalError(what + ": generation is '" + s + "', expected a decimal number");
  }
  return value;
}

}  // namespace

std::unique_ptr<TsmFileSystem> posixTsmFileSystem() {
  return std::make_unique<PosixTsmFileSystem>();
}

StatusOr<std::unique_ptr<TsmDevice>> TsmDevice::open(const std::string& report_dir,
                                                     std::unique_ptr<TsmFileSystem> fs) {
  if (!fs->isDirectory(report_dir)) {
    return failedPreconditionError("configfs-tsm: " + report_dir +
                                   " is not a directory (configfs not mounted at "
                                   "/sys/kernel/config, or a kernel before 6.7)");
  }
  return std::unique_ptr<TsmDevice>(new TsmDevice(report_dir, std::move(fs)));
}

StatusOr<ExtendedReport> TsmDevice::request(const std::array<uint8_t, 64>& report_data,
                                            uint32_t vmpl, bool with_aux) const {
  if (vmpl > 3) {
    return invalidArgumentError("configfs-tsm report: vmpl " + std::to_string(vmpl) +
                                ", expected 0..3");
  }
  // A unique instance per request: other requesters (or a crashed earlier run) cannot interfere.
  const Bytes nonce = crypto::randomBytes(4);
  char name[96];
  std::snprintf(name, sizeof name, "skr-%d-%llu-%02x%02x%02x%02x", static_cast<int>(::getpid()),
                static_cast<unsigned long long>(counter_.fetch_add(1)), nonce[0], nonce[1],
                nonce[2], nonce[3]);
  const std::string instance_path = dir_ + "/" + name;
  const std::string what = "configfs-tsm report in " + instance_path;
  if (const int err = fs_->makeDirectory(instance_path); err != 0) {
    return fileError("configfs-tsm: mkdir", instance_path, err);
  }
  InstanceDir instance(*fs_, instance_path);

  Bytes provider;
  if (const int err = fs_->readFile(instance_path + "/provider", 64, &provider); err != 0) {
    return fileError(what, "provider", err);
  }
  std::string provider_name = toString(provider);
  while (!provider_name.empty() && provider_name.back() == '\n') provider_name.pop_back();
  if (provider_name != kProvider) {
    return failedPreconditionError(what + ": provider is '" + provider_name + "', expected '" +
                                   std::string(kProvider) + "'");
  }

  SKR_ASSIGN_OR_RETURN(const uint64_t before, readGeneration(*fs_, instance_path, what));
  const std::string level = std::to_string(vmpl) + "\n";
  if (const int err = fs_->writeFile(instance_path + "/privlevel", asBytes(level)); err != 0) {
    return fileError(what, "privlevel", err);
  }
  if (const int err = fs_->writeFile(instance_path + "/inblob", report_data); err != 0) {
    return fileError(what, "inblob", err);
  }
  SKR_ASSIGN_OR_RETURN(const uint64_t written, readGeneration(*fs_, instance_path, what));
  if (written != before + 2) {
    return unavailableError(what + ": generation went from " + std::to_string(before) + " to " +
                            std::to_string(written) + ", expected " + std::to_string(before + 2) +
                            " after our two writes: another process wrote to this instance");
  }

  ExtendedReport out;
  if (const int err = fs_->readFile(instance_path + "/outblob", kMaxOutblob, &out.report);
      err != 0) {
    return fileError(what, "outblob", err);
  }
  Bytes aux;
  if (with_aux) {
    if (const int err = fs_->readFile(instance_path + "/auxblob", kMaxAuxblob, &aux); err != 0) {
      return fileError(what, "auxblob", err);
    }
  }
  SKR_ASSIGN_OR_RETURN(const uint64_t after, readGeneration(*fs_, instance_path, what));
  if (after != written) {
    return unavailableError(what + ": generation changed from " + std::to_string(written) + " to " +
                            std::to_string(after) +
                            " while reading the report: another process wrote to this instance");
  }
  if (out.report.size() != kReportSize) {
    return internalError(
        what + ": " + (out.report.size() < kReportSize ? "short response: " : "outblob is ") +
        std::to_string(out.report.size()) + " bytes, expected " + std::to_string(kReportSize));
  }
  StatusOr<SnpReport> parsed = SnpReport::parse(out.report);
  if (!parsed.ok()) return parsed.status().withContext(what);
  if (with_aux) {
    StatusOr<std::vector<CertTableEntry>> table = parseCertTable(aux);
    if (!table.ok()) return table.status().withContext(what + ": auxblob");
    out.certificates = std::move(table).value();
  }
  return out;
}

StatusOr<Bytes> TsmDevice::getReport(const std::array<uint8_t, 64>& report_data,
                                     uint32_t vmpl) const {
  SKR_ASSIGN_OR_RETURN(ExtendedReport r, request(report_data, vmpl, /*with_aux=*/false));
  return std::move(r.report);
}

StatusOr<ExtendedReport> TsmDevice::getExtendedReport(const std::array<uint8_t, 64>& report_data,
                                                      uint32_t vmpl) const {
  return request(report_data, vmpl, /*with_aux=*/true);
}

StatusOr<SecretBytes> TsmDevice::getDerivedKey(const DerivedKeyRequest&) const {
  return unimplementedError("derived key via configfs-tsm (" + dir_ +
                            "): configfs-tsm has no derived-key interface; use "
                            "platform sev-guest for the snp-derived seal provider");
}

}  // namespace skr::snp
