#include "common/release/token_prefetch.h"

#include <utility>

namespace skr::release {

TokenPrefetch::TokenPrefetch(azure::TokenProvider& inner, std::vector<std::string> resources)
    : inner_(inner), thread_([this, resources = std::move(resources)] {
        // Only this thread touches prefetched_ until join(); callers read it after joining.
        for (const std::string& resource : resources) {
          if (prefetched_.count(resource) != 0) continue;
          prefetched_.emplace(resource, inner_.token(resource));
        }
      }) {}

TokenPrefetch::~TokenPrefetch() {
  std::lock_guard<std::mutex> lock(mutex_);
  join();
}

void TokenPrefetch::join() {
  if (thread_.joinable()) thread_.join();
}

StatusOr<azure::AccessToken> TokenPrefetch::token(const std::string& resource) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    join();
    auto it = prefetched_.find(resource);
    if (it != prefetched_.end()) {
      StatusOr<azure::AccessToken> answer = std::move(it->second);
      prefetched_.erase(it);
      return answer;
    }
  }
  return inner_.token(resource);
}

void TokenPrefetch::invalidate() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    join();
    prefetched_.clear();
  }
  inner_.invalidate();
}

}  // namespace skr::release
