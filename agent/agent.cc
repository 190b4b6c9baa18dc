#include "agent/agent.h"

#include <algorithm>
#include <utility>

#include "agent/authorization.h"
#include "agent/sidecar_compat.h"
#include "common/azure/blob_reader.h"
#include "common/log/logger.h"

namespace skr::agent {
namespace {

using release::ExitCode;

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
  // POST /data/open streams: the router admits max_concurrent, the server runs as many.
  options.max_streams = static_cast<std::size_t>(agent.data.max_concurrent);
  return options;
}

AgentSetupFailure failure(ExitCode code, std::string step, Status status, std::string hint) {
  return AgentSetupFailure{code, std::move(step), std::move(status), std::move(hint)};
}

}  // namespace

void Agent::StopFlag::set() {
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
  }
  changed_.notify_all();
}

bool Agent::StopFlag::waitFor(std::chrono::milliseconds duration) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, duration, [&] { return stopped_; });
}

bool Agent::StopFlag::stopped() {
  std::lock_guard lock(mutex_);
  return stopped_;
}

Agent::Agent(config::Config config, AgentSeams seams)
    : config_(std::move(config)), clock_(seams.clock), jitter_(seams.jitter) {}

std::variant<std::unique_ptr<Agent>, AgentSetupFailure> Agent::create(config::Config config,
                                                                      AgentSeams seams) {
  if (config.keys.empty()) {
    return failure(ExitCode::Usage, "config", invalidArgumentError("keys: no key is configured"),
                   "add at least one entry under keys: (or set SKR_KEYS)");
  }
  if (config.emulated()) {
    log::warning("emulated", {{"message",
                               "EMULATION: platform or sealing is emulated; no production release "
                               "policy accepts this platform"}});
  }
  std::unique_ptr<Agent> agent(new Agent(std::move(config), seams));
  const config::Config& cfg = agent->config_;

  std::variant<release::ReleaseServices, release::SetupFailure> built =
      release::buildReleaseServices(cfg, agent->clock_, agent->jitter_);
  if (auto* setup = std::get_if<release::SetupFailure>(&built)) {
    return failure(setup->code, "setup", setup->status, "see docs/config.md");
  }
  agent->services_.emplace(std::get<release::ReleaseServices>(std::move(built)));

  seal::StateDirOptions state_options;
  state_options.path = cfg.state_dir;
  state_options.group = cfg.seal.group;
  StatusOr<seal::StateDir> state_dir = seal::StateDir::open(std::move(state_options));
  if (!state_dir.ok()) {
    return failure(ExitCode::Output, "state_dir", state_dir.status(),
                   "state_dir must be a directory owned by this user, not group/world writable");
  }
  agent->state_dir_.emplace(std::move(state_dir).value());

  StatusOr<Authorizer> authorizer = Authorizer::create(authRules(cfg.agent));
  if (!authorizer.ok()) {
    return failure(ExitCode::Usage, "config", authorizer.status().withContext("agent.clients"),
                   "fix the client rule named in the message");
  }

  UnixSocketOptions client_options{cfg.agent.client_socket,
                                   static_cast<mode_t>(cfg.agent.socket_mode),
                                   cfg.agent.socket_group, 128};
  StatusOr<UnixListeningSocket> client_socket = UnixListeningSocket::create(client_options);
  if (!client_socket.ok()) {
    return failure(ExitCode::Output, "client_socket", client_socket.status(),
                   "check agent.client_socket, its directory's owner and mode, and socket_group");
  }
  agent->client_socket_.emplace(std::move(client_socket).value());
  // Same mode and group as the client socket; admin_uids decide who may use it.
  UnixSocketOptions admin_options = client_options;
  admin_options.path = cfg.agent.admin_socket;
  admin_options.backlog = 16;
  StatusOr<UnixListeningSocket> admin_socket = UnixListeningSocket::create(admin_options);
  if (!admin_socket.ok()) {
    return failure(ExitCode::Output, "admin_socket", admin_socket.status(),
                   "check agent.admin_socket, its directory's owner and mode");
  }
  agent->admin_socket_.emplace(std::move(admin_socket).value());

  // The Azure SKR sidecar compatibility listener, when enabled: a Unix socket (same mode and
  // group as the others) or a loopback TCP port.
  const config::AzureSidecarCompat& compat = cfg.agent.azure_sidecar;
  if (compat.enabled && !compat.socket.empty()) {
    UnixSocketOptions compat_options = client_options;
    compat_options.path = compat.socket;
    StatusOr<UnixListeningSocket> made = UnixListeningSocket::create(compat_options);
    if (!made.ok()) {
      return failure(ExitCode::Output, "compat_socket", made.status(),
                     "check agent.compat.azure_sidecar.socket and its directory");
    }
    agent->compat_socket_.emplace(std::move(made).value());
  } else if (compat.enabled) {
    StatusOr<LoopbackTcpListeningSocket> made = LoopbackTcpListeningSocket::create(compat.tcp_port);
    if (!made.ok()) {
      return failure(ExitCode::Output, "compat_port", made.status(),
                     "choose a free agent.compat.azure_sidecar.tcp_port");
    }
    agent->compat_port_.emplace(std::move(made).value());
  }

  Agent& a = *agent;
  a.keyring_ = std::make_shared<Keyring>();
  // Every configured key is known before the server answers: 503 NotReady until it is released.
  for (const auto& key : a.config_.keys) a.keyring_->declare(key.name);
  a.events_ =
      std::make_shared<EventLog>(EventLog::kDefaultCapacity, firstSeqFromClock(a.clock_.now()));
  RouterOptions router_options;
  router_options.emulated = cfg.emulated();
  router_options.max_event_waiters = std::max(0, cfg.agent.workers - 1);
  a.router_ = std::make_unique<Router>(
      a.keyring_, std::make_shared<const Authorizer>(std::move(authorizer).value()), a.clock_,
      router_options);
  a.router_->setEventLog(a.events_);

  AgentMetrics& metrics = a.router_->metrics();
  a.backend_ = std::make_unique<FlowReleaseBackend>(
      cfg, *a.services_, a.clock_, a.jitter_, [&metrics](const release::ProgressEvent& event) {
        release::logProgress(event, log::Level::Warning);
        metrics.recordRetries(release::stepName(event.step), event.attempts - 1);
      });
  ProvisionerOptions provisioner_options;
  provisioner_options.release_on_start = cfg.agent.release_on_start;
  a.provisioner_ = std::make_unique<KeyProvisioner>(cfg, *a.backend_, *a.services_->sealing,
                                                    *a.state_dir_, a.keyring_, a.events_, a.clock_,
                                                    &metrics, provisioner_options);
  KeyProvisioner& provisioner = *a.provisioner_;
  azure::TokenProvider* entra = a.services_->tokens.get();
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

  AdminHooks hooks;
  hooks.rotate = [&a](const std::string& name, const std::optional<std::string>& version) {
    StatusOr<std::string> kid = a.provisioner_->rotate(name, version);
    if (kid.ok()) a.markReadyIfAll();
    return kid;
  };
  hooks.reload = [&a] { return a.reload(); };
  hooks.retire = [&a](const std::string& name, const std::string& version) {
    return a.state_dir_->removeVersion(name, version);
  };
  a.router_->setAdminHooks(hooks);

  DataOpenOptions data_options;
  data_options.sources = cfg.agent.data.sources;
  data_options.max_concurrent = cfg.agent.data.max_concurrent;
  // Blobs are read with the agent's transport (tls.ca_file), its identity's storage token (the
  // provider, the clock and the jitter source are thread-safe: stream threads share them) and
  // the configured retry policy.
  const http::RetryPolicy blob_retry = release::retryPolicyFor(
      cfg.retry, "Blob Storage", azure::BlobReaderOptions::defaultRetryPolicy());
  a.router_->setDataOpen(
      std::move(data_options),
      [&a, blob_retry](const DataOpenRequest& r) -> StatusOr<std::unique_ptr<data::ObjectSource>> {
        azure::BlobReaderOptions options;
        options.url = r.url;
        options.retry = blob_retry;
        SKR_ASSIGN_OR_RETURN(options.auth, azure::parseBlobAuth(r.auth));
        if (options.auth == azure::BlobAuth::Entra && a.services_->tokens == nullptr) {
          return invalidArgumentError(
              "auth entra needs the agent's identity, and identity kind is none: use a SAS URL "
              "or a public blob");
        }
        SKR_ASSIGN_OR_RETURN(
            std::unique_ptr<azure::BlobReader> reader,
            azure::BlobReader::create(a.services_->transport, a.services_->tokens.get(), a.clock_,
                                      a.jitter_, std::move(options)));
        return std::unique_ptr<data::ObjectSource>(std::move(reader));
      });

  a.listeners_ = {{a.client_socket_->fd(), Listener::Client},
                  {a.admin_socket_->fd(), Listener::Admin}};
  if (compat.enabled) {
    a.router_->setSidecarCompat(
        std::make_shared<const SidecarCompat>(
            a.keyring_,
            std::make_shared<ServicesSidecarPlatform>(*a.services_, a.clock_, cfg.platform.vmpl),
            cfg.attestation.maa_endpoint),
        compat.require_request_header);
    a.listeners_.push_back(
        {a.compat_socket_ ? a.compat_socket_->fd() : a.compat_port_->fd(), Listener::Compat});
    if (!compat.require_request_header) {
      log::warning("compat_header_not_required",
                   {{"message",
                     "the Azure SKR sidecar listener accepts requests without X-SKR-Request: 1 "
                     "(agent.compat.azure_sidecar.require_request_header: false); a request "
                     "forged through an app can reach it"}});
    }
  }
  return agent;
}

Agent::~Agent() {
  stop();
}

Status Agent::start() {
  if (server_ != nullptr) return failedPreconditionError("the agent is already started");
  StatusOr<std::unique_ptr<HttpServer>> server =
      HttpServer::start(serverOptions(config_.agent), *router_, listeners_, clock_);
  if (!server.ok()) return server.status();
  server_ = std::move(server).value();
  log::info("listening",
            {{"version", SKR_VERSION},
             {"client_socket", client_socket_->path()},
             {"admin_socket", admin_socket_->path()},
             {"compat", compat_socket_ ? compat_socket_->path()
                        : compat_port_ ? "127.0.0.1:" + std::to_string(compat_port_->port())
                                       : std::string("off")},
             {"keys", static_cast<int64_t>(config_.keys.size())},
             {"release_on_start", config::releaseOnStartName(config_.agent.release_on_start)}});

  provision_thread_ = std::thread([this] { provisionLoop(); });
  if (config_.agent.rotation_interval.count() > 0) {
    rotation_thread_ = std::thread([this] { rotationLoop(); });
  }
  return okStatus();
}

Status Agent::reload() {
  // What start-up enforced must still hold: a state dir made group/world-writable, or removed
  // and created again, is not read (the keys verified earlier keep serving).
  if (Status checked = state_dir_->recheck(); !checked.ok()) {
    log::error("reload_refused", {{"path", state_dir_->path()}, {"message", checked.toString()}});
    return checked;
  }
  SKR_RETURN_IF_ERROR(provisioner_->loadBundles());
  markReadyIfAll();
  return okStatus();
}

void Agent::stop() {
  stop_.set();
  if (events_ != nullptr) events_->close();
  if (server_ != nullptr) server_->requestStop();
  if (rotation_thread_.joinable()) rotation_thread_.join();
  if (provision_thread_.joinable()) provision_thread_.join();
  if (server_ != nullptr) server_->wait();
}

void Agent::markReadyIfAll() {
  if (provisioner_->allReady() && !ready_.exchange(true)) {
    router_->setReady(true);
    events_->publish(EventType::Ready, "", "", clock_.now());
    log::info("ready", {{"keys", static_cast<int64_t>(config_.keys.size())}});
  }
}

// Start-up: bundles first, then releases in the background with backoff until ready.
void Agent::provisionLoop() {
  if (Status bundles = provisioner_->loadBundles(); !bundles.ok()) {
    log::error("bundles_not_loaded", {{"message", bundles.toString()}});
  }
  http::BackoffParams backoff;
  backoff.base = config_.retry.base;
  backoff.cap = std::max(config_.retry.cap, std::chrono::milliseconds(30000));
  for (int attempt = 1; !stop_.stopped(); ++attempt) {
    if (provisioner_->provision()) {
      markReadyIfAll();
      return;
    }
    // Full jitter can be ~0: keep at least 250 ms between passes.
    const auto delay = std::max(http::retryDelay(attempt, backoff, jitter_, std::nullopt),
                                std::chrono::milliseconds(250));
    log::info("not_ready",
              {{"attempt", attempt}, {"retry_in_ms", static_cast<int64_t>(delay.count())}});
    if (stop_.waitFor(delay)) return;
  }
}

// Scheduled checks for a new version of every key, once ready.
void Agent::rotationLoop() {
  while (!stop_.waitFor(scheduledDelay(config_.agent.rotation_interval,
                                       config_.agent.rotation_jitter, jitter_.next()))) {
    if (!ready_.load()) continue;
    for (const config::KeyConfig& key : config_.keys) {
      StatusOr<bool> rotated = provisioner_->checkForNewVersion(key.name);
      if (rotated.ok() && *rotated) log::info("scheduled_rotation", {{"key", key.name}});
    }
  }
}

}  // namespace skr::agent
