// skrctl report show / verify / get.
#include <sstream>

#include "common/json/json.h"
#include "common/snp/report.h"
#include "common/snp/report_json.h"
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
  return commands;
}

}  // namespace skr::ctl
