// skr-agent: the key agent on authenticated Unix domain sockets (DESIGN.md §6, §7).
#include <string>
#include <vector>

#include "agent/agent_command.h"

int main(int argc, char** argv) {
  return skr::agent::runSkrAgent(std::vector<std::string>(argv + 1, argv + argc));
}
