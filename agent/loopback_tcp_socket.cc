#include "agent/loopback_tcp_socket.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

namespace skr::agent {

StatusOr<LoopbackTcpListeningSocket> LoopbackTcpListeningSocket::create(int port, int backlog) {
  if (port <= 0 || port > 65535) {
    return invalidArgumentError("TCP port " + std::to_string(port) + " is not 1..65535");
  }
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return internalError(std::string("socket(AF_INET): ") + std::strerror(errno));
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    const int error = errno;
    ::close(fd);
    std::string message =
        "bind 127.0.0.1:" + std::to_string(port) + ": " + std::string(std::strerror(error));
    return error == EADDRINUSE ? failedPreconditionError(std::move(message))
                               : internalError(std::move(message));
  }
  if (::listen(fd, backlog) != 0) {
    const int error = errno;
    ::close(fd);
    return internalError("listen 127.0.0.1:" + std::to_string(port) + ": " + std::strerror(error));
  }
  return LoopbackTcpListeningSocket(fd, port);
}

LoopbackTcpListeningSocket::LoopbackTcpListeningSocket(LoopbackTcpListeningSocket&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), port_(other.port_) {}

LoopbackTcpListeningSocket& LoopbackTcpListeningSocket::operator=(
    LoopbackTcpListeningSocket&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    port_ = other.port_;
  }
  return *this;
}

LoopbackTcpListeningSocket::~LoopbackTcpListeningSocket() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace skr::agent
