// The sealed bundle (DESIGN.md §5, docs/bundle.md): one JSON file per released key version, or a
// *pending* bundle for attest-and-defer. Format "skr-sealed-key/1":
//   {"format", "kind", "key_name", "vault", "kid", "kty", "key_ops", "public_jwk" (RSA/EC),
//    "released_at", "maa": {"issuer", "token_sha256", "token_expires_at"}, "hostdata",
//    "platform", "emulated", "material": "jwk" | "raw" | "pending",
//    "seal": {"provider", "parameters"},
//    "sealed": {"iv", "ciphertext", "tag"}   (or {"plaintext"} for provider none)}
// The key material is AES-256-GCM encrypted under the provider's sealing key with a fresh 96-bit
// IV; the AAD is the canonical JSON (json::serializeCanonical) of the whole object minus "sealed",
// so every other member is authenticated, byte-exact and independent of member order.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/bytes.h"
#include "common/core/rfc3339.h"
#include "common/core/secret_bytes.h"
#include "common/core/status.h"
#include "common/jose/jwk.h"
#include "common/json/json.h"
#include "common/seal/sealing_key.h"

namespace skr::seal {

inline constexpr std::string_view kBundleFormat = "skr-sealed-key/1";
// Bundles are small (an RSA-4096 private JWK is ~3.3 KiB); anything larger is not ours.
inline constexpr std::size_t kMaxBundleBytes = std::size_t{256} * 1024;
inline constexpr std::size_t kMaxKeyNameLength = 127;  // AKV: 1..127 of [0-9a-zA-Z-]

enum class BundleKind { Key, Pending };
std::string_view bundleKindName(BundleKind kind);  // "key", "pending"

// Checks an AKV key name: 1..127 characters of [0-9a-zA-Z-] (so no '/', '.', '..', NUL).
// InvalidArgument naming the problem (and the name, which is not secret).
Status validateKeyName(std::string_view name);

// The MAA token a release was made with: described, not stored (the token itself is only inside
// the encrypted part of a pending bundle).
struct MaaTokenInfo {
  std::string issuer;
  std::string token_sha256;  // 64 lowercase hex digits of SHA-256(token text)
  SystemTime expires_at;

  static MaaTokenInfo describe(std::string issuer, std::string_view token, SystemTime expires_at);
};

// Everything in a bundle except the key material and the seal: all of it is AAD.
struct BundleInfo {
  BundleKind kind = BundleKind::Key;
  std::string key_name;  // validateKeyName
  std::string vault;     // vault or managed HSM host
  // kind key: the full kid with version. kind pending: the kid requested (may be versionless) or
  // empty for "latest".
  std::string kid;
  std::vector<std::string> key_ops;
  SystemTime released_at;  // key: when released; pending: when attested
  MaaTokenInfo maa;
  std::string hostdata;   // 64 hex digits (HOST_DATA of the report)
  std::string platform;   // snp::platformName of the evidence source
  bool emulated = false;  // stamp: sealed on the emulated platform or with an emulated provider
};

// A parsed bundle file: structure and types validated, nothing decrypted. Safe on untrusted text.
class SealedBundle {
 public:
  // Parses at most kMaxBundleBytes. InvalidArgument for malformed JSON, an unknown or missing
  // member, a wrong type or size (naming the member); "unknown format" for any other "format".
  static StatusOr<SealedBundle> parse(std::string_view text);

  const BundleInfo& info() const { return info_; }
  jose::JwkType kty() const { return kty_; }
  // RSA/EC keys and pending bundles (the transfer key); nullptr for oct.
  const jose::Jwk* publicJwk() const { return public_jwk_ ? &*public_jwk_ : nullptr; }
  const std::string& provider() const { return provider_; }
  const json::ObjectPtr& parameters() const { return parameters_; }
  bool encrypted() const { return encrypted_; }

 private:
  friend class BundleCodec;
  SealedBundle() = default;
  BundleInfo info_;
  jose::JwkType kty_ = jose::JwkType::Rsa;
  std::optional<jose::Jwk> public_jwk_;
  std::string material_;  // "jwk", "raw", "pending"
  std::string provider_;
  json::ObjectPtr parameters_;
  bool encrypted_ = true;
  Bytes iv_, ciphertext_, tag_;  // encrypted_
  std::string plaintext_b64_;    // !encrypted_ (provider none): base64url, secret once decoded
  std::string aad_;              // canonical JSON of everything but "sealed"
};

// The opener's own mode: the stamp of a bundle must equal it.
struct OpenOptions {
  bool emulated = false;
};

// Seals a released key (kind must be kKey; RSA/EC with a private part, or oct). Material: the
// canonical private JWK for RSA/EC, the raw key bytes for oct. Returns the file content (canonical
// JSON plus a newline). FailedPrecondition when an emulated provider is used without the stamp.
StatusOr<std::string> sealKey(const BundleInfo& info, const jose::Jwk& key,
                              const SealingKeyProvider& provider);

// Opens a key bundle: checks kind, stamp (FailedPrecondition), provider name and parameters
// (FailedPrecondition), the tag (DataLoss), that the material is a private key of the bundle's
// kty whose public part equals public_jwk (DataLoss). The Jwk carries the bundle's kid, key_ops.
StatusOr<jose::Jwk> openKey(const SealedBundle& bundle, const SealingKeyProvider& provider,
                            const OpenOptions& options);

// Attest-and-defer: the transfer private key (RSA) and the MAA token it was attested with.
struct PendingRelease {
  jose::Jwk transfer_key;
  std::string maa_token;
};

// Seals a pending bundle (kind must be kPending). info.maa.token_sha256 is set from the token
// (a different non-empty value is InvalidArgument).
StatusOr<std::string> sealPending(BundleInfo info, const jose::Jwk& transfer_key,
                                  std::string_view maa_token, const SealingKeyProvider& provider);
// Opens a pending bundle; as openKey, and the token's SHA-256 must equal maa.token_sha256.
StatusOr<PendingRelease> openPending(const SealedBundle& bundle, const SealingKeyProvider& provider,
                                     const OpenOptions& options);

}  // namespace skr::seal
