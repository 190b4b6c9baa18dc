// The identity of the process on the other end of a connected Unix domain socket (SO_PEERCRED,
// socket(7)): what the authorization rules of DESIGN.md §6 match on. The kernel records it at
// connect(), so it cannot be changed later by the peer.
#pragma once

#include "agent/http_message.h"
#include "common/core/status.h"

namespace skr::agent {

// SO_PEERCRED of `fd`. Fails (Internal) when the kernel does not answer, e.g. not a socket. For a
// peer in another PID namespace the kernel reports pid 0.
StatusOr<PeerCredentials> readPeerCredentials(int fd);

}  // namespace skr::agent
