// The latest instant skr accepts from outside (token claims, Retry-After dates, expiry times).
// std::chrono::system_clock counts nanoseconds in an int64 and ends in 2262, so a later date would
// overflow when it becomes a time_point; 2200 leaves room for leeways and lifetimes added to it.
#pragma once

#include <cstdint>

namespace skr {

inline constexpr int64_t kLatestEpochSeconds = 7'258'118'400;  // 2200-01-01T00:00:00Z

}  // namespace skr
