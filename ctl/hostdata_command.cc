// skrctl hostdata: the HOST_DATA an ACI confidential container group's report will carry.
#include "common/encoding/hex.h"
#include "common/encoding/json_writer.h"
#include "common/snp/hostdata.h"
#include "ctl/cli.h"
#include "ctl/commands.h"

namespace skr::ctl {
namespace {

int hostdata(const ParsedArgs& args, Io& io) {
  const bool policy = args.has("policy");
  const bool arm = args.has("template");
  if (policy == arm || !args.positionals().empty()) {
    io.err << "skrctl hostdata: give exactly one of --policy FILE or --template ARM.json\n"
              "usage: skrctl hostdata (--policy FILE | --template ARM.json)\n";
    return kExitUsage;
  }
  StatusOr<snp::HostData> data = [&]() -> StatusOr<snp::HostData> {
    if (policy) return snp::hostDataFromPolicyFile(*args.value("policy"));
    const std::string path = *args.value("template");
    SKR_ASSIGN_OR_RETURN(std::string text, readFile(path, snp::kMaxArmTemplateBytes));
    StatusOr<snp::HostData> from_template = snp::hostDataFromArmTemplate(text);
    if (!from_template.ok()) return from_template.status().withContext(path);
    return from_template;
  }();
  if (!data.ok()) return fail(io, kExitUsage, data.status());
  const std::string hex = encoding::hexEncode(*data);
  if (args.has("json")) {
    io.out << json::Writer()
                  .beginObject()
                  .member("hostdata", hex)
                  .member(policy ? "policy" : "template",
                          *args.value(policy ? "policy" : "template"))
                  .endObject()
                  .take()
           << "\n";
  } else {
    io.out << hex << "\n";
  }
  return kExitOk;
}

}  // namespace

std::vector<Command> hostdataCommands() {
  return {Command{
      "hostdata",
      "hostdata (--policy FILE | --template ARM.json) [--json]",
      "Print the 64-hex HOST_DATA (SHA-256 of the decoded CCE policy) a group will attest.",
      "--policy takes the base64 CCE policy (as 'az confcom acipolicygen' writes it, or the\n"
      "security-context file security-policy-base64). --template takes an ARM template and\n"
      "hashes its confidentialComputeProperties.ccePolicy. Use the result as the\n"
      "x-ms-sevsnpvm-hostdata value of the key's release policy. Exit codes: 0 ok, 2 usage or\n"
      "unreadable/invalid input.",
      {{"policy", true, "FILE", "base64 CCE policy file"},
       {"template", true, "ARM.json", "ARM template with a ccePolicy"},
       {"json", false, "", "print {\"hostdata\", \"policy\" or \"template\"} as JSON"}},
      hostdata}};
}

}  // namespace skr::ctl
