// FakeClock: a Clock whose time only moves when told to or when something sleeps on it; records
// every sleep. For hermetic tests of retry loops and token caches. Thread-safe.
#pragma once

#include <chrono>
#include <mutex>
#include <vector>

#include "common/core/clock.h"

namespace skr::testing {

class FakeClock : public Clock {
 public:
  // Starts at `wall` (default 2026-01-01T00:00:00Z) and an arbitrary monotonic origin.
  explicit FakeClock(std::chrono::system_clock::time_point wall =
                         std::chrono::system_clock::time_point(std::chrono::seconds(1767225600)));

  std::chrono::system_clock::time_point now() const override;
  std::chrono::steady_clock::time_point steadyNow() const override;
  // Advances both clocks by `duration` instead of sleeping.
  void sleepFor(std::chrono::milliseconds duration) override;

  void advance(std::chrono::milliseconds duration);
  std::vector<std::chrono::milliseconds> sleeps() const;

 private:
  mutable std::mutex mutex_;
  std::chrono::system_clock::time_point wall_;
  std::chrono::steady_clock::time_point steady_;
  std::vector<std::chrono::milliseconds> sleeps_;
};

}  // namespace skr::testing
