// Peer identity of agent connections: SO_PEERCRED on Unix sockets, and the loopback TCP
// sidecar-compat port's lookup in the kernel's socket table (/proc/net/tcp).
#include "agent/peer_credentials.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "agent/loopback_tcp_socket.h"

namespace skr::agent {
namespace {

// A connected loopback TCP pair: `client` connected to a listener, `server` its accepted end.
struct TcpPair {
  TcpPair() {
    listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
    REQUIRE(::listen(listener, 4) == 0);
    socklen_t length = sizeof(a);
    REQUIRE(::getsockname(listener, reinterpret_cast<sockaddr*>(&a), &length) == 0);
    client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(::connect(client, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
    server = ::accept(listener, nullptr, nullptr);
    REQUIRE(server >= 0);
  }
  ~TcpPair() {
    ::close(server);
    ::close(client);
    ::close(listener);
  }
  static std::string endpoint(int fd, bool peer) {
    sockaddr_in a{};
    socklen_t length = sizeof(a);
    if (peer) {
      ::getpeername(fd, reinterpret_cast<sockaddr*>(&a), &length);
    } else {
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &length);
    }
    char text[16];
    std::snprintf(text, sizeof(text), "%08X:%04X", static_cast<unsigned>(a.sin_addr.s_addr),
                  static_cast<unsigned>(ntohs(a.sin_port)));
    return text;
  }
  int listener = -1, client = -1, server = -1;
};

TEST_CASE("a Unix socket peer is identified by SO_PEERCRED") {
  int fds[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
  StatusOr<PeerCredentials> peer = readPeerCredentials(fds[0]);
  REQUIRE(peer.ok());
  CHECK(peer->uid == ::geteuid());
  CHECK(peer->gid == ::getegid());
  CHECK(peer->pid == ::getpid());
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST_CASE("a loopback TCP peer is identified by the uid owning its socket in /proc/net/tcp") {
  TcpPair pair;
  StatusOr<PeerCredentials> peer = readPeerCredentials(pair.server);
  REQUIRE(peer.ok());
  CHECK(peer->uid == ::geteuid());
  CHECK(peer->gid == static_cast<gid_t>(-1));
  CHECK(peer->pid == 0);
}

TEST_CASE("the /proc/net/tcp lookup takes the line whose local end is the peer") {
  TcpPair pair;
  const std::string peer_end = TcpPair::endpoint(pair.server, true);
  const std::string our_end = TcpPair::endpoint(pair.server, false);
  const std::filesystem::path file =
      std::filesystem::temp_directory_path() / ("skr-proc-net-tcp-" + std::to_string(::getpid()));
  {
    std::ofstream out(file);
    out << "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
           "timeout inode\n";
    // Our own end (local = us) comes first and must not be taken; then garbage; then the peer's.
    out << "   0: " << our_end << " " << peer_end
        << " 01 00000000:00000000 00:00000000 00000000     0        0 1 1 0 20 4 30 10 -1\n";
    out << "   1: garbage\n";
    out << "   2: " << peer_end << " " << our_end
        << " 01 00000000:00000000 00:00000000 00000000  1234        0 2 1 0 20 4 30 10 -1\n";
  }
  StatusOr<PeerCredentials> peer = readLoopbackTcpPeer(pair.server, file.string());
  REQUIRE(peer.ok());
  CHECK(peer->uid == 1234);

  {
    std::ofstream out(file);
    out << "header\n";
  }
  peer = readLoopbackTcpPeer(pair.server, file.string());
  CHECK(peer.status().code() == StatusCode::NotFound);
  std::filesystem::remove(file);
}

TEST_CASE("the loopback TCP listener binds 127.0.0.1 and refuses a taken port or port 0") {
  CHECK(LoopbackTcpListeningSocket::create(0).status().code() == StatusCode::InvalidArgument);
  TcpPair pair;
  sockaddr_in a{};
  socklen_t length = sizeof(a);
  REQUIRE(::getsockname(pair.listener, reinterpret_cast<sockaddr*>(&a), &length) == 0);
  const int taken = ntohs(a.sin_port);
  CHECK(LoopbackTcpListeningSocket::create(taken).status().code() ==
        StatusCode::FailedPrecondition);
}

}  // namespace
}  // namespace skr::agent
