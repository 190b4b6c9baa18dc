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
//  - Timeouts: the request line and headers must arrive within header_timeout (capped at
//    read_timeout) of the request's first byte, the whole request within read_timeout (then 408
//    and close); idle_timeout closes a connection silently when no request is pending;
//    write_timeout bounds the time to write one response (then close).
//  - Authorization before the body (issue 14): once the head of a request with a body is parsed
//    the handler's admit() decides on the caller, route, operation and key; a refusal is answered
//    and the body discarded unread. An admitted body must fit max_buffered_body_bytes (all
//    connections together, reserved by Content-Length; one uid at most half of it, at least one
//    max_body_bytes), else 503 ServerBusy with Retry-After.
//  - Connection budgets: the client (and compat) sockets share max_connections, the admin socket
//    has admin_connections, and peers that no rule names (RequestHandler::knownPeer) share
//    unknown_peer_connections on any socket; outside the admin socket one uid holds at most
//    max_connections_per_uid. A new connection over a budget first closes, in that budget (or
//    of that uid), a connection already refused and lingering, else the one idle the longest,
//    else the slowest partial request (fewest bytes per second, answered 408); only when every
//    connection is being handled or written it is answered 503 TooManyConnections and closed.
//  - Workers: complete requests queue per caller uid and are taken round-robin; cheap requests
//    (GET/HEAD except /events) have their own queue that every worker takes first, and one more
//    thread (the cheap lane) serves only that queue, so expensive requests never stall them.
//    After a request or response of 16 KiB or more the heap is trimmed (malloc_trim) so RSS
//    returns near idle.
//  - Quick requests (RequestHandler::quick: a symmetric key operation on a small body) skip the
//    workers: the event-loop thread answers them itself once it has read every ready
//    connection, at most quick_per_round per wake-up and quick_per_uid of one caller uid, and
//    none while requests wait in the worker queues (saturated: the workers use every core); the
//    rest goes to the worker queues (per uid, round-robin) as any request, so one caller's flood
//    of quick requests on many connections holds the loop for a bounded time and another
//    caller's quick request is still answered in the wake-up it arrives in. The log lines of a
//    pass of quick requests (their audit lines) go out in one write, before their answers.
//  - Streamed responses (HttpResponse::stream): the head goes out with the stream's first piece
//    (or its end), with `Transfer-Encoding: chunked` (no Content-Length) and the headers the
//    stream added, then the pieces as chunks of at most 1 MiB; a stream that fails before its
//    first piece is answered with its failedBeforeBody() response instead. Every stream runs on
//    its own thread (max_streams of them; a streamed response beyond that is answered 429
//    TooManyRequests with Retry-After), so a long body never holds a request
//    worker. Backpressure: a connection holds at most two unwritten pieces (one being written,
//    one waiting); the stream's next write blocks until the reader took one. write_timeout
//    applies to a reader that stops reading (it restarts whenever bytes go out). The end of the
//    body sends "0\r\n\r\n" and the connection serves its next (pipelined) request; a failed
//    stream closes the connection without the terminating chunk. A connection that closes or
//    times out, and requestStop(), cancel the stream (its next write fails) and close at once. A
//    HEAD request gets the head only and the stream is not run.
//  - Peer credentials (SO_PEERCRED) are read once per connection at accept; a connection whose
//    credentials cannot be read is closed.
//  - Request and response bodies live in SecretBytes, as do the connection's read and write
//    buffers; nothing here logs a header value or a body.
// Deadlines are read from the injected Clock (steadyNow()); the event loop sleeps in epoll_wait
// until the next one and poke() wakes it, so tests drive the timeouts with a FakeClock.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <vector>

#include "agent/http_message.h"
#include "common/core/clock.h"
#include "common/core/status.h"

namespace skr::agent {

// Default max_buffered_body_bytes: this many bodies of max_body_bytes buffered at once.
inline constexpr std::size_t kDefaultBufferedBodies = 4;

struct HttpServerOptions {
  std::size_t workers = 4;                   // plus one thread for cheap requests
  std::size_t quick_per_round = 64;          // quick requests per loop wake-up (0: off)
  std::size_t quick_per_uid = 16;            // of them per caller uid (0: off)
  std::size_t max_streams = 4;               // streamed responses at once (own threads)
  std::size_t max_connections = 256;         // client and compat sockets
  std::size_t admin_connections = 16;        // admin socket
  std::size_t unknown_peer_connections = 8;  // peers no rule names, any socket
  std::size_t max_connections_per_uid = 64;  // one uid, outside the admin socket
  std::size_t max_buffered_body_bytes = 0;   // 0: kDefaultBufferedBodies * max_body_bytes
  std::size_t max_body_bytes = std::size_t{1024} * 1024;
  std::size_t max_header_bytes = std::size_t{16} * 1024;
  std::chrono::milliseconds header_timeout{2000};  // capped at read_timeout
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
  // `handler` and `clock` (every timeout is measured on clock.steadyNow()) must outlive the
  // server. Errors: InvalidArgument, Internal (epoll/eventfd/threads).
  static StatusOr<std::unique_ptr<HttpServer>> start(HttpServerOptions options,
                                                     RequestHandler& handler,
                                                     std::vector<ListeningSocket> sockets,
                                                     Clock& clock);

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
  // Wakes the event loop so it reads the clock again and acts on every deadline that passed
  // (for a Clock that moved without real time passing, e.g. a test's FakeClock). Only writes to
  // an eventfd: async-signal-safe, any thread, any number of times.
  void poke();

  // Connections currently open (for /status and metrics); thread-safe.
  std::size_t openConnections() const;
  // Streamed responses running now, and the bytes of their pieces buffered in the server and not
  // yet written to a socket (tests and metrics); thread-safe.
  std::size_t activeStreams() const;
  std::size_t bufferedStreamBytes() const;

 private:
  class Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace skr::agent
