// One HTTP/1.1 request as the agent's server hands it to a handler, and the handler's answer
// (DESIGN.md §6). The server (agent/http_server.h) parses, bounds and authenticates the peer's
// credentials; handlers (agent/router.h and below) never touch sockets.
// Bodies are SecretBytes: requests carry plaintext to encrypt and responses carry unwrapped DEKs,
// so both live in locked, wiped memory and are never logged.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/core/secret_bytes.h"
#include "common/core/status.h"

namespace skr::agent {

// SO_PEERCRED of the connection (pid 0 when the kernel does not report one, e.g. across PID
// namespaces).
struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = static_cast<uid_t>(-1);
  gid_t gid = static_cast<gid_t>(-1);
};

// Which socket a request arrived on: the client socket, the admin socket, or the Azure SKR
// sidecar compatibility listener (DESIGN.md §6).
enum class Listener { Client, Admin, Compat };

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // percent-decoded path without the query, e.g. "/keys/data-kek/unwrapkey"
  std::vector<std::pair<std::string, std::string>> query;    // decoded name/value pairs
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased, in order
  SecretBytes body;
  PeerCredentials peer;
  Listener listener = Listener::Client;

  // The first header with this (lower-case) name; empty when absent.
  std::string header(std::string_view lower_name) const {
    for (const auto& [name, value] : headers) {
      if (name == lower_name) return value;
    }
    return {};
  }
};

struct HttpResponse;

// Where a streamed body goes (the server's side of a BodyStream). Thread-safe for the one stream
// thread that writes.
class BodyWriter {
 public:
  virtual ~BodyWriter() = default;
  // Copies `piece` into chunks of at most kMaxStreamChunkBytes and queues them, blocking while
  // the connection already holds its limit of unwritten chunks (a slow reader slows the producer
  // down; nothing runs ahead). An empty piece is ignored. FailedPrecondition when the stream was
  // cancelled: the connection closed or timed out, or the server is stopping; the producer must
  // then return.
  virtual Status write(const SecretBytes& piece) = 0;
  // Adds a header to the response's head (e.g. what the stream learned from its first read);
  // only before the first write() (FailedPrecondition after). InvalidArgument for a name or value
  // that cannot be sent; Content-Length, Transfer-Encoding, Connection and Cache-Control stay the
  // server's.
  virtual Status addHeader(std::string name, std::string value) = 0;
};

// The largest chunk a streamed body is sent in (larger pieces are split).
inline constexpr std::size_t kMaxStreamChunkBytes = std::size_t{1024} * 1024;

// A response body produced while it is sent (Transfer-Encoding: chunked), e.g. the plaintext of a
// blob opened by POST /data/open. The server runs produce() on one of its stream threads (not a
// request worker), at most HttpServerOptions::max_streams at once. The response's status line
// and headers go out with the first piece (or at the end of an empty body), so a stream that
// fails before writing anything is answered with failedBeforeBody() instead, an ordinary error
// response. produce() writes the pieces in order and returns OK at the end of the body (the
// server then sends the terminating zero-length chunk and the connection stays usable) or the
// failure (after a first piece: the server closes the connection WITHOUT the terminating chunk,
// so the client can tell a complete body from a cut one). A stream that is never run (a HEAD
// request, which gets the head at once; a caller that hung up; the stream limit) is destroyed.
class BodyStream {
 public:
  virtual ~BodyStream() = default;
  virtual Status produce(BodyWriter& writer) = 0;
  // The answer when produce() failed before writing anything (called on the stream thread).
  virtual HttpResponse failedBeforeBody(const Status& failure);
};

struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;  // Content-Type defaults to JSON
  SecretBytes body;
  // Set: the body is streamed from it in chunks (`body` must be empty).
  std::shared_ptr<BodyStream> stream;
};

inline constexpr std::string_view kJsonContentType = "application/json; charset=utf-8";

// A JSON answer with `text` as its body.
inline HttpResponse jsonTextResponse(int status, std::string_view text) {
  HttpResponse r;
  r.status = status;
  r.headers.emplace_back("Content-Type", std::string(kJsonContentType));
  r.body = SecretBytes::copyOf(asBytes(text));
  return r;
}

// 500 InternalError, the failure carries no answer of its own.
inline HttpResponse BodyStream::failedBeforeBody(const Status& /*failure*/) {
  return jsonTextResponse(
      500,
      R"({"error":{"code":"InternalError","message":"the response body could not be produced"}})");
}

// Handles one request; called concurrently from the server's worker threads. Must not throw.
class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  virtual HttpResponse handle(const HttpRequest& request) = 0;
  // A request the server answered itself without calling handle(): malformed or oversized (4xx),
  // too slow (408), or a connection over the limit (503 TooManyConnections, seconds 0). Called on
  // the event-loop thread: must be quick and must not block. `code` is the AKV error code sent.
  virtual void refused(Listener /*listener*/, int /*status*/, std::string_view /*code*/,
                       double /*seconds*/) {}
  // Called on the event-loop thread once the head of a request that announces a body is parsed,
  // before any body byte is read (`head` has peer and listener, no body). nullopt lets the body
  // in; a response refuses the request: the server sends it, closes the connection and discards
  // the body unread, so a caller that may not use the route costs no body memory. The handler
  // writes the refusal's audit line. Must be quick and must not block.
  virtual std::optional<HttpResponse> admit(const HttpRequest& /*head*/) { return std::nullopt; }
  // Called on the event-loop thread at accept: whether some rule names this peer on `listener`
  // (on the admin socket: an admin). Connections of peers no rule names share a small separate
  // budget (HttpServerOptions::unknown_peer_connections). Must be quick and must not block.
  virtual bool knownPeer(Listener /*listener*/, const PeerCredentials& /*peer*/) { return true; }
  // Called on the event-loop thread for a complete request (peer, listener and body set): true
  // when handle() is quick, bounded and never waits for it, so the event-loop thread answers it
  // itself instead of handing it to a worker and the answer back (two thread wake-ups less per
  // request). Only for work of a few microseconds on a small body, such as a symmetric key wrap
  // or unwrap; anything that may wait (RSA, I/O, a lock held long) must answer false. The server
  // answers at most HttpServerOptions::quick_per_round such requests per wake-up (quick_per_uid
  // of one caller uid, none while the worker queues hold a backlog) and hands the rest to the
  // workers. Must be quick and must not block.
  virtual bool quick(const HttpRequest& /*request*/) { return false; }
};

}  // namespace skr::agent
