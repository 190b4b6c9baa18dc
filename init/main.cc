// skr-init: attest, release, seal and write the keys before the app starts (DESIGN.md §3).
#include <string>
#include <vector>

#include "init/init_command.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return skr::init::runSkrInit(args);
}
