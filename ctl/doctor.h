// skrctl doctor (issue 16): a preflight of a deployment. Reads the configuration skr-init and
// skr-agent read, builds the same release services, and runs every check independently so one
// failure does not hide the others; a check that needs an earlier failed one is reported as
// skipped ("skipped: needs X"). Whether this identity may release a key is asked for real
// (attestation + release request): the vault's answer is verified and its key_hsm dropped, never
// unwrapped or written. No secret reaches a result: tokens stay in headers, key_hsm is discarded.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/status.h"
#include "common/json/json.h"
#include "ctl/cli.h"

namespace skr::ctl {

enum class CheckOutcome { Pass, Fail, Skip };

// One line of the report: "✓ check: detail", or "✗ check: detail" and "  fix: fix".
struct DoctorCheck {
  std::string check;
  CheckOutcome outcome = CheckOutcome::Pass;
  std::string detail;
  std::string fix;
  int code = kExitOk;  // the DESIGN §9 code of a failure
};

// The checks of one run, in order.
class DoctorReport {
 public:
  void pass(std::string check, std::string detail);
  void fail(std::string check, int code, std::string detail, std::string fix);
  // A check that could not run because `needs` failed: "skipped: needs <needs>".
  void skip(std::string check, const std::string& needs);
  // Moves the checks of `later` (computed early, printed here) to the end.
  void append(DoctorReport&& later);

  const std::vector<DoctorCheck>& checks() const { return results_; }
  // 0 when nothing failed, else the code of the first failure (skips do not count).
  int exitCode() const;
  // The human report (one line per check, a fix line under each one that did not pass).
  std::string text() const;
  // [{"check","ok","detail","fix"}] and a newline.
  std::string json() const;

 private:
  std::vector<DoctorCheck> results_;
};

struct DoctorOptions {
  std::optional<std::string> config_file;  // --config FILE
  std::optional<std::string> key;          // --key NAME: only this configured key
  // Environment lookup for the configuration (SKR_CONFIG_YAML, SKR_*); empty: ::getenv.
  std::function<std::optional<std::string>(const std::string&)> getenv;
};

// Runs every check against the real services of the configuration (network, SNP device, files).
// InvalidArgument only for a --key that is not configured (a usage error); every other problem is
// a failed check in the report.
StatusOr<DoctorReport> runDoctor(const DoctorOptions& options);

// ---- Pure parts (exposed for tests) ----

// Every value a release policy (the AKV wire object {"contentType","data","immutable"}) compares
// x-ms-sevsnpvm-hostdata `equals` to, at any depth of anyOf/allOf. Empty when it does not
// constrain the claim. InvalidArgument for a policy that does not parse.
StatusOr<std::vector<std::string>> policyHostData(const json::ObjectPtr& release_policy);

// Local time minus the server's from an HTTP Date header (IMF-fixdate and the obsolete forms);
// positive when the local clock is ahead. nullopt when absent, unparsable or a day or more off.
std::optional<std::chrono::seconds> clockSkewFromDate(std::string_view date,
                                                      std::chrono::system_clock::time_point now);

// The socket directory check of skr-agent's start-up for the directory of `socket_path`; a
// missing directory passes when its parent exists and this user may create it there.
Status checkSocketDirectoryOf(const std::string& socket_path);

}  // namespace skr::ctl
