// What the agent needs from the release flow (DESIGN.md §3), as an interface so the provisioning
// and rotation logic (key_provisioner.h) runs against fakes in unit tests. The real one,
// FlowReleaseBackend, drives release::ReleaseFlow over the services built from the configuration.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "common/azure/maa_client.h"
#include "common/config/config.h"
#include "common/core/clock.h"
#include "common/http/retry.h"
#include "common/release/release_flow.h"
#include "common/release/release_services.h"

namespace skr::agent {

class ReleaseBackend {
 public:
  virtual ~ReleaseBackend() = default;
  // A fresh attestation with a new transfer key.
  virtual release::StepResult<release::Attestation> attest() = 0;
  // A fresh attestation with a given transfer key (completing a pending bundle).
  virtual release::StepResult<release::Attestation> attestWith(azure::TransferKey transfer) = 0;
  // Verifies an MAA token from a pending bundle against its transfer key (signature, issuer,
  // expiry, runtime key). Secret: `token`.
  virtual StatusOr<azure::MaaToken> verifyToken(std::string_view token,
                                                const jose::Jwk& transfer_public) = 0;
  // Releases `key` (`version`, or the latest when empty) with the agent's identity.
  virtual release::StepResult<azure::ReleasedKey> release(const release::Attestation& attestation,
                                                          const config::KeyConfig& key,
                                                          const std::string& version) = 0;
};

// The real backend. Everything is borrowed and must outlive it. Key Vault clients are made per
// key on first use and kept (their token cache lives in `services.tokens`). Thread-safe.
class FlowReleaseBackend final : public ReleaseBackend {
 public:
  FlowReleaseBackend(const config::Config& config, release::ReleaseServices& services, Clock& clock,
                     http::JitterSource& jitter, release::ProgressSink progress,
                     std::chrono::milliseconds deadline = std::chrono::minutes(2));

  release::StepResult<release::Attestation> attest() override;
  release::StepResult<release::Attestation> attestWith(azure::TransferKey transfer) override;
  StatusOr<azure::MaaToken> verifyToken(std::string_view token,
                                        const jose::Jwk& transfer_public) override;
  release::StepResult<azure::ReleasedKey> release(const release::Attestation& attestation,
                                                  const config::KeyConfig& key,
                                                  const std::string& version) override;

 private:
  std::chrono::steady_clock::time_point deadline() const;
  const config::Config& config_;
  release::ReleaseServices& services_;
  Clock& clock_;
  http::JitterSource& jitter_;
  release::ProgressSink progress_;
  std::chrono::milliseconds deadline_;
  std::mutex mutex_;
  std::map<std::string, std::unique_ptr<azure::KeyVaultClient>> clients_;
};

}  // namespace skr::agent
