// The few warnings common/core raises itself (secret memory could not be locked, RLIMIT_MEMLOCK is
// too low). common/core sits below common/log, and the build enforces that order, so core cannot
// call the logger: it hands its warnings to this sink, which common/log installs when it is linked
// in (every skr program links it). With no sink installed a warning is dropped.
#pragma once

#include <cstdint>
#include <string_view>

namespace skr::core {

struct WarningNumber {
  std::string_view key;
  int64_t value = 0;
};

// Receives event name, the "reason" text and one numeric field, e.g. ("memlock_limited",
// "RLIMIT_MEMLOCK is below 64 KiB...", {"limit_bytes", 65536}).
using WarningSink = void (*)(std::string_view event, std::string_view reason, WarningNumber number);

// Thread-safe. Returns the previous sink.
WarningSink setWarningSink(WarningSink sink);
void warn(std::string_view event, std::string_view reason, WarningNumber number);

}  // namespace skr::core
