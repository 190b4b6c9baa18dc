#include "agent/agent_command.h"

#include <malloc.h>
#include <pthread.h>
#include <signal.h>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "agent/agent.h"
#include "common/config/config.h"
#include "common/core/clock.h"
#include "common/core/hardening.h"
#include "common/http/retry.h"
#include "common/log/logger.h"
#include "common/release/release_flow.h"

namespace skr::agent {
namespace {

using release::ExitCode;

int fail(ExitCode code, std::string_view step, const Status& status, std::string_view hint) {
  log::error("failed", {{"exit_code", static_cast<int>(code)},
                        {"step", step},
                        {"message", status.toString()},
                        {"hint", hint}});
  return static_cast<int>(code);
}

// Takes SIGTERM/SIGINT/SIGHUP (blocked in every thread) until one asks to stop; SIGHUP reloads.
void waitForStopSignal(const sigset_t& signals, Agent& agent) {
  for (;;) {
    int received = 0;
    if (sigwait(&signals, &received) != 0) continue;
    if (received == SIGHUP) {
      log::info("signal", {{"signal", "SIGHUP"}, {"action", "reload"}});
      if (Status s = agent.reload(); !s.ok()) {
        log::error("reload_failed", {{"message", s.toString()}});
      }
      continue;
    }
    log::info("signal",
              {{"signal", received == SIGINT ? "SIGINT" : "SIGTERM"}, {"action", "drain"}});
    return;
  }
}

}  // namespace

std::string agentUsageText() {
  return "usage: skr-agent [--config FILE] [--help] [--version]\n"
         "\n"
         "Serves the keys released for this confidential container group on Unix domain sockets\n"
         "(AKV-shaped key operations on the client socket; rotate, retire, status, metrics and\n"
         "reload on the admin socket). Loads the bundles skr-init sealed, completes pending ones\n"
         "with the group's identity, releases missing keys itself (agent.release_on_start), and\n"
         "rotates on request or on schedule (agent.rotation_interval).\n"
         "\n"
         "  --config FILE  YAML configuration (docs/config.md); or set SKR_CONFIG_YAML to the\n"
         "                 YAML itself; SKR_* variables override single settings\n"
         "  --help, --version\n"
         "\n"
         "Signals: SIGTERM/SIGINT drain and exit 0; SIGHUP re-reads the bundles.\n"
         "Logs: JSON lines on stderr, one audit line per request.\n";
}

StatusOr<AgentCommandLine> parseAgentCommandLine(const std::vector<std::string>& args) {
  AgentCommandLine line;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--config") {
      if (i + 1 >= args.size() || args[i + 1].empty()) {
        return invalidArgumentError("--config needs a file name");
      }
      line.config_file = args[++i];
    } else if (arg.starts_with("--config=")) {
      if (arg.size() == 9) return invalidArgumentError("--config needs a file name");
      line.config_file = arg.substr(9);
    } else if (arg == "--help" || arg == "-h") {
      line.help = true;
    } else if (arg == "--version") {
      line.version = true;
    } else {
      return invalidArgumentError("unknown argument '" + arg + "'");
    }
  }
  return line;
}

int runSkrAgent(const std::vector<std::string>& args) {
  StatusOr<AgentCommandLine> line = parseAgentCommandLine(args);
  if (!line.ok()) {
    std::cerr << "skr-agent: " << line.status().message() << "\n" << agentUsageText();
    return static_cast<int>(ExitCode::Usage);
  }
  if (line->help) {
    std::cout << agentUsageText();
    return 0;
  }
  if (line->version) {
    std::cout << "skr-agent " << SKR_VERSION << "\n";
    return 0;
  }
  // Signals are taken by the main thread with sigwait(); block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  // Allocations of 128 KiB and more (request bodies near max_body_bytes) get their own mapping
  // and go back to the kernel when freed. glibc would otherwise raise this threshold after the
  // first such free and serve later large bodies from heaps whose pages stay resident (issue 14:
  // RSS must return near idle after a burst of large requests).
  ::mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  // At most two malloc arenas. glibc adds an arena (and its resident pages) whenever a thread
  // finds its arena locked, up to 8 per core; under CPU contention the agent's dozen threads kept
  // adding them, and RSS rose in steps of about 0.5 MiB over long soaks (scripts/soak --retire:
  // 17.6 -> 18.9 MiB with three key versions held; with two arenas 17.5 -> 17.8 MiB, flat).
  // The quick path runs on one thread; the workers' RSA operations dwarf a malloc lock.
  // MALLOC_ARENA_MAX in the environment still decides when an operator sets it.
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) ::mallopt(M_ARENA_MAX, 2);

  if (StatusOr<HardeningReport> hardened = hardenProcess(); !hardened.ok()) {
    return fail(ExitCode::Platform, "hardening", hardened.status(),
                "core dumps could not be disabled; refusing to handle keys");
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
    return fail(ExitCode::Usage, "config", loaded.status(),
                "fix the configuration key named in the message (see docs/config.md)");
  }
  log::setMinLevel(loaded->log.level);
  // validateConfig accepted it: json or text.
  if (StatusOr<log::Format> format = log::parseFormat(loaded->log.format); format.ok())
    log::setFormat(*format);

  http::RandomJitter jitter;
  std::variant<std::unique_ptr<Agent>, AgentSetupFailure> created =
      Agent::create(std::move(loaded).value(), AgentSeams{systemClock(), jitter});
  if (auto* failure = std::get_if<AgentSetupFailure>(&created)) {
    return fail(failure->code, failure->step, failure->status, failure->hint);
  }
  Agent& agent = *std::get<std::unique_ptr<Agent>>(created);
  if (Status started = agent.start(); !started.ok()) {
    return fail(ExitCode::Output, "server", started, "see the message");
  }
  waitForStopSignal(signals, agent);
  agent.stop();
  log::info("stopped", {{"exit_code", 0}});
  return 0;
}

}  // namespace skr::agent
