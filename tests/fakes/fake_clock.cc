#include "tests/fakes/fake_clock.h"

namespace skr::testing {

FakeClock::FakeClock(std::chrono::system_clock::time_point wall)
    : wall_(wall), steady_(std::chrono::steady_clock::time_point(std::chrono::hours(1000))) {}

std::chrono::system_clock::time_point FakeClock::now() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return wall_;
}

std::chrono::steady_clock::time_point FakeClock::steadyNow() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return steady_;
}

void FakeClock::sleepFor(std::chrono::milliseconds duration) {
  std::lock_guard<std::mutex> lock(mutex_);
  sleeps_.push_back(duration);
  wall_ += duration;
  steady_ += duration;
}

void FakeClock::advance(std::chrono::milliseconds duration) {
  std::lock_guard<std::mutex> lock(mutex_);
  wall_ += duration;
  steady_ += duration;
}

std::vector<std::chrono::milliseconds> FakeClock::sleeps() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return sleeps_;
}

}  // namespace skr::testing
