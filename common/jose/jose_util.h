// Internal helpers shared by the JOSE files (not part of the public API).
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "common/core/rfc3339.h"

namespace skr::jose::internal {

// A bounded, printable rendering of an untrusted string for error messages: at most `max` bytes,
// non-printable bytes replaced by '?', "..." appended when cut.
std::string printable(std::string_view untrusted, std::size_t max = 48);

// RFC 3339 UTC with second precision: "2026-01-02T03:04:05Z".
inline std::string formatTime(std::chrono::system_clock::time_point t) {
  return formatRfc3339(t);
}

}  // namespace skr::jose::internal
