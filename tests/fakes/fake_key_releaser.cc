#include "tests/fakes/fake_key_releaser.h"

#include <utility>

#include "common/jose/jwk.h"

namespace skr::testing {

void FakeKeyReleaser::setError(Status error) {
  setAnswer(
      [error = std::move(error)](const Call&) -> StatusOr<azure::ReleasedKey> { return error; });
}

void FakeKeyReleaser::setAnswer(Answer answer) {
  std::lock_guard<std::mutex> lock(mutex_);
  answer_ = std::move(answer);
}

std::vector<FakeKeyReleaser::Call> FakeKeyReleaser::calls() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return calls_;
}

StatusOr<azure::ReleasedKey> FakeKeyReleaser::release(
    const azure::VaultKeyRef& key, std::string_view maa_token,
    const crypto::PrivateKey& transfer_key,
    std::optional<std::chrono::steady_clock::time_point> deadline) {
  Call call{key, std::string(maa_token),
            jose::Jwk::fromPublicKey(transfer_key.publicKey()).thumbprint(), deadline};
  Answer answer;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    calls_.push_back(call);
    answer = answer_;
  }
  // Outside the lock: an answer may advance a FakeClock or call back into the test.
  if (!answer) return failedPreconditionError("FakeKeyReleaser: no answer scripted");
  return answer(call);
}

}  // namespace skr::testing
