// RFC 3339 timestamps: formatting (UTC, "Z") and parsing (for --at options and JSON fields).
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "common/core/status.h"

namespace skr {

using SystemTime = std::chrono::system_clock::time_point;

// "2026-01-02T03:04:05Z" (second precision, UTC).
std::string formatRfc3339(SystemTime t);

// Accepts "YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)" ('t'/'z' and a space separator too); fractional
// seconds are truncated. InvalidArgument naming the text otherwise (range-checked fields; years
// 1678..2261, what system_clock's int64 nanoseconds can hold).
StatusOr<SystemTime> parseRfc3339(std::string_view text);

}  // namespace skr
