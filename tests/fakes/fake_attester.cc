#include "tests/fakes/fake_attester.h"

#include <utility>

namespace skr::testing {

FakeAttester::FakeAttester(std::string endpoint) : endpoint_(std::move(endpoint)) {}

void FakeAttester::setToken(azure::MaaToken token) {
  setAnswer([token = std::move(token)](const Call&) -> StatusOr<azure::MaaToken> { return token; });
}

void FakeAttester::setError(Status error) {
  setAnswer([error = std::move(error)](const Call&) -> StatusOr<azure::MaaToken> { return error; });
}

void FakeAttester::setAnswer(Answer answer) {
  std::lock_guard<std::mutex> lock(mutex_);
  answer_ = std::move(answer);
}

std::vector<FakeAttester::Call> FakeAttester::calls() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return calls_;
}

StatusOr<azure::MaaToken> FakeAttester::attest(
    ByteView report, const snp::Collateral& collateral, const azure::TransferKey& transfer,
    const std::array<uint8_t, 64>& report_data, const std::optional<std::string>& nonce,
    std::optional<std::chrono::steady_clock::time_point> deadline) {
  Call call{Bytes(report.begin(), report.end()),
            collateral.source,
            azure::runtimeDataJson(transfer.public_jwk),
            report_data,
            nonce,
            deadline};
  Answer answer;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    calls_.push_back(call);
    answer = answer_;
  }
  // Outside the lock: an answer may advance a FakeClock or call back into the test.
  if (!answer) return failedPreconditionError("FakeAttester: no answer scripted");
  return answer(call);
}

}  // namespace skr::testing
