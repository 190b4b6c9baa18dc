// The agent's HTTP/1.1 server on already-listening sockets (DESIGN.md §6, §10).
// One event-loop thread accepts on every listening socket and reads/writes non-blocking
// connections with epoll; a fixed pool of worker threads runs RequestHandler::handle for complete
// requests only, so a slow or silent client never holds a worker.
//  - Keep-alive and pipelining: one request per connection is in flight at a time; pipelined
//    requests are answered in order.
//  - Every response carries Content-Length and `Cache-Control: no-store`, and
//    `Content-Type: application/json` unless the handler set one. Server-side errors use the AKV
//    shape {"error":{"code","message"}}: 400 BadRequest, 408 RequestTimeout, 413 PayloadTooLarge,
//    414 UriTooLong, 417 ExpectationFailed, 431 HeaderTooLarge, 500 InternalError (a handler
//    threw or returned an invalid header), 501 NotImplemented (Transfer-Encoding),
//    503 TooManyConnections, 505 HttpVersionNotSupported. An error response always closes the
//    connection; after a refused request (not after 408) the server first shuts down its write
//    side and discards what the client still sends (up to max(4 MiB, 2 x max_body_bytes) or
//    read_timeout), so a client busy sending an oversized body reads the 413, not a reset.
//  - Timeouts: read_timeout runs from the first byte of a request until it is complete (then
//    408 and close); idle_timeout closes a connection silently when no request is pending;
//    write_timeout bounds the time to write one response (then close).
//  - Connection limit: when max_connections are open, a new connection first evicts the
//    connection idle the longest (keep-alive, no request pending); when none is idle it is
//    accepted, answered 503 TooManyConnections and closed. Idle clients therefore cannot lock
//    out a well-behaved one; busy ones can only until their read_timeout.
//  - Peer credentials (SO_PEERCRED) are read once per connection at accept; a connection whose
//    credentials cannot be read is closed.
//  - Request and response bodies live in SecretBytes, as do the connection's read and write
//    buffers; nothing here logs a header value or a body.
// The real monotonic clock drives the timeouts (epoll_wait); the tests are integration-style.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <vector>

#include "agent/http_message.h"
#include "common/core/status.h"

namespace skr::agent {

struct HttpServerOptions {
  std::size_t workers = 4;
  std::size_t max_connections = 256;
  std::size_t max_body_bytes = std::size_t{1024} * 1024;
  std::size_t max_header_bytes = std::size_t{16} * 1024;
  std::chrono::milliseconds read_timeout{5000};
  std::chrono::milliseconds idle_timeout{30000};
  std::chrono::milliseconds write_timeout{5000};
  std::chrono::milliseconds drain_timeout{10000};
};

// A listening socket the server accepts on, and which Listener its requests are tagged with.
// The descriptor stays owned by the caller and must stay open until stop() returned.
struct ListeningSocket {
  int fd = -1;
  Listener listener = Listener::Client;
};

class HttpServer {
 public:
  // Validates the options (workers and max_connections >= 1, positive timeouts), puts the
  // listening descriptors into non-blocking mode and starts the event-loop and worker threads.
  // `handler` must outlive the server. Errors: InvalidArgument, Internal (epoll/eventfd/threads).
  static StatusOr<std::unique_ptr<HttpServer>> start(HttpServerOptions options,
                                                     RequestHandler& handler,
                                                     std::vector<ListeningSocket> sockets);

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  // stop(), then releases everything.
  ~HttpServer();

  // Asks for a graceful stop and returns at once: stop accepting, close idle connections, finish
  // the requests in flight (their responses say `Connection: close`), then close everything; after
  // drain_timeout remaining connections are closed regardless. Only writes to an eventfd, so it is
  // async-signal-safe and may be called from any thread, any number of times.
  void requestStop();
  // Blocks until the event loop has finished (after requestStop()) and joins every thread.
  // Handlers still running at the drain deadline are waited for (they must return). Call from one
  // thread only; idempotent.
  void wait();
  // requestStop() + wait().
  void stop();

  // Connections currently open (for /status and metrics); thread-safe.
  std::size_t openConnections() const;

 private:
  class Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace skr::agent
