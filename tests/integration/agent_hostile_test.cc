// skr-agent, the real binary, under the hostile callers of issue 14. Each attack runs
// tests/bench/hostile_client.cc as another uid (setpriv, socket group kGroup) for a few seconds
// against a real agent while this process (an allowed uid and the admin) keeps asking
// GET /keys on the client socket and GET /status on the admin socket, and a sampler reads the
// agent's VmRSS every 20 ms:
//   - body flood by a uid no rule names (and by an allowed app): refused before any body byte,
//     or past the global body budget 503 ServerBusy; RSS stays under idle + 24 MiB;
//   - slowloris by a uid no rule names and by an allowed uid: the unknown-peer budget, the
//     per-uid limit and the header deadline keep the good client and the admin socket answering;
//   - JSON amplification by an allowed app: 400 before a tree is built; RSS back near idle after;
//   - 100-item RSA batches on 8 connections by one app: another caller's GET /keys stays fast
//     (cheap-request lane, per-uid round robin);
//   - A256KW unwraps (quick requests, answered on the event loop while the agent is not
//     saturated) on 64 connections by one app: another caller's unwrap, GET /keys and the admin
//     socket stay fast (quick_per_uid, then the per-uid worker queues);
//   - odd bytes in the path: 400, and every log line stays valid JSON.
// Every attack prints its numbers (RSS idle / peak / after, good-client and admin latency).
// The hidden case "[.hostile-bench]" runs the same attacks against the binary named by
// $SKR_BENCH_AGENT (default: this build's) and only prints: scripts/bench hostile uses it to
// compare before and after. Runs as root (setpriv needs it).
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <future>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/encoding/base64.h"
#include "common/json/json.h"
#include "tests/integration/agent_process.h"
#include "tests/integration/init_world.h"
#include "tests/integration/process.h"
#include "tests/integration/uds_http_client.h"

namespace skr::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kGroup = 4242;        // socket_group; the attackers run with this gid
constexpr int kAppUid = 4101;       // rule "app": unwrap and keys on key "hk"
constexpr int kStrangerUid = 4102;  // no rule

// Under AddressSanitizer every freed block waits in ASan's quarantine and malloc_trim cannot hand
// it back, so the agent's RSS says nothing about its own memory bounds there: the RSS assertions
// run in the ordinary build (scripts/test), the behaviour assertions in both.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kRssIsMeaningful = false;
#else
constexpr bool kRssIsMeaningful = true;
#endif
// An ASan build answers a few times slower: the latency medians the flood test bounds get room.
#if defined(__SANITIZE_ADDRESS__)
constexpr double kLatencyScale = 4.0;
#else
constexpr double kLatencyScale = 1.0;
#endif
#define CHECK_RSS(expr)                \
  do {                                 \
    if (kRssIsMeaningful) CHECK(expr); \
  } while (false)

double mib(long kib) {
  return static_cast<double>(kib) / 1024.0;
}

// VmRSS of `pid` in KiB (0 when unreadable).
long rssKib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return 0;
}

struct Latencies {
  int ok = 0;
  int total = 0;
  std::vector<double> ms;
  double p50() const {
    if (ms.empty()) return 0;
    std::vector<double> sorted = ms;
    std::sort(sorted.begin(), sorted.end());
    return sorted[sorted.size() / 2];
  }
  double max() const { return ms.empty() ? 0 : *std::max_element(ms.begin(), ms.end()); }
};

struct AttackReport {
  std::string name;
  long idle_kib = 0;
  long peak_kib = 0;
  long after_kib = 0;    // lowest RSS seen within 5 s after the attack
  Latencies good;        // GET /keys, client socket
  Latencies admin;       // GET /status, admin socket
  Latencies unwrap;      // POST /keys/ok/unwrapkey (A256KW), client socket; when probed
  std::string attacker;  // skr_hostile_client's summary line
  json::ObjectPtr statuses;

  long statusCount(int status) const {
    if (statuses.isNull() || !statuses->has(std::to_string(status))) return 0;
    return statuses->getValue<long>(std::to_string(status));
  }
  void print() const {
    char line[512];
    std::snprintf(line, sizeof line,
                  "hostile %-22s RSS idle %.1f MiB peak %.1f MiB after %.1f MiB | good GET /keys "
                  "%d/%d ok p50 %.1f ms max %.1f ms | admin GET /status %d/%d ok max %.1f ms",
                  name.c_str(), mib(idle_kib), mib(peak_kib), mib(after_kib), good.ok, good.total,
                  good.p50(), good.max(), admin.ok, admin.total, admin.max());
    std::cout << line;
    if (unwrap.total > 0) {
      std::snprintf(line, sizeof line, " | good A256KW unwrap %d/%d ok p50 %.1f ms max %.1f ms",
                    unwrap.ok, unwrap.total, unwrap.p50(), unwrap.max());
      std::cout << line;
    }
    std::cout << "\n  attacker: " << attacker << std::flush;
  }
};

// One timed request; counts 200s.
void probe(Latencies& into, const std::string& socket, const std::string& path,
           const std::string& post_body = {}) {
  const auto start = Clock::now();
  UdsResponse r = udsRequest(socket, post_body.empty() ? "GET" : "POST", path, post_body, {}, 5s);
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  ++into.total;
  into.ms.push_back(ms);
  if (!r.transport_error && r.status == 200) ++into.ok;
}

// Runs skr_hostile_client MODE as `uid` against `socket` while probing the agent (and, with
// `unwrap_probe`, POSTing it to /keys/ok/unwrapkey as the good client); then waits up to 5 s for
// RSS to come back down.
AttackReport runAttack(AgentProcess& agent, const std::string& name, int uid,
                       const std::string& mode, const std::string& socket, int connections,
                       double seconds, const std::string& path, const std::string& body_file = {},
                       const std::string& unwrap_probe = {}) {
  AttackReport report;
  report.name = name;
  std::this_thread::sleep_for(300ms);
  report.idle_kib = rssKib(agent.pid());
  std::atomic<bool> done{false};
  std::atomic<long> peak{report.idle_kib};
  std::thread sampler([&] {
    while (!done.load()) {
      peak.store(std::max(peak.load(), rssKib(agent.pid())));
      std::this_thread::sleep_for(20ms);
    }
  });
  std::vector<std::string> args = {"--reuid=" + std::to_string(uid),
                                   "--regid=" + std::to_string(kGroup),
                                   "--clear-groups",
                                   SKR_HOSTILE_CLIENT_PATH,
                                   mode,
                                   socket,
                                   std::to_string(connections),
                                   std::to_string(seconds),
                                   path};
  if (!body_file.empty()) args.push_back(body_file);
  std::future<ProcessResult> attacker = std::async(std::launch::async, [args] {
    ProcessOptions options;
    options.timeout = std::chrono::seconds(120);
    return runProcess("/usr/bin/setpriv", args, options);
  });
  std::this_thread::sleep_for(500ms);  // let the attack take hold first
  const auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(seconds - 1.0));
  while (Clock::now() < until) {
    probe(report.good, agent.client(), "/keys");
    probe(report.admin, agent.admin(), "/status");
    if (!unwrap_probe.empty())
      probe(report.unwrap, agent.client(), "/keys/ok/unwrapkey", unwrap_probe);
    std::this_thread::sleep_for(100ms);
  }
  ProcessResult result = attacker.get();
  INFO("attacker exit " << result.exit_code << ": " << result.err);
  REQUIRE(result.exit_code == 0);
  report.attacker = result.out;
  StatusOr<json::ObjectPtr> summary = json::parseObject(result.out);
  REQUIRE(summary.ok());
  report.statuses = (*summary)->getObject("statuses");
  report.after_kib = rssKib(agent.pid());
  for (auto deadline = Clock::now() + 5s; Clock::now() < deadline;) {
    std::this_thread::sleep_for(100ms);
    report.after_kib = std::min(report.after_kib, rssKib(agent.pid()));
    if (report.after_kib < report.idle_kib + 4 * 1024) break;
  }
  done.store(true);
  sampler.join();
  report.peak_kib = peak.load();
  report.print();
  return report;
}

// The app's rule names key "ok" too when the agent has it (a rule may only name configured keys).
std::string agentYaml(bool with_oct_key) {
  const std::string me = std::to_string(::getuid());
  return "  socket_mode: 0660\n  socket_group: " + std::to_string(kGroup) +
         "\n  clients:\n"
         "    - name: app\n      uids: [" +
         std::to_string(kAppUid) + "]\n      operations: [unwrap, keys]\n      keys: [hk" +
         (with_oct_key ? ", ok" : "") +
         "]\n"
         "    - name: tests\n      uids: [" +
         me + "]\n      operations: ['*']\n      keys: ['*']\n  admin_uids: [" + me + "]\n";
}

// A 100-item unwrapkey batch of one RSA-wrapped DEK, in a file the attacker can read.
std::string batchFile(AgentProcess& agent, const WrappedDek& dek) {
  std::string body = R"({"requests":[)";
  for (int i = 0; i < 100; ++i) {
    if (i > 0) body += ",";
    body += R"({"alg":"RSA-OAEP-256","value":")" + dek.wrapped_b64 + "\"}";
  }
  body += "]}";
  const std::string path = agent.dir() + "/batch.json";
  std::ofstream(path) << body;
  REQUIRE(::chmod(path.c_str(), 0644) == 0);
  return path;
}

struct HostileAgent {
  InitWorld world;
  std::unique_ptr<AgentProcess> agent;
  WrappedDek dek;

  // `with_oct_key`: also key "ok", a 256-bit oct-HSM key from the Managed HSM (A256KW).
  explicit HostileAgent(const std::string& agent_path = {}, bool with_oct_key = false) {
    world.createKey("vault", "hk", R"("kty":"RSA-HSM","key_size":2048)");
    std::vector<InitKey> keys = {{"hk", "vault"}};
    if (with_oct_key) {
      world.createKey("mhsm", "ok", R"("kty":"oct-HSM","key_size":256)");
      keys.emplace_back("ok", "mhsm");
    }
    AgentOptions options;
    options.default_clients = false;
    options.extra_agent_yaml = agentYaml(with_oct_key);
    options.agent_path = agent_path;
    agent = std::make_unique<AgentProcess>(
        world, world.configYaml(keys, world.managedIdentityYaml()), options);
    // The attackers must traverse the private socket directory (not writable by them).
    REQUIRE(::chmod(agent->dir().c_str(), 0711) == 0);
    agent->waitReady();
    dek = wrapWithPublicKey(*agent, "hk");
  }
};

// An A256KW unwrapkey body for key "ok": a DEK wrapped through the agent (as this process's uid).
std::string a256kwUnwrapBody(AgentProcess& agent) {
  const std::string dek = encoding::base64UrlEncode(Bytes(32, 0x5a));
  UdsResponse wrapped = udsRequest(agent.client(), "POST", "/keys/ok/wrapkey",
                                   R"({"alg":"A256KW","value":")" + dek + "\"}");
  REQUIRE(wrapped.status == 200);
  return R"({"alg":"A256KW","value":")" + parsed(wrapped)->getValue<std::string>("value") + "\"}";
}

// The same body in a file the attacker can read.
std::string bodyFile(AgentProcess& agent, const std::string& body) {
  const std::string path = agent.dir() + "/unwrap.json";
  std::ofstream(path) << body;
  REQUIRE(::chmod(path.c_str(), 0644) == 0);
  return path;
}

// Every non-empty line of the agent's stderr is a JSON object (valid UTF-8 included).
void expectValidJsonLog(const AgentProcess& agent) {
  std::istringstream in(agent.stderrText());
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    ++lines;
    INFO("log line " << lines << " (" << line.size() << " bytes)");
    CHECK(json::parseObject(line).ok());
  }
  CHECK(lines > 0);
}

TEST_CASE(
    "a body flood from a uid no rule names is refused before any body byte and a good client and "
    "the admin socket keep answering",
    "[agent][hostile][body]") {
  REQUIRE(::geteuid() == 0);
  HostileAgent h;
  AgentProcess& agent = *h.agent;
  AttackReport r = runAttack(agent, "body-flood/no-rule", kStrangerUid, "body-flood",
                             agent.client(), 128, 4.0, "/keys/hk/unwrapkey");
  // Refused callers cost no body memory: 128 x 1 MiB sent, RSS stays within 24 MiB of idle.
  CHECK_RSS(r.peak_kib < r.idle_kib + 24 * 1024);
  CHECK(r.statusCount(403) > 0);
  CHECK(r.statusCount(200) == 0);
  CHECK(r.good.ok == r.good.total);
  CHECK(r.good.max() < 1000);
  CHECK(r.admin.ok == r.admin.total);
  CHECK(r.admin.max() < 1000);
  // The refusals are audited like any other 403.
  int audited = 0;
  for (const json::ObjectPtr& line : jsonLines(agent.stderrText())) {
    if (line->optValue<std::string>("event", "") == "request" &&
        line->optValue<int64_t>("caller_uid", -1) == kStrangerUid &&
        line->optValue<int64_t>("status", 0) == 403 &&
        line->optValue<std::string>("op", "") == "unwrapkey") {
      ++audited;
    }
  }
  CHECK(audited > 0);

  // The same flood from an allowed app: bodies are admitted up to the global budget
  // (4 x max_body_bytes), the rest is 503 ServerBusy; memory stays bounded all the same.
  AttackReport a = runAttack(agent, "body-flood/allowed", kAppUid, "body-flood", agent.client(), 64,
                             4.0, "/keys/hk/unwrapkey");
  CHECK_RSS(a.peak_kib < a.idle_kib + 24 * 1024);
  CHECK(a.statusCount(503) > 0);
  CHECK(a.good.ok == a.good.total);
  CHECK(a.good.max() < 1000);
  CHECK(a.admin.ok == a.admin.total);
  CHECK_RSS(a.after_kib < a.idle_kib + 8 * 1024);
  expectUnwraps(agent, "/keys/hk", h.dek);
  CHECK(agent.terminate() == 0);
}

TEST_CASE(
    "slowloris from a uid no rule names and from an allowed uid starves neither a good client "
    "nor the admin socket",
    "[agent][hostile][slowloris]") {
  REQUIRE(::geteuid() == 0);
  HostileAgent h;
  AgentProcess& agent = *h.agent;
  for (const auto& [name, uid] : std::vector<std::pair<std::string, int>>{
           {"slowloris/no-rule", kStrangerUid}, {"slowloris/allowed", kAppUid}}) {
    // 300 connections: more than max_connections (256) on the client socket, plus 40 on the
    // admin socket (more than its own budget of 16).
    AttackReport r = runAttack(agent, name, uid, "slowloris", agent.client(), 300, 5.0, "/healthz");
    CHECK(r.good.ok == r.good.total);
    CHECK(r.good.max() < 1000);
    CHECK(r.admin.ok == r.admin.total);
    CHECK(r.admin.max() < 1000);
    CHECK_RSS(r.peak_kib < r.idle_kib + 24 * 1024);
    // The header deadline (2 s) and the budgets closed the attacker's connections over and over.
    CHECK(r.statusCount(408) + r.statusCount(503) > 0);
  }
  AttackReport admin = runAttack(agent, "slowloris/admin-socket", kStrangerUid, "slowloris",
                                 agent.admin(), 40, 4.0, "/healthz");
  CHECK(admin.admin.ok == admin.admin.total);
  CHECK(admin.admin.max() < 1000);
  CHECK(agent.terminate() == 0);
}

TEST_CASE(
    "a JSON body of 350,000 empty objects from an allowed app is a 400 before a tree is built "
    "and the agent's RSS falls back near idle",
    "[agent][hostile][json]") {
  REQUIRE(::geteuid() == 0);
  HostileAgent h;
  AgentProcess& agent = *h.agent;
  AttackReport r = runAttack(agent, "json-bomb/allowed", kAppUid, "json-bomb", agent.client(), 4,
                             4.0, "/keys/hk/unwrapkey");
  CHECK(r.statusCount(400) > 0);
  CHECK(r.statusCount(200) == 0);
  CHECK_RSS(r.peak_kib < r.idle_kib + 24 * 1024);
  CHECK_RSS(r.after_kib < r.idle_kib + 8 * 1024);
  CHECK(r.good.ok == r.good.total);
  CHECK(r.good.max() < 1000);
  // The message says why.
  const std::string bomb = [] {
    std::string b = R"({"alg":"RSA-OAEP-256","value":"AA","x":[{})";
    for (int i = 0; i < 5000; ++i) b += ",{}";
    return b + "]}";
  }();
  UdsResponse refused = udsRequest(agent.client(), "POST", "/keys/hk/unwrapkey", bomb);
  INFO(refused.body);
  CHECK(refused.status == 400);
  CHECK(refused.body.find("values") != std::string::npos);
  expectUnwraps(agent, "/keys/hk", h.dek);
  CHECK(agent.terminate() == 0);
}

TEST_CASE(
    "100-item RSA batches from one app on 8 connections do not stall another caller's GET /keys",
    "[agent][hostile][fairness]") {
  REQUIRE(::geteuid() == 0);
  HostileAgent h;
  AgentProcess& agent = *h.agent;
  const std::string batch = batchFile(agent, h.dek);
  AttackReport r = runAttack(agent, "rsa-batches/allowed", kAppUid, "replay", agent.client(), 8,
                             6.0, "/keys/hk/unwrapkey/batch", batch);
  CHECK(r.statusCount(200) > 0);
  CHECK(r.good.ok == r.good.total);
  // Before the cheap-request lane the median was hundreds of milliseconds (issue 14: 570 ms).
  CHECK(r.good.p50() < 100);
  CHECK(r.admin.ok == r.admin.total);
  CHECK(agent.terminate() == 0);
}

TEST_CASE(
    "A256KW unwraps (quick requests) from one app on 64 connections do not stall another "
    "caller's unwrap, GET /keys or the admin socket",
    "[agent][hostile][fairness]") {
  REQUIRE(::geteuid() == 0);
  HostileAgent h({}, /*with_oct_key=*/true);
  AgentProcess& agent = *h.agent;
  const std::string body = a256kwUnwrapBody(agent);
  AttackReport r = runAttack(agent, "aes-unwraps/allowed", kAppUid, "replay", agent.client(), 64,
                             6.0, "/keys/ok/unwrapkey", bodyFile(agent, body), body);
  // The attacker is served (its unwraps are quick), and so is everyone else, every time.
  CHECK(r.statusCount(200) > 1000);
  CHECK(r.good.ok == r.good.total);
  CHECK(r.unwrap.ok == r.unwrap.total);
  CHECK(r.admin.ok == r.admin.total);
  // quick_per_uid and the backlog rule bound the loop's share of the flood.
  CHECK(r.good.p50() < 100 * kLatencyScale);
  CHECK(r.unwrap.p50() < 100 * kLatencyScale);
  CHECK(r.good.max() < 1000);
  CHECK(r.unwrap.max() < 1000);
  CHECK(agent.terminate() == 0);
}

TEST_CASE(
    "odd bytes in a path answer 400 consistently and every log line stays valid JSON, from any "
    "caller",
    "[agent][hostile][logs]") {
  REQUIRE(::geteuid() == 0);
  HostileAgent h;
  AgentProcess& agent = *h.agent;
  // Invalid UTF-8, a lone continuation byte, an overlong '/', a right-to-left override.
  for (const char* path :
       {"/keys/%ff", "/keys/%80abc", "/keys/%c0%af", "/keys/a%e2%80%aeb/unwrapkey"}) {
    UdsResponse r = udsRequest(agent.client(), "GET", path);
    INFO(path << " -> " << r.status << " " << r.body);
    CHECK(r.status == 400);
    CHECK(json::parseObject(r.body).ok());
  }
  // Valid UTF-8 that names no key: the usual 404.
  UdsResponse unknown = udsRequest(agent.client(), "GET", "/keys/caf%c3%a9");
  CHECK(unknown.status == 404);
  CHECK(json::parseObject(unknown.body).ok());
  // Refused before routing: the audit line has an empty key, never the raw bytes.
  int refused = 0;
  for (const json::ObjectPtr& line : jsonLines(agent.stderrText())) {
    if (line->optValue<std::string>("event", "") == "request" &&
        line->optValue<int64_t>("status", 0) == 400) {
      ++refused;
      CHECK(line->optValue<std::string>("key", "?") == "");
    }
  }
  CHECK(refused == 4);
  expectValidJsonLog(agent);
  CHECK(agent.terminate() == 0);
}

// The agent's log lines with this event.
std::vector<json::ObjectPtr> events(const AgentProcess& agent, const std::string& event) {
  std::vector<json::ObjectPtr> out;
  for (const json::ObjectPtr& line : jsonLines(agent.stderrText())) {
    if (line->optValue<std::string>("event", "") == event) out.push_back(line);
  }
  return out;
}

TEST_CASE(
    "reload logs bundle_rejected for a FIFO, directory or symlink in a bundle's place, and refuses "
    "a state dir made world-writable or removed and created again while verified keys keep "
    "serving",
    "[agent][hostile][reload]") {
  REQUIRE(::geteuid() == 0);
  HostileAgent h;
  AgentProcess& agent = *h.agent;
  const std::string state = h.world.stateDir();
  const std::string key_dir = state + "/hk";
  REQUIRE(::mkfifo((key_dir + "/fifo1.json").c_str(), 0600) == 0);
  REQUIRE(::mkdir((key_dir + "/dir1.json").c_str(), 0700) == 0);
  REQUIRE(::symlink((key_dir + "/current").c_str(), (key_dir + "/link1.json").c_str()) == 0);
  UdsResponse reloaded = udsRequest(agent.admin(), "POST", "/reload", "{}");
  INFO(reloaded.body);
  REQUIRE(reloaded.status == 200);
  std::vector<std::string> rejected;
  for (const json::ObjectPtr& line : events(agent, "bundle_rejected")) {
    rejected.push_back(line->optValue<std::string>("file", ""));
  }
  std::sort(rejected.begin(), rejected.end());
  CHECK(rejected == std::vector<std::string>{"hk/dir1.json", "hk/fifo1.json", "hk/link1.json"});
  expectUnwraps(agent, "/keys/hk", h.dek);

  // World-writable: refused, logged, still serving.
  REQUIRE(::chmod(state.c_str(), 0777) == 0);
  UdsResponse writable = udsRequest(agent.admin(), "POST", "/reload", "{}");
  INFO(writable.body);
  CHECK(writable.status == 403);
  REQUIRE(events(agent, "reload_refused").size() == 1);
  CHECK(events(agent, "reload_refused")[0]->optValue<std::string>("message", "").find("writable") !=
        std::string::npos);
  expectUnwraps(agent, "/keys/hk", h.dek);
  REQUIRE(::chmod(state.c_str(), 0700) == 0);
  CHECK(udsRequest(agent.admin(), "POST", "/reload", "{}").status == 200);

  // Removed and created again (here: moved away, an empty one in its place).
  REQUIRE(::rename(state.c_str(), (state + ".old").c_str()) == 0);
  REQUIRE(::mkdir(state.c_str(), 0700) == 0);
  UdsResponse replaced = udsRequest(agent.admin(), "POST", "/reload", "{}");
  INFO(replaced.body);
  CHECK(replaced.status == 503);
  CHECK(replaced.body.find("removed and created again") != std::string::npos);
  CHECK(events(agent, "reload_refused").size() == 2);
  expectUnwraps(agent, "/keys/hk", h.dek);
  json::ObjectPtr status = parsed(udsRequest(agent.admin(), "GET", "/status"));
  CHECK(status->getValue<bool>("ready"));
  REQUIRE(::rmdir(state.c_str()) == 0);
  REQUIRE(::rename((state + ".old").c_str(), state.c_str()) == 0);
  CHECK(agent.terminate() == 0);
}

TEST_CASE("hostile-caller attacks against $SKR_BENCH_AGENT, printed for before/after comparison",
          "[.hostile-bench]") {
  REQUIRE(::geteuid() == 0);
  const char* binary = std::getenv("SKR_BENCH_AGENT");
  const std::string agent_path = binary != nullptr ? binary : "";
  std::cout << "agent binary: " << (agent_path.empty() ? SKR_AGENT_PATH : agent_path) << "\n";
  {
    HostileAgent h(agent_path);
    runAttack(*h.agent, "body-flood/no-rule", kStrangerUid, "body-flood", h.agent->client(), 128,
              4.0, "/keys/hk/unwrapkey");
  }
  {
    HostileAgent h(agent_path);
    runAttack(*h.agent, "slowloris/no-rule", kStrangerUid, "slowloris", h.agent->client(), 300, 5.0,
              "/healthz");
  }
  {
    HostileAgent h(agent_path);
    runAttack(*h.agent, "json-bomb/allowed", kAppUid, "json-bomb", h.agent->client(), 4, 4.0,
              "/keys/hk/unwrapkey");
  }
  {
    HostileAgent h(agent_path);
    const std::string batch = batchFile(*h.agent, h.dek);
    runAttack(*h.agent, "rsa-batches/allowed", kAppUid, "replay", h.agent->client(), 8, 6.0,
              "/keys/hk/unwrapkey/batch", batch);
  }
  {
    HostileAgent h(agent_path, /*with_oct_key=*/true);
    const std::string body = a256kwUnwrapBody(*h.agent);
    runAttack(*h.agent, "aes-unwraps/allowed", kAppUid, "replay", h.agent->client(), 64, 6.0,
              "/keys/ok/unwrapkey", bodyFile(*h.agent, body), body);
  }
}

}  // namespace
}  // namespace skr::testing
