// skr-agent, the real binary, against skr-emulator (issue 6 "Done when", the start-up, rotation
// and shutdown parts): bundles written by skr-init are served without a new release; a pending
// bundle (attest-and-defer) is completed by the agent; rotation through the admin socket makes
// the emulator's new version primary while the old one still unwraps, wakes a pending
// GET /events, and a rotation failing through an emulator fault changes nothing but /status;
// SIGTERM drains, exits 0 and removes both sockets.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <future>
#include <thread>

#include "common/crypto/pkey.h"
#include "common/crypto/random.h"
#include "common/crypto/rsa_oaep.h"
#include "common/encoding/base64.h"
#include "common/json/json.h"
#include "tests/integration/agent_process.h"
#include "tests/integration/init_world.h"
#include "tests/integration/uds_http_client.h"

namespace skr::testing {
namespace {

using namespace std::chrono_literals;
using encoding::base64UrlDecode;
using encoding::base64UrlEncode;
namespace fs = std::filesystem;

TEST_CASE(
    "skr-agent serves the bundles skr-init wrote without a new release, unwraps a DEK wrapped "
    "with its public key, and SIGTERM exits 0 and removes the sockets",
    "[agent][startup]") {
  InitWorld world;
  world.createKey("vault", "app-kek", R"("kty":"RSA-HSM","key_size":2048)");
  const std::string yaml = world.configYaml({{"app-kek", "vault"}}, world.managedIdentityYaml());
  REQUIRE(world.runInit(yaml).exit_code == 0);
  const int64_t before = lastRequestSeq(world.emulator());

  AgentProcess agent(world, yaml);
  agent.waitReady();
  INFO(agent.stderrText());

  // Both sockets carry the configured mode (default 0660).
  CHECK((fs::status(agent.client()).permissions() & fs::perms::all) ==
        (fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
         fs::perms::group_write));
  CHECK(fs::is_socket(agent.admin()));

  json::ObjectPtr list = parsed(udsRequest(agent.client(), "GET", "/keys"));
  auto keys = list->getArray("value");
  REQUIRE(keys->size() == 1);
  CHECK(keys->getObject(0)->getValue<std::string>("name") == "app-kek");
  CHECK(keys->getObject(0)->getValue<std::string>("state") == "ready");

  WrappedDek dek = wrapWithPublicKey(agent, "app-kek");
  expectUnwraps(agent, "/keys/app-kek", dek);
  CHECK(releasesSince(world.emulator(), before) == 0);

  // skr-init releases a newer version into the state dir; SIGHUP makes the agent serve it,
  // still without a release of its own, and the older version keeps unwrapping.
  EmulatorProcess& emu = world.emulator();
  rotateInVault(world, "app-kek");
  REQUIRE(world.runInit(yaml).exit_code == 0);
  const int64_t before_reload = lastRequestSeq(emu);
  const std::string new_version = readFileText(world.stateDir() + "/app-kek/current");
  REQUIRE(new_version != versionOf(dek.kid) + "\n");
  agent.signal(SIGHUP);
  std::string served;
  for (int i = 0; i < 100 && served + "\n" != new_version; ++i) {
    std::this_thread::sleep_for(50ms);
    served = versionOf(wrapWithPublicKey(agent, "app-kek").kid);
  }
  CHECK(served + "\n" == new_version);
  expectUnwraps(agent, "/keys/app-kek/" + versionOf(dek.kid), dek);
  CHECK(releasesSince(emu, before_reload) == 0);

  CHECK(agent.terminate() == 0);
  CHECK(!std::filesystem::exists(agent.client()));
  CHECK(!std::filesystem::exists(agent.admin()));
}

TEST_CASE("skr-agent completes a pending bundle from skr-init (identity none) and becomes ready",
          "[agent][pending]") {
  InitWorld world;
  world.createKey("vault", "deferred", R"("kty":"RSA-HSM","key_size":2048)");
  REQUIRE(world.runInit(world.configYaml({{"deferred", "vault"}}, "  kind: none\n")).exit_code ==
          0);
  REQUIRE(std::filesystem::exists(world.stateDir() + "/deferred/pending.json"));
  const int64_t before = lastRequestSeq(world.emulator());

  AgentProcess agent(world, world.configYaml({{"deferred", "vault"}}, world.managedIdentityYaml()));
  agent.waitReady();
  INFO(agent.stderrText());
  CHECK(releasesSince(world.emulator(), before) == 1);
  CHECK(!std::filesystem::exists(world.stateDir() + "/deferred/pending.json"));
  CHECK(std::filesystem::exists(world.stateDir() + "/deferred/current"));
  // The bundle the agent wrote holds the emulator's key.
  world.expectSameMaterial("vault", "deferred");
  WrappedDek dek = wrapWithPublicKey(agent, "deferred");
  expectUnwraps(agent, "/keys/deferred", dek);
  CHECK(agent.stderrText().find("pending_token_reused") != std::string::npos);
  CHECK(agent.terminate() == 0);
}

TEST_CASE(
    "skr-agent rotates to the emulator's new version through the admin socket, keeps the old one "
    "for unwrap, wakes a pending GET /events, and a failed rotation changes nothing",
    "[agent][rotate]") {
  InitWorld world;
  world.createKey("vault", "rot-kek", R"("kty":"RSA-HSM","key_size":2048)");
  const std::string yaml = world.configYaml({{"rot-kek", "vault"}}, world.managedIdentityYaml());
  AgentProcess agent(world, yaml);  // no bundle yet: the agent releases it (if-missing)
  agent.waitReady();
  INFO(agent.stderrText());
  WrappedDek old_dek = wrapWithPublicKey(agent, "rot-kek");
  const std::string old_version = versionOf(old_dek.kid);

  EmulatorProcess& emu = world.emulator();
  const std::string new_kid = rotateInVault(world, "rot-kek");

  json::ObjectPtr first = parsed(udsRequest(agent.client(), "GET", "/events?after=0&timeout=0"));
  const int64_t after = first->getValue<int64_t>("next");
  std::future<UdsResponse> waiting = std::async(std::launch::async, [&] {
    return udsRequest(agent.client(), "GET",
                      "/events?after=" + std::to_string(after) + "&timeout=30");
  });
  // The long poll is parked (no event yet) before the rotation.
  CHECK(waiting.wait_for(300ms) == std::future_status::timeout);

  UdsResponse rotated = udsRequest(agent.admin(), "POST", "/keys/rot-kek/rotate", "{}");
  REQUIRE(rotated.status == 200);
  CHECK(parsed(rotated)->getValue<std::string>("kid") == new_kid);

  REQUIRE(waiting.wait_for(10s) == std::future_status::ready);
  json::ObjectPtr events = parsed(waiting.get());
  auto list = events->getArray("events");
  REQUIRE(list->size() >= 1);
  json::ObjectPtr event = list->getObject(0);
  CHECK(event->getValue<std::string>("type") == "rotated");
  CHECK(event->getValue<std::string>("key") == "rot-kek");
  CHECK(event->getValue<std::string>("version") == versionOf(new_kid));
  CHECK(events->getValue<int64_t>("next") == event->getValue<int64_t>("seq"));

  // The new version is primary; the old ciphertext still unwraps under its version.
  WrappedDek new_dek = wrapWithPublicKey(agent, "rot-kek");
  CHECK(new_dek.kid == new_kid);
  expectUnwraps(agent, "/keys/rot-kek/" + old_version, old_dek);
  expectUnwraps(agent, "/keys/rot-kek", new_dek);
  CHECK(readFileText(world.stateDir() + "/rot-kek/current") == versionOf(new_kid) + "\n");
  CHECK(readFileText(world.stateDir() + "/rot-kek/generation") == "2\n");

  // A newer version exists, but the release fails (the vault refuses once): nothing changes.
  rotateInVault(world, "rot-kek");
  emu.admin("POST", "/_emulator/faults",
            R"({"listener":"vault","method":"POST","path_regex":"/keys/rot-kek(/[^/]+)?/release",)"
            R"("action":"status","status":403,"count":1})");
  UdsResponse failed = udsRequest(agent.admin(), "POST", "/keys/rot-kek/rotate", "{}");
  CHECK(failed.status != 200);
  json::ObjectPtr status = parsed(udsRequest(agent.admin(), "GET", "/status"));
  auto status_keys = status->getArray("keys");
  REQUIRE(status_keys->size() == 1);
  const std::string last_error = status_keys->getObject(0)->getValue<std::string>("last_error");
  CHECK(last_error.find("release") != std::string::npos);
  CHECK(status_keys->getObject(0)->getValue<std::string>("primary") == versionOf(new_kid));
  WrappedDek still = wrapWithPublicKey(agent, "rot-kek");
  CHECK(still.kid == new_kid);
  expectUnwraps(agent, "/keys/rot-kek", new_dek);
  CHECK(readFileText(world.stateDir() + "/rot-kek/generation") == "2\n");
  CHECK(agent.terminate() == 0);
}

TEST_CASE("skr-agent --help, --version and usage or config errors exit 0 or 2", "[agent][cli]") {
  ProcessResult help = runProcess(SKR_AGENT_PATH, {"--help"});
  CHECK(help.exit_code == 0);
  CHECK(help.out.find("usage: skr-agent") != std::string::npos);
  ProcessResult version = runProcess(SKR_AGENT_PATH, {"--version"});
  CHECK(version.exit_code == 0);
  CHECK(version.out.rfind("skr-agent ", 0) == 0);
  ProcessResult unknown = runProcess(SKR_AGENT_PATH, {"--bogus"});
  CHECK(unknown.exit_code == 2);
  CHECK(unknown.err.find("unknown argument '--bogus'") != std::string::npos);
  ProcessOptions bad_config;
  bad_config.env["SKR_CONFIG_YAML"] = "agent:\n  workers: many\n";
  ProcessResult config = runProcess(SKR_AGENT_PATH, {}, bad_config);
  CHECK(config.exit_code == 2);
  CHECK(config.err.find("agent.workers") != std::string::npos);
}

}  // namespace
}  // namespace skr::testing
