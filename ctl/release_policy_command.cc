// skrctl release-policy: the key release policy (spec/azure-wire.md §3) that lets an ACI
// confidential container group with a given HOST_DATA release a key, attested by a given MAA.
#include "common/azure/aci_policy.h"
#include "common/azure/release_policy.h"
#include "ctl/cli.h"
#include "ctl/commands.h"

namespace skr::ctl {
namespace {

int releasePolicy(const ParsedArgs& args, Io& io) {
  if (!args.positionals().empty()) {
    io.err << "skrctl release-policy: unexpected argument '" << args.positionals().front() << "'\n";
    return kExitUsage;
  }
  const bool require_uvm = !args.has("no-uvm-compliance");
  StatusOr<std::string> policy =
      azure::makeAciReleasePolicy(*args.value("authority"), *args.value("hostdata"), require_uvm);
  if (!policy.ok()) return fail(io, kExitUsage, policy.status());
  if (args.has("wire")) {
    // The release_policy member of an AKV create/import request body.
    io.out << R"({"contentType":"application/json; charset=utf-8","data":")"
           << azure::toWireBase64Url(*policy) << "\"}\n";
  } else {
    io.out << *policy << "\n";
  }
  return kExitOk;
}

}  // namespace

std::vector<Command> releasePolicyCommands() {
  return {Command{
      "release-policy",
      "release-policy --authority MAA_URL --hostdata HEX [--no-uvm-compliance] [--wire]",
      "Print the AKV release policy for a confidential container group (version 1.0.0).",
      "The policy requires the MAA authority, x-ms-sevsnpvm-hostdata (see 'skrctl hostdata'),\n"
      "a non-debuggable VM at VMPL 0 and, unless --no-uvm-compliance, the compliance status\n"
      "azure-compliant-uvm that MAA gives an ACI utility VM with its endorsement.\n"
      "--wire prints the release_policy object of a Key Vault create/import request\n"
      "({contentType, data: base64url(policy)}). Exit codes: 0 ok, 2 usage.",
      {{"authority", true, "MAA_URL", "MAA instance, e.g. https://sharedeus.eus.attest.azure.net",
        true},
       {"hostdata", true, "HEX", "64 hex digits of HOST_DATA", true},
       {"no-uvm-compliance", false, "", "omit x-ms-compliance-status (not for ACI)"},
       {"wire", false, "", "print the AKV request member instead of the policy JSON"}},
      releasePolicy}};
}

}  // namespace skr::ctl
