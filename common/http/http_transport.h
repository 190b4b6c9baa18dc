// HttpTransport: the one seam through which skr talks HTTP(S) (STYLE.md "Shape"). This header has
// no third-party includes so fakes depend only on it. The Poco implementation lives in
// poco_http_transport.cc; tests use tests/fakes/fake_http_transport.h.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/core/status.h"

namespace skr::http {

struct Header {
  std::string name;
  std::string value;
};

struct HttpRequest {
  std::string method = "GET";
  std::string url;  // absolute: scheme://host[:port]/path?query
  std::vector<Header> headers;
  std::string body;
  std::chrono::milliseconds timeout{30'000};  // total time for this attempt
  std::size_t max_response_bytes = 4 * 1024 * 1024;
};

// Overwrites the header values and the body of `request` with zeros (OPENSSL_cleanse): for copies
// of a request that carried a bearer token or a token in its body, before they are freed.
void wipeRequest(HttpRequest& request);

// Like wipeRequest for the strings of a request or response: `s` keeps its size, zeroed.
void wipeString(std::string& s);

struct HttpResponse {
  int status = 0;
  std::vector<Header> headers;
  std::string body;

  // Case-insensitive header lookup; empty when absent.
  std::string header(std::string_view name) const;
};

// Sends one request (no retries: retry policy sits above the transport). A response with any
// status is OK; only transport failures are errors: Unavailable (connect, TLS, reset, truncated),
// DeadlineExceeded (timeout), ResourceExhausted (response larger than max_response_bytes).
// Implementations are thread-safe.
class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  virtual StatusOr<HttpResponse> send(const HttpRequest& request) = 0;
};

}  // namespace skr::http
