// Attester: what the release flow needs from an attestation service (DESIGN.md §3 "MAA"): turn an
// SNP report and its collateral into a verified token binding the transfer key. MaaClient is the
// implementation; tests script one with tests/fakes/fake_attester.h.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "common/azure/maa_token.h"
#include "common/azure/transfer_key.h"
#include "common/core/bytes.h"
#include "common/core/status.h"
#include "common/snp/collateral.h"

namespace skr::azure {

class Attester {
 public:
  virtual ~Attester() = default;

  // Presents `report` (whose REPORT_DATA is `report_data` = reportDataFor(runtime data of
  // `transfer`)) with `collateral` and returns the verified token. `deadline` bounds retries.
  // Errors carry ErrorDetails (dependency Maa, host, attempts); see MaaClient::attest.
  virtual StatusOr<MaaToken> attest(
      ByteView report, const snp::Collateral& collateral, const TransferKey& transfer,
      const std::array<uint8_t, 64>& report_data, const std::optional<std::string>& nonce,
      std::optional<std::chrono::steady_clock::time_point> deadline) = 0;

  // "https://host[:port]" of the service: the host named in progress events and failures.
  virtual const std::string& endpoint() const = 0;
};

}  // namespace skr::azure
