// A listening TCP socket on 127.0.0.1 for the Azure SKR sidecar compatibility port
// (`agent.compat.azure_sidecar.tcp_port`, DESIGN.md §6). Loopback only: the containers of a group
// share the network namespace, nothing outside reaches it. Callers are identified by the uid of
// their socket (peer_credentials.h readLoopbackTcpPeer).
#pragma once

#include <cstdint>

#include "common/core/status.h"

namespace skr::agent {

class LoopbackTcpListeningSocket {
 public:
  // Binds 127.0.0.1:`port` (non-blocking, close-on-exec, SO_REUSEADDR) and listens.
  // InvalidArgument for port 0 or > 65535; FailedPrecondition when the port is taken.
  static StatusOr<LoopbackTcpListeningSocket> create(int port, int backlog = 64);

  LoopbackTcpListeningSocket(LoopbackTcpListeningSocket&& other) noexcept;
  LoopbackTcpListeningSocket& operator=(LoopbackTcpListeningSocket&& other) noexcept;
  LoopbackTcpListeningSocket(const LoopbackTcpListeningSocket&) = delete;
  LoopbackTcpListeningSocket& operator=(const LoopbackTcpListeningSocket&) = delete;
  ~LoopbackTcpListeningSocket();

  int fd() const { return fd_; }
  int port() const { return port_; }

 private:
  LoopbackTcpListeningSocket(int fd, int port) : fd_(fd), port_(port) {}
  int fd_ = -1;
  int port_ = 0;
};

}  // namespace skr::agent
