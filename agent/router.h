// The agent's request router (DESIGN.md §6): maps HTTP requests on the client and admin sockets
// to key operations, with Azure Key Vault-shaped JSON. Binary values are base64url without
// padding on output (padded or standard base64 is accepted on input); `?api-version=` is ignored.
//
// Client socket:
//   GET  /keys                                   {value: [{name, kid, primary_version, versions,
//                                                 kty, state, generation}]} (keys the caller may
//                                                 see)
//   GET  /keys/{name}[/{version}]                {key: public JWK (never d/p/q/.../k), attributes}
//   POST /keys/{name}[/{version}]/unwrapkey      {alg, value} -> {kid, value}
//   POST /keys/{name}[/{version}]/wrapkey        {alg, value} -> {kid, value}
//   POST /keys/{name}[/{version}]/decrypt        {alg, value[, iv, tag, aad]} -> {kid, value}
//   POST /keys/{name}[/{version}]/encrypt        {alg, value[, aad]} -> {kid, value[, iv, tag]}
//   POST /keys/{name}/rewrap                     {kid (old version), alg, value} -> {kid, value}
//   POST /keys/{name}/unwrapkey/batch            {requests: [{alg, value[, kid]}]} (<= 100) ->
//                                                {results: [{kid, value} | {error}]}
//   GET  /events?after=N[&timeout=S]            long-poll (operation "events"): waits up to S
//                                                seconds (default 30, max 60) for an event with
//                                                seq > N -> {events: [...], next} (events.h);
//                                                events of keys outside the caller's rules are
//                                                left out. Served before readiness.
//   POST /data/open                              {url, key[, auth]} -> the plaintext of an
//                                                encrypted blob, streamed (operation
//                                                "open-data"; data_handlers.h)
//   GET  /healthz, GET /readyz                   (no caller rule needed; both sockets)
// Admin socket ("admin" operation):
//   GET /status, GET /metrics (Prometheus text), POST /keys/{name}/{version}/retire,
//   POST /keys/{name}/rotate ({version?}), POST /reload  (the last two call hooks; 501 unset)
//
// Azure SKR sidecar compatibility listener: the routes of sidecar_compat.h (setSidecarCompat),
//   with the sidecar's {"error": "..."} failures; same authentication as the other sockets.
//
// Errors (api_error.h): {"error": {"code", "message"[, "innererror": {"code"}]}}:
//   400 BadParameter   malformed JSON, base64, algorithm, key size, lengths, failed unwrap/decrypt
//   401 MissingRequestHeader (no `X-SKR-Request: 1`), Unauthorized (token; WWW-Authenticate)
//   403 Forbidden      no rule / operation or key outside the rule / key_ops (innererror
//                      KeyOperationForbidden) / admin route on the client socket and vice versa
//   404 NotFound (route), KeyNotFound, VersionNotFound (an unknown version is never a fallback)
//   405 MethodNotAllowed (with Allow), 409 Conflict (retire the primary),
//   501 NotImplemented (hook unset), 503 NotReady (Retry-After; until setReady(true), or the key
//   has no primary version). 503: retry with backoff; 400/403/404: do not.
// Every request writes one audit line (log event "request": listener, method, op, key, version,
// status, code, caller uid/gid/pid, rule, duration_ms; never a body or a token) and updates the
// metrics. Thread-safe: handle() runs concurrently; it never throws.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "agent/admin_handlers.h"
#include "agent/authorization.h"
#include "agent/batch_handler.h"
#include "agent/data_handlers.h"
#include "agent/event_handler.h"
#include "agent/events.h"
#include "agent/http_message.h"
#include "agent/key_handlers.h"
#include "agent/keyring.h"
#include "agent/metrics.h"
#include "agent/routes.h"
#include "agent/sidecar_compat.h"
#include "common/core/clock.h"
#include "common/core/status.h"

namespace skr::agent {

struct RouterOptions {
  bool emulated = false;              // stamped into /status and skr_emulated
  std::size_t max_batch_items = 100;  // POST .../unwrapkey/batch
  int retry_after_seconds = 1;        // Retry-After of 503 NotReady
  // GET /events polls that may wait at once; further polls answer at once (as timeout=0), so
  // long polls never hold every server worker. The agent sets workers - 1.
  int max_event_waiters = 2;
};

class Router final : public RequestHandler {
 public:
  // `keyring` and `authorizer` are shared with the rest of the agent; `clock` must outlive the
  // router (durations use steadyNow()).
  Router(std::shared_ptr<Keyring> keyring, std::shared_ptr<const Authorizer> authorizer,
         const Clock& clock, RouterOptions options = {});

  HttpResponse handle(const HttpRequest& request) override;
  // Counts a request the HTTP server refused itself in skr_requests_total{op="http"} (its audit
  // line is written by the server).
  void refused(Listener listener, int status, std::string_view code, double seconds) override;
  // Before the body is read: the route, method, socket, caller and its grant on the route's
  // operation and key (the same checks handle() makes first). A refusal is audited and counted
  // here; nullopt lets the body in.
  std::optional<HttpResponse> admit(const HttpRequest& head) override;
  // Whether some rule names the peer (on the admin socket: an admin rule).
  bool knownPeer(Listener listener, const PeerCredentials& peer) override;
  // Answered on the server's event-loop thread: /healthz, /readyz, and a key operation
  // (wrapkey, unwrapkey, encrypt, decrypt) on the client socket whose key version is symmetric
  // (oct: a few microseconds of AES) with a body of at most kQuickBodyBytes. RSA, rewrap,
  // batches, listings and everything else go to the workers.
  bool quick(const HttpRequest& request) override;
  static constexpr std::size_t kQuickBodyBytes = 8 * 1024;

  // Readiness: every configured key released and verified (the lead decides). Until then key
  // operations and /readyz answer 503 NotReady.
  void setReady(bool ready) { ready_.store(ready); }
  bool ready() const { return ready_.load(); }

  void setAdminHooks(AdminHooks hooks) { admin_.setHooks(std::move(hooks)); }
  // The Azure SKR sidecar routes of the Listener::Compat socket (sidecar_compat.h); unset, that
  // listener answers 404. Set before the server starts.
  // `require_request_header` false: that listener accepts requests without `X-SKR-Request: 1`
  // (compat.azure_sidecar.require_request_header); every other check stays.
  void setSidecarCompat(std::shared_ptr<const SidecarCompat> compat,
                        bool require_request_header = true) {
    compat_ = std::move(compat);
    compat_requires_header_ = require_request_header;
  }
  // The event log GET /events reads (unset: 501). A long poll holds one worker thread.
  void setEventLog(std::shared_ptr<EventLog> events) { events_.setEventLog(std::move(events)); }
  // POST /data/open: agent.data and the factory of blob sources (unset: 501). Set before the
  // server starts. The router must outlive the server (streams write their audit line through
  // it when they end).
  void setDataOpen(DataOpenOptions options, DataSourceFactory factory) {
    data_.configure(std::move(options), std::move(factory));
  }
  const DataHandlers& dataHandlers() const { return data_; }

  const AgentMetrics& metrics() const { return metrics_; }
  AgentMetrics& metrics() { return metrics_; }

 private:
  struct Preflight;
  struct CompatPreflight;
  Preflight preflight(const HttpRequest& request, RequestAudit& audit);
  CompatPreflight compatPreflight(const HttpRequest& request, RequestAudit& audit);
  void audit(const HttpRequest& request, const RequestAudit& audit, int status, double seconds);
  HttpResponse dispatch(const HttpRequest& request, RequestAudit& audit);
  HttpResponse dispatchCompat(const HttpRequest& request, RequestAudit& audit);
  // The route's handler; readiness gates the key operations.
  StatusOr<HttpResponse> serve(const RouteCall& call);
  // The audit line of a streamed answer, written when its stream ends.
  DataHandlers::AuditLine deferredAudit(const HttpRequest& request);

  std::shared_ptr<Keyring> keyring_;
  std::shared_ptr<const Authorizer> authorizer_;
  const Clock* clock_;
  RouterOptions options_;
  std::atomic<bool> ready_{false};
  std::shared_ptr<const SidecarCompat> compat_;
  bool compat_requires_header_ = true;
  AgentMetrics metrics_;
  KeyHandlers keys_;
  BatchHandler batch_;
  EventHandler events_;
  AdminHandlers admin_;
  DataHandlers data_;
};

}  // namespace skr::agent
