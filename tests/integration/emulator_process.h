// A long-running skr-emulator child for integration tests: start on a fresh temp state dir with
// port 0, wait (bounded, polling) for DIR/endpoints.env, talk to it with plain Poco HTTP(S)
// clients that trust DIR/ca.pem (hostname verification on), stop with SIGTERM.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/json/json.h"

namespace skr::testing {

struct HttpResult {
  bool transport_error = false;  // connect/TLS/reset/no response: `error` says what
  std::string error;
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  long long content_length = -1;

  std::string header(const std::string& lower_name) const;
  // The body as a JSON object (Catch REQUIREs success).
  json::ObjectPtr json() const;
};

struct HttpCall {
  std::string method = "GET";
  std::string url;  // absolute
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string content_type = "application/json";
  // TLS trust: the CA file to trust; empty = trust nothing (verification must fail).
  std::optional<std::string> ca_file;  // nullopt = the emulator's ca.pem
  std::chrono::seconds timeout{30};
};

class EmulatorProcess {
 public:
  // Starts skr-emulator with --state <dir> --listen 127.0.0.1:0 plus `extra_args`. An empty
  // `state_dir` creates a temp dir (removed by the destructor). Fails the test when endpoints.env
  // does not appear within 90 s or the process exits.
  static std::unique_ptr<EmulatorProcess> start(const std::string& state_dir = {},
                                                const std::vector<std::string>& extra_args = {});
  ~EmulatorProcess();

  // SIGTERM, then waits (bounded); the exit code, or -1 when it had to be killed / died by signal.
  int stop();
  bool running() const { return pid_ > 0; }

  const std::string& stateDir() const { return state_dir_; }
  const std::map<std::string, std::string>& env() const { return env_; }
  // env()["SKR_EMULATOR_<NAME>_URL"], e.g. url("vault").
  std::string url(const std::string& listener) const;
  std::string caFile() const { return state_dir_ + "/ca.pem"; }
  std::string stderrText() const;

  HttpResult call(HttpCall call) const;
  HttpResult get(const std::string& url,
                 std::vector<std::pair<std::string, std::string>> headers = {}) const;
  HttpResult post(const std::string& url, const std::string& body,
                  std::vector<std::pair<std::string, std::string>> headers = {}) const;
  // Admin API: POST/PUT/GET with JSON, REQUIREs a 2xx status, returns the parsed body (or an
  // empty object for 204).
  json::ObjectPtr admin(const std::string& method, const std::string& path,
                        const std::string& body = {}) const;

 private:
  EmulatorProcess() = default;
  pid_t pid_ = -1;
  std::string state_dir_;
  bool owns_dir_ = false;
  std::string stderr_path_;
  std::map<std::string, std::string> env_;
};

// Parses a shell-sourceable KEY='value' file as written by the emulator.
std::map<std::string, std::string> parseEndpointsEnv(const std::string& text);
std::string readFileText(const std::string& path);
std::string makeTempDir(const std::string& prefix);

}  // namespace skr::testing

namespace skr::testing {

struct TestIdentity {
  std::string client_id;
  std::string object_id;
  std::string msi_res_id;
};

// Percent-encodes a query parameter value.
std::string queryEncode(const std::string& value);
// A user-assigned managed identity created through the admin API.
TestIdentity addUserIdentity(const EmulatorProcess& emulator, const std::string& name);
// Role assignment through the admin API (vault "vault" or "mhsm", scope "/", "/keys", "/keys/N").
void assignRole(const EmulatorProcess& emulator, const std::string& object_id,
                const std::string& role, const std::string& vault = "vault",
                const std::string& scope = "/");
// An access token from IMDS for `resource` (and identity `client_id` when set); REQUIREs 200.
std::string imdsToken(const EmulatorProcess& emulator, const std::string& resource,
                      const std::string& client_id = {});
// A user-assigned identity holding `role` on the whole vault, and its token for that vault.
std::string tokenWithRole(const EmulatorProcess& emulator, const std::string& role,
                          const std::string& vault = "vault");

}  // namespace skr::testing
