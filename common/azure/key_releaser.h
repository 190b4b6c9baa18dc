// KeyReleaser: what the release flow needs from a key store (DESIGN.md §3 "AKV release" and
// "unwrap"): release one key to the holder of a transfer key, presenting an attestation token.
// KeyVaultClient is the implementation; tests script one with tests/fakes/fake_key_releaser.h.
// Secrets touched: the attestation token (a bearer credential), the transfer private key, the
// released key.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

#include "common/azure/released_key.h"
#include "common/core/status.h"
#include "common/crypto/pkey.h"

namespace skr::azure {

class KeyReleaser {
 public:
  virtual ~KeyReleaser() = default;

  // Releases `key` to the holder of `transfer_key`, whose public key `maa_token` binds, and
  // returns it verified and unwrapped. `deadline` bounds retries. Errors carry ErrorDetails
  // (dependency, cause, host, HTTP status, attempts); see KeyVaultClient::release.
  virtual StatusOr<ReleasedKey> release(
      const VaultKeyRef& key, std::string_view maa_token, const crypto::PrivateKey& transfer_key,
      std::optional<std::chrono::steady_clock::time_point> deadline) = 0;
};

}  // namespace skr::azure
