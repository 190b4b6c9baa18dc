// The Agent in-process: emulated platform and sealing in a temp dir, no bundles and
// release_on_start never, so nothing reaches the network; requests go over its real Unix sockets.
#include "agent/agent.h"

#include <dirent.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>
#include <thread>

#include "common/config/config.h"
#include "tests/fakes/fake_clock.h"
#include "tests/unit/agent/agent_test_util.h"
#include "tests/unit/agent/socket_test_dir.h"

namespace skr::agent {
namespace {

using testing::connectUnix;
using testing::SocketTestDir;
using testing::take;

class ZeroJitter : public http::JitterSource {
 public:
  double next() override { return 0.0; }
};

// Threads of this process (entries of /proc/self/task).
int threadCount() {
  DIR* dir = ::opendir("/proc/self/task");
  if (dir == nullptr) return -1;
  int count = 0;
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  ::closedir(dir);
  return count;
}

// One request with `Connection: close`; the raw response (empty when the connection failed).
std::string exchange(const std::string& socket_path, const std::string& target) {
  const int fd = connectUnix(socket_path);
  if (fd < 0) return {};
  timeval timeout{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  const std::string request =
      "GET " + target + " HTTP/1.1\r\nHost: x\r\nX-SKR-Request: 1\r\nConnection: close\r\n\r\n";
  std::string response;
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
      static_cast<ssize_t>(request.size())) {
    char chunk[4096];
    ssize_t got = 0;
    while ((got = ::recv(fd, chunk, sizeof(chunk), 0)) > 0) {
      response.append(chunk, static_cast<std::size_t>(got));
    }
  }
  ::close(fd);
  return response;
}

// The emulated chip, created once per binary (its keys take seconds to generate).
const std::string& chipDir() {
  static const SocketTestDir dir;
  return dir.path();
}

std::string statusLine(const std::string& response) {
  return response.substr(0, response.find("\r\n"));
}

TEST_CASE("an agent serves its sockets from start() and stop() joins every thread it started",
          "[concurrency]") {
  SocketTestDir dir;
  const std::string state = dir.file("state");
  REQUIRE(::mkdir(state.c_str(), 0700) == 0);
  const std::string uid = std::to_string(::getuid());
  config::Config config = take(config::parseConfigYaml(
      "platform:\n  kind: emulated\n  chip_dir: " + chipDir() + "/chip" +
      "\nattestation:\n  maa_endpoint: https://maa.example.net\n"
      "identity:\n  kind: none\n"
      "keys:\n  - name: data-kek\n    vault: https://myvault.vault.azure.net\n"
      "state_dir: " +
      state + "\nseal:\n  provider: emulated\nagent:\n  client_socket: " + dir.file("c.sock") +
      "\n  admin_socket: " + dir.file("a.sock") +
      "\n  release_on_start: never\n  rotation_interval: 24h\n  workers: 2\n"
      "  clients:\n    - name: tests\n      uids: [" +
      uid + "]\n      operations: ['*']\n      keys: ['*']\n  admin_uids: [" + uid + "]\n"));
  skr::testing::FakeClock clock;
  ZeroJitter jitter;
  // ThreadSanitizer's runtime starts a helper thread of its own at the first thread a process
  // creates: start and join one first, so that only the agent's threads are counted.
  std::thread([] {}).join();
  const int threads_before = threadCount();

  auto created = Agent::create(std::move(config), AgentSeams{clock, jitter});
  if (auto* failed = std::get_if<AgentSetupFailure>(&created)) {
    FAIL(failed->step << ": " << failed->status.toString());
  }
  std::unique_ptr<Agent> agent = std::move(std::get<std::unique_ptr<Agent>>(created));
  // Built, not started: the sockets exist but nothing accepts yet; no thread runs.
  CHECK(threadCount() == threads_before);
  struct stat socket_file {};
  REQUIRE(::lstat(dir.file("c.sock").c_str(), &socket_file) == 0);
  CHECK(S_ISSOCK(socket_file.st_mode));

  REQUIRE(agent->start().ok());
  CHECK(agent->start().code() == StatusCode::FailedPrecondition);
  CHECK(threadCount() > threads_before);
  CHECK(statusLine(exchange(dir.file("c.sock"), "/healthz")) == "HTTP/1.1 200 OK");
  // No bundle and release_on_start never: serving, not ready.
  const std::string readyz = exchange(dir.file("c.sock"), "/readyz");
  CHECK(statusLine(readyz) == "HTTP/1.1 503 Service Unavailable");
  CHECK(readyz.find("NotReady") != std::string::npos);
  CHECK_FALSE(agent->ready());
  CHECK(statusLine(exchange(dir.file("a.sock"), "/status")) == "HTTP/1.1 200 OK");

  agent->stop();
  CHECK(threadCount() == threads_before);
  CHECK(exchange(dir.file("c.sock"), "/healthz").empty());  // nothing accepts any more
  agent->stop();                                            // harmless
  CHECK(threadCount() == threads_before);
  agent.reset();
  // The sockets' files went with the agent.
  CHECK(::lstat(dir.file("c.sock").c_str(), &socket_file) != 0);
  CHECK(::lstat(dir.file("a.sock").c_str(), &socket_file) != 0);
}

TEST_CASE("agent create fails with the step, exit code and hint of a state dir it refuses") {
  SocketTestDir dir;
  const std::string state = dir.file("state");
  REQUIRE(::mkdir(state.c_str(), 0700) == 0);
  REQUIRE(::chmod(state.c_str(), 0777) == 0);  // world-writable: refused
  config::Config config = take(config::parseConfigYaml(
      "platform:\n  kind: emulated\n  chip_dir: " + chipDir() + "/chip" +
      "\nattestation:\n  maa_endpoint: https://maa.example.net\n"
      "identity:\n  kind: none\n"
      "keys:\n  - name: data-kek\n    vault: https://myvault.vault.azure.net\n"
      "state_dir: " +
      state + "\nseal:\n  provider: emulated\nagent:\n  client_socket: " + dir.file("c.sock") +
      "\n  admin_socket: " + dir.file("a.sock") + "\n"));
  skr::testing::FakeClock clock;
  ZeroJitter jitter;
  auto created = Agent::create(std::move(config), AgentSeams{clock, jitter});
  auto* failed = std::get_if<AgentSetupFailure>(&created);
  REQUIRE(failed != nullptr);
  CHECK(failed->code == release::ExitCode::Output);
  CHECK(failed->step == "state_dir");
  CHECK_FALSE(failed->status.ok());
  // Sockets come after the state dir: none was created.
  struct stat socket_file {};
  CHECK(::lstat(dir.file("c.sock").c_str(), &socket_file) != 0);
}

}  // namespace
}  // namespace skr::agent
