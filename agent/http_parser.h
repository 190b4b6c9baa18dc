// Incremental HTTP/1.1 request parser (RFC 9112) for the agent's sockets (DESIGN.md §6). Pure: no
// sockets, no clock. Bytes arrive in any split; feed() stops at the end of one request so
// pipelined bytes stay with the caller for the next one.
// Strict on purpose (the peer is untrusted): lines end in CRLF, no obs-fold, no whitespace before
// the colon, one Content-Length, no Transfer-Encoding (501: this agent never needs chunked bodies),
// origin-form targets only. Body bytes (plaintext to encrypt, wrapped keys) go straight into
// SecretBytes. Not thread-safe; one parser per connection.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "agent/http_message.h"
#include "common/core/status.h"

namespace skr::agent {

struct HttpParserLimits {
  std::size_t max_request_line_bytes = std::size_t{8} * 1024;  // 414 beyond
  std::size_t max_header_bytes =
      std::size_t{16} * 1024;          // header block after the request line; 431
  std::size_t max_header_count = 100;  // 431 beyond
  std::size_t max_body_bytes =
      std::size_t{1024} * 1024;  // Content-Length above it: 413 before any body
  // When true, feed() stops after a head that announces a body (awaitingAdmission()) and takes
  // no body byte until admit(): the server decides on the caller before it buffers the body.
  bool pause_before_body = false;
};

// Why a request was refused: the HTTP status and the AKV error code/message the server answers
// with. Messages describe sizes and syntax, never header values or body bytes.
struct HttpParseError {
  int status = 400;
  std::string code;  // "BadRequest", "HeaderTooLarge", "PayloadTooLarge", ...
  std::string message;
};

class HttpRequestParser {
 public:
  enum class State {
    Incomplete,  // more bytes needed
    Complete,    // a whole request is ready: takeRequest()
    Failed,      // error(); the connection must be answered and closed
  };

  explicit HttpRequestParser(HttpParserLimits limits = {});

  // Consumes bytes of the current request from `input` and returns how many it used. It stops
  // after the last byte of one request (Complete) or at the first error (Failed); the unused rest
  // belongs to the next request. Once Complete or Failed it consumes nothing until reset.
  std::size_t feed(std::string_view input);

  State state() const { return state_; }
  // True once any byte of the current request was consumed (the read timeout runs from here).
  bool started() const { return started_; }
  // True once the request line and headers are parsed and a body is still expected, and the
  // client asked for `Expect: 100-continue` (the server then sends an interim 100).
  bool awaitingBodyWithContinue() const;

  // True when pause_before_body is set, the head is parsed, a body of contentLength() > 0 bytes is
  // announced and admit() was not called yet: feed() consumes nothing meanwhile.
  bool awaitingAdmission() const {
    return state_ == State::Incomplete && phase_ == Phase::Body && !admitted_;
  }
  // The parsed head (method, path, query, headers; no body yet) while awaitingAdmission().
  HttpRequest& head() { return request_; }
  std::size_t contentLength() const { return content_length_; }
  // Lets feed() take the body of the request awaiting admission.
  void admit() { admitted_ = true; }

  // The finished request (state Complete); peer and listener are left for the server to fill.
  // Afterwards the parser is ready for the next request on the same connection.
  HttpRequest takeRequest();
  // Whether the connection stays open after answering the request just taken (HTTP/1.1 unless
  // `Connection: close`; HTTP/1.0 only with `Connection: keep-alive`).
  bool keepAlive() const { return keep_alive_; }
  // The error (state Failed).
  const HttpParseError& error() const { return error_; }

  // Back to an empty parser for the next request.
  void reset();

 private:
  enum class Phase { Head, Body, Done };

  std::size_t feedHead(std::string_view input);
  std::size_t feedBody(std::string_view input);
  void parseHead();
  void fail(int status, std::string code, std::string message);

  HttpParserLimits limits_;
  State state_ = State::Incomplete;
  Phase phase_ = Phase::Head;
  bool started_ = false;
  std::size_t skipped_empty_bytes_ = 0;
  std::string head_;                             // request line + headers, up to the blank line
  std::optional<std::size_t> request_line_end_;  // index of the request line's '\n' in head_
  HttpRequest request_;
  std::size_t content_length_ = 0;
  std::size_t body_received_ = 0;
  bool keep_alive_ = true;
  bool expect_continue_ = false;
  bool admitted_ = true;  // false between a parsed head and admit() (pause_before_body)
  HttpParseError error_;
};

// Percent-decodes one component of a request target (RFC 3986 §2.1). Rejects "%00", truncated or
// non-hex escapes (InvalidArgument). With `plus_is_space` (query strings) '+' decodes to ' '.
StatusOr<std::string> percentDecode(std::string_view text, bool plus_is_space);

}  // namespace skr::agent
