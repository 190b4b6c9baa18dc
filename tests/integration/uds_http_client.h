// A minimal HTTP/1.1 client over a Unix domain socket for the skr-agent integration tests: one
// request per connection (`Connection: close`), plain blocking sockets, the response read until
// EOF and split into status, headers and body (Content-Length honoured when present).
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace skr::testing {

struct UdsResponse {
  bool transport_error = false;  // connect / send / receive failed, or no status line
  std::string error;
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

// Sends `method path` with `body` (JSON when non-empty) and the given headers (X-SKR-Request: 1
// is always added) to the socket at `socket_path`. `timeout` bounds every receive.
UdsResponse udsRequest(const std::string& socket_path, const std::string& method,
                       const std::string& path, const std::string& body = {},
                       std::vector<std::pair<std::string, std::string>> headers = {},
                       std::chrono::milliseconds timeout = std::chrono::seconds(90));

}  // namespace skr::testing
