// Integration-style tests of the HTTP server on real Unix sockets in a temp dir. Every wait is
// bounded (SO_RCVTIMEO). The timeout tests run the server on a FakeClock: they move its time past
// a deadline and poke() the event loop instead of waiting for the deadline in real time.
#include "agent/http_server.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/unix_socket.h"
#include "common/encoding/json_string.h"
#include "tests/fakes/fake_clock.h"
#include "tests/unit/agent/socket_test_dir.h"

namespace skr::agent {
namespace {

using namespace std::chrono_literals;
using testing::connectUnix;
using testing::SocketTestDir;

std::string_view listenerName(Listener listener) {
  switch (listener) {
    case Listener::Client: return "client";
    case Listener::Admin: return "admin";
    case Listener::Compat: return "compat";
  }
  return "?";
}

// Echoes what the server handed over, so the tests can assert on it.
class EchoHandler : public RequestHandler {
 public:
  HttpResponse handle(const HttpRequest& request) override {
    if (request.path == "/throw") throw std::runtime_error("boom");
    if (request.path == "/large") {
      HttpResponse large;
      large.body = SecretBytes(std::size_t{8} * 1024 * 1024);
      return large;
    }
    std::string body = "{\"method\":";
    json::appendQuoted(body, request.method);
    body += ",\"path\":";
    json::appendQuoted(body, request.path);
    body += ",\"body\":";
    json::appendQuoted(body, toString(request.body.view(grantSecretAccess())));
    body += ",\"uid\":" + std::to_string(request.peer.uid);
    body += ",\"pid\":" + std::to_string(request.peer.pid);
    body += ",\"listener\":";
    json::appendQuoted(body, listenerName(request.listener));
    body += "}";
    HttpResponse response;
    if (request.path == "/text") response.headers.emplace_back("Content-Type", "text/plain");
    response.body = SecretBytes::copyOf(asBytes(body));
    return response;
  }
};

// Blocks every request until release(); entered() waits until `count` are inside.
class SlowHandler : public RequestHandler {
 public:
  HttpResponse handle(const HttpRequest& /*request*/) override {
    std::unique_lock<std::mutex> lock(mutex_);
    ++inside_;
    cv_.notify_all();
    cv_.wait(lock, [this] { return released_; });
    HttpResponse response;
    response.body = SecretBytes::copyOf(asBytes("{\"slow\":true}"));
    return response;
  }
  bool entered(std::chrono::milliseconds timeout, int count = 1) {
    std::unique_lock<std::mutex> lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return inside_ >= count; });
  }
  void release() {
    std::lock_guard<std::mutex> lock(mutex_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  int inside_ = 0;
  bool released_ = false;
};

struct Response {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;

  std::string header(const std::string& name) const {
    const auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

// A blocking client whose reads give up after 5 s.
class Client {
 public:
  explicit Client(const std::string& path) : fd_(connectUnix(path)) {
    if (fd_ >= 0) {
      timeval timeout{5, 0};
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    }
  }
  ~Client() {
    if (fd_ >= 0) ::close(fd_);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool connected() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  bool send(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // One response; nullopt on EOF or timeout before it is complete.
  std::optional<Response> read() {
    while (true) {
      const std::size_t end = buffer_.find("\r\n\r\n");
      if (end != std::string::npos) {
        Response response;
        const std::string head = buffer_.substr(0, end);
        response.status = std::stoi(head.substr(9, 3));
        std::size_t line_start = head.find("\r\n");
        while (line_start != std::string::npos) {
          const std::size_t next = head.find("\r\n", line_start + 2);
          const std::string line =
              head.substr(line_start + 2,
                          next == std::string::npos ? std::string::npos : next - line_start - 2);
          const std::size_t colon = line.find(": ");
          std::string name = line.substr(0, colon);
          for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          response.headers[name] = line.substr(colon + 2);
          line_start = next;
        }
        const std::size_t length = response.headers.count("content-length") != 0
                                       ? std::stoul(response.headers["content-length"])
                                       : 0;
        if (response.status == 100) {
          buffer_.erase(0, end + 4);
          return response;
        }
        if (buffer_.size() >= end + 4 + length) {
          response.body = buffer_.substr(end + 4, length);
          buffer_.erase(0, end + 4 + length);
          return response;
        }
      }
      if (!fill()) return std::nullopt;
    }
  }

  // True when the server closed the connection (EOF) before the 5 s receive timeout, with no
  // further bytes.
  bool closedByServer() {
    if (!buffer_.empty()) return false;
    char byte;
    const ssize_t n = ::recv(fd_, &byte, 1, 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
  }

 private:
  bool fill() {
    char chunk[4096];
    const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }

  int fd_;
  std::string buffer_;
};

// A server on a client and an admin socket in a fresh temp dir.
struct TestServer {
  SocketTestDir dir;
  std::optional<UnixListeningSocket> client_socket;
  std::optional<UnixListeningSocket> admin_socket;
  std::unique_ptr<HttpServer> server;

  // `clock` drives the server's timeouts (a FakeClock in the timeout tests).
  TestServer(RequestHandler& handler, HttpServerOptions options, Clock& clock = systemClock()) {
    UnixSocketOptions socket_options;
    socket_options.path = dir.file("c.sock");
    auto client = UnixListeningSocket::create(socket_options);
    REQUIRE(client.ok());
    socket_options.path = dir.file("a.sock");
    auto admin = UnixListeningSocket::create(socket_options);
    REQUIRE(admin.ok());
    client_socket.emplace(std::move(*client));
    admin_socket.emplace(std::move(*admin));
    auto started = HttpServer::start(
        options, handler,
        {{client_socket->fd(), Listener::Client}, {admin_socket->fd(), Listener::Admin}}, clock);
    REQUIRE(started.ok());
    server = std::move(*started);
  }
  ~TestServer() { server->stop(); }

  std::string clientPath() const { return client_socket->path(); }
  std::string adminPath() const { return admin_socket->path(); }
};

// Polls the server's connection count until it equals `count` (bounded by 2 s).
bool openConnectionsReach(const HttpServer& server, std::size_t count) {
  const auto deadline = std::chrono::steady_clock::now() + 2s;
  while (server.openConnections() != count) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// True when `client` has bytes (or the end of the stream) to read now, without waiting.
bool readableNow(const Client& client) {
  pollfd ready{client.fd(), POLLIN, 0};
  return ::poll(&ready, 1, 0) == 1;
}

std::string get(std::string_view path, std::string_view extra = "");

// A round trip on a fresh admin connection. When it is answered, the event loop has consumed
// every byte sent to it before and expired every deadline due at the clock's current time (it
// reads the clock after each batch of events, and an answer takes a second batch).
void barrier(const TestServer& test) {
  Client probe(test.adminPath());
  REQUIRE(probe.send(get("/barrier", "Connection: close\r\n")));
  REQUIRE(probe.read());
  REQUIRE(probe.closedByServer());
}

// Moves the server's fake time on and wakes its event loop to act on it.
void advance(skr::testing::FakeClock& clock, const TestServer& test, std::chrono::milliseconds by) {
  clock.advance(by);
  test.server->poke();
}

std::string get(std::string_view path, std::string_view extra) {
  return "GET " + std::string(path) + " HTTP/1.1\r\nHost: localhost\r\n" + std::string(extra) +
         "\r\n";
}

std::string post(std::string_view path, std::string_view body) {
  return "POST " + std::string(path) +
         " HTTP/1.1\r\nHost: localhost\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + std::string(body);
}

std::string echoBody(std::string_view method, std::string_view path, std::string_view body,
                     std::string_view listener) {
  return "{\"method\":\"" + std::string(method) + "\",\"path\":\"" + std::string(path) +
         "\",\"body\":\"" + std::string(body) + "\",\"uid\":" + std::to_string(::getuid()) +
         ",\"pid\":" + std::to_string(::getpid()) + ",\"listener\":\"" + std::string(listener) +
         "\"}";
}

TEST_CASE("server answers keep-alive and pipelined requests in order on one connection") {
  EchoHandler handler;
  TestServer test(handler, {});
  Client client(test.clientPath());
  REQUIRE(client.connected());
  REQUIRE(client.send(get("/one") + post("/two", "hello") + get("/three")));
  for (const auto& [method, path, body] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"GET", "/one", ""}, {"POST", "/two", "hello"}, {"GET", "/three", ""}}) {
    const auto response = client.read();
    REQUIRE(response);
    CHECK(response->status == 200);
    CHECK(response->body == echoBody(method, path, body, "client"));
    CHECK(response->header("content-type") == "application/json");
    CHECK(response->header("cache-control") == "no-store");
    CHECK(response->header("content-length") == std::to_string(response->body.size()));
    CHECK(response->headers.count("connection") == 0);
  }
  // The same connection is still served after the pipeline.
  REQUIRE(client.send(get("/four")));
  const auto again = client.read();
  REQUIRE(again);
  CHECK(again->body == echoBody("GET", "/four", "", "client"));
  CHECK(test.server->openConnections() == 1);
}

TEST_CASE("server reads and writes bodies larger than the socket buffers") {
  EchoHandler handler;
  TestServer test(handler, {});
  Client client(test.clientPath());
  const std::string body(std::size_t{900} * 1024, 'z');
  auto sent = std::async(std::launch::async, [&] { return client.send(post("/big", body)); });
  const auto response = client.read();
  REQUIRE(sent.wait_for(5s) == std::future_status::ready);
  CHECK(sent.get());
  REQUIRE(response);
  CHECK(response->status == 200);
  CHECK(response->body == echoBody("POST", "/big", body, "client"));
}

TEST_CASE("server tags requests with the listener they arrived on and keeps handler headers") {
  EchoHandler handler;
  TestServer test(handler, {});
  Client admin(test.adminPath());
  REQUIRE(admin.send(get("/status")));
  const auto response = admin.read();
  REQUIRE(response);
  CHECK(response->body == echoBody("GET", "/status", "", "admin"));

  REQUIRE(admin.send(get("/text")));
  const auto text = admin.read();
  REQUIRE(text);
  CHECK(text->header("content-type") == "text/plain");
  CHECK(text->header("cache-control") == "no-store");
}

TEST_CASE("server closes after answering Connection close and HTTP/1.0 requests") {
  EchoHandler handler;
  TestServer test(handler, {});
  Client client(test.clientPath());
  REQUIRE(client.send(get("/bye", "Connection: close\r\n")));
  const auto response = client.read();
  REQUIRE(response);
  CHECK(response->status == 200);
  CHECK(response->header("connection") == "close");
  CHECK(client.closedByServer());

  Client old(test.clientPath());
  REQUIRE(old.send("GET /old HTTP/1.0\r\n\r\n"));
  REQUIRE(old.read());
  CHECK(old.closedByServer());
}

TEST_CASE("server answers 413 from Content-Length without waiting for the body") {
  EchoHandler handler;
  HttpServerOptions options;
  options.max_body_bytes = 1000;
  TestServer test(handler, options);
  Client client(test.clientPath());
  REQUIRE(client.send("POST /k HTTP/1.1\r\nContent-Length: 1001\r\n\r\n"));
  const auto response = client.read();
  REQUIRE(response);
  CHECK(response->status == 413);
  CHECK(response->body ==
        "{\"error\":{\"code\":\"PayloadTooLarge\",\"message\":\"body of 1001 bytes exceeds the "
        "limit of 1000 bytes\"}}");
  CHECK(response->header("connection") == "close");
  CHECK(response->header("content-type") == "application/json");
  CHECK(client.closedByServer());
}

TEST_CASE("server lets a client finish sending an oversized body and read the 413") {
  EchoHandler handler;
  HttpServerOptions options;
  options.max_body_bytes = 1000;
  TestServer test(handler, options);
  Client client(test.clientPath());
  // 512 KiB is far more than the socket buffers: without lingering the send would fail.
  const std::string body(std::size_t{512} * 1024, 'b');
  auto sent = std::async(std::launch::async, [&] {
    return client.send("POST /k HTTP/1.1\r\nContent-Length: " + std::to_string(body.size()) +
                       "\r\n\r\n" + body);
  });
  REQUIRE(sent.wait_for(5s) == std::future_status::ready);
  CHECK(sent.get());
  const auto response = client.read();
  REQUIRE(response);
  CHECK(response->status == 413);
  CHECK(response->header("connection") == "close");
  CHECK(client.closedByServer());    // the server shut down its write side
  ::shutdown(client.fd(), SHUT_WR);  // and closes once the client is done sending
  CHECK(openConnectionsReach(*test.server, 0));
}

TEST_CASE("server closes a refused connection that still lingers once read_timeout has passed") {
  EchoHandler handler;
  HttpServerOptions options;
  options.max_body_bytes = 1000;
  options.read_timeout = 5s;
  skr::testing::FakeClock clock;
  TestServer test(handler, options, clock);
  Client client(test.clientPath());
  REQUIRE(client.send("POST /k HTTP/1.1\r\nContent-Length: 1001\r\n\r\n"));
  const auto response = client.read();
  REQUIRE(response);
  CHECK(response->status == 413);
  CHECK(client.closedByServer());  // its write side; it lingers, reading what the client sends
  barrier(test);
  advance(clock, test, 4999ms);
  barrier(test);
  CHECK(test.server->openConnections() == 1);
  advance(clock, test, 1ms);
  CHECK(openConnectionsReach(*test.server, 0));
}

TEST_CASE("server answers malformed requests 400 and 431 in AKV shape and closes") {
  EchoHandler handler;
  HttpServerOptions options;
  options.max_header_bytes = 128;
  TestServer test(handler, options);
  Client bad(test.clientPath());
  REQUIRE(bad.send("GET /keys/a%2Fb HTTP/1.1\r\n\r\n"));
  const auto response = bad.read();
  REQUIRE(response);
  CHECK(response->status == 400);
  CHECK(response->body ==
        "{\"error\":{\"code\":\"BadRequest\",\"message\":\"path: an encoded '/' (%2F) is not "
        "accepted\"}}");
  CHECK(bad.closedByServer());

  Client big(test.clientPath());
  REQUIRE(big.send("GET / HTTP/1.1\r\nX-Big: " + std::string(200, 'a') + "\r\n\r\n"));
  const auto too_large = big.read();
  REQUIRE(too_large);
  CHECK(too_large->status == 431);
  CHECK(too_large->body.find("\"code\":\"HeaderTooLarge\"") != std::string::npos);
}

TEST_CASE("server answers 500 when the handler throws and keeps serving") {
  EchoHandler handler;
  TestServer test(handler, {});
  Client client(test.clientPath());
  REQUIRE(client.send(get("/throw")));
  const auto response = client.read();
  REQUIRE(response);
  CHECK(response->status == 500);
  CHECK(response->body ==
        "{\"error\":{\"code\":\"InternalError\",\"message\":\"the request handler failed\"}}");
  Client next(test.clientPath());
  REQUIRE(next.send(get("/ok")));
  const auto ok = next.read();
  REQUIRE(ok);
  CHECK(ok->status == 200);
}

TEST_CASE("server sends 100 Continue to a client that expects it") {
  EchoHandler handler;
  TestServer test(handler, {});
  Client client(test.clientPath());
  REQUIRE(client.send(
      "POST /c HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"));
  const auto interim = client.read();
  REQUIRE(interim);
  CHECK(interim->status == 100);
  REQUIRE(client.send("data"));
  const auto response = client.read();
  REQUIRE(response);
  CHECK(response->body == echoBody("POST", "/c", "data", "client"));
}

TEST_CASE("server answers 408 to half a request when the read timeout passes, not before") {
  EchoHandler handler;
  HttpServerOptions options;
  options.read_timeout = 5s;
  skr::testing::FakeClock clock;
  TestServer test(handler, options, clock);
  Client client(test.clientPath());
  REQUIRE(client.send("POST /k HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"));
  barrier(test);  // the request's first byte is in: its deadline runs from now
  advance(clock, test, 4999ms);
  barrier(test);
  CHECK_FALSE(readableNow(client));  // 1 ms before the deadline: no answer, still open
  advance(clock, test, 1ms);
  const auto response = client.read();
  REQUIRE(response);
  CHECK(response->status == 408);
  CHECK(response->body ==
        "{\"error\":{\"code\":\"RequestTimeout\",\"message\":\"the request was not received "
        "completely within 5000 ms\"}}");
  CHECK(client.closedByServer());
}

TEST_CASE("server read timeout covers the whole request, so trickling bytes does not extend it") {
  EchoHandler handler;
  HttpServerOptions options;
  options.read_timeout = 300ms;
  skr::testing::FakeClock clock;
  TestServer test(handler, options, clock);
  Client client(test.clientPath());
  const std::string request = get("/slowloris", "X-Pad: " + std::string(100, 'p') + "\r\n");
  std::size_t sent = 0;
  REQUIRE(client.send(request.substr(sent++, 1)));
  barrier(test);  // the first byte is in: the deadline runs from now
  // One byte every 20 ms would take over 2 s; at 300 ms the server must cut it off.
  for (int step = 1; step < 15; ++step) {
    advance(clock, test, 20ms);
    REQUIRE(client.send(request.substr(sent++, 1)));
  }
  barrier(test);
  CHECK_FALSE(readableNow(client));  // 280 ms: still reading
  advance(clock, test, 20ms);
  const auto response = client.read();
  REQUIRE(response);
  CHECK(response->status == 408);
  CHECK(sent < request.size());
}

TEST_CASE("server closes an idle keep-alive connection silently after the idle timeout") {
  EchoHandler handler;
  HttpServerOptions options;
  options.idle_timeout = 30s;
  skr::testing::FakeClock clock;
  TestServer test(handler, options, clock);
  Client client(test.clientPath());
  REQUIRE(client.send(get("/first")));
  REQUIRE(client.read());
  barrier(test);  // the response is written: the connection is idle from now
  advance(clock, test, 29999ms);
  barrier(test);
  CHECK_FALSE(readableNow(client));
  CHECK(test.server->openConnections() == 1);
  advance(clock, test, 1ms);
  CHECK(client.closedByServer());
  CHECK(test.server->openConnections() == 0);
}

TEST_CASE("server closes a connection whose client does not read its response in time") {
  EchoHandler handler;
  HttpServerOptions options;
  options.write_timeout = 5s;
  skr::testing::FakeClock clock;
  TestServer test(handler, options, clock);
  Client client(test.clientPath());
  REQUIRE(client.send(get("/large")));  // 8 MiB answer, never read
  // The first bytes arrived: the write deadline was set before they went out.
  pollfd ready{client.fd(), POLLIN, 0};
  REQUIRE(::poll(&ready, 1, 5000) == 1);
  advance(clock, test, 4999ms);
  barrier(test);
  CHECK(test.server->openConnections() == 1);
  advance(clock, test, 1ms);
  CHECK(openConnectionsReach(*test.server, 0));
}

TEST_CASE("server keeps answering a well-behaved client while 300 idle connections are open") {
  EchoHandler handler;
  TestServer test(handler, {});  // default max_connections 256: the idle ones get evicted
  std::vector<std::unique_ptr<Client>> idle;
  for (int i = 0; i < 300; ++i) {
    idle.push_back(std::make_unique<Client>(test.clientPath()));
    REQUIRE(idle.back()->connected());
  }
  Client good(test.clientPath());
  REQUIRE(good.connected());
  for (int i = 0; i < 3; ++i) {
    REQUIRE(good.send(get("/keys")));
    const auto response = good.read();
    REQUIRE(response);
    CHECK(response->status == 200);
  }
  CHECK(test.server->openConnections() <= 256);
}

TEST_CASE("server refuses connections beyond max_connections with 503 when none is idle") {
  SlowHandler handler;
  HttpServerOptions options;
  options.max_connections = 2;
  TestServer test(handler, options);
  // Two busy connections: both requests are inside the handler.
  Client first(test.clientPath());
  Client second(test.clientPath());
  REQUIRE(first.send(get("/a")));
  REQUIRE(second.send(get("/b")));
  REQUIRE(handler.entered(5s, 2));
  Client third(test.clientPath());
  REQUIRE(third.connected());
  const auto refused = third.read();
  REQUIRE(refused);
  CHECK(refused->status == 503);
  CHECK(refused->body ==
        "{\"error\":{\"code\":\"TooManyConnections\",\"message\":\"the agent has reached its "
        "client connection limit of 2\"}}");
  CHECK(third.closedByServer());
  CHECK(test.server->openConnections() == 2);
  // The busy ones still complete.
  handler.release();
  for (Client* client : {&first, &second}) {
    const auto answered = client->read();
    REQUIRE(answered);
    CHECK(answered->status == 200);
  }
}

TEST_CASE("server evicts the connection idle the longest to admit a new one at the limit") {
  EchoHandler handler;
  HttpServerOptions options;
  options.max_connections = 2;
  TestServer test(handler, options);
  Client oldest(test.clientPath());
  REQUIRE(oldest.send(get("/1")));
  REQUIRE(oldest.read());
  Client younger(test.clientPath());
  REQUIRE(younger.send(get("/2")));
  REQUIRE(younger.read());
  Client newcomer(test.clientPath());
  REQUIRE(newcomer.send(get("/3")));
  const auto response = newcomer.read();
  REQUIRE(response);
  CHECK(response->status == 200);
  CHECK(oldest.closedByServer());
  REQUIRE(younger.send(get("/2b")));
  const auto still = younger.read();
  REQUIRE(still);
  CHECK(still->status == 200);
}

TEST_CASE("server stop drains an in-flight slow request, then closes and returns",
          "[concurrency]") {
  SlowHandler handler;
  HttpServerOptions options;
  options.drain_timeout = 5s;
  TestServer test(handler, options);
  Client busy(test.clientPath());
  Client idle(test.clientPath());
  REQUIRE(idle.connected());
  REQUIRE(busy.send(get("/slow")));
  REQUIRE(handler.entered(5s));
  REQUIRE(test.server->openConnections() == 2);

  auto stopped = std::async(std::launch::async, [&] { test.server->stop(); });
  // The idle connection is closed at once; stop() is still waiting for the slow handler.
  CHECK(idle.closedByServer());
  CHECK(stopped.wait_for(100ms) == std::future_status::timeout);
  handler.release();
  const auto response = busy.read();
  REQUIRE(response);
  CHECK(response->status == 200);
  CHECK(response->body == "{\"slow\":true}");
  CHECK(response->header("connection") == "close");
  CHECK(busy.closedByServer());
  REQUIRE(stopped.wait_for(5s) == std::future_status::ready);
  CHECK(test.server->openConnections() == 0);
}

TEST_CASE("server stop closes what is still in flight once drain_timeout has passed") {
  SlowHandler handler;
  HttpServerOptions options;
  options.drain_timeout = 10s;
  skr::testing::FakeClock clock;
  TestServer test(handler, options, clock);
  Client busy(test.clientPath());
  Client idle(test.clientPath());
  REQUIRE(busy.send(get("/slow")));
  REQUIRE(handler.entered(5s));
  REQUIRE(openConnectionsReach(*test.server, 2));

  auto stopped = std::async(std::launch::async, [&] { test.server->stop(); });
  CHECK(idle.closedByServer());  // the drain has begun: its deadline runs from now
  advance(clock, test, 9999ms);
  pollfd ready{busy.fd(), POLLIN, 0};
  CHECK(::poll(&ready, 1, 50) == 0);  // still draining
  advance(clock, test, 1ms);
  CHECK(busy.closedByServer());  // closed without an answer
  CHECK(test.server->openConnections() == 0);
  // The handler still running is waited for before stop() returns.
  CHECK(stopped.wait_for(0ms) == std::future_status::timeout);
  handler.release();
  REQUIRE(stopped.wait_for(5s) == std::future_status::ready);
}

TEST_CASE("server start rejects invalid options") {
  EchoHandler handler;
  HttpServerOptions options;
  options.workers = 0;
  CHECK(HttpServer::start(options, handler, {{0, Listener::Client}}, systemClock())
            .status()
            .message() == "HTTP server needs at least one worker");
  CHECK(HttpServer::start({}, handler, {}, systemClock()).status().message() ==
        "HTTP server has no listening socket");
}

}  // namespace
}  // namespace skr::agent

namespace skr::agent {
namespace {

// Refuses in admit() every request whose path starts with /refused, counts handle() calls and
// treats uid `stranger` as a peer no rule names.
class AdmittingHandler : public EchoHandler {
 public:
  explicit AdmittingHandler(uid_t stranger = static_cast<uid_t>(-2)) : stranger_(stranger) {}
  HttpResponse handle(const HttpRequest& request) override {
    ++handled;
    return EchoHandler::handle(request);
  }
  std::optional<HttpResponse> admit(const HttpRequest& head) override {
    ++admitted;
    if (head.path.rfind("/refused", 0) != 0) return std::nullopt;
    HttpResponse r;
    r.status = 403;
    r.body = SecretBytes::copyOf(asBytes("{\"error\":{\"code\":\"Forbidden\"}}"));
    return r;
  }
  bool knownPeer(Listener /*listener*/, const PeerCredentials& peer) override {
    return peer.uid != stranger_;
  }
  std::atomic<int> handled{0};
  std::atomic<int> admitted{0};

 private:
  uid_t stranger_;
};

TEST_CASE("server asks admit() after the head and answers a refusal before any body byte") {
  AdmittingHandler handler;
  TestServer test(handler, {});
  Client client(test.clientPath());
  // Announces 1 MiB, sends none of it: the refusal comes at once, the handler never runs.
  REQUIRE(client.send("POST /refused HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n"));
  const auto refused = client.read();
  REQUIRE(refused);
  CHECK(refused->status == 403);
  CHECK(refused->header("connection") == "close");
  CHECK(handler.handled == 0);
  // With `Expect: 100-continue` the refusal replaces the interim 100.
  Client expecting(test.clientPath());
  REQUIRE(expecting.send(
      "POST /refused HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"));
  const auto no_continue = expecting.read();
  REQUIRE(no_continue);
  CHECK(no_continue->status == 403);
  // An admitted body is read and handled as before; a request without a body needs no admit().
  Client allowed(test.clientPath());
  REQUIRE(allowed.send(post("/ok", "data")));
  const auto served = allowed.read();
  REQUIRE(served);
  CHECK(served->status == 200);
  const int admitted_before = handler.admitted;
  REQUIRE(allowed.send(get("/keys")));
  REQUIRE(allowed.read());
  CHECK(handler.admitted == admitted_before);
  CHECK(handler.handled == 2);
}

TEST_CASE("server answers 503 ServerBusy when a body would pass max_buffered_body_bytes") {
  AdmittingHandler handler;
  HttpServerOptions options;
  options.max_body_bytes = 1024;
  options.max_buffered_body_bytes = 1500;
  TestServer test(handler, options);
  Client first(test.clientPath());
  REQUIRE(first.send("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc"));
  barrier(test);  // the first body's 1000 bytes are reserved
  Client second(test.clientPath());
  REQUIRE(second.send("POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"));
  const auto busy = second.read();
  REQUIRE(busy);
  CHECK(busy->status == 503);
  CHECK(busy->header("retry-after") == "1");
  CHECK(busy->body.find("ServerBusy") != std::string::npos);
  // Once the first request is done, its share is back.
  REQUIRE(first.send(std::string(997, 'x')));
  const auto done = first.read();
  REQUIRE(done);
  CHECK(done->status == 200);
  Client third(test.clientPath());
  REQUIRE(third.send(post("/c", std::string(1000, 'y'))));
  const auto served = third.read();
  REQUIRE(served);
  CHECK(served->status == 200);
}

TEST_CASE("server answers 408 when the head is not in within header_timeout") {
  EchoHandler handler;
  HttpServerOptions options;
  options.header_timeout = 200ms;
  options.read_timeout = 3s;
  skr::testing::FakeClock clock;
  TestServer test(handler, options, clock);
  Client client(test.clientPath());
  REQUIRE(client.send("GET /slow HTTP/1.1\r\nHost: x\r\n"));
  barrier(test);
  advance(clock, test, 199ms);
  barrier(test);
  CHECK_FALSE(readableNow(client));
  advance(clock, test, 1ms);
  const auto response = client.read();
  REQUIRE(response);
  CHECK(response->status == 408);
  CHECK(response->body.find("request line and headers were not received within 200 ms") !=
        std::string::npos);
}

TEST_CASE(
    "server evicts the slowest partial request for a new connection when its budget is full") {
  EchoHandler handler;
  HttpServerOptions options;
  options.max_connections = 2;
  skr::testing::FakeClock clock;  // both partial requests started at the same time
  TestServer test(handler, options, clock);
  Client slow(test.clientPath());
  REQUIRE(slow.send("G"));
  Client faster(test.clientPath());
  REQUIRE(faster.send("GET /x HTTP/1.1\r\nHost: x\r\n"));
  barrier(test);  // both are partial requests now, not idle connections
  Client newcomer(test.clientPath());
  REQUIRE(newcomer.send(get("/new")));
  const auto served = newcomer.read();
  REQUIRE(served);
  CHECK(served->status == 200);
  const auto evicted = slow.read();
  REQUIRE(evicted);
  CHECK(evicted->status == 408);
  CHECK(slow.closedByServer());
  REQUIRE(faster.send("\r\n"));  // the faster one was kept and completes
  const auto kept = faster.read();
  REQUIRE(kept);
  CHECK(kept->status == 200);
}

TEST_CASE(
    "server gives peers no rule names their own small budget, and one uid at most "
    "max_connections_per_uid") {
  AdmittingHandler handler(::getuid());  // this process is the stranger
  HttpServerOptions options;
  options.unknown_peer_connections = 1;
  options.max_connections_per_uid = 1;
  TestServer test(handler, options);
  // Busy connections cannot be evicted: the second gets 503 naming the budget.
  SlowHandler slow_handler;
  TestServer busy(slow_handler, options);
  Client first(busy.clientPath());
  REQUIRE(first.send(post("/a", "x")));
  REQUIRE(slow_handler.entered(5s));
  Client second(busy.clientPath());
  const auto refused = second.read();
  REQUIRE(refused);
  CHECK(refused->status == 503);
  CHECK(refused->body.find("per_uid connection limit of 1") != std::string::npos);
  slow_handler.release();
  REQUIRE(first.read());
  // Unknown peers: the single slot goes to the newest connection (the idle one is evicted).
  Client a(test.clientPath());
  REQUIRE(a.send(get("/1")));
  REQUIRE(a.read());
  Client b(test.clientPath());
  REQUIRE(b.send(get("/2")));
  const auto answered = b.read();
  REQUIRE(answered);
  CHECK(answered->status == 200);
  CHECK(a.closedByServer());
}

TEST_CASE("server keeps the admin socket's own budget when the client socket is full") {
  SlowHandler handler;
  HttpServerOptions options;
  options.max_connections = 1;
  TestServer test(handler, options);
  Client busy(test.clientPath());
  REQUIRE(busy.send(post("/a", "x")));
  REQUIRE(handler.entered(5s));
  Client refused(test.clientPath());
  const auto full = refused.read();
  REQUIRE(full);
  CHECK(full->status == 503);
  // Same uid, admin socket: a budget of its own, no per-uid count there.
  Client admin(test.adminPath());
  REQUIRE(admin.send(post("/status", "{}")));
  REQUIRE(handler.entered(5s, 2));
  handler.release();
  CHECK(busy.read());
  CHECK(admin.read());
}

TEST_CASE("a cheap GET is answered while every worker is busy with slow POSTs", "[concurrency]") {
  class Mixed : public SlowHandler {
   public:
    HttpResponse handle(const HttpRequest& request) override {
      if (request.method == "GET") {
        HttpResponse r;
        r.body = SecretBytes::copyOf(asBytes("{\"cheap\":true}"));
        return r;
      }
      return SlowHandler::handle(request);
    }
  } handler;
  HttpServerOptions options;
  options.workers = 2;
  TestServer test(handler, options);
  Client busy1(test.clientPath());
  Client busy2(test.clientPath());
  Client busy3(test.clientPath());
  REQUIRE(busy1.send(post("/a", "1")));
  REQUIRE(busy2.send(post("/b", "2")));
  REQUIRE(busy3.send(post("/c", "3")));  // queued behind the two
  REQUIRE(handler.entered(5s, 2));
  Client cheap(test.clientPath());
  const auto start = std::chrono::steady_clock::now();
  REQUIRE(cheap.send(get("/keys")));
  const auto answered = cheap.read();
  REQUIRE(answered);
  CHECK(answered->status == 200);
  CHECK(std::chrono::steady_clock::now() - start < 2s);
  handler.release();
  for (Client* c : {&busy1, &busy2, &busy3}) CHECK(c->read());
}

// Answers POST /quick* on whatever thread calls it and records that thread; /quick-block waits
// until unblock() (a quick handler that blocks: only to hold the event loop in a test). A GET
// (barrier()) is answered at once; every other request blocks as SlowHandler's do.
class QuickHandler : public SlowHandler {
 public:
  bool quick(const HttpRequest& request) override { return request.path.rfind("/quick", 0) == 0; }
  HttpResponse handle(const HttpRequest& request) override {
    if (request.method == "GET") {
      HttpResponse answer;
      answer.body = SecretBytes::copyOf(asBytes("{}"));
      return answer;
    }
    if (request.path.rfind("/quick", 0) != 0) return SlowHandler::handle(request);
    {
      std::unique_lock<std::mutex> lock(mutex_);
      threads_.push_back(std::this_thread::get_id());
      cv_.notify_all();
      if (request.path == "/quick-block") cv_.wait(lock, [this] { return unblocked_; });
    }
    if (request.path == "/quick-throw") throw std::runtime_error("boom");
    HttpResponse response;
    response.body = SecretBytes::copyOf(asBytes("{\"quick\":1}"));
    return response;
  }
  bool handled(std::chrono::milliseconds timeout, std::size_t count) {
    std::unique_lock<std::mutex> lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return threads_.size() >= count; });
  }
  void unblock() {
    std::lock_guard<std::mutex> lock(mutex_);
    unblocked_ = true;
    cv_.notify_all();
  }
  std::vector<std::thread::id> threads() {
    std::lock_guard<std::mutex> lock(mutex_);
    return threads_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::thread::id> threads_;
  bool unblocked_ = false;
};

TEST_CASE("a quick request is answered by the event loop while every worker is busy",
          "[concurrency]") {
  QuickHandler handler;
  HttpServerOptions options;
  options.workers = 1;
  TestServer test(handler, options);
  Client busy(test.clientPath());
  REQUIRE(busy.send(post("/slow", "1")));
  REQUIRE(handler.entered(5s, 1));
  Client quick(test.clientPath());
  // Pipelined: the second waits for the first's answer and is quick too.
  REQUIRE(quick.send(post("/quick", "a") + post("/quick", "b")));
  for (int i = 0; i < 2; ++i) {
    const auto answered = quick.read();
    REQUIRE(answered);
    CHECK(answered->status == 200);
    CHECK(answered->body == "{\"quick\":1}");
  }
  REQUIRE(quick.send(post("/quick-throw", "c")));
  const auto failed = quick.read();
  REQUIRE(failed);
  CHECK(failed->status == 500);
  CHECK(failed->body ==
        "{\"error\":{\"code\":\"InternalError\",\"message\":\"the request handler failed\"}}");
  CHECK_FALSE(readableNow(busy));  // the worker still holds the slow one
  handler.release();
  const auto slow = busy.read();
  REQUIRE(slow);
  CHECK(slow->status == 200);
}

TEST_CASE("with quick_per_round 0 a quick request waits for a worker like any other",
          "[concurrency]") {
  QuickHandler handler;
  HttpServerOptions options;
  options.workers = 1;
  options.quick_per_round = 0;
  TestServer test(handler, options);
  Client busy(test.clientPath());
  REQUIRE(busy.send(post("/slow", "1")));
  REQUIRE(handler.entered(5s, 1));
  Client quick(test.clientPath());
  REQUIRE(quick.send(post("/quick", "a")));
  // Once the barrier is answered the loop has read the request; had it been quick, the loop
  // would have answered it in the same wake-up.
  barrier(test);
  CHECK(handler.threads().empty());
  CHECK_FALSE(readableNow(quick));
  handler.release();
  const auto answered = quick.read();
  REQUIRE(answered);
  CHECK(answered->status == 200);
  REQUIRE(busy.read());
}

TEST_CASE("quick requests beyond quick_per_round or quick_per_uid in one wake-up go to the workers",
          "[concurrency]") {
  QuickHandler handler;
  HttpServerOptions options;
  options.workers = 2;
  SECTION("the wake-up's budget") {
    options.quick_per_round = 1;
  }
  SECTION("one caller uid's budget (every client here has this process's uid)") {
    options.quick_per_uid = 1;
  }
  TestServer test(handler, options);
  // Hold the event loop inside a quick request while four more arrive, so that its next wake-up
  // finds all four ready: one is answered on the loop, three by the workers.
  Client holder(test.clientPath());
  REQUIRE(holder.send(post("/quick-block", "0")));
  REQUIRE(handler.handled(5s, 1));
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(std::make_unique<Client>(test.clientPath()));
    REQUIRE(clients.back()->connected());
  }
  // connect() completes from the listen backlog; the loop accepts them after the blocked request.
  for (auto& client : clients) REQUIRE(client->send(post("/quick", "x")));
  handler.unblock();
  const auto held = holder.read();
  REQUIRE(held);
  CHECK(held->status == 200);
  for (auto& client : clients) {
    const auto answered = client->read();
    REQUIRE(answered);
    CHECK(answered->status == 200);
  }
  const std::vector<std::thread::id> threads = handler.threads();
  REQUIRE(threads.size() == 5);
  const std::thread::id loop = threads.front();
  const auto on_loop = std::count(threads.begin(), threads.end(), loop);
  CHECK(on_loop == 2);  // the holder and one of the four: the budget is one per wake-up
}

}  // namespace
}  // namespace skr::agent
