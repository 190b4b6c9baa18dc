// The admin socket's routes (router.h): GET /status, GET /metrics, POST
// /keys/{name}/{version}/retire, POST /keys/{name}/rotate and POST /reload (the last two call
// the AdminHooks; unset, 501). Thread-safe.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "agent/keyring.h"
#include "agent/metrics.h"
#include "agent/routes.h"
#include "common/core/status.h"

namespace skr::agent {

// Admin actions the lead wires to the release flow and the state dir (main.cc).
struct AdminHooks {
  // POST /keys/{name}/rotate: release `version` (or the latest), seal, write, make primary.
  // Returns the new primary kid. Errors map like key operations (Unavailable -> 503).
  std::function<StatusOr<std::string>(const std::string& name,
                                      const std::optional<std::string>& version)>
      rotate;
  // POST /reload: re-read configuration and bundles.
  std::function<Status()> reload;
  // POST /keys/{name}/{version}/retire, after the keyring accepted it: remove the bundle file
  // (seal::StateDir::removeVersion). Unset: the retirement is in memory only.
  std::function<Status(const std::string& name, const std::string& version)> retire;
};

class AdminHandlers {
 public:
  // `metrics` and `ready` (the router's readiness) must outlive the handlers.
  AdminHandlers(std::shared_ptr<Keyring> keyring, const AgentMetrics& metrics,
                const std::atomic<bool>& ready, bool emulated)
      : keyring_(std::move(keyring)), metrics_(metrics), ready_(ready), emulated_(emulated) {}

  void setHooks(AdminHooks hooks);

  StatusOr<HttpResponse> status(const RouteCall& call) const;
  StatusOr<HttpResponse> metrics(const RouteCall& call) const;
  StatusOr<HttpResponse> retire(const RouteCall& call) const;
  StatusOr<HttpResponse> rotate(const RouteCall& call) const;
  StatusOr<HttpResponse> reload(const RouteCall& call) const;

 private:
  AdminHooks hooks() const;

  std::shared_ptr<Keyring> keyring_;
  const AgentMetrics& metrics_;
  const std::atomic<bool>& ready_;
  const bool emulated_;
  mutable std::mutex mutex_;  // guards hooks_
  AdminHooks hooks_;
};

}  // namespace skr::agent
