// skrctl's command-line plumbing: exit codes (DESIGN.md §9), a small option parser shared by every
// subcommand, and the entry point that main.cc calls. Commands write results to `out` and one-line
// errors to `err`; nothing here exits the process.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/status.h"

namespace skr::ctl {

// DESIGN.md §9.
enum ExitCode : int {
  kExitOk = 0,
  kExitUsage = 2,
  kExitPlatform = 3,
  kExitAttestation = 4,
  kExitIdentity = 5,
  kExitReleaseDenied = 6,
  kExitKeyNotFound = 7,
  kExitDependency = 8,
  kExitIntegrity = 9,
  kExitOutput = 10,
};

struct OptionSpec {
  std::string name;  // without the leading "--"
  bool takes_value = false;
  std::string value_name;  // for --help, e.g. "FILE"
  std::string help;
  bool required = false;
};

// Parsed command line of one subcommand: --name value, --name=value, --flag, positionals.
// "--" ends options. Unknown options, missing values and missing required options are usage
// errors (InvalidArgument with the option named).
class ParsedArgs {
 public:
  static StatusOr<ParsedArgs> parse(const std::vector<std::string>& args,
                                    const std::vector<OptionSpec>& specs);
  bool has(std::string_view name) const;
  std::optional<std::string> value(std::string_view name) const;
  const std::vector<std::string>& positionals() const { return positionals_; }

 private:
  std::map<std::string, std::string, std::less<>> values_;
  std::vector<std::string> positionals_;
};

struct Io {
  std::ostream& out;
  std::ostream& err;
};

// One subcommand ("report show", "hostdata", ...).
struct Command {
  std::string path;      // words, e.g. "report show"
  std::string synopsis;  // e.g. "report show FILE [--json]"
  std::string summary;   // one line
  std::string details;   // extra --help text (may be empty)
  std::vector<OptionSpec> options;
  std::function<int(const ParsedArgs&, Io&)> run;
};

// Formats the --help text of a command.
std::string commandHelp(const Command& command);

// All commands skrctl knows, in help order.
std::vector<Command> allCommands();

// Runs skrctl with argv[1..] and returns the process exit code.
int runSkrctl(const std::vector<std::string>& args, Io& io);

// Prints "skrctl: <context>: <status message>" to err and returns `code`.
int fail(Io& io, int code, const Status& status);

// Reads a whole file (at most `max_bytes`). NotFound / PermissionDenied / ResourceExhausted with
// the path named.
StatusOr<std::string> readFile(const std::string& path, std::size_t max_bytes = 16 << 20);

}  // namespace skr::ctl
