// FakeKeyReleaser: an azure::KeyReleaser that answers with a scripted key or Status and records
// every call, so release-flow tests need no AKV wire format, JWS signing or key wrapping.
// Thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/azure/key_releaser.h"

namespace skr::testing {

class FakeKeyReleaser : public azure::KeyReleaser {
 public:
  // What one release() call presented. (A test fake may keep the token: it is no credential.)
  struct Call {
    azure::VaultKeyRef key;
    std::string maa_token;
    std::string transfer_thumbprint;  // RFC 7638 thumbprint of the transfer key's public half
    std::optional<std::chrono::steady_clock::time_point> deadline;
  };
  // ReleasedKey is move-only, so answers are made per call.
  using Answer = std::function<StatusOr<azure::ReleasedKey>(const Call&)>;

  // Every later release() fails with `error` / returns answer(call). Until one is set, release()
  // fails with FailedPrecondition.
  void setError(Status error);
  void setAnswer(Answer answer);

  std::vector<Call> calls() const;

  StatusOr<azure::ReleasedKey> release(
      const azure::VaultKeyRef& key, std::string_view maa_token,
      const crypto::PrivateKey& transfer_key,
      std::optional<std::chrono::steady_clock::time_point> deadline) override;

 private:
  mutable std::mutex mutex_;
  Answer answer_;
  std::vector<Call> calls_;
};

}  // namespace skr::testing
