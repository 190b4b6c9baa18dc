// Assembles the real dependencies of a release from the configuration (DESIGN.md §3, §8): the
// HTTP transport (trusting tls.ca_file or the system store), the SNP evidence source, the
// collateral provider, the MAA client, the identity's token provider and the Key Vault client,
// and the sealing-key provider. Shared by skr-init and skr-agent, whose main()s call it; every
// piece is also constructible on its own for tests.
// Each builder reports failures with the DESIGN.md §9 exit code they map to.
#pragma once

#include <memory>
#include <variant>

#include "common/azure/identity.h"
#include "common/azure/key_vault_client.h"
#include "common/azure/maa_client.h"
#include "common/config/config.h"
#include "common/core/clock.h"
#include "common/core/status.h"
#include "common/http/http_transport.h"
#include "common/http/retry.h"
#include "common/release/data_delivery.h"
#include "common/release/release_flow.h"
#include "common/seal/sealing_key.h"
#include "common/snp/collateral.h"
#include "common/snp/snp_device.h"

namespace skr::release {

// A failure to set something up, with the exit code it maps to.
struct SetupFailure {
  ExitCode code;
  Status status;
};

// Owns everything a ReleaseFlow borrows. Members are declared in dependency order, so the clients
// are destroyed before what they borrow.
struct ReleaseServices {
  std::shared_ptr<http::HttpTransport> transport;
  std::shared_ptr<snp::SnpDevice> device;
  std::unique_ptr<snp::CollateralProvider> collateral;
  std::unique_ptr<azure::MaaClient> maa;
  std::unique_ptr<azure::TokenProvider> tokens;  // null for identity kind none
  std::unique_ptr<seal::SealingKeyProvider> sealing;
  std::vector<crypto::Certificate> jws_trust_anchors;  // from tls.ca_file; empty = system store
  std::map<std::string, std::string> resource_overrides;
  config::RetryConfig retry;
  // The source of each data[] entry (Blob Storage); tests inject files or memory.
  DataSourceFactory data_sources;

  // A Key Vault client for one configured key (its enc and api-version), using `tokens`.
  // FailedPrecondition for identity kind none. The client borrows `tokens`, `clock`, `jitter`.
  StatusOr<std::unique_ptr<azure::KeyVaultClient>> vaultClientFor(const config::KeyConfig& key,
                                                                  Clock& clock,
                                                                  http::JitterSource& jitter) const;
  // Same, asking `key_tokens` (which wraps `tokens`, e.g. a TokenPrefetch) for its tokens; the
  // client borrows it.
  StatusOr<std::unique_ptr<azure::KeyVaultClient>> vaultClientFor(
      const config::KeyConfig& key, Clock& clock, http::JitterSource& jitter,
      azure::TokenProvider& key_tokens) const;
  // The token resource the client for `key` asks for ("https://vault.azure.net", ...).
  std::string tokenResourceFor(const config::KeyConfig& key) const;

  // Options for a ReleaseFlow over these services.
  ReleaseFlow::Options flowOptions(const config::Config& config) const;
};

// Builds every service. `clock` and `jitter` outlive the result. Exit codes: Usage for settings
// that cannot work (unreadable CA file, bad URLs), Platform when the SNP source cannot be opened,
// Identity when the identity's settings are incomplete (e.g. workload identity without its
// environment), Output when the sealing provider cannot be created.
std::variant<ReleaseServices, SetupFailure> buildReleaseServices(const config::Config& config,
                                                                 Clock& clock,
                                                                 http::JitterSource& jitter);

// The token provider of config.identity (cached), or nullptr for kind none.
StatusOr<std::unique_ptr<azure::TokenProvider>> makeTokenProvider(
    const config::IdentityConfig& identity, std::shared_ptr<http::HttpTransport> transport,
    Clock& clock, http::JitterSource& jitter);

// The sealing-key provider of config.seal (snp-derived and emulated derive through `device`).
StatusOr<std::unique_ptr<seal::SealingKeyProvider>> makeSealingProvider(
    const config::SealConfig& seal, std::shared_ptr<snp::SnpDevice> device);

// The Blob Storage source of data[] entries: the identity's tokens (auth entra; borrowed, may be
// null without an identity), the SAS read from sas_file (auth sas), or none (anonymous).
DataSourceFactory makeBlobSources(std::shared_ptr<http::HttpTransport> transport,
                                  azure::TokenProvider* tokens, const config::RetryConfig& retry);
// The SAS token in `path` (a secret volume): trimmed, without a leading '?', must carry sig=.
StatusOr<std::string> readSasFile(const std::string& path);

// The retry policy of a dependency from config.retry.
http::RetryPolicy retryPolicyFor(const config::RetryConfig& retry, std::string dependency,
                                 http::RetryPolicy base);

}  // namespace skr::release
