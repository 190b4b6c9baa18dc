// skrctl report show / verify / get.
#include <fstream>
#include <sstream>

#include "common/core/rfc3339.h"
#include "common/crypto/x509.h"
#include "common/encoding/hex.h"
#include "common/json/json.h"
#include "common/snp/platform.h"
#include "common/snp/report.h"
#include "common/snp/report_json.h"
#include "common/snp/verifier.h"
#include "ctl/cli.h"
#include "ctl/commands.h"

namespace skr::ctl {
namespace {

int reportShow(const ParsedArgs& args, Io& io) {
  if (args.positionals().size() != 1) {
    io.err << "skrctl report show: expected exactly one FILE\nusage: skrctl report show FILE "
              "[--json]\n";
    return kExitUsage;
  }
  const std::string& path = args.positionals()[0];
  StatusOr<std::string> data = readFile(path, 64 * 1024);
  if (!data.ok()) return fail(io, kExitUsage, data.status());
  StatusOr<snp::SnpReport> report = snp::SnpReport::parse(asBytes(*data));
  if (!report.ok()) return fail(io, kExitUsage, report.status().withContext(path));
  if (args.has("json")) {
    StatusOr<std::string> text = json::serializeCanonical(snp::reportToJson(*report));
    if (!text.ok()) return fail(io, kExitOutput, text.status());
    io.out << *text << "\n";
  } else {
    io.out << snp::reportToText(*report);
  }
  return kExitOk;
}

StatusOr<std::vector<crypto::Certificate>> readPemBundle(const std::string& path) {
  SKR_ASSIGN_OR_RETURN(std::string pem, readFile(path, 1 << 20));
  StatusOr<std::vector<crypto::Certificate>> certs = crypto::Certificate::parsePemBundle(pem);
  if (!certs.ok()) return certs.status().withContext(path);
  return certs;
}

int reportVerify(const ParsedArgs& args, Io& io) {
  if (!args.positionals().empty()) {
    io.err << "skrctl report verify: unexpected argument '" << args.positionals()[0] << "'\n";
    return kExitUsage;
  }
  const bool json_out = args.has("json");
  // Inputs: unreadable or malformed files are usage errors (exit 2).
  StatusOr<std::string> report_bytes = readFile(*args.value("report"), 64 * 1024);
  if (!report_bytes.ok()) return fail(io, kExitUsage, report_bytes.status());
  const std::string cert_path = *args.value("cert");
  StatusOr<std::string> cert_bytes = readFile(cert_path, 1 << 20);
  if (!cert_bytes.ok()) return fail(io, kExitUsage, cert_bytes.status());
  StatusOr<crypto::Certificate> vek = crypto::Certificate::fromPemOrDer(asBytes(*cert_bytes));
  if (!vek.ok()) return fail(io, kExitUsage, vek.status().withContext(cert_path));
  StatusOr<std::vector<crypto::Certificate>> chain = readPemBundle(*args.value("chain"));
  if (!chain.ok()) return fail(io, kExitUsage, chain.status());
  snp::VerifyOptions options;
  if (auto trust = args.value("trust-ark")) {
    StatusOr<std::vector<crypto::Certificate>> arks = readPemBundle(*trust);
    if (!arks.ok()) return fail(io, kExitUsage, arks.status());
    options.extra_trusted_arks = std::move(arks).value();
  }
  if (auto at = args.value("at")) {
    StatusOr<SystemTime> t = parseRfc3339(*at);
    if (!t.ok()) return fail(io, kExitUsage, t.status().withContext("--at"));
    options.at = *t;
  }

  // Verification: the first failed check, one line, exit 9.
  StatusOr<snp::VerificationResult> result =
      snp::verifyReport(asBytes(*report_bytes), *vek, *chain, options);
  if (!result.ok()) {
    if (json_out) {
      json::ObjectPtr o = new Poco::JSON::Object();
      o->set("verified", false);
      o->set("error", result.status().message());
      io.out << json::serializeCanonical(o).value() << "\n";
    }
    return fail(io, kExitIntegrity, result.status());
  }
  if (json_out) {
    json::ObjectPtr o = new Poco::JSON::Object();
    o->set("verified", true);
    Poco::JSON::Array::Ptr passed = new Poco::JSON::Array();
    for (const auto& c : result->passed_checks) passed->add(c);
    o->set("passed_checks", passed);
    Poco::JSON::Array::Ptr skipped = new Poco::JSON::Array();
    for (const auto& c : result->skipped_checks) skipped->add(c);
    o->set("skipped_checks", skipped);
    o->set("generation", std::string(snp::generationName(result->generation)));
    o->set("ark_pinned", result->ark_pinned);
    o->set("ark_subject", result->ark_subject);
    o->set("ark_sha256", result->ark_sha256_hex);
    o->set("debug", result->debug);
    o->set("reported_tcb", snp::hex64(result->reported_tcb.raw));
    io.out << json::serializeCanonical(o).value() << "\n";
  } else {
    io.out << "verified: " << (result->ark_pinned ? "AMD " : "explicitly trusted ")
           << snp::generationName(result->generation) << " root " << result->ark_subject
           << "\nchecks passed: ";
    for (std::size_t i = 0; i < result->passed_checks.size(); ++i) {
      io.out << (i ? ", " : "") << result->passed_checks[i];
    }
    io.out << "\n";
    for (const auto& s : result->skipped_checks) io.out << "skipped: " << s << "\n";
  }
  return kExitOk;
}

// Exit code for a platform failure: no device / ioctl errors are "platform" (3).
int platformExit(const Status& status) {
  switch (status.code()) {
    case StatusCode::InvalidArgument: return kExitUsage;
    case StatusCode::DataLoss: return kExitIntegrity;
    default: return kExitPlatform;
  }
}

int reportGet(const ParsedArgs& args, Io& io) {
  if (!args.positionals().empty()) {
    io.err << "skrctl report get: unexpected argument '" << args.positionals()[0] << "'\n";
    return kExitUsage;
  }
  StatusOr<snp::PlatformKind> kind =
      snp::parsePlatformKind(args.value("platform").value_or("auto"));
  if (!kind.ok()) return fail(io, kExitUsage, kind.status().withContext("--platform"));
  snp::PlatformOptions options;
  if (auto dir = args.value("chip-dir")) options.emulated_chip_dir = *dir;
  if (*kind == snp::PlatformKind::Emulated && options.emulated_chip_dir.empty()) {
    io.err << "skrctl report get: --platform emulated needs --chip-dir DIR\n";
    return kExitUsage;
  }
  std::array<uint8_t, 64> report_data{};
  if (auto hex = args.value("report-data")) {
    StatusOr<Bytes> bytes = encoding::hexDecode(*hex, 64);
    if (!bytes.ok() || bytes->size() > 64) {
      io.err << "skrctl report get: --report-data must be at most 64 bytes of hex\n";
      return kExitUsage;
    }
    std::copy(bytes->begin(), bytes->end(), report_data.begin());
  }
  uint32_t vmpl = 0;
  if (auto v = args.value("vmpl")) {
    if (*v != "0" && *v != "1" && *v != "2" && *v != "3") {
      io.err << "skrctl report get: --vmpl must be 0, 1, 2 or 3\n";
      return kExitUsage;
    }
    vmpl = static_cast<uint32_t>(std::stoul(*v));
  }
  const std::optional<std::string> out_path = args.value("out");
  if (!out_path && !args.has("json")) {
    io.err << "skrctl report get: give --out FILE for the raw report, or --json\n";
    return kExitUsage;
  }

  StatusOr<std::unique_ptr<snp::SnpDevice>> device = snp::openPlatform(*kind, options);
  if (!device.ok()) return fail(io, platformExit(device.status()), device.status());
  StatusOr<Bytes> raw = (*device)->getReport(report_data, vmpl);
  if (!raw.ok()) return fail(io, platformExit(raw.status()), raw.status());
  StatusOr<snp::SnpReport> report = snp::SnpReport::parse(*raw);
  if (!report.ok()) return fail(io, kExitPlatform, report.status());

  if (out_path) {
    std::ofstream out(*out_path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(raw->data()),  // NOLINT
              static_cast<std::streamsize>(raw->size()));
    out.close();
    if (!out) {
      return fail(io, kExitOutput, internalError("cannot write '" + *out_path + "'"));
    }
  }
  if (args.has("json")) {
    json::ObjectPtr o = snp::reportToJson(*report);
    o->set("platform", std::string((*device)->name()));
    io.out << json::serializeCanonical(o).value() << "\n";
  } else {
    io.out << "report from " << (*device)->name() << " written to " << *out_path << " ("
           << raw->size() << " bytes)\n";
  }
  return kExitOk;
}

}  // namespace

std::vector<Command> reportCommands() {
  std::vector<Command> commands;
  commands.push_back(Command{
      "report show",
      "report show FILE [--json]",
      "Print every field of a raw 1184-byte SEV-SNP attestation report.",
      "FILE is the binary ATTESTATION_REPORT (versions 2, 3, 5). --json prints one object with\n"
      "integers as numbers, policy and platform_info as \"0x%016x\", byte fields as lower-case\n"
      "hex, and each TCB as {bootloader, tee, snp, microcode, raw} (+ fmc on Turin).\n"
      "Exit codes: 0 ok, 2 unreadable or malformed file.",
      {{"json", false, "", "print JSON instead of text"}},
      reportShow});
  commands.push_back(Command{
      "report verify",
      "report verify --report FILE --cert VCEK_OR_VLEK --chain PEM_BUNDLE [--trust-ark PEM] "
      "[--at RFC3339] [--json]",
      "Verify an SEV-SNP report locally, as MAA does, against AMD's pinned roots.",
      "Checks, in order: the ARK is a pinned AMD root (Milan, Genoa, Turin; by SHA-256) or one\n"
      "given with --trust-ark; ASK/ASVK <- ARK and VCEK/VLEK <- ASK/ASVK (RSASSA-PSS SHA-384),\n"
      "each valid at --at (default now); the report signature (ECDSA P-384 SHA-384); report\n"
      "fields; the signing key kind; hwID == CHIP_ID; the key's TCB == REPORTED_TCB.\n"
      "--cert accepts PEM or DER; --chain is a PEM bundle: THIM's certificateChain, a KDS\n"
      "cert_chain (ASK or ASVK, then ARK), or ARK, ASK and ASVK in one file in any order (the\n"
      "intermediate that signed --cert is used: ASK for a VCEK, ASVK for a VLEK).\n"
      "Exit codes: 0 verified, 9 a check failed (one line names it), 2 usage or unreadable input.",
      {{"report", true, "FILE", "raw 1184-byte report", true},
       {"cert", true, "FILE", "VCEK or VLEK certificate, PEM or DER", true},
       {"chain", true, "FILE", "PEM bundle: ASK and/or ASVK, and ARK, in any order", true},
       {"trust-ark", true, "PEM", "also trust this root (e.g. the emulated chip's ARK)"},
       {"at", true, "RFC3339", "verification time, e.g. 2026-01-02T03:04:05Z"},
       {"json", false, "", "print the result as JSON"}},
      reportVerify});
  commands.push_back(Command{
      "report get",
      "report get [--platform P] [--chip-dir DIR] [--report-data HEX] [--vmpl N] "
      "(--out FILE | --json)",
      "Request a fresh SEV-SNP report from this machine's platform (or the emulated chip).",
      "--platform is auto (default; probes /dev/sev-guest, configfs-tsm, /dev/sev in that order\n"
      "and never falls back to a fake report), sev-guest, sev-legacy, tsm or emulated (needs\n"
      "--chip-dir, the emulator's chip directory). --report-data is up to 64 bytes of hex,\n"
      "zero-padded. Exit codes: 0 ok, 2 usage, 3 platform (no device, ioctl/firmware error),\n"
      "10 output.",
      {{"platform", true, "P", "auto | sev-guest | sev-legacy | tsm | emulated"},
       {"chip-dir", true, "DIR", "emulated chip directory (platform emulated)"},
       {"report-data", true, "HEX", "REPORT_DATA, up to 64 bytes as hex"},
       {"vmpl", true, "N", "VMPL to request (0-3, default 0)"},
       {"out", true, "FILE", "write the raw 1184-byte report here"},
       {"json", false, "", "print the report's fields as JSON"}},
      reportGet});
  return commands;
}

}  // namespace skr::ctl
