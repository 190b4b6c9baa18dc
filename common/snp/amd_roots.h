// AMD's SEV-SNP root (ARK) and intermediates (ASK signs VCEKs, ASVK signs VLEKs) for Milan, Genoa
// and Turin, compiled into the binary and pinned by SHA-256 of their DER. The first use checks
// every embedded certificate against its pin and aborts on a difference: a build that embedded the
// wrong bytes must not run. Thread-safe (initialised once, immutable afterwards).
#pragma once

#include <array>
#include <optional>
#include <span>
#include <string_view>

#include "common/core/bytes.h"
#include "common/core/status.h"
#include "common/crypto/x509.h"
#include "common/snp/report.h"

namespace skr::snp {

enum class AmdKeyRole { Ark, Ask, Asvk };
std::string_view amdKeyRoleName(AmdKeyRole role);  // "ARK", "ASK", "ASVK"

// One embedded AMD certificate.
struct PinnedAmdCertificate {
  Generation generation;
  AmdKeyRole role;
  std::string_view file_name;   // its name under shared/fixtures/amd/, e.g. "milan_ark.pem"
  std::string_view pem;         // the embedded PEM, byte for byte as published
  std::string_view sha256_hex;  // pin: SHA-256 of the DER, lower-case hex
  crypto::Certificate certificate;
};

// All nine pinned certificates (Milan, Genoa, Turin x ARK, ASK, ASVK).
std::span<const PinnedAmdCertificate> pinnedAmdCertificates();

// The pinned certificate of `generation` and `role`; NotFound for Generation::Unknown.
StatusOr<crypto::Certificate> pinnedAmdCertificate(Generation generation, AmdKeyRole role);

// The pinned certificate whose DER has SHA-256 `sha256` (32 bytes), if any.
const PinnedAmdCertificate* findPinnedAmdCertificate(ByteView sha256);

}  // namespace skr::snp
