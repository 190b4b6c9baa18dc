#include "emulator/http_server.h"

#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/ThreadPool.h>
#include <Poco/URI.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <mutex>

#include "common/log/logger.h"

namespace skr::emulator {
namespace {

// Shared by every handler: stop flag and the wake-up for fault delays.
struct ServerState {
  EmulatorContext* context = nullptr;
  const Router* router = nullptr;
  std::mutex mutex;
  std::condition_variable stopping_cv;
  bool stopping = false;

  // Waits `ms` or until stop; true when the full delay elapsed.
  bool sleepFor(int ms) {
    std::unique_lock lock(mutex);
    return !stopping_cv.wait_for(lock, std::chrono::milliseconds(ms), [&] { return stopping; });
  }
};

std::string nowRfc3339Millis() {
  const auto now = std::chrono::system_clock::now();
  const auto secs = std::chrono::time_point_cast<std::chrono::seconds>(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - secs).count();
  const std::time_t t = std::chrono::system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

void shutdownConnection(Poco::Net::HTTPServerRequest& request) {
  auto* impl = dynamic_cast<Poco::Net::HTTPServerRequestImpl*>(&request);
  if (impl == nullptr) return;
  try {
    impl->socket().shutdown();
  } catch (...) {
    // Already closed by the peer: nothing more to do.
  }
}

class RequestHandler final : public Poco::Net::HTTPRequestHandler {
 public:
  RequestHandler(ServerState& state, std::string listener, std::string base_url)
      : state_(state), listener_(std::move(listener)), base_url_(std::move(base_url)) {}

  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    start_ = std::chrono::steady_clock::now();
    entry_recorded_ = false;
    RequestLogEntry entry;
    entry.time = nowRfc3339Millis();
    entry.listener = listener_;
    entry.method = request.getMethod();
    try {
      entry.status = serve(request, response, entry);
    } catch (const Poco::Exception& e) {
      entry.status = failSafe(response, "Poco: " + e.displayText());
    } catch (const std::exception& e) {
      entry.status = failSafe(response, e.what());
    } catch (...) {
      entry.status = failSafe(response, "unknown exception");
    }
    record(entry);  // responses already recorded theirs; closed connections are recorded here
  }

 private:
  int failSafe(Poco::Net::HTTPServerResponse& response, const std::string& what) {
    log::error("emulator.handler_exception", {{"listener", listener_}, {"error", what}});
    if (response.sent()) return 0;
    try {
      Response r = cloudError(500, "InternalError", "skr-emulator: internal error");
      response.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(r.status));
      response.setContentType(r.content_type);
      response.setContentLength(static_cast<std::streamsize>(r.body.size()));
      response.send() << r.body;
    } catch (...) {
      // The connection is gone; nothing else can be done for this request.
    }
    return 500;
  }

  // Reads the body (bounded). false when it is too large.
  static bool readBody(Poco::Net::HTTPServerRequest& request, std::string& body) {
    if (request.hasContentLength() &&
        request.getContentLength64() > static_cast<Poco::Int64>(kMaxBodyBytes)) {
      return false;
    }
    std::istream& in = request.stream();
    char buf[16384];
    while (in) {
      in.read(buf, sizeof buf);
      const std::streamsize n = in.gcount();
      if (n <= 0) break;
      body.append(buf, static_cast<std::size_t>(n));
      if (body.size() > kMaxBodyBytes) return false;
    }
    return true;
  }

  // Records the request in the request log, then sends the response: a client that has read a
  // response always finds its request in GET /_emulator/requests (tests count requests).
  // The response stream, for a fault that sends more later.
  std::ostream& respond(RequestLogEntry& entry, Poco::Net::HTTPServerResponse& response,
                        const Response& r, std::size_t send_bytes) {
    entry.status = r.status;
    record(entry);
    return send(response, r, send_bytes);
  }

  void record(RequestLogEntry& entry) {
    if (entry_recorded_) return;
    entry_recorded_ = true;
    entry.duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now() - start_)
                            .count();
    log::info("emulator.request", {{"listener", entry.listener},
                                   {"method", entry.method},
                                   {"path", entry.path},
                                   {"status", entry.status},
                                   {"fault", entry.fault},
                                   {"duration_ms", entry.duration_ms}});
    if (listener_ != "admin") state_.context->requestLog().append(RequestLogEntry(entry));
  }

  static std::ostream& send(Poco::Net::HTTPServerResponse& response, const Response& r,
                            std::size_t send_bytes) {
    response.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(r.status));
    for (const auto& [k, v] : r.headers.entries()) response.set(k, v);
    response.set("x-ms-emulated", "true");
    if (!r.body.empty()) response.setContentType(r.content_type);
    response.setContentLength(static_cast<std::streamsize>(r.body.size()));
    std::ostream& out = response.send();
    out.write(r.body.data(), static_cast<std::streamsize>(std::min(send_bytes, r.body.size())));
    out.flush();
    return out;
  }

  int serve(Poco::Net::HTTPServerRequest& http, Poco::Net::HTTPServerResponse& response,
            RequestLogEntry& entry) {
    Request request;
    request.listener = listener_;
    request.base_url = base_url_;
    request.method = http.getMethod();
    try {
      Poco::URI uri(http.getURI());
      request.path = uri.getPath();
      request.raw_query = uri.getRawQuery();
      for (auto& [k, v] : uri.getQueryParameters()) request.query.emplace(k, v);
    } catch (const Poco::Exception&) {
      Response bad = cloudError(400, "BadParameter", "skr-emulator: malformed request URI");
      respond(entry, response, bad, bad.body.size());
      return 400;
    }
    entry.path = request.path.size() > 512 ? request.path.substr(0, 512) : request.path;
    for (const auto& [k, v] : http) request.headers.add(k, v);
    if (!readBody(http, request.body)) {
      Response big =
          cloudError(413, "RequestTooLarge", "skr-emulator: request body larger than 1 MiB");
      response.setKeepAlive(false);
      respond(entry, response, big, big.body.size());
      return 413;
    }

    std::optional<FaultAction> fault =
        state_.context->faults().take(listener_, request.method, request.path);
    if (fault) {
      entry.fault = std::string(faultKindName(fault->kind));
      log::info("emulator.fault", {{"listener", listener_},
                                   {"path", entry.path},
                                   {"action", entry.fault},
                                   {"rule", fault->rule_id}});
      switch (fault->kind) {
        case FaultKind::Status: {
          Response r =
              fault->body.empty()
                  ? cloudError(fault->status, "EmulatedFault",
                               "skr-emulator: injected fault (rule " +
                                   std::to_string(fault->rule_id) + ")")
                  : Response{fault->status, {}, "application/json; charset=utf-8", fault->body};
          if (fault->retry_after_seconds) {
            r.headers.set("Retry-After", std::to_string(*fault->retry_after_seconds));
          }
          respond(entry, response, r, r.body.size());
          return r.status;
        }
        case FaultKind::Delay:
          if (!state_.sleepFor(fault->delay_ms)) {
            response.setKeepAlive(false);
            shutdownConnection(http);
            return 0;
          }
          break;
        case FaultKind::Close:
          response.setKeepAlive(false);
          shutdownConnection(http);
          return 0;
        case FaultKind::WrongKey: request.sign_with_wrong_key = true; break;
        case FaultKind::Truncate:
        case FaultKind::Corrupt:
        case FaultKind::SlowBody:
        case FaultKind::ContentType: break;
      }
    }

    Response r = state_.router->dispatch(std::move(request));
    if (fault && fault->kind == FaultKind::Truncate) {
      response.setKeepAlive(false);
      respond(entry, response, r, r.body.size() / 2);
      shutdownConnection(http);
      return r.status;
    }
    if (fault && fault->kind == FaultKind::SlowBody) {
      // The headers and the first half now, the rest after delay_ms (or never, on shutdown).
      response.setKeepAlive(false);
      std::ostream& out = respond(entry, response, r, r.body.size() / 2);
      if (state_.sleepFor(fault->delay_ms)) {
        try {
          out.write(r.body.data() + r.body.size() / 2,
                    static_cast<std::streamsize>(r.body.size() - r.body.size() / 2));
          out.flush();
        } catch (const Poco::Exception&) {
          // The client gave up waiting: that is what this fault tests.
        }
      }
      shutdownConnection(http);
      return r.status;
    }
    if (fault && fault->kind == FaultKind::ContentType) r.content_type = fault->content_type;
    if (fault && fault->kind == FaultKind::Corrupt) corruptBody(r.body);
    respond(entry, response, r, r.body.size());
    return r.status;
  }

  ServerState& state_;
  std::string listener_;
  std::string base_url_;
  std::chrono::steady_clock::time_point start_{};
  bool entry_recorded_ = false;
};

class HandlerFactory final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  HandlerFactory(ServerState& state, std::string listener, std::string base_url)
      : state_(state), listener_(std::move(listener)), base_url_(std::move(base_url)) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new RequestHandler(state_, listener_, base_url_);
  }

 private:
  ServerState& state_;
  std::string listener_;
  std::string base_url_;
};

}  // namespace

struct EmulatorServer::Impl {
  struct Listener {
    ListenerSpec spec;
    Poco::Net::ServerSocket socket;
    uint16_t port = 0;
    std::string url;
    std::unique_ptr<Poco::Net::HTTPServer> server;
  };
  std::string host;
  std::vector<Listener> listeners;
  Poco::ThreadPool pool{4, 128, 60};
  ServerState state;
  bool started = false;
};

EmulatorServer::EmulatorServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

EmulatorServer::~EmulatorServer() {
  stop();
}

StatusOr<std::unique_ptr<EmulatorServer>> EmulatorServer::bind(
    const std::string& host, const std::vector<ListenerSpec>& listeners,
    const std::string& tls_cert_path, const std::string& tls_key_path) {
  auto impl = std::make_unique<Impl>();
  impl->host = host;
  Poco::Net::Context::Ptr tls;
  try {
    Poco::Net::initializeSSL();
    tls = new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, tls_key_path, tls_cert_path,
                                 "", Poco::Net::Context::VERIFY_NONE, 9, false,
                                 "HIGH:!aNULL:!eNULL:!MD5:!RC4:!3DES");
    tls->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
  } catch (const Poco::Exception& e) {
    return internalError("TLS server context from " + tls_cert_path + ": " + e.displayText());
  }
  const bool ipv6 = host.find(':') != std::string::npos;
  for (const ListenerSpec& spec : listeners) {
    Impl::Listener l;
    l.spec = spec;
    auto tryBind = [&](uint16_t port) -> Status {
      try {
        Poco::Net::ServerSocket socket =
            spec.tls ? Poco::Net::ServerSocket(Poco::Net::SecureServerSocket(tls))
                     : Poco::Net::ServerSocket();
        socket.bind(Poco::Net::SocketAddress(host, port), true, false);
        socket.listen(128);
        l.socket = socket;
        l.port = socket.address().port();
        return okStatus();
      } catch (const Poco::Exception& e) {
        return unavailableError("listener '" + spec.name + "': bind " + host + ":" +
                                std::to_string(port) + ": " + e.displayText());
      }
    };
    Status bound = okStatus();
    if (spec.port == 0 && spec.preferred_port != 0) {
      bound = tryBind(spec.preferred_port);
      if (!bound.ok()) bound = tryBind(0);
    } else {
      bound = tryBind(spec.port);
    }
    if (!bound.ok()) return bound;
    l.url = std::string(spec.tls ? "https" : "http") + "://" + (ipv6 ? "[" + host + "]" : host) +
            ":" + std::to_string(l.port);
    impl->listeners.push_back(std::move(l));
  }
  return std::unique_ptr<EmulatorServer>(new EmulatorServer(std::move(impl)));
}

std::map<std::string, std::string> EmulatorServer::urls() const {
  std::map<std::string, std::string> out;
  for (const auto& l : impl_->listeners) out[l.spec.name] = l.url;
  return out;
}

std::map<std::string, uint16_t> EmulatorServer::ports() const {
  std::map<std::string, uint16_t> out;
  for (const auto& l : impl_->listeners) out[l.spec.name] = l.port;
  return out;
}

Status EmulatorServer::start(EmulatorContext& context, const Router& router) {
  impl_->state.context = &context;
  impl_->state.router = &router;
  try {
    for (auto& l : impl_->listeners) {
      Poco::Net::HTTPServerParams::Ptr params = new Poco::Net::HTTPServerParams;
      params->setMaxThreads(32);
      params->setMaxQueued(128);
      params->setKeepAlive(true);
      params->setKeepAliveTimeout(Poco::Timespan(10, 0));
      params->setTimeout(Poco::Timespan(30, 0));
      params->setSoftwareVersion("skr-emulator/" SKR_VERSION " (emulated, not Azure)");
      l.server = std::make_unique<Poco::Net::HTTPServer>(
          new HandlerFactory(impl_->state, l.spec.name, l.url), impl_->pool, l.socket, params);
      l.server->start();
    }
  } catch (const Poco::Exception& e) {
    return internalError("starting listeners: " + e.displayText());
  }
  impl_->started = true;
  return okStatus();
}

void EmulatorServer::stop() {
  if (!impl_ || !impl_->started) return;
  {
    std::lock_guard lock(impl_->state.mutex);
    impl_->state.stopping = true;
  }
  impl_->state.stopping_cv.notify_all();
  for (auto& l : impl_->listeners) {
    try {
      if (l.server) l.server->stopAll(true);
    } catch (const Poco::Exception& e) {
      log::warning("emulator.stop_failed", {{"listener", l.spec.name}, {"error", e.displayText()}});
    }
  }
  impl_->pool.joinAll();
  for (auto& l : impl_->listeners) l.server.reset();
  impl_->started = false;
}

}  // namespace skr::emulator
