// skr-agent, the real binary, with callers of other uids (issue 6 "Done when", the caller
// part): each client is curl run by `setpriv --reuid=U --regid=G --clear-groups`, so the agent
// sees that uid/gid through SO_PEERCRED. An allowed uid succeeds; a uid without a rule, a missing
// X-SKR-Request header, a missing or wrong bearer token, an operation or key outside the rule and
// an admin route from a non-admin uid each get the documented 401/403 and an audit line (event
// "request" with caller_uid, status and code); a gid rule matches the caller's primary gid; the
// socket files carry the configured mode and group, and start-up refuses a socket directory
// writable by others, a non-socket file or a live socket at the path, but replaces a stale one.
// Runs as root (setpriv needs it).
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "common/crypto/digest.h"
#include "common/encoding/base64.h"
#include "common/encoding/hex.h"
#include "common/json/json.h"
#include "tests/integration/agent_process.h"
#include "tests/integration/init_world.h"
#include "tests/integration/uds_http_client.h"

extern char** environ;

namespace skr::testing {
namespace {

constexpr int kGroup = 4242;       // socket_group; every test client runs with this gid
constexpr int kAllowedUid = 4001;  // rule "app": unwrap and keys on key "k1"
constexpr int kDeniedUid = 4002;   // no rule
constexpr int kTokenUid = 4003;    // rule "tokened": everything, with a bearer token
constexpr int kGroupUid = 4005;    // no uid rule; primary gid kRuleGid
constexpr int kRuleGid = 4343;     // rule "by-group": keys (list and get) on every key

struct CurlResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

// `method path` on `socket` as uid/gid through setpriv + curl; `headers` as "Name: value".
// With `gid` other than kGroup the client keeps kGroup as its only supplementary group (to
// reach the socket) and `gid` as its primary one (what SO_PEERCRED reports).
CurlResponse callAs(int uid, const std::string& socket, const std::string& method,
                    const std::string& path, const std::string& body = {},
                    std::vector<std::string> headers = {"X-SKR-Request: 1"}, int gid = kGroup) {
  std::vector<std::string> args = {
      "--reuid=" + std::to_string(uid),
      "--regid=" + std::to_string(gid),
      gid == kGroup ? "--clear-groups" : "--groups=" + std::to_string(kGroup),
      "/usr/bin/curl",
      "-q",
      "-sS",
      "-i",
      "--max-time",
      "20",
      "--unix-socket",
      socket,
      "-X",
      method};
  for (const std::string& h : headers) {
    args.push_back("-H");
    args.push_back(h);
  }
  if (!body.empty()) {
    args.push_back("-H");
    args.push_back("Content-Type: application/json");
    args.push_back("--data-binary");
    args.push_back(body);
  }
  args.push_back("http://skr" + path);
  ProcessResult r = runProcess("/usr/bin/setpriv", args);
  INFO("setpriv/curl as uid " << uid << " exit " << r.exit_code << ": " << r.err);
  REQUIRE(r.exit_code == 0);
  CurlResponse out;
  const std::size_t end = r.out.find("\r\n\r\n");
  REQUIRE(end != std::string::npos);
  const std::string head = r.out.substr(0, end);
  out.body = r.out.substr(end + 4);
  REQUIRE(head.rfind("HTTP/1.1 ", 0) == 0);
  out.status = std::stoi(head.substr(9, 3));
  std::size_t line = head.find("\r\n");
  while (line != std::string::npos) {
    const std::size_t next = head.find("\r\n", line + 2);
    const std::string h =
        head.substr(line + 2, next == std::string::npos ? std::string::npos : next - line - 2);
    const std::size_t colon = h.find(':');
    if (colon != std::string::npos) {
      std::string name = h.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value = h.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      out.headers[name] = value;
    }
    line = next;
  }
  return out;
}

// REQUIREs `status` with the error `code`, and `message_part` in its message.
void expectError(const CurlResponse& r, int status, const std::string& code,
                 const std::string& message_part) {
  INFO(r.status << " " << r.body);
  REQUIRE(r.status == status);
  StatusOr<json::ObjectPtr> body = json::parseObject(r.body);
  REQUIRE(body.ok());
  json::ObjectPtr error = (*body)->getObject("error");
  REQUIRE(!error.isNull());
  CHECK(error->getValue<std::string>("code") == code);
  CHECK(error->getValue<std::string>("message").find(message_part) != std::string::npos);
}

// The audit lines ("request" events) of `uid` in the agent's log.
std::vector<json::ObjectPtr> auditLines(const AgentProcess& agent, int uid) {
  std::vector<json::ObjectPtr> out;
  for (const json::ObjectPtr& line : jsonLines(agent.stderrText())) {
    if (line->optValue<std::string>("event", "") != "request") continue;
    if (line->optValue<int64_t>("caller_uid", -1) == uid) out.push_back(line);
  }
  return out;
}

// REQUIREs one audit line of `uid` with this status, code, op and key, and the caller's gid.
void expectAudit(const AgentProcess& agent, int uid, int status, const std::string& code,
                 const std::string& op, const std::string& key) {
  int found = 0;
  for (const json::ObjectPtr& line : auditLines(agent, uid)) {
    if (line->optValue<int64_t>("status", 0) != status ||
        line->optValue<std::string>("code", "") != code ||
        line->optValue<std::string>("op", "") != op ||
        line->optValue<std::string>("key", "") != key) {
      continue;
    }
    ++found;
    CHECK(line->optValue<int64_t>("caller_gid", -1) == kGroup);
    CHECK(line->optValue<int64_t>("caller_pid", 0) > 0);
    CHECK(line->optValue<std::string>("listener", "") != "");
  }
  INFO("uid " << uid << " status " << status << " " << code << " op " << op << " key " << key);
  CHECK(found == 1);
}

TEST_CASE(
    "callers of other uids: allowed succeeds, and no rule, missing header, bad token, op or key "
    "outside the rule each get 401 or 403 and an audit line, on sockets with the configured "
    "mode and group",
    "[agent][callers]") {
  REQUIRE(::geteuid() == 0);
  InitWorld world;
  world.createKey("vault", "k1", R"("kty":"RSA-HSM","key_size":2048)");
  world.createKey("vault", "k2", R"("kty":"RSA-HSM","key_size":2048)");
  const std::string token = "caller-test-token-0123456789";
  const std::string token_sha256 = encoding::hexEncode(crypto::sha256(asBytes(token)));
  AgentOptions options;
  options.default_clients = false;
  const std::string me = std::to_string(::getuid());
  options.extra_agent_yaml =
      "  socket_mode: 0660\n  socket_group: " + std::to_string(kGroup) +
      "\n  clients:\n"
      "    - name: app\n      uids: [" +
      std::to_string(kAllowedUid) +
      "]\n      operations: [unwrap, keys]\n      keys: [k1]\n"
      "    - name: tokened\n      uids: [" +
      std::to_string(kTokenUid) +
      "]\n      operations: ['*']\n      keys: ['*']\n      token_sha256: " + token_sha256 +
      "\n    - name: by-group\n      gids: [" + std::to_string(kRuleGid) +
      "]\n      operations: [keys]\n      keys: ['*']\n    - name: tests\n      uids: [" + me +
      "]\n      operations: ['*']\n      keys: ['*']\n  admin_uids: [" + me + "]\n";
  AgentProcess agent(
      world, world.configYaml({{"k1", "vault"}, {"k2", "vault"}}, world.managedIdentityYaml()),
      options);
  // The clients must traverse the private socket directory (not writable by them).
  REQUIRE(::chmod(agent.dir().c_str(), 0711) == 0);
  agent.waitReady();
  INFO(agent.stderrText());

  // Both sockets: mode 0660, group kGroup.
  for (const std::string& socket : {agent.client(), agent.admin()}) {
    struct stat st {};
    REQUIRE(::lstat(socket.c_str(), &st) == 0);
    CHECK(S_ISSOCK(st.st_mode));
    CHECK((st.st_mode & 07777) == 0660);
    CHECK(st.st_gid == static_cast<gid_t>(kGroup));
  }

  WrappedDek dek = wrapWithPublicKey(agent, "k1");
  const std::string unwrap_body = R"({"alg":"RSA-OAEP-256","value":")" + dek.wrapped_b64 + "\"}";

  // Allowed: uid 4001 lists only k1 and unwraps on k1.
  CurlResponse list = callAs(kAllowedUid, agent.client(), "GET", "/keys");
  REQUIRE(list.status == 200);
  StatusOr<json::ObjectPtr> listed = json::parseObject(list.body);
  REQUIRE(listed.ok());
  auto keys = (*listed)->getArray("value");
  REQUIRE(keys->size() == 1);
  CHECK(keys->getObject(0)->getValue<std::string>("name") == "k1");
  CurlResponse ok = callAs(kAllowedUid, agent.client(), "POST", "/keys/k1/unwrapkey", unwrap_body);
  INFO(ok.status);
  REQUIRE(ok.status == 200);
  StatusOr<json::ObjectPtr> ok_body = json::parseObject(ok.body);
  REQUIRE(ok_body.ok());
  StatusOr<Bytes> value = encoding::base64UrlDecode((*ok_body)->getValue<std::string>("value"));
  REQUIRE(value.ok());
  CHECK(*value == dek.dek);
  expectAudit(agent, kAllowedUid, 200, "", "unwrapkey", "k1");

  // A uid without a rule.
  expectError(callAs(kDeniedUid, agent.client(), "POST", "/keys/k1/unwrapkey", unwrap_body), 403,
              "Forbidden", "uid " + std::to_string(kDeniedUid) + " gid " + std::to_string(kGroup));
  expectAudit(agent, kDeniedUid, 403, "Forbidden", "unwrapkey", "k1");

  // Missing X-SKR-Request (an allowed uid).
  expectError(callAs(kAllowedUid, agent.client(), "POST", "/keys/k1/unwrapkey", unwrap_body, {}),
              401, "MissingRequestHeader", "X-SKR-Request: 1");
  expectAudit(agent, kAllowedUid, 401, "MissingRequestHeader", "unwrapkey", "k1");

  // Bearer tokens: missing, wrong, right.
  CurlResponse no_token =
      callAs(kTokenUid, agent.client(), "POST", "/keys/k2/unwrapkey", unwrap_body);
  expectError(no_token, 401, "Unauthorized", "a bearer token is required");
  CHECK(no_token.headers["www-authenticate"].rfind("Bearer", 0) == 0);
  CurlResponse wrong_token = callAs(kTokenUid, agent.client(), "GET", "/keys/k2", {},
                                    {"X-SKR-Request: 1", "Authorization: Bearer not-the-token"});
  expectError(wrong_token, 401, "Unauthorized", "the bearer token is not valid");
  CHECK(wrong_token.headers["www-authenticate"].rfind("Bearer", 0) == 0);
  CurlResponse right_token = callAs(kTokenUid, agent.client(), "GET", "/keys/k2", {},
                                    {"X-SKR-Request: 1", "Authorization: Bearer " + token});
  CHECK(right_token.status == 200);
  expectAudit(agent, kTokenUid, 401, "Unauthorized", "unwrapkey", "k2");
  expectAudit(agent, kTokenUid, 401, "Unauthorized", "getkey", "k2");
  expectAudit(agent, kTokenUid, 200, "", "getkey", "k2");

  // An operation outside the rule (wrap on k1) and a key outside it (unwrap on k2).
  expectError(callAs(kAllowedUid, agent.client(), "POST", "/keys/k1/wrapkey",
                     R"({"alg":"RSA-OAEP-256","value":"AAAAAAAAAAAAAAAAAAAAAA"})"),
              403, "Forbidden", "is not granted operation 'wrap' on key 'k1'");
  expectAudit(agent, kAllowedUid, 403, "Forbidden", "wrapkey", "k1");
  expectError(callAs(kAllowedUid, agent.client(), "POST", "/keys/k2/unwrapkey", unwrap_body), 403,
              "Forbidden", "is not granted operation 'unwrap' on key 'k2'");
  expectAudit(agent, kAllowedUid, 403, "Forbidden", "unwrapkey", "k2");

  // Operations the rule does not list: events and rewrap.
  expectError(callAs(kAllowedUid, agent.client(), "GET", "/events?after=0&timeout=0"), 403,
              "Forbidden", "is not granted operation 'events'");
  expectAudit(agent, kAllowedUid, 403, "Forbidden", "events", "");
  expectError(callAs(kAllowedUid, agent.client(), "POST", "/keys/k1/rewrap",
                     R"({"kid":")" + dek.kid + R"(","alg":"RSA-OAEP-256","value":")" +
                         dek.wrapped_b64 + "\"}"),
              403, "Forbidden", "is not granted operation 'rewrap' on key 'k1'");
  expectAudit(agent, kAllowedUid, 403, "Forbidden", "rewrap", "k1");

  // A rule by gid: the caller's primary gid grants the listing, not an unwrap.
  CurlResponse by_group =
      callAs(kGroupUid, agent.client(), "GET", "/keys", {}, {"X-SKR-Request: 1"}, kRuleGid);
  INFO(by_group.body);
  CHECK(by_group.status == 200);
  CHECK(by_group.body.find("\"k1\"") != std::string::npos);
  CHECK(by_group.body.find("\"k2\"") != std::string::npos);
  expectError(callAs(kGroupUid, agent.client(), "POST", "/keys/k1/unwrapkey", unwrap_body,
                     {"X-SKR-Request: 1"}, kRuleGid),
              403, "Forbidden", "(rules: by-group) is not granted operation 'unwrap'");
  for (const json::ObjectPtr& line : auditLines(agent, kGroupUid)) {
    CHECK(line->optValue<int64_t>("caller_gid", -1) == kRuleGid);
    CHECK(line->optValue<std::string>("rule", "") == "by-group");
  }

  // The admin socket: a client uid is refused there.
  expectError(callAs(kAllowedUid, agent.admin(), "GET", "/status"), 403, "Forbidden", "");
  expectAudit(agent, kAllowedUid, 403, "Forbidden", "status", "");

  // The refusals are counted, and no token or DEK reached the log.
  const std::string metrics = udsRequest(agent.admin(), "GET", "/metrics").body;
  CHECK(metrics.find("skr_auth_failures_total{reason=\"no_matching_rule\"} 1") !=
        std::string::npos);
  CHECK(metrics.find("skr_auth_failures_total{reason=\"missing_header\"} 1") != std::string::npos);
  CHECK(metrics.find("skr_auth_failures_total{reason=\"bad_token\"} 1") != std::string::npos);
  CHECK(metrics.find("skr_auth_failures_total{reason=\"missing_token\"} 1") != std::string::npos);
  const std::string log = agent.stderrText();
  CHECK(log.find(token) == std::string::npos);
  CHECK(log.find("not-the-token") == std::string::npos);
  CHECK(log.find(dek.wrapped_b64) == std::string::npos);
  CHECK(log.find((*ok_body)->getValue<std::string>("value")) == std::string::npos);
  CHECK(agent.terminate() == 0);
}

// skr-agent with both sockets at `dir`/c.sock and `dir`/a.sock and no clients; runs to its exit
// (bounded), for the start-up refusals.
ProcessResult runAgentWithSocketsIn(InitWorld& world, const std::string& dir) {
  ProcessOptions options;
  options.env["SKR_CONFIG_YAML"] =
      world.configYaml({{"s-kek", "vault"}}, world.managedIdentityYaml()) +
      "agent:\n  client_socket: " + dir + "/c.sock\n  admin_socket: " + dir + "/a.sock\n";
  options.timeout = std::chrono::seconds(30);
  return runProcess(SKR_AGENT_PATH, {}, options);
}

// A socket file bound at `path`; listening when `listen`, else closed at once (stale).
int bindSocket(const std::string& path, bool listen) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  REQUIRE(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0);
  if (listen) {
    REQUIRE(::listen(fd, 4) == 0);
    return fd;
  }
  ::close(fd);
  return -1;
}

TEST_CASE(
    "skr-agent refuses a socket directory writable by others, a non-socket file and a live "
    "socket at its path, and replaces a stale socket of its own",
    "[agent][callers][sockets]") {
  InitWorld world;
  world.createKey("vault", "s-kek", R"("kty":"RSA-HSM","key_size":2048)");
  const std::string dir = makeTempDir("skr-s");
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ignored;
      std::filesystem::remove_all(dir, ignored);
    }
  } cleanup{dir};

  REQUIRE(::chmod(dir.c_str(), 0777) == 0);
  ProcessResult writable = runAgentWithSocketsIn(world, dir);
  CHECK(writable.exit_code == 10);
  CHECK(writable.err.find("writable by group or others without the sticky bit") !=
        std::string::npos);
  CHECK(!std::filesystem::exists(dir + "/c.sock"));
  REQUIRE(::chmod(dir.c_str(), 0700) == 0);

  { std::ofstream(dir + "/c.sock") << "not a socket"; }
  ProcessResult file = runAgentWithSocketsIn(world, dir);
  CHECK(file.exit_code == 10);
  CHECK(file.err.find("exists and is not a socket; refusing to remove it") != std::string::npos);
  CHECK(readFileText(dir + "/c.sock") == "not a socket");
  std::filesystem::remove(dir + "/c.sock");

  const int live = bindSocket(dir + "/c.sock", true);
  ProcessResult busy = runAgentWithSocketsIn(world, dir);
  CHECK(busy.exit_code == 10);
  CHECK(busy.err.find("another process is listening on it") != std::string::npos);
  CHECK(std::filesystem::is_socket(dir + "/c.sock"));  // still the other listener's
  ::close(live);

  // Now c.sock is stale (nobody listens): the agent removes it and starts.
  bindSocket(dir + "/a.sock", false);
  REQUIRE(std::filesystem::is_socket(dir + "/c.sock"));
  const std::string err_path = dir + "/agent.err";
  const std::string yaml = world.configYaml({{"s-kek", "vault"}}, world.managedIdentityYaml()) +
                           "agent:\n  client_socket: " + dir + "/c.sock\n  admin_socket: " + dir +
                           "/a.sock\n  admin_uids: [" + std::to_string(::getuid()) + "]\n";
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (err >= 0) ::dup2(err, 2);
    ::setenv("SKR_CONFIG_YAML", yaml.c_str(), 1);
    const char* argv[] = {SKR_AGENT_PATH, nullptr};
    ::execve(SKR_AGENT_PATH, const_cast<char* const*>(argv), environ);
    ::_exit(127);
  }
  int last = 0;
  for (int i = 0; i < 200 && last != 200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    UdsResponse r = udsRequest(dir + "/a.sock", "GET", "/healthz", {}, {}, std::chrono::seconds(2));
    if (!r.transport_error) last = r.status;
  }
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  const std::string err = readFileText(err_path);
  keepTestOutput("skr-agent", err);
  INFO(err);
  CHECK(last == 200);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

}  // namespace
}  // namespace skr::testing
