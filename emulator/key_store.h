// The emulated vaults' keys: every version of every key of each vault listener ("vault", "mhsm"),
// with its material, attributes, release policy and tags. Persisted one file per version,
// DIR/keys/<vault>/<name>/<version>.json (mode 0600; the material is emulator test material, but
// handled as a secret all the same: SecretBytes in memory, never logged). Versions are immutable
// snapshots (shared_ptr<const KeyVersion>); updates replace the snapshot. Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/core/bytes.h"
#include "common/core/secret_bytes.h"
#include "common/core/status.h"
#include "common/crypto/pkey.h"
#include "common/json/json.h"

namespace skr::emulator {

enum class KeyFamily { Rsa, Ec, Oct };

// AKV KeyReleasePolicy: contentType, data (the policy JSON bytes, base64url on the wire),
// immutable.
struct KeyReleasePolicy {
  std::string content_type = "application/json; charset=utf-8";
  Bytes data;
  bool immutable = false;
};

struct KeyAttributes {
  bool enabled = true;
  bool exportable = false;
  int64_t created = 0;  // Unix seconds
  int64_t updated = 0;
  std::optional<int64_t> not_before;  // "nbf"
  std::optional<int64_t> expires;     // "exp"
};

struct KeyVersion {
  std::string vault;  // listener name: "vault" | "mhsm"
  std::string name;
  std::string version;   // 32 lower-case hex digits
  int64_t sequence = 0;  // creation order across the store (latest = highest)
  std::string kty;       // "RSA", "RSA-HSM", "EC", "EC-HSM", "oct-HSM"
  KeyFamily family = KeyFamily::Rsa;
  int key_size = 0;   // RSA modulus bits / oct key bits; 0 for EC
  std::string curve;  // "P-256" / "P-384" / "P-521" for EC
  std::vector<std::string> key_ops;
  SecretBytes material;  // PKCS#8 DER (RSA, EC) or the raw key (oct)
  // Public JWK members, derived from the material (base64url-ready big-endian bytes).
  Bytes n, e, x, y;
  KeyAttributes attributes;
  std::optional<KeyReleasePolicy> release_policy;
  std::map<std::string, std::string> tags;

  KeyVersion clone() const;
  // The private key (RSA, EC); FailedPrecondition for oct.
  StatusOr<crypto::PrivateKey> privateKey() const;
};

// Parameters of a new key (create, rotate).
struct KeySpec {
  KeyFamily family = KeyFamily::Rsa;
  int key_size = 2048;  // RSA: 2048/3072/4096; oct: 128/192/256
  crypto::Curve curve = crypto::Curve::P256;
};

// Generates material for `spec` and fills family/key_size/curve/material/public members of `out`.
Status generateKeyMaterial(const KeySpec& spec, KeyVersion& out);
// Fills the public members (n/e, x/y) and key_size/curve from `version.material`.
Status derivePublicMembers(KeyVersion& version);
// A fresh 32-hex-digit version id.
std::string newKeyVersionId();

using KeyVersionPtr = std::shared_ptr<const KeyVersion>;

class KeyStore {
 public:
  // Loads every version under `state_dir`/keys. DataLoss naming the file for corrupt state.
  static StatusOr<std::unique_ptr<KeyStore>> open(const std::string& state_dir);

  // Persists and publishes a new version (sequence assigned here). InvalidArgument when the
  // version id already exists.
  StatusOr<KeyVersionPtr> addVersion(KeyVersion version);
  // Read-modify-write of one existing version under the store lock; `update` may fail (nothing is
  // changed then). NotFound when the version does not exist.
  StatusOr<KeyVersionPtr> updateVersion(const std::string& vault, const std::string& name,
                                        const std::string& version,
                                        const std::function<Status(KeyVersion&)>& update);

  KeyVersionPtr latest(const std::string& vault, const std::string& name) const;
  KeyVersionPtr get(const std::string& vault, const std::string& name,
                    const std::string& version) const;
  // Oldest first.
  std::vector<KeyVersionPtr> versions(const std::string& vault, const std::string& name) const;
  std::vector<std::string> names(const std::string& vault) const;

 private:
  explicit KeyStore(std::string dir) : dir_(std::move(dir)) {}
  Status persist(const KeyVersion& version) const;
  std::string versionPath(const KeyVersion& version) const;

  std::string dir_;  // <state>/keys
  mutable std::mutex mutex_;
  // (vault, name) -> versions, oldest first.
  std::map<std::pair<std::string, std::string>, std::vector<KeyVersionPtr>> keys_;
  int64_t next_sequence_ = 1;
};

// JSON of a version as stored (without material) and parsing back; exposed for tests.
json::ObjectPtr keyVersionMetadataJson(const KeyVersion& version);

}  // namespace skr::emulator
