#include "agent/agent_command.h"

#include <grp.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <variant>

#include "agent/authorization.h"
#include "agent/events.h"
#include "agent/http_server.h"
#include "agent/key_provisioner.h"
#include "agent/keyring.h"
#include "agent/loopback_tcp_socket.h"
#include "agent/release_backend.h"
#include "agent/router.h"
#include "agent/sidecar_compat.h"
#include "agent/unix_socket.h"
#include "common/config/config.h"
#include "common/core/clock.h"
#include "common/core/hardening.h"
#include "common/http/retry.h"
#include "common/log/logger.h"
#include "common/release/release_services.h"
#include "common/seal/state_dir.h"

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

// A stop flag that background loops wait on instead of sleeping.
class StopFlag {
 public:
  void set() {
    {
      std::lock_guard lock(mutex_);
      stopped_ = true;
    }
    changed_.notify_all();
  }
  // Waits up to `duration`; true when stopped.
  bool waitFor(std::chrono::milliseconds duration) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, duration, [&] { return stopped_; });
  }
  bool stopped() {
    std::lock_guard lock(mutex_);
    return stopped_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool stopped_ = false;
};

std::vector<AuthRule> authRules(const config::AgentConfig& agent) {
  std::vector<AuthRule> rules;
  for (const config::ClientRule& client : agent.clients) {
    rules.push_back({client.name, client.uids, client.gids, client.operations, client.keys,
                     client.token_sha256});
  }
  if (!agent.admin_uids.empty()) {
    rules.push_back({"admin", agent.admin_uids, {}, {"admin"}, {"*"}, std::nullopt});
  }
  return rules;
}

HttpServerOptions serverOptions(const config::AgentConfig& agent) {
  HttpServerOptions options;
  options.workers = static_cast<std::size_t>(agent.workers);
  options.max_connections = static_cast<std::size_t>(agent.limits.max_connections);
  options.admin_connections = static_cast<std::size_t>(agent.limits.admin_connections);
  options.unknown_peer_connections =
      static_cast<std::size_t>(agent.limits.unknown_peer_connections);
  options.max_connections_per_uid = static_cast<std::size_t>(agent.limits.max_connections_per_uid);
  options.max_buffered_body_bytes = agent.limits.max_buffered_body_bytes;
  options.header_timeout = agent.limits.header_timeout;
  options.max_body_bytes = agent.limits.max_body_bytes;
  options.max_header_bytes = agent.limits.max_header_bytes;
  options.read_timeout = agent.limits.read_timeout;
  options.idle_timeout = agent.limits.idle_timeout;
  return options;
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
  // Signals are taken by one thread with sigwait(); block them before any thread starts.
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
  const config::Config& config = *loaded;
  log::setMinLevel(config.log.level);
  if (config.keys.empty()) {
    return fail(ExitCode::Usage, "config", invalidArgumentError("keys: no key is configured"),
                "add at least one entry under keys: (or set SKR_KEYS)");
  }
  if (config.emulated()) {
    log::warning("emulated", {{"message",
                               "EMULATION: platform or sealing is emulated; no production release "
                               "policy accepts this platform"}});
  }

  Clock& clock = systemClock();
  http::RandomJitter jitter;
  std::variant<release::ReleaseServices, release::SetupFailure> built =
      release::buildReleaseServices(config, clock, jitter);
  if (auto* failure = std::get_if<release::SetupFailure>(&built)) {
    return fail(failure->code, "setup", failure->status, "see docs/config.md");
  }
  release::ReleaseServices& services = std::get<release::ReleaseServices>(built);

  seal::StateDirOptions state_options;
  state_options.path = config.state_dir;
  state_options.group = config.seal.group;
  StatusOr<seal::StateDir> state_dir = seal::StateDir::open(std::move(state_options));
  if (!state_dir.ok()) {
    return fail(ExitCode::Output, "state_dir", state_dir.status(),
                "state_dir must be a directory owned by this user, not group/world writable");
  }

  StatusOr<Authorizer> authorizer = Authorizer::create(authRules(config.agent));
  if (!authorizer.ok()) {
    return fail(ExitCode::Usage, "config", authorizer.status().withContext("agent.clients"),
                "fix the client rule named in the message");
  }

  // Sockets before any thread: creation runs under a temporary umask.
  UnixSocketOptions client_options{config.agent.client_socket,
                                   static_cast<mode_t>(config.agent.socket_mode),
                                   config.agent.socket_group, 128};
  StatusOr<UnixListeningSocket> client_socket = UnixListeningSocket::create(client_options);
  if (!client_socket.ok()) {
    return fail(ExitCode::Output, "client_socket", client_socket.status(),
                "check agent.client_socket, its directory's owner and mode, and socket_group");
  }
  // Same mode and group as the client socket; admin_uids decide who may use it.
  UnixSocketOptions admin_options = client_options;
  admin_options.path = config.agent.admin_socket;
  admin_options.backlog = 16;
  StatusOr<UnixListeningSocket> admin_socket = UnixListeningSocket::create(admin_options);
  if (!admin_socket.ok()) {
    return fail(ExitCode::Output, "admin_socket", admin_socket.status(),
                "check agent.admin_socket, its directory's owner and mode");
  }

  // The Azure SKR sidecar compatibility listener, when enabled: a Unix socket (same mode and
  // group as the others) or a loopback TCP port.
  const config::AzureSidecarCompat& compat = config.agent.azure_sidecar;
  std::optional<UnixListeningSocket> compat_socket;
  std::optional<LoopbackTcpListeningSocket> compat_port;
  if (compat.enabled && !compat.socket.empty()) {
    UnixSocketOptions compat_options = client_options;
    compat_options.path = compat.socket;
    StatusOr<UnixListeningSocket> made = UnixListeningSocket::create(compat_options);
    if (!made.ok()) {
      return fail(ExitCode::Output, "compat_socket", made.status(),
                  "check agent.compat.azure_sidecar.socket and its directory");
    }
    compat_socket = std::move(made).value();
  } else if (compat.enabled) {
    StatusOr<LoopbackTcpListeningSocket> made = LoopbackTcpListeningSocket::create(compat.tcp_port);
    if (!made.ok()) {
      return fail(ExitCode::Output, "compat_port", made.status(),
                  "choose a free agent.compat.azure_sidecar.tcp_port");
    }
    compat_port = std::move(made).value();
  }

  auto keyring = std::make_shared<Keyring>();
  auto events =
      std::make_shared<EventLog>(EventLog::kDefaultCapacity, firstSeqFromClock(clock.now()));
  RouterOptions router_options;
  router_options.emulated = config.emulated();
  router_options.max_event_waiters = std::max(0, config.agent.workers - 1);
  Router router(keyring, std::make_shared<const Authorizer>(std::move(authorizer).value()), clock,
                router_options);
  router.setEventLog(events);

  AgentMetrics& metrics = router.metrics();
  FlowReleaseBackend backend(
      config, services, clock, jitter, [&metrics](const release::ProgressEvent& event) {
        release::logProgress(event, log::Level::Warning);
        metrics.recordRetries(release::stepName(event.step), event.attempts - 1);
      });
  ProvisionerOptions provisioner_options;
  provisioner_options.release_on_start = config.agent.release_on_start;
  KeyProvisioner provisioner(config, backend, *services.sealing, *state_dir, keyring, events, clock,
                             &metrics, provisioner_options);
  azure::TokenProvider* entra = services.tokens.get();
  metrics.setTokenExpirySource([&provisioner, entra] {
    std::vector<std::pair<std::string, SystemTime>> out;
    if (std::optional<SystemTime> maa = provisioner.cachedMaaExpiry())
      out.emplace_back("maa", *maa);
    if (entra != nullptr) {
      if (std::optional<SystemTime> token = entra->earliestExpiry())
        out.emplace_back("entra", *token);
    }
    return out;
  });

  std::atomic<bool> ready{false};
  auto markReadyIfAll = [&] {
    if (provisioner.allReady() && !ready.exchange(true)) {
      router.setReady(true);
      events->publish(EventType::Ready, "", "", clock.now());
      log::info("ready", {{"keys", static_cast<int64_t>(config.keys.size())}});
    }
  };
  AdminHooks hooks;
  hooks.rotate = [&](const std::string& name, const std::optional<std::string>& version) {
    StatusOr<std::string> kid = provisioner.rotate(name, version);
    if (kid.ok()) markReadyIfAll();
    return kid;
  };
  hooks.reload = [&]() -> Status {
    // What start-up enforced must still hold: a state dir made group/world-writable, or removed
    // and created again, is not read (the keys verified earlier keep serving).
    if (Status checked = state_dir->recheck(); !checked.ok()) {
      log::error("reload_refused", {{"path", state_dir->path()}, {"message", checked.toString()}});
      return checked;
    }
    SKR_RETURN_IF_ERROR(provisioner.loadBundles());
    markReadyIfAll();
    return okStatus();
  };
  hooks.retire = [&](const std::string& name, const std::string& version) {
    return state_dir->removeVersion(name, version);
  };
  router.setAdminHooks(hooks);

  std::vector<ListeningSocket> listeners = {{client_socket->fd(), Listener::Client},
                                            {admin_socket->fd(), Listener::Admin}};
  if (compat.enabled) {
    router.setSidecarCompat(
        std::make_shared<const SidecarCompat>(
            keyring,
            std::make_shared<ServicesSidecarPlatform>(services, clock, config.platform.vmpl),
            config.attestation.maa_endpoint),
        compat.require_request_header);
    listeners.push_back(
        {compat_socket ? compat_socket->fd() : compat_port->fd(), Listener::Compat});
    if (!compat.require_request_header) {
      log::warning("compat_header_not_required",
                   {{"message",
                     "the Azure SKR sidecar listener accepts requests without X-SKR-Request: 1 "
                     "(agent.compat.azure_sidecar.require_request_header: false); a request "
                     "forged through an app can reach it"}});
    }
  }
  StatusOr<std::unique_ptr<HttpServer>> server =
      HttpServer::start(serverOptions(config.agent), router, listeners);
  if (!server.ok()) {
    return fail(ExitCode::Output, "server", server.status(), "see the message");
  }
  log::info("listening",
            {{"version", SKR_VERSION},
             {"client_socket", client_socket->path()},
             {"admin_socket", admin_socket->path()},
             {"compat", compat_socket ? compat_socket->path()
                        : compat_port ? "127.0.0.1:" + std::to_string(compat_port->port())
                                      : std::string("off")},
             {"keys", static_cast<int64_t>(config.keys.size())},
             {"release_on_start", config::releaseOnStartName(config.agent.release_on_start)}});

  StopFlag stop;
  std::thread signal_thread([&] {
    for (;;) {
      int received = 0;
      if (sigwait(&signals, &received) != 0) continue;
      if (received == SIGHUP) {
        log::info("signal", {{"signal", "SIGHUP"}, {"action", "reload"}});
        if (Status s = hooks.reload(); !s.ok()) {
          log::error("reload_failed", {{"message", s.toString()}});
        }
        continue;
      }
      log::info("signal",
                {{"signal", received == SIGINT ? "SIGINT" : "SIGTERM"}, {"action", "drain"}});
      stop.set();
      events->close();
      (*server)->requestStop();
      return;
    }
  });

  // Start-up: bundles first, then releases in the background with backoff until ready.
  std::thread provision_thread([&] {
    if (Status bundles = provisioner.loadBundles(); !bundles.ok()) {
      log::error("bundles_not_loaded", {{"message", bundles.toString()}});
    }
    http::BackoffParams backoff;
    backoff.base = config.retry.base;
    backoff.cap = std::max(config.retry.cap, std::chrono::milliseconds(30000));
    for (int attempt = 1; !stop.stopped(); ++attempt) {
      if (provisioner.provision()) {
        markReadyIfAll();
        return;
      }
      // Full jitter can be ~0: keep at least 250 ms between passes.
      const auto delay = std::max(http::retryDelay(attempt, backoff, jitter, std::nullopt),
                                  std::chrono::milliseconds(250));
      log::info("not_ready",
                {{"attempt", attempt}, {"retry_in_ms", static_cast<int64_t>(delay.count())}});
      if (stop.waitFor(delay)) return;
    }
  });

  std::thread rotation_thread;
  if (config.agent.rotation_interval.count() > 0) {
    rotation_thread = std::thread([&] {
      while (!stop.waitFor(scheduledDelay(config.agent.rotation_interval,
                                          config.agent.rotation_jitter, jitter.next()))) {
        if (!ready.load()) continue;
        for (const config::KeyConfig& key : config.keys) {
          StatusOr<bool> rotated = provisioner.checkForNewVersion(key.name);
          if (rotated.ok() && *rotated) log::info("scheduled_rotation", {{"key", key.name}});
        }
      }
    });
  }

  (*server)->wait();
  stop.set();
  if (provision_thread.joinable()) provision_thread.join();
  if (rotation_thread.joinable()) rotation_thread.join();
  signal_thread.join();
  log::info("stopped", {{"exit_code", 0}});
  return 0;
}

}  // namespace skr::agent
