// SnpDevice: one source of SEV-SNP evidence (DESIGN.md §4): /dev/sev-guest, the legacy /dev/sev of
// ACI's 5.15 utility VM, configfs-tsm, or the emulated chip. Consumers (skr-init, the agent's
// sealing provider, skrctl doctor) depend on this interface only; platform.h chooses the source.
// Implementations are thread-safe unless they say otherwise.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "common/core/bytes.h"
#include "common/core/secret_bytes.h"
#include "common/core/status.h"

namespace skr::snp {

// MSG_KEY_REQ (SEV-SNP firmware ABI; spec/azure-wire.md §7.1).
enum class RootKey : uint32_t { Vcek = 0, Vmrk = 1 };

// guest_field_select bits: which guest fields are mixed into the derived key.
enum GuestFieldSelect : uint64_t {
  kFieldGuestPolicy = 1u << 0,
  kFieldImageId = 1u << 1,
  kFieldFamilyId = 1u << 2,
  kFieldMeasurement = 1u << 3,
  kFieldGuestSvn = 1u << 4,
  kFieldTcbVersion = 1u << 5,
  kFieldLaunchMitVector = 1u << 6,  // newer ABI
};
inline constexpr uint64_t kGuestFieldSelectMask = 0x7f;  // bits 63:7 must be zero

struct DerivedKeyRequest {
  RootKey root_key_select = RootKey::Vcek;
  uint64_t guest_field_select = 0;
  uint32_t vmpl = 0;         // >= the caller's VMPL
  uint32_t guest_svn = 0;    // <= the launch GUEST_SVN
  uint64_t tcb_version = 0;  // <= COMMITTED_TCB
};

// One entry of the GHCB certificate table (spec §7.1 SNP_GET_EXT_REPORT).
struct CertTableEntry {
  std::array<uint8_t, 16> guid{};  // as stored (little-endian first three GUID fields)
  Bytes der;
};

struct ExtendedReport {
  Bytes report;                              // kReportSize bytes, parsed by SnpReport::parse
  std::vector<CertTableEntry> certificates;  // empty when the host supplies none
};

class SnpDevice {
 public:
  virtual ~SnpDevice() = default;

  // "sev-guest", "sev-legacy", "tsm", "emulated" (PlatformKind names).
  virtual std::string_view name() const = 0;

  // The raw 1184-byte ATTESTATION_REPORT carrying `report_data`, requested for `vmpl` (0..3).
  // The bytes have passed SnpReport::parse. Errors name the interface and say what failed.
  virtual StatusOr<Bytes> getReport(const std::array<uint8_t, 64>& report_data,
                                    uint32_t vmpl) const = 0;

  // A 32-byte key derived by the firmware (MSG_KEY_REQ). Unimplemented where the source has none.
  virtual StatusOr<SecretBytes> getDerivedKey(const DerivedKeyRequest& request) const = 0;

  // The report plus the host-supplied certificate table. Unimplemented where the source has none.
  virtual StatusOr<ExtendedReport> getExtendedReport(const std::array<uint8_t, 64>& report_data,
                                                     uint32_t vmpl) const = 0;
};

}  // namespace skr::snp
