// Gets every configured key into the keyring and keeps it current (DESIGN.md §3, §5, §7):
//  - start-up: load the sealed bundles; complete a pending bundle (attest-and-defer) with the
//    agent's identity, reusing its MAA token while it is valid for > 60 s; release a key that has
//    no valid bundle per `release_on_start` (if-missing, always, never);
//  - rotation: release the latest (or a named) version, seal, write, make it primary, bump
//    {key}/generation, publish an event; a failure changes nothing but the key's last_error;
//  - scheduled checks: a versionless release; a new kid version means rotated.
// Every release is sealed and written (tmp + fsync + rename) before the keyring serves it.
// Failures name the step and host, go to the log, the key's last_error (GET /status) and the
// skr_releases_total metric. Thread-safe: one release runs at a time (an internal mutex).
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "agent/events.h"
#include "agent/keyring.h"
#include "agent/metrics.h"
#include "agent/release_backend.h"
#include "common/config/config.h"
#include "common/core/clock.h"
#include "common/http/retry.h"
#include "common/seal/sealing_key.h"
#include "common/seal/state_dir.h"

namespace skr::agent {

struct ProvisionerOptions {
  config::ReleaseOnStart release_on_start = config::ReleaseOnStart::IfMissing;
  // A pending bundle's MAA token is reused while it is valid for longer than this.
  std::chrono::seconds pending_token_min_validity{60};
  // A cached attestation is reused for rotation while its MAA token is valid for longer than this.
  std::chrono::seconds cached_token_min_validity{300};
};

class KeyProvisioner {
 public:
  // Everything is borrowed and must outlive the provisioner (`metrics` may be null).
  KeyProvisioner(const config::Config& config, ReleaseBackend& backend,
                 const seal::SealingKeyProvider& sealing, seal::StateDir& state_dir,
                 std::shared_ptr<Keyring> keyring, std::shared_ptr<EventLog> events, Clock& clock,
                 AgentMetrics* metrics, ProvisionerOptions options);

  // Loads every bundle of the state dir into the keyring; each file that does not load is
  // logged and becomes the key's last_error. Fails only when the state dir cannot be listed.
  Status loadBundles();

  // One start-up pass over the configured keys whose start-up is not done yet: complete a
  // pending bundle, release per release_on_start. Returns true when every configured key has a
  // primary version (call again, with backoff, until it does).
  bool provision();
  // Every configured key has a primary version.
  bool allReady() const;
  // The expiry of the cached attestation's MAA token (none cached: nullopt). Never waits for a
  // release in progress (for metrics).
  std::optional<SystemTime> cachedMaaExpiry() const;

  // Releases `version` (or the latest) of a configured key and makes it primary. Returns the
  // primary kid. An unchanged version (the latest is already primary) changes nothing.
  // NotFound for a key that is not configured; the release's status otherwise (Unavailable for a
  // dependency that did not answer).
  StatusOr<std::string> rotate(const std::string& name, const std::optional<std::string>& version);
  // A scheduled check of one key: a versionless release; when its version differs from the
  // primary, it is written and made primary. Returns whether the key rotated.
  StatusOr<bool> checkForNewVersion(const std::string& name);

 private:
  struct Committed {
    std::string kid;
    std::string version;
    bool changed = false;
  };
  const config::KeyConfig* keyConfig(const std::string& name) const;
  // A cached attestation valid for > min_validity, else a fresh one (then cached).
  release::StepResult<std::shared_ptr<const release::Attestation>> attestation(
      std::chrono::seconds min_validity);
  // Releases and commits; `reason` labels metrics and logs. mutex_ held.
  StatusOr<Committed> releaseAndCommit(const config::KeyConfig& key, const std::string& version,
                                       std::string_view reason, bool only_if_new);
  // Completes {key}/pending.json; NotFound when there is none. mutex_ held.
  StatusOr<Committed> completePending(const config::KeyConfig& key);
  // Seals, writes, sets current, adds to the keyring, bumps generation, publishes. mutex_ held.
  StatusOr<Committed> commit(const config::KeyConfig& key, const release::Attestation& attestation,
                             azure::ReleasedKey released, std::string_view reason);
  Status failure(const config::KeyConfig& key, std::string_view reason,
                 const release::StepFailure& failed);
  // Removes an unusable {name}/pending.json once the key is served by a committed bundle, so it
  // is not tried (and reported) again on every start; logs why. mutex_ held.
  void discardPending(const std::string& name, const Status& why);
  Status localFailure(const config::KeyConfig& key, std::string_view reason, std::string_view step,
                      const Status& status);

  const config::Config& config_;
  ReleaseBackend& backend_;
  const seal::SealingKeyProvider& sealing_;
  seal::StateDir& state_dir_;
  std::shared_ptr<Keyring> keyring_;
  std::shared_ptr<EventLog> events_;
  Clock& clock_;
  AgentMetrics* metrics_;
  ProvisionerOptions options_;

  std::mutex mutex_;
  std::set<std::string> started_;  // keys whose start-up step succeeded
  std::shared_ptr<const release::Attestation> cached_;
  mutable std::mutex expiry_mutex_;  // guards cached_expiry_ (mutex_ is held during releases)
  std::optional<SystemTime> cached_expiry_;
};

// The delay before the next scheduled check: interval ± jitter, uniform (`unit` in [0, 1) from a
// JitterSource), never below 1 s.
std::chrono::milliseconds scheduledDelay(std::chrono::seconds interval, std::chrono::seconds jitter,
                                         double unit);

}  // namespace skr::agent
