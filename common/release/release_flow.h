// The release flow (DESIGN.md §3), one reusable component for skr-init, the agent's start-up and
// rotation, and the sidecar-compatible API: transfer key -> REPORT_DATA -> SNP report -> collateral
// -> MAA token (verified) -> [identity token] -> AKV release (verified) -> unwrapped key.
// Every failure names its Step and host, and maps to an exit code of DESIGN.md §9.
// Progress: one ProgressEvent per finished step (success or failure), for JSON-lines output.
#pragma once

#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <variant>

#include "common/azure/attester.h"
#include "common/azure/key_releaser.h"
#include "common/azure/maa_token.h"
#include "common/azure/released_key.h"
#include "common/azure/transfer_key.h"
#include "common/core/bytes.h"
#include "common/core/clock.h"
#include "common/core/status.h"
#include "common/log/logger.h"
#include "common/snp/collateral.h"
#include "common/snp/snp_device.h"

namespace skr::release {

enum class Step { TransferKey, Report, Collateral, Attest, Release, Seal, Write, Data };
// "transfer-key", "report", "collateral", "maa", "release", "seal", "write", "data" (fetching and
// opening an encrypted object of config data[]).
std::string_view stepName(Step step);

// DESIGN.md §9 exit codes.
enum class ExitCode : int {
  Ok = 0,
  Usage = 2,          // usage / config
  Platform = 3,       // no device, ioctl
  Attestation = 4,    // attestation rejected
  Identity = 5,       // no token from IMDS / Entra / file
  ReleaseDenied = 6,  // AKV 401/403
  KeyNotFound = 7,
  Unavailable = 8,  // retries / deadline exhausted
  Integrity = 9,    // signature, chain, unwrap
  Output = 10,      // state dir, sealing
};

// A failed step: which, against which host ("" for local steps), and why.
struct StepFailure {
  Step step;
  std::string host;
  Status status;
};
// The exit code for a failure (DESIGN.md §9):
//   Unavailable / DeadlineExceeded anywhere a dependency is called -> Unavailable (8);
//   transfer-key, report -> Platform; collateral -> Platform;
//   maa: DataLoss -> Integrity, else -> Attestation;
//   release: ErrorCause::Identity (the token provider failed) -> Identity,
//     Unauthenticated / PermissionDenied -> ReleaseDenied,
//     NotFound -> KeyNotFound, DataLoss / InvalidArgument -> Integrity;
//   seal, write -> Output.
ExitCode exitCodeFor(const StepFailure& failure);

template <typename T>
using StepResult = std::variant<T, StepFailure>;

struct ProgressEvent {
  Step step;
  std::string key;   // key name ("" for attestation steps shared by all keys)
  std::string host;  // dependency host[:port] ("" for local steps)
  std::chrono::milliseconds duration{0};
  int attempts = 1;
  Status status;  // OK or the failure
};
using ProgressSink = std::function<void(const ProgressEvent&)>;

// Writes one log line (event "step") for a finished step: info when it succeeded, else
// `failure_level` with the status code and message (skr-init: error, its run ends; skr-agent:
// warning, it retries).
void logProgress(const ProgressEvent& event, log::Level failure_level);

// What one attestation produced; reusable for several keys while the token is valid.
struct Attestation {
  azure::TransferKey transfer;
  std::string runtime_data;
  std::array<uint8_t, 64> report_data{};
  Bytes report;
  std::string platform;  // SnpDevice::name()
  azure::MaaToken maa;
};

// Generates a transfer key (or returns it) as TransferKey::generate does; a seam for tests.
using TransferKeyGenerator = std::function<StatusOr<azure::TransferKey>(int bits)>;

// A transfer key generated on a thread of its own, started by the constructor: the largest cost
// of an attestation, run while the caller fetches what does not depend on the key (collateral,
// access tokens). take() joins; the destructor joins too, so the thread never outlives this
// object. The key moves from the thread to the caller and is never copied.
class TransferKeyGeneration {
 public:
  // `generator` empty: TransferKey::generate. `clock` outlives this object.
  TransferKeyGeneration(int bits, Clock& clock, TransferKeyGenerator generator = {});
  ~TransferKeyGeneration();
  TransferKeyGeneration(const TransferKeyGeneration&) = delete;
  TransferKeyGeneration& operator=(const TransferKeyGeneration&) = delete;

  // Waits for the key; once only (later calls: FailedPrecondition).
  StatusOr<azure::TransferKey> take();
  // How long the generation itself took (valid after take()).
  std::chrono::milliseconds duration() const { return duration_; }

 private:
  StatusOr<azure::TransferKey> result_;
  std::chrono::milliseconds duration_{0};
  bool taken_ = false;
  std::thread thread_;  // last: started after the members it writes exist
};

class ReleaseFlow {
 public:
  struct Options {
    int transfer_key_bits = 2048;
    uint32_t vmpl = 0;
    std::optional<std::string> maa_nonce;
    TransferKeyGenerator generate_transfer_key;  // empty: TransferKey::generate
  };
  // Everything is borrowed and must outlive the flow; `vault` may be null (attest-and-defer: no
  // identity, attest() only). Production passes MaaClient and KeyVaultClient.
  ReleaseFlow(const snp::SnpDevice& device, snp::CollateralProvider& collateral,
              azure::Attester& maa, azure::KeyReleaser* vault, Clock& clock, Options options,
              ProgressSink progress = {});

  // transfer-key, report, collateral, maa. `deadline` bounds every network step. The transfer key
  // is generated on its own thread while the collateral sources that need no report (security
  // context, THIM) are read; steps are still reported in this order, and a failure is the one
  // the steps in this order meet first.
  StepResult<Attestation> attest(
      std::optional<std::chrono::steady_clock::time_point> deadline = {});
  // Same, with a generation the caller started earlier (skr-init starts it before it builds its
  // services); it is taken (joined) here.
  StepResult<Attestation> attest(
      TransferKeyGeneration& generation,
      std::optional<std::chrono::steady_clock::time_point> deadline = {});
  // Same, with a given transfer key (completing a pending bundle: re-attest with its key).
  StepResult<Attestation> attestWith(
      azure::TransferKey transfer,
      std::optional<std::chrono::steady_clock::time_point> deadline = {});
  // release (identity token + AKV release + unwrap + material check) of one key.
  StepResult<azure::ReleasedKey> release(
      const Attestation& attestation, const azure::VaultKeyRef& key,
      std::optional<std::chrono::steady_clock::time_point> deadline = {});

 private:
  StepResult<Attestation> attestWith(azure::TransferKey transfer,
                                     std::optional<std::chrono::steady_clock::time_point> deadline,
                                     snp::CollateralProvider::Prefetched prefetched,
                                     std::chrono::steady_clock::duration prefetch_time);
  void report(const ProgressEvent& event);
  const snp::SnpDevice& device_;
  snp::CollateralProvider& collateral_;
  azure::Attester& maa_;
  azure::KeyReleaser* vault_;
  Clock& clock_;
  Options options_;
  ProgressSink progress_;
};

}  // namespace skr::release
