// Access tokens requested ahead (DESIGN.md §3): skr-init asks the identity for the token of every
// vault it will release from while it attests, instead of after. TokenPrefetch is a TokenProvider
// over the real one: its constructor starts one thread that requests each resource in order; the
// first token(resource) afterwards waits for that thread and returns what it got (the token, or
// the very failure the request would have returned then), later calls go to the inner provider.
// The thread is joined before any answer and by the destructor, so it never outlives the object.
// Tokens stay in SecretBytes (AccessToken) and move, never copied into plain strings.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/azure/identity.h"

namespace skr::release {

class TokenPrefetch : public azure::TokenProvider {
 public:
  // `inner` outlives this object. Duplicates in `resources` are requested once.
  TokenPrefetch(azure::TokenProvider& inner, std::vector<std::string> resources);
  ~TokenPrefetch() override;
  TokenPrefetch(const TokenPrefetch&) = delete;
  TokenPrefetch& operator=(const TokenPrefetch&) = delete;

  StatusOr<azure::AccessToken> token(const std::string& resource) override;
  std::string describe() const override { return inner_.describe(); }
  // Drops the prefetched answers too, then the inner provider's tokens.
  void invalidate() override;
  std::optional<std::chrono::system_clock::time_point> earliestExpiry() const override {
    return inner_.earliestExpiry();
  }

 private:
  void join();

  azure::TokenProvider& inner_;
  std::mutex mutex_;  // guards join and prefetched_ for callers (the thread writes before join)
  std::map<std::string, StatusOr<azure::AccessToken>> prefetched_;
  std::thread thread_;  // last: started after prefetched_ exists
};

}  // namespace skr::release
