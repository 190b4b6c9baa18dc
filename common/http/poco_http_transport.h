// PocoHttpTransport: the production HttpTransport (HTTP and HTTPS through Poco::Net / NetSSL with
// OpenSSL). This header keeps Poco out of its includes; poco_http_transport.cc is the only file
// that includes Poco's HTTP(S) client.
//
// TLS: 1.2 or later, SNI, peer verification against `ca_file` (or the system store), and hostname
// (or IP) verification by OpenSSL during the handshake; no option turns verification off.
// Connections are kept alive and reused per scheme+host+port. Thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "common/core/status.h"
#include "common/http/http_transport.h"
#include "common/http/proxy.h"

namespace skr::http {

struct PocoHttpTransportOptions {
  // PEM file of trusted CAs; empty = the system store (/etc/ssl/certs, OpenSSL default paths).
  std::string ca_file;
  // Bound on TCP connect + TLS handshake (further bounded by the request's timeout).
  std::chrono::milliseconds connect_timeout{10'000};
  std::string user_agent = std::string("skr/") + SKR_VERSION;
  // nullopt: read the proxy variables from the environment in create().
  std::optional<ProxySettings> proxy;
  // Idle keep-alive connections kept per scheme+host+port, and how long one may stay idle.
  std::size_t max_idle_per_host = 4;
  std::chrono::seconds idle_timeout{30};
};

class PocoHttpTransport : public HttpTransport {
 public:
  // Validates the options (CA file readable, proxy URLs parse). Initialises Poco's SSL once.
  static StatusOr<std::unique_ptr<PocoHttpTransport>> create(PocoHttpTransportOptions options);
  ~PocoHttpTransport() override;

  PocoHttpTransport(const PocoHttpTransport&) = delete;
  PocoHttpTransport& operator=(const PocoHttpTransport&) = delete;

  // See HttpTransport::send. Errors name "METHOD scheme://host:port/path" (never the query,
  // headers or bodies). A request that fails on a reused keep-alive connection before any
  // response byte arrived is sent once more on a fresh connection (the server closed it idle).
  StatusOr<HttpResponse> send(const HttpRequest& request) override;

  // Idle pooled connections right now (for tests and status output).
  std::size_t idleConnections() const;

 private:
  struct Impl;
  explicit PocoHttpTransport(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace skr::http
