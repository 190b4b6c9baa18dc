// What the emulated Microsoft Azure Attestation does with a SEV-SNP attestation request
// (spec/azure-wire.md §1.2, §1.5, §9), independent of HTTP: parse the AttestSevSnpVmRequest,
// verify the evidence as MAA does, and map it to the token claims. Pure functions over untrusted
// input (every size bounded); maa_service.cc adds routes, keys and the clock.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/bytes.h"
#include "common/core/status.h"
#include "common/crypto/x509.h"
#include "common/json/json.h"
#include "common/snp/report.h"
#include "common/snp/verifier.h"
#include "emulator/uvm_endorsement.h"

namespace skr::emulator {

// Token lifetime of real MAA (exp - iat in the spec's example token).
inline constexpr int64_t kMaaTokenLifetimeSeconds = 8 * 60 * 60;
// Size bounds: the whole request body (larger ones get 413), then each decoded member.
inline constexpr std::size_t kMaxMaaRequestBytes = 512 * 1024;
inline constexpr std::size_t kMaxMaaDataBytes = 256 * 1024;  // runtimeData / initTimeData
inline constexpr std::size_t kMaxMaaReportJsonBytes = 512 * 1024;
inline constexpr std::size_t kMaxMaaNonceBytes = 1024;
inline constexpr std::size_t kMaxUvmEndorsements = 4;

// The emulator's attestation policy (fixed: every verified report is permitted). Its SHA-256 is
// the x-ms-policy-hash claim, as MAA hashes the instance's policy.
inline constexpr std::string_view kEmulatedMaaPolicy =
    "version=1.0; authorizationrules { => permit(); }; issuancerules { }; "
    "// skr-emulator default SEV-SNP policy (emulated, not Azure)";

// runtimeData / initTimeData: {"data": base64url, "dataType": "JSON" | "Binary"}.
struct MaaData {
  enum class Type { Json, Binary };
  Type type = Type::Json;
  Bytes bytes;           // decoded `data`, what the report binds by SHA-256
  json::ObjectPtr json;  // the parsed object when type is kJson
};

// AttestSevSnpVmRequest (§1.2) with the inner `report` document decoded.
struct AttestSevSnpVmRequest {
  Bytes report;  // SnpReport: the 1184-byte report
  // VcekCertChain: the VCEK, then (optionally) ASK and ARK; 1..3 certificates.
  std::vector<crypto::Certificate> vcek_cert_chain;
  std::vector<Bytes> uvm_endorsements;  // Endorsements.Uvm[], COSE_Sign1 each
  MaaData runtime_data;
  std::optional<MaaData> init_time_data;
  std::optional<std::string> nonce;  // a string, or a number sent as one

  // Parses the JSON body. Base64 fields are decoded leniently (either alphabet, padding
  // optional) as MAA accepts them. InvalidArgument naming the member and what is wrong.
  static StatusOr<AttestSevSnpVmRequest> parse(std::string_view body);
};

struct MaaVerifyOptions {
  crypto::TimePoint at;                           // certificate validity time
  std::vector<crypto::Certificate> trusted_arks;  // besides AMD's pinned roots
};

struct MaaEvidence {
  snp::SnpReport report;
  snp::VerificationResult verification;
  std::optional<UvmEndorsement> uvm;  // the accepted UVM endorsement, when one was sent
};

// Verifies `request` as MAA does. Each failure is InvalidArgument / PermissionDenied / DataLoss /
// FailedPrecondition with a message starting with the failed check:
//   "report: ..."                 not a parsable 1184-byte report
//   "<verifier check>: ..."      snp::verifyReport (ark, ask, vcek, report-signature, tcb, ...)
//   "runtime-data: ..."          SHA-256(runtimeData) != REPORT_DATA[0:32], or REPORT_DATA[32:64]
//                                not zero
//   "init-time-data: ..."        SHA-256(initTimeData) != HOST_DATA
//   "uvm-endorsement: ..."       COSE_Sign1 malformed, its signature or x5chain does not verify,
//                                or its launch measurement != MEASUREMENT
StatusOr<MaaEvidence> verifyAttestation(const AttestSevSnpVmRequest& request,
                                        const MaaVerifyOptions& options);

// The x-ms-sevsnpvm-* claims of §1.5 for `report` (hex lower case, booleans from POLICY, numbers
// for SVNs and VMPL); the *-svn claims come from `reported_tcb` (REPORTED_TCB decoded for the
// key's generation).
json::ObjectPtr sevSnpReportClaims(const snp::SnpReport& report,
                                   const snp::TcbVersion& reported_tcb);

struct MaaTokenTimes {
  int64_t issued_at = 0;
  int64_t lifetime_seconds = kMaaTokenLifetimeSeconds;
};

// Every claim of the token: iss, iat, nbf, exp, jti, nonce, x-ms-ver, x-ms-attestation-type,
// x-ms-compliance-status (only with an accepted UVM endorsement), x-ms-policy-hash,
// x-ms-runtime / x-ms-inittime (JSON data), the x-ms-sevsnpvm-* claims and "x-ms-emulated": true.
json::ObjectPtr maaTokenClaims(const AttestSevSnpVmRequest& request, const MaaEvidence& evidence,
                               const std::string& issuer, const MaaTokenTimes& times,
                               const std::string& jti);

}  // namespace skr::emulator
