// skrctl's command-line plumbing: exit codes (DESIGN.md §9), a small option parser shared by every
// subcommand, and the entry point that main.cc calls. Commands write results to `out` and one-line
// errors to `err`; nothing here exits the process.
#pragma once

#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/status.h"
#include "common/release/release_flow.h"

namespace skr::ctl {

// DESIGN.md §9: the same codes as skr-init (release::ExitCode), as ints for main().
inline constexpr int kExitOk = static_cast<int>(release::ExitCode::Ok);
inline constexpr int kExitUsage = static_cast<int>(release::ExitCode::Usage);
inline constexpr int kExitPlatform = static_cast<int>(release::ExitCode::Platform);
inline constexpr int kExitAttestation = static_cast<int>(release::ExitCode::Attestation);
inline constexpr int kExitIdentity = static_cast<int>(release::ExitCode::Identity);
inline constexpr int kExitReleaseDenied = static_cast<int>(release::ExitCode::ReleaseDenied);
inline constexpr int kExitKeyNotFound = static_cast<int>(release::ExitCode::KeyNotFound);
inline constexpr int kExitDependency = static_cast<int>(release::ExitCode::Unavailable);
inline constexpr int kExitIntegrity = static_cast<int>(release::ExitCode::Integrity);
inline constexpr int kExitOutput = static_cast<int>(release::ExitCode::Output);

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
  std::istream& in = std::cin;  // wrap/unwrap/encrypt/decrypt read their input here
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
