// The identity of the process on the other end of a connected Unix domain socket (SO_PEERCRED,
// socket(7)): what the authorization rules of DESIGN.md §6 match on. The kernel records it at
// connect(), so it cannot be changed later by the peer.
#pragma once

#include <string>

#include "agent/http_message.h"
#include "common/core/status.h"

namespace skr::agent {

// SO_PEERCRED of `fd`. Fails (Internal) when the kernel does not answer, e.g. not a socket. For a
// peer in another PID namespace the kernel reports pid 0. For an IPv4 TCP connection (the sidecar
// compatibility port on loopback), readLoopbackTcpPeer(fd, "/proc/net/tcp").
StatusOr<PeerCredentials> readPeerCredentials(int fd);

// The uid owning the peer's socket of a loopback TCP connection, from the kernel's socket table
// of this network namespace (`proc_net_tcp`, /proc/net/tcp: the line whose local end is our
// peer and whose remote end is us). Containers of one group share the network namespace, so the
// table holds the peer's socket. gid and pid are unknown (gid -1, pid 0): rules match TCP callers
// by uid only. PermissionDenied for a non-loopback peer, NotFound when no line matches.
StatusOr<PeerCredentials> readLoopbackTcpPeer(int fd, const std::string& proc_net_tcp);

}  // namespace skr::agent
