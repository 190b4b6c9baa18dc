#include "ctl/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace skr::ctl {
namespace {

std::string dirOf(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string baseOf(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

StatusOr<std::unique_ptr<AtomicFile>> AtomicFile::create(const std::string& path, mode_t mode) {
  const std::string base = baseOf(path);
  if (base.empty() || base == "." || base == "..") {
    return invalidArgumentError("'" + path + "' does not name a file");
  }
  std::string temp = dirOf(path) + "/." + base + ".tmp-XXXXXX";
  std::vector<char> name(temp.begin(), temp.end());
  name.push_back('\0');
  const int fd = ::mkostemp(name.data(), O_CLOEXEC);
  if (fd < 0) {
    return failedPreconditionError("cannot create a file in '" + dirOf(path) +
                                   "': " + std::strerror(errno));
  }
  temp.assign(name.data());
  // mkostemp creates 0600; widen to `mode` minus the umask (a sealed object is not secret).
  const mode_t mask = ::umask(0);
  ::umask(mask);
  if (::fchmod(fd, mode & ~mask) != 0) {
    const int e = errno;
    ::close(fd);
    ::unlink(temp.c_str());
    return failedPreconditionError("cannot set the mode of a file in '" + dirOf(path) +
                                   "': " + std::strerror(e));
  }
  return std::unique_ptr<AtomicFile>(new AtomicFile(fd, path, std::move(temp)));
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(temp_.c_str());
}

Status AtomicFile::write(ByteView bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return failedPreconditionError("cannot write '" + path_ + "': " + std::strerror(errno));
    }
    done += static_cast<std::size_t>(n);
  }
  return okStatus();
}

Status AtomicFile::commit() {
  if (::fsync(fd_) != 0) {
    return failedPreconditionError("cannot sync '" + path_ + "': " + std::strerror(errno));
  }
  if (::close(fd_) != 0) {
    fd_ = -1;
    return failedPreconditionError("cannot close '" + path_ + "': " + std::strerror(errno));
  }
  fd_ = -1;
  if (::rename(temp_.c_str(), path_.c_str()) != 0) {
    return failedPreconditionError("cannot rename into '" + path_ + "': " + std::strerror(errno));
  }
  committed_ = true;
  const int dir = ::open(dirOf(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return okStatus();
}

}  // namespace skr::ctl
