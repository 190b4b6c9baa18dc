// Local verification of an SEV-SNP attestation report against AMD's PKI, i.e. what MAA checks
// (spec/azure-wire.md §5.4, §6.3): the ARK is a pinned AMD root (amd_roots.h) or an explicitly
// trusted one, ASK/ASVK <- ARK and VCEK/VLEK <- ASK/ASVK (RSASSA-PSS SHA-384), each valid at the
// verification time, the report signature, the report fields MAA rejects, hwID == CHIP_ID and the
// key's TCB == REPORTED_TCB. Signatures are checked one by one with Certificate::verifySignedBy,
// not with OpenSSL's chain builder (AMD certificates have serial 0 and no AKI).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/core/bytes.h"
#include "common/core/status.h"
#include "common/crypto/x509.h"
#include "common/snp/report.h"
#include "common/snp/vcek_extensions.h"

namespace skr::snp {

// The checks in the order they run; a failure's message starts with the check's name.
//   report            the bytes are a whole report (size)                  InvalidArgument
//   vcek-extensions   AMD's extensions of the key certificate parse        InvalidArgument
//   ark               the root is pinned (by SHA-256 of its DER) or explicitly trusted
//                     (PermissionDenied), is of the key's generation and self-signed (DataLoss),
//                     valid at the time (FailedPrecondition)
//   ask               the intermediate is signed by the ARK (DataLoss), valid (FailedPrecondition)
//   vcek              the key certificate is signed by the intermediate, valid (as above)
//   report-signature  ECDSA P-384/SHA-384 over bytes 0x000..0x29F with the key (DataLoss)
//   report-fields     version 2/3/5, SIGNATURE_ALGO 1, POLICY bit 17 set, VMPL 0..3, unsigned
//                     signature bytes 0x330..0x49F zero, CPUID generation (v3+) == the key's
//                     generation (InvalidArgument); DEBUG clear when reject_debug
//                     (PermissionDenied)
//   signing-key       the report's SIGNING_KEY (VCEK/VLEK) is the certificate's kind (DataLoss)
//   chip-id           the VCEK's hwID == CHIP_ID (Turin: its first 8 bytes) (DataLoss); skipped
//                     when the certificate has no hwID (VLEK) or require_hwid_match is false
//   tcb               the key's TCB extensions == REPORTED_TCB (DataLoss)
// For a VLEK the intermediate and key checks are named "asvk" / "vlek" / "vlek-extensions".
struct VerifyOptions {
  // Verification time; nullopt = now (system clock).
  std::optional<crypto::TimePoint> at;
  // Roots accepted besides AMD's pinned ARKs, matched byte for byte (e.g. the emulated chip's).
  std::vector<crypto::Certificate> extra_trusted_arks;
  bool require_hwid_match = true;
  // MAA accepts debug guests and reports them (x-ms-sevsnpvm-is-debuggable); release policy
  // decides. Set to refuse them here.
  bool reject_debug = false;
};

struct VerificationResult {
  std::vector<std::string> passed_checks;       // names, in order
  std::vector<std::string> skipped_checks;      // "<name>: <why>"
  Generation generation = Generation::Unknown;  // from the key's productName
  SigningKey signing_key = SigningKey::Vcek;
  bool ark_pinned = false;  // false: one of extra_trusted_arks
  std::string ark_subject;
  std::string ark_sha256_hex;
  VcekExtensions key_extensions;
  TcbVersion reported_tcb;  // decoded for `generation`
  bool debug = false;       // POLICY.DEBUG
};

// Verifies `report_bytes` (exactly kReportSize bytes) signed by `vek` (a VCEK or VLEK).
// `chain` is [ASK or ASVK, ARK], [ASK or ASVK] (the pinned ARK of the key's generation is used)
// or empty (the pinned intermediate and ARK are used); also [ARK, intermediate], or ARK, ASK and
// ASVK in any order (the intermediate that signed `vek` is used). Returns the first failing check.
StatusOr<VerificationResult> verifyReport(ByteView report_bytes, const crypto::Certificate& vek,
                                          const std::vector<crypto::Certificate>& chain,
                                          const VerifyOptions& options);
// As above for a parsed report (re-serialized: serialize(parse(b)) == b).
StatusOr<VerificationResult> verifyReport(const SnpReport& report, const crypto::Certificate& vek,
                                          const std::vector<crypto::Certificate>& chain,
                                          const VerifyOptions& options);

}  // namespace skr::snp
