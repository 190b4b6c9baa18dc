#include "ctl/commands.h"

namespace skr::ctl {

std::vector<Command> allCommands() {
  std::vector<Command> all;
  for (auto& c : reportCommands()) all.push_back(std::move(c));
  for (auto& c : hostdataCommands()) all.push_back(std::move(c));
  for (auto& c : releasePolicyCommands()) all.push_back(std::move(c));
  for (auto& c : agentCommands()) all.push_back(std::move(c));
  for (auto& c : keyCommands()) all.push_back(std::move(c));
  for (auto& c : dataCommands()) all.push_back(std::move(c));
  for (auto& c : verifyCommands()) all.push_back(std::move(c));
  for (auto& c : doctorCommands()) all.push_back(std::move(c));
  for (auto& c : completionCommands()) all.push_back(std::move(c));
  return all;
}

}  // namespace skr::ctl
