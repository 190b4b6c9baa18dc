// skrctl rotate / retire / status / metrics / reload against a real skr-agent (admin socket) and
// skr-emulator: the commands print the agent's answers and map its errors to DESIGN §9 exit codes.
#include <catch2/catch.hpp>
#include <string>

#include "tests/integration/agent_process.h"
#include "tests/integration/init_world.h"
#include "tests/integration/process.h"

namespace skr::testing {
namespace {

ProcessResult skrctl(const std::vector<std::string>& args) {
  return runProcess(SKR_SKRCTL_PATH, args);
}

TEST_CASE(
    "skrctl status, rotate, retire, metrics and reload operate a running skr-agent through its "
    "admin socket, with exit codes for unknown keys and an unreachable agent",
    "[agent][skrctl]") {
  InitWorld world;
  world.createKey("vault", "ctl-kek", R"("kty":"RSA-HSM","key_size":2048)");
  AgentProcess agent(world, world.configYaml({{"ctl-kek", "vault"}}, world.managedIdentityYaml()));
  agent.waitReady();
  INFO(agent.stderrText());
  const std::string socket = "--socket=" + agent.admin();

  ProcessResult status = skrctl({"status", "--json", socket});
  INFO(status.err);
  REQUIRE(status.exit_code == 0);
  REQUIRE(parsed(UdsResponse{false, "", 200, {}, status.out})->has("keys"));
  CHECK(status.out.find("\"ctl-kek\"") != std::string::npos);
  // Without --json: readiness, the emulation warning and one line per key.
  ProcessResult text = skrctl({"status", socket});
  REQUIRE(text.exit_code == 0);
  CHECK(text.out.rfind("agent: ready (EMULATED platform: not a confidential VM)\n"
                       "KEY\tPRIMARY\tVERSIONS\tGENERATION\tLAST ERROR\nctl-kek\t",
                       0) == 0);
  CHECK(text.out.find("\t1\t1\t-\n") != std::string::npos);
  WrappedDek dek = wrapWithPublicKey(agent, "ctl-kek");
  const std::string old_version = versionOf(dek.kid);

  // A new version in the vault; skrctl rotate makes it primary and prints its kid.
  const std::string new_kid = rotateInVault(world, "ctl-kek");
  ProcessResult rotated = skrctl({"rotate", "ctl-kek", socket});
  INFO(rotated.err);
  REQUIRE(rotated.exit_code == 0);
  CHECK(parsed(UdsResponse{false, "", 200, {}, rotated.out})->getValue<std::string>("kid") ==
        new_kid);
  expectUnwraps(agent, "/keys/ctl-kek/" + old_version, dek);

  // Retire the old version: it no longer unwraps (404); retiring the primary is refused (2).
  ProcessResult retired = skrctl({"retire", "ctl-kek", old_version, socket});
  INFO(retired.err);
  CHECK(retired.exit_code == 0);
  UdsResponse gone =
      udsRequest(agent.client(), "POST", "/keys/ctl-kek/" + old_version + "/unwrapkey",
                 R"({"alg":"RSA-OAEP-256","value":")" + dek.wrapped_b64 + "\"}");
  CHECK(gone.status == 404);
  ProcessResult primary = skrctl({"retire", "ctl-kek", versionOf(new_kid), socket});
  CHECK(primary.exit_code == 2);
  CHECK(primary.err.find("skr-agent answered 409") != std::string::npos);

  // Unknown key: 7 with the agent's message; bad names never reach the socket.
  ProcessResult unknown = skrctl({"rotate", "no-such-key", socket});
  CHECK(unknown.exit_code == 7);
  CHECK(unknown.err.find("skr-agent answered 404") != std::string::npos);
  CHECK(skrctl({"rotate", "../x", socket}).exit_code == 2);
  CHECK(skrctl({"rotate", socket}).exit_code == 2);

  ProcessResult metrics = skrctl({"metrics", socket});
  CHECK(metrics.exit_code == 0);
  CHECK(metrics.out.find("skr_releases_total{reason=\"rotate\",outcome=\"ok\"} 1") !=
        std::string::npos);
  CHECK(metrics.out.find("skr_token_expiry_timestamp_seconds{token=\"maa\"}") != std::string::npos);
  CHECK(skrctl({"reload", socket}).exit_code == 0);

  // The client socket is not the admin socket: admin routes are refused there (6 = 403).
  CHECK(skrctl({"status", "--socket=" + agent.client()}).exit_code == 6);
  CHECK(agent.terminate() == 0);
  // No agent: 8, naming the socket.
  ProcessResult down = skrctl({"status", socket});
  CHECK(down.exit_code == 8);
  CHECK(down.err.find(agent.admin()) != std::string::npos);
}

}  // namespace
TEST_CASE(
    "skrctl health answers for exec probes: 0 when alive / ready, the admin socket found in the "
    "agent's own SKR_CONFIG_YAML, 8 when the agent is gone",
    "[agent][skrctl]") {
  InitWorld world;
  world.createKey("vault", "probe-kek", R"("kty":"RSA-HSM","key_size":2048)");
  AgentProcess agent(world,
                     world.configYaml({{"probe-kek", "vault"}}, world.managedIdentityYaml()));
  agent.waitReady();
  INFO(agent.stderrText());

  CHECK(skrctl({"health", "--socket=" + agent.admin()}).exit_code == 0);
  ProcessResult ready = skrctl({"health", "--ready", "--socket=" + agent.admin()});
  INFO(ready.err);
  CHECK(ready.exit_code == 0);

  // In the agent's container the probe runs with the agent's environment and no flags.
  ProcessOptions in_container;
  in_container.env["SKR_CONFIG_YAML"] =
      "agent:\n  admin_socket: " + agent.admin() + "\n  client_socket: " + agent.client() + "\n";
  in_container.unset_env = {"SKR_ADMIN_SOCKET"};
  ProcessResult probe = runProcess(SKR_SKRCTL_PATH, {"health", "--ready"}, in_container);
  INFO(probe.err);
  CHECK(probe.exit_code == 0);

  // A configuration that does not load is a usage error that names the key.
  ProcessOptions broken;
  broken.env["SKR_CONFIG_YAML"] = "agent:\n  admin_sockt: /x\n";
  ProcessResult bad = runProcess(SKR_SKRCTL_PATH, {"health"}, broken);
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("admin_sockt") != std::string::npos);
  CHECK(skrctl({"health", "extra", "--socket=" + agent.admin()}).exit_code == 2);

  CHECK(agent.terminate() == 0);
  ProcessResult down = runProcess(SKR_SKRCTL_PATH, {"health", "--ready"}, in_container);
  CHECK(down.exit_code == 8);
  CHECK(down.err.find(agent.admin()) != std::string::npos);
}

}  // namespace skr::testing
