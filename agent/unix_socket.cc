#include "agent/unix_socket.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "common/log/logger.h"

namespace skr::agent {
namespace {

std::string errnoText(int error) {
  return std::strerror(error);
}

std::string octal(mode_t mode) {
  char text[16];
  (void)std::snprintf(text, sizeof(text), "0%03o", static_cast<unsigned>(mode));
  return text;
}

std::string parentDirectory(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Owned by us or root, and not writable by group/others, sticky or not: in a sticky directory
// nobody else can remove our socket file, but anyone can create its path before we do.
Status checkDirectory(const std::string& directory) {
  struct stat st {};
  if (::stat(directory.c_str(), &st) != 0) {
    return failedPreconditionError("socket directory '" + directory + "': " + errnoText(errno));
  }
  if (!S_ISDIR(st.st_mode)) {
    return failedPreconditionError("socket directory '" + directory + "' is not a directory");
  }
  if (st.st_uid != ::geteuid() && st.st_uid != 0) {
    return permissionDeniedError("socket directory '" + directory + "' is owned by uid " +
                                 std::to_string(st.st_uid) + ", not by this process (uid " +
                                 std::to_string(::geteuid()) + ") or root");
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 && (st.st_mode & S_ISVTX) == 0) {
    return permissionDeniedError("socket directory '" + directory + "' has mode " +
                                 octal(st.st_mode & 07777) +
                                 ": writable by group or others without the sticky bit");
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    // /tmp-like: anyone may create the socket's path before the agent does, and clients would
    // then talk to an impostor.
    return permissionDeniedError("socket directory '" + directory + "' has mode " +
                                 octal(st.st_mode & 07777) +
                                 ": writable by group or others (a sticky bit does not stop "
                                 "another user from creating the socket path first)");
  }
  return okStatus();
}

// A missing socket directory is created (its last component only) with mode 0750 and the socket's
// group, so that a socket can live in a volume the agent does not own (a Kubernetes emptyDir is
// root-owned 0777, which checkDirectory refuses); the caller checks the result like any other
// directory, so one that someone else created first is still refused.
Status createMissingDirectory(const std::string& directory, std::optional<gid_t> gid) {
  if (::mkdir(directory.c_str(), 0700) != 0) {
    if (errno == EEXIST) return okStatus();
    return failedPreconditionError("socket directory '" + directory +
                                   "': mkdir: " + errnoText(errno));
  }
  if (gid && ::chown(directory.c_str(), static_cast<uid_t>(-1), *gid) != 0) {
    return permissionDeniedError("socket directory '" + directory + "': set group " +
                                 std::to_string(*gid) + ": " + errnoText(errno));
  }
  if (::chmod(directory.c_str(), 0750) != 0) {
    return permissionDeniedError("socket directory '" + directory +
                                 "': chmod 0750: " + errnoText(errno));
  }
  log::info("socket_dir.created", {{"path", directory}});
  return okStatus();
}

sockaddr_un socketAddress(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  return address;
}

// An existing path: refuse unless it is our own socket that nobody listens on any more.
Status removeStaleSocket(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return okStatus();
    return failedPreconditionError("socket path '" + path + "': " + errnoText(errno));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return failedPreconditionError("socket path '" + path +
                                   "' exists and is not a socket; refusing to remove it");
  }
  if (st.st_uid != ::geteuid()) {
    return failedPreconditionError("socket path '" + path + "' is a socket owned by uid " +
                                   std::to_string(st.st_uid) + ", not by this process (uid " +
                                   std::to_string(::geteuid()) + "); refusing to remove it");
  }
  const int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (probe < 0) return internalError("socket(AF_UNIX): " + errnoText(errno));
  const sockaddr_un address = socketAddress(path);
  const int rc = ::connect(probe, reinterpret_cast<const sockaddr*>(&address),  // NOLINT
                           sizeof(address));
  const int error = errno;
  ::close(probe);
  if (rc == 0) {
    return failedPreconditionError("socket path '" + path +
                                   "': another process is listening on it");
  }
  if (error != ECONNREFUSED) {
    return failedPreconditionError("socket path '" + path + "' exists and probing it failed (" +
                                   errnoText(error) + "); refusing to remove it");
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return failedPreconditionError("removing stale socket '" + path + "': " + errnoText(errno));
  }
  return okStatus();
}

}  // namespace

Status checkSocketDirectory(const std::string& directory) {
  return checkDirectory(directory);
}

StatusOr<UnixListeningSocket> UnixListeningSocket::create(const UnixSocketOptions& options) {
  const std::string& path = options.path;
  if (path.empty()) return invalidArgumentError("socket path is empty");
  if (path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return invalidArgumentError(
        "socket path '" + path + "' is " + std::to_string(path.size()) + " bytes; at most " +
        std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) + " fit in sun_path");
  }
  if (path.find('\0') != std::string::npos) {
    return invalidArgumentError("socket path contains a NUL byte");
  }
  if ((options.mode & ~static_cast<mode_t>(0777)) != 0) {
    return invalidArgumentError("socket mode " + octal(options.mode) +
                                " has bits beyond the permission bits");
  }
  if (options.backlog <= 0) {
    return invalidArgumentError("socket backlog must be positive, got " +
                                std::to_string(options.backlog));
  }
  SKR_RETURN_IF_ERROR(createMissingDirectory(parentDirectory(path), options.gid));
  SKR_RETURN_IF_ERROR(checkDirectory(parentDirectory(path)));
  SKR_RETURN_IF_ERROR(removeStaleSocket(path));

  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return internalError("socket(AF_UNIX): " + errnoText(errno));
  const sockaddr_un address = socketAddress(path);
  const mode_t previous_umask = ::umask(0177);
  const int bind_rc =
      ::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address));  // NOLINT
  const int bind_errno = errno;
  ::umask(previous_umask);
  if (bind_rc != 0) {
    ::close(fd);
    return failedPreconditionError("bind('" + path + "'): " + errnoText(bind_errno));
  }
  // From here on every failure removes the file again.
  auto fail = [&](Status status) {
    ::close(fd);
    ::unlink(path.c_str());
    return status;
  };
  if (options.gid && ::lchown(path.c_str(), static_cast<uid_t>(-1), *options.gid) != 0) {
    return fail(permissionDeniedError("chown socket '" + path + "' to gid " +
                                      std::to_string(*options.gid) + ": " + errnoText(errno)));
  }
  if (::chmod(path.c_str(), options.mode) != 0) {
    return fail(permissionDeniedError("chmod socket '" + path + "' to " + octal(options.mode) +
                                      ": " + errnoText(errno)));
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    return fail(internalError("lstat socket '" + path + "': " + errnoText(errno)));
  }
  if (!S_ISSOCK(st.st_mode) || st.st_uid != ::geteuid()) {
    return fail(
        permissionDeniedError("socket '" + path + "' is not the socket this process just created"));
  }
  if ((st.st_mode & 07777) != options.mode) {
    return fail(permissionDeniedError("socket '" + path + "' has mode " +
                                      octal(st.st_mode & 07777) + ", expected " +
                                      octal(options.mode)));
  }
  if (options.gid && st.st_gid != *options.gid) {
    return fail(permissionDeniedError("socket '" + path + "' has gid " + std::to_string(st.st_gid) +
                                      ", expected " + std::to_string(*options.gid)));
  }
  if (::listen(fd, options.backlog) != 0) {
    return fail(internalError("listen('" + path + "'): " + errnoText(errno)));
  }
  return UnixListeningSocket(fd, path, st.st_dev, st.st_ino);
}

UnixListeningSocket::UnixListeningSocket(UnixListeningSocket&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      path_(std::move(other.path_)),
      device_(other.device_),
      inode_(other.inode_) {}

UnixListeningSocket& UnixListeningSocket::operator=(UnixListeningSocket&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
    device_ = other.device_;
    inode_ = other.inode_;
  }
  return *this;
}

UnixListeningSocket::~UnixListeningSocket() {
  close();
}

void UnixListeningSocket::close() {
  if (fd_ < 0) return;
  struct stat st {};
  if (::lstat(path_.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == device_ &&
      st.st_ino == inode_) {
    ::unlink(path_.c_str());
  }
  ::close(fd_);
  fd_ = -1;
}

}  // namespace skr::agent
