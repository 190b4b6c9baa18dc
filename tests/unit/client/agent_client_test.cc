// skr::AgentClient against a scripted server on a real Unix domain socket: retries of 503/429
// honour Retry-After within max_attempts, error answers become Status with the AKV code, and
// key material travels both ways.
#include "client/agent_client.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "common/encoding/base64.h"

namespace skr {
namespace {

using std::chrono::milliseconds;

// Answers one scripted HTTP response per connection, in order, and records each request.
class ScriptedAgent {
 public:
  explicit ScriptedAgent(std::vector<std::string> answers) : answers_(std::move(answers)) {
    char dir_template[] = "/tmp/skr-client-test-XXXXXX";
    REQUIRE(mkdtemp(dir_template) != nullptr);
    dir_ = dir_template;
    path_ = dir_ + "/agent.sock";
    fd_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path_.c_str());
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(fd_, 8) == 0);
    thread_ = std::thread([this] { serve(); });
  }
  ~ScriptedAgent() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
    ::unlink(path_.c_str());
    ::rmdir(dir_.c_str());
  }
  const std::string& path() const { return path_; }
  const std::vector<std::string>& requests() const { return requests_; }

 private:
  void serve() {
    for (const std::string& answer : answers_) {
      const int client = ::accept(fd_, nullptr, nullptr);
      if (client < 0) return;
      std::string request;
      char buffer[4096];
      std::size_t need = std::string::npos;
      while (need == std::string::npos || request.size() < need) {
        const ssize_t n = ::read(client, buffer, sizeof buffer);
        if (n <= 0) break;
        request.append(buffer, static_cast<std::size_t>(n));
        const std::size_t head_end = request.find("\r\n\r\n");
        if (head_end != std::string::npos && need == std::string::npos) {
          std::size_t length = 0;
          const std::size_t at = request.find("Content-Length: ");
          if (at != std::string::npos && at < head_end)
            length = std::stoul(request.substr(at + 16));
          need = head_end + 4 + length;
        }
      }
      requests_.push_back(request);
      std::size_t sent = 0;
      while (sent < answer.size()) {
        const ssize_t n = ::write(client, answer.data() + sent, answer.size() - sent);
        if (n <= 0) break;
        sent += static_cast<std::size_t>(n);
      }
      ::close(client);
    }
  }

  std::vector<std::string> answers_;
  std::vector<std::string> requests_;
  std::string dir_;
  std::string path_;
  int fd_ = -1;
  std::thread thread_;
};

std::string http(int status, const std::string& reason, const std::string& body,
                 const std::string& extra_headers = "") {
  return "HTTP/1.1 " + std::to_string(status) + " " + reason +
         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n" + extra_headers + "\r\n" + body;
}

AgentClient clientFor(const ScriptedAgent& agent, std::vector<milliseconds>& waits,
                      int max_attempts = 4) {
  AgentClientOptions options;
  options.socket_path = agent.path();
  options.max_attempts = max_attempts;
  options.request_timeout = milliseconds(5000);
  AgentClient client(options);
  client.setSleeper([&waits](milliseconds d) { waits.push_back(d); });
  return client;
}

TEST_CASE("503 and 429 are retried honouring Retry-After, then the answer is returned") {
  const std::string busy = R"({"error":{"code":"NotReady","message":"key not released yet"}})";
  ScriptedAgent agent({http(503, "Service Unavailable", busy, "Retry-After: 2\r\n"),
                       http(429, "Too Many Requests", busy), http(200, "OK", R"({"value":[]})")});
  std::vector<milliseconds> waits;
  AgentClient client = clientFor(agent, waits);
  StatusOr<std::string> keys = client.keys();
  REQUIRE(keys.ok());
  CHECK(*keys == R"({"value":[]})");
  // 2 s from Retry-After, then the doubled backoff (no Retry-After on the 429).
  CHECK(waits == std::vector<milliseconds>{milliseconds(2000), milliseconds(800)});
  REQUIRE(agent.requests().size() == 3);
  for (const std::string& r : agent.requests()) {
    CHECK(r.rfind("GET /keys HTTP/1.1\r\n", 0) == 0);
    CHECK(r.find("X-SKR-Request: 1\r\n") != std::string::npos);
  }
}

TEST_CASE("retries stop after max_attempts and the last error carries the AKV code") {
  const std::string busy =
      R"({"error":{"code":"TooManyConnections","message":"the client budget is full"}})";
  ScriptedAgent agent({http(503, "Service Unavailable", busy, "Retry-After: 1\r\n"),
                       http(503, "Service Unavailable", busy, "Retry-After: 1\r\n")});
  std::vector<milliseconds> waits;
  AgentClient client = clientFor(agent, waits, 2);
  StatusOr<std::string> keys = client.keys();
  REQUIRE_FALSE(keys.ok());
  CHECK(keys.status().code() == StatusCode::Unavailable);
  CHECK(keys.status().message() ==
        "skr-agent: HTTP 503 TooManyConnections: the client budget is full");
  CHECK(keys.status().details().dependency == Dependency::Agent);
  CHECK(keys.status().details().http_status == 503);
  CHECK(keys.status().details().service_code == "TooManyConnections");
  CHECK(waits.size() == 1);
}

TEST_CASE("other errors are not retried: 403 with an inner code is PermissionDenied") {
  ScriptedAgent agent({http(403, "Forbidden",
                            R"({"error":{"code":"Forbidden","message":"not for you",)"
                            R"("innererror":{"code":"KeyOperationForbidden"}}})")});
  std::vector<milliseconds> waits;
  AgentClient client = clientFor(agent, waits);
  StatusOr<SecretBytes> dek = client.unwrapKey("app-kek", "RSA-OAEP-256", asBytes("wrapped"));
  REQUIRE_FALSE(dek.ok());
  CHECK(dek.status().code() == StatusCode::PermissionDenied);
  CHECK(dek.status().details().service_code == "Forbidden/KeyOperationForbidden");
  CHECK(waits.empty());
}

TEST_CASE("wrapKey sends the DEK base64url to the kid version, and unwrapKey returns the bytes") {
  const std::string kid = "https://v.vault.azure.net/keys/app-kek/0a1b2c";
  ScriptedAgent agent({http(200, "OK", R"({"kid":")" + kid + R"(","value":"d3JhcHBlZA"})"),
                       http(200, "OK", R"({"kid":")" + kid + R"(","value":"c2VjcmV0LWRlaw"})")});
  std::vector<milliseconds> waits;
  AgentClient client = clientFor(agent, waits);
  StatusOr<KeyResult> wrapped =
      client.wrapKey("app-kek", "RSA-OAEP-256", SecretBytes::copyOf(asBytes("secret-dek")));
  REQUIRE(wrapped.ok());
  CHECK(wrapped->kid == kid);
  CHECK(asText(wrapped->value) == "wrapped");
  StatusOr<SecretBytes> dek = client.unwrapKey(wrapped->kid, "RSA-OAEP-256", wrapped->value);
  REQUIRE(dek.ok());
  CHECK(asText(dek->view(grantSecretAccess())) == "secret-dek");
  REQUIRE(agent.requests().size() == 2);
  CHECK(agent.requests()[0].rfind("POST /keys/app-kek/wrapkey HTTP/1.1", 0) == 0);
  CHECK(agent.requests()[0].find(R"({"alg":"RSA-OAEP-256","value":"c2VjcmV0LWRlaw"})") !=
        std::string::npos);
  CHECK(agent.requests()[1].rfind("POST /keys/app-kek/0a1b2c/unwrapkey HTTP/1.1", 0) == 0);
}

TEST_CASE("an answer without a value, or not JSON, is DataLoss") {
  ScriptedAgent agent({http(200, "OK", R"({"kid":"k"})"), http(200, "OK", R"({"value":"x"},)")});
  std::vector<milliseconds> waits;
  AgentClient client = clientFor(agent, waits);
  CHECK(client.unwrapKey("k", "A256KW", asBytes("w")).status().code() == StatusCode::DataLoss);
  CHECK(client.unwrapKey("k", "A256KW", asBytes("w")).status().code() == StatusCode::DataLoss);
}

TEST_CASE("agentKeyPath accepts names, name/version and kids, and refuses anything else") {
  CHECK(agentKeyPath("app-kek").value() == "/keys/app-kek");
  CHECK(agentKeyPath("app-kek/abc123").value() == "/keys/app-kek/abc123");
  CHECK(agentKeyPath("https://v.vault.azure.net/keys/app-kek/abc123").value() ==
        "/keys/app-kek/abc123");
  for (const char* bad : {"", "../x", "a/b/c", "a/", "a b", "https://v/keys/", "a?x=1"}) {
    INFO(bad);
    CHECK(agentKeyPath(bad).status().code() == StatusCode::InvalidArgument);
  }
}

TEST_CASE("a socket nobody listens on is Unavailable, retried, and names the path") {
  AgentClientOptions options;
  options.socket_path = "/nonexistent/skr/agent.sock";
  options.max_attempts = 3;
  AgentClient client(options);
  std::vector<milliseconds> waits;
  client.setSleeper([&waits](milliseconds d) { waits.push_back(d); });
  StatusOr<std::string> keys = client.keys();
  CHECK(keys.status().code() == StatusCode::Unavailable);
  CHECK(keys.status().message().find("/nonexistent/skr/agent.sock") != std::string::npos);
  CHECK(waits == std::vector<milliseconds>{milliseconds(400), milliseconds(800)});
}

TEST_CASE("fromEnvironment needs SKR_AGENT_SOCKET") {
  const char* saved = std::getenv("SKR_AGENT_SOCKET");
  const std::string before = saved ? saved : "";
  ::unsetenv("SKR_AGENT_SOCKET");
  CHECK(AgentClient::fromEnvironment().status().code() == StatusCode::InvalidArgument);
  ::setenv("SKR_AGENT_SOCKET", "/run/skr/agent.sock", 1);
  CHECK(AgentClient::fromEnvironment().value().socketPath() == "/run/skr/agent.sock");
  if (saved) {
    ::setenv("SKR_AGENT_SOCKET", before.c_str(), 1);
  } else {
    ::unsetenv("SKR_AGENT_SOCKET");
  }
}

}  // namespace
}  // namespace skr
