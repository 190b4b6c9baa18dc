// A running skr-agent (the real binary) for the integration tests, with its client and admin
// sockets in a short private directory, plus helpers shared by the agent tests: JSON parsing of
// a response, the emulator's request-log sequence and release count, and a DEK wrapped outside
// the agent with the public key GET /keys/{name} returns.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "common/core/bytes.h"
#include "common/json/json.h"
#include "tests/integration/init_world.h"
#include "tests/integration/uds_http_client.h"

namespace skr::testing {

struct AgentOptions {
  // When true, an `agent:` block is appended that allows this test's uid every operation on every
  // key and makes it the admin uid. `extra_agent_yaml` lines (each indented by two spaces, e.g.
  // "  limits:\n    max_body_bytes: 1024\n") follow it inside the same block.
  bool default_clients = true;
  std::string extra_agent_yaml;
  // The skr-agent binary to run; empty: this build's (SKR_AGENT_PATH). scripts/bench hostile runs
  // an older build this way to compare before and after.
  std::string agent_path;
};

class AgentProcess {
 public:
  // Starts skr-agent with SKR_CONFIG_YAML = `yaml_without_agent` + the agent block (sockets at
  // dir()/c.sock and dir()/a.sock). stderr goes to dir()/agent.err, kept as test output.
  AgentProcess(InitWorld& world, const std::string& yaml_without_agent, AgentOptions options = {});
  ~AgentProcess();
  AgentProcess(const AgentProcess&) = delete;
  AgentProcess& operator=(const AgentProcess&) = delete;

  const std::string& dir() const { return dir_; }
  const std::string& client() const { return client_; }
  const std::string& admin() const { return admin_; }
  pid_t pid() const { return pid_; }
  std::string stderrText() const;

  // Polls GET /readyz on the admin socket until 200 (REQUIREs it within `limit`).
  void waitReady(std::chrono::seconds limit = std::chrono::seconds(120));
  // False once the process has exited (its wait status is then kept).
  bool running();
  void signal(int sig);
  // SIGTERM and wait (bounded); the exit code, or -1 on a signal / timeout.
  int terminate();

 private:
  InitWorld& world_;
  std::string dir_, client_, admin_, stderr_path_;
  pid_t pid_ = -1;
  int exit_status_ = 0;
};

// The response body as a JSON object (REQUIREs a response and valid JSON).
json::ObjectPtr parsed(const UdsResponse& r);

// The highest seq of the emulator's request log.
int64_t lastRequestSeq(EmulatorProcess& emu);

// Release requests (".../release") in the request log after `after`.
int releasesSince(EmulatorProcess& emu, int64_t after);

// A random 32-byte DEK wrapped with RSA-OAEP-256 under the public key GET /keys/{name}
// returns; also returns that response's kid.
struct WrappedDek {
  Bytes dek;
  std::string wrapped_b64;
  std::string kid;
};
WrappedDek wrapWithPublicKey(AgentProcess& agent, const std::string& name);

// POST unwrapkey (on `version_path` = "/keys/N" or "/keys/N/V"); REQUIREs the DEK back.
void expectUnwraps(AgentProcess& agent, const std::string& version_path, const WrappedDek& dek);

// Creates a new version of key `name` in the emulator's vault (Key Vault's POST .../rotate with
// an officer token); returns its kid.
std::string rotateInVault(InitWorld& world, const std::string& name);

// The version part of a kid URL.
std::string versionOf(const std::string& kid);

}  // namespace skr::testing
