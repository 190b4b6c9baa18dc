// The running agent (DESIGN.md §6, §7): owns the release services, the state dir, the sockets,
// the keyring, router, provisioner and HTTP server, and the background threads that provision
// the keys at start-up and check for new versions on schedule. Process-wide concerns (options,
// hardening, signals, the final exit code) stay in agent_command.cc.
//
// Life cycle: create() builds every part and opens the sockets (no thread runs yet); start()
// starts the HTTP server, logs "listening" and starts the provisioning (and, with
// agent.rotation_interval, the rotation) thread; stop() drains and joins everything. The
// destructor calls stop().
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "agent/events.h"
#include "agent/http_server.h"
#include "agent/key_provisioner.h"
#include "agent/keyring.h"
#include "agent/loopback_tcp_socket.h"
#include "agent/release_backend.h"
#include "agent/router.h"
#include "agent/unix_socket.h"
#include "common/config/config.h"
#include "common/core/clock.h"
#include "common/core/status.h"
#include "common/http/retry.h"
#include "common/release/release_flow.h"
#include "common/release/release_services.h"
#include "common/seal/state_dir.h"

namespace skr::agent {

// Why the agent could not be built: the exit code and the "failed" log line's step and hint.
struct AgentSetupFailure {
  release::ExitCode code;
  std::string step;
  Status status;
  std::string hint;
};

// The effects the agent uses; both must outlive it. main() passes the real ones.
struct AgentSeams {
  Clock& clock;
  http::JitterSource& jitter;
};

class Agent {
 public:
  // Checks that keys are configured, warns when emulated, builds the release services, opens the
  // state dir, builds the authorizer and creates the client, admin and (when enabled) sidecar
  // compat sockets, then wires keyring, event log, router, release backend, provisioner and the
  // admin hooks. No thread is started. Socket creation runs under a temporary umask: call before
  // the process starts threads that create files.
  static std::variant<std::unique_ptr<Agent>, AgentSetupFailure> create(config::Config config,
                                                                        AgentSeams seams);

  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;
  // stop().
  ~Agent();

  // Starts the HTTP server on the sockets (serving at once, not ready), logs "listening", then
  // starts the provisioning thread (bundles, then releases with backoff until every key is
  // ready) and the scheduled rotation thread. Errors: the server's (InvalidArgument, Internal);
  // FailedPrecondition when already started.
  Status start();

  // Re-reads the bundles from the state dir after re-checking it (SIGHUP, POST /reload).
  Status reload();

  // Stops the background threads and drains the server (requests in flight finish, then every
  // connection closes; see HttpServer::requestStop), then joins every thread it started, the
  // last started first. Idempotent; call from one thread at a time.
  void stop();

  // The router's readiness: every configured key has a primary version.
  bool ready() const { return router_->ready(); }

 private:
  // A stop flag that background loops wait on instead of sleeping (real time).
  class StopFlag {
   public:
    void set();
    // Waits up to `duration`; true when stopped.
    bool waitFor(std::chrono::milliseconds duration);
    bool stopped();

   private:
    std::mutex mutex_;
    std::condition_variable changed_;
    bool stopped_ = false;
  };

  Agent(config::Config config, AgentSeams seams);

  void markReadyIfAll();
  void provisionLoop();
  void rotationLoop();

  // Declared in dependency order: each part borrows only from those above it, and is destroyed
  // before them.
  const config::Config config_;
  Clock& clock_;
  http::JitterSource& jitter_;
  std::optional<release::ReleaseServices> services_;
  std::optional<seal::StateDir> state_dir_;
  std::optional<UnixListeningSocket> client_socket_;
  std::optional<UnixListeningSocket> admin_socket_;
  std::optional<UnixListeningSocket> compat_socket_;
  std::optional<LoopbackTcpListeningSocket> compat_port_;
  std::shared_ptr<Keyring> keyring_;
  std::shared_ptr<EventLog> events_;
  std::unique_ptr<Router> router_;
  std::unique_ptr<FlowReleaseBackend> backend_;
  std::unique_ptr<KeyProvisioner> provisioner_;
  std::vector<ListeningSocket> listeners_;
  std::atomic<bool> ready_{false};
  StopFlag stop_;
  std::unique_ptr<HttpServer> server_;
  std::thread provision_thread_;
  std::thread rotation_thread_;
};

}  // namespace skr::agent
