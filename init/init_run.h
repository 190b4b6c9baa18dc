// One run of skr-init (DESIGN.md §3, §9): attest once, then per configured key release, seal and
// write the bundle — or, when the identity kind is `none` (ACI init containers have no managed
// identity), write a *pending* bundle per key for the agent to complete (attest-and-defer).
// All releases and seals happen in memory first; files are written only when every key
// succeeded, so a failure leaves the state directory as it was (a write failure removes what this
// run wrote). Progress: one JSON line per finished step on the log sink.
// Concurrency: the transfer key is generated on its own thread while the state directory and the
// sealing key are checked and the collateral is fetched, and the vaults' access tokens are
// requested on another while the attestation runs; both threads are joined before runInit
// returns, and failures are reported in the order of the sequential steps.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "common/config/config.h"
#include "common/core/clock.h"
#include "common/http/retry.h"
#include "common/release/release_flow.h"
#include "common/release/release_services.h"
#include "common/seal/state_dir.h"

namespace skr::init {

struct InitRunOptions {
  bool dry_run = false;  // attest and verify; check the state dir and the seal; write nothing
  std::optional<std::chrono::steady_clock::time_point> deadline;
  // Test seam for the state directory's writer (StateDirOptions::on_write_step).
  std::function<Status(seal::WriteStep, std::string_view)> on_write_step;
  // The transfer key, already being generated (runSkrInit starts it before it builds the
  // services); null: runInit starts the generation itself, first thing.
  release::TransferKeyGeneration* transfer_key = nullptr;
};

struct InitOutcome {
  release::ExitCode code = release::ExitCode::Ok;
  std::string step;     // the failed step ("" on success)
  std::string key;      // the key involved, if any
  std::string host;     // the host involved, if any
  std::string message;  // what failed (or what was done)
  std::string hint;     // the likely fix ("" on success)
};

// Runs the whole job. Services must have been built from the same config.
InitOutcome runInit(const config::Config& config, release::ReleaseServices& services, Clock& clock,
                    http::JitterSource& jitter, const InitRunOptions& options);

// The likely fix for a failure of `code` at `step` (one sentence), for the final line.
std::string hintFor(release::ExitCode code, std::string_view step, const Status& status);

// Writes one progress line (event "step") for a finished step.
void logProgress(const release::ProgressEvent& event);

}  // namespace skr::init
