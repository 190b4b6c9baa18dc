// PocoHttpTransport against real local servers: skr-emulator (IMDS over HTTP, Entra ID over HTTPS
// with its own CA) and tiny raw-socket servers written here (silent, truncating, oversized,
// keep-alive counting, forward and CONNECT proxy).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "common/http/poco_http_transport.h"
#include "tests/integration/emulator_process.h"

namespace skr::testing {
namespace {

using http::HttpRequest;
using http::HttpResponse;
using http::PocoHttpTransport;
using http::PocoHttpTransportOptions;
using std::chrono::milliseconds;

// A loopback TCP server running `handler(fd)` on a thread per accepted connection.
class LocalServer {
 public:
  using Handler = std::function<void(int fd, LocalServer& server)>;

  explicit LocalServer(Handler handler, const char* address = "127.0.0.1")
      : handler_(std::move(handler)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(listen_fd_ >= 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    REQUIRE(::inet_pton(AF_INET, address, &addr.sin_addr) == 1);
    REQUIRE(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(listen_fd_, 16) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { acceptLoop(); });
  }

  ~LocalServer() {
    stopping_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    acceptor_.join();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (std::thread& t : workers_) t.join();
    for (int fd : fds_) ::close(fd);
    ::close(listen_fd_);
  }

  uint16_t port() const { return port_; }
  int accepted() const { return accepted_.load(); }
  bool stopping() const { return stopping_.load(); }

  void record(const std::string& text) {
    std::lock_guard<std::mutex> lock(mutex_);
    seen_.push_back(text);
  }
  std::vector<std::string> seen() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return seen_;
  }

 private:
  void acceptLoop() {
    while (!stopping_) {
      const int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) break;
      ++accepted_;
      std::lock_guard<std::mutex> lock(mutex_);
      fds_.push_back(fd);
      workers_.emplace_back([this, fd] { handler_(fd, *this); });
    }
  }

  Handler handler_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0};
  std::thread acceptor_;
  mutable std::mutex mutex_;
  std::vector<int> fds_;
  std::vector<std::thread> workers_;
  std::vector<std::string> seen_;
};

bool sendAll(int fd, const std::string& data) {
  std::size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

// Reads one request head (and a Content-Length body); "" on EOF.
std::string readRequest(int fd) {
  std::string data;
  char buf[4096];
  while (data.find("\r\n\r\n") == std::string::npos) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return {};
    data.append(buf, static_cast<std::size_t>(n));
  }
  const std::size_t head_end = data.find("\r\n\r\n") + 4;
  std::size_t length = 0;
  const std::size_t cl = data.find("Content-Length: ");
  if (cl != std::string::npos && cl < head_end) length = std::stoul(data.substr(cl + 16));
  while (data.size() < head_end + length) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return {};
    data.append(buf, static_cast<std::size_t>(n));
  }
  return data;
}

std::string okResponse(const std::string& body, const std::string& extra_headers = {}) {
  return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n" + extra_headers + "\r\n" + body;
}

// Answers every request on a connection (keep-alive) with "hello".
void keepAliveHandler(int fd, LocalServer& server) {
  while (true) {
    const std::string request = readRequest(fd);
    if (request.empty()) return;
    server.record(request);
    if (!sendAll(fd, okResponse("hello"))) return;
  }
}

// Holds the connection open and never answers.
void silentHandler(int fd, LocalServer& server) {
  char buf[1024];
  while (!server.stopping() && ::recv(fd, buf, sizeof buf, 0) > 0) {
  }
}

int connectTo(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Copies bytes both ways until either side closes; the first client bytes are recorded.
void relay(int client, int upstream, LocalServer& server) {
  bool first = true;
  char buf[16384];
  while (!server.stopping()) {
    pollfd fds[2] = {{client, POLLIN, 0}, {upstream, POLLIN, 0}};
    if (::poll(fds, 2, 200) < 0) break;
    bool done = false;
    for (int i = 0; i < 2; ++i) {
      if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      const ssize_t n = ::recv(fds[i].fd, buf, sizeof buf, 0);
      if (n <= 0) {
        done = true;
        break;
      }
      if (i == 0 && first) {
        server.record(std::string(buf, static_cast<std::size_t>(n)));
        first = false;
      }
      if (!sendAll(i == 0 ? upstream : client, std::string(buf, static_cast<std::size_t>(n)))) {
        done = true;
        break;
      }
    }
    if (done) break;
  }
  ::close(upstream);
}

std::unique_ptr<PocoHttpTransport> makeTransport(PocoHttpTransportOptions options = {}) {
  if (!options.proxy.has_value()) options.proxy = http::ProxySettings{};  // no env influence
  auto transport = PocoHttpTransport::create(std::move(options));
  REQUIRE(transport.ok());
  return std::move(transport).value();
}

PocoHttpTransportOptions withCa(const EmulatorProcess& emu) {
  PocoHttpTransportOptions options;
  options.ca_file = emu.caFile();
  return options;
}

std::string portOf(const std::string& url) {
  return url.substr(url.rfind(':') + 1);
}

HttpRequest imdsRequest(const EmulatorProcess& emu) {
  HttpRequest r;
  r.url = emu.url("imds") +
          "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fvault."
          "azure.net";
  r.headers = {{"Metadata", "true"}};
  return r;
}

HttpRequest entraRequest(const EmulatorProcess& emu, const std::string& base_url) {
  json::ObjectPtr app = emu.admin(
      "POST", "/_emulator/identities",
      R"({"kind":"app","name":"wi","federated_credentials":[{"subject":"system:serviceaccount:demo:skr"}]})");
  json::ObjectPtr sa = emu.admin("POST", "/_emulator/service-account-token",
                                 R"({"namespace":"demo","service_account":"skr"})");
  HttpRequest r;
  r.method = "POST";
  r.url = base_url + "/" + emu.env().at("SKR_EMULATOR_TENANT_ID") + "/oauth2/v2.0/token";
  r.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
  r.body = "grant_type=client_credentials&client_id=" + app->getValue<std::string>("client_id") +
           "&scope=https%3A%2F%2Fvault.azure.net%2F.default"
           "&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-"
           "bearer&client_assertion=" +
           sa->getValue<std::string>("token");
  return r;
}

TEST_CASE("transport fetches an IMDS token from the emulator over plain HTTP", "[http]") {
  auto emu = EmulatorProcess::start();
  auto transport = makeTransport();
  StatusOr<HttpResponse> r = transport->send(imdsRequest(*emu));
  REQUIRE(r.ok());
  CHECK(r->status == 200);
  CHECK(r->header("x-ms-emulated") == "true");
  StatusOr<json::ObjectPtr> body = json::parseObject(r->body);
  REQUIRE(body.ok());
  CHECK(json::getString(*body, "access_token").ok());

  HttpRequest no_metadata = imdsRequest(*emu);
  no_metadata.headers.clear();
  StatusOr<HttpResponse> bad = transport->send(no_metadata);
  REQUIRE(bad.ok());  // an error status is a response, not a transport error
  CHECK(bad->status == 400);
  CHECK(emu->stop() == 0);
}

TEST_CASE("transport gets an Entra workload-identity token over verified HTTPS", "[http]") {
  auto emu = EmulatorProcess::start();
  auto transport = makeTransport(withCa(*emu));
  const std::string port = portOf(emu->url("entra"));
  for (const std::string host : {"127.0.0.1", "localhost"}) {  // the IP and DNS SANs
    INFO(host);
    StatusOr<HttpResponse> r = transport->send(entraRequest(*emu, "https://" + host + ":" + port));
    REQUIRE(r.ok());
    INFO(r->body);
    CHECK(r->status == 200);
    CHECK(r->body.find("\"access_token\"") != std::string::npos);
  }
  CHECK(emu->stop() == 0);
}

TEST_CASE("transport refuses a certificate from an untrusted CA", "[http]") {
  auto emu = EmulatorProcess::start();
  auto transport = makeTransport();  // system store: does not hold the emulator CA
  HttpRequest r;
  r.url = emu->url("entra") + "/" + emu->env().at("SKR_EMULATOR_TENANT_ID") +
          "/v2.0/.well-known/openid-configuration";
  StatusOr<HttpResponse> result = transport->send(r);
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().code() == StatusCode::Unavailable);
  INFO(result.status().message());
  CHECK(result.status().message().find("127.0.0.1:" + portOf(emu->url("entra"))) !=
        std::string::npos);
  CHECK(result.status().message().find("not trusted") != std::string::npos);
  CHECK(emu->stop() == 0);
}

TEST_CASE("transport refuses a certificate for another host name or IP", "[http]") {
  auto emu = EmulatorProcess::start();
  const uint16_t entra_port = static_cast<uint16_t>(std::stoi(portOf(emu->url("entra"))));
  // 127.0.0.2 is loopback on Linux but not in the certificate (SAN IP:127.0.0.1, DNS:localhost).
  LocalServer forwarder(
      [entra_port](int fd, LocalServer& server) {
        const int upstream = connectTo(entra_port);
        if (upstream >= 0) relay(fd, upstream, server);
      },
      "127.0.0.2");
  auto transport = makeTransport(withCa(*emu));
  HttpRequest r;
  r.url = "https://127.0.0.2:" + std::to_string(forwarder.port()) + "/" +
          emu->env().at("SKR_EMULATOR_TENANT_ID") + "/v2.0/.well-known/openid-configuration";
  StatusOr<HttpResponse> result = transport->send(r);
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().code() == StatusCode::Unavailable);
  INFO(result.status().message());
  CHECK(result.status().message().find("not valid for '127.0.0.2'") != std::string::npos);
  CHECK(forwarder.accepted() == 1);
  CHECK(emu->stop() == 0);
}

TEST_CASE("transport tunnels HTTPS through a CONNECT proxy with SNI and checks the name",
          "[http]") {
  auto emu = EmulatorProcess::start();
  const uint16_t entra_port = static_cast<uint16_t>(std::stoi(portOf(emu->url("entra"))));
  // Whatever the client asks for, the proxy connects to the emulator's Entra listener.
  LocalServer proxy([entra_port](int fd, LocalServer& server) {
    const std::string connect = readRequest(fd);
    server.record(connect.substr(0, connect.find("\r\n")));
    const int upstream = connectTo(entra_port);
    if (upstream < 0 || !sendAll(fd, "HTTP/1.1 200 Connection established\r\n\r\n")) return;
    relay(fd, upstream, server);
  });
  PocoHttpTransportOptions options = withCa(*emu);
  options.proxy = http::ProxySettings{"", "http://127.0.0.1:" + std::to_string(proxy.port()), ""};
  auto transport = makeTransport(options);

  StatusOr<HttpResponse> ok =
      transport->send(entraRequest(*emu, "https://localhost:" + std::to_string(entra_port)));
  REQUIRE(ok.ok());
  CHECK(ok->status == 200);
  std::vector<std::string> seen = proxy.seen();
  REQUIRE(seen.size() == 2);
  CHECK(seen[0] == "CONNECT localhost:" + std::to_string(entra_port) + " HTTP/1.1");
  CHECK(seen[1].find("localhost") != std::string::npos);  // the ClientHello's server_name

  HttpRequest wrong;
  wrong.url = "https://wrong-name.example:" + std::to_string(entra_port) + "/";
  StatusOr<HttpResponse> refused = transport->send(wrong);
  REQUIRE_FALSE(refused.ok());
  INFO(refused.status().message());
  CHECK(refused.status().code() == StatusCode::Unavailable);
  CHECK(refused.status().message().find("not valid for 'wrong-name.example'") != std::string::npos);
  CHECK(emu->stop() == 0);
}

TEST_CASE("transport sends plain HTTP through a forward proxy unless NO_PROXY matches", "[http]") {
  LocalServer proxy(keepAliveHandler);
  PocoHttpTransportOptions options;
  options.proxy =
      http::ProxySettings{"http://127.0.0.1:" + std::to_string(proxy.port()), "", "skip.invalid"};
  auto transport = makeTransport(options);
  HttpRequest r;
  r.url = "http://target.invalid/path?x=1";
  StatusOr<HttpResponse> result = transport->send(r);
  REQUIRE(result.ok());
  CHECK(result->body == "hello");
  REQUIRE(proxy.seen().size() == 1);
  INFO(proxy.seen()[0]);
  CHECK(proxy.seen()[0].rfind("GET http://target.invalid:80/path?x=1 HTTP/1.1\r\n", 0) == 0);
  CHECK(proxy.seen()[0].find("Proxy-Authorization") == std::string::npos);

  r.url = "http://skip.invalid/";  // direct: the name does not resolve
  r.timeout = milliseconds(5'000);
  StatusOr<HttpResponse> direct = transport->send(r);
  CHECK_FALSE(direct.ok());
  CHECK(proxy.seen().size() == 1);

  options.proxy->http_proxy = "http://u:p@127.0.0.1:" + std::to_string(proxy.port());
  auto with_credentials = makeTransport(options);
  r.url = "http://target.invalid/";
  REQUIRE(with_credentials->send(r).ok());
  REQUIRE(proxy.seen().size() == 2);
  CHECK(proxy.seen()[1].find("Proxy-Authorization: Basic dTpw\r\n") != std::string::npos);
}

TEST_CASE("transport reuses one keep-alive connection per host", "[http]") {
  LocalServer server(keepAliveHandler);
  auto transport = makeTransport();
  HttpRequest r;
  r.url = "http://127.0.0.1:" + std::to_string(server.port()) + "/a";
  for (int i = 0; i < 3; ++i) {
    StatusOr<HttpResponse> result = transport->send(r);
    REQUIRE(result.ok());
    CHECK(result->body == "hello");
  }
  CHECK(server.accepted() == 1);
  CHECK(transport->idleConnections() == 1);
  const std::vector<std::string> seen = server.seen();
  REQUIRE(seen.size() == 3);
  CHECK(seen[0].find("User-Agent: skr/") != std::string::npos);
}

TEST_CASE("transport is safe to share between threads and pools their connections", "[http]") {
  LocalServer server(keepAliveHandler);
  auto transport = makeTransport();
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      HttpRequest r;
      r.url = "http://127.0.0.1:" + std::to_string(server.port()) + "/t";
      for (int i = 0; i < 10; ++i) {
        StatusOr<HttpResponse> result = transport->send(r);
        if (result.ok() && result->body == "hello") ++ok;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  CHECK(ok == 40);
  CHECK(server.accepted() <= 4);  // at most one connection per concurrent caller
  CHECK(server.seen().size() == 40);
}

TEST_CASE("transport reconnects when the server closed an idle keep-alive connection", "[http]") {
  // Answers one request per connection, then closes without saying so.
  LocalServer server([](int fd, LocalServer& s) {
    const std::string request = readRequest(fd);
    if (request.empty()) return;
    s.record(request);
    sendAll(fd, okResponse("once"));
    ::shutdown(fd, SHUT_RDWR);
  });
  auto transport = makeTransport();
  HttpRequest r;
  r.url = "http://127.0.0.1:" + std::to_string(server.port()) + "/";
  for (int i = 0; i < 3; ++i) {
    StatusOr<HttpResponse> result = transport->send(r);
    REQUIRE(result.ok());
    CHECK(result->body == "once");
    std::this_thread::sleep_for(milliseconds(20));
  }
  CHECK(server.accepted() == 3);
  CHECK(server.seen().size() == 3);
}

TEST_CASE("transport times out against a server that accepts and never answers", "[http]") {
  LocalServer server(silentHandler);
  auto transport = makeTransport();
  for (const std::string scheme : {"http", "https"}) {
    INFO(scheme);
    HttpRequest r;
    r.url = scheme + "://127.0.0.1:" + std::to_string(server.port()) + "/slow?secret=q";
    r.headers = {{"Authorization", "Bearer do-not-log-me"}};
    r.timeout = milliseconds(400);
    const auto start = std::chrono::steady_clock::now();
    StatusOr<HttpResponse> result = transport->send(r);
    const auto elapsed = std::chrono::steady_clock::now() - start;
    REQUIRE_FALSE(result.ok());
    INFO(result.status().message());
    CHECK(result.status().code() == StatusCode::DeadlineExceeded);
    CHECK(elapsed < milliseconds(3'000));
    CHECK(elapsed >= milliseconds(300));
    CHECK(result.status().message().find("127.0.0.1:" + std::to_string(server.port())) !=
          std::string::npos);
    CHECK(result.status().message().find("do-not-log-me") == std::string::npos);
    CHECK(result.status().message().find("secret=q") == std::string::npos);
  }
}

TEST_CASE("transport detects a body shorter than its Content-Length", "[http]") {
  LocalServer server([](int fd, LocalServer&) {
    if (readRequest(fd).empty()) return;
    sendAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
    ::shutdown(fd, SHUT_RDWR);
  });
  auto transport = makeTransport();
  HttpRequest r;
  r.url = "http://127.0.0.1:" + std::to_string(server.port()) + "/";
  StatusOr<HttpResponse> result = transport->send(r);
  REQUIRE_FALSE(result.ok());
  INFO(result.status().message());
  CHECK(result.status().code() == StatusCode::Unavailable);
  CHECK(result.status().message().find("truncated") != std::string::npos);
}

TEST_CASE("transport detects a truncated chunked body", "[http]") {
  LocalServer server([](int fd, LocalServer&) {
    if (readRequest(fd).empty()) return;
    sendAll(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n100\r\nshort");
    ::shutdown(fd, SHUT_RDWR);
  });
  auto transport = makeTransport();
  HttpRequest r;
  r.url = "http://127.0.0.1:" + std::to_string(server.port()) + "/";
  StatusOr<HttpResponse> result = transport->send(r);
  REQUIRE_FALSE(result.ok());
  INFO(result.status().message());
  CHECK(result.status().code() == StatusCode::Unavailable);
}

TEST_CASE("transport enforces the response size cap while reading", "[http]") {
  const std::string big(5000, 'x');
  LocalServer server([&big](int fd, LocalServer&) {
    while (true) {
      const std::string request = readRequest(fd);
      if (request.empty()) return;
      if (request.find("GET /chunked") == 0) {
        // No Content-Length: the cap must trip while streaming.
        std::string chunks = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        for (int i = 0; i < 5; ++i) chunks += "3e8\r\n" + big.substr(0, 1000) + "\r\n";
        if (!sendAll(fd, chunks + "0\r\n\r\n")) return;
      } else if (!sendAll(fd, okResponse(big))) {
        return;
      }
    }
  });
  auto transport = makeTransport();
  for (const std::string path : {"/length", "/chunked"}) {
    INFO(path);
    HttpRequest r;
    r.url = "http://127.0.0.1:" + std::to_string(server.port()) + path;
    r.max_response_bytes = 4096;
    StatusOr<HttpResponse> result = transport->send(r);
    REQUIRE_FALSE(result.ok());
    INFO(result.status().message());
    CHECK(result.status().code() == StatusCode::ResourceExhausted);
    r.max_response_bytes = 5000;  // exactly the body size: allowed
    StatusOr<HttpResponse> fits = transport->send(r);
    REQUIRE(fits.ok());
    CHECK(fits->body.size() == 5000);
  }
}

TEST_CASE("transport answers a HEAD whose Content-Length is larger than the cap (no body)",
          "[http]") {
  // Get Blob Properties: the Content-Length of a HEAD answer is the blob's size, not a body.
  LocalServer server([](int fd, LocalServer&) {
    while (true) {
      const std::string request = readRequest(fd);
      if (request.empty()) return;
      if (!sendAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\nETag: \"0x1\"\r\n\r\n")) {
        return;
      }
    }
  });
  auto transport = makeTransport();
  HttpRequest r;
  r.method = "HEAD";
  r.url = "http://127.0.0.1:" + std::to_string(server.port()) + "/c/blob";
  r.max_response_bytes = 1024;
  for (int i = 0; i < 2; ++i) {  // and the connection stays usable
    StatusOr<HttpResponse> result = transport->send(r);
    INFO(result.status().message());
    REQUIRE(result.ok());
    CHECK(result->status == 200);
    CHECK(result->header("Content-Length") == "1073741824");
    CHECK(result->body.empty());
  }
  CHECK(server.accepted() == 1);
}

TEST_CASE(
    "transport reads large bodies byte for byte with Content-Length, in many chunks and up to "
    "the close",
    "[http]") {
  std::string big(200 * 1024 + 17, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + (i * 7919) % 26);
  LocalServer server([&big](int fd, LocalServer&) {
    const std::string request = readRequest(fd);
    if (request.empty()) return;
    if (request.find("GET /chunked") == 0) {
      std::string chunks = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
      for (std::size_t at = 0; at < big.size(); at += 3000) {
        const std::string piece = big.substr(at, 3000);
        char size[16];
        std::snprintf(size, sizeof size, "%zx", piece.size());
        chunks += std::string(size) + "\r\n" + piece + "\r\n";
      }
      sendAll(fd, chunks + "0\r\n\r\n");
    } else if (request.find("GET /close") == 0) {
      sendAll(fd, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + big);
    } else {
      sendAll(fd, okResponse(big));
    }
    ::shutdown(fd, SHUT_RDWR);
  });
  auto transport = makeTransport();
  for (const std::string path : {"/length", "/chunked", "/close"}) {
    INFO(path);
    HttpRequest r;
    r.url = "http://127.0.0.1:" + std::to_string(server.port()) + path;
    r.max_response_bytes = 1024 * 1024;
    StatusOr<HttpResponse> result = transport->send(r);
    REQUIRE(result.ok());
    CHECK(result->body.size() == big.size());
    CHECK(result->body == big);
  }
}

TEST_CASE("transport reports a refused connection as Unavailable naming host and port", "[http]") {
  uint16_t port = 0;
  {
    LocalServer closed(silentHandler);
    port = closed.port();
  }
  auto transport = makeTransport();
  HttpRequest r;
  r.url = "http://127.0.0.1:" + std::to_string(port) + "/x";
  StatusOr<HttpResponse> result = transport->send(r);
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().code() == StatusCode::Unavailable);
  CHECK(result.status().message().find("GET http://127.0.0.1:" + std::to_string(port) + "/x") == 0);
}

TEST_CASE("transport rejects malformed requests before connecting", "[http]") {
  auto transport = makeTransport();
  HttpRequest r;
  r.url = "ftp://example.com/";
  CHECK(transport->send(r).status().code() == StatusCode::InvalidArgument);
  r.url = "http://user:pw@example.com/";
  CHECK(transport->send(r).status().code() == StatusCode::InvalidArgument);
  r.url = "http://127.0.0.1:1/";
  r.headers = {{"X-Injected", "a\r\nEvil: 1"}};
  CHECK(transport->send(r).status().code() == StatusCode::InvalidArgument);
  r.headers = {{"Bad Name", "v"}};
  CHECK(transport->send(r).status().code() == StatusCode::InvalidArgument);
  PocoHttpTransportOptions options;
  options.ca_file = "/nonexistent/ca.pem";
  CHECK(PocoHttpTransport::create(options).status().code() == StatusCode::InvalidArgument);
  options.ca_file.clear();
  options.proxy = http::ProxySettings{"", "https://proxy:1", ""};
  CHECK(PocoHttpTransport::create(options).status().code() == StatusCode::InvalidArgument);
}

}  // namespace
}  // namespace skr::testing
