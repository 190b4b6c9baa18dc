// A short temporary directory (0700, under /tmp) for socket files in the agent tests: sun_path
// holds 108 bytes, so build trees' deep paths are avoided. Removed with its contents afterwards.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace skr::agent::testing {

class SocketTestDir {
 public:
  SocketTestDir() {
    char name[] = "/tmp/skrXXXXXX";
    if (::mkdtemp(name) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = name;
  }
  ~SocketTestDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  SocketTestDir(const SocketTestDir&) = delete;
  SocketTestDir& operator=(const SocketTestDir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A blocking client connection to `path`; -1 on failure.
inline int connectUnix(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {  // NOLINT
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace skr::agent::testing
