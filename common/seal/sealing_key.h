// Sealing key providers (DESIGN.md §5 `seal.provider`): where the 32-byte AES-256-GCM key that
// protects a sealed bundle comes from, and the non-secret parameters recorded in the bundle.
//   snp-derived  SNP MSG_KEY_REQ derived key (VCEK root; measurement, policy, guest SVN)
//   keyfile      32 raw bytes from a file mounted into both init and agent
//   emulated     the emulated chip's derived key (tests and demos; bundles are stamped emulated)
//   none         no key at all: material stored in plaintext (explicit, warns at every use)
// Every raw key goes through HKDF-SHA-256 with a per-provider label ("skr-sealed-key/1 sealing key
// <provider>") so the firmware key or the file's bytes are never used directly as an AES key and
// the providers are domain-separated. Thread-safe: providers are immutable once created.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/core/secret_bytes.h"
#include "common/core/status.h"
#include "common/json/json.h"
#include "common/seal/file_checks.h"
#include "common/seal/seal_provider_kind.h"
#include "common/snp/snp_device.h"

namespace skr::seal {

inline constexpr std::size_t kSealingKeySize = 32;

class SealingKeyProvider {
 public:
  virtual ~SealingKeyProvider() = default;

  virtual SealProviderKind kind() const = 0;
  std::string_view name() const { return sealProviderName(kind()); }

  // Whether bundles sealed with this provider must carry the emulation stamp.
  virtual bool emulated() const = 0;

  // The parameters recorded in the bundle's "seal" member and covered by its AAD. No secret.
  // A bundle opens only when its parameters equal the opener's (canonical JSON comparison):
  // the opener never derives a key from parameters chosen by whoever wrote the file.
  virtual json::ObjectPtr parameters() const = 0;

  // The 32-byte sealing key. FailedPrecondition for `none` (it has no key). Touches secrets.
  virtual StatusOr<SecretBytes> sealingKey() const = 0;
};

// snp-derived: parameters of the MSG_KEY_REQ (spec/azure-wire.md §7.1). Field select is fixed to
// GUEST_POLICY | MEASUREMENT | GUEST_SVN (bits 0, 3, 4) with the VCEK as root key; the sealing key
// is HKDF-SHA-256(ikm = derived key, salt = HOST_DATA of a fresh report, info = label), so it is
// also bound to the CCE policy, which the firmware key alone is not.
struct SnpDerivedOptions {
  uint32_t vmpl = 0;       // >= the guest's VMPL
  uint32_t guest_svn = 0;  // mixed into the key; must be <= the launch GUEST_SVN
};
inline constexpr uint64_t kSnpDerivedFieldSelect =
    snp::kFieldGuestPolicy | snp::kFieldMeasurement | snp::kFieldGuestSvn;

// Derives through any SnpDevice (sev-guest, sev-legacy; "emulated" works too and marks the
// provider emulated). The device is shared, not owned exclusively.
StatusOr<std::unique_ptr<SealingKeyProvider>> makeSnpDerivedProvider(
    std::shared_ptr<const snp::SnpDevice> device, const SnpDerivedOptions& options = {});

// emulated: the same MSG_KEY_REQ on an emulated chip's SnpDevice (device.name() must be
// "emulated"), under its own HKDF label, always stamped emulated.
StatusOr<std::unique_ptr<SealingKeyProvider>> makeEmulatedProvider(
    std::shared_ptr<const snp::SnpDevice> device, const SnpDerivedOptions& options = {});

// keyfile: reads `path` once. Requirements (each failure names the path and the fix):
// a regular file (symlinks are followed: Kubernetes secret volumes are symlinks into ..data/)
// of exactly 32 bytes, owned by `owner` (this uid) or root, not writable by group or others, not
// readable by others (0400 or 0440). The parameters carry a key id (a hash of the derived key's
// label and the file bytes, 16 hex digits), never the path: init and agent may mount it
// differently.
StatusOr<std::unique_ptr<SealingKeyProvider>> makeKeyfileProvider(const std::string& path,
                                                                  const OwnerPolicy& owner = {});

// none: logs a warning at creation; seal/open (bundle.h) log another one at every use.
std::unique_ptr<SealingKeyProvider> makeNoneProvider();

}  // namespace skr::seal
