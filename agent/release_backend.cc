#include "agent/release_backend.h"

#include <utility>

#include "common/release/released_bundle.h"

namespace skr::agent {

FlowReleaseBackend::FlowReleaseBackend(const config::Config& config,
                                       release::ReleaseServices& services, Clock& clock,
                                       http::JitterSource& jitter, release::ProgressSink progress,
                                       std::chrono::milliseconds deadline)
    : config_(config),
      services_(services),
      clock_(clock),
      jitter_(jitter),
      progress_(std::move(progress)),
      deadline_(deadline) {}

std::chrono::steady_clock::time_point FlowReleaseBackend::deadline() const {
  return clock_.steadyNow() + deadline_;
}

release::StepResult<release::Attestation> FlowReleaseBackend::attest() {
  release::ReleaseFlow flow(*services_.device, *services_.collateral, *services_.maa, nullptr,
                            clock_, services_.flowOptions(config_), progress_);
  return flow.attest(deadline());
}

release::StepResult<release::Attestation> FlowReleaseBackend::attestWith(
    azure::TransferKey transfer) {
  release::ReleaseFlow flow(*services_.device, *services_.collateral, *services_.maa, nullptr,
                            clock_, services_.flowOptions(config_), progress_);
  return flow.attestWith(std::move(transfer), deadline());
}

StatusOr<azure::MaaToken> FlowReleaseBackend::verifyToken(std::string_view token,
                                                          const jose::Jwk& transfer_public) {
  return services_.maa->verifyToken(token, transfer_public, std::nullopt, deadline());
}

release::StepResult<azure::ReleasedKey> FlowReleaseBackend::release(
    const release::Attestation& attestation, const config::KeyConfig& key,
    const std::string& version) {
  azure::KeyVaultClient* client = nullptr;
  {
    std::lock_guard lock(mutex_);
    auto it = clients_.find(key.name);
    if (it == clients_.end()) {
      StatusOr<std::unique_ptr<azure::KeyVaultClient>> made =
          services_.vaultClientFor(key, clock_, jitter_);
      if (!made.ok()) {
        return release::StepFailure{
            release::Step::Release, release::hostOfVaultUrl(key.vault_url),
            made.status().withContext("release key '" + key.name + "' (identity " +
                                      std::string(config::identityKindName(config_.identity.kind)) +
                                      ")")};
      }
      it = clients_.emplace(key.name, std::move(made).value()).first;
    }
    client = it->second.get();
  }
  release::ReleaseFlow flow(*services_.device, *services_.collateral, *services_.maa, client,
                            clock_, services_.flowOptions(config_), progress_);
  return flow.release(attestation, azure::VaultKeyRef{key.vault_url, key.name, version},
                      deadline());
}

}  // namespace skr::agent
