// skr_init_stop_at STEP [skr-init arguments...]: the real skr-init program (runSkrInit) with one
// test seam injected: the process stops itself with SIGSTOP right after the state directory's
// write step STEP ("written", "synced", ...), so a test can kill -9 it there and check that no
// partial file is left. A separate binary, so the production skr-init reads no test hook.
#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "init/init_command.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: skr_init_stop_at STEP [skr-init arguments...]\n");
    return 2;
  }
  const std::string stop_at = argv[1];
  skr::init::InitCommandSeams seams;
  seams.on_write_step = [stop_at](skr::seal::WriteStep step, std::string_view) {
    if (skr::seal::writeStepName(step) == stop_at) std::raise(SIGSTOP);
    return skr::okStatus();
  };
  return skr::init::runSkrInit(std::vector<std::string>(argv + 2, argv + argc), seams);
}
