// The UVM endorsement MAA accepts in Endorsements.Uvm[] (spec/azure-wire.md §1.2, §5.1): the
// "reference-info" COSE_Sign1 (RFC 9052 §4.2) that Microsoft signs over the utility VM's launch
// measurement. Its payload is JSON with "x-ms-sevsnpvm-launchmeasurement" (hex, 48 bytes) and
// "x-ms-sevsnpvm-guestsvn"; its protected header carries alg, the signer's certificate chain
// (x5chain, label 33) and, in ACI, "iss" (a did:x509) and "feed". Only the CBOR subset COSE_Sign1
// uses is decoded; input is untrusted and bounded (size, nesting, item counts).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/core/bytes.h"
#include "common/core/status.h"
#include "common/crypto/x509.h"

namespace skr::emulator {

inline constexpr std::size_t kMaxUvmEndorsementBytes = 64 * 1024;

struct UvmEndorsement {
  int64_t alg = 0;                           // COSE algorithm: -7/-35/-36 ES*, -37/-38/-39 PS*
  std::optional<std::string> issuer;         // protected "iss", when present
  std::optional<std::string> feed;           // protected "feed", when present
  std::vector<crypto::Certificate> x5chain;  // protected label 33, leaf first; may be empty
  Bytes protected_header;                    // the serialized protected map, as signed
  Bytes payload;
  Bytes signature;
  std::string launch_measurement_hex;    // lower case, 96 hex digits
  std::optional<std::string> guest_svn;  // as in the payload (string or number)

  // Parses a COSE_Sign1 (tagged 18 or untagged) whose payload is the reference-info JSON.
  // InvalidArgument naming what is malformed: "COSE_Sign1: ...", "UVM endorsement payload: ...".
  static StatusOr<UvmEndorsement> parse(ByteView cose);

  // Verifies the signature over Sig_structure ["Signature1", protected, h'', payload] with the
  // x5chain leaf, and each x5chain certificate against the next one. It is not anchored in
  // Microsoft's signing root (the emulator has none): FailedPrecondition without an x5chain,
  // InvalidArgument for an algorithm that does not fit the key, DataLoss when a signature fails.
  Status verifySignature() const;
};

// CBOR encoding of the COSE Sig_structure for COSE_Sign1 (RFC 9052 §4.4) with empty external AAD.
Bytes coseSign1SigStructure(ByteView protected_header, ByteView payload);

}  // namespace skr::emulator
