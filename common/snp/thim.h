// THIM certification JSON (spec/azure-wire.md §5.1/§5.2): what Azure's IMDS endpoint
// /metadata/THIM/amd/certification returns and what ACI puts base64-encoded into the
// security-context file host-amd-cert-base64:
//   {"vcekCert":"<PEM>","tcbm":"<16 hex>","certificateChain":"<PEM ASK||PEM ARK>",
//    "cacheControl":"86400"}
// Untrusted input: sizes are bounded before parsing; nothing here establishes trust (verifier.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/status.h"
#include "common/crypto/x509.h"

namespace skr::snp {

inline constexpr std::size_t kMaxThimJsonBytes = std::size_t{64} * 1024;
inline constexpr std::size_t kMaxThimChainCertificates = 4;

struct ThimCertification {
  crypto::Certificate vcek;                // vcekCert (a VCEK or VLEK)
  std::vector<crypto::Certificate> chain;  // certificateChain in order (ASK, ARK); may be empty
  std::string tcbm;                        // 16 hex digits as sent
  uint64_t tcbm_value = 0;                 // == REPORTED_TCB as a little-endian u64 (spec §5.1)
  std::optional<uint32_t> cache_control_seconds;  // cacheControl, when present
};

// Parses the JSON. vcekCert and tcbm are required; certificateChain may be absent or empty;
// cacheControl, when present, is a string of 1..9 digits. Unknown members are ignored.
// InvalidArgument naming the member otherwise; ResourceExhausted above kMaxThimJsonBytes.
StatusOr<ThimCertification> parseThimJson(std::string_view json);

// The content of host-amd-cert-base64: standard base64 of the JSON (surrounding whitespace
// ignored). Raw JSON (first non-blank character '{') is accepted too.
StatusOr<ThimCertification> parseHostAmdCert(std::string_view content);

}  // namespace skr::snp
