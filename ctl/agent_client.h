// skrctl's client of skr-agent's admin socket (DESIGN.md §6, §7): one HTTP/1.1 request over a
// Unix domain socket, the answer bounded in size and time.
#pragma once

#include <chrono>
#include <string>

#include "common/core/status.h"

namespace skr::ctl {

// The admin socket: `flag` when given, else the one skr-agent itself would use: the configuration
// from SKR_CONFIG_YAML (agent.admin_socket) with the SKR_ADMIN_SOCKET override, else
// /run/skr/admin/agent.sock. InvalidArgument when no flag is given and that configuration does not
// load (the message names the key).
StatusOr<std::string> adminSocketPath(const std::string& flag);

struct AgentReply {
  int status = 0;
  std::string content_type;
  std::string body;  // at most kMaxAgentReplyBytes
};
inline constexpr std::size_t kMaxAgentReplyBytes = 4 * 1024 * 1024;

// Sends `method target` (with `X-SKR-Request: 1`, and `body` as JSON when non-empty) to the agent
// at `socket_path`. Unavailable when the socket cannot be reached (the message says which path),
// DeadlineExceeded when the agent does not answer within `timeout`, DataLoss for an answer that
// is not HTTP or is larger than kMaxAgentReplyBytes.
StatusOr<AgentReply> callAgent(const std::string& socket_path, const std::string& method,
                               const std::string& target, const std::string& body,
                               std::chrono::milliseconds timeout);

// The `error.message` of an AKV-shaped error body ("" when the body is not one), bounded and
// with control characters replaced, for printing.
std::string agentErrorMessage(const std::string& body);

}  // namespace skr::ctl
