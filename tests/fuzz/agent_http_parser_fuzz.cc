// Fuzz target for the agent's HTTP/1.1 request parser (agent/http_parser.h). Properties:
//  - the input parsed as a pipeline (request after request until an error or the end) gives the
//    same requests and errors whether fed at once, byte by byte, or in chunks chosen by the input;
//  - feed() never consumes more than it was given, and a Complete request respects the limits:
//    body <= max_body_bytes, header count <= max_header_count, a path that starts with '/' and
//    holds no control character, lower-case header names;
//  - errors carry a 4xx/5xx status and an AKV code.
// A violated property traps, so libFuzzer (and the corpus replay) reports it as a crash.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/http_parser.h"

namespace {

using skr::agent::HttpParserLimits;
using skr::agent::HttpRequest;
using skr::agent::HttpRequestParser;

void require(bool condition) {
  if (!condition) __builtin_trap();
}

// A canonical text of what the parser produced, for comparing feeding strategies.
std::string describe(const HttpRequest& request, bool keep_alive) {
  std::string out = request.method + " " + request.path + "?";
  for (const auto& [name, value] : request.query)
    out.append(name).append("=").append(value).append("&");
  for (const auto& [name, value] : request.headers)
    out.append("|").append(name).append(":").append(value);
  out += "#" + skr::toString(request.body.view(skr::grantSecretAccess()));
  out += keep_alive ? "+ka" : "-ka";
  return out;
}

void checkRequest(const HttpRequest& request, const HttpParserLimits& limits) {
  require(request.body.size() <= limits.max_body_bytes);
  require(request.headers.size() <= limits.max_header_count);
  require(!request.path.empty() && request.path[0] == '/');
  for (char c : request.path) {
    const auto u = static_cast<unsigned char>(c);
    require(u >= 0x20 && u != 0x7f);
  }
  for (const auto& [name, value] : request.headers) {
    for (char c : name) require(!(c >= 'A' && c <= 'Z'));
  }
}

// Parses `input` as a pipeline, feeding at most `chunk` bytes per call (0: everything).
std::vector<std::string> parseAll(std::string_view input, std::size_t chunk,
                                  const HttpParserLimits& limits) {
  std::vector<std::string> results;
  HttpRequestParser parser(limits);
  std::size_t offset = 0;
  while (offset < input.size()) {
    const std::size_t n =
        chunk == 0 ? input.size() - offset : std::min(chunk, input.size() - offset);
    const std::size_t used = parser.feed(input.substr(offset, n));
    require(used <= n);
    offset += used;
    if (parser.state() == HttpRequestParser::State::Complete) {
      const bool keep_alive = parser.keepAlive();
      const HttpRequest request = parser.takeRequest();
      checkRequest(request, limits);
      results.push_back(describe(request, keep_alive));
    } else if (parser.state() == HttpRequestParser::State::Failed) {
      const auto& error = parser.error();
      require(error.status >= 400 && error.status <= 599 && !error.code.empty());
      results.push_back("error " + std::to_string(error.status) + " " + error.code + " " +
                        error.message);
      return results;
    } else {
      require(used == n);  // incomplete: everything given was taken
    }
  }
  results.push_back(parser.started() ? "incomplete" : "end");
  return results;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);  // NOLINT
  // Small limits (from the first byte) reach the 413/414/431 paths with short inputs.
  HttpParserLimits small;
  if (size > 0) {
    small.max_request_line_bytes = 16 + data[0] % 64;
    small.max_header_bytes = 8 + data[0] % 128;
    small.max_header_count = 1 + data[0] % 8;
    small.max_body_bytes = data[0] % 32;
  }
  for (const HttpParserLimits& limits : {HttpParserLimits{}, small}) {
    const std::vector<std::string> whole = parseAll(input, 0, limits);
    require(parseAll(input, 1, limits) == whole);
    if (size > 1) require(parseAll(input, 1 + data[1] % 17, limits) == whole);
  }
  return 0;
}
