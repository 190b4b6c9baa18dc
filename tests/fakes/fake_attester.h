// FakeAttester: an azure::Attester that answers with a scripted token or Status and records every
// call, so release-flow tests need no MAA wire format, signing key or emulated MAA. Thread-safe.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/azure/attester.h"

namespace skr::testing {

class FakeAttester : public azure::Attester {
 public:
  // What one attest() call presented.
  struct Call {
    Bytes report;
    std::string collateral_source;  // snp::Collateral::source
    std::string runtime_data;       // runtimeDataJson() of the transfer key
    std::array<uint8_t, 64> report_data{};
    std::optional<std::string> nonce;
    std::optional<std::chrono::steady_clock::time_point> deadline;
  };
  using Answer = std::function<StatusOr<azure::MaaToken>(const Call&)>;

  explicit FakeAttester(std::string endpoint = "https://maa.test");

  // Every later attest() returns a copy of `token` / fails with `error` / returns answer(call).
  // Until one is set, attest() fails with FailedPrecondition.
  void setToken(azure::MaaToken token);
  void setError(Status error);
  void setAnswer(Answer answer);

  std::vector<Call> calls() const;

  StatusOr<azure::MaaToken> attest(
      ByteView report, const snp::Collateral& collateral, const azure::TransferKey& transfer,
      const std::array<uint8_t, 64>& report_data, const std::optional<std::string>& nonce,
      std::optional<std::chrono::steady_clock::time_point> deadline) override;
  const std::string& endpoint() const override { return endpoint_; }

 private:
  const std::string endpoint_;
  mutable std::mutex mutex_;
  Answer answer_;
  std::vector<Call> calls_;
};

}  // namespace skr::testing
