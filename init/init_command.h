// skr-init's command line and process-level behaviour (DESIGN.md §3, §8, §9): options, config
// loading, the hard deadline, progress and the final line, and the exit code. main.cc only calls
// runSkrInit().
//
//   skr-init [--config FILE] [--timeout DURATION] [--dry-run] [--help] [--version]
//
// Config: --config FILE or SKR_CONFIG_YAML (inline YAML), then SKR_* overrides (docs/config.md).
// Output: JSON lines on stderr, one per finished step, and one final line ("done" or "failed"
// with step, key, host, message and the likely fix). Exit codes: DESIGN.md §9.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/status.h"
#include "common/seal/state_dir.h"

namespace skr::init {

struct InitCommandLine {
  std::optional<std::string> config_file;
  std::chrono::milliseconds timeout{120'000};
  bool dry_run = false;
  bool help = false;
  bool version = false;
};

// Parses argv[1..]. InvalidArgument naming the option for unknown options, missing values and bad
// durations ("90s", "2m", "1500ms", or plain seconds; 1 s .. 1 h).
StatusOr<InitCommandLine> parseCommandLine(const std::vector<std::string>& args);

std::string usageText();

// What a test harness may inject into the whole program (nothing in production: skr-init's main
// passes none). on_write_step runs at each step of the state directory's atomic write.
struct InitCommandSeams {
  std::function<Status(seal::WriteStep, std::string_view)> on_write_step;
};

// The whole program; returns the process exit code. Writes to stdout only for --help/--version.
int runSkrInit(const std::vector<std::string>& args, const InitCommandSeams& seams = {});

}  // namespace skr::init
