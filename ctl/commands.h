// The command groups of skrctl; cli.cc's allCommands() concatenates them.
#pragma once

#include <vector>

#include "ctl/cli.h"

namespace skr::ctl {

std::vector<Command> reportCommands();
std::vector<Command> hostdataCommands();
std::vector<Command> releasePolicyCommands();
std::vector<Command> agentCommands();
std::vector<Command> keyCommands();
std::vector<Command> dataCommands();
std::vector<Command> verifyCommands();
std::vector<Command> doctorCommands();
std::vector<Command> completionCommands();

// The skrctl exit code for an error answer of skr-agent with this HTTP status (DESIGN.md §9).
int exitCodeForAgentStatus(int http_status);

}  // namespace skr::ctl
