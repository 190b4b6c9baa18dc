// SEV-SNP ATTESTATION_REPORT (AMD SEV-SNP Firmware ABI #56860; layout in spec/azure-wire.md §6):
// 1184 bytes, little-endian, versions 2, 3 and 5. Parsing validates size and version only; what
// the fields mean for trust is the verifier's job (verifier.h).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/core/bytes.h"
#include "common/core/status.h"

namespace skr::snp {

inline constexpr std::size_t kReportSize = 1184;         // 0x4A0
inline constexpr std::size_t kSignedRegionSize = 0x2A0;  // bytes covered by the signature
inline constexpr std::size_t kSignatureOffset = 0x2A0;
inline constexpr std::size_t kSignatureComponentSize = 72;  // r and s, little-endian

// Processor generation; decides the TCB_VERSION layout (spec §6.2).
enum class Generation { Unknown, Milan, Genoa, Turin };
std::string_view generationName(Generation g);  // "unknown", "Milan", "Genoa", "Turin"
// From the v3+ CPUID fields: family 0x19 model 0x00-0x0F Milan, 0x10-0x1F / 0xA0-0xAF Genoa,
// family 0x1A Turin; anything else (and v2 reports, whose fields are zero) kUnknown.
Generation generationFromCpuid(uint8_t family, uint8_t model);
// From a product name as in the VCEK extension / KDS URL ("Milan-B0", "Genoa", "Turin").
Generation generationFromProductName(std::string_view product);

// TCB_VERSION decoded for one generation (spec §6.2). `raw` is the little-endian u64.
struct TcbVersion {
  uint64_t raw = 0;
  uint8_t bootloader = 0;
  uint8_t tee = 0;
  uint8_t snp = 0;
  uint8_t microcode = 0;
  std::optional<uint8_t> fmc;  // Turin and later only

  static TcbVersion decode(uint64_t raw, Generation generation);
  // Milan/Genoa: ucode<<56 | snp<<48 | tee<<8 | bl; Turin: ucode<<56 | snp<<24 | tee<<16 | bl<<8 |
  // fmc. Reserved bytes are zero.
  static TcbVersion compose(Generation generation, uint8_t bootloader, uint8_t tee, uint8_t snp,
                            uint8_t microcode, uint8_t fmc = 0);
  friend bool operator==(const TcbVersion& a, const TcbVersion& b) { return a.raw == b.raw; }
};

// Which key signed the report: bits 4:2 of the u32 at 0x48.
enum class SigningKey { Vcek = 0, Vlek = 1, None = 7 };

// GUEST POLICY bits (spec §6.1).
struct GuestPolicy {
  uint64_t raw = 0;
  uint8_t abiMinor() const { return static_cast<uint8_t>(raw & 0xff); }
  uint8_t abiMajor() const { return static_cast<uint8_t>((raw >> 8) & 0xff); }
  bool smt() const { return (raw >> 16) & 1; }
  bool reservedBit17() const { return (raw >> 17) & 1; }  // must be 1
  bool migrateMa() const { return (raw >> 18) & 1; }
  bool debug() const { return (raw >> 19) & 1; }
  bool singleSocket() const { return (raw >> 20) & 1; }
  bool cxlAllow() const { return (raw >> 21) & 1; }
  bool memAes256Xts() const { return (raw >> 22) & 1; }
  bool raplDis() const { return (raw >> 23) & 1; }
  bool ciphertextHiding() const { return (raw >> 24) & 1; }
  bool pageSwapDisable() const { return (raw >> 25) & 1; }
};

// PLATFORM_INFO bits (spec §6.1).
struct PlatformInfo {
  uint64_t raw = 0;
  bool smtEnabled() const { return raw & 1; }
  bool tsmeEnabled() const { return (raw >> 1) & 1; }
  bool eccEnabled() const { return (raw >> 2) & 1; }
  bool raplDisabled() const { return (raw >> 3) & 1; }
  bool ciphertextHidingEnabled() const { return (raw >> 4) & 1; }
  bool aliasCheckComplete() const { return (raw >> 5) & 1; }
  bool tioEnabled() const { return (raw >> 7) & 1; }
};

struct FirmwareVersion {
  uint8_t build = 0;
  uint8_t minor = 0;
  uint8_t major = 0;
};

// Every field of the report, in report order. Reserved regions are kept verbatim (`reserved_*`)
// so that serialize(parse(bytes)) == bytes for any valid input.
struct SnpReport {
  uint32_t version = 0;
  uint32_t guest_svn = 0;
  GuestPolicy policy;
  std::array<uint8_t, 16> family_id{};
  std::array<uint8_t, 16> image_id{};
  uint32_t vmpl = 0;
  uint32_t signature_algo = 0;
  uint64_t current_tcb = 0;
  PlatformInfo platform_info;
  uint32_t signer_info = 0;  // 0x48: bit0 AUTHOR_KEY_EN, bit1 MASK_CHIP_KEY, bits 4:2 SIGNING_KEY
  uint32_t reserved_4c = 0;
  std::array<uint8_t, 64> report_data{};
  std::array<uint8_t, 48> measurement{};
  std::array<uint8_t, 32> host_data{};
  std::array<uint8_t, 48> id_key_digest{};
  std::array<uint8_t, 48> author_key_digest{};
  std::array<uint8_t, 32> report_id{};
  std::array<uint8_t, 32> report_id_ma{};
  uint64_t reported_tcb = 0;
  uint8_t cpuid_fam_id = 0;  // v3+
  uint8_t cpuid_mod_id = 0;  // v3+
  uint8_t cpuid_step = 0;    // v3+
  std::array<uint8_t, 21> reserved_18b{};
  std::array<uint8_t, 64> chip_id{};
  uint64_t committed_tcb = 0;
  FirmwareVersion current_version;  // 0x1E8
  uint8_t reserved_1eb = 0;
  FirmwareVersion committed_version;  // 0x1EC
  uint8_t reserved_1ef = 0;
  uint64_t launch_tcb = 0;
  uint64_t launch_mit_vector = 0;   // v5
  uint64_t current_mit_vector = 0;  // v5
  std::array<uint8_t, 0x98> reserved_208{};
  std::array<uint8_t, 72> signature_r{};  // little-endian
  std::array<uint8_t, 72> signature_s{};  // little-endian
  std::array<uint8_t, 512 - 144> reserved_signature{};

  // Parses exactly kReportSize bytes of version 2, 3 or 5. InvalidArgument otherwise, e.g.
  // "SNP report is 1000 bytes, expected 1184" / "SNP report version 4 is not supported (2, 3, 5)".
  static StatusOr<SnpReport> parse(ByteView bytes);
  Bytes serialize() const;

  SigningKey signingKey() const { return static_cast<SigningKey>((signer_info >> 2) & 7); }
  bool authorKeyEnabled() const { return signer_info & 1; }
  bool maskChipKey() const { return (signer_info >> 1) & 1; }
  // v3+ CPUID fields; kUnknown for v2.
  Generation generation() const;
  TcbVersion currentTcb() const { return TcbVersion::decode(current_tcb, generation()); }
  TcbVersion reportedTcb() const { return TcbVersion::decode(reported_tcb, generation()); }
  TcbVersion committedTcb() const { return TcbVersion::decode(committed_tcb, generation()); }
  TcbVersion launchTcb() const { return TcbVersion::decode(launch_tcb, generation()); }
};

}  // namespace skr::snp
