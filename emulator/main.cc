// skr-emulator: parse arguments, harden the process, run the emulator until SIGTERM/SIGINT.
#include <iostream>
#include <string>
#include <vector>

#include "common/core/hardening.h"
#include "emulator/emulator.h"

int main(int argc, char** argv) {
  skr::StatusOr<skr::HardeningReport> hardened = skr::hardenProcess();
  if (!hardened.ok()) {
    std::cerr << "skr-emulator: " << hardened.status().message() << "\n";
    return 1;
  }
  std::vector<std::string> args(argv + 1, argv + argc);
  return skr::emulator::runEmulator(args, std::cout, std::cerr);
}
