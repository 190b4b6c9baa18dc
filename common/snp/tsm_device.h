// configfs-tsm (Linux >= 6.7, Documentation/ABI/testing/configfs-tsm-report; spec/azure-wire.md
// §7.3): one instance directory per request under /sys/kernel/config/tsm/report. Per request:
// mkdir a unique instance, check provider == "sev_guest", read generation, write privlevel and the
// 64-byte inblob, check generation advanced by exactly those two writes, read outblob (the bare
// 1184-byte report) and, for the extended report, auxblob (the GHCB certificate table), check
// generation did not move while reading (a concurrent writer on the same instance), and rmdir the
// instance on every path. configfs has no derived-key interface: getDerivedKey is Unimplemented.
// The file-system calls go through TsmFileSystem so the protocol can be tested without configfs.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "common/snp/snp_device.h"

namespace skr::snp {

// The five file-system operations the protocol needs; each returns 0 or an errno.
class TsmFileSystem {
 public:
  virtual ~TsmFileSystem() = default;
  virtual int makeDirectory(const std::string& path) = 0;  // mode 0700
  virtual int removeDirectory(const std::string& path) = 0;
  virtual bool isDirectory(const std::string& path) = 0;
  // Reads the whole file (at most `max_bytes`; EFBIG when longer).
  virtual int readFile(const std::string& path, std::size_t max_bytes, Bytes* out) = 0;
  // One write(2) of all of `data` (configfs attributes take a single write).
  virtual int writeFile(const std::string& path, ByteView data) = 0;
};

// open/read/write/mkdir/rmdir with O_CLOEXEC and EINTR retries.
std::unique_ptr<TsmFileSystem> posixTsmFileSystem();

class TsmDevice final : public SnpDevice {
 public:
  static constexpr const char* kDefaultPath = "/sys/kernel/config/tsm/report";
  static constexpr std::size_t kMaxOutblob = 16 * 1024;
  static constexpr std::size_t kMaxAuxblob = 64 * 1024;

  // FailedPrecondition when `report_dir` is not a directory (configfs not mounted, kernel < 6.7).
  static StatusOr<std::unique_ptr<TsmDevice>> open(
      const std::string& report_dir = kDefaultPath,
      std::unique_ptr<TsmFileSystem> fs = posixTsmFileSystem());

  std::string_view name() const override { return "tsm"; }
  StatusOr<Bytes> getReport(const std::array<uint8_t, 64>& report_data,
                            uint32_t vmpl) const override;
  StatusOr<SecretBytes> getDerivedKey(const DerivedKeyRequest& request) const override;
  StatusOr<ExtendedReport> getExtendedReport(const std::array<uint8_t, 64>& report_data,
                                             uint32_t vmpl) const override;

 private:
  TsmDevice(std::string dir, std::unique_ptr<TsmFileSystem> fs)
      : dir_(std::move(dir)), fs_(std::move(fs)) {}
  StatusOr<ExtendedReport> request(const std::array<uint8_t, 64>& report_data, uint32_t vmpl,
                                   bool with_aux) const;

  std::string dir_;
  std::unique_ptr<TsmFileSystem> fs_;
  mutable std::atomic<uint64_t> counter_{0};
};

}  // namespace skr::snp
