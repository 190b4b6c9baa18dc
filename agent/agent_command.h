// skr-agent's command line and process-level behaviour (DESIGN.md §6, §7, §10): options, config
// loading, hardening, the two sockets, the server (started at once, not ready), key provisioning
// and its retries in the background, scheduled rotation, and signals. main.cc only calls
// runSkrAgent().
//
//   skr-agent [--config FILE] [--help] [--version]
//
// Config: --config FILE or SKR_CONFIG_YAML (inline YAML), then SKR_* overrides (docs/config.md).
// Signals (blocked everywhere, taken by the main thread with sigwait): SIGTERM / SIGINT drain the
// requests in flight and exit 0; SIGHUP re-reads the bundles from the state dir (as POST /reload).
// The agent itself (sockets, server, provisioning and rotation threads) is an Agent (agent.h).
// Exit codes: 0 after SIGTERM/SIGINT, 2 usage/config, 3 hardening, 10 state dir / sockets / seal,
// and the setup codes of release::buildReleaseServices.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/core/status.h"

namespace skr::agent {

struct AgentCommandLine {
  std::optional<std::string> config_file;
  bool help = false;
  bool version = false;
};

// Parses argv[1..]. InvalidArgument naming the argument for unknown ones and missing values.
StatusOr<AgentCommandLine> parseAgentCommandLine(const std::vector<std::string>& args);

std::string agentUsageText();

// The whole program; returns the process exit code.
int runSkrAgent(const std::vector<std::string>& args);

}  // namespace skr::agent
