// Clock: injected time (STYLE.md "Effects are injected"). Wall time for token expiry and HTTP
// dates, monotonic time for deadlines, and sleeping, so retry loops and caches are tested without
// real clocks or sleeps (tests/fakes/fake_clock.h). Implementations are thread-safe.
#pragma once

#include <chrono>

namespace skr {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::system_clock::time_point now() const = 0;
  virtual std::chrono::steady_clock::time_point steadyNow() const = 0;
  virtual void sleepFor(std::chrono::milliseconds duration) = 0;
};

// The real clocks and std::this_thread::sleep_for. Only main() should need it.
Clock& systemClock();

}  // namespace skr
