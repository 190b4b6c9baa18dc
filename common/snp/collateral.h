// Collateral for verifying an SEV-SNP report (spec/azure-wire.md §5): the VCEK/VLEK and its chain,
// plus, in Azure Container Instances, the UVM endorsement and the CCE policy. Sources, in order:
//   1. the UVM security-context directory (files host-amd-cert-base64, security-policy-base64,
//      reference-info-base64; §5.1),
//   2. THIM via IMDS (GET .../metadata/THIM/amd/certification, header Metadata: true; §5.2),
//   3. AMD KDS (VCEK by chip ID and REPORTED_TCB, then cert_chain; §5.3).
// The key's TCB extensions (and THIM's tcbm) must equal the report's REPORTED_TCB; on a mismatch
// the VCEK is fetched once more from KDS for the reported TCB, then the fetch fails with both
// values. Nothing here establishes trust: verify with verifier.h.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/core/bytes.h"
#include "common/core/status.h"
#include "common/crypto/x509.h"
#include "common/http/http_transport.h"
#include "common/http/retry.h"
#include "common/snp/report.h"

namespace skr::snp {

inline constexpr std::string_view kDefaultThimUrl =
    "http://169.254.169.254/metadata/THIM/amd/certification";
inline constexpr std::string_view kDefaultKdsBaseUrl = "https://kdsintf.amd.com";
inline constexpr std::string_view kSecurityContextDirEnv = "UVM_SECURITY_CONTEXT_DIR";

struct Collateral {
  crypto::Certificate vek;                 // VCEK or VLEK
  std::vector<crypto::Certificate> chain;  // ASK or ASVK, then ARK; may be empty (pinned ones)
  std::string tcbm;                        // 16 hex digits of the TCB the key is for
  std::optional<Bytes> uvm_endorsement;    // reference-info-base64, decoded (COSE_Sign1)
  std::optional<std::string> security_policy_base64;  // security-policy-base64, trimmed
  // Where the key came from: "security-context:<dir>", "thim:<url>" or "kds:<url>".
  std::string source;
};

struct CollateralOptions {
  bool use_security_context = true;
  // The security-context directory; when unset, the first (by name) directory
  // "security-context-*" directly under `root_dir`.
  std::optional<std::filesystem::path> security_context_dir;
  std::filesystem::path root_dir = "/";
  bool use_thim = true;
  std::string thim_url = std::string(kDefaultThimUrl);
  bool use_kds = true;
  std::string kds_base_url = std::string(kDefaultKdsBaseUrl);  // no trailing slash needed
  // KDS product for reports that carry no CPUID (version 2); default Milan. v3+ reports say.
  std::optional<Generation> kds_product;
  std::chrono::milliseconds http_timeout{30'000};
  // THIM and KDS requests are retried under this policy (DESIGN §10: a 429, 5xx or transport
  // failure of an attempt is transient); unset: one attempt. `clock` and `jitter` (not owned, must
  // outlive the provider) default to the system clock and a RandomJitter of the provider's own.
  std::optional<http::RetryPolicy> retry;
  Clock* clock = nullptr;
  http::JitterSource* jitter = nullptr;
};

// $UVM_SECURITY_CONTEXT_DIR when set and non-empty (for main.cc to put into CollateralOptions).
std::optional<std::filesystem::path> securityContextDirFromEnvironment();

// Fetches and caches collateral. The cache (in memory, for the provider's lifetime) is keyed by
// (CHIP_ID, REPORTED_TCB): a second fetch for the same pair makes no HTTP request and reads no
// file. Thread-safe; the transport must outlive nothing (shared ownership).
class CollateralProvider {
 public:
  // InvalidArgument for a null transport or URLs that are not http(s)://.
  static StatusOr<std::unique_ptr<CollateralProvider>> create(
      std::shared_ptr<http::HttpTransport> transport, CollateralOptions options);

  // Collateral for `report`. Errors: Unavailable (HTTP non-200, with URL and status; transport
  // failures as the transport reports them), InvalidArgument (malformed files or responses, with
  // the path or URL), FailedPrecondition (TCB mismatch after the refetch, no source enabled).
  StatusOr<Collateral> fetch(const SnpReport& report);

 private:
  struct SecurityContext;

 public:
  // What prefetch() read and requested: the sources that need no report (the security context,
  // THIM). Only fetch() looks inside.
  struct Prefetched {
    bool done = false;      // false: fetch() reads and requests every source itself
    Status context_status;  // reading the security context failed
    std::shared_ptr<const SecurityContext> context;  // null: none (or not enabled)
    std::optional<Collateral> candidate;             // from the security context or THIM
    std::vector<Status> failures;                    // THIM's
  };
  // The part of fetch() that does not need the report, so that it can run before the report
  // exists (while the transfer key is generated). Does nothing when collateral is already cached
  // (a later fetch() finds it there, or reads and requests everything itself).
  Prefetched prefetch();
  // fetch(report), continuing from `prefetched`: the same result and errors, in the same order,
  // as fetch(report) alone.
  StatusOr<Collateral> fetch(const SnpReport& report, Prefetched prefetched);

 private:
  CollateralProvider(std::shared_ptr<http::HttpTransport> transport, CollateralOptions options)
      : transport_(std::move(transport)), options_(std::move(options)) {}

  Prefetched prefetchUncached() const;
  StatusOr<std::optional<SecurityContext>> readSecurityContext() const;
  StatusOr<Collateral> fetchFromThim() const;
  StatusOr<Collateral> fetchFromKds(const SnpReport& report, Generation generation,
                                    bool vlek) const;
  StatusOr<std::vector<crypto::Certificate>> fetchKdsChain(Generation generation, bool vlek) const;
  StatusOr<std::string> httpGet(std::string_view what, const std::string& url, bool metadata,
                                std::size_t max_bytes) const;
  Generation kdsGeneration(const SnpReport& report) const;

  std::shared_ptr<http::HttpTransport> transport_;
  CollateralOptions options_;
  mutable std::mutex mutex_;
  std::map<std::string, Collateral> cache_;
  mutable http::RandomJitter own_jitter_;
};

// KDS URLs (spec §5.3), for tests and messages. `base` without trailing slash.
// VCEK: {base}/vcek/v1/{Milan|Genoa}/{128 hex}?blSPL=&teeSPL=&snpSPL=&ucodeSPL=
//       {base}/vcek/v1/Turin/{16 hex}?fmcSPL=&blSPL=&teeSPL=&snpSPL=&ucodeSPL=
std::string kdsVcekUrl(std::string_view base, Generation generation, const SnpReport& report);
// {base}/vcek/v1/{product}/cert_chain, or /vlek/v1/{product}/cert_chain.
std::string kdsChainUrl(std::string_view base, Generation generation, bool vlek);

}  // namespace skr::snp
