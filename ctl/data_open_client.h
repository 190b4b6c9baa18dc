// skrctl open-data's client of skr-agent's `POST /data/open` (docs/encrypted-data.md): one
// HTTP/1.1 request over the agent's client socket whose 200 answer is the plaintext as a chunked
// body, read and handed on as it arrives (no buffer grows with the object). The body counts as
// complete only when its terminating zero-length chunk arrived: the agent ends the connection
// without it when opening failed after streaming began, and then this returns DataLoss.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "common/core/secret_bytes.h"
#include "common/core/status.h"

namespace skr::ctl {

struct DataOpenRequest {
  std::string socket_path;
  std::string bearer_token;                        // `Authorization: Bearer` when not empty
  std::string body;                                // {"url","key"[,"auth"]}
  std::chrono::milliseconds idle_timeout{60'000};  // longest wait for any next byte
};

struct DataOpenResult {
  std::string kid;       // X-SKR-Kid
  std::string envelope;  // X-SKR-Envelope: compact or chunked
  uint64_t plaintext_bytes = 0;
};

// Receives plaintext pieces in order; an error stops the transfer.
using PlaintextWriter = std::function<Status(const SecretBytes&)>;

// Errors: Unavailable when the socket cannot be reached; the agent's error answer as
// AgentClient::check makes it (details: dependency Agent, HTTP status, AKV code); DataLoss for a
// body that ended before its last chunk or is not valid chunked encoding; DeadlineExceeded when
// the agent is silent for idle_timeout.
StatusOr<DataOpenResult> openDataThroughAgent(const DataOpenRequest& request,
                                              const PlaintextWriter& write);

}  // namespace skr::ctl
