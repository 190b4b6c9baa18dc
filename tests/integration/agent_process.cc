#include "tests/integration/agent_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <thread>

#include "common/crypto/pkey.h"
#include "common/crypto/rsa_oaep.h"
#include "common/encoding/base64.h"

extern char** environ;

namespace skr::testing {

using namespace std::chrono_literals;
using encoding::base64UrlDecode;
using encoding::base64UrlEncode;

AgentProcess::AgentProcess(InitWorld& world, const std::string& yaml_without_agent,
                           AgentOptions options)
    : world_(world) {
  char name[] = "/tmp/skr-XXXXXX";
  REQUIRE(::mkdtemp(name) != nullptr);
  dir_ = name;
  client_ = dir_ + "/c.sock";
  admin_ = dir_ + "/a.sock";
  const std::string uid = std::to_string(::getuid());
  std::string yaml = yaml_without_agent + "agent:\n  client_socket: " + client_ +
                     "\n  admin_socket: " + admin_ + "\n";
  if (options.default_clients) {
    yaml += "  clients:\n    - name: tests\n      uids: [" + uid +
            "]\n      operations: ['*']\n      keys: ['*']\n  admin_uids: [" + uid + "]\n";
  }
  yaml += options.extra_agent_yaml;
  stderr_path_ = dir_ + "/agent.err";
  const std::string binary = options.agent_path.empty() ? SKR_AGENT_PATH : options.agent_path;
  pid_ = ::fork();
  REQUIRE(pid_ >= 0);
  if (pid_ == 0) {
    const int err = ::open(stderr_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (err >= 0) ::dup2(err, 2);
    ::setenv("SKR_CONFIG_YAML", yaml.c_str(), 1);
    const char* argv[] = {binary.c_str(), nullptr};
    ::execve(binary.c_str(), const_cast<char* const*>(argv), environ);
    ::_exit(127);
  }
}

AgentProcess::~AgentProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  keepTestOutput("skr-agent", stderrText());
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::string AgentProcess::stderrText() const {
  return readFileText(stderr_path_);
}

void AgentProcess::waitReady(std::chrono::seconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  int last = 0;
  while (std::chrono::steady_clock::now() < end) {
    REQUIRE(running());
    UdsResponse r = udsRequest(admin_, "GET", "/readyz", {}, {}, 5s);
    if (!r.transport_error) last = r.status;
    if (last == 200) return;
    std::this_thread::sleep_for(100ms);
  }
  INFO(stderrText());
  FAIL("skr-agent not ready within the limit; last /readyz status " << last);
}

bool AgentProcess::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    exit_status_ = status;
    return false;
  }
  return true;
}

void AgentProcess::signal(int sig) {
  REQUIRE(pid_ > 0);
  REQUIRE(::kill(pid_, sig) == 0);
}

int AgentProcess::terminate() {
  REQUIRE(pid_ > 0);
  ::kill(pid_, SIGTERM);
  const auto end = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < end) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    std::this_thread::sleep_for(50ms);
  }
  return -1;
}

json::ObjectPtr parsed(const UdsResponse& r) {
  INFO(r.status << " " << r.body);
  REQUIRE(!r.transport_error);
  StatusOr<json::ObjectPtr> object = json::parseObject(r.body);
  REQUIRE(object.ok());
  return *object;
}

int64_t lastRequestSeq(EmulatorProcess& emu) {
  json::ObjectPtr log = emu.admin("GET", "/_emulator/requests");
  int64_t last = 0;
  auto requests = log->getArray("requests");
  for (unsigned i = 0; i < requests->size(); ++i) {
    last = std::max<int64_t>(last, requests->getObject(i)->getValue<int64_t>("seq"));
  }
  return last;
}

int releasesSince(EmulatorProcess& emu, int64_t after) {
  json::ObjectPtr log = emu.admin("GET", "/_emulator/requests");
  int n = 0;
  auto requests = log->getArray("requests");
  for (unsigned i = 0; i < requests->size(); ++i) {
    json::ObjectPtr r = requests->getObject(i);
    const std::string path = r->getValue<std::string>("path");
    if (r->getValue<int64_t>("seq") > after && path.size() >= 8 &&
        path.compare(path.size() - 8, 8, "/release") == 0) {
      ++n;
    }
  }
  return n;
}

WrappedDek wrapWithPublicKey(AgentProcess& agent, const std::string& name) {
  json::ObjectPtr got = parsed(udsRequest(agent.client(), "GET", "/keys/" + name));
  json::ObjectPtr jwk = got->getObject("key");
  REQUIRE(!jwk.isNull());
  CHECK(!jwk->has("d"));
  StatusOr<Bytes> n = base64UrlDecode(jwk->getValue<std::string>("n"));
  StatusOr<Bytes> e = base64UrlDecode(jwk->getValue<std::string>("e"));
  REQUIRE((n.ok() && e.ok()));
  StatusOr<crypto::PublicKey> pub = crypto::PublicKey::fromRsaComponents(*n, *e);
  REQUIRE(pub.ok());
  WrappedDek out;
  out.dek.resize(32);
  for (std::size_t i = 0; i < out.dek.size(); ++i) out.dek[i] = static_cast<uint8_t>(i * 7 + 3);
  StatusOr<Bytes> wrapped = crypto::rsaOaepEncrypt(*pub, crypto::HashAlg::Sha256, out.dek);
  REQUIRE(wrapped.ok());
  out.wrapped_b64 = base64UrlEncode(*wrapped);
  out.kid = jwk->getValue<std::string>("kid");
  return out;
}

void expectUnwraps(AgentProcess& agent, const std::string& version_path, const WrappedDek& dek) {
  UdsResponse r = udsRequest(agent.client(), "POST", version_path + "/unwrapkey",
                             R"({"alg":"RSA-OAEP-256","value":")" + dek.wrapped_b64 + "\"}");
  REQUIRE(r.status == 200);
  json::ObjectPtr body = parsed(r);
  StatusOr<Bytes> value = base64UrlDecode(body->getValue<std::string>("value"));
  REQUIRE(value.ok());
  CHECK(*value == dek.dek);
  CHECK(body->getValue<std::string>("kid") == dek.kid);
}

std::string rotateInVault(InitWorld& world, const std::string& name) {
  EmulatorProcess& emu = world.emulator();
  HttpCall call;
  call.method = "POST";
  call.url = emu.url("vault") + "/keys/" + name + "/rotate?api-version=7.4";
  call.headers.push_back({"Authorization", "Bearer " + world.officerToken("vault")});
  HttpResult rotated = emu.call(call);
  INFO(rotated.body);
  REQUIRE(rotated.status == 200);
  return rotated.json()->getObject("key")->getValue<std::string>("kid");
}

std::string versionOf(const std::string& kid) {
  return kid.substr(kid.rfind('/') + 1);
}

}  // namespace skr::testing
