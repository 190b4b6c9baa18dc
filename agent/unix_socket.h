// A listening AF_UNIX stream socket created the safe way (DESIGN.md §6): the path fits sun_path;
// a missing directory is created (last component, 0750, the socket's group); the directory is
// owned by us or root and writable by nobody else (sticky or not); an existing path is removed
// only when it is our own stale socket (connect() refused); the file gets the configured mode and
// group right after bind(), verified with lstat(), or creation fails closed.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <optional>
#include <string>
#include <utility>

#include "common/core/status.h"

namespace skr::agent {

struct UnixSocketOptions {
  std::string path;          // absolute or relative; at most 107 bytes (sun_path is 108)
  mode_t mode = 0660;        // permission bits only
  std::optional<gid_t> gid;  // group of the socket file; unchanged when empty
  int backlog = 128;
};

// The check create() applies to a socket's directory (skr-agent at start; skrctl doctor): owned by
// this user or root and not writable by group or others, sticky or not. FailedPrecondition when it
// is missing or not a directory, PermissionDenied when unsafe; messages name the directory.
Status checkSocketDirectory(const std::string& directory);

// Owns the listening descriptor (close-on-exec, non-blocking) and the socket file: the
// destructor closes the descriptor and unlinks the path if it is still the file this object
// created (same device and inode), so a newer agent's socket is never removed. Move-only.
class UnixListeningSocket {
 public:
  // Creates, binds, secures and listens. Not safe to run concurrently with other threads that
  // create files: bind() runs under a temporary umask of 0177 so the file is never more open than
  // 0600 before chmod. Errors: InvalidArgument (path too long/empty, bad mode),
  // FailedPrecondition (path exists and is not a removable stale socket, another process is
  // listening), PermissionDenied (unsafe directory, mode or group cannot be applied), Internal.
  static StatusOr<UnixListeningSocket> create(const UnixSocketOptions& options);

  UnixListeningSocket(UnixListeningSocket&& other) noexcept;
  UnixListeningSocket& operator=(UnixListeningSocket&& other) noexcept;
  UnixListeningSocket(const UnixListeningSocket&) = delete;
  UnixListeningSocket& operator=(const UnixListeningSocket&) = delete;
  ~UnixListeningSocket();

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }

 private:
  UnixListeningSocket(int fd, std::string path, dev_t device, ino_t inode)
      : fd_(fd), path_(std::move(path)), device_(device), inode_(inode) {}
  void close();

  int fd_ = -1;
  std::string path_;
  dev_t device_ = 0;
  ino_t inode_ = 0;
};

}  // namespace skr::agent
