// Microsoft Azure Attestation, client side (spec/azure-wire.md §1; DESIGN.md §3 "runtime data",
// "REPORT_DATA", "MAA"): the transfer key and its runtime-data JWKS, the AttestSevSnpVm request,
// and verification of the token MAA answers with (RS256 against the pinned instance's /certs,
// iss, exp/nbf, x-ms-runtime carries our transfer key, report data matches).
// Secrets touched: the transfer private key (TransferKey). MAA tokens are bearer credentials for
// AKV release: never logged (describe them with log::describeToken or MaaTokenInfo).
#pragma once

#include <array>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "common/azure/attester.h"
#include "common/azure/maa_token.h"
#include "common/azure/transfer_key.h"
#include "common/core/bytes.h"
#include "common/core/clock.h"
#include "common/core/status.h"
#include "common/crypto/pkey.h"
#include "common/http/http_transport.h"
#include "common/http/retry.h"
#include "common/jose/jwk.h"
#include "common/json/json.h"
#include "common/snp/collateral.h"

namespace skr::azure {

// The AttestSevSnpVm body (§1.2): report = base64url(JSON {SnpReport, VcekCertChain[,
// Endorsements]}), runtimeData {data: base64url(runtime data), dataType: "JSON"}[, nonce].
std::string maaRequestBody(ByteView report, const snp::Collateral& collateral,
                           std::string_view runtime_data, const std::optional<std::string>& nonce);

struct MaaOptions {
  std::string endpoint;  // "https://host[:port]" of the MAA instance: pinned issuer and /certs
  std::string api_version = "2022-08-01";
  std::chrono::milliseconds attempt_timeout{30'000};
  http::RetryPolicy retry = defaultRetryPolicy();  // dependency "MAA"
  std::chrono::seconds clock_skew{300};
  // How long fetched signing keys are reused before /certs is fetched again (an unknown kid
  // always refetches, once).
  std::chrono::seconds certs_cache{3600};

  static http::RetryPolicy defaultRetryPolicy();
};

// The Attester of Microsoft Azure Attestation.
class MaaClient : public Attester {
 public:
  // InvalidArgument unless endpoint is https://host[:port] (http:// only for loopback hosts).
  // `clock` and `jitter` outlive the client. Thread-safe.
  static StatusOr<std::unique_ptr<MaaClient>> create(std::shared_ptr<http::HttpTransport> transport,
                                                     Clock& clock, http::JitterSource& jitter,
                                                     MaaOptions options);

  // POST {endpoint}/attest/SevSnpVm?api-version=..., then verifyToken(). Errors:
  //   PermissionDenied  MAA answered 400/401/403 (evidence rejected): its error message is quoted
  //   Unavailable / DeadlineExceeded  retries or deadline exhausted
  //   DataLoss          the token does not verify (signature, unknown kid, runtime key, report
  //   data) InvalidArgument   malformed response
  StatusOr<MaaToken> attest(
      ByteView report, const snp::Collateral& collateral, const TransferKey& transfer,
      const std::array<uint8_t, 64>& report_data,
      const std::optional<std::string>& nonce = std::nullopt,
      std::optional<std::chrono::steady_clock::time_point> deadline = {}) override;

  // As attest(), for runtime data a caller chose (the Azure SKR sidecar's POST /attest/maa):
  // REPORT_DATA of `report` must be reportDataFor(runtime_data) (MAA checks it; the token's
  // x-ms-sevsnpvm-reportdata is checked too). The token is verified like verifyToken() except
  // that x-ms-runtime need not hold a transfer key. InvalidArgument for runtime data over 64 KiB.
  StatusOr<MaaToken> attestRuntimeData(
      ByteView report, const snp::Collateral& collateral, std::string_view runtime_data,
      std::optional<std::chrono::steady_clock::time_point> deadline = {});

  // Verifies a token from this instance: RS256 by the /certs key named by kid (x5c[0]; a header
  // jku is never followed), iss == endpoint, exp/nbf within skew, x-ms-attestation-type sevsnpvm,
  // x-ms-runtime.keys holds `transfer_public` (n and e equal), x-ms-sevsnpvm-reportdata ==
  // hex(report_data) when given.
  StatusOr<MaaToken> verifyToken(
      std::string_view token, const jose::Jwk& transfer_public,
      const std::optional<std::array<uint8_t, 64>>& report_data,
      std::optional<std::chrono::steady_clock::time_point> deadline = {});

  // As verifyToken() without the x-ms-runtime transfer key and report data checks: any token of
  // this instance for an SEV-SNP VM (skrctl token verify --issuer; the clock decides "now").
  StatusOr<MaaToken> verifyIssuedToken(
      std::string_view token, std::optional<std::chrono::steady_clock::time_point> deadline = {});

  const std::string& endpoint() const override { return options_.endpoint; }
  const MaaOptions& options() const { return options_; }

 private:
  MaaClient(std::shared_ptr<http::HttpTransport> transport, Clock& clock,
            http::JitterSource& jitter, MaaOptions options);
  struct Posted {
    std::string token;  // not yet verified
    int attempts = 0;
  };
  // POSTs the evidence with `runtime` as runtime data; the token MAA answered with.
  StatusOr<Posted> postEvidence(ByteView report, const snp::Collateral& collateral,
                                std::string_view runtime, const std::optional<std::string>& nonce,
                                std::optional<std::chrono::steady_clock::time_point> deadline,
                                const std::string& what);
  // verifyToken(); a null `transfer_public` skips the x-ms-runtime key check.
  StatusOr<MaaToken> verify(std::string_view token, const jose::Jwk* transfer_public,
                            const std::optional<std::array<uint8_t, 64>>& report_data,
                            std::optional<std::chrono::steady_clock::time_point> deadline);
  std::shared_ptr<http::HttpTransport> transport_;
  Clock& clock_;
  http::JitterSource& jitter_;
  MaaOptions options_;
  std::mutex mutex_;
  std::map<std::string, crypto::PublicKey> certs_;  // kid -> key
  std::chrono::steady_clock::time_point certs_fetched_{};
};

}  // namespace skr::azure
