// skr-init's failure matrix (issue 5 "Done when"): each failure leaves the state directory exactly
// as it was, exits with its DESIGN.md §9 code and prints a final line naming the cause; transient
// failures (IMDS 500 twice, 429 with Retry-After) are retried and succeed; a hanging dependency
// hits the deadline; kill -9 during the write leaves no partial bundle.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>

#include "tests/integration/init_world.h"

namespace skr::testing {
namespace {

// A state directory with an earlier key already in it, so "unchanged" is a real comparison.
struct FailureWorld {
  InitWorld world;
  std::map<std::string, std::string> before;

  FailureWorld() {
    world.createKey("vault", "kek", R"("kty":"RSA-HSM","key_size":2048)");
    world.createKey("vault", "earlier", R"("kty":"RSA-HSM","key_size":2048)");
    ProcessResult seeded =
        world.runInit(world.configYaml({{"earlier", "vault"}}, world.managedIdentityYaml()));
    REQUIRE(seeded.exit_code == 0);
    before = world.snapshotState();
    REQUIRE(before.count("earlier/current") == 1);
    world.emulator().admin("POST", "/_emulator/reset");
  }

  std::string yaml(const std::vector<InitKey>& keys = {{"kek", "vault"}},
                   const std::string& extra = {}) const {
    return world.configYaml(keys, world.managedIdentityYaml(), extra);
  }

  void fault(const std::string& json) { world.emulator().admin("POST", "/_emulator/faults", json); }

  // Runs and checks: exit code, state unchanged, the final "failed" line mentions `cause`.
  json::ObjectPtr expectFailure(const std::string& config, int code, const std::string& cause,
                                std::vector<std::string> args = {}) {
    ProcessResult r = world.runInit(config, std::move(args));
    CHECK(r.exit_code == code);
    CHECK(world.snapshotState() == before);
    json::ObjectPtr failed = lastEvent(r.err, "failed");
    CHECK(failed->getValue<int>("exit_code") == code);
    const std::string text =
        failed->getValue<std::string>("message") + " | " + failed->getValue<std::string>("hint");
    INFO(text);
    CHECK(text.find(cause) != std::string::npos);
    CHECK(!failed->getValue<std::string>("hint").empty());
    world.expectNoSecretsInOutput();
    return failed;
  }
};

int countRequests(EmulatorProcess& emu, const std::string& listener, const std::string& path) {
  int n = 0;
  json::ObjectPtr log = emu.admin("GET", "/_emulator/requests?listener=" + listener);
  for (const auto& entry : *log->getArray("requests")) {
    auto object = entry.extract<Poco::JSON::Object::Ptr>();
    if (object->getValue<std::string>("path").find(path) == 0) ++n;
  }
  return n;
}

TEST_CASE("policy denial: another platform hostdata exits 6 naming x-ms-sevsnpvm-hostdata",
          "[init][failure]") {
  FailureWorld f;
  f.world.emulator().admin(
      "PUT", "/_emulator/chip",
      R"({"host_data":"0000000000000000000000000000000000000000000000000000000000000001"})");
  json::ObjectPtr failed = f.expectFailure(f.yaml(), 6, "x-ms-sevsnpvm-hostdata");
  CHECK(failed->getValue<std::string>("step") == "release");
  CHECK(failed->getValue<std::string>("key") == "kek");
  CHECK(failed->getValue<std::string>("message").find(
            "0000000000000000000000000000000000000000000000000000000000000001") !=
        std::string::npos);
}

TEST_CASE("RBAC denial: an identity without the release role exits 6 naming the role",
          "[init][failure]") {
  FailureWorld f;
  TestIdentity reader = addUserIdentity(f.world.emulator(), "reader");
  assignRole(f.world.emulator(), reader.object_id, "Key Vault Crypto User", "vault");
  const std::string identity =
      "  kind: managed\n  imds_endpoint: " + f.world.emulator().url("imds") +
      "\n  client_id: " + reader.client_id + "\n";
  f.expectFailure(f.world.configYaml({{"kek", "vault"}}, identity), 6, "Release User");
}

TEST_CASE("unknown key exits 7", "[init][failure]") {
  FailureWorld f;
  f.expectFailure(f.yaml({{"no-such-key", "vault"}}), 7, "no-such-key");
}

TEST_CASE("MAA rejection exits 4 quoting MAA's message", "[init][failure]") {
  FailureWorld f;
  f.fault(
      R"({"listener":"maa","path":"/attest","action":"status","status":400,)"
      R"("body":"{\"error\":{\"code\":\"InvalidParameter\",\"message\":\"The report signature is invalid\"}}"})");
  json::ObjectPtr failed = f.expectFailure(f.yaml(), 4, "The report signature is invalid");
  CHECK(failed->getValue<std::string>("step") == "maa");
}

TEST_CASE("a release JWS signed with an untrusted key exits 9", "[init][failure]") {
  FailureWorld f;
  f.fault(R"({"listener":"vault","path":"/keys/kek/release","action":"wrong_key"})");
  f.expectFailure(f.yaml(), 9, "signature");
}

TEST_CASE("a release JWS for another host exits 9", "[init][failure]") {
  FailureWorld f;
  // Same server, reached as localhost: TLS matches (SAN DNS:localhost), but the signed kid names
  // 127.0.0.1, so the answer is for another host.
  std::string url = f.world.emulator().url("vault");
  url.replace(url.find("127.0.0.1"), 9, "localhost");
  f.expectFailure(f.yaml({{"kek", "vault", "", "", url}}), 9, "127.0.0.1");
}

TEST_CASE("a release JWS chaining to an untrusted root exits 9", "[init][failure]") {
  FailureWorld f;
  // HTTPS still trusts the emulator CA; the release JWS must chain to another root.
  const std::string other_ca = f.world.dir() + "/other-ca.pem";
  {
    std::ofstream out(other_ca);
    out << readFileText(std::string(SKR_TEST_DATA_DIR) + "/amd/milan_ark.pem");
  }
  std::string yaml = f.yaml();
  const std::string tls = "tls:\n  ca_file: " + f.world.emulator().caFile() + "\n";
  REQUIRE(yaml.find(tls) != std::string::npos);
  yaml.replace(yaml.find(tls), tls.size(), tls + "  jws_ca_file: " + other_ca + "\n");
  f.expectFailure(yaml, 9, "chain");
}

TEST_CASE("a corrupted (malformed JSON) release answer exits 9", "[init][failure]") {
  FailureWorld f;
  f.fault(
      R"({"listener":"vault","path":"/keys/kek/release","action":"status","status":200,"body":"{\"value\": \"eyJ"})");
  f.expectFailure(f.yaml(), 9, "release");
}

TEST_CASE("a truncated release answer is retried, and exits 8 when it keeps coming",
          "[init][failure]") {
  FailureWorld f;
  f.fault(R"({"listener":"vault","path":"/keys/kek/release","action":"truncate","count":20})");
  f.expectFailure(f.yaml(), 8, "Key Vault");
  CHECK(countRequests(f.world.emulator(), "vault", "/keys/kek/release") == 4);
}

TEST_CASE("IMDS answering 500 twice then OK succeeds", "[init][retry]") {
  FailureWorld f;
  f.fault(
      R"({"listener":"imds","path":"/metadata/identity","action":"status","status":500,"count":2})");
  ProcessResult r = f.world.runInit(f.yaml());
  REQUIRE(r.exit_code == 0);
  CHECK(countRequests(f.world.emulator(), "imds", "/metadata/identity") == 3);
  f.world.expectSameMaterial("vault", "kek");
}

TEST_CASE("429 with Retry-After from Key Vault is honoured and then succeeds", "[init][retry]") {
  FailureWorld f;
  f.fault(
      R"({"listener":"vault","path":"/keys/kek/release","action":"status","status":429,"retry_after":2})");
  const auto start = std::chrono::steady_clock::now();
  ProcessResult r = f.world.runInit(f.yaml());
  const auto took = std::chrono::steady_clock::now() - start;
  REQUIRE(r.exit_code == 0);
  CHECK(took >= std::chrono::seconds(2));
  bool saw = false;
  for (const json::ObjectPtr& line : jsonLines(r.err)) {
    if (line->optValue<std::string>("step", "") == "release") {
      CHECK(line->getValue<int>("attempts") == 2);
      saw = true;
    }
  }
  CHECK(saw);
  f.world.expectSameMaterial("vault", "kek");
}

TEST_CASE("a hanging MAA hits the deadline: exit 8 within --timeout", "[init][failure]") {
  FailureWorld f;
  f.fault(R"({"listener":"maa","path":"/attest","action":"delay","delay_ms":60000,"count":10})");
  const auto start = std::chrono::steady_clock::now();
  f.expectFailure(f.yaml(), 8, "Deadline", {"--timeout", "3s"});
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
}

TEST_CASE("kill -9 during the write leaves no partial bundle, and the next run succeeds",
          "[init][failure][kill]") {
  FailureWorld f;
  const std::string err_path = f.world.dir() + "/stderr";
  const pid_t pid = fork();
  if (pid == 0) {
    const int fd = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 2);
    ::setenv("SKR_CONFIG_YAML", f.yaml().c_str(), 1);
    execl(SKR_INIT_STOP_AT_PATH, SKR_INIT_STOP_AT_PATH, "written", static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, WUNTRACED) == pid);
  INFO(readFileText(err_path));
  REQUIRE(WIFSTOPPED(status));
  // Stopped with every byte in the tmp file, before fsync and rename.
  REQUIRE(kill(pid, SIGKILL) == 0);
  REQUIRE(waitpid(pid, &status, 0) == pid);
  CHECK(WIFSIGNALED(status));
  std::map<std::string, std::string> after = f.world.snapshotState();
  for (const auto& [path, content] : after) {
    if (f.before.count(path) == 1) {
      CHECK(f.before.at(path) == content);
      continue;
    }
    // Only the key's directory and an abandoned tmp file may be new; never a bundle or current.
    INFO(path);
    CHECK((path == "kek/" || path.find("kek/.tmp-") == 0));
  }
  ProcessResult again = f.world.runInit(f.yaml());
  REQUIRE(again.exit_code == 0);
  f.world.expectSameMaterial("vault", "kek");
}

}  // namespace
}  // namespace skr::testing
