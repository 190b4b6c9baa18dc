#include "ctl/cli.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/core/status.h"

namespace skr::ctl {

StatusOr<ParsedArgs> ParsedArgs::parse(const std::vector<std::string>& args,
                                       const std::vector<OptionSpec>& specs) {
  ParsedArgs parsed;
  auto find = [&specs](std::string_view name) -> const OptionSpec* {
    for (const auto& s : specs) {
      if (s.name == name) return &s;
    }
    return nullptr;
  };
  bool options_done = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (options_done || arg.size() < 2 || arg.rfind("--", 0) != 0) {
      if (!options_done && arg.size() > 1 && arg[0] == '-' && arg != "-") {
        return invalidArgumentError("unknown option '" + arg + "'");
      }
      parsed.positionals_.push_back(arg);
      continue;
    }
    if (arg == "--") {
      options_done = true;
      continue;
    }
    std::string name = arg.substr(2);
    std::optional<std::string> inline_value;
    if (const std::size_t eq = name.find('='); eq != std::string::npos) {
      inline_value = name.substr(eq + 1);
      name.resize(eq);
    }
    const OptionSpec* spec = find(name);
    if (spec == nullptr) return invalidArgumentError("unknown option '--" + name + "'");
    if (spec->takes_value) {
      if (!inline_value) {
        if (i + 1 >= args.size()) {
          return invalidArgumentError("option '--" + name + "' needs a value (" + spec->value_name +
                                      ")");
        }
        inline_value = args[++i];
      }
      parsed.values_[name] = *inline_value;
    } else {
      if (inline_value) return invalidArgumentError("option '--" + name + "' takes no value");
      parsed.values_[name] = "";
    }
  }
  for (const auto& s : specs) {
    if (s.required && !parsed.has(s.name)) {
      return invalidArgumentError("missing required option '--" + s.name + "'");
    }
  }
  return parsed;
}

bool ParsedArgs::has(std::string_view name) const {
  return values_.find(name) != values_.end();
}

std::optional<std::string> ParsedArgs::value(std::string_view name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

std::string commandHelp(const Command& command) {
  std::ostringstream s;
  s << "usage: skrctl " << command.synopsis << "\n\n" << command.summary << "\n";
  if (!command.details.empty()) s << "\n" << command.details << "\n";
  if (!command.options.empty()) {
    s << "\noptions:\n";
    for (const auto& o : command.options) {
      std::string left = "  --" + o.name + (o.takes_value ? " " + o.value_name : "");
      if (left.size() < 26) left.resize(26, ' ');
      s << left << " " << o.help << (o.required ? " (required)" : "") << "\n";
    }
  }
  s << "  --help                   this text\n";
  return s.str();
}

int fail(Io& io, int code, const Status& status) {
  io.err << "skrctl: " << status.message() << "\n";
  return code;
}

StatusOr<std::string> readFile(const std::string& path, std::size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int e = errno;
    if (e == EACCES) return permissionDeniedError("cannot read '" + path + "': permission denied");
    return notFoundError("cannot read '" + path + "': " + std::strerror(e));
  }
  std::string data;
  char buf[8192];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    data.append(buf, static_cast<std::size_t>(in.gcount()));
    if (data.size() > max_bytes) {
      return resourceExhaustedError("'" + path + "' is larger than " + std::to_string(max_bytes) +
                                    " bytes");
    }
  }
  return data;
}

namespace {

std::string overview(const std::vector<Command>& commands) {
  std::ostringstream s;
  s << "usage: skrctl COMMAND [options]\n\n"
       "skrctl is the operator's CLI of skr (Secure Key Release for Azure confidential\n"
       "containers): inspect and verify SEV-SNP evidence, compute host data of a policy,\n"
       "operate a running skr-agent through its admin socket, and use its keys through its\n"
       "client socket.\n\n"
       "commands:\n";
  for (const auto& c : commands) {
    std::string left = "  " + c.path;
    if (left.size() < 24) left.resize(24, ' ');
    s << left << " " << c.summary << "\n";
  }
  s << "\n'skrctl COMMAND --help' describes a command. Exit codes: 0 ok, 2 usage, 3 platform,\n"
       "5 identity, 6 release denied, 7 key not found, 8 agent or dependency unavailable,\n"
       "9 integrity (verification failed), 10 output.\n";
  return s.str();
}

}  // namespace

int runSkrctl(const std::vector<std::string>& args, Io& io) {
  const std::vector<Command> commands = allCommands();
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    (args.empty() ? io.err : io.out) << overview(commands);
    return args.empty() ? kExitUsage : kExitOk;
  }
  if (args[0] == "--version") {
    io.out << "skrctl " << SKR_VERSION << "\n";
    return kExitOk;
  }
  // Longest matching command path wins ("report show" before "report").
  const Command* best = nullptr;
  std::size_t best_words = 0;
  for (const auto& c : commands) {
    std::istringstream words(c.path);
    std::string word;
    std::size_t n = 0;
    bool match = true;
    while (words >> word) {
      if (n >= args.size() || args[n] != word) {
        match = false;
        break;
      }
      ++n;
    }
    if (match && n > best_words) {
      best = &c;
      best_words = n;
    }
  }
  if (best == nullptr) {
    // A known group without a subcommand ("skrctl report"): list its commands.
    std::string group_help;
    for (const auto& c : commands) {
      if (c.path.rfind(args[0] + " ", 0) == 0) group_help += "  skrctl " + c.synopsis + "\n";
    }
    if (!group_help.empty()) {
      io.err << "skrctl: '" << args[0] << "' needs a subcommand:\n" << group_help;
    } else {
      io.err << "skrctl: unknown command '" << args[0] << "' (see 'skrctl --help')\n";
    }
    return kExitUsage;
  }
  const std::vector<std::string> rest(args.begin() + static_cast<std::ptrdiff_t>(best_words),
                                      args.end());
  for (const auto& a : rest) {
    if (a == "--help" || a == "-h") {
      io.out << commandHelp(*best);
      return kExitOk;
    }
    if (a == "--") break;
  }
  StatusOr<ParsedArgs> parsed = ParsedArgs::parse(rest, best->options);
  if (!parsed.ok()) {
    io.err << "skrctl " << best->path << ": " << parsed.status().message() << "\n"
           << "usage: skrctl " << best->synopsis << "\n";
    return kExitUsage;
  }
  return best->run(*parsed, io);
}

}  // namespace skr::ctl
