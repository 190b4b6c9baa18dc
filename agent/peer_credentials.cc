#include "agent/peer_credentials.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

namespace skr::agent {
namespace {

// "%08X:%04X" as /proc/net/tcp prints an IPv4 endpoint: the address as the native integer of its
// network-order bytes, the port in host order.
std::string procNetEndpoint(const sockaddr_in& a) {
  char text[16];
  std::snprintf(text, sizeof(text), "%08" PRIX32 ":%04X", static_cast<uint32_t>(a.sin_addr.s_addr),
                static_cast<unsigned>(ntohs(a.sin_port)));
  return text;
}

}  // namespace

StatusOr<PeerCredentials> readPeerCredentials(int fd) {
  sockaddr_storage local{};
  socklen_t local_length = sizeof(local);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_length) != 0) {
    return internalError(std::string("getsockname: ") + std::strerror(errno));
  }
  if (local.ss_family == AF_INET) return readLoopbackTcpPeer(fd, "/proc/net/tcp");

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

StatusOr<PeerCredentials> readLoopbackTcpPeer(int fd, const std::string& proc_net_tcp) {
  sockaddr_in ours{}, peer{};
  socklen_t ours_length = sizeof(ours), peer_length = sizeof(peer);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ours), &ours_length) != 0 ||
      ::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_length) != 0) {
    return internalError(std::string("getsockname/getpeername: ") + std::strerror(errno));
  }
  if (ours.sin_family != AF_INET || peer.sin_family != AF_INET) {
    return internalError("not an IPv4 TCP connection");
  }
  if ((ntohl(peer.sin_addr.s_addr) >> 24) != 127) {
    return permissionDeniedError("TCP peer is not on the loopback network");
  }
  // The peer's own socket: its local end is our peer, its remote end is us.
  const std::string want_local = procNetEndpoint(peer);
  const std::string want_remote = procNetEndpoint(ours);
  std::ifstream in(proc_net_tcp);
  if (!in) return internalError("cannot read " + proc_net_tcp);
  std::string line;
  std::getline(in, line);  // header
  for (int n = 0; n < 1'000'000 && std::getline(in, line); ++n) {
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid ...
    char local[64] = {}, remote[64] = {};
    unsigned long uid = 0;
    if (line.size() > 512 ||
        std::sscanf(line.c_str(), "%*s %63s %63s %*s %*s %*s %*s %lu", local, remote, &uid) != 3) {
      continue;
    }
    if (want_local == local && want_remote == remote) {
      PeerCredentials out;
      out.uid = static_cast<uid_t>(uid);
      return out;  // gid and pid are not known for TCP peers
    }
  }
  return notFoundError("the TCP peer's socket is not in " + proc_net_tcp +
                       " (another network namespace, or it closed)");
}

}  // namespace skr::agent
