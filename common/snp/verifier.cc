#include "common/snp/verifier.h"

#include <algorithm>
#include <ctime>
#include <utility>

#include "common/crypto/digest.h"
#include "common/crypto/signature.h"
#include "common/encoding/hex.h"
#include "common/snp/amd_roots.h"
#include "common/snp/report_json.h"

namespace skr::snp {
namespace {

Status checkFailed(StatusCode code, std::string_view check, const std::string& message) {
  return Status(code, std::string(check) + ": " + message);
}

std::string formatUtc(crypto::TimePoint t) {
  if (t == crypto::TimePoint::max()) return "9999-12-31T23:59:59Z";
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  if (gmtime_r(&tt, &tm) == nullptr) return std::to_string(static_cast<long long>(tt));
  char buf[32];
  if (std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
    return std::to_string(static_cast<long long>(tt));
  }
  return buf;
}

// A certificate's name for messages: its CN, else the whole subject.
std::string nameOf(const crypto::Certificate& c) {
  std::string cn = c.subjectCommonName();
  return cn.empty() ? c.subjectOneLine() : cn;
}

Status checkValidity(std::string_view check, const crypto::Certificate& c, crypto::TimePoint at) {
  if (at < c.notBefore() || at > c.notAfter()) {
    return checkFailed(StatusCode::FailedPrecondition, check,
                       nameOf(c) + " not valid at " + formatUtc(at) + " (valid " +
                           formatUtc(c.notBefore()) + " .. " + formatUtc(c.notAfter()) + ")");
  }
  return okStatus();
}

Status checkSignedBy(std::string_view check, const crypto::Certificate& subject,
                     const crypto::Certificate& issuer) {
  Status s = subject.verifySignedBy(issuer);
  if (s.ok()) return s;
  return checkFailed(
      StatusCode::DataLoss, check,
      nameOf(subject) + " is not signed by " + nameOf(issuer) + " (" + s.message() + ")");
}

bool isVlekCertificate(const crypto::Certificate& vek) {
  return vek.subjectCommonName() == "SEV-VLEK" || vek.issuerCommonName().starts_with("SEV-VLEK");
}

std::string sha256Hex(const crypto::Certificate& c) {
  return encoding::hexEncode(c.sha256Fingerprint());
}

// The chain in the order verify() reads it: [intermediate, ARK], [intermediate] or []. Real tools
// hand out bundles in other shapes: KDS cert_chain is ASK (or ASVK) then ARK, and operators
// concatenate ASK, ASVK and ARK into one file in any order. A two-certificate chain is taken as
// given unless its first certificate is the self-issued one (then the two are swapped); from
// three on (repeated certificates count once), the root is the one self-issued certificate and
// the intermediate is the one that signed the VCEK or VLEK (else the one named as its issuer), so
// a VCEK report takes the ASK and a VLEK report the ASVK from the same bundle.
StatusOr<std::vector<crypto::Certificate>> arrangeChain(
    const std::vector<crypto::Certificate>& given, const crypto::Certificate& vek) {
  if (given.size() <= 1) return given;
  if (given.size() == 2) {
    if (given[0].isSelfIssued() && !given[1].isSelfIssued()) {
      return std::vector<crypto::Certificate>{given[1], given[0]};
    }
    return given;
  }
  std::vector<crypto::Certificate> chain;
  for (const crypto::Certificate& c : given) {
    const bool repeated =
        std::any_of(chain.begin(), chain.end(),
                    [&](const crypto::Certificate& d) { return d.der() == c.der(); });
    if (!repeated) chain.push_back(c);
  }
  std::vector<crypto::Certificate> roots;
  std::vector<crypto::Certificate> intermediates;
  for (const crypto::Certificate& c : chain)
    (c.isSelfIssued() ? roots : intermediates).push_back(c);
  if (chain.size() > 3 || roots.size() > 1 || intermediates.empty()) {
    return checkFailed(StatusCode::InvalidArgument, "ark",
                       "chain has " + std::to_string(chain.size()) + " certificates (" +
                           std::to_string(roots.size()) +
                           " self-signed), expected an ARK and the ASK and/or ASVK, in any order");
  }
  const crypto::Certificate* intermediate = nullptr;
  for (const crypto::Certificate& c : intermediates) {
    if (vek.verifySignedBy(c).ok()) intermediate = &c;
  }
  for (const crypto::Certificate& c : intermediates) {
    if (intermediate == nullptr && c.subjectCommonName() == vek.issuerCommonName()) {
      intermediate = &c;
    }
  }
  if (intermediate == nullptr) {
    std::string names;
    for (const crypto::Certificate& c : intermediates) {
      names += (names.empty() ? "" : ", ") + nameOf(c);
    }
    return checkFailed(
        StatusCode::DataLoss, isVlekCertificate(vek) ? "vlek" : "vcek",
        nameOf(vek) + " is signed by none of the chain's intermediates (" + names + ")");
  }
  std::vector<crypto::Certificate> arranged{*intermediate};
  if (!roots.empty()) arranged.push_back(roots.front());
  return arranged;
}

// The trusted root: the presented one if pinned or explicitly trusted, else (omitted) the pinned
// ARK of `generation` or an explicitly trusted ARK that signed `intermediate`.
struct TrustedArk {
  crypto::Certificate certificate;
  bool pinned;
};

StatusOr<TrustedArk> selectArk(const std::vector<crypto::Certificate>& chain, Generation generation,
                               const VcekExtensions& ext, const VerifyOptions& options) {
  constexpr std::string_view kCheck = "ark";
  if (chain.size() == 2) {
    const crypto::Certificate& presented = chain[1];
    const Bytes sha = presented.sha256Fingerprint();
    if (const PinnedAmdCertificate* pinned = findPinnedAmdCertificate(sha)) {
      if (pinned->role != AmdKeyRole::Ark) {
        return checkFailed(StatusCode::PermissionDenied, kCheck,
                           "presented ARK is AMD's " + std::string(amdKeyRoleName(pinned->role)) +
                               " " + nameOf(presented) + ", not a root");
      }
      if (pinned->generation != generation) {
        return checkFailed(StatusCode::DataLoss, kCheck,
                           "presented ARK is the pinned " + nameOf(presented) + " of " +
                               std::string(generationName(pinned->generation)) +
                               " but the key's productName '" + ext.product_name + "' is " +
                               std::string(generationName(generation)));
      }
      return TrustedArk{pinned->certificate, true};
    }
    for (const crypto::Certificate& extra : options.extra_trusted_arks) {
      if (extra.der() == presented.der()) return TrustedArk{presented, false};
    }
    return checkFailed(
        StatusCode::PermissionDenied, kCheck,
        "presented ARK " + nameOf(presented) + " is not a pinned AMD root (sha256 " +
            encoding::hexEncode(sha) + ") and " +
            (options.extra_trusted_arks.empty()
                 ? std::string("no --trust-ark was given")
                 : "matches none of the " + std::to_string(options.extra_trusted_arks.size()) +
                       " explicitly trusted ARKs"));
  }
  StatusOr<crypto::Certificate> pinned = pinnedAmdCertificate(generation, AmdKeyRole::Ark);
  if (!pinned.ok())
    return checkFailed(StatusCode::PermissionDenied, kCheck, pinned.status().message());
  if (!chain.empty() && !chain[0].verifySignedBy(*pinned).ok()) {
    for (const crypto::Certificate& extra : options.extra_trusted_arks) {
      if (chain[0].verifySignedBy(extra).ok()) return TrustedArk{extra, false};
    }
  }
  return TrustedArk{std::move(pinned).value(), true};
}

StatusOr<VerificationResult> verify(ByteView bytes, const crypto::Certificate& vek,
                                    const std::vector<crypto::Certificate>& given_chain,
                                    const VerifyOptions& options) {
  VerificationResult result;
  const crypto::TimePoint at = options.at.value_or(std::chrono::system_clock::now());
  const bool vlek = isVlekCertificate(vek);
  const std::string key_check = vlek ? "vlek" : "vcek";
  const std::string intermediate_check = vlek ? "asvk" : "ask";
  const std::string key_name = vlek ? "VLEK" : "VCEK";

  if (bytes.size() != kReportSize) {
    return checkFailed(StatusCode::InvalidArgument, "report",
                       "SNP report is " + std::to_string(bytes.size()) + " bytes, expected " +
                           std::to_string(kReportSize));
  }
  result.passed_checks.emplace_back("report");

  SKR_ASSIGN_OR_RETURN(const std::vector<crypto::Certificate> chain,
                       arrangeChain(given_chain, vek));

  const std::string extensions_check = key_check + "-extensions";
  StatusOr<VcekExtensions> ext = parseVcekExtensions(vek);
  if (!ext.ok()) {
    return checkFailed(StatusCode::InvalidArgument, extensions_check, ext.status().message());
  }
  result.key_extensions = *ext;
  result.generation = ext->generation;
  result.passed_checks.push_back(extensions_check);

  // ark
  SKR_ASSIGN_OR_RETURN(TrustedArk ark, selectArk(chain, ext->generation, *ext, options));
  {
    Status self = ark.certificate.verifySignedBy(ark.certificate);
    if (!self.ok()) {
      return checkFailed(StatusCode::DataLoss, "ark",
                         nameOf(ark.certificate) + " is not self-signed (" + self.message() + ")");
    }
    SKR_RETURN_IF_ERROR(checkValidity("ark", ark.certificate, at));
  }
  result.ark_pinned = ark.pinned;
  result.ark_subject = ark.certificate.subjectOneLine();
  result.ark_sha256_hex = sha256Hex(ark.certificate);
  result.passed_checks.emplace_back("ark");

  // ask / asvk
  StatusOr<crypto::Certificate> presented_or_pinned =
      chain.empty()
          ? pinnedAmdCertificate(ext->generation, vlek ? AmdKeyRole::Asvk : AmdKeyRole::Ask)
          : StatusOr<crypto::Certificate>(chain[0]);
  if (!presented_or_pinned.ok()) {
    return checkFailed(StatusCode::PermissionDenied, intermediate_check,
                       presented_or_pinned.status().message());
  }
  const crypto::Certificate& intermediate = *presented_or_pinned;
  SKR_RETURN_IF_ERROR(checkSignedBy(intermediate_check, intermediate, ark.certificate));
  SKR_RETURN_IF_ERROR(checkValidity(intermediate_check, intermediate, at));
  result.passed_checks.push_back(intermediate_check);

  // vcek / vlek
  SKR_RETURN_IF_ERROR(checkSignedBy(key_check, vek, intermediate));
  SKR_RETURN_IF_ERROR(checkValidity(key_check, vek, at));
  result.passed_checks.push_back(key_check);

  // report-signature: before any field is interpreted.
  {
    constexpr std::string_view kCheck = "report-signature";
    const crypto::PublicKey key = vek.publicKey();
    StatusOr<crypto::Curve> curve = key.curve();
    if (!curve.ok() || *curve != crypto::Curve::P384) {
      return checkFailed(StatusCode::DataLoss, kCheck,
                         "the " + key_name + " key is not EC P-384 (the report signature is " +
                             "ECDSA P-384 with SHA-384)");
    }
    StatusOr<Bytes> der = crypto::ecdsaDerFromSnp(
        bytes.subspan(kSignatureOffset, kSignatureComponentSize),
        bytes.subspan(kSignatureOffset + kSignatureComponentSize, kSignatureComponentSize));
    if (!der.ok()) {
      return checkFailed(StatusCode::DataLoss, kCheck,
                         "malformed signature: " + der.status().message());
    }
    Status s = crypto::verify(key, crypto::SignatureScheme::EcdsaSha384,
                              bytes.first(kSignedRegionSize), *der);
    if (!s.ok()) {
      return checkFailed(StatusCode::DataLoss, kCheck,
                         "does not verify with the " + key_name + " (" + nameOf(vek) + ", sha256 " +
                             sha256Hex(vek) + "): " + s.message());
    }
    result.passed_checks.emplace_back(kCheck);
  }

  // report-fields
  StatusOr<SnpReport> parsed = SnpReport::parse(bytes);
  if (!parsed.ok()) {
    return checkFailed(StatusCode::InvalidArgument, "report-fields", parsed.status().message());
  }
  const SnpReport& report = *parsed;
  {
    constexpr std::string_view kCheck = "report-fields";
    if (report.signature_algo != 1) {
      return checkFailed(StatusCode::InvalidArgument, kCheck,
                         "SIGNATURE_ALGO is " + std::to_string(report.signature_algo) +
                             ", expected 1 (ECDSA P-384 with SHA-384)");
    }
    if (!report.policy.reservedBit17()) {
      return checkFailed(
          StatusCode::InvalidArgument, kCheck,
          "POLICY " + hex64(report.policy.raw) + " has reserved bit 17 clear, expected set");
    }
    if (report.vmpl > 3) {
      return checkFailed(StatusCode::InvalidArgument, kCheck,
                         "VMPL is " + std::to_string(report.vmpl) +
                             (report.vmpl == 0xffffffffu ? " (a host-requested report)" : "") +
                             ", expected 0..3");
    }
    // Not signed, so a relay could change them without breaking the signature; MBZ (spec §6).
    for (std::size_t i = kSignatureOffset + 2 * kSignatureComponentSize; i < bytes.size(); ++i) {
      if (bytes[i] != 0) {
        return checkFailed(StatusCode::InvalidArgument, kCheck,
                           "reserved signature byte at offset " + std::to_string(i) + " is " +
                               std::to_string(bytes[i]) + ", expected 0 (bytes 816..1183 MBZ)");
      }
    }
    const Generation cpuid_generation = report.generation();
    if (cpuid_generation != Generation::Unknown && cpuid_generation != ext->generation) {
      return checkFailed(StatusCode::InvalidArgument, kCheck,
                         "report CPUID says " + std::string(generationName(cpuid_generation)) +
                             " but the " + key_name + "'s productName '" + ext->product_name +
                             "' is " + std::string(generationName(ext->generation)));
    }
    result.debug = report.policy.debug();
    if (options.reject_debug && result.debug) {
      return checkFailed(StatusCode::PermissionDenied, kCheck,
                         "POLICY.DEBUG is set and debug guests are refused");
    }
    result.passed_checks.emplace_back(kCheck);
  }

  // signing-key
  result.signing_key = report.signingKey();
  {
    constexpr std::string_view kCheck = "signing-key";
    const SigningKey key = report.signingKey();
    if (key != SigningKey::Vcek && key != SigningKey::Vlek) {
      return checkFailed(StatusCode::DataLoss, kCheck,
                         "report SIGNING_KEY is " + std::to_string(static_cast<int>(key)) +
                             ", expected 0 (VCEK) or 1 (VLEK)");
    }
    const bool report_vlek = key == SigningKey::Vlek;
    if (report_vlek != vlek) {
      return checkFailed(StatusCode::DataLoss, kCheck,
                         std::string("report says ") + (report_vlek ? "VLEK" : "VCEK") +
                             " but the certificate is a " + key_name + " (" + nameOf(vek) +
                             " issued by " + vek.issuerCommonName() + ")");
    }
    result.passed_checks.emplace_back(kCheck);
  }

  // chip-id
  {
    constexpr std::string_view kCheck = "chip-id";
    if (!ext->hwid) {
      result.skipped_checks.push_back(std::string(kCheck) + ": the " + key_name +
                                      " has no hwID extension");
    } else if (!options.require_hwid_match) {
      result.skipped_checks.push_back(std::string(kCheck) + ": not required by the options");
    } else {
      const Bytes& hwid = *ext->hwid;
      const ByteView chip_id = ByteView(report.chip_id).first(hwid.size());
      if (!std::equal(hwid.begin(), hwid.end(), chip_id.begin(), chip_id.end())) {
        return checkFailed(StatusCode::DataLoss, kCheck,
                           key_name + " hwID " + encoding::hexEncode(hwid) + " != report CHIP_ID " +
                               encoding::hexEncode(chip_id) +
                               (report.maskChipKey() ? " (MASK_CHIP_KEY is set)" : ""));
      }
      result.passed_checks.emplace_back(kCheck);
    }
  }

  // tcb
  result.reported_tcb = TcbVersion::decode(report.reported_tcb, ext->generation);
  if (!(ext->tcb == result.reported_tcb)) {
    return checkFailed(StatusCode::DataLoss, "tcb",
                       key_name + " TCB " + describeTcb(ext->tcb) + " (" + hex64(ext->tcb.raw) +
                           ") != REPORTED_TCB " + describeTcb(result.reported_tcb) + " (" +
                           hex64(result.reported_tcb.raw) + ")");
  }
  result.passed_checks.emplace_back("tcb");
  return result;
}

}  // namespace

StatusOr<VerificationResult> verifyReport(ByteView report_bytes, const crypto::Certificate& vek,
                                          const std::vector<crypto::Certificate>& chain,
                                          const VerifyOptions& options) {
  return verify(report_bytes, vek, chain, options);
}

StatusOr<VerificationResult> verifyReport(const SnpReport& report, const crypto::Certificate& vek,
                                          const std::vector<crypto::Certificate>& chain,
                                          const VerifyOptions& options) {
  const Bytes bytes = report.serialize();
  return verify(bytes, vek, chain, options);
}

}  // namespace skr::snp
