// skr-emulator's command line (`skr-emulator --help` prints usageText()).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/core/status.h"
#include "common/log/logger.h"

namespace skr::emulator {

struct EmulatorOptions {
  std::string state_dir;  // --state DIR (required)
  std::string listen_host = "127.0.0.1";
  uint16_t base_port = 0;  // --listen 127.0.0.1:PORT; 0 = free (or previous) ports
  std::string vault_name = "skr-emulated-vault";  // --vault NAME
  std::string mhsm_name = "skr-emulated-mhsm";    // --mhsm NAME
  int maa_instances = 2;  // --maa-instances N (1..8); "maa" is trusted, others not
  log::Level log_level = log::Level::Info;
  int64_t token_lifetime_seconds = 86400;  // default for a new state dir
  bool help = false;
  bool version = false;
};

// Parses argv[1..]. InvalidArgument names the flag; a non-loopback --listen address is refused.
StatusOr<EmulatorOptions> parseOptions(const std::vector<std::string>& args);

std::string usageText();

}  // namespace skr::emulator
