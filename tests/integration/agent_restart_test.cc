// skr-agent, the real binary, restarted on its own state directory (issue 6 "Done when", the
// restart part): a second agent serves the bundles the first one sealed without asking the
// emulator for a release (its request log shows none) and unwraps what the first one served; a
// bundle with one flipped byte is rejected (`bundle_rejected` in the log) and, per
// `release_on_start`, released again (if-missing: the new bundle holds the emulator's key) or
// reported (never: /readyz and key operations answer 503 NotReady, /status names the reason,
// the agent keeps running and asks the emulator for nothing). Also: `always` releases again, an
// events cursor from before the restart gets the kept events at once, a rotated primary, the
// older version and the generation file survive a restart while a retired version stays gone,
// and a reload (POST /reload) that finds the current bundle tampered keeps the verified primary.
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "common/json/json.h"
#include "tests/integration/agent_process.h"
#include "tests/integration/init_world.h"
#include "tests/integration/uds_http_client.h"

namespace skr::testing {
namespace {

using namespace std::chrono_literals;

std::string currentVersion(const InitWorld& world, const std::string& key) {
  std::string text = readFileText(world.stateDir() + "/" + key + "/current");
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  REQUIRE(!text.empty());
  return text;
}

std::string bundlePath(const InitWorld& world, const std::string& key) {
  return world.stateDir() + "/" + key + "/" + currentVersion(world, key) + ".json";
}

// Flips one base64url character in the middle of the bundle's sealed.ciphertext (still valid
// JSON and base64url, so only the AES-GCM tag check can notice). Returns the tampered text.
std::string tamperBundle(const std::string& path) {
  std::string text = readFileText(path);
  const std::string marker = "\"ciphertext\":\"";
  const std::size_t start = text.find(marker);
  REQUIRE(start != std::string::npos);
  const std::size_t end = text.find('"', start + marker.size());
  REQUIRE(end != std::string::npos);
  REQUIRE(end - start > marker.size() + 40);
  const std::size_t at = start + marker.size() + (end - start - marker.size()) / 2;
  text[at] = text[at] == 'A' ? 'B' : 'A';
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  REQUIRE(out.good());
  return text;
}

// The key's entry in GET /status, or null while the agent has not loaded it yet (the server
// answers before the bundles are loaded).
json::ObjectPtr findKeyStatus(const json::ObjectPtr& status, const std::string& key) {
  auto keys = status->getArray("keys");
  for (unsigned i = 0; keys && i < keys->size(); ++i) {
    if (keys->getObject(i)->getValue<std::string>("name") == key) return keys->getObject(i);
  }
  return {};
}

json::ObjectPtr keyStatus(AgentProcess& agent, const std::string& key) {
  json::ObjectPtr found = findKeyStatus(parsed(udsRequest(agent.admin(), "GET", "/status")), key);
  if (found.isNull()) FAIL("no key '" << key << "' in /status");
  return found;
}

TEST_CASE("a restarted skr-agent serves from its bundles without a new release",
          "[agent][restart]") {
  InitWorld world;
  world.createKey("vault", "re-kek", R"("kty":"RSA-HSM","key_size":2048)");
  const std::string yaml = world.configYaml({{"re-kek", "vault"}}, world.managedIdentityYaml());
  EmulatorProcess& emu = world.emulator();
  const int64_t first_start = lastRequestSeq(emu);
  WrappedDek dek;
  int64_t cursor = 0;  // a client's GET /events cursor from the first agent
  {
    AgentProcess first(world, yaml);  // no bundle: releases it (if-missing)
    first.waitReady();
    CHECK(releasesSince(emu, first_start) == 1);
    dek = wrapWithPublicKey(first, "re-kek");
    expectUnwraps(first, "/keys/re-kek", dek);
    json::ObjectPtr events = parsed(udsRequest(first.client(), "GET", "/events?after=0&timeout=0"));
    cursor = events->getValue<int64_t>("next");
    CHECK(cursor >= 2);  // released, ready
    CHECK(first.terminate() == 0);
  }
  const std::string bundle_before = readFileText(bundlePath(world, "re-kek"));

  const int64_t second_start = lastRequestSeq(emu);
  AgentProcess second(world, yaml);
  const auto started = std::chrono::steady_clock::now();
  second.waitReady();
  const auto ready_after = std::chrono::steady_clock::now() - started;
  INFO(second.stderrText());
  INFO("ready after " << std::chrono::duration_cast<std::chrono::milliseconds>(ready_after).count()
                      << " ms");
  CHECK(ready_after < 5s);
  expectUnwraps(second, "/keys/re-kek", dek);
  expectUnwraps(second, "/keys/re-kek/" + versionOf(dek.kid), dek);
  CHECK(releasesSince(emu, second_start) == 0);
  CHECK(lastRequestSeq(emu) == second_start);  // not even a token or an attestation
  CHECK(lastEvent(second.stderrText(), "bundles_loaded")->getValue<std::string>("primary") ==
        versionOf(dek.kid));
  CHECK(second.stderrText().find("bundle_rejected") == std::string::npos);
  CHECK(readFileText(bundlePath(world, "re-kek")) == bundle_before);
  // The client's cursor from before the restart is below the new process's numbers (they start
  // at its start time): it gets every kept event at once, flagged truncated (resync).
  const auto polled = std::chrono::steady_clock::now();
  json::ObjectPtr events = parsed(udsRequest(
      second.client(), "GET", "/events?after=" + std::to_string(cursor) + "&timeout=10"));
  CHECK(std::chrono::steady_clock::now() - polled < 3s);
  auto list = events->getArray("events");
  REQUIRE(list->size() >= 1);
  CHECK(list->getObject(list->size() - 1)->getValue<std::string>("type") == "ready");
  CHECK(list->getObject(0)->getValue<int64_t>("seq") > cursor);
  CHECK(events->optValue<bool>("truncated", false));
  CHECK(events->getValue<int64_t>("next") ==
        list->getObject(list->size() - 1)->getValue<int64_t>("seq"));
  CHECK(second.terminate() == 0);

  // release_on_start: always releases once more although the bundle is valid.
  const int64_t third_start = lastRequestSeq(emu);
  AgentOptions always;
  always.extra_agent_yaml = "  release_on_start: always\n";
  AgentProcess third(world, yaml, always);
  third.waitReady();
  CHECK(releasesSince(emu, third_start) == 1);
  expectUnwraps(third, "/keys/re-kek", dek);
  CHECK(third.terminate() == 0);
}

TEST_CASE(
    "a tampered bundle is rejected: reported and not ready with release_on_start never, "
    "released again with if-missing",
    "[agent][restart][tamper]") {
  InitWorld world;
  world.createKey("vault", "tam-kek", R"("kty":"RSA-HSM","key_size":2048)");
  const std::string yaml = world.configYaml({{"tam-kek", "vault"}}, world.managedIdentityYaml());
  REQUIRE(world.runInit(yaml).exit_code == 0);
  const std::string version = currentVersion(world, "tam-kek");
  const std::string path = bundlePath(world, "tam-kek");
  const std::string tampered = tamperBundle(path);
  EmulatorProcess& emu = world.emulator();

  {  // release_on_start: never -> rejected, reported, not ready, nothing asked of the emulator
    const int64_t before = lastRequestSeq(emu);
    AgentOptions never;
    never.extra_agent_yaml = "  release_on_start: never\n";
    AgentProcess agent(world, yaml, never);
    std::string last_error;
    for (int i = 0; i < 100 && last_error.empty(); ++i) {
      std::this_thread::sleep_for(50ms);
      REQUIRE(agent.running());
      UdsResponse r = udsRequest(agent.admin(), "GET", "/status", {}, {}, 5s);
      if (r.status != 200) continue;
      json::ObjectPtr key = findKeyStatus(parsed(r), "tam-kek");
      if (!key.isNull()) last_error = key->getValue<std::string>("last_error");
    }
    INFO(agent.stderrText());
    INFO("last_error: " << last_error);
    CHECK(last_error.find("release_on_start is never") != std::string::npos);
    CHECK(last_error.find(version) != std::string::npos);  // names the rejected file
    json::ObjectPtr rejected = lastEvent(agent.stderrText(), "bundle_rejected");
    CHECK(rejected->getValue<std::string>("key") == "tam-kek");
    CHECK(rejected->getValue<std::string>("file").find(version) != std::string::npos);
    CHECK(rejected->getValue<std::string>("status") == "DataLoss");

    UdsResponse readyz = udsRequest(agent.admin(), "GET", "/readyz");
    CHECK(readyz.status == 503);
    UdsResponse op = udsRequest(agent.client(), "POST", "/keys/tam-kek/unwrapkey",
                                R"({"alg":"RSA-OAEP-256","value":"AAAA"})");
    CHECK(op.status == 503);
    CHECK(parsed(op)->getObject("error")->getValue<std::string>("code") == "NotReady");
    CHECK(op.headers.count("retry-after") == 1);
    CHECK(parsed(udsRequest(agent.admin(), "GET", "/status"))->getValue<bool>("ready") == false);
    std::this_thread::sleep_for(300ms);
    CHECK(agent.running());
    CHECK(releasesSince(emu, before) == 0);
    CHECK(readFileText(path) == tampered);  // reported, not repaired or removed
    CHECK(agent.terminate() == 0);
  }

  {  // release_on_start: if-missing -> rejected, released again, serving the emulator's key
    const int64_t before = lastRequestSeq(emu);
    AgentProcess agent(world, yaml);
    agent.waitReady();
    INFO(agent.stderrText());
    CHECK(lastEvent(agent.stderrText(), "bundle_rejected")->getValue<std::string>("key") ==
          "tam-kek");
    CHECK(releasesSince(emu, before) == 1);
    CHECK(readFileText(bundlePath(world, "tam-kek")) != tampered);
    world.expectSameMaterial("vault", "tam-kek");
    WrappedDek dek = wrapWithPublicKey(agent, "tam-kek");
    expectUnwraps(agent, "/keys/tam-kek", dek);
    CHECK(keyStatus(agent, "tam-kek")->getValue<std::string>("last_error").empty());
    CHECK(agent.terminate() == 0);
  }
}

TEST_CASE(
    "a restarted skr-agent keeps a rotated primary, the older version and the generation, "
    "forgets a retired version, and rejects only a tampered older bundle",
    "[agent][restart][versions]") {
  InitWorld world;
  world.createKey("vault", "ver-kek", R"("kty":"RSA-HSM","key_size":2048)");
  const std::string yaml = world.configYaml({{"ver-kek", "vault"}}, world.managedIdentityYaml());
  EmulatorProcess& emu = world.emulator();
  WrappedDek old_dek, new_dek;
  {
    AgentProcess first(world, yaml);
    first.waitReady();
    old_dek = wrapWithPublicKey(first, "ver-kek");
    const std::string new_kid = rotateInVault(world, "ver-kek");
    REQUIRE(udsRequest(first.admin(), "POST", "/keys/ver-kek/rotate", "{}").status == 200);
    new_dek = wrapWithPublicKey(first, "ver-kek");
    REQUIRE(new_dek.kid == new_kid);
    CHECK(first.terminate() == 0);
  }
  const std::string old_version = versionOf(old_dek.kid);
  const std::string new_version = versionOf(new_dek.kid);

  {  // restart: both versions, the rotated primary and generation 2, nothing asked of the vault
    const int64_t before = lastRequestSeq(emu);
    AgentProcess second(world, yaml);
    second.waitReady();
    INFO(second.stderrText());
    CHECK(lastRequestSeq(emu) == before);
    expectUnwraps(second, "/keys/ver-kek", new_dek);
    expectUnwraps(second, "/keys/ver-kek/" + old_version, old_dek);
    json::ObjectPtr listed = parsed(udsRequest(second.client(), "GET", "/keys"));
    json::ObjectPtr key = listed->getArray("value")->getObject(0);
    CHECK(key->getValue<std::string>("primary_version") == new_version);
    // GET /keys "generation" is the number in the state dir's generation file.
    CHECK(readFileText(world.stateDir() + "/ver-kek/generation") == "2\n");
    CHECK(key->getValue<uint64_t>("generation") == 2);
    CHECK(key->getArray("versions")->size() == 2);
    // Retire the old version: gone from memory and from the state directory.
    UdsResponse retired =
        udsRequest(second.admin(), "POST", "/keys/ver-kek/" + old_version + "/retire", "{}");
    INFO(retired.body);
    CHECK(retired.status == 200);
    CHECK(!std::filesystem::exists(world.stateDir() + "/ver-kek/" + old_version + ".json"));
    CHECK(second.terminate() == 0);
  }

  {  // restart: the retired version stays gone (404, never a fallback to the primary)
    AgentProcess third(world, yaml);
    third.waitReady();
    INFO(third.stderrText());
    UdsResponse gone =
        udsRequest(third.client(), "POST", "/keys/ver-kek/" + old_version + "/unwrapkey",
                   R"({"alg":"RSA-OAEP-256","value":")" + old_dek.wrapped_b64 + "\"}");
    CHECK(gone.status == 404);
    CHECK(parsed(gone)->getObject("error")->getValue<std::string>("code") == "VersionNotFound");
    expectUnwraps(third, "/keys/ver-kek", new_dek);
    CHECK(third.terminate() == 0);
  }

  {  // a newer version from the vault, then the older bundle tampered: only it is rejected
    rotateInVault(world, "ver-kek");
    REQUIRE(world.runInit(yaml).exit_code == 0);  // writes the newest version, makes it current
    const std::string newest = currentVersion(world, "ver-kek");
    REQUIRE(newest != new_version);
    tamperBundle(world.stateDir() + "/ver-kek/" + new_version + ".json");
    const int64_t before = lastRequestSeq(emu);
    AgentProcess fourth(world, yaml);
    fourth.waitReady();
    INFO(fourth.stderrText());
    CHECK(releasesSince(emu, before) == 0);
    json::ObjectPtr rejected = lastEvent(fourth.stderrText(), "bundle_rejected");
    CHECK(rejected->getValue<std::string>("file").find(new_version) != std::string::npos);
    UdsResponse lost =
        udsRequest(fourth.client(), "POST", "/keys/ver-kek/" + new_version + "/unwrapkey",
                   R"({"alg":"RSA-OAEP-256","value":")" + new_dek.wrapped_b64 + "\"}");
    CHECK(lost.status == 404);
    WrappedDek newest_dek = wrapWithPublicKey(fourth, "ver-kek");
    CHECK(versionOf(newest_dek.kid) == newest);
    expectUnwraps(fourth, "/keys/ver-kek", newest_dek);
    CHECK(fourth.terminate() == 0);
  }
}

TEST_CASE(
    "a reload that finds the current bundle tampered keeps serving the verified primary and "
    "reports the rejected file",
    "[agent][restart][reload]") {
  InitWorld world;
  world.createKey("vault", "rl-kek", R"("kty":"RSA-HSM","key_size":2048)");
  const std::string yaml = world.configYaml({{"rl-kek", "vault"}}, world.managedIdentityYaml());
  REQUIRE(world.runInit(yaml).exit_code == 0);
  AgentProcess agent(world, yaml);
  agent.waitReady();
  INFO(agent.stderrText());
  WrappedDek dek = wrapWithPublicKey(agent, "rl-kek");
  const std::string version = versionOf(dek.kid);

  tamperBundle(bundlePath(world, "rl-kek"));
  UdsResponse reloaded = udsRequest(agent.admin(), "POST", "/reload", "{}");
  INFO(reloaded.body);
  CHECK(reloaded.status == 200);
  json::ObjectPtr rejected = lastEvent(agent.stderrText(), "bundle_rejected");
  CHECK(rejected->getValue<std::string>("file").find(version) != std::string::npos);
  json::ObjectPtr status = keyStatus(agent, "rl-kek");
  CHECK(status->getValue<std::string>("last_error").find(version) != std::string::npos);
  // The version verified at start keeps serving, with and without its version in the path.
  CHECK(status->getValue<std::string>("primary") == version);
  expectUnwraps(agent, "/keys/rl-kek/" + version, dek);
  expectUnwraps(agent, "/keys/rl-kek", dek);
  CHECK(udsRequest(agent.admin(), "GET", "/readyz").status == 200);
  CHECK(agent.terminate() == 0);
}

TEST_CASE(
    "a tampered pending bundle is not completed: not ready with release_on_start never, a full "
    "release with if-missing",
    "[agent][restart][tamper][pending]") {
  InitWorld world;
  world.createKey("vault", "pend-kek", R"("kty":"RSA-HSM","key_size":2048)");
  REQUIRE(world.runInit(world.configYaml({{"pend-kek", "vault"}}, "  kind: none\n")).exit_code ==
          0);
  const std::string pending = world.stateDir() + "/pend-kek/pending.json";
  REQUIRE(std::filesystem::exists(pending));
  tamperBundle(pending);
  const std::string yaml = world.configYaml({{"pend-kek", "vault"}}, world.managedIdentityYaml());
  EmulatorProcess& emu = world.emulator();

  {  // never: the pending bundle does not open, nothing is released, the reason is in /status
    const int64_t before = lastRequestSeq(emu);
    AgentOptions never;
    never.extra_agent_yaml = "  release_on_start: never\n";
    AgentProcess agent(world, yaml, never);
    std::string last_error;
    for (int i = 0; i < 100 && last_error.find("release_on_start") == std::string::npos; ++i) {
      std::this_thread::sleep_for(50ms);
      REQUIRE(agent.running());
      UdsResponse r = udsRequest(agent.admin(), "GET", "/status", {}, {}, 5s);
      if (r.status != 200) continue;
      json::ObjectPtr key = findKeyStatus(parsed(r), "pend-kek");
      if (!key.isNull()) last_error = key->getValue<std::string>("last_error");
    }
    INFO(agent.stderrText());
    INFO("last_error: " << last_error);
    CHECK(last_error.find("release_on_start is never") != std::string::npos);
    CHECK(udsRequest(agent.admin(), "GET", "/readyz").status == 503);
    CHECK(releasesSince(emu, before) == 0);
    CHECK(agent.stderrText().find("pending.json") != std::string::npos);
    CHECK(agent.terminate() == 0);
  }

  {  // if-missing: a full release with the agent's own identity, then ready
    const int64_t before = lastRequestSeq(emu);
    AgentProcess agent(world, yaml);
    agent.waitReady();
    INFO(agent.stderrText());
    CHECK(releasesSince(emu, before) == 1);
    CHECK(agent.stderrText().find("pending_token_reused") == std::string::npos);
    // Served by a committed bundle now, the unusable pending.json is removed, not tried again.
    CHECK(agent.stderrText().find("pending_discarded") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(pending));
    world.expectSameMaterial("vault", "pend-kek");
    WrappedDek dek = wrapWithPublicKey(agent, "pend-kek");
    expectUnwraps(agent, "/keys/pend-kek", dek);
    CHECK(agent.terminate() == 0);
  }
}

}  // namespace
}  // namespace skr::testing
