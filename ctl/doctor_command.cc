// skrctl doctor: the command line of the deployment preflight (ctl/doctor.h).
#include "common/encoding/printable.h"
#include "ctl/cli.h"
#include "ctl/commands.h"
#include "ctl/doctor.h"

namespace skr::ctl {
namespace {

int doctor(const ParsedArgs& args, Io& io) {
  if (!args.positionals().empty()) {
    io.err << "skrctl doctor: unexpected argument '"
           << encoding::printable(args.positionals()[0], 80)
           << "'\nusage: skrctl doctor [--config FILE] [--json] [--key NAME]\n";
    return kExitUsage;
  }
  DoctorOptions options;
  options.config_file = args.value("config");
  options.key = args.value("key");
  StatusOr<DoctorReport> ran = runDoctor(options);
  if (!ran.ok()) return fail(io, kExitUsage, ran.status());
  io.out << (args.has("json") ? ran->json() : ran->text());
  return ran->exitCode();
}

}  // namespace

std::vector<Command> doctorCommands() {
  return {Command{
      "doctor",
      "doctor [--config FILE] [--json] [--key NAME]",
      "Preflight a deployment: each check passes (\u2713) or fails (\u2717) with its fix.",
      "Reads the configuration skr-init and skr-agent read (--config FILE, SKR_CONFIG_YAML,\n"
      "SKR_* variables) and checks, each on its own: configuration valid; SNP device present\n"
      "and answering; security-context files present and parseable; collateral obtainable and\n"
      "for the report's TCB; MAA reachable over TLS; attestation; clock skew (MAA's Date header\n"
      "or the token's iat, limit 60 s); identity token; per key: it exists, this identity may\n"
      "release it, its release policy's x-ms-sevsnpvm-hostdata equals this platform's\n"
      "HOST_DATA; the agent's socket directories. A check needing a failed one says\n"
      "\"skipped: needs X\".\n"
      "The release check sends a real release request: the vault's answer is verified and its\n"
      "wrapped key (key_hsm) discarded, never unwrapped or written. --key NAME checks one\n"
      "configured key only. --json prints [{check, ok, detail, fix}].\n"
      "Exit codes: 0 all passed, else the code of the first failure: 2 configuration or socket\n"
      "directories, 3 platform (device, collateral, clock), 4 attestation, 5 identity,\n"
      "6 release denied (role or policy), 7 key not found, 8 dependency unreachable,\n"
      "9 integrity.",
      {{"config", true, "FILE", "YAML configuration (default: SKR_CONFIG_YAML, else defaults)"},
       {"json", false, "", "print a JSON array of the checks"},
       {"key", true, "NAME", "check only this configured key"}},
      doctor}};
}

}  // namespace skr::ctl
