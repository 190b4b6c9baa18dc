#include "common/release/release_flow.h"

#include <algorithm>
#include <cctype>

#include "common/http/http_transport.h"
#include "common/http/url.h"
#include "common/snp/report.h"

namespace skr::release {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

// Tokens this close to expiry are not presented to AKV: the caller re-attests.
constexpr std::chrono::seconds kMinTokenValidity{60};

// The remote host a collateral source names ("thim:<url>", "kds:<url>"); "" for local files.
std::string collateralHost(std::string_view source) {
  if (source.rfind("security-context:", 0) == 0) return "";
  const std::size_t colon = source.find(':');
  return colon == std::string_view::npos
             ? ""
             : std::string(http::urlAuthority(source.substr(colon + 1)));
}

// Where a failure happened and how many requests it took: `host` when the step names one, else
// the host its details name (a collateral source); one attempt when none were counted.
std::string failureHost(const Status& status, std::string host) {
  return host.empty() ? status.details().host : host;
}
int failureAttempts(const Status& status) {
  return std::max(status.details().attempts, 1);
}

std::string hexLower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

std::string_view stepName(Step step) {
  switch (step) {
    case Step::TransferKey: return "transfer-key";
    case Step::Report: return "report";
    case Step::Collateral: return "collateral";
    case Step::Attest: return "maa";
    case Step::Release: return "release";
    case Step::Seal: return "seal";
    case Step::Write: return "write";
    case Step::Data: return "data";
  }
  return "unknown";
}

ExitCode exitCodeFor(const StepFailure& failure) {
  const StatusCode code = failure.status.code();
  if (code == StatusCode::Ok) return ExitCode::Ok;
  switch (failure.step) {
    case Step::TransferKey:
    case Step::Report: return ExitCode::Platform;
    case Step::Seal:
    case Step::Write: return ExitCode::Output;
    default: break;
  }
  // Remaining steps call a dependency.
  if (code == StatusCode::Unavailable || code == StatusCode::DeadlineExceeded) {
    return ExitCode::Unavailable;
  }
  switch (failure.step) {
    case Step::Collateral: return ExitCode::Platform;
    case Step::Data:
      // Blob Storage and the object: the token provider failed, storage refused (401/403),
      // the blob or the key version is missing, or the object does not authenticate.
      if (failure.status.details().cause == ErrorCause::Identity) return ExitCode::Identity;
      switch (code) {
        case StatusCode::Unauthenticated:
        case StatusCode::PermissionDenied: return ExitCode::ReleaseDenied;
        case StatusCode::NotFound: return ExitCode::KeyNotFound;
        case StatusCode::FailedPrecondition: return ExitCode::Unavailable;  // changed while read
        case StatusCode::ResourceExhausted:
        case StatusCode::Internal: return ExitCode::Output;
        default: return ExitCode::Integrity;  // DataLoss, InvalidArgument: corrupt or malformed
      }
    case Step::Attest:
      return code == StatusCode::DataLoss ? ExitCode::Integrity : ExitCode::Attestation;
    case Step::Release:
      // The token provider failed (whatever its code): no credential, not a refusal.
      if (failure.status.details().cause == ErrorCause::Identity) return ExitCode::Identity;
      switch (code) {
        case StatusCode::Unauthenticated:
        case StatusCode::PermissionDenied: return ExitCode::ReleaseDenied;
        case StatusCode::NotFound: return ExitCode::KeyNotFound;
        case StatusCode::FailedPrecondition: return ExitCode::Usage;  // no vault configured
        default: return ExitCode::Integrity;  // DataLoss, InvalidArgument, malformed answers
      }
    default: return ExitCode::Integrity;
  }
}

ReleaseFlow::ReleaseFlow(const snp::SnpDevice& device, snp::CollateralProvider& collateral,
                         azure::Attester& maa, azure::KeyReleaser* vault, Clock& clock,
                         Options options, ProgressSink progress)
    : device_(device),
      collateral_(collateral),
      maa_(maa),
      vault_(vault),
      clock_(clock),
      options_(std::move(options)),
      progress_(std::move(progress)) {}

void ReleaseFlow::report(const ProgressEvent& event) {
  if (progress_) progress_(event);
}

TransferKeyGeneration::TransferKeyGeneration(int bits, Clock& clock, TransferKeyGenerator generator)
    : result_(internalError("transfer key: not generated")),
      thread_([this, bits, &clock, generator = std::move(generator)] {
        const auto started = clock.steadyNow();
        result_ = generator ? generator(bits) : azure::TransferKey::generate(bits);
        duration_ = std::chrono::duration_cast<milliseconds>(clock.steadyNow() - started);
      }) {}

TransferKeyGeneration::~TransferKeyGeneration() {
  if (thread_.joinable()) thread_.join();
}

StatusOr<azure::TransferKey> TransferKeyGeneration::take() {
  if (thread_.joinable()) thread_.join();
  if (taken_) return failedPreconditionError("transfer key: already taken");
  taken_ = true;
  return std::move(result_);
}

StepResult<Attestation> ReleaseFlow::attest(std::optional<steady_clock::time_point> deadline) {
  TransferKeyGeneration generation(options_.transfer_key_bits, clock_,
                                   options_.generate_transfer_key);
  return attest(generation, deadline);
}

StepResult<Attestation> ReleaseFlow::attest(TransferKeyGeneration& generation,
                                            std::optional<steady_clock::time_point> deadline) {
  // Meanwhile: the collateral that needs no report. Its failures wait for the collateral step.
  const auto prefetch_started = clock_.steadyNow();
  snp::CollateralProvider::Prefetched prefetched = collateral_.prefetch();
  const auto prefetch_time = clock_.steadyNow() - prefetch_started;
  StatusOr<azure::TransferKey> transfer = generation.take();
  report({Step::TransferKey, "", "", generation.duration(), 1, transfer.status()});
  if (!transfer.ok()) return StepFailure{Step::TransferKey, "", transfer.status()};
  return attestWith(std::move(transfer).value(), deadline, std::move(prefetched), prefetch_time);
}

StepResult<Attestation> ReleaseFlow::attestWith(azure::TransferKey transfer,
                                                std::optional<steady_clock::time_point> deadline) {
  return attestWith(std::move(transfer), deadline, snp::CollateralProvider::Prefetched{},
                    steady_clock::duration::zero());
}

StepResult<Attestation> ReleaseFlow::attestWith(azure::TransferKey transfer,
                                                std::optional<steady_clock::time_point> deadline,
                                                snp::CollateralProvider::Prefetched prefetched,
                                                steady_clock::duration prefetch_time) {
  Attestation out{std::move(transfer), {}, {}, {}, std::string(device_.name()), {}};
  out.runtime_data = azure::runtimeDataJson(out.transfer.public_jwk);
  out.report_data = azure::reportDataFor(out.runtime_data);

  auto fail = [&](Step step, std::string host, auto started, const Status& status) {
    const auto duration = std::chrono::duration_cast<milliseconds>(clock_.steadyNow() - started);
    host = failureHost(status, std::move(host));
    report({step, "", host, duration, failureAttempts(status), status});
    return StepFailure{step, std::move(host), status};
  };
  auto succeed = [&](Step step, const std::string& host, auto started, int attempts) {
    const auto duration = std::chrono::duration_cast<milliseconds>(clock_.steadyNow() - started);
    report({step, "", host, duration, attempts, okStatus()});
  };

  auto started = clock_.steadyNow();
  StatusOr<Bytes> raw = device_.getReport(out.report_data, options_.vmpl);
  if (!raw.ok()) {
    return fail(Step::Report, "", started,
                raw.status().withContext("SNP report from " + out.platform));
  }
  StatusOr<snp::SnpReport> parsed = snp::SnpReport::parse(*raw);
  if (!parsed.ok()) {
    return fail(Step::Report, "", started,
                parsed.status().withContext("SNP report from " + out.platform));
  }
  out.report = std::move(raw).value();
  succeed(Step::Report, "", started, 1);

  // The collateral step's time includes the part fetched while the transfer key was generated.
  started = clock_.steadyNow() - prefetch_time;
  StatusOr<snp::Collateral> collateral = collateral_.fetch(*parsed, std::move(prefetched));
  if (!collateral.ok()) {
    return fail(Step::Collateral, "", started, collateral.status());
  }
  succeed(Step::Collateral, collateralHost(collateral->source), started, 1);

  const std::string maa_host = std::string(http::urlAuthority(maa_.endpoint()));
  started = clock_.steadyNow();
  StatusOr<azure::MaaToken> token = maa_.attest(out.report, *collateral, out.transfer,
                                                out.report_data, options_.maa_nonce, deadline);
  if (!token.ok()) return fail(Step::Attest, maa_host, started, token.status());
  out.maa = std::move(token).value();
  succeed(Step::Attest, maa_host, started, out.maa.attempts);
  return out;
}

StepResult<azure::ReleasedKey> ReleaseFlow::release(
    const Attestation& attestation, const azure::VaultKeyRef& key,
    std::optional<steady_clock::time_point> deadline) {
  const std::string vault_host = std::string(http::urlAuthority(key.vault_url));
  const auto started = clock_.steadyNow();
  auto fail = [&](Step step, std::string host, const Status& status) {
    const auto duration = std::chrono::duration_cast<milliseconds>(clock_.steadyNow() - started);
    host = failureHost(status, std::move(host));
    report({step, key.name, host, duration, failureAttempts(status), status});
    return StepFailure{step, std::move(host), status};
  };
  if (vault_ == nullptr) {
    return fail(Step::Release, vault_host,
                failedPreconditionError("release key '" + key.name +
                                        "': no Key Vault client (attest-and-defer mode)"));
  }
  if (attestation.maa.expires_at - clock_.now() < kMinTokenValidity) {
    const auto left =
        std::chrono::duration_cast<std::chrono::seconds>(attestation.maa.expires_at - clock_.now());
    return fail(
        Step::Attest, std::string(http::urlAuthority(maa_.endpoint())),
        failedPreconditionError("MAA token expires in " + std::to_string(left.count()) +
                                " s (less than " + std::to_string(kMinTokenValidity.count()) +
                                " s): attest again before releasing key '" + key.name + "'"));
  }
  StatusOr<azure::ReleasedKey> released =
      vault_->release(key, attestation.maa.token, attestation.transfer.private_key, deadline);
  if (!released.ok()) {
    Status status = released.status();
    if (status.code() == StatusCode::PermissionDenied && !attestation.maa.hostdata.empty()) {
      status = Status(status.code(),
                      status.message() + "; this platform's x-ms-sevsnpvm-hostdata is " +
                          hexLower(attestation.maa.hostdata) +
                          "; the key's release policy must require it (skrctl hostdata / az "
                          "confcom)")
                   .withDetails(status.details());
    }
    return fail(Step::Release, vault_host, status);
  }
  const auto duration = std::chrono::duration_cast<milliseconds>(clock_.steadyNow() - started);
  report({Step::Release, key.name, vault_host, duration, released->attempts, okStatus()});
  return std::move(released).value();
}

void logProgress(const ProgressEvent& event, log::Level failure_level) {
  const bool ok = event.status.ok();
  const std::string status = ok ? "ok" : std::string(statusCodeName(event.status.code()));
  const auto duration_ms = static_cast<int64_t>(event.duration.count());
  if (ok) {
    log::info("step", {{"step", stepName(event.step)},
                       {"key", event.key},
                       {"host", event.host},
                       {"duration_ms", duration_ms},
                       {"attempts", event.attempts},
                       {"status", status}});
    return;
  }
  log::write(failure_level, "step",
             {{"step", stepName(event.step)},
              {"key", event.key},
              {"host", event.host},
              {"duration_ms", duration_ms},
              {"attempts", event.attempts},
              {"status", status},
              {"message", event.status.message()}});
}

}  // namespace skr::release
