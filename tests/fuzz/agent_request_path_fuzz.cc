// Fuzz target for the agent's whole request path in process: bytes written to a real connection
// of the agent's HTTP server (agent/http_server.h) on a Unix socket, parsed by its HTTP parser,
// admitted and routed by the Router (client, admin and Azure SKR sidecar listeners), and the
// serialized responses read back as a client sees them. The first input byte picks the listener,
// the rest is sent as is, then the client shuts down its write side and reads to EOF.
// Properties (checked on the bytes the client reads):
//  - the server never crashes or hangs, and the byte stream is exactly a sequence of well-formed
//    HTTP/1.1 responses (interim 100 Continue allowed): status line with a known status, headers
//    with Content-Length (the body has that length; none for HEAD), Content-Type and
//    `Cache-Control: no-store`, nothing after the last one;
//  - every request the parser completes (the same parser run separately over the input) gets
//    exactly one response, in order, until a response that says `Connection: close`; only the
//    last response may close; a request that asked to close is answered with close; a malformed
//    or unfinished request gets at most one more (error) response, which closes;
//  - every error response is a JSON object with an "error" member; no response that is not 2xx
//    holds the fixed AES key's bytes (raw, hex, base64, base64url) unless the request itself
//    carried that text (an error may quote a path); no 500 except the sidecar's
//    /attest/combined (the fuzz platform has no collateral);
//  - the keys are unchanged (versions and primaries).
// A violated property traps, so libFuzzer (and the corpus replay) reports it as a crash.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "agent/http_parser.h"
#include "agent/http_server.h"
#include "agent/router.h"
#include "agent/sidecar_compat.h"
#include "common/core/clock.h"
#include "common/crypto/pkey.h"
#include "common/encoding/base64.h"
#include "common/encoding/hex.h"
#include "common/jose/jwk.h"
#include "common/json/json.h"
#include "common/log/logger.h"

namespace {

using namespace skr;         // NOLINT(google-build-using-namespace)
using namespace skr::agent;  // NOLINT(google-build-using-namespace)

void require(bool condition) {
  if (!condition) __builtin_trap();
}

template <typename T>
T take(StatusOr<T> s) {
  require(s.ok());
  return std::move(s).value();
}

class Platform final : public SidecarPlatform {
 public:
  StatusOr<Bytes> report(const std::array<uint8_t, 64>& report_data) override {
    Bytes out(1184, 0);
    std::copy(report_data.begin(), report_data.end(), out.begin());
    return out;
  }
  StatusOr<snp::Collateral> collateral(ByteView) override {
    return unavailableError("no collateral in the fuzz platform");
  }
  StatusOr<std::string> maaToken(std::string_view runtime_data) override {
    return std::string("token-") + std::to_string(runtime_data.size());
  }
};

KeyVersion version(std::string name, std::string v, jose::Jwk jwk) {
  KeyVersion out;
  out.name = std::move(name);
  out.version = std::move(v);
  out.kid = "https://vault.example/keys/" + out.name + "/" + out.version;
  out.kty = jwk.type();
  jwk.setKid(out.kid);
  out.key = std::make_shared<const jose::Jwk>(std::move(jwk));
  return out;
}

// The fixed AES key: bytes no request text can spell (control and high bytes).
std::array<uint8_t, 32> aesKeyBytes() {
  std::array<uint8_t, 32> k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<uint8_t>(0x81 + 7 * i);
  return k;
}

int listenOn(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  require(fd >= 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  require(path.size() < sizeof(address.sun_path));
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  require(::bind(fd, reinterpret_cast<const sockaddr*>(&address),  // NOLINT
                 sizeof(address)) == 0);
  require(::listen(fd, 16) == 0);
  return fd;
}

struct World {
  World() {
    log::setMinLevel(log::Level::Error);  // one audit line per request is noise here
    keyring = std::make_shared<Keyring>();
    const crypto::PrivateKey rsa = take(crypto::PrivateKey::generateRsa(2048));
    require(keyring
                ->addVersion(version("rsa", "r1",
                                     jose::Jwk::fromPrivateKey(
                                         take(crypto::PrivateKey::fromPkcs8Der(rsa.toPkcs8Der())))),
                             true)
                .ok());
    const std::array<uint8_t, 32> k = aesKeyBytes();
    require(keyring
                ->addVersion(version("aes", "a1",
                                     take(jose::Jwk::fromOctet(
                                         SecretBytes::copyOf(ByteView(k.data(), k.size()))))),
                             true)
                .ok());
    const ByteView key(k.data(), k.size());
    secret_texts = {std::string(k.begin(), k.end()), encoding::hexEncode(key),
                    encoding::base64Encode(key), encoding::base64UrlEncode(key)};
    // The fuzzing process is the peer of every connection (SO_PEERCRED): one rule grants it all.
    std::vector<AuthRule> rules;
    rules.push_back(
        {"all", {::getuid()}, {}, {"*", "admin", "attest", "release"}, {"*"}, std::nullopt});
    router = std::make_unique<Router>(
        keyring, std::make_shared<const Authorizer>(take(Authorizer::create(std::move(rules)))),
        systemClock(), RouterOptions{});
    router->setSidecarCompat(std::make_shared<SidecarCompat>(keyring, std::make_shared<Platform>(),
                                                             "https://maa.example"));
    router->setReady(true);
    fingerprint = describeKeys();

    std::string pattern =
        (std::filesystem::temp_directory_path() / "skr-fuzz-request-path-XXXXXX").string();
    require(::mkdtemp(pattern.data()) != nullptr);
    directory = pattern;
    std::vector<ListeningSocket> sockets;
    const Listener listeners[] = {Listener::Client, Listener::Admin, Listener::Compat};
    for (std::size_t i = 0; i < 3; ++i) {
      paths[i] = directory + "/s" + std::to_string(i);
      listening[i] = listenOn(paths[i]);
      sockets.push_back({listening[i], listeners[i]});
    }
    HttpServerOptions options;
    options.workers = 2;
    server = take(HttpServer::start(options, *router, std::move(sockets), systemClock()));
  }
  ~World() {
    server.reset();  // stops and joins the server threads first
    for (int fd : listening) ::close(fd);
    for (const std::string& path : paths) ::unlink(path.c_str());
    ::rmdir(directory.c_str());
  }
  World(const World&) = delete;
  World& operator=(const World&) = delete;
  std::string describeKeys() const {
    std::string out;
    for (const auto& entry : keyring->entries()) {
      out += entry->name + ":";
      for (const auto& [name, v] : entry->versions) out += name + ",";
      if (auto p = entry->primaryVersion()) out += "*" + p->version;
      out += ";";
    }
    return out;
  }
  std::shared_ptr<Keyring> keyring;
  std::unique_ptr<Router> router;
  std::unique_ptr<HttpServer> server;
  std::string fingerprint;
  std::vector<std::string> secret_texts;
  std::string directory;
  std::array<std::string, 3> paths;
  std::array<int, 3> listening{-1, -1, -1};
};

// Writes `input` to a new connection on `path`, shuts down the write side and returns every byte
// the server sent until it closed. Reads while writing, so a large pipeline cannot deadlock.
std::string sendAndReceive(const std::string& path, std::string_view input) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  require(fd >= 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  require(::connect(fd, reinterpret_cast<const sockaddr*>(&address),  // NOLINT
                    sizeof(address)) == 0);
  std::string received;
  std::size_t sent = 0;
  bool write_open = true;
  char buffer[16384];
  for (;;) {
    if (write_open && sent == input.size()) {
      ::shutdown(fd, SHUT_WR);
      write_open = false;
    }
    pollfd p{fd, static_cast<short>(POLLIN | (write_open ? POLLOUT : 0)), 0};
    // The server answers, or closes on EOF, at once; 120 s is far beyond its longest timeout
    // (idle, 30 s), so a stall shows as a slow unit (-report_slow_units) before it traps here.
    const int ready = ::poll(&p, 1, 120'000);
    if (ready < 0 && errno == EINTR) continue;  // libFuzzer's timers interrupt system calls
    require(ready > 0);
    if (write_open && (p.revents & POLLOUT) != 0) {
      const ssize_t n = ::send(fd, input.data() + sent, input.size() - sent, MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<std::size_t>(n);
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        write_open = false;  // the server closed after answering: the rest is not read
      }
    }
    if ((p.revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
      if (n > 0) {
        received.append(buffer, static_cast<std::size_t>(n));
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        break;
      }
    }
  }
  ::close(fd);
  return received;
}

// What the agent's parser makes of the input on its own: the requests it completes in order,
// and whether it then fails (malformed) or stops in the middle of a request.
struct Reference {
  struct Request {
    std::string method;
    std::string path;
    bool keep_alive;
  };
  std::vector<Request> requests;
  bool failed = false;
  bool unfinished = false;
  // The input and every decoded path, query and header value: text a response may echo.
  std::string sent_text;
};

Reference parseReference(std::string_view input) {
  Reference out;
  out.sent_text = std::string(input);
  HttpParserLimits limits;  // the server's: default header and body limits
  limits.max_body_bytes = HttpServerOptions{}.max_body_bytes;
  limits.max_header_bytes = HttpServerOptions{}.max_header_bytes;
  HttpRequestParser parser(limits);
  while (!input.empty()) {
    input.remove_prefix(parser.feed(input));
    if (parser.state() == HttpRequestParser::State::Complete) {
      const bool keep_alive = parser.keepAlive();
      const HttpRequest request = parser.takeRequest();
      out.requests.push_back({request.method, request.path, keep_alive});
      out.sent_text += "\n" + request.path;
      for (const auto& [name, value] : request.query) out.sent_text += "\n" + name + "=" + value;
      for (const auto& [name, value] : request.headers) out.sent_text += "\n" + value;
    } else if (parser.state() == HttpRequestParser::State::Failed) {
      out.failed = true;
      return out;
    }
  }
  out.unfinished = parser.started();
  return out;
}

struct Response {
  int status = 0;
  bool close = false;
  bool json = false;
  bool has_body = true;  // false for the answer to HEAD (its Content-Length announces none)
  std::string body;
};

bool startsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Parses one response head at `stream` (traps on anything malformed); `body_length` is its
// Content-Length. Returns the bytes the head used.
std::size_t parseHead(std::string_view stream, Response& response, std::size_t& body_length) {
  const std::size_t end = stream.find("\r\n\r\n");
  require(end != std::string_view::npos);
  std::string_view head = stream.substr(0, end + 2);
  const std::size_t line_end = head.find("\r\n");
  const std::string_view status_line = head.substr(0, line_end);
  require(startsWith(status_line, "HTTP/1.1 ") && status_line.size() > 13);
  require(status_line[12] == ' ');
  int status = 0;
  for (std::size_t i = 9; i < 12; ++i) {
    require(status_line[i] >= '0' && status_line[i] <= '9');
    status = status * 10 + (status_line[i] - '0');
  }
  response.status = status;
  head.remove_prefix(line_end + 2);
  if (status == 100) {
    require(head.empty());  // an interim answer is the status line alone
    return end + 4;
  }
  int content_lengths = 0;
  bool no_store = false;
  bool content_type = false;
  while (!head.empty()) {
    const std::size_t eol = head.find("\r\n");
    const std::string_view line = head.substr(0, eol);
    head.remove_prefix(eol + 2);
    const std::size_t colon = line.find(": ");
    require(colon != std::string_view::npos && colon > 0);
    const std::string name = lower(line.substr(0, colon));
    const std::string_view value = line.substr(colon + 2);
    for (char c : line) require(static_cast<unsigned char>(c) >= 0x20 || c == '\t');
    if (name == "content-length") {
      ++content_lengths;
      require(!value.empty() && value.size() <= 9);
      body_length = 0;
      for (char c : value) {
        require(c >= '0' && c <= '9');
        body_length = body_length * 10 + static_cast<std::size_t>(c - '0');
      }
    } else if (name == "cache-control") {
      no_store = value == "no-store";
    } else if (name == "content-type") {
      content_type = true;
      response.json = startsWith(value, "application/json");
    } else if (name == "connection") {
      require(value == "close");
      response.close = true;
    }
  }
  require(content_lengths == 1 && no_store && content_type);
  return end + 4;
}

void checkResponse(const World& world, const Response& response, const std::string* route_path,
                   Listener listener, const std::string& sent_text) {
  static const std::set<int> kKnown = {200, 201, 202, 204, 400, 401, 403, 404, 405, 408,
                                       409, 413, 414, 417, 429, 431, 501, 503, 505};
  const bool combined =
      route_path != nullptr && listener == Listener::Compat && *route_path == "/attest/combined";
  require(kKnown.count(response.status) == 1 || (combined && response.status == 500));
  if (response.status < 300 || !response.has_body) return;
  require(response.json);
  StatusOr<json::ObjectPtr> body = json::parseObject(response.body);
  require(body.ok() && (*body)->has("error"));
  for (const std::string& secret : world.secret_texts) {
    // An error may quote what the caller sent (a key name in the path): only key bytes the
    // request did not carry are a leak. (The fuzzer does learn the text from this very check.)
    if (sent_text.find(secret) != std::string::npos) continue;
    require(response.body.find(secret) == std::string::npos);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World world;
  if (size == 0) return 0;
  const std::size_t which = data[0] % 3;
  const Listener listener = which == 0   ? Listener::Client
                            : which == 1 ? Listener::Admin
                                         : Listener::Compat;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);  // NOLINT
  const Reference reference = parseReference(input);
  const std::string received = sendAndReceive(world.paths[which], input);

  std::string_view stream = received;
  std::vector<Response> responses;
  while (!stream.empty()) {
    Response response;
    std::size_t body_length = 0;
    stream.remove_prefix(parseHead(stream, response, body_length));
    if (response.status == 100) {
      require(body_length == 0 && !response.close);
      continue;
    }
    const std::size_t index = responses.size();
    const bool head_request =
        index < reference.requests.size() && reference.requests[index].method == "HEAD";
    // A HEAD request's answer has no body, unless the server refused it before its body (then
    // the refusal carries a body and closes: it is the last bytes of the stream).
    response.has_body =
        !head_request || (response.close && stream.size() == body_length && body_length > 0);
    if (response.has_body) {
      require(stream.size() >= body_length);
      response.body = std::string(stream.substr(0, body_length));
      stream.remove_prefix(body_length);
    }
    responses.push_back(std::move(response));
  }

  const std::size_t n = reference.requests.size();
  const std::size_t k = responses.size();
  for (std::size_t i = 0; i < k; ++i) {
    const bool last = i + 1 == k;
    require(last || !responses[i].close);  // only the last response closes
    const std::string* path = i < n ? &reference.requests[i].path : nullptr;
    if (i < n && !reference.requests[i].keep_alive) require(responses[i].close);
    checkResponse(world, responses[i], path, listener, reference.sent_text);
  }
  require(k <= n + 1);
  if (k < n) require(k > 0 && responses[k - 1].close);  // the server stopped after a close
  if (k == n + 1) {
    // One more answer after the completed requests: the refusal of a malformed request or of an
    // unfinished one (refused on its head, before its body).
    require(responses[k - 1].close && responses[k - 1].status >= 400);
    require(reference.failed || reference.unfinished);
  }
  if (k == n && reference.failed) require(k > 0 && responses[k - 1].close);
  require(world.describeKeys() == world.fingerprint);
  return 0;
}
