// The emulated SEV-SNP chip (DESIGN.md §4 "emulated"): a software stand-in with its own AMD-style
// PKI, kept in a state directory that skr-emulator shares. NOT AMD hardware: every name says so
// ("ARK-Emulated (skr emulator - not AMD)", "SEV-Emulated"), opening it logs a warning, and its ARK
// is trusted by no verifier unless explicitly configured (--trust-ark).
//
// State directory (0700; private files 0600, written tmp + fsync + rename under an flock):
//   ark.pem, ark_key.pem       ARK: RSA-4096, self-signed, RSASSA-PSS SHA-384 salt 48
//   ask.pem, ask_key.pem       ASK: RSA-4096, signed by the ARK the same way
//   vcek.pem, vcek_key.pem     VCEK: ECDSA P-384, serial 0, no AKI, CN "SEV-VCEK", signed by the
//                              ASK, with AMD's extensions for the configured TCB (spec §5.4)
//   chip_id.bin                64 random bytes: CHIP_ID and the VCEK's hwID
//   chip_secret.bin            32 random bytes: VCEK-rooted derived keys (0600)
//   vmrk_secret.bin            32 random bytes: VMRK-rooted derived keys (0600)
//   chip.json                  ChipConfig (the emulator's admin API edits it)
// A VCEK is per chip and TCB: when chip.json's TCB differs from the VCEK's extensions, the VCEK is
// re-issued (new key) on open and by updateConfig().
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "common/core/bytes.h"
#include "common/core/secret_bytes.h"
#include "common/core/status.h"
#include "common/crypto/pkey.h"
#include "common/crypto/x509.h"
#include "common/snp/snp_device.h"

namespace skr::snp {

// The guest and platform the chip reports (chip.json, "format": "skr-emulated-chip/1").
struct ChipConfig {
  // TCB in Milan layout (spec §6.2); REPORTED/CURRENT/COMMITTED/LAUNCH_TCB and the VCEK's SPLs.
  uint8_t bootloader = 3;
  uint8_t tee = 0;
  uint8_t snp = 8;
  uint8_t microcode = 115;
  uint64_t policy = 0x3001f;  // ABI 0.31, SMT, reserved bit 17, DEBUG clear
  std::array<uint8_t, 48> measurement{};
  std::array<uint8_t, 32> host_data{};
  std::array<uint8_t, 16> family_id{};
  std::array<uint8_t, 16> image_id{};
  std::array<uint8_t, 48> id_key_digest{};
  std::array<uint8_t, 32> report_id{};  // per launch; random when the chip is created
  uint32_t guest_svn = 0;
  uint32_t vmpl = 0;             // the guest's own VMPL: requests for a lower VMPL are refused
  uint64_t platform_info = 0x1;  // SMT_EN
  uint32_t report_version = 3;   // 2, or 3 (adds CPUID family 0x19 model 0x01: Milan)

  uint64_t tcbRaw() const;
  std::string toJson() const;
  // InvalidArgument naming the member for a wrong type, size or value.
  static StatusOr<ChipConfig> fromJson(std::string_view text);
};

// SEV-SNP report signature DER (ECDSA-Sig-Value) -> r and s as 72-byte little-endian (spec §6.3),
// the inverse of crypto::ecdsaDerFromSnp.
struct SnpSignature {
  std::array<uint8_t, 72> r{};
  std::array<uint8_t, 72> s{};
};
StatusOr<SnpSignature> ecdsaSnpFromDer(ByteView der);

class EmulatedChip {
 public:
  // Opens the chip in `dir`, creating it (and `dir`, not its parents) on first use with
  // `initial_config`. Concurrent callers serialise on an flock in the directory. Re-issues the VCEK
  // when chip.json's TCB differs from it. Logs a warning naming the directory.
  static StatusOr<EmulatedChip> openOrCreate(const std::string& dir,
                                             const ChipConfig& initial_config = ChipConfig());

  const std::string& dir() const { return dir_; }
  const ChipConfig& config() const { return config_; }
  const crypto::Certificate& ark() const { return ark_; }
  const crypto::Certificate& ask() const { return ask_; }
  const crypto::Certificate& vcek() const { return vcek_; }
  const std::array<uint8_t, 64>& chipId() const { return chip_id_; }

  // Writes chip.json and, when the TCB changed, re-issues the VCEK. Not thread-safe.
  Status updateConfig(const ChipConfig& config);

  // Firmware status (spec §7.1, 0 = success, 0x16 SEV_RET_INVALID_PARAM) for a MSG_REPORT_REQ /
  // MSG_KEY_REQ, with the reason in `why`: what the real firmware checks.
  uint32_t checkReportRequest(uint32_t vmpl, std::string* why) const;
  uint32_t checkKeyRequest(const DerivedKeyRequest& request, std::string* why) const;

  // A version 2/3 ATTESTATION_REPORT (1184 bytes) of the configured guest, signed with the VCEK
  // (ECDSA P-384 SHA-384 over 0x000..0x29F). FailedPrecondition when checkReportRequest fails.
  StatusOr<Bytes> signReport(const std::array<uint8_t, 64>& report_data, uint32_t vmpl) const;

  // HKDF-SHA-256(ikm = chip secret (VCEK) or VMRK secret, salt "skr-emulated-snp-derived-key/1",
  // info = root, field select, vmpl, then exactly the selected fields: policy, image id, family
  // id, measurement, the request's guest svn, the request's tcb, launch mitigation vector (0)).
  // 32 bytes. FailedPrecondition when checkKeyRequest fails. Touches the chip secrets.
  StatusOr<SecretBytes> deriveKey(const DerivedKeyRequest& request) const;

 private:
  EmulatedChip(std::string dir, ChipConfig config, crypto::Certificate ark, crypto::Certificate ask,
               std::optional<crypto::PrivateKey> ask_key, crypto::Certificate vcek,
               crypto::PrivateKey vcek_key, std::array<uint8_t, 64> chip_id,
               SecretBytes chip_secret, SecretBytes vmrk_secret)
      : dir_(std::move(dir)),
        config_(std::move(config)),
        ark_(std::move(ark)),
        ask_(std::move(ask)),
        ask_key_(std::move(ask_key)),
        vcek_(std::move(vcek)),
        vcek_key_(std::move(vcek_key)),
        chip_id_(chip_id),
        chip_secret_(std::move(chip_secret)),
        vmrk_secret_(std::move(vmrk_secret)) {}

  std::string dir_;
  ChipConfig config_;
  crypto::Certificate ark_;
  crypto::Certificate ask_;
  // Loaded only when a VCEK is issued: validating an RSA-4096 private key (primality of p and q)
  // costs ~250 ms, and reports, derived keys and collateral never need it.
  std::optional<crypto::PrivateKey> ask_key_;
  crypto::Certificate vcek_;
  crypto::PrivateKey vcek_key_;
  std::array<uint8_t, 64> chip_id_;
  SecretBytes chip_secret_;
  SecretBytes vmrk_secret_;
};

// SnpDevice over an EmulatedChip (platform "emulated"). getExtendedReport returns the VCEK, ASK
// and ARK in a GHCB certificate table, as a host with certificates configured would.
class EmulatedDevice final : public SnpDevice {
 public:
  static StatusOr<std::unique_ptr<EmulatedDevice>> open(const std::string& dir);

  std::string_view name() const override { return "emulated"; }
  StatusOr<Bytes> getReport(const std::array<uint8_t, 64>& report_data,
                            uint32_t vmpl) const override;
  StatusOr<SecretBytes> getDerivedKey(const DerivedKeyRequest& request) const override;
  StatusOr<ExtendedReport> getExtendedReport(const std::array<uint8_t, 64>& report_data,
                                             uint32_t vmpl) const override;

  const EmulatedChip& chip() const { return chip_; }

 private:
  explicit EmulatedDevice(EmulatedChip chip) : chip_(std::move(chip)) {}
  EmulatedChip chip_;
};

}  // namespace skr::snp
