#include "agent/peer_credentials.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace skr::agent {

StatusOr<PeerCredentials> readPeerCredentials(int fd) {
  struct ucred credentials {};
  socklen_t length = sizeof(credentials);
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) {
    return internalError(std::string("getsockopt(SO_PEERCRED): ") + std::strerror(errno));
  }
  if (length != sizeof(credentials)) {
    return internalError("getsockopt(SO_PEERCRED) returned " + std::to_string(length) +
                         " bytes, expected " + std::to_string(sizeof(credentials)));
  }
  return PeerCredentials{credentials.pid, credentials.uid, credentials.gid};
}

}  // namespace skr::agent
