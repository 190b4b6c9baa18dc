// Turning a release into bundle file content (DESIGN.md §3 "seal + write", §5), shared by skr-init
// and skr-agent (start-up, completing a pending bundle, rotation), so both stamp and describe a
// bundle the same way.
#pragma once

#include <string>

#include "common/config/config.h"
#include "common/core/rfc3339.h"
#include "common/core/status.h"
#include "common/release/release_flow.h"
#include "common/seal/bundle.h"
#include "common/seal/sealing_key.h"

namespace skr::release {

// "https://host[:port]/..." -> "host[:port]".
std::string hostOfVaultUrl(const std::string& url);

// The AAD-covered description of a bundle for `key` made from `attestation` at `now` (kid and
// key_ops are left for the caller).
seal::BundleInfo bundleInfoFor(const config::Config& config, const Attestation& attestation,
                               const config::KeyConfig& key, seal::BundleKind kind, SystemTime now);

// Seals a released key: the file content of {key}/{released.version}.json.
StatusOr<std::string> sealReleasedKey(const config::Config& config, const Attestation& attestation,
                                      const config::KeyConfig& key,
                                      const azure::ReleasedKey& released,
                                      const seal::SealingKeyProvider& provider, SystemTime now);

// Seals a pending bundle (attest-and-defer): the transfer private key and the MAA token, for
// {key}/pending.json.
StatusOr<std::string> sealPendingRelease(const config::Config& config,
                                         const Attestation& attestation,
                                         const config::KeyConfig& key,
                                         const seal::SealingKeyProvider& provider, SystemTime now);

}  // namespace skr::release
