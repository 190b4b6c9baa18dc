#include "common/data/object_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>

namespace skr::data {
namespace {

Status checkRange(uint64_t offset, std::size_t length, uint64_t size, const std::string& what) {
  if (offset > size || length > size - offset) {
    return invalidArgumentError(what + ": read of " + std::to_string(length) + " bytes at offset " +
                                std::to_string(offset) + " is past its end (" +
                                std::to_string(size) + " bytes)");
  }
  return okStatus();
}

}  // namespace

StatusOr<Bytes> MemoryObjectSource::read(uint64_t offset, std::size_t length) {
  if (Status s = checkRange(offset, length, bytes_.size(), name_); !s.ok()) return s;
  const auto begin = bytes_.begin() + static_cast<std::ptrdiff_t>(offset);
  return Bytes(begin, begin + static_cast<std::ptrdiff_t>(length));
}

StatusOr<std::unique_ptr<FileObjectSource>> FileObjectSource::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    const int err = errno;
    std::string message = "cannot open " + path + ": " + std::strerror(err);
    if (err == ENOENT) return notFoundError(std::move(message));
    if (err == EACCES || err == EPERM) return permissionDeniedError(std::move(message));
    return failedPreconditionError(std::move(message));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return failedPreconditionError(path + " is not a regular file");
  }
  return std::unique_ptr<FileObjectSource>(
      new FileObjectSource(fd, static_cast<uint64_t>(st.st_size), path));
}

FileObjectSource::~FileObjectSource() {
  ::close(fd_);
}

StatusOr<Bytes> FileObjectSource::read(uint64_t offset, std::size_t length) {
  if (Status s = checkRange(offset, length, size_, describe()); !s.ok()) return s;
  if (offset > static_cast<uint64_t>(std::numeric_limits<off_t>::max())) {
    return invalidArgumentError(describe() + ": offset too large");
  }
  Bytes out(length);
  std::size_t done = 0;
  while (done < length) {
    const ssize_t n =
        ::pread(fd_, out.data() + done, length - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return unavailableError("cannot read " + path_ + ": " + std::strerror(errno));
    }
    if (n == 0) {
      return failedPreconditionError(path_ + " became shorter while it was read");
    }
    done += static_cast<std::size_t>(n);
  }
  return out;
}

}  // namespace skr::data
