#include "init/init_command.h"

#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <thread>
#include <variant>

#include "common/config/config.h"
#include "common/core/clock.h"
#include "common/core/hardening.h"
#include "common/http/retry.h"
#include "common/log/logger.h"
#include "common/release/release_services.h"
#include "init/init_run.h"

namespace skr::init {
namespace {

using release::ExitCode;

StatusOr<std::chrono::milliseconds> parseDuration(std::string_view text) {
  std::string_view digits = text;
  int64_t unit_ms = 1000;
  if (text.ends_with("ms")) {
    digits = text.substr(0, text.size() - 2);
    unit_ms = 1;
  } else if (text.ends_with("s")) {
    digits = text.substr(0, text.size() - 1);
  } else if (text.ends_with("m")) {
    digits = text.substr(0, text.size() - 1);
    unit_ms = 60'000;
  } else if (text.ends_with("h")) {
    digits = text.substr(0, text.size() - 1);
    unit_ms = 3'600'000;
  }
  if (digits.empty() || digits.size() > 9 ||
      digits.find_first_not_of("0123456789") != std::string_view::npos) {
    return Status(StatusCode::InvalidArgument,
                  "--timeout: '" + std::string(text) +
                      "' is not a duration (e.g. 90s, 2m, 1500ms, or seconds)");
  }
  std::chrono::milliseconds value(std::stoll(std::string(digits)) * unit_ms);
  if (value < std::chrono::seconds(1) || value > std::chrono::hours(1)) {
    return Status(StatusCode::InvalidArgument,
                  "--timeout: " + std::string(text) + " is outside 1s .. 1h");
  }
  return value;
}

void logOutcome(const InitOutcome& outcome) {
  if (outcome.code == ExitCode::Ok) {
    log::info("done", {{"exit_code", 0}, {"message", outcome.message}});
    return;
  }
  log::error("failed", {{"exit_code", static_cast<int>(outcome.code)},
                        {"step", outcome.step},
                        {"key", outcome.key},
                        {"host", outcome.host},
                        {"message", outcome.message},
                        {"hint", outcome.hint}});
}

// The hard deadline: when the run has not finished `timeout` after start, the process reports
// and exits with code 8. Bundles are written tmp + rename, so this never leaves a partial file.
class Watchdog {
 public:
  explicit Watchdog(std::chrono::milliseconds timeout)
      : thread_([this, timeout] {
          std::unique_lock<std::mutex> lock(mutex_);
          if (cv_.wait_for(lock, timeout, [this] { return done_; })) return;
          InitOutcome outcome;
          outcome.code = ExitCode::Unavailable;
          outcome.step = "deadline";
          outcome.message = "DeadlineExceeded: skr-init did not finish within --timeout (" +
                            std::to_string(timeout.count()) + " ms)";
          outcome.hint = hintFor(ExitCode::Unavailable, "deadline", Status());
          logOutcome(outcome);
          std::fflush(stderr);
          ::_exit(static_cast<int>(ExitCode::Unavailable));
        }) {}
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace

std::string usageText() {
  return "usage: skr-init [--config FILE] [--timeout DURATION] [--dry-run] [--help] [--version]\n"
         "\n"
         "Attests this SEV-SNP container group once (SNP report, AMD certificates, Microsoft "
         "Azure\n"
         "Attestation), releases every configured key from Azure Key Vault / Managed HSM, seals "
         "it\n"
         "and writes it atomically to the state directory for skr-agent. With identity kind "
         "'none'\n"
         "(ACI init containers have no managed identity) it attests and writes a pending bundle "
         "per\n"
         "key, which skr-agent completes with the group's identity (attest-and-defer).\n"
         "\n"
         "  --config FILE       YAML configuration (docs/config.md); or set SKR_CONFIG_YAML to "
         "the\n"
         "                      YAML itself; SKR_* variables override single settings\n"
         "  --timeout DURATION  hard deadline for the whole run (default 120s; e.g. 90s, 2m)\n"
         "  --dry-run           attest and verify, check the state directory and the seal;\n"
         "                      release and write nothing\n"
         "  --help, --version\n"
         "\n"
         "Progress: JSON lines on stderr (one per step; a final \"done\" or \"failed\" line).\n"
         "Exit codes: 0 ok, 2 usage/config, 3 platform, 4 attestation rejected, 5 identity,\n"
         "6 release denied, 7 key not found, 8 dependency unavailable or deadline, 9 integrity,\n"
         "10 output (state directory, sealing).\n";
}

StatusOr<InitCommandLine> parseCommandLine(const std::vector<std::string>& args) {
  InitCommandLine line;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    std::optional<std::string> inline_value;
    if (auto eq = arg.find('='); arg.starts_with("--") && eq != std::string::npos) {
      inline_value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    }
    auto value = [&](const char* name) -> StatusOr<std::string> {
      if (inline_value) return *inline_value;
      if (i + 1 >= args.size()) {
        return Status(StatusCode::InvalidArgument, std::string(name) + " needs a value");
      }
      return args[++i];
    };
    if (arg == "--config") {
      SKR_ASSIGN_OR_RETURN(std::string file, value("--config"));
      if (file.empty()) return Status(StatusCode::InvalidArgument, "--config needs a file name");
      line.config_file = file;
    } else if (arg == "--timeout") {
      SKR_ASSIGN_OR_RETURN(std::string text, value("--timeout"));
      SKR_ASSIGN_OR_RETURN(line.timeout, parseDuration(text));
    } else if (arg == "--dry-run" && !inline_value) {
      line.dry_run = true;
    } else if ((arg == "--help" || arg == "-h") && !inline_value) {
      line.help = true;
    } else if (arg == "--version" && !inline_value) {
      line.version = true;
    } else {
      return Status(StatusCode::InvalidArgument, "unknown argument '" + args[i] + "'");
    }
  }
  return line;
}

int runSkrInit(const std::vector<std::string>& args, const InitCommandSeams& seams) {
  StatusOr<InitCommandLine> line = parseCommandLine(args);
  if (!line.ok()) {
    std::cerr << "skr-init: " << line.status().message() << "\n" << usageText();
    return static_cast<int>(ExitCode::Usage);
  }
  if (line->help) {
    std::cout << usageText();
    return 0;
  }
  if (line->version) {
    std::cout << "skr-init " << SKR_VERSION << "\n";
    return 0;
  }

  if (StatusOr<HardeningReport> hardened = hardenProcess(); !hardened.ok()) {
    InitOutcome outcome{ExitCode::Platform,
                        "hardening",
                        "",
                        "",
                        hardened.status().toString(),
                        "core dumps could not be disabled; refusing to handle keys"};
    logOutcome(outcome);
    return static_cast<int>(outcome.code);
  }

  config::LoadOptions load;
  load.file = line->config_file;
  load.getenv = [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
  StatusOr<config::Config> loaded = config::loadConfig(load);
  if (!loaded.ok()) {
    logOutcome({ExitCode::Usage, "config", "", "", loaded.status().toString(),
                hintFor(ExitCode::Usage, "config", loaded.status())});
    return static_cast<int>(ExitCode::Usage);
  }
  const config::Config& config = *loaded;
  log::setMinLevel(config.log.level);
  // validateConfig accepted it: json or text.
  if (StatusOr<log::Format> format = log::parseFormat(config.log.format); format.ok())
    log::setFormat(*format);
  if (config.keys.empty()) {
    Status status(StatusCode::InvalidArgument, "keys: no key is configured");
    logOutcome({ExitCode::Usage, "config", "", "", status.toString(),
                "add at least one entry under keys: (or set SKR_KEYS)"});
    return static_cast<int>(ExitCode::Usage);
  }
  if (config.emulated()) {
    log::warning("emulated", {{"message",
                               "EMULATION: platform or sealing is emulated; bundles are stamped "
                               "emulated and no production release policy accepts this platform"}});
  }
  log::info("start", {{"version", SKR_VERSION},
                      {"keys", static_cast<int64_t>(config.keys.size())},
                      {"dry_run", line->dry_run},
                      {"timeout_ms", static_cast<int64_t>(line->timeout.count())}});

  Watchdog watchdog(line->timeout + std::chrono::seconds(1));
  Clock& clock = systemClock();
  http::RandomJitter jitter;
  // The transfer key (the largest cost of a run) is generated while the services are built, the
  // state directory is checked and the collateral and tokens are fetched; runInit joins it.
  release::TransferKeyGeneration transfer_key(config.attestation.transfer_key_bits, clock);

  std::variant<release::ReleaseServices, release::SetupFailure> built =
      release::buildReleaseServices(config, clock, jitter);
  if (auto* failure = std::get_if<release::SetupFailure>(&built)) {
    InitOutcome outcome{failure->code,
                        "setup",
                        "",
                        "",
                        failure->status.toString(),
                        hintFor(failure->code, "setup", failure->status)};
    logOutcome(outcome);
    return static_cast<int>(outcome.code);
  }
  release::ReleaseServices& services = std::get<release::ReleaseServices>(built);

  InitRunOptions run_options;
  run_options.dry_run = line->dry_run;
  run_options.deadline = clock.steadyNow() + line->timeout;
  run_options.on_write_step = seams.on_write_step;
  run_options.transfer_key = &transfer_key;

  InitOutcome outcome = runInit(config, services, clock, jitter, run_options);
  logOutcome(outcome);
  return static_cast<int>(outcome.code);
}

}  // namespace skr::init
