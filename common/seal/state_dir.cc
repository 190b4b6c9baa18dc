#include "common/seal/state_dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "common/crypto/random.h"
#include "common/encoding/hex.h"
#include "common/log/logger.h"
#include "common/seal/bundle.h"
#include "common/snp/device_file.h"

namespace skr::seal {
namespace {

constexpr std::string_view kTmpPrefix = ".tmp-";
constexpr std::string_view kJsonSuffix = ".json";
constexpr const char* kCurrentName = "current";
constexpr const char* kPendingName = "pending.json";
constexpr const char* kGenerationName = "generation";
constexpr mode_t kDirForbidden = 0022;  // group/world-writable directories are refused
constexpr mode_t kFileForbidden = 0022;

// A descriptor closed on scope exit.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

std::string errnoText(int err) {
  return snp::errnoText(err);
}

Status fsyncFd(int fd, const std::string& path) {
  int rc = 0;
  do {
    rc = ::fsync(fd);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) return internalError("state dir: fsync " + path + ": " + errnoText(errno));
  return okStatus();
}

Status openError(int err, const std::string& what, const std::string& path) {
  if (err == ELOOP) return permissionDeniedError(what + " " + path + " is a symlink; refusing it");
  if (err == ENOENT) return notFoundError(what + " " + path + " does not exist");
  if (err == ENOTDIR) return failedPreconditionError(what + " " + path + " is not a directory");
  if (err == EACCES || err == EPERM) {
    return permissionDeniedError(what + " " + path + ": " + errnoText(err));
  }
  return internalError(what + " " + path + ": open: " + errnoText(err));
}

// Opens `name` under `dirfd` (AT_FDCWD: a path) as a directory without following a final symlink,
// then checks type, owner and mode on the descriptor.
StatusOr<Fd> openCheckedDir(int dirfd, const std::string& name, const std::string& path,
                            std::string_view what, const OwnerPolicy& owner) {
  Fd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (fd.get() < 0) {
    const int err = errno;
    // O_DIRECTORY|O_NOFOLLOW on a symlink gives ENOTDIR on some kernels: tell them apart.
    struct stat lst {};
    if (err == ENOTDIR && ::fstatat(dirfd, name.c_str(), &lst, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISLNK(lst.st_mode)) {
      return openError(ELOOP, std::string(what), path);
    }
    return openError(err, std::string(what), path);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return internalError(std::string(what) + " " + path + ": fstat: " + errnoText(errno));
  }
  SKR_RETURN_IF_ERROR(checkOwnerAndMode(st, what, path, owner, kDirForbidden));
  return fd;
}

bool isTmpName(std::string_view name) {
  return name.substr(0, kTmpPrefix.size()) == kTmpPrefix;
}

// Entries of a directory descriptor (its own duplicate is consumed), without "." and "..".
StatusOr<std::vector<std::string>> listEntries(int dirfd, const std::string& path) {
  const int dup_fd = ::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dup_fd < 0) return internalError("state dir: open " + path + ": " + errnoText(errno));
  DIR* dir = ::fdopendir(dup_fd);
  if (dir == nullptr) {
    const int err = errno;
    ::close(dup_fd);
    return internalError("state dir: fdopendir " + path + ": " + errnoText(err));
  }
  std::vector<std::string> names;
  errno = 0;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string_view name = entry->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  const int err = errno;
  ::closedir(dir);
  if (err != 0) return internalError("state dir: readdir " + path + ": " + errnoText(err));
  std::sort(names.begin(), names.end());
  return names;
}

std::string versionFile(std::string_view version) {
  return std::string(version) + std::string(kJsonSuffix);
}

}  // namespace

// An open, checked {state_dir}/{key} directory.
class StateDir::KeyDir {
 public:
  KeyDir(Fd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }

 private:
  Fd fd_;
  std::string path_;
};

namespace {

// An exclusive flock on a key directory for the life of the object.
class KeyLock {
 public:
  static StatusOr<KeyLock> acquire(int dirfd, const std::string& path, bool wait) {
    Fd fd(::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (fd.get() < 0) return internalError("state dir: open " + path + ": " + errnoText(errno));
    int rc = 0;
    do {
      rc = ::flock(fd.get(), LOCK_EX | (wait ? 0 : LOCK_NB));
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) {
      const int err = errno;
      if (err == EWOULDBLOCK) return unavailableError("state dir: " + path + " is locked");
      return internalError("state dir: flock " + path + ": " + errnoText(err));
    }
    return KeyLock(std::move(fd));
  }

 private:
  explicit KeyLock(Fd fd) : fd_(std::move(fd)) {}
  Fd fd_;  // closing it releases the lock
};

// Removes ".tmp-*" files left by a writer that died between create and rename. Caller holds the
// key's lock, so no live writer owns them.
void removeStaleTmp(int dirfd, const std::string& path) {
  StatusOr<std::vector<std::string>> names = listEntries(dirfd, path);
  if (!names.ok()) return;
  for (const std::string& name : *names) {
    if (!isTmpName(name)) continue;
    if (::unlinkat(dirfd, name.c_str(), 0) == 0) {
      std::string removed = path;
      removed += '/';
      removed += name;
      log::info("state_dir.stale_tmp_removed", {{"path", removed}});
    }
  }
}

}  // namespace

std::string_view writeStepName(WriteStep step) {
  switch (step) {
    case WriteStep::TmpCreated: return "tmp-created";
    case WriteStep::Written: return "written";
    case WriteStep::FileSynced: return "file-synced";
    case WriteStep::Renamed: return "renamed";
    case WriteStep::DirSynced: return "dir-synced";
  }
  return "unknown";
}

Status validateVersionName(std::string_view version) {
  if (version == "pending") return invalidArgumentError("version name 'pending' is reserved");
  Status s = validateKeyName(version);
  if (!s.ok()) {
    return invalidArgumentError("version" + s.message().substr(std::string("key name").size()));
  }
  return okStatus();
}

StatusOr<StateDir> StateDir::open(StateDirOptions options) {
  if (options.path.empty()) return invalidArgumentError("state dir: no path configured");
  while (options.path.size() > 1 && options.path.back() == '/') options.path.pop_back();
  const mode_t dir_mode = options.group.has_value() ? 0750 : 0700;
  if (options.create) {
    if (::mkdir(options.path.c_str(), dir_mode) == 0) {
      Fd fd(::open(options.path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (fd.get() >= 0) {
        if (options.group.has_value() &&
            ::fchown(fd.get(), static_cast<uid_t>(-1), *options.group) != 0) {
          return permissionDeniedError("state dir " + options.path + ": set group " +
                                       std::to_string(*options.group) + ": " + errnoText(errno));
        }
        if (::fchmod(fd.get(), dir_mode) != 0) {
          return internalError("state dir " + options.path + ": chmod: " + errnoText(errno));
        }
      }
      log::info("state_dir.created", {{"path", options.path}});
    } else if (errno != EEXIST) {
      return openError(errno, "state dir", options.path);
    }
  }
  SKR_ASSIGN_OR_RETURN(
      Fd fd, openCheckedDir(AT_FDCWD, options.path, options.path, "state dir", options.owner));
  return StateDir(std::move(options), fd.release());
}

Status StateDir::recheck() const {
  // Opened again by path with the same checks as open(): mode, owner, no symlink.
  SKR_ASSIGN_OR_RETURN(Fd by_path, openCheckedDir(AT_FDCWD, options_.path, options_.path,
                                                  "state dir", options_.owner));
  struct stat now {};
  struct stat held {};
  if (::fstat(by_path.get(), &now) != 0 || ::fstat(fd_, &held) != 0) {
    return internalError("state dir " + options_.path + ": fstat: " + errnoText(errno));
  }
  if (now.st_dev != held.st_dev || now.st_ino != held.st_ino) {
    return failedPreconditionError("state dir " + options_.path +
                                   " is no longer the directory opened at start (it was removed "
                                   "and created again); restart the process to use the new one");
  }
  // The held descriptor too: a chmod on the same directory shows here as well.
  return checkOwnerAndMode(held, "state dir", options_.path, options_.owner, kDirForbidden);
}

StateDir::StateDir(StateDir&& other) noexcept
    : options_(std::move(other.options_)), fd_(std::exchange(other.fd_, -1)) {}

StateDir& StateDir::operator=(StateDir&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    options_ = std::move(other.options_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

StateDir::~StateDir() {
  if (fd_ >= 0) ::close(fd_);
}

StatusOr<StateDir::KeyDir> StateDir::openKeyDir(std::string_view key, bool create) const {
  SKR_RETURN_IF_ERROR(validateKeyName(key));
  const std::string name(key);
  const std::string path = options_.path + "/" + name;
  const mode_t dir_mode = options_.group.has_value() ? 0750 : 0700;
  if (create) {
    if (::mkdirat(fd_, name.c_str(), dir_mode) == 0) {
      Fd fd(::openat(fd_, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (fd.get() < 0) return openError(errno, "key dir", path);
      if (options_.group.has_value() &&
          ::fchown(fd.get(), static_cast<uid_t>(-1), *options_.group) != 0) {
        return permissionDeniedError("key dir " + path + ": set group " +
                                     std::to_string(*options_.group) + ": " + errnoText(errno));
      }
      if (::fchmod(fd.get(), dir_mode) != 0) {
        return internalError("key dir " + path + ": chmod: " + errnoText(errno));
      }
      SKR_RETURN_IF_ERROR(fsyncFd(fd_, options_.path));
    } else if (errno != EEXIST) {
      return openError(errno, "key dir", path);
    }
  }
  SKR_ASSIGN_OR_RETURN(Fd fd, openCheckedDir(fd_, name, path, "key dir", options_.owner));
  return KeyDir(std::move(fd), path);
}

Status StateDir::atomicWrite(std::string_view key, const std::string& name,
                             std::string_view content) {
  SKR_ASSIGN_OR_RETURN(KeyDir dir, openKeyDir(key, /*create=*/true));
  SKR_ASSIGN_OR_RETURN(KeyLock lock, KeyLock::acquire(dir.fd(), dir.path(), /*wait=*/true));
  removeStaleTmp(dir.fd(), dir.path());

  const std::string target = dir.path() + "/" + name;
  const std::string tmp = std::string(kTmpPrefix) + name + "-" + std::to_string(::getpid()) + "-" +
                          encoding::hexEncode(crypto::randomBytes(6));
  const mode_t mode = options_.group.has_value() ? 0440 : 0400;
  Fd fd(
      ::openat(dir.fd(), tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
  if (fd.get() < 0) {
    return internalError("state dir: create " + dir.path() + "/" + tmp + ": " + errnoText(errno));
  }
  bool renamed = false;
  // Any failure from here on removes the tmp file (unless it already became the target).
  auto fail = [&](const Status& status) {
    fd.reset();
    if (!renamed) ::unlinkat(dir.fd(), tmp.c_str(), 0);
    return status.withContext("write " + target);
  };
  auto step = [&](WriteStep s) -> Status {
    if (!options_.on_write_step) return okStatus();
    return options_.on_write_step(s, tmp);
  };
  if (options_.group.has_value() &&
      ::fchown(fd.get(), static_cast<uid_t>(-1), *options_.group) != 0) {
    return fail(permissionDeniedError("set group " + std::to_string(*options_.group) + ": " +
                                      errnoText(errno)));
  }
  if (::fchmod(fd.get(), mode) != 0) {  // the umask must neither widen nor narrow it
    return fail(internalError("chmod: " + errnoText(errno)));
  }
  if (Status s = step(WriteStep::TmpCreated); !s.ok()) return fail(s);
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd.get(), content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return fail(internalError("write after " + std::to_string(done) + " of " +
                                std::to_string(content.size()) + " bytes: " + errnoText(errno)));
    }
    done += static_cast<std::size_t>(n);
  }
  if (Status s = step(WriteStep::Written); !s.ok()) return fail(s);
  if (Status s = fsyncFd(fd.get(), dir.path() + "/" + tmp); !s.ok()) return fail(s);
  if (Status s = step(WriteStep::FileSynced); !s.ok()) return fail(s);
  fd.reset();
  if (::renameat(dir.fd(), tmp.c_str(), dir.fd(), name.c_str()) != 0) {
    return fail(internalError("rename " + tmp + " -> " + name + ": " + errnoText(errno)));
  }
  renamed = true;
  if (Status s = step(WriteStep::Renamed); !s.ok()) return fail(s);
  if (Status s = fsyncFd(dir.fd(), dir.path()); !s.ok()) return fail(s);
  if (Status s = step(WriteStep::DirSynced); !s.ok()) return fail(s);
  return okStatus();
}

StatusOr<std::string> StateDir::readFile(std::string_view key, const std::string& name,
                                         std::size_t max_bytes) const {
  SKR_ASSIGN_OR_RETURN(KeyDir dir, openKeyDir(key, /*create=*/false));
  const std::string path = dir.path() + "/" + name;
  Fd fd(::openat(dir.fd(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (fd.get() < 0) return openError(errno, "state file", path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return internalError("state file " + path + ": fstat: " + errnoText(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return failedPreconditionError("state file " + path + " is not a regular file");
  }
  SKR_RETURN_IF_ERROR(checkOwnerAndMode(st, "state file", path, options_.owner, kFileForbidden));
  if (static_cast<std::size_t>(st.st_size) > max_bytes) {
    return resourceExhaustedError("state file " + path + " is " + std::to_string(st.st_size) +
                                  " bytes, limit " + std::to_string(max_bytes));
  }
  // Read up to one byte past the limit, so a file that grew after fstat is still caught.
  std::string out(max_bytes + 1, '\0');
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::read(fd.get(), out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return internalError("state file " + path + ": read: " + errnoText(errno));
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  if (done > max_bytes) {
    return resourceExhaustedError("state file " + path + " is larger than " +
                                  std::to_string(max_bytes) + " bytes");
  }
  out.resize(done);
  return out;
}

Status StateDir::removeFile(std::string_view key, const std::string& name) {
  SKR_ASSIGN_OR_RETURN(KeyDir dir, openKeyDir(key, /*create=*/false));
  SKR_ASSIGN_OR_RETURN(KeyLock lock, KeyLock::acquire(dir.fd(), dir.path(), /*wait=*/true));
  if (::unlinkat(dir.fd(), name.c_str(), 0) != 0) {
    return openError(errno, "state file", dir.path() + "/" + name);
  }
  return fsyncFd(dir.fd(), dir.path());
}

Status StateDir::writeVersion(std::string_view key, std::string_view version,
                              std::string_view content) {
  SKR_RETURN_IF_ERROR(validateVersionName(version));
  return atomicWrite(key, versionFile(version), content);
}

Status StateDir::setCurrent(std::string_view key, std::string_view version) {
  SKR_RETURN_IF_ERROR(validateVersionName(version));
  SKR_ASSIGN_OR_RETURN(KeyDir dir, openKeyDir(key, /*create=*/false));
  struct stat st {};
  if (::fstatat(dir.fd(), versionFile(version).c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
      !S_ISREG(st.st_mode)) {
    return notFoundError("state dir: " + dir.path() + "/" + versionFile(version) +
                         " does not exist; cannot make it current");
  }
  return atomicWrite(key, kCurrentName, std::string(version) + "\n");
}

Status StateDir::writePending(std::string_view key, std::string_view content) {
  return atomicWrite(key, kPendingName, content);
}

Status StateDir::writeGeneration(std::string_view key, uint64_t generation) {
  return atomicWrite(key, kGenerationName, std::to_string(generation) + "\n");
}

StatusOr<uint64_t> StateDir::generation(std::string_view key) const {
  StatusOr<std::string> text = readFile(key, kGenerationName, 32);
  if (!text.ok()) {
    if (text.status().code() == StatusCode::NotFound) return uint64_t{0};
    return text.status();
  }
  const std::string where = "state file " + options_.path + "/" + std::string(key) + "/generation";
  if (text->size() < 2 || text->size() > 21 || text->back() != '\n') {
    return invalidArgumentError(where + ": expected a decimal number and a newline");
  }
  uint64_t value = 0;
  for (std::size_t i = 0; i + 1 < text->size(); ++i) {
    const char c = (*text)[i];
    if (c < '0' || c > '9') {
      return invalidArgumentError(where + ": expected a decimal number and a newline");
    }
    const auto digit = static_cast<uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return invalidArgumentError(where + ": out of range");
    value = value * 10 + digit;
  }
  return value;
}

StatusOr<std::string> StateDir::readVersion(std::string_view key, std::string_view version,
                                            std::size_t max_bytes) const {
  SKR_RETURN_IF_ERROR(validateVersionName(version));
  return readFile(key, versionFile(version), max_bytes);
}

StatusOr<std::string> StateDir::readPending(std::string_view key, std::size_t max_bytes) const {
  return readFile(key, kPendingName, max_bytes);
}

StatusOr<std::string> StateDir::current(std::string_view key) const {
  SKR_ASSIGN_OR_RETURN(std::string text, readFile(key, kCurrentName, kMaxKeyNameLength + 1));
  if (text.empty() || text.back() != '\n') {
    return invalidArgumentError("state file " + options_.path + "/" + std::string(key) +
                                "/current: expected a version name and a newline");
  }
  text.pop_back();
  Status valid = validateVersionName(text);
  if (!valid.ok()) {
    return valid.withContext("state file " + options_.path + "/" + std::string(key) + "/current");
  }
  return text;
}

StatusOr<std::vector<std::string>> StateDir::listKeys() const {
  SKR_ASSIGN_OR_RETURN(std::vector<std::string> names, listEntries(fd_, options_.path));
  std::vector<std::string> keys;
  for (std::string& name : names) {
    if (!validateKeyName(name).ok()) continue;
    struct stat st {};
    if (::fstatat(fd_, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
      keys.push_back(std::move(name));
    }
  }
  return keys;
}

StatusOr<std::vector<std::string>> StateDir::listVersions(std::string_view key) const {
  SKR_ASSIGN_OR_RETURN(KeyDir dir, openKeyDir(key, /*create=*/false));
  SKR_ASSIGN_OR_RETURN(std::vector<std::string> names, listEntries(dir.fd(), dir.path()));
  std::vector<std::string> versions;
  bool stale_tmp = false;
  for (const std::string& name : names) {
    if (isTmpName(name)) {
      stale_tmp = true;
      continue;
    }
    if (name.size() <= kJsonSuffix.size() ||
        name.substr(name.size() - kJsonSuffix.size()) != kJsonSuffix) {
      continue;
    }
    std::string version = name.substr(0, name.size() - kJsonSuffix.size());
    if (!validateVersionName(version).ok()) continue;
    // Listed whatever its type: a FIFO, directory or symlink in a bundle's place is then refused
    // by readVersion() with a reason the agent logs (bundle_rejected), not skipped silently.
    versions.push_back(std::move(version));
  }
  if (stale_tmp) {
    // Only when no writer holds the lock: a live writer's tmp file is not stale.
    StatusOr<KeyLock> lock = KeyLock::acquire(dir.fd(), dir.path(), /*wait=*/false);
    if (lock.ok()) removeStaleTmp(dir.fd(), dir.path());
  }
  return versions;
}

Status StateDir::removeVersion(std::string_view key, std::string_view version) {
  SKR_RETURN_IF_ERROR(validateVersionName(version));
  StatusOr<std::string> primary = current(key);
  if (primary.ok() && *primary == version) {
    return failedPreconditionError("state dir: version " + std::string(version) + " of key '" +
                                   std::string(key) +
                                   "' is current; make another one current first");
  }
  if (!primary.ok() && primary.status().code() != StatusCode::NotFound) return primary.status();
  return removeFile(key, versionFile(version));
}

Status StateDir::removePending(std::string_view key) {
  return removeFile(key, kPendingName);
}

}  // namespace skr::seal
