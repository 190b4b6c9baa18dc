// skrctl: parse arguments, harden the process, run the command, map the result to an exit code.
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "common/core/hardening.h"
#include "common/log/logger.h"
#include "ctl/cli.h"

namespace {

// skrctl prints results on stdout and one-line errors on stderr; structured log lines below
// warning only appear when SKR_LOG_LEVEL asks for them.
void configureLogging() {
  const char* level = std::getenv("SKR_LOG_LEVEL");
  const std::string name = level != nullptr ? level : "warning";
  if (name == "debug")
    skr::log::setMinLevel(skr::log::Level::Debug);
  else if (name == "info")
    skr::log::setMinLevel(skr::log::Level::Info);
  else if (name == "error")
    skr::log::setMinLevel(skr::log::Level::Error);
  else
    skr::log::setMinLevel(skr::log::Level::Warning);
}

}  // namespace

int main(int argc, char** argv) {
  configureLogging();
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
