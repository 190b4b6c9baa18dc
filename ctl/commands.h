// The command groups of skrctl; cli.cc's allCommands() concatenates them.
#pragma once

#include <vector>

#include "ctl/cli.h"

namespace skr::ctl {

std::vector<Command> reportCommands();
std::vector<Command> hostdataCommands();
std::vector<Command> releasePolicyCommands();
std::vector<Command> agentCommands();

}  // namespace skr::ctl
