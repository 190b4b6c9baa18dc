// Builds a UVM endorsement like ACI's reference-info (spec/azure-wire.md §5.1): a COSE_Sign1
// (RFC 9052), tag 18, protected header {1: alg, 33: x5chain, "iss", "feed"}, payload JSON with
// x-ms-sevsnpvm-launchmeasurement and guest SVN. A test-only CBOR encoder, written independently
// of the emulator's decoder.
#pragma once

#include <string>
#include <vector>

#include "common/core/bytes.h"
#include "common/crypto/pkey.h"
#include "common/crypto/x509.h"

namespace skr::testing {

struct UvmEndorsementSpec {
  std::string launch_measurement_hex;        // 96 hex digits
  std::string payload_json;                  // when non-empty, used verbatim as the payload
  std::vector<crypto::Certificate> x5chain;  // leaf first; omitted from the header when empty
  int alg = -35;                             // ES384
  bool tagged = true;
  bool corrupt_signature = false;
};

// Signs with `key` (EC: r||s, RSA: PSS) over Sig_structure ["Signature1", protected, h'', payload].
Bytes makeUvmEndorsement(const UvmEndorsementSpec& spec, const crypto::PrivateKey& key);

}  // namespace skr::testing
