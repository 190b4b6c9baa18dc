// skrctl: parse arguments, harden the process, run the command, map the result to an exit code.
#include <iostream>
#include <string>
#include <vector>

#include "common/core/hardening.h"
#include "ctl/cli.h"

int main(int argc, char** argv) {
  skr::StatusOr<skr::HardeningReport> hardened = skr::hardenProcess();
  if (!hardened.ok()) {
    std::cerr << "skrctl: " << hardened.status().message() << "\n";
    return skr::ctl::kExitOutput;
  }
  std::vector<std::string> args(argv + 1, argv + argc);
  skr::ctl::Io io{std::cout, std::cerr};
  const int code = skr::ctl::runSkrctl(args, io);
  std::cout.flush();
  return code;
}
