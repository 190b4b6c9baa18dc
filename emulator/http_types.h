// The emulator's transport-neutral HTTP request and response (no Poco here), what every
// service handler sees and returns. The server adapter (http_server.cc) converts from and to Poco.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/json/json.h"

namespace skr::emulator {

// Case-insensitive header list, in arrival order.
class Headers {
 public:
  void add(std::string name, std::string value) {
    entries_.emplace_back(std::move(name), std::move(value));
  }
  // First value of `name` (ASCII case-insensitive), or empty when absent.
  std::string get(std::string_view name) const;
  bool has(std::string_view name) const;
  void set(std::string name, std::string value);
  const std::vector<std::pair<std::string, std::string>>& entries() const { return entries_; }

 private:
  std::vector<std::pair<std::string, std::string>> entries_;
};

// One request as routed to a handler. `body` is at most kMaxBodyBytes.
struct Request {
  std::string listener;   // "imds", "entra", "vault", "mhsm", "maa", "admin", ...
  std::string base_url;   // this listener's URL, "https://127.0.0.1:PORT"
  std::string method;     // "GET", "POST", ...
  std::string path;       // percent-decoded path, no query
  std::string raw_query;  // as received, without '?'
  std::multimap<std::string, std::string> query;  // decoded query parameters
  Headers headers;
  std::string body;
  std::map<std::string, std::string> captures;  // {name} segments of the matched route
  // Fault "wrong_key" is active for this request: handlers that sign something (tokens, release
  // JWS, MAA tokens) sign with EmulatorContext::wrongKey() instead of the real key.
  bool sign_with_wrong_key = false;

  // First value of query parameter `name`, or empty.
  std::string queryParam(std::string_view name) const;
  bool hasQueryParam(std::string_view name) const;
};

struct Response {
  int status = 200;
  Headers headers;
  std::string content_type = "application/json; charset=utf-8";
  std::string body;
};

inline constexpr std::size_t kMaxBodyBytes = 1024 * 1024;

// A JSON response from an object (canonical, compact serialization).
Response jsonResponse(int status, const json::ObjectPtr& object);
// Azure's CloudError / KeyVaultError shape:
// {"error":{"code":..,"message":..[,"innererror":{"code":..}]}}.
Response cloudError(int status, std::string_view code, std::string_view message,
                    std::string_view inner_code = {});

}  // namespace skr::emulator
