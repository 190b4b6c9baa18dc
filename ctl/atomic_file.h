// A file that appears under its name only when complete: written to a temporary file in the same
// directory, fsynced, then renamed over the name (skrctl seal-data --out, open-data --out). Until
// commit() succeeds nothing exists under the name, and the temporary file is removed when the
// object is destroyed uncommitted, so a failure never leaves a partial file behind.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "common/core/bytes.h"
#include "common/core/status.h"

namespace skr::ctl {

class AtomicFile {
 public:
  // Creates the temporary file "<dir>/.<name>.tmp-XXXXXX" with `mode` (before the umask is
  // applied at rename time it is 0600). FailedPrecondition naming the directory when it cannot.
  static StatusOr<std::unique_ptr<AtomicFile>> create(const std::string& path, mode_t mode);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  Status write(ByteView bytes);
  // fsync, rename over `path`, fsync the directory.
  Status commit();

 private:
  AtomicFile(int fd, std::string path, std::string temp)
      : fd_(fd), path_(std::move(path)), temp_(std::move(temp)) {}
  int fd_;
  std::string path_;
  std::string temp_;
  bool committed_ = false;
};

}  // namespace skr::ctl
