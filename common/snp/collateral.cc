#include "common/snp/collateral.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <system_error>
#include <utility>

#include "common/encoding/base64.h"
#include "common/encoding/hex.h"
#include "common/http/retry.h"
#include "common/snp/report_json.h"
#include "common/snp/thim.h"
#include "common/snp/vcek_extensions.h"

namespace skr::snp {
namespace {

constexpr std::size_t kMaxHostAmdCertFileBytes = std::size_t{128} * 1024;
constexpr std::size_t kMaxPolicyFileBytes = std::size_t{4} * 1024 * 1024;
constexpr std::size_t kMaxReferenceInfoFileBytes = std::size_t{1024} * 1024;
constexpr std::size_t kMaxCertificateResponseBytes = std::size_t{64} * 1024;
constexpr std::string_view kSecurityContextPrefix = "security-context-";

constexpr std::string_view kAsciiWhitespace = " \t\r\n";

std::string_view trimAsciiWhitespace(std::string_view s) {
  const std::size_t begin = s.find_first_not_of(kAsciiWhitespace);
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(kAsciiWhitespace) - begin + 1);
}

// The file's content, nullopt when it does not exist; errors name the path.
StatusOr<std::optional<std::string>> readOptionalFile(const std::filesystem::path& path,
                                                      std::size_t max_bytes) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::optional<std::string>();
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) return notFoundError(path.string() + ": " + ec.message());
  if (size > max_bytes) {
    return resourceExhaustedError(path.string() + " is " + std::to_string(size) + " bytes, limit " +
                                  std::to_string(max_bytes));
  }
  std::ifstream in(path, std::ios::binary);
  std::string text(static_cast<std::size_t>(size), '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (!in || in.gcount() != static_cast<std::streamsize>(text.size())) {
    return notFoundError(path.string() + ": read failed");
  }
  return std::optional<std::string>(std::move(text));
}

std::string tcbmHex(uint64_t raw) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = kDigits[raw & 0xf];
    raw >>= 4;
  }
  return out;
}

// `status` of a request to `url`, naming the collateral service and the host tried.
Status fromCollateralHost(const Status& status, const std::string& url) {
  return http::failedRequest(status, Dependency::Collateral, url);
}

std::string trimTrailingSlashes(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

bool isHttpUrl(std::string_view url) {
  return url.starts_with("http://") || url.starts_with("https://");
}

bool isVlek(const crypto::Certificate& vek) {
  return vek.subjectCommonName() == "SEV-VLEK" || vek.issuerCommonName().starts_with("SEV-VLEK");
}

// OK when the key's TCB extensions (and `tcbm`, when given) equal REPORTED_TCB; otherwise
// FailedPrecondition "VCEK TCB ... != REPORTED_TCB ..." naming the source.
Status reconcileTcb(const Collateral& c, const SnpReport& report) {
  StatusOr<VcekExtensions> ext = parseVcekExtensions(c.vek);
  if (!ext.ok()) return ext.status().withContext("collateral from " + c.source);
  const TcbVersion reported = TcbVersion::decode(report.reported_tcb, ext->generation);
  const std::string key_name = isVlek(c.vek) ? "VLEK" : "VCEK";
  if (!(ext->tcb == reported)) {
    return failedPreconditionError(
        key_name + " TCB " + describeTcb(ext->tcb) + " (" + hex64(ext->tcb.raw) + ") from " +
        c.source + " != REPORTED_TCB " + describeTcb(reported) + " (" + hex64(reported.raw) + ")");
  }
  if (!c.tcbm.empty()) {
    StatusOr<Bytes> tcbm = encoding::hexDecode(c.tcbm, 8);
    uint64_t value = 0;
    if (tcbm.ok() && tcbm->size() == 8) {
      for (uint8_t b : *tcbm) value = (value << 8) | b;
    }
    if (!tcbm.ok() || tcbm->size() != 8 || value != report.reported_tcb) {
      return failedPreconditionError("tcbm " + c.tcbm + " from " + c.source + " != REPORTED_TCB " +
                                     describeTcb(reported) + " (" + hex64(reported.raw) + ")");
    }
  }
  return okStatus();
}

}  // namespace

struct CollateralProvider::SecurityContext {
  std::filesystem::path dir;
  std::optional<ThimCertification> host_amd_cert;
  std::optional<Bytes> uvm_endorsement;
  std::optional<std::string> security_policy_base64;
};

std::optional<std::filesystem::path> securityContextDirFromEnvironment() {
  const char* value = std::getenv(std::string(kSecurityContextDirEnv).c_str());
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::filesystem::path(value);
}

std::string kdsVcekUrl(std::string_view base, Generation generation, const SnpReport& report) {
  const TcbVersion tcb = TcbVersion::decode(report.reported_tcb, generation);
  const bool turin = generation == Generation::Turin;
  const ByteView hwid = ByteView(report.chip_id).first(turin ? 8 : report.chip_id.size());
  std::string url = std::string(base) + "/vcek/v1/" + std::string(generationName(generation)) +
                    "/" + encoding::hexEncode(hwid) + "?";
  if (turin) url += "fmcSPL=" + std::to_string(tcb.fmc.value_or(0)) + "&";
  url += "blSPL=" + std::to_string(tcb.bootloader) + "&teeSPL=" + std::to_string(tcb.tee) +
         "&snpSPL=" + std::to_string(tcb.snp) + "&ucodeSPL=" + std::to_string(tcb.microcode);
  return url;
}

std::string kdsChainUrl(std::string_view base, Generation generation, bool vlek) {
  return std::string(base) + (vlek ? "/vlek/v1/" : "/vcek/v1/") +
         std::string(generationName(generation)) + "/cert_chain";
}

StatusOr<std::unique_ptr<CollateralProvider>> CollateralProvider::create(
    std::shared_ptr<http::HttpTransport> transport, CollateralOptions options) {
  if (!transport) return invalidArgumentError("collateral provider: no HTTP transport given");
  options.kds_base_url = trimTrailingSlashes(std::move(options.kds_base_url));
  if (options.use_thim && !isHttpUrl(options.thim_url)) {
    return invalidArgumentError("collateral provider: THIM URL '" + options.thim_url +
                                "' is not http:// or https://");
  }
  if (options.use_kds && !isHttpUrl(options.kds_base_url)) {
    return invalidArgumentError("collateral provider: KDS base URL '" + options.kds_base_url +
                                "' is not http:// or https://");
  }
  if (options.kds_product && *options.kds_product == Generation::Unknown) {
    return invalidArgumentError("collateral provider: KDS product must be Milan, Genoa or Turin");
  }
  return std::unique_ptr<CollateralProvider>(
      new CollateralProvider(std::move(transport), std::move(options)));
}

StatusOr<std::string> CollateralProvider::httpGet(std::string_view what, const std::string& url,
                                                  bool metadata, std::size_t max_bytes) const {
  http::HttpRequest request;
  request.method = "GET";
  request.url = url;
  if (metadata) request.headers.push_back({"Metadata", "true"});
  request.timeout = options_.http_timeout;
  request.max_response_bytes = max_bytes;
  if (!options_.retry) {
    StatusOr<http::HttpResponse> response = transport_->send(request);
    if (!response.ok() || response->status != 200) {
      const ErrorDetails details =
          http::transportFailure(url, 1, response.ok() ? response->status : 0);
      const Status failed =
          !response.ok() ? response.status().withContext(std::string(what) + " GET " + url)
                         : unavailableError(std::string(what) + " GET " + url + ": HTTP " +
                                            std::to_string(response->status) + ", expected 200");
      return fromCollateralHost(failed.withDetails(details), url);
    }
    return std::move(response->body);
  }
  http::RetryPolicy policy = *options_.retry;
  policy.dependency = std::string(what);
  Clock& clock = options_.clock != nullptr ? *options_.clock : systemClock();
  http::JitterSource& jitter = options_.jitter != nullptr ? *options_.jitter : own_jitter_;
  StatusOr<http::RetriedResponse> retried =
      http::sendWithRetry(*transport_, request, policy, clock, jitter);
  if (!retried.ok()) {
    return fromCollateralHost(retried.status().withContext(std::string(what) + " GET " + url), url);
  }
  if (retried->response.status != 200) {
    const ErrorDetails details =
        http::transportFailure(url, retried->attempts, retried->response.status);
    std::string message = std::string(what) + " GET " + url + ": HTTP " +
                          std::to_string(retried->response.status) + ", expected 200";
    if (!retried->gave_up.empty()) message += " (" + retried->gave_up + ")";
    return fromCollateralHost(unavailableError(message).withDetails(details), url);
  }
  return std::move(retried->response.body);
}

StatusOr<std::optional<CollateralProvider::SecurityContext>>
CollateralProvider::readSecurityContext() const {
  using Result = std::optional<SecurityContext>;
  std::optional<std::filesystem::path> dir = options_.security_context_dir;
  if (!dir) {
    std::error_code ec;
    std::vector<std::filesystem::path> found;
    for (std::filesystem::directory_iterator it(options_.root_dir, ec), end; !ec && it != end;
         it.increment(ec)) {
      const std::string name = it->path().filename().string();
      std::error_code type_ec;
      if (name.starts_with(kSecurityContextPrefix) && it->is_directory(type_ec)) {
        found.push_back(it->path());
      }
    }
    if (found.empty()) return Result();
    dir = *std::min_element(found.begin(), found.end());
  }
  std::error_code ec;
  if (!std::filesystem::is_directory(*dir, ec)) {
    return notFoundError("security context " + dir->string() + " is not a directory");
  }

  SecurityContext context;
  context.dir = *dir;
  SKR_ASSIGN_OR_RETURN(std::optional<std::string> host_cert,
                       readOptionalFile(*dir / "host-amd-cert-base64", kMaxHostAmdCertFileBytes));
  if (host_cert) {
    StatusOr<ThimCertification> parsed = parseHostAmdCert(*host_cert);
    if (!parsed.ok()) {
      return parsed.status().withContext((*dir / "host-amd-cert-base64").string());
    }
    context.host_amd_cert = std::move(parsed).value();
  }
  SKR_ASSIGN_OR_RETURN(std::optional<std::string> policy,
                       readOptionalFile(*dir / "security-policy-base64", kMaxPolicyFileBytes));
  if (policy) context.security_policy_base64 = std::string(trimAsciiWhitespace(*policy));
  SKR_ASSIGN_OR_RETURN(
      std::optional<std::string> reference,
      readOptionalFile(*dir / "reference-info-base64", kMaxReferenceInfoFileBytes));
  if (reference) {
    StatusOr<Bytes> decoded =
        encoding::base64Decode(trimAsciiWhitespace(*reference), kMaxReferenceInfoFileBytes);
    if (!decoded.ok()) {
      return decoded.status().withContext((*dir / "reference-info-base64").string());
    }
    context.uvm_endorsement = std::move(decoded).value();
  }
  return Result(std::move(context));
}

StatusOr<Collateral> CollateralProvider::fetchFromThim() const {
  SKR_ASSIGN_OR_RETURN(std::string body,
                       httpGet("THIM", options_.thim_url, /*metadata=*/true, kMaxThimJsonBytes));
  StatusOr<ThimCertification> thim = parseThimJson(body);
  if (!thim.ok()) {
    return fromCollateralHost(thim.status().withContext("THIM GET " + options_.thim_url),
                              options_.thim_url);
  }
  return Collateral{std::move(thim->vcek), std::move(thim->chain), std::move(thim->tcbm),
                    std::nullopt,          std::nullopt,           "thim:" + options_.thim_url};
}

StatusOr<std::vector<crypto::Certificate>> CollateralProvider::fetchKdsChain(Generation generation,
                                                                             bool vlek) const {
  const std::string url = kdsChainUrl(options_.kds_base_url, generation, vlek);
  SKR_ASSIGN_OR_RETURN(std::string body,
                       httpGet("KDS", url, /*metadata=*/false, kMaxCertificateResponseBytes));
  StatusOr<std::vector<crypto::Certificate>> chain =
      crypto::Certificate::parsePemBundle(body, kMaxThimChainCertificates);
  if (!chain.ok()) return fromCollateralHost(chain.status().withContext("KDS GET " + url), url);
  if (chain->size() != 2) {
    return fromCollateralHost(
        invalidArgumentError("KDS GET " + url + ": " + std::to_string(chain->size()) +
                             " certificates, expected 2 (ASK or ASVK, then ARK)"),
        url);
  }
  return chain;
}

StatusOr<Collateral> CollateralProvider::fetchFromKds(const SnpReport& report,
                                                      Generation generation, bool vlek) const {
  if (vlek) {
    return failedPreconditionError(
        "KDS: the report is signed with a VLEK, which AMD KDS does not serve (it comes from the "
        "host: security context or THIM)");
  }
  if (std::all_of(report.chip_id.begin(), report.chip_id.end(), [](uint8_t b) { return b == 0; })) {
    return failedPreconditionError(
        "KDS: the report's CHIP_ID is zero (MASK_CHIP_ID), so its VCEK cannot be requested");
  }
  const std::string url = kdsVcekUrl(options_.kds_base_url, generation, report);
  SKR_ASSIGN_OR_RETURN(std::string body,
                       httpGet("KDS", url, /*metadata=*/false, kMaxCertificateResponseBytes));
  StatusOr<crypto::Certificate> vcek = crypto::Certificate::fromPemOrDer(asBytes(body));
  if (!vcek.ok()) return fromCollateralHost(vcek.status().withContext("KDS GET " + url), url);
  SKR_ASSIGN_OR_RETURN(std::vector<crypto::Certificate> chain,
                       fetchKdsChain(generation, /*vlek=*/false));
  return Collateral{std::move(vcek).value(),
                    std::move(chain),
                    tcbmHex(report.reported_tcb),
                    std::nullopt,
                    std::nullopt,
                    "kds:" + url};
}

Generation CollateralProvider::kdsGeneration(const SnpReport& report) const {
  const Generation from_cpuid = report.generation();
  if (from_cpuid != Generation::Unknown) return from_cpuid;
  return options_.kds_product.value_or(Generation::Milan);
}

CollateralProvider::Prefetched CollateralProvider::prefetchUncached() const {
  Prefetched out;
  out.done = true;
  if (options_.use_security_context) {
    StatusOr<std::optional<SecurityContext>> read = readSecurityContext();
    if (!read.ok()) {
      out.context_status = read.status();
      return out;
    }
    if (*read) out.context = std::make_shared<const SecurityContext>(std::move(**read));
  }
  // First source that answers.
  if (out.context && out.context->host_amd_cert) {
    const ThimCertification& cert = *out.context->host_amd_cert;
    out.candidate =
        Collateral{cert.vcek,    cert.chain,   cert.tcbm,
                   std::nullopt, std::nullopt, "security-context:" + out.context->dir.string()};
  }
  if (!out.candidate && options_.use_thim) {
    StatusOr<Collateral> thim = fetchFromThim();
    if (thim.ok()) {
      out.candidate = std::move(thim).value();
    } else {
      out.failures.push_back(thim.status());
    }
  }
  return out;
}

CollateralProvider::Prefetched CollateralProvider::prefetch() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!cache_.empty()) return Prefetched{};
  }
  return prefetchUncached();
}

StatusOr<Collateral> CollateralProvider::fetch(const SnpReport& report) {
  return fetch(report, Prefetched{});
}

StatusOr<Collateral> CollateralProvider::fetch(const SnpReport& report, Prefetched prefetched) {
  const std::string key = encoding::hexEncode(report.chip_id) + "/" + tcbmHex(report.reported_tcb);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = cache_.find(key);
    if (it != cache_.end()) return it->second;
  }

  const bool report_vlek = report.signingKey() == SigningKey::Vlek;
  if (!prefetched.done) prefetched = prefetchUncached();
  if (!prefetched.context_status.ok()) return prefetched.context_status;
  const std::shared_ptr<const SecurityContext> context = prefetched.context;
  std::optional<Collateral> candidate = std::move(prefetched.candidate);
  std::vector<Status> failures = std::move(prefetched.failures);
  if (!candidate && options_.use_kds) {
    StatusOr<Collateral> kds = fetchFromKds(report, kdsGeneration(report), report_vlek);
    if (kds.ok()) {
      candidate = std::move(kds).value();
    } else {
      failures.push_back(kds.status());
    }
  }
  if (!candidate) {
    if (failures.empty()) {
      return failedPreconditionError(
          "collateral: no source: no security context found and THIM and KDS are disabled");
    }
    if (failures.size() == 1) return failures.front().withContext("collateral");
    std::string message = "collateral: no source answered";
    for (const Status& f : failures) message += "; " + f.message();
    return Status(failures.back().code(), message).withDetails(failures.front().details());
  }

  // Reconcile with REPORTED_TCB; refetch once from KDS for the reported TCB.
  Status reconciled = reconcileTcb(*candidate, report);
  if (!reconciled.ok()) {
    if (reconciled.code() != StatusCode::FailedPrecondition) {
      return reconciled.withContext("collateral");
    }
    if (!options_.use_kds || candidate->source.starts_with("kds:")) {
      return reconciled.withContext("collateral");
    }
    StatusOr<VcekExtensions> stale = parseVcekExtensions(candidate->vek);
    const Generation generation = stale.ok() ? stale->generation : kdsGeneration(report);
    StatusOr<Collateral> refetched = fetchFromKds(report, generation, isVlek(candidate->vek));
    if (!refetched.ok()) {
      return Status(refetched.status().code(),
                    "collateral: " + reconciled.message() +
                        "; refetch for REPORTED_TCB: " + refetched.status().message())
          .withDetails(refetched.status().details());
    }
    Status again = reconcileTcb(*refetched, report);
    if (!again.ok()) {
      return Status(again.code(), "collateral: " + reconciled.message() +
                                      "; after refetching: " + again.message());
    }
    candidate = std::move(refetched).value();
  }

  // A VLEK's chain is not in the report's path to KDS; fetch it when the host sent none.
  if (candidate->chain.empty() && options_.use_kds && isVlek(candidate->vek)) {
    StatusOr<VcekExtensions> ext = parseVcekExtensions(candidate->vek);
    if (!ext.ok()) return ext.status().withContext("collateral from " + candidate->source);
    StatusOr<std::vector<crypto::Certificate>> chain = fetchKdsChain(ext->generation, true);
    if (!chain.ok()) return chain.status().withContext("collateral: VLEK chain");
    candidate->chain = std::move(chain).value();
  }

  if (context) {
    candidate->uvm_endorsement = context->uvm_endorsement;
    candidate->security_policy_base64 = context->security_policy_base64;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  cache_.insert_or_assign(key, *candidate);
  return std::move(candidate).value();
}

}  // namespace skr::snp
