// The fault matrix behind docs/reliability.md (issue 17): for each dependency x fault, injects
// the fault with skr-emulator's fault injection (or breaks the state directory / SNP device),
// runs the real skr-init and RECORDS what happened as one JSON line per row: exit code, the
// requests the emulator saw for that dependency, the wall time as a bucket and whether data was
// lost, which is checked (the earlier sealed bundle is unchanged and still opens, no partial
// file is left, a released key equals what the vault holds), never assumed. Every row also
// carries its expected outcome: a change in behaviour fails the test, and the doc check
// (tests/faults/check_reliability_doc.sh) fails when the committed document differs.
//
// Hidden ([.]) so that the ordinary suite does not run it twice; ctest runs it through the doc
// check. SKR_FAULT_MATRIX_OUT names the results file (JSON lines); unset: results are not kept.
// SKR_FAULT_MATRIX_ONLY=DEPENDENCY (e.g. "THIM") runs one dependency's rows.
#include <Poco/JSON/Object.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "common/json/json.h"
#include "tests/integration/agent_process.h"
#include "tests/integration/init_world.h"
#include "tests/integration/uds_http_client.h"

namespace skr::testing {
namespace {

// Per-run deadline of skr-init in every row (the rows that stall use kShortTimeout); retry:
// base 100ms, cap 2s, max_attempts 3, overall 15s (skr-init) or 3s (agent).
const char* const kRunTimeout = "20s";
const char* const kShortTimeout = "3s";

// Setups that are not a fault rule.
enum class Setup {
  Rule,          // only the fault rule
  Refused,       // the dependency's URL names a port nobody listens on
  UntrustedMaa,  // maa_endpoint names the emulator's second MAA instance, which vaults do not trust
  ExpiredToken,  // the emulator issues already-expired access tokens
  ExpiredMaa,    // the emulator's MAA issues already-expired tokens
  ExpiredSaToken,  // the federated service-account token has expired
  WrongSaKey,      // the federated service-account token is signed by an untrusted key
  HostData,        // the chip's HOST_DATA differs from the release policy's
  NoDevice,        // no /dev/sev-guest (LD_PRELOAD seam)
  DeviceFault,     // SNP firmware errors (LD_PRELOAD seam, SKR_FAKE_SEV_FAULT = rule)
  ReadOnlyState,   // the state directory is a read-only bind mount of itself (root sees EROFS)
  FullState,       // the state directory is a full tmpfs holding a copy of its contents
  Kill9,           // skr-init is SIGKILLed after writing the bundle's tmp file, before rename
};

struct Row {
  std::string dependency;
  std::string fault;
  Setup setup = Setup::Rule;
  std::string rule;     // fault rule JSON for /_emulator/faults (Setup::Rule and others)
  int expect_exit = 0;  // skr-init's exit code; -9: killed by SIGKILL
};

struct Dependency {
  std::string name;
  std::string listener;   // whose request log counts attempts
  std::string path;       // path prefix of the dependency's requests
  std::string key;        // the key released in this row
  bool workload = false;  // identity through Entra ID (federated token) instead of IMDS
};

const std::vector<Dependency>& dependencies() {
  static const std::vector<Dependency> deps = {
      {"IMDS", "imds", "/metadata/identity", "kek", false},
      {"Entra ID", "entra", "/", "kek", true},
      {"THIM", "imds", "/metadata/THIM", "kek", false},
      {"MAA", "maa", "/attest", "kek", false},
      {"Key Vault", "vault", "/keys/kek/release", "kek", false},
      {"Managed HSM", "mhsm", "/keys/hsmkek/release", "hsmkek", false},
      {"SNP device", "", "", "kek", false},
      {"state directory", "", "", "kek", false},
  };
  return deps;
}

const Dependency& dependency(const std::string& name) {
  for (const Dependency& d : dependencies()) {
    if (d.name == name) return d;
  }
  FAIL("unknown dependency " << name);
  throw std::logic_error("unreachable");
}

std::string wallBucket(std::chrono::steady_clock::duration took) {
  // Coarse on purpose: the matrix runs beside other tests and under sanitizers, and IMDS's own
  // retries end near the 15 s retry.overall; a row past 30 s hangs rather than retries.
  if (took < std::chrono::seconds(30)) return "< 30 s";
  return ">= 30 s";
}

// A port on 127.0.0.1 nobody listens on right now.
int closedPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
  socklen_t length = sizeof(a);
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &length) == 0);
  ::close(fd);
  return ntohs(a.sin_port);
}

// Runs a shell command of the test's own (mount/umount of the state directory); REQUIREs success.
void sh(const std::string& command) {
  INFO(command);
  REQUIRE(std::system(command.c_str()) == 0);
}

std::string rule(const std::string& listener, const std::string& path, const std::string& rest) {
  return R"({"listener":")" + listener + R"(","path":")" + path + R"(",)" + rest + "}";
}

// What skr-init exits with when a dependency keeps failing this way, per dependency (the
// network faults every HTTP dependency gets; DESIGN.md section 9 codes).
struct FinalExits {
  int unavailable = 8;   // refused, timeout, 429/503 always, truncated
  int malformed = 8;     // 200 with cut-off JSON
  int content_type = 0;  // the right body under text/html
  int transient = 0;     // 429 with Retry-After once, 500 once: retried, then fine
};

std::vector<Row> networkRows(const Dependency& d, const FinalExits& e) {
  auto r = [&](const std::string& rest) { return rule(d.listener, d.path, rest); };
  std::vector<Row> rows;
  rows.push_back({d.name, "connection refused", Setup::Refused, "", e.unavailable});
  rows.push_back({d.name, "timeout (answer held 6 s, past the 3 s deadline), always", Setup::Rule,
                  r(R"("action":"delay","delay_ms":6000,"count":100)"), 8});
  rows.push_back({d.name, "slow body (half, a 3 s stall, the rest), once", Setup::Rule,
                  r(R"("action":"slow_body","delay_ms":3000)"), 0});
  rows.push_back({d.name, "429 with Retry-After: 3, once", Setup::Rule,
                  r(R"("action":"status","status":429,"retry_after":3)"), e.transient});
  rows.push_back({d.name, "429 without Retry-After, always", Setup::Rule,
                  r(R"("action":"status","status":429,"count":100)"), e.unavailable});
  rows.push_back(
      {d.name, "500, once", Setup::Rule, r(R"("action":"status","status":500)"), e.transient});
  rows.push_back({d.name, "503, always", Setup::Rule,
                  r(R"("action":"status","status":503,"count":100)"), e.unavailable});
  rows.push_back({d.name, "malformed JSON (200), always", Setup::Rule,
                  r(R"("action":"status","status":200,"body":"{\"value\": \"eyJ","count":100)"),
                  e.malformed});
  rows.push_back({d.name, "truncated body, always", Setup::Rule,
                  r(R"("action":"truncate","count":100)"), e.unavailable});
  rows.push_back({d.name, "wrong content type (text/html), always", Setup::Rule,
                  r(R"("action":"content_type","count":100)"), e.content_type});
  return rows;
}

std::vector<Row> matrixRows() {
  std::vector<Row> rows;
  auto add = [&](std::vector<Row> more) {
    for (Row& row : more) rows.push_back(std::move(row));
  };
  for (const Dependency& d : dependencies()) {
    if (d.listener.empty()) continue;
    auto r = [&](const std::string& rest) { return rule(d.listener, d.path, rest); };
    const std::string wrong_key = r(R"("action":"wrong_key","count":100)");
    if (d.name == "IMDS" || d.name == "Entra ID") {
      add(networkRows(d, {8, 5, 0, 0}));
      rows.push_back({d.name, "bad signature (access token signed by an untrusted key)",
                      Setup::Rule, wrong_key, 6});
      // A token that expired before it arrived is refused as an identity error (5) on both
      // paths, before the vault sees it.
      rows.push_back({d.name, "expired access token", Setup::ExpiredToken, "", 5});
    }
    if (d.name == "Entra ID") {
      rows.push_back({d.name, "expired federated token", Setup::ExpiredSaToken, "", 5});
      rows.push_back(
          {d.name, "federated token signed by an untrusted key", Setup::WrongSaKey, "", 5});
    }
    // THIM is retried under the configured retry policy like the other dependencies: a transient
    // failure (429, 500 once) is not final.
    if (d.name == "THIM") add(networkRows(d, {8, 3, 0, 0}));
    if (d.name == "MAA") {
      add(networkRows(d, {8, 4, 0, 0}));
      rows.push_back(
          {d.name, "bad signature (token signed by an untrusted key)", Setup::Rule, wrong_key, 9});
      rows.push_back({d.name, "wrong issuer (an MAA instance the vault does not trust)",
                      Setup::UntrustedMaa, "", 6});
      rows.push_back({d.name, "expired token", Setup::ExpiredMaa, "", 9});
      rows.push_back({d.name, "attestation rejected (400)", Setup::Rule,
                      r(R"("action":"status","status":400,"count":100)"), 4});
    }
    if (d.name == "Key Vault" || d.name == "Managed HSM") {
      add(networkRows(d, {8, 9, 0, 0}));
      rows.push_back({d.name, "bad signature (release JWS signed by an untrusted key)", Setup::Rule,
                      wrong_key, 9});
      rows.push_back({d.name, "policy denial (HOST_DATA differs)", Setup::HostData, "", 6});
    }
  }
  // The first guest request is the sealing key derivation: firmware faults fail the seal step
  // (10); a busy firmware (the host throttling) is retried like a busy HTTP dependency.
  rows.push_back({"SNP device", "no /dev/sev-guest", Setup::NoDevice, "", 3});
  rows.push_back({"SNP device", "firmware busy, once", Setup::DeviceFault, "busy", 0});
  rows.push_back({"SNP device", "firmware error, always", Setup::DeviceFault, "fw_error:16", 10});
  rows.push_back({"state directory", "read-only (read-only mount)", Setup::ReadOnlyState, "", 10});
  rows.push_back({"state directory", "disk full (a full tmpfs)", Setup::FullState, "", 10});
  rows.push_back({"state directory", "kill -9 mid-write (tmp file written, before rename)",
                  Setup::Kill9, "", -9});
  return rows;
}

struct Matrix {
  InitWorld world;
  std::map<std::string, std::string> before;
  std::string workload_identity;
  std::string app_client_id;
  std::string token_file;
  // The agent for the rotation column: its own state directory, keys kek (Key Vault) and hsmkek
  // (Managed HSM), managed identity through IMDS, retry.overall 3s.
  std::unique_ptr<AgentProcess> agent;
  std::map<std::string, WrappedDek> first_deks;  // key -> a DEK under its first version

  Matrix() {
    EmulatorProcess& emu = world.emulator();
    world.createKey("vault", "kek", R"("kty":"RSA-HSM","key_size":2048)");
    world.createKey("mhsm", "hsmkek", R"("kty":"RSA-HSM","key_size":2048)");
    world.createKey("vault", "earlier", R"("kty":"RSA-HSM","key_size":2048)");
    json::ObjectPtr app = emu.admin(
        "POST", "/_emulator/identities",
        R"({"kind":"app","name":"skr-wi","federated_credentials":[{"subject":"system:serviceaccount:apps:skr"}]})");
    assignRole(emu, app->getValue<std::string>("object_id"),
               "Key Vault Crypto Service Release User", "vault");
    app_client_id = app->getValue<std::string>("client_id");
    token_file = world.dir() + "/sa-token";
    writeSaToken(R"({"namespace":"apps","service_account":"skr"})");
    workload_identity = "  kind: workload\n  client_id: " + app_client_id +
                        "\n  tenant_id: " + emu.env().at("SKR_EMULATOR_TENANT_ID") +
                        "\n  federated_token_file: " + token_file +
                        "\n  authority_host: " + emu.url("entra") + "\n";
    ProcessResult seeded =
        world.runInit(world.configYaml({{"earlier", "vault"}}, world.managedIdentityYaml()));
    REQUIRE(seeded.exit_code == 0);
    before = world.snapshotState();
    REQUIRE(before.count("earlier/current") == 1);
    startAgent();
    makePendingTemplate();
  }

  // Attest-and-defer once: skr-init with identity none writes pending bundles for kek and hsmkek
  // (each carries the MAA token it got) into a template directory the start-up column copies.
  std::string pendingTemplate() const { return world.dir() + "/pending-template"; }
  void makePendingTemplate() {
    std::string yaml = world.configYaml({{"kek", "vault"}, {"hsmkek", "mhsm"}}, "  kind: none\n");
    const std::string from = "state_dir: " + world.stateDir() + "\n";
    const std::size_t at = yaml.find(from);
    REQUIRE(at != std::string::npos);
    yaml.replace(at, from.size(), "state_dir: " + pendingTemplate() + "\n");
    ProcessResult deferred = world.runInit(yaml);
    REQUIRE(deferred.exit_code == 0);
    REQUIRE(std::filesystem::exists(pendingTemplate() + "/kek/pending.json"));
    REQUIRE(std::filesystem::exists(pendingTemplate() + "/hsmkek/pending.json"));
  }

  void startAgent() {
    std::string yaml =
        world.configYaml({{"kek", "vault"}, {"hsmkek", "mhsm"}}, world.managedIdentityYaml());
    auto replace = [&](const std::string& from, const std::string& to) {
      const std::size_t at = yaml.find(from);
      REQUIRE(at != std::string::npos);
      yaml.replace(at, from.size(), to);
    };
    replace("state_dir: " + world.stateDir() + "\n",
            "state_dir: " + world.dir() + "/agent-state\n");
    replace("retry:\n  base: 100ms\n  cap: 2s\n",
            "retry:\n  base: 100ms\n  cap: 2s\n  overall: 3s\n  max_attempts: 3\n");
    agent = std::make_unique<AgentProcess>(world, yaml);
    agent->waitReady();
    for (const char* key : {"kek", "hsmkek"})
      first_deks.emplace(key, wrapWithPublicKey(*agent, key));
  }

  // A new latest version of `key` in its vault, so that a rotation has something to do.
  void newVersionInVault(const std::string& listener, const std::string& key) {
    HttpCall call;
    call.method = "POST";
    call.url = world.emulator().url(listener) + "/keys/" + key + "/rotate?api-version=7.4";
    call.headers.push_back({"Authorization", "Bearer " + world.officerToken(listener)});
    HttpResult rotated = world.emulator().call(call);
    INFO(rotated.body);
    REQUIRE(rotated.status == 200);
  }

  // skr_releases_total and skr_dependency_retries_total samples of GET /metrics.
  std::map<std::string, double> counters() {
    std::map<std::string, double> out;
    const std::string text = udsRequest(agent->admin(), "GET", "/metrics").body;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("skr_releases_total{", 0) != 0 &&
          line.rfind("skr_dependency_retries_total{", 0) != 0) {
        continue;
      }
      const std::size_t space = line.rfind(' ');
      if (space == std::string::npos) continue;
      out[line.substr(0, space)] = std::stod(line.substr(space + 1));
    }
    return out;
  }

  json::ObjectPtr keyStatus(const std::string& key) {
    json::ObjectPtr status = parsed(udsRequest(agent->admin(), "GET", "/status"));
    for (const auto& entry : *status->getArray("keys")) {
      auto object = entry.extract<Poco::JSON::Object::Ptr>();
      if (object->getValue<std::string>("name") == key) return object;
    }
    FAIL("no key " << key << " in GET /status");
    return nullptr;
  }

  void writeSaToken(const std::string& request) {
    std::ofstream(token_file) << world.emulator()
                                     .admin("POST", "/_emulator/service-account-token", request)
                                     ->getValue<std::string>("token");
  }

  // Puts the emulator and the state directory back as they were before any row.
  void restore() {
    EmulatorProcess& emu = world.emulator();
    emu.admin("POST", "/_emulator/reset");
    emu.admin("PUT", "/_emulator/settings",
              R"({"token_lifetime_seconds":86400,"maa_token_lifetime_seconds":28800})");
    emu.admin("PUT", "/_emulator/chip", R"({"host_data":")" + kInitHostData + R"("})");
    writeSaToken(R"({"namespace":"apps","service_account":"skr"})");
    ::chmod(world.stateDir().c_str(), 0700);
    std::error_code ignored;
    for (const auto& entry : std::filesystem::directory_iterator(world.stateDir())) {
      const std::string name = entry.path().filename().string();
      bool known = false;
      for (const auto& [path, content] : before) {
        if (path == name || path.rfind(name + "/", 0) == 0) known = true;
      }
      if (!known) std::filesystem::remove_all(entry.path(), ignored);
    }
    REQUIRE(world.snapshotState() == before);
  }

  int attempts(const Dependency& d) {
    if (d.listener.empty()) return 0;
    int n = 0;
    json::ObjectPtr log =
        world.emulator().admin("GET", "/_emulator/requests?listener=" + d.listener);
    for (const auto& entry : *log->getArray("requests")) {
      auto object = entry.extract<Poco::JSON::Object::Ptr>();
      if (object->getValue<std::string>("path").rfind(d.path, 0) == 0) ++n;
    }
    return n;
  }

  std::string yamlFor(const Dependency& d, const Row& row) {
    EmulatorProcess& emu = world.emulator();
    const std::string listener = d.name == "Managed HSM" ? "mhsm" : "vault";
    std::string yaml = world.configYaml(
        {{d.key, listener}}, d.workload ? workload_identity : world.managedIdentityYaml());
    auto replace = [&](const std::string& from, const std::string& to) {
      const std::size_t at = yaml.find(from);
      REQUIRE(at != std::string::npos);
      yaml.replace(at, from.size(), to);
    };
    replace("retry:\n  base: 100ms\n  cap: 2s\n",
            "retry:\n  base: 100ms\n  cap: 2s\n  overall: 15s\n  max_attempts: 3\n");
    if (row.setup == Setup::Refused) {
      const std::string dead = "127.0.0.1:" + std::to_string(closedPort());
      std::string prefix;
      if (d.name == "IMDS") prefix = "imds_endpoint: ";
      if (d.name == "Entra ID") prefix = "authority_host: ";
      if (d.name == "THIM") prefix = "thim_url: ";
      if (d.name == "MAA") prefix = "maa_endpoint: ";
      if (d.name == "Key Vault") prefix = "vault: ";
      if (d.name == "Managed HSM") prefix = "mhsm: ";
      const std::string url = emu.url(d.listener);
      const std::string scheme = url.substr(0, url.find("://") + 3);
      replace(prefix + url, prefix + scheme + dead);
    }
    if (row.setup == Setup::UntrustedMaa) {
      replace("maa_endpoint: " + emu.url("maa"), "maa_endpoint: " + emu.url("maa2"));
    }
    if (row.setup == Setup::NoDevice || row.setup == Setup::DeviceFault) {
      replace("  kind: emulated\n  chip_dir: " + emu.env().at("SKR_EMULATOR_CHIP_DIR") + "\n",
              "  kind: sev-guest\n");
      replace("provider: emulated", "provider: snp-derived");
    }
    return yaml;
  }

  // Checks that no data was lost; "none", or what was lost.
  std::string dataLost(const std::string& key, bool succeeded, const std::string& listener,
                       Setup setup) {
    std::map<std::string, std::string> after = world.snapshotState();
    for (const auto& [path, content] : before) {
      if (after.count(path) == 0) return "lost " + path;
      if (after.at(path) != content) return "changed " + path;
    }
    // The earlier key still opens with this chip.
    const jose::Jwk earlier = world.openBundle("earlier");
    if (earlier.kid().empty()) return "earlier bundle does not open";
    for (const auto& [path, content] : after) {
      if (before.count(path) == 1) continue;
      if (path.rfind(key + "/", 0) != 0) return "unexpected file " + path;
      if (!succeeded && path != key + "/" && path.find("/.tmp-") == std::string::npos) {
        return "partial output " + path;
      }
    }
    if (succeeded && (setup == Setup::NoDevice || setup == Setup::DeviceFault)) {
      // Sealed with the snp-derived provider of the device seam: the bundle and its pointer.
      if (after.count(key + "/current") == 0) return "no current bundle for " + key;
    } else if (succeeded) {
      world.expectSameMaterial(listener, key);
    }
    return "none";
  }

  // Injects the row's fault into the emulator (rules, settings, chip, token file, state
  // directory); returns the environment skr-init needs for it.
  std::map<std::string, std::string> applyFault(const Row& row) {
    EmulatorProcess& emu = world.emulator();
    std::map<std::string, std::string> env;
    if (row.rule.rfind("{", 0) == 0) emu.admin("POST", "/_emulator/faults", row.rule);
    switch (row.setup) {
      case Setup::ExpiredToken:
        emu.admin("PUT", "/_emulator/settings", R"({"token_lifetime_seconds":-600})");
        break;
      case Setup::ExpiredMaa:
        emu.admin("PUT", "/_emulator/settings", R"({"maa_token_lifetime_seconds":-600})");
        break;
      case Setup::ExpiredSaToken:
        writeSaToken(R"({"namespace":"apps","service_account":"skr","lifetime_seconds":-600})");
        break;
      case Setup::WrongSaKey:
        writeSaToken(R"({"namespace":"apps","service_account":"skr","wrong_key":true})");
        break;
      case Setup::HostData:
        emu.admin(
            "PUT", "/_emulator/chip",
            R"({"host_data":"0000000000000000000000000000000000000000000000000000000000000001"})");
        break;
      case Setup::NoDevice:
      case Setup::DeviceFault:
        env = {{"LD_PRELOAD", SKR_SEV_PRELOAD_PATH},
               {"SKR_FAKE_SEV_CHIP_DIR", emu.env().at("SKR_EMULATOR_CHIP_DIR")},
               {"SKR_FAKE_SEV_DEVICES", row.setup == Setup::NoDevice ? "" : "sev-guest"},
               {"ASAN_OPTIONS", "verify_asan_link_order=0:detect_leaks=0"}};
        if (row.setup == Setup::DeviceFault) {
          env["SKR_FAKE_SEV_FAULT"] = row.rule;
          if (row.fault.find("once") != std::string::npos) env["SKR_FAKE_SEV_FAULT_COUNT"] = "1";
        }
        break;
      case Setup::ReadOnlyState: {
        const std::string dir = world.stateDir();
        sh("mount --bind '" + dir + "' '" + dir + "' && mount -o remount,bind,ro '" + dir + "'");
        break;
      }
      case Setup::FullState: {
        // A copy of the state in a 1 MiB tmpfs over it, then a filler file up to ENOSPC.
        const std::string dir = world.stateDir();
        const std::string copy = world.dir() + "/state-copy";
        sh("rm -rf '" + copy + "' && cp -a '" + dir + "' '" + copy + "' && mount -t tmpfs -o " +
           "size=1m,mode=0700 skr-full '" + dir + "' && cp -a '" + copy + "/.' '" + dir + "/'");
        std::system(("dd if=/dev/zero of='" + dir + "/.fill' bs=4k 2>/dev/null").c_str());
        break;
      }
      default: break;
    }
    return env;
  }

  // Whether the agent column applies: the agent's configuration is fixed (IMDS identity, the
  // emulator's URLs and trusted MAA, the emulated platform), so rows that change skr-init's
  // configuration or environment are not replayed against it.
  static bool agentApplies(const Dependency& d, const Row& row) {
    if (d.workload || d.listener.empty()) return false;
    return row.setup == Setup::Rule || row.setup == Setup::ExpiredToken ||
           row.setup == Setup::ExpiredMaa || row.setup == Setup::HostData;
  }

  // The rotation column: a new version waits in the vault, the fault is injected, the admin
  // asks the live agent to rotate; what it answered, what GET /status and GET /metrics show,
  // and whether the version it served before still unwraps (checked).
  void agentRotation(const Dependency& d, const Row& row, json::ObjectPtr& out) {
    if (!agentApplies(d, row)) {
      out->set("agent_rotate", "-");
      return;
    }
    const std::string listener = d.name == "Managed HSM" ? "mhsm" : "vault";
    const std::string& key = d.key;
    restore();
    newVersionInVault(listener, key);
    const std::string primary_before = keyStatus(key)->getValue<std::string>("primary");
    const std::map<std::string, double> before_counters = counters();
    emuResetLog();
    applyFault(row);
    UdsResponse r = udsRequest(agent->admin(), "POST", "/keys/" + key + "/rotate", "{}", {},
                               std::chrono::seconds(120));
    REQUIRE(!r.transport_error);
    std::string answer = std::to_string(r.status);
    if (r.status != 200) {
      StatusOr<json::ObjectPtr> body = json::parseObject(r.body);
      if (body.ok() && (*body)->has("error")) {
        answer += " " + (*body)->getObject("error")->optValue<std::string>("code", "");
      }
    }
    waitOutStall(row, d);
    const int seen = attempts(d);
    json::ObjectPtr status = keyStatus(key);
    const std::string primary_after = status->getValue<std::string>("primary");
    std::string metric;
    for (const auto& [name, value] : counters()) {
      const double was = before_counters.count(name) == 1 ? before_counters.at(name) : 0;
      if (value > was) {
        if (!metric.empty()) metric += ", ";
        metric += name + " +" + std::to_string(static_cast<long long>(value - was));
      }
    }
    restore();
    // The version served before every rotation still unwraps (old versions keep serving).
    expectUnwraps(*agent, "/keys/" + key + "/" + versionOf(first_deks.at(key).kid),
                  first_deks.at(key));
    out->set("agent_rotate", answer);
    out->set("agent_attempts", seen);
    out->set("agent_primary", primary_after == primary_before ? "kept" : "rotated");
    out->set("agent_last_error", status->getValue<std::string>("last_error").empty() ? "-" : "set");
    out->set("agent_metrics", metric.empty() ? "-" : metric);
    out->set("agent_old_version_unwraps", "yes");
  }

  // The start-up column: a fresh skr-agent starts on a copy of the pending bundle of `key`
  // (attest-and-defer) while the fault is injected, so that completing it meets the fault. Seen
  // within a window: ready or not, the requests the dependency got, whether it answers
  // /healthz, /status last_error, whether pending.json is still there; then the fault is lifted
  // and the agent must become ready by itself, holding exactly the vault's key (its public key
  // is the vault's, and a DEK wrapped under it unwraps through the agent).
  void agentStartup(const Dependency& d, const Row& row, json::ObjectPtr& out) {
    if (!agentApplies(d, row)) {
      out->set("agent_start", "-");
      return;
    }
    const std::string listener = d.name == "Managed HSM" ? "mhsm" : "vault";
    const std::string& key = d.key;
    restore();
    const std::string state = world.dir() + "/startup-state";
    std::filesystem::remove_all(state);
    std::filesystem::create_directories(state);
    ::chmod(state.c_str(), 0700);
    std::filesystem::copy(pendingTemplate() + "/" + key, state + "/" + key,
                          std::filesystem::copy_options::recursive);
    std::string yaml = world.configYaml({{key, listener}}, world.managedIdentityYaml());
    auto replace = [&](const std::string& from, const std::string& to) {
      const std::size_t at = yaml.find(from);
      REQUIRE(at != std::string::npos);
      yaml.replace(at, from.size(), to);
    };
    replace("state_dir: " + world.stateDir() + "\n", "state_dir: " + state + "\n");
    replace("retry:\n  base: 100ms\n  cap: 2s\n",
            "retry:\n  base: 100ms\n  cap: 2s\n  overall: 3s\n  max_attempts: 3\n");
    emuResetLog();
    applyFault(row);
    AgentProcess starting(world, yaml);
    // The window: until ready, or until the first provisioning pass failed (its "not_ready"
    // line; bounded). /status's last_error is read then: before that pass it only says that no
    // committed bundle exists yet.
    std::string ready = "not ready";
    std::string last_error;
    int seen = -1;
    const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (std::chrono::steady_clock::now() < limit) {
      REQUIRE(starting.running());
      if (udsRequest(starting.admin(), "GET", "/readyz").status == 200) {
        ready = "ready";
        break;
      }
      if (starting.stderrText().find("\"event\":\"not_ready\"") != std::string::npos) {
        // Counted now: the next pass starts at least 250 ms after this line (a stalled request
        // is logged only when answered: counted below, after it was).
        if (!stalls(row)) seen = attempts(d);
        const json::ObjectPtr status = parsed(udsRequest(starting.admin(), "GET", "/status"));
        for (const auto& entry : *status->getArray("keys")) {
          auto object = entry.extract<Poco::JSON::Object::Ptr>();
          if (object->getValue<std::string>("name") == key) {
            last_error = object->optValue<std::string>("last_error", "");
          }
        }
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (std::getenv("SKR_FAULT_MATRIX_DEBUG") != nullptr) {
      std::cerr << "start-up, " << row.fault << ": " << ready << "; last_error: " << last_error
                << "\n";
    }
    waitOutStall(row, d);
    if (seen < 0) seen = attempts(d);
    const bool serving =
        starting.running() && udsRequest(starting.client(), "GET", "/healthz").status == 200;
    const bool pending_kept = std::filesystem::exists(state + "/" + key + "/pending.json");
    std::string lost = "none";
    if (ready != "ready" && !pending_kept) lost = "pending bundle gone while not ready";
    restore();
    std::string recovered = ready == "ready" ? "-" : "no";
    if (ready != "ready") {
      const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      while (std::chrono::steady_clock::now() < until && recovered == "no") {
        if (udsRequest(starting.admin(), "GET", "/readyz").status == 200)
          recovered = "yes";
        else
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
    if (ready == "ready" || recovered == "yes") {
      // Exactly the vault's key: the agent's public key is the vault's latest version's, and
      // its private part unwraps what that public key wrapped.
      HttpCall call;
      call.url = world.emulator().url(listener) + "/keys/" + key + "?api-version=7.4";
      call.headers.push_back({"Authorization", "Bearer " + world.officerToken(listener)});
      HttpResult vault = world.emulator().call(call);
      REQUIRE(vault.status == 200);
      StatusOr<json::ObjectPtr> vault_key = json::parseObject(vault.body);
      REQUIRE(vault_key.ok());
      json::ObjectPtr agent_key =
          parsed(udsRequest(starting.client(), "GET", "/keys/" + key))->getObject("key");
      if (agent_key->getValue<std::string>("n") !=
          (*vault_key)->getObject("key")->getValue<std::string>("n")) {
        lost = "agent holds another key than the vault's";
      }
      const WrappedDek dek = wrapWithPublicKey(starting, key);
      expectUnwraps(starting, "/keys/" + key, dek);
    }
    CHECK(starting.terminate() == 0);
    out->set("agent_start", ready);
    out->set("agent_start_attempts", seen);
    out->set("agent_start_serving", serving ? "yes" : "no");
    out->set("agent_start_last_error", last_error.empty() ? "-" : "set");
    out->set("agent_start_pending_kept", ready == "ready" ? "-" : (pending_kept ? "yes" : "no"));
    out->set("agent_start_recovered", recovered);
    out->set("agent_start_data_lost", lost);
  }

  // A stalled request is logged when the emulator answers it (6 s after it came): wait (bounded)
  // until the dependency's log shows the faulted request, so that it counts in this row and
  // never in the next one.
  static bool stalls(const Row& row) {
    return row.rule.find("\"delay_ms\":6000,") != std::string::npos;
  }
  void waitOutStall(const Row& row, const Dependency& d) {
    if (!stalls(row)) return;
    const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < limit) {
      json::ObjectPtr log =
          world.emulator().admin("GET", "/_emulator/requests?listener=" + d.listener);
      for (const auto& entry : *log->getArray("requests")) {
        auto object = entry.extract<Poco::JSON::Object::Ptr>();
        if (object->getValue<std::string>("path").rfind(d.path, 0) == 0 &&
            !object->optValue<std::string>("fault", "").empty()) {
          return;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }

  void emuResetLog() { world.emulator().admin("POST", "/_emulator/reset"); }

  json::ObjectPtr run(const Row& row) {
    const Dependency& d = dependency(row.dependency);
    restore();
    std::vector<std::string> args = {"--timeout", kRunTimeout};
    // Rows that stall for 6 s run under the short deadline.
    if (stalls(row)) args[1] = kShortTimeout;
    std::map<std::string, std::string> env = applyFault(row);
    const std::string yaml = yamlFor(d, row);
    const auto start = std::chrono::steady_clock::now();
    int exit_code = 0;
    std::string message;
    if (row.setup == Setup::Kill9) {
      exit_code = killMidWrite(yaml);
    } else {
      ProcessResult r = world.runInit(yaml, args, env);
      exit_code = r.exit_code;
      if (exit_code != 0) {
        json::ObjectPtr failed = lastEvent(r.err, "failed");
        message = failed->optValue<std::string>("step", "");
      }
    }
    const auto took = std::chrono::steady_clock::now() - start;
    waitOutStall(row, d);
    if (row.setup == Setup::ReadOnlyState) sh("umount '" + world.stateDir() + "'");
    if (row.setup == Setup::FullState) {
      // Checked on the full file system itself (without the filler), then unmounted.
      std::filesystem::remove(world.stateDir() + "/.fill");
    }
    // Bundles are sealed to the chip's HOST_DATA: check them with the chip as it was.
    if (row.setup == Setup::HostData) {
      world.emulator().admin("PUT", "/_emulator/chip",
                             R"({"host_data":")" + kInitHostData + R"("})");
    }
    const std::string listener = d.name == "Managed HSM" ? "mhsm" : "vault";
    json::ObjectPtr out = new Poco::JSON::Object();
    out->set("dependency", row.dependency);
    out->set("fault", row.fault);
    out->set("init_exit", exit_code);
    out->set("init_failed_step", message);
    out->set("attempts", attempts(d));
    out->set("wall", wallBucket(took));
    out->set("data_lost", dataLost(d.key, exit_code == 0, listener, row.setup));
    if (row.setup == Setup::FullState) sh("umount '" + world.stateDir() + "'");
    agentRotation(d, row, out);
    agentStartup(d, row, out);
    return out;
  }

  // skr_init_stop_at stops itself (SIGSTOP) with the bundle in its tmp file, before fsync and
  // rename; then SIGKILL. Returns -9.
  int killMidWrite(const std::string& yaml) {
    const std::string err_path = world.dir() + "/stop-at-stderr";
    const pid_t pid = fork();
    if (pid == 0) {
      const int fd = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      dup2(fd, 2);
      ::setenv("SKR_CONFIG_YAML", yaml.c_str(), 1);
      execl(SKR_INIT_STOP_AT_PATH, SKR_INIT_STOP_AT_PATH, "written", static_cast<char*>(nullptr));
      _exit(127);
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, WUNTRACED) == pid);
    REQUIRE(WIFSTOPPED(status));
    REQUIRE(kill(pid, SIGKILL) == 0);
    REQUIRE(waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFSIGNALED(status));
    keepTestOutput("skr_init_stop_at", readFileText(err_path));
    return -WTERMSIG(status);
  }
};

TEST_CASE("fault matrix: skr-init against every dependency x fault loses no data",
          "[.][fault-matrix]") {
  Matrix m;
  std::ofstream results;
  if (const char* path = std::getenv("SKR_FAULT_MATRIX_OUT")) results.open(path);
  // SKR_FAULT_MATRIX_ONLY=DEPENDENCY runs that dependency's rows only (while working on them).
  const char* only = std::getenv("SKR_FAULT_MATRIX_ONLY");
  for (const Row& row : matrixRows()) {
    if (only != nullptr && row.dependency != only) continue;
    json::ObjectPtr got = m.run(row);
    StatusOr<std::string> serialized = json::serializeCanonical(got);
    REQUIRE(serialized.ok());
    const std::string& line = *serialized;
    if (results.is_open()) results << line << "\n" << std::flush;
    INFO(line);
    CHECK(got->getValue<std::string>("data_lost") == "none");
    CHECK(got->getValue<int>("init_exit") == row.expect_exit);
    if (got->has("agent_old_version_unwraps")) {
      CHECK(got->getValue<std::string>("agent_old_version_unwraps") == "yes");
    }
    if (got->has("agent_start_data_lost")) {
      CHECK(got->getValue<std::string>("agent_start_data_lost") == "none");
      // Whatever the fault, the agent keeps answering and completes once the fault is gone.
      CHECK(got->getValue<std::string>("agent_start_serving") == "yes");
      // A policy denial from a changed HOST_DATA is not lifted by the agent itself: its cached
      // MAA token carries the changed value until it expires (HOST_DATA of a real UVM cannot
      // change; the fix there is a new release policy, which that token then satisfies).
      if (row.setup != Setup::HostData) {
        CHECK(got->getValue<std::string>("agent_start_recovered") != "no");
      }
    }
  }
  m.world.expectNoSecretsInOutput();
}

}  // namespace
}  // namespace skr::testing
