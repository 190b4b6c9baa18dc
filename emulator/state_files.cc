#include "emulator/state_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "common/crypto/random.h"
#include "common/encoding/hex.h"

namespace skr::emulator {
namespace {

std::string errnoText(int err) {
  return std::strerror(err);
}

std::string parentOf(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Status writeAll(int fd, ByteView data, const std::string& path) {
  std::size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return internalError("write " + path + ": " + errnoText(errno));
    }
    off += static_cast<std::size_t>(n);
  }
  return okStatus();
}

template <typename Sink>
Status readAll(const std::string& path, std::size_t max_bytes, Sink&& sink) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) return notFoundError("file " + path + " does not exist");
    return internalError("open " + path + ": " + errnoText(err));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return failedPreconditionError(path + " is not a regular file");
  }
  if (static_cast<std::size_t>(st.st_size) > max_bytes) {
    ::close(fd);
    return resourceExhaustedError(path + " is " + std::to_string(st.st_size) +
                                  " bytes, more than " + std::to_string(max_bytes));
  }
  uint8_t buf[8192];
  std::size_t total = 0;
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return internalError("read " + path + ": " + errnoText(err));
    }
    if (n == 0) break;
    total += static_cast<std::size_t>(n);
    if (total > max_bytes) {
      ::close(fd);
      return resourceExhaustedError(path + " grew past " + std::to_string(max_bytes) + " bytes");
    }
    sink(ByteView(buf, static_cast<std::size_t>(n)));
  }
  ::close(fd);
  return okStatus();
}

}  // namespace

Status ensureDirectory(const std::string& dir, mode_t mode) {
  if (::mkdir(dir.c_str(), mode) == 0) return okStatus();
  const int err = errno;
  struct stat st {};
  if (err == EEXIST && ::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return okStatus();
  return internalError("mkdir " + dir + ": " + errnoText(err));
}

Status writeFileAtomic(const std::string& path, ByteView data, mode_t mode) {
  const std::string tmp = path + ".tmp-" + encoding::hexEncode(crypto::randomBytes(6));
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return internalError("create " + tmp + ": " + errnoText(errno));
  Status written = writeAll(fd, data, tmp);
  if (written.ok() && ::fchmod(fd, mode) != 0) {
    written = internalError("chmod " + tmp + ": " + errnoText(errno));
  }
  if (written.ok() && ::fsync(fd) != 0) {
    written = internalError("fsync " + tmp + ": " + errnoText(errno));
  }
  ::close(fd);
  if (written.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    written = internalError("rename " + tmp + " -> " + path + ": " + errnoText(errno));
  }
  if (!written.ok()) {
    ::unlink(tmp.c_str());
    return written;
  }
  const int dfd = ::open(parentOf(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return okStatus();
}

Status writeSecretFileAtomic(const std::string& path, const SecretBytes& data) {
  return writeFileAtomic(path, data.view(grantSecretAccess()), 0600);
}

StatusOr<std::string> readTextFile(const std::string& path, std::size_t max_bytes) {
  std::string out;
  SKR_RETURN_IF_ERROR(readAll(path, max_bytes, [&](ByteView b) {
    out.append(reinterpret_cast<const char*>(b.data()), b.size());  // NOLINT
  }));
  return out;
}

StatusOr<SecretBytes> readSecretFile(const std::string& path, std::size_t max_bytes) {
  SecretBytes out;
  SKR_RETURN_IF_ERROR(readAll(path, max_bytes, [&](ByteView b) { out.append(b); }));
  return out;
}

bool fileExists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

std::vector<std::string> listDirectory(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") out.push_back(name);
  }
  ::closedir(d);
  return out;
}

}  // namespace skr::emulator
