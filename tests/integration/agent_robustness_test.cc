// skr-agent, the real binary, under hostile or broken clients (issue 6 "Done when", the
// robustness part): an oversized body is a 413 and oversized headers a 431, each with an audit
// line; a client that sends half a request (or drips it byte by byte) gets 408 and is closed
// after the configured read timeout while other clients are served meanwhile; 1,000 concurrent
// connections (half silent and half stuck mid-request, then all stuck) neither crash the agent
// nor keep a well-behaved client from its answer for more than a few seconds; max_connections,
// keep-alive, pipelining and the idle timeout behave as documented; malformed JSON, base64,
// algorithm and value sizes are 400 BadParameter with a message that says what is wrong; 16
// concurrent clients unwrap through a rotation without a failure.
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cctype>
#include <chrono>
#include <cstring>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/encoding/base64.h"
#include "common/json/json.h"
#include "tests/integration/agent_process.h"
#include "tests/integration/init_world.h"
#include "tests/integration/uds_http_client.h"

namespace skr::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A raw connected stream socket to `path` (connect and receive bounded by `timeout`); -1 when
// the connection fails.
int connectRaw(const std::string& path, std::chrono::milliseconds timeout) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool sendAll(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

// Everything the peer sends until it closes (or the receive timeout); `closed` says which.
std::string readUntilClosed(int fd, bool& closed) {
  std::string out;
  char buffer[4096];
  closed = false;
  for (;;) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n == 0 || (n < 0 && errno == ECONNRESET)) {
      closed = true;
      return out;
    }
    if (n < 0) return out;  // timeout
    out.append(buffer, static_cast<std::size_t>(n));
  }
}

// One HTTP response read from `fd` (head up to CRLFCRLF, then Content-Length bytes); status 0
// when the peer closed or the receive timed out first. Bytes beyond it stay in `buffer`.
struct RawResponse {
  int status = 0;
  std::string head;
  std::string body;
};
RawResponse readResponse(int fd, std::string& buffer) {
  RawResponse out;
  char chunk[4096];
  std::size_t end = std::string::npos;
  std::size_t length = 0;
  for (;;) {
    if (end == std::string::npos) {
      end = buffer.find("\r\n\r\n");
      if (end != std::string::npos) {
        out.head = buffer.substr(0, end);
        std::string lower = out.head;
        for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        const std::size_t cl = lower.find("\r\ncontent-length:");
        if (cl != std::string::npos) length = std::stoul(lower.substr(cl + 17));
      }
    }
    if (end != std::string::npos && buffer.size() >= end + 4 + length) {
      out.body = buffer.substr(end + 4, length);
      buffer.erase(0, end + 4 + length);
      if (out.head.rfind("HTTP/1.1 ", 0) == 0) out.status = std::stoi(out.head.substr(9, 3));
      return out;
    }
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return out;
    buffer.append(chunk, static_cast<std::size_t>(n));
  }
}

std::string requestText(const std::string& method, const std::string& path, const std::string& body,
                        const std::string& extra_headers = {}) {
  return method + " " + path + " HTTP/1.1\r\nHost: skr\r\nX-SKR-Request: 1\r\n" + extra_headers +
         (body.empty() ? std::string()
                       : "Content-Type: application/json\r\nContent-Length: " +
                             std::to_string(body.size()) + "\r\n") +
         "\r\n" + body;
}

// The number of audit lines ("request" events) of this process's uid with `status` and `code`.
int auditLines(const AgentProcess& agent, int status, const std::string& code) {
  int n = 0;
  for (const json::ObjectPtr& line : jsonLines(agent.stderrText())) {
    if (line->optValue<std::string>("event", "") == "request" &&
        line->optValue<int64_t>("status", 0) == status &&
        line->optValue<std::string>("code", "") == code &&
        line->optValue<int64_t>("caller_uid", -1) == static_cast<int64_t>(::getuid()) &&
        line->optValue<std::string>("listener", "") == "client") {
      ++n;
    }
  }
  return n;
}

json::ObjectPtr errorOf(const UdsResponse& r) {
  json::ObjectPtr error = parsed(r)->getObject("error");
  REQUIRE(!error.isNull());
  return error;
}

// REQUIREs 400 BadParameter with `expected` in the message.
void expectBadParameter(const UdsResponse& r, const std::string& expected) {
  INFO(r.status << " " << r.body);
  REQUIRE(r.status == 400);
  json::ObjectPtr error = errorOf(r);
  CHECK(error->getValue<std::string>("code") == "BadParameter");
  CHECK(error->getValue<std::string>("message").find(expected) != std::string::npos);
}

TEST_CASE(
    "skr-agent answers 413 and 431 over its limits, times out a half request with 408 while "
    "serving others, and explains malformed JSON, base64, algorithm and sizes with a 400",
    "[agent][robustness][limits]") {
  InitWorld world;
  world.createKey("vault", "rob-kek", R"("kty":"RSA-HSM","key_size":2048)");
  AgentOptions options;
  options.extra_agent_yaml =
      "  limits:\n    max_body_bytes: 1024\n    max_header_bytes: 1024\n"
      "    read_timeout: 700ms\n";
  AgentProcess agent(world, world.configYaml({{"rob-kek", "vault"}}, world.managedIdentityYaml()),
                     options);
  agent.waitReady();
  WrappedDek dek = wrapWithPublicKey(agent, "rob-kek");
  // A well-formed request near the limit is served: the limit is the body, not the default.
  expectUnwraps(agent, "/keys/rob-kek", dek);

  {  // 413 on an oversized body, 431 on oversized headers
    const std::string big = R"({"alg":"RSA-OAEP-256","value":")" + std::string(2000, 'A') + "\"}";
    UdsResponse r = udsRequest(agent.client(), "POST", "/keys/rob-kek/unwrapkey", big);
    INFO(r.body);
    REQUIRE(r.status == 413);
    CHECK(errorOf(r)->getValue<std::string>("code") == "PayloadTooLarge");
    UdsResponse h = udsRequest(agent.client(), "GET", "/keys/rob-kek", {},
                               {{"X-Padding", std::string(2000, 'p')}});
    INFO(h.body);
    CHECK(h.status == 431);
    // Refused before routing, but each still leaves its audit line.
    CHECK(auditLines(agent, 413, "PayloadTooLarge") == 1);
    CHECK(auditLines(agent, 431, "HeaderTooLarge") == 1);
    // Still serving.
    expectUnwraps(agent, "/keys/rob-kek", dek);
  }

  {  // a half request gets 408 and is closed after the read timeout, others are served
    const int half = connectRaw(agent.client(), 10s);
    REQUIRE(half >= 0);
    const auto sent_at = Clock::now();
    REQUIRE(sendAll(half,
                    "POST /keys/rob-kek/unwrapkey HTTP/1.1\r\nHost: skr\r\nX-SKR-Request: 1\r\n"
                    "Content-Type: application/json\r\nContent-Length: 400\r\n\r\n{\"alg\":"));
    // Meanwhile other clients are served at once.
    for (int i = 0; i < 3; ++i) {
      const auto start = Clock::now();
      expectUnwraps(agent, "/keys/rob-kek", dek);
      CHECK(Clock::now() - start < 500ms);
    }
    bool closed = false;
    const std::string answer = readUntilClosed(half, closed);
    const auto elapsed = Clock::now() - sent_at;
    ::close(half);
    INFO(answer);
    CHECK(closed);
    CHECK(answer.rfind("HTTP/1.1 408", 0) == 0);
    CHECK(answer.find("RequestTimeout") != std::string::npos);
    CHECK(elapsed >= 600ms);
    CHECK(elapsed < 4s);
    CHECK(auditLines(agent, 408, "RequestTimeout") == 1);
    expectUnwraps(agent, "/keys/rob-kek", dek);
    // The refusals of the HTTP layer are counted like every other request.
    const std::string metrics = udsRequest(agent.admin(), "GET", "/metrics").body;
    INFO(metrics);
    CHECK(metrics.find(R"(skr_requests_total{op="http",outcome="PayloadTooLarge"} 1)") !=
          std::string::npos);
    CHECK(metrics.find(R"(skr_requests_total{op="http",outcome="HeaderTooLarge"} 1)") !=
          std::string::npos);
    CHECK(metrics.find(R"(skr_requests_total{op="http",outcome="RequestTimeout"} 1)") !=
          std::string::npos);
  }

  {  // malformed JSON, base64, algorithm and sizes are 400 BadParameter with the reason
    const std::string path = "/keys/rob-kek/unwrapkey";
    expectBadParameter(udsRequest(agent.client(), "POST", path, R"({"alg":"RSA-OAEP-256",)"),
                       "not a valid JSON object");
    expectBadParameter(udsRequest(agent.client(), "POST", path, R"(["alg"])"),
                       "not a valid JSON object");
    expectBadParameter(udsRequest(agent.client(), "POST", path,
                                  R"({"alg":"RSA-OAEP-256","value":"@@not*base64@@"})"),
                       "member 'value' is not valid base64url");
    expectBadParameter(udsRequest(agent.client(), "POST", path,
                                  R"({"alg":"RSA-OAEP-512","value":")" + dek.wrapped_b64 + "\"}"),
                       "unsupported algorithm 'RSA-OAEP-512'; supported: RSA-OAEP, RSA-OAEP-256");
    expectBadParameter(
        udsRequest(agent.client(), "POST", path, R"({"value":")" + dek.wrapped_b64 + "\"}"),
        "member 'alg' is required");
    expectBadParameter(udsRequest(agent.client(), "POST", path, R"({"alg":"RSA-OAEP-256"})"),
                       "member 'value' is required");
    expectBadParameter(udsRequest(agent.client(), "POST", path,
                                  R"({"alg":"RSA-OAEP-256","value":")" +
                                      encoding::base64UrlEncode(Bytes(10, 0x5a)) + "\"}"),
                       "value is 10 bytes, expected 256 (the modulus size)");
    expectBadParameter(udsRequest(agent.client(), "POST", "/keys/rob-kek/encrypt",
                                  R"({"alg":"RSA-OAEP-256","value":"AAAA","iv":"AAAA"})"),
                       "'iv' and 'tag' must not be sent to encrypt");
    expectBadParameter(udsRequest(agent.client(), "POST", path, ""), "the request body is empty");
    // None of the refusals echoes the submitted value.
    CHECK(agent.stderrText().find(dek.wrapped_b64) == std::string::npos);
    expectUnwraps(agent, "/keys/rob-kek", dek);
  }
  CHECK(agent.running());
  CHECK(agent.terminate() == 0);
}

TEST_CASE(
    "1000 concurrent connections neither crash skr-agent nor keep a well-behaved client from "
    "its answer",
    "[agent][robustness][connections]") {
  constexpr int kConnections = 1000;
  rlimit files{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &files) == 0);
  if (files.rlim_cur < 4096) {
    files.rlim_cur = std::min<rlim_t>(4096, files.rlim_max);
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &files) == 0);
  }
  REQUIRE(files.rlim_cur >= kConnections + 200);

  InitWorld world;
  world.createKey("vault", "conn-kek", R"("kty":"RSA-HSM","key_size":2048)");
  const std::string yaml = world.configYaml({{"conn-kek", "vault"}}, world.managedIdentityYaml());

  // Default max_connections (256): first half silent and half stuck mid-request (the agent may
  // close the idle ones to make room), then every one stuck mid-request (the agent must refuse
  // with 503 TooManyConnections until the 1 s read timeout frees its slots). With
  // max_connections 2000 the agent holds all 1000 stuck ones and still answers at once.
  struct Mode {
    std::string limits;
    bool all_stuck;
    std::chrono::milliseconds within;
  };
  const std::vector<Mode> modes = {
      {"    read_timeout: 1s\n", false, 5000ms},
      {"    read_timeout: 1s\n", true, 5000ms},
      {"    read_timeout: 5s\n    max_connections: 2000\n", true, 1000ms}};
  std::unique_ptr<AgentProcess> agent;
  std::string running_limits;
  WrappedDek dek;
  for (const Mode& mode : modes) {
    INFO("limits:\n" << mode.limits << "all stuck mid-request: " << mode.all_stuck);
    if (mode.limits != running_limits) {
      if (agent) CHECK(agent->terminate() == 0);
      AgentOptions options;
      options.extra_agent_yaml = "  limits:\n" + mode.limits;
      agent = std::make_unique<AgentProcess>(world, yaml, options);
      agent->waitReady();
      running_limits = mode.limits;
      dek = wrapWithPublicKey(*agent, "conn-kek");
    }
    std::vector<int> fds;
    fds.reserve(kConnections);
    for (int i = 0; i < kConnections; ++i) {
      const int fd = connectRaw(agent->client(), 2s);
      if (fd < 0) continue;
      fds.push_back(fd);
      if (mode.all_stuck || i % 2 == 0) {
        sendAll(fd, "POST /keys/conn-kek/unwrapkey HTTP/1.1\r\nHost: x\r\n");
      }
    }
    INFO(fds.size() << " of " << kConnections << " connections open");
    CHECK(fds.size() >= kConnections * 9 / 10);

    // The well-behaved client: retries a 503 TooManyConnections or a dropped connection with a
    // short backoff, as docs/agent.md tells clients to; gets its answer within a few seconds.
    const auto start = Clock::now();
    int attempts = 0;
    int last_status = 0;
    while (Clock::now() - start < 8s) {
      ++attempts;
      UdsResponse r =
          udsRequest(agent->client(), "POST", "/keys/conn-kek/unwrapkey",
                     R"({"alg":"RSA-OAEP-256","value":")" + dek.wrapped_b64 + "\"}", {}, 3s);
      last_status = r.transport_error ? -1 : r.status;
      if (last_status == 200) break;
      if (last_status == 503) {
        CHECK(errorOf(r)->getValue<std::string>("code") == "TooManyConnections");
      }
      std::this_thread::sleep_for(100ms);
    }
    const auto waited = Clock::now() - start;
    INFO("attempts " << attempts << ", waited "
                     << std::chrono::duration_cast<std::chrono::milliseconds>(waited).count()
                     << " ms, last status " << last_status);
    CHECK(last_status == 200);
    CHECK(waited < mode.within);
    REQUIRE(agent->running());
    for (int fd : fds) ::close(fd);
    expectUnwraps(*agent, "/keys/conn-kek", dek);
  }
  json::ObjectPtr status = parsed(udsRequest(agent->admin(), "GET", "/status"));
  CHECK(status->getValue<bool>("ready"));
  CHECK(agent->terminate() == 0);
}

TEST_CASE(
    "skr-agent's HTTP layer: keep-alive and pipelining, idle and slow-drip timeouts, a declared "
    "huge body, chunked bodies, deep JSON, oversized batches and its connection limit",
    "[agent][robustness][http]") {
  InitWorld world;
  world.createKey("vault", "http-kek", R"("kty":"RSA-HSM","key_size":2048)");
  AgentOptions options;
  options.extra_agent_yaml =
      "  limits:\n    max_connections: 8\n    read_timeout: 700ms\n    idle_timeout: 500ms\n";
  AgentProcess agent(world, world.configYaml({{"http-kek", "vault"}}, world.managedIdentityYaml()),
                     options);
  agent.waitReady();
  WrappedDek dek = wrapWithPublicKey(agent, "http-kek");
  const std::string unwrap = R"({"alg":"RSA-OAEP-256","value":")" + dek.wrapped_b64 + "\"}";

  {  // keep-alive and two pipelined requests on one connection, then closed when idle
    const int fd = connectRaw(agent.client(), 5s);
    REQUIRE(fd >= 0);
    std::string buffer;
    REQUIRE(sendAll(fd, requestText("POST", "/keys/http-kek/unwrapkey", unwrap)));
    CHECK(readResponse(fd, buffer).status == 200);
    REQUIRE(sendAll(fd, requestText("GET", "/keys/http-kek", "") +
                            requestText("POST", "/keys/http-kek/unwrapkey", unwrap)));
    CHECK(readResponse(fd, buffer).status == 200);
    RawResponse second = readResponse(fd, buffer);
    CHECK(second.status == 200);
    StatusOr<json::ObjectPtr> body = json::parseObject(second.body);
    REQUIRE(body.ok());
    CHECK((*body)->getValue<std::string>("kid") == dek.kid);
    const auto idle_from = Clock::now();
    bool closed = false;
    const std::string rest = readUntilClosed(fd, closed);
    const auto idle = Clock::now() - idle_from;
    ::close(fd);
    CHECK(closed);
    CHECK(rest.empty());
    CHECK(idle >= 400ms);
    CHECK(idle < 3s);
  }

  {  // a client dripping one byte every 100 ms is cut at the read timeout (not per byte)
    const int fd = connectRaw(agent.client(), 5s);
    REQUIRE(fd >= 0);
    const std::string text = requestText("POST", "/keys/http-kek/unwrapkey", unwrap);
    const auto start = Clock::now();
    std::size_t sent = 0;
    while (sent < text.size() && Clock::now() - start < 4s) {
      if (!sendAll(fd, text.substr(sent, 1))) break;
      ++sent;
      std::this_thread::sleep_for(100ms);
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 0) > 0) break;  // the agent answered (or closed)
    }
    std::string buffer;
    RawResponse r = readResponse(fd, buffer);
    const auto elapsed = Clock::now() - start;
    ::close(fd);
    INFO(r.head << " after " << sent << " bytes");
    CHECK(r.status == 408);
    CHECK(elapsed >= 600ms);
    CHECK(elapsed < 2s);
    CHECK(sent < text.size());
  }

  {  // a declared body over the limit is refused before it is sent; chunked bodies are 501
    const int fd = connectRaw(agent.client(), 5s);
    REQUIRE(fd >= 0);
    REQUIRE(sendAll(fd,
                    "POST /keys/http-kek/unwrapkey HTTP/1.1\r\nHost: skr\r\nX-SKR-Request: 1\r\n"
                    "Content-Length: 1000000000\r\n\r\n"));
    std::string buffer;
    RawResponse r = readResponse(fd, buffer);
    ::close(fd);
    CHECK(r.status == 413);
    CHECK(r.body.find("PayloadTooLarge") != std::string::npos);
    const int chunked = connectRaw(agent.client(), 5s);
    REQUIRE(chunked >= 0);
    REQUIRE(sendAll(chunked,
                    "POST /keys/http-kek/unwrapkey HTTP/1.1\r\nHost: skr\r\nX-SKR-Request: 1\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n0\r\n\r\n"));
    buffer.clear();
    RawResponse c = readResponse(chunked, buffer);
    ::close(chunked);
    CHECK(c.status == 501);
    CHECK(c.body.find("Content-Length") != std::string::npos);
    CHECK(auditLines(agent, 413, "PayloadTooLarge") == 1);
    CHECK(auditLines(agent, 501, "NotImplemented") == 1);
  }

  {  // deeply nested JSON and an oversized batch are 400s that say why
    expectBadParameter(udsRequest(agent.client(), "POST", "/keys/http-kek/unwrapkey",
                                  std::string(5000, '[') + std::string(5000, ']')),
                       "not a valid JSON object");
    expectBadParameter(
        udsRequest(agent.client(), "POST", "/keys/http-kek/unwrapkey",
                   R"({"alg":{"x":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[)"
                   R"([[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[)"
                   R"(]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]])"
                   R"(]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}})"),
        "JSON");
    std::string batch = R"({"requests":[)";
    for (int i = 0; i < 101; ++i) {
      if (i > 0) batch += ",";
      batch += unwrap;
    }
    batch += "]}";
    expectBadParameter(udsRequest(agent.client(), "POST", "/keys/http-kek/unwrapkey/batch", batch),
                       "has 101 items, expected 1..100");
  }

  {  // max_connections 8: eight stuck requests; a ninth client closes the slowest of them (408
     // at once, issue 14) and is served at once; the others get 408 after the read timeout
    std::vector<int> stuck;
    for (int i = 0; i < 8; ++i) {
      const int fd = connectRaw(agent.client(), 5s);
      REQUIRE(fd >= 0);
      REQUIRE(sendAll(fd, "POST /keys/http-kek/unwrapkey HTTP/1.1\r\n"));
      stuck.push_back(fd);
    }
    std::this_thread::sleep_for(100ms);  // let the agent accept and read them
    const auto start = Clock::now();
    expectUnwraps(agent, "/keys/http-kek", dek);
    CHECK(Clock::now() - start < 500ms);  // well before the 700 ms read timeout
    std::string buffer;
    int timed_out = 0;
    for (int fd : stuck) {
      buffer.clear();
      if (readResponse(fd, buffer).status == 408) ++timed_out;
      ::close(fd);
    }
    CHECK(timed_out == 8);
    CHECK(agent.stderrText().find("agent_http_partial_request_evicted") != std::string::npos);
  }
  CHECK(agent.running());
  CHECK(agent.terminate() == 0);
}

TEST_CASE("16 concurrent clients unwrapping through a rotation all get 200 and their DEK back",
          "[agent][robustness][concurrent]") {
  InitWorld world;
  world.createKey("vault", "busy-kek", R"("kty":"RSA-HSM","key_size":2048)");
  AgentProcess agent(world, world.configYaml({{"busy-kek", "vault"}}, world.managedIdentityYaml()));
  agent.waitReady();
  const WrappedDek old_dek = wrapWithPublicKey(agent, "busy-kek");
  const std::string old_path = "/keys/busy-kek/" + versionOf(old_dek.kid) + "/unwrapkey";
  const std::string body = R"({"alg":"RSA-OAEP-256","value":")" + old_dek.wrapped_b64 + "\"}";
  const std::string expected = encoding::base64UrlEncode(old_dek.dek);

  std::atomic<bool> stop{false};
  std::atomic<int> ok{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 16; ++i) {
    clients.emplace_back([&] {
      while (!stop.load()) {
        UdsResponse r = udsRequest(agent.client(), "POST", old_path, body, {}, 10s);
        StatusOr<json::ObjectPtr> parsed_body = json::parseObject(r.body);
        if (r.status == 200 && parsed_body.ok() &&
            (*parsed_body)->optValue<std::string>("value", "") == expected &&
            (*parsed_body)->optValue<std::string>("kid", "") == old_dek.kid) {
          ++ok;
        } else {
          ++failed;
        }
      }
    });
  }
  std::this_thread::sleep_for(300ms);
  const std::string new_kid = rotateInVault(world, "busy-kek");
  UdsResponse rotated = udsRequest(agent.admin(), "POST", "/keys/busy-kek/rotate", "{}");
  std::this_thread::sleep_for(300ms);
  stop = true;
  for (std::thread& t : clients) t.join();
  INFO(ok.load() << " ok, " << failed.load() << " failed");
  CHECK(rotated.status == 200);
  CHECK(failed.load() == 0);
  CHECK(ok.load() >= 32);
  const WrappedDek new_dek = wrapWithPublicKey(agent, "busy-kek");
  CHECK(new_dek.kid == new_kid);
  expectUnwraps(agent, "/keys/busy-kek", new_dek);
  CHECK(agent.terminate() == 0);
}

TEST_CASE(
    "SIGTERM with a parked events poll, a half request and an idle keep-alive connection exits 0 "
    "at once and answers the poll",
    "[agent][robustness][drain]") {
  InitWorld world;
  world.createKey("vault", "drain-kek", R"("kty":"RSA-HSM","key_size":2048)");
  AgentProcess agent(world,
                     world.configYaml({{"drain-kek", "vault"}}, world.managedIdentityYaml()));
  agent.waitReady();
  WrappedDek dek = wrapWithPublicKey(agent, "drain-kek");
  json::ObjectPtr first = parsed(udsRequest(agent.client(), "GET", "/events?after=0&timeout=0"));
  const int64_t next = first->getValue<int64_t>("next");
  std::future<UdsResponse> poll = std::async(std::launch::async, [&] {
    return udsRequest(agent.client(), "GET",
                      "/events?after=" + std::to_string(next) + "&timeout=30", {}, {}, 20s);
  });
  CHECK(poll.wait_for(300ms) == std::future_status::timeout);  // parked
  const int half = connectRaw(agent.client(), 5s);
  REQUIRE(half >= 0);
  REQUIRE(sendAll(half, "POST /keys/drain-kek/unwrapkey HTTP/1.1\r\nHost: x\r\n"));
  const int idle = connectRaw(agent.client(), 5s);
  REQUIRE(idle >= 0);
  std::string buffer;
  REQUIRE(sendAll(idle, requestText("GET", "/keys/drain-kek", "")));
  REQUIRE(readResponse(idle, buffer).status == 200);  // now idle between keep-alive requests

  const auto start = Clock::now();
  CHECK(agent.terminate() == 0);
  const auto took = Clock::now() - start;
  INFO(std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms to exit");
  CHECK(took < 3s);
  REQUIRE(poll.wait_for(5s) == std::future_status::ready);
  UdsResponse polled = poll.get();
  INFO(polled.error << " " << polled.body);
  CHECK(polled.status == 200);
  bool closed = false;
  readUntilClosed(half, closed);
  CHECK(closed);
  readUntilClosed(idle, closed);
  CHECK(closed);
  ::close(half);
  ::close(idle);
}

}  // namespace
}  // namespace skr::testing
