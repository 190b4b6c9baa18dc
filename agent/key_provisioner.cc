#include "agent/key_provisioner.h"

#include <algorithm>
#include <utility>
#include <variant>

#include "common/crypto/pkey.h"
#include "common/log/logger.h"
#include "common/release/released_bundle.h"
#include "common/seal/bundle.h"

namespace skr::agent {
namespace {

std::string describeFailure(const release::StepFailure& failed) {
  std::string text(release::stepName(failed.step));
  if (!failed.host.empty()) text += " (" + failed.host + ")";
  return text + ": " + failed.status.toString();
}

}  // namespace

std::chrono::milliseconds scheduledDelay(std::chrono::seconds interval, std::chrono::seconds jitter,
                                         double unit) {
  using std::chrono::milliseconds;
  const double clamped = std::clamp(unit, 0.0, 1.0);
  const auto spread = std::chrono::duration_cast<milliseconds>(jitter).count();
  const auto offset = static_cast<int64_t>((clamped * 2.0 - 1.0) * static_cast<double>(spread));
  const int64_t total = std::chrono::duration_cast<milliseconds>(interval).count() + offset;
  return milliseconds(std::max<int64_t>(total, 1000));
}

KeyProvisioner::KeyProvisioner(const config::Config& config, ReleaseBackend& backend,
                               const seal::SealingKeyProvider& sealing, seal::StateDir& state_dir,
                               std::shared_ptr<Keyring> keyring, std::shared_ptr<EventLog> events,
                               Clock& clock, AgentMetrics* metrics, ProvisionerOptions options)
    : config_(config),
      backend_(backend),
      sealing_(sealing),
      state_dir_(state_dir),
      keyring_(std::move(keyring)),
      events_(std::move(events)),
      clock_(clock),
      metrics_(metrics),
      options_(options) {}

const config::KeyConfig* KeyProvisioner::keyConfig(const std::string& name) const {
  for (const config::KeyConfig& key : config_.keys) {
    if (key.name == name) return &key;
  }
  return nullptr;
}

Status KeyProvisioner::loadBundles() {
  std::lock_guard lock(mutex_);
  seal::OpenOptions open;
  open.emulated = config_.emulated();
  SKR_ASSIGN_OR_RETURN(std::vector<KeyLoadResult> results,
                       keyring_->loadFromStateDir(state_dir_, sealing_, open));
  for (const KeyLoadResult& result : results) {
    for (const FileLoadError& error : result.errors) {
      // A key without `current` yet (only a pending bundle) is not worth a warning.
      if (error.status.code() == StatusCode::NotFound && result.loaded_versions.empty()) continue;
      log::warning("bundle_rejected", {{"key", result.name},
                                       {"file", error.file},
                                       {"status", statusCodeName(error.status.code())},
                                       {"message", error.status.message()}});
    }
    log::info("bundles_loaded", {{"key", result.name},
                                 {"versions", static_cast<int64_t>(result.loaded_versions.size())},
                                 {"primary", result.primary}});
  }
  return okStatus();
}

bool KeyProvisioner::allReady() const {
  for (const config::KeyConfig& key : config_.keys) {
    std::shared_ptr<const KeyEntry> entry = keyring_->entry(key.name);
    if (entry == nullptr || entry->primaryVersion() == nullptr) return false;
  }
  return true;
}

bool KeyProvisioner::provision() {
  std::lock_guard lock(mutex_);
  for (const config::KeyConfig& key : config_.keys) {
    if (started_.count(key.name) != 0) continue;
    StatusOr<std::string> pending = state_dir_.readPending(key.name, seal::kMaxBundleBytes);
    Status unusable_pending = okStatus();
    if (!pending.ok() && pending.status().code() != StatusCode::NotFound) {
      // Unreadable (a symlink, not a regular file, too large, no permission): never trusted.
      unusable_pending = pending.status().withContext("pending.json");
      log::warning("pending_unreadable", {{"key", key.name},
                                          {"status", statusCodeName(unusable_pending.code())},
                                          {"message", unusable_pending.message()}});
    } else if (pending.ok()) {
      StatusOr<Committed> completed = completePending(key);
      if (completed.ok()) {
        started_.insert(key.name);
        continue;
      }
      // An unusable pending bundle (unreadable, tampered, another key's, sealed for another
      // mode) falls through to release_on_start below; a failed release (network, identity) is
      // retried on the next pass.
      if (completed.status().code() != StatusCode::DataLoss &&
          completed.status().code() != StatusCode::FailedPrecondition &&
          completed.status().code() != StatusCode::InvalidArgument) {
        continue;
      }
      unusable_pending = completed.status();
    }
    std::shared_ptr<const KeyEntry> entry = keyring_->entry(key.name);
    const bool has_primary = entry != nullptr && entry->primaryVersion() != nullptr;
    const auto policy = options_.release_on_start;
    if (policy == config::ReleaseOnStart::Never ||
        (has_primary && policy == config::ReleaseOnStart::IfMissing)) {
      if (has_primary) {
        started_.insert(key.name);
        if (!unusable_pending.ok()) discardPending(key.name, unusable_pending);
      } else {
        const std::string previous = entry != nullptr ? entry->last_error : std::string();
        keyring_->setLastError(
            key.name,
            "no valid bundle and release_on_start is never" +
                (previous.empty() || previous.find("release_on_start") != std::string::npos
                     ? std::string()
                     : " (" + previous + ")"));
      }
      continue;
    }
    StatusOr<Committed> released = releaseAndCommit(key, key.version, "start", false);
    if (released.ok()) started_.insert(key.name);
    if (released.ok() && !unusable_pending.ok()) discardPending(key.name, unusable_pending);
  }
  return allReady();
}

void KeyProvisioner::discardPending(const std::string& name, const Status& why) {
  Status removed = state_dir_.removePending(name);
  if (!removed.ok() && removed.code() != StatusCode::NotFound) {
    log::warning("pending_not_removed", {{"key", name}, {"message", removed.message()}});
    return;
  }
  log::warning("pending_discarded",
               {{"key", name},
                {"status", statusCodeName(why.code())},
                {"message",
                 "the key is served by a committed bundle; the unusable pending.json "
                 "was removed: " +
                     why.message()}});
}

release::StepResult<std::shared_ptr<const release::Attestation>> KeyProvisioner::attestation(
    std::chrono::seconds min_validity) {
  if (cached_ != nullptr && cached_->maa.expires_at - clock_.now() > min_validity) return cached_;
  release::StepResult<release::Attestation> fresh = backend_.attest();
  if (auto* failed = std::get_if<release::StepFailure>(&fresh)) return *failed;
  cached_ = std::make_shared<const release::Attestation>(
      std::move(std::get<release::Attestation>(fresh)));
  {
    std::lock_guard expiry_lock(expiry_mutex_);
    cached_expiry_ = cached_->maa.expires_at;
  }
  return cached_;
}

std::optional<SystemTime> KeyProvisioner::cachedMaaExpiry() const {
  std::lock_guard lock(expiry_mutex_);
  return cached_expiry_;
}

StatusOr<KeyProvisioner::Committed> KeyProvisioner::releaseAndCommit(const config::KeyConfig& key,
                                                                     const std::string& version,
                                                                     std::string_view reason,
                                                                     bool only_if_new) {
  auto attested = attestation(options_.cached_token_min_validity);
  if (auto* failed = std::get_if<release::StepFailure>(&attested)) {
    return failure(key, reason, *failed);
  }
  const auto& attestation = std::get<std::shared_ptr<const release::Attestation>>(attested);
  release::StepResult<azure::ReleasedKey> released = backend_.release(*attestation, key, version);
  if (auto* failed = std::get_if<release::StepFailure>(&released)) {
    // A token the vault no longer accepts is not kept for the next try.
    if (failed->step == release::Step::Attest) {
      cached_.reset();
      std::lock_guard expiry_lock(expiry_mutex_);
      cached_expiry_.reset();
    }
    return failure(key, reason, *failed);
  }
  azure::ReleasedKey& key_released = std::get<azure::ReleasedKey>(released);
  if (only_if_new) {
    std::shared_ptr<const KeyEntry> entry = keyring_->entry(key.name);
    if (entry != nullptr && entry->primary == key_released.version) {
      if (metrics_ != nullptr) metrics_->recordRelease(reason, "unchanged");
      keyring_->setLastError(key.name, "");
      return Committed{key_released.kid, key_released.version, false};
    }
  }
  return commit(key, *attestation, std::move(key_released), reason);
}

StatusOr<KeyProvisioner::Committed> KeyProvisioner::completePending(const config::KeyConfig& key) {
  constexpr std::string_view kReason = "pending";
  StatusOr<std::string> text = state_dir_.readPending(key.name, seal::kMaxBundleBytes);
  if (!text.ok()) return text.status();
  StatusOr<seal::SealedBundle> bundle = seal::SealedBundle::parse(*text);
  if (!bundle.ok()) {
    return localFailure(key, kReason, "pending", bundle.status().withContext("pending.json"));
  }
  if (bundle->info().key_name != key.name) {
    return localFailure(key, kReason, "pending",
                        dataLossError("pending.json names key '" + bundle->info().key_name + "'"));
  }
  seal::OpenOptions open;
  open.emulated = config_.emulated();
  StatusOr<seal::PendingRelease> pending = seal::openPending(*bundle, sealing_, open);
  if (!pending.ok()) {
    return localFailure(key, kReason, "pending", pending.status().withContext("pending.json"));
  }
  StatusOr<const crypto::PrivateKey*> private_key = pending->transfer_key.privateKey();
  if (!private_key.ok()) return localFailure(key, kReason, "pending", private_key.status());
  StatusOr<crypto::PrivateKey> copy =
      crypto::PrivateKey::fromPkcs8Der((*private_key)->toPkcs8Der());
  if (!copy.ok()) return localFailure(key, kReason, "pending", copy.status());
  StatusOr<azure::TransferKey> transfer =
      azure::TransferKey::fromPrivateKey(std::move(copy).value());
  if (!transfer.ok()) return localFailure(key, kReason, "pending", transfer.status());

  // Reuse the token when it verifies and is valid long enough; else attest again with the same
  // transfer key (the vault checks the token's runtime key against the one we unwrap with).
  std::optional<release::Attestation> attestation;
  StatusOr<azure::MaaToken> token = backend_.verifyToken(pending->maa_token, transfer->public_jwk);
  if (token.ok() && token->expires_at - clock_.now() > options_.pending_token_min_validity) {
    std::string runtime_data = azure::runtimeDataJson(transfer->public_jwk);
    release::Attestation reused{std::move(transfer).value(), std::move(runtime_data), {}, {},
                                bundle->info().platform,     std::move(token).value()};
    attestation.emplace(std::move(reused));
    log::info("pending_token_reused", {{"key", key.name}});
  } else {
    log::info("pending_token_not_reused", {{"key", key.name},
                                           {"reason", token.ok() ? std::string("expires too soon")
                                                                 : token.status().message()}});
    release::StepResult<release::Attestation> fresh =
        backend_.attestWith(std::move(transfer).value());
    if (auto* failed = std::get_if<release::StepFailure>(&fresh)) {
      return failure(key, kReason, *failed);
    }
    attestation.emplace(std::move(std::get<release::Attestation>(fresh)));
  }
  release::StepResult<azure::ReleasedKey> released =
      backend_.release(*attestation, key, key.version);
  if (auto* failed = std::get_if<release::StepFailure>(&released)) {
    return failure(key, kReason, *failed);
  }
  StatusOr<Committed> committed =
      commit(key, *attestation, std::move(std::get<azure::ReleasedKey>(released)), kReason);
  if (!committed.ok()) return committed;
  if (Status removed = state_dir_.removePending(key.name);
      !removed.ok() && removed.code() != StatusCode::NotFound) {
    log::warning("pending_not_removed", {{"key", key.name}, {"message", removed.message()}});
  }
  return committed;
}

StatusOr<KeyProvisioner::Committed> KeyProvisioner::commit(const config::KeyConfig& key,
                                                           const release::Attestation& attestation,
                                                           azure::ReleasedKey released,
                                                           std::string_view reason) {
  const SystemTime now = clock_.now();
  StatusOr<std::string> sealed =
      release::sealReleasedKey(config_, attestation, key, released, sealing_, now);
  if (!sealed.ok()) return localFailure(key, reason, "seal", sealed.status());
  if (Status written = state_dir_.writeVersion(key.name, released.version, *sealed);
      !written.ok()) {
    return localFailure(
        key, reason, "write",
        written.withContext("write " + key.name + "/" + released.version + ".json"));
  }
  if (Status current = state_dir_.setCurrent(key.name, released.version); !current.ok()) {
    return localFailure(key, reason, "write", current.withContext("set " + key.name + "/current"));
  }
  std::shared_ptr<const KeyEntry> before = keyring_->entry(key.name);
  const bool changed = before == nullptr || before->primary != released.version;

  KeyVersion version;
  version.name = key.name;
  version.version = released.version;
  version.kid = released.kid;
  version.kty = released.key.type();
  version.key_ops = released.key.keyOps();
  version.released_at = now;
  version.emulated = config_.emulated() || attestation.maa.emulated;
  version.key = std::make_shared<const jose::Jwk>(std::move(released.key));
  if (Status added = keyring_->addVersion(std::move(version), /*make_primary=*/true); !added.ok()) {
    return localFailure(key, reason, "keyring", added);
  }
  keyring_->setLastError(key.name, "");

  StatusOr<uint64_t> generation = state_dir_.generation(key.name);
  const uint64_t next = (generation.ok() ? *generation : 0) + 1;
  if (Status bumped = state_dir_.writeGeneration(key.name, next); !bumped.ok()) {
    log::warning("generation_not_written", {{"key", key.name}, {"message", bumped.message()}});
  } else {
    keyring_->setGeneration(key.name, next);
  }
  const bool rotation = reason == "rotate" || reason == "scheduled";
  if (events_ != nullptr) {
    events_->publish(rotation && changed ? EventType::Rotated : EventType::Released, key.name,
                     released.version, now);
  }
  if (metrics_ != nullptr) metrics_->recordRelease(reason, "ok");
  log::info(rotation ? "rotated" : "released", {{"key", key.name},
                                                {"version", released.version},
                                                {"reason", reason},
                                                {"generation", static_cast<int64_t>(next)}});
  return Committed{released.kid, released.version, changed};
}

Status KeyProvisioner::failure(const config::KeyConfig& key, std::string_view reason,
                               const release::StepFailure& failed) {
  const std::string message = std::string(reason) + ": " + describeFailure(failed);
  keyring_->setLastError(key.name, message);
  if (metrics_ != nullptr) metrics_->recordRelease(reason, release::stepName(failed.step));
  log::error("release_failed", {{"key", key.name},
                                {"reason", reason},
                                {"step", release::stepName(failed.step)},
                                {"host", failed.host},
                                {"status", statusCodeName(failed.status.code())},
                                {"message", failed.status.message()}});
  // The typed details travel on (the answer's status reads them: 502 for a vault's bad answer).
  return Status(failed.status.code(), message).withDetails(failed.status.details());
}

Status KeyProvisioner::localFailure(const config::KeyConfig& key, std::string_view reason,
                                    std::string_view step, const Status& status) {
  const std::string message =
      std::string(reason) + ": " + std::string(step) + ": " + status.toString();
  keyring_->setLastError(key.name, message);
  if (metrics_ != nullptr) metrics_->recordRelease(reason, step);
  log::error("release_failed", {{"key", key.name},
                                {"reason", reason},
                                {"step", step},
                                {"status", statusCodeName(status.code())},
                                {"message", status.message()}});
  return Status(status.code(), message).withDetails(status.details());
}

StatusOr<std::string> KeyProvisioner::rotate(const std::string& name,
                                             const std::optional<std::string>& version) {
  const config::KeyConfig* key = keyConfig(name);
  if (key == nullptr) return notFoundError("key '" + name + "' is not configured");
  if (version) SKR_RETURN_IF_ERROR(seal::validateVersionName(*version));
  std::lock_guard lock(mutex_);
  SKR_ASSIGN_OR_RETURN(Committed committed,
                       releaseAndCommit(*key, version.value_or(""), "rotate", !version));
  return committed.kid;
}

StatusOr<bool> KeyProvisioner::checkForNewVersion(const std::string& name) {
  const config::KeyConfig* key = keyConfig(name);
  if (key == nullptr) return notFoundError("key '" + name + "' is not configured");
  std::lock_guard lock(mutex_);
  SKR_ASSIGN_OR_RETURN(Committed committed, releaseAndCommit(*key, "", "scheduled", true));
  return committed.changed;
}

}  // namespace skr::agent
