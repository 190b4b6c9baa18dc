// skrctl keys / wrap / unwrap / encrypt / decrypt / rewrap / events against a real skr-agent's
// client socket (through skr::AgentClient) and skr-emulator: envelopes round-trip, the kid picks
// the version, errors map to DESIGN §9 exit codes with the agent's AKV code.
#include <openssl/rand.h>

#include <catch2/catch.hpp>
#include <string>

#include "common/encoding/base64.h"
#include "tests/integration/agent_process.h"
#include "tests/integration/init_world.h"
#include "tests/integration/process.h"

namespace skr::testing {
namespace {

struct Ctl {
  std::string socket;
  ProcessResult operator()(const std::vector<std::string>& args, const std::string& in = {}) const {
    ProcessOptions options;
    options.env["SKR_AGENT_SOCKET"] = socket;
    options.stdin_data = in;
    return runProcess(SKR_SKRCTL_PATH, args, options);
  }
};

std::string randomBytes(std::size_t n) {
  std::string out(n, '\0');
  REQUIRE(RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) == 1);
  return out;
}

TEST_CASE(
    "skrctl wrap, unwrap, encrypt, decrypt, rewrap, keys and events work on the agent's client "
    "socket, and the envelope's kid picks the version",
    "[agent][skrctl][client]") {
  InitWorld world;
  world.createKey("vault", "app-kek", R"("kty":"RSA-HSM","key_size":2048)");
  world.createKey("mhsm", "app-aes", R"("kty":"oct-HSM","key_size":256)");
  AgentProcess agent(world, world.configYaml({{"app-kek", "vault"}, {"app-aes", "mhsm"}},
                                             world.managedIdentityYaml()));
  agent.waitReady();
  INFO(agent.stderrText());
  const Ctl skrctl{agent.client()};

  ProcessResult keys = skrctl({"keys"});
  INFO(keys.err);
  REQUIRE(keys.exit_code == 0);
  CHECK(keys.out.rfind("NAME\tKTY\tSTATE\tPRIMARY\tVERSIONS\n", 0) == 0);
  CHECK(keys.out.find("\napp-kek\t") != std::string::npos);
  CHECK(keys.out.find("\napp-aes\t") != std::string::npos);
  CHECK(parsed(UdsResponse{false, "", 200, {}, skrctl({"keys", "--json"}).out})->has("value"));

  // wrap: a DEK on stdin, an envelope out; unwrap gives the same bytes back, raw or base64.
  const std::string dek = randomBytes(32);
  ProcessResult wrapped = skrctl({"wrap", "app-kek"}, dek);
  INFO(wrapped.err);
  REQUIRE(wrapped.exit_code == 0);
  json::ObjectPtr envelope = parsed(UdsResponse{false, "", 200, {}, wrapped.out});
  const std::string old_kid = envelope->getValue<std::string>("kid");
  CHECK(old_kid.find("/keys/app-kek/") != std::string::npos);
  CHECK(envelope->getValue<std::string>("alg") == "RSA-OAEP-256");
  ProcessResult unwrapped = skrctl({"unwrap"}, wrapped.out);
  INFO(unwrapped.err);
  CHECK(unwrapped.exit_code == 0);
  CHECK(unwrapped.out == dek);
  const std::string dek_b64 = encoding::base64UrlEncode(asBytes(dek));
  CHECK(skrctl({"unwrap", "--base64"}, wrapped.out).out == dek_b64 + "\n");
  ProcessResult from_text = skrctl({"wrap", "app-kek", "--base64"}, dek_b64 + "\n");
  CHECK(skrctl({"unwrap"}, from_text.out).out == dek);

  // encrypt / decrypt inside the agent with A256GCM (the default for an oct key), with AAD.
  ProcessResult sealed = skrctl({"encrypt", "app-aes", "--aad", "row-17"}, "the data");
  INFO(sealed.err);
  REQUIRE(sealed.exit_code == 0);
  json::ObjectPtr sealed_json = parsed(UdsResponse{false, "", 200, {}, sealed.out});
  CHECK(sealed_json->getValue<std::string>("alg") == "A256GCM");
  CHECK(sealed_json->has("iv"));
  CHECK(sealed_json->has("tag"));
  CHECK(skrctl({"decrypt", "--aad", "row-17"}, sealed.out).out == "the data");
  ProcessResult wrong_aad = skrctl({"decrypt", "--aad", "row-18"}, sealed.out);
  CHECK(wrong_aad.exit_code == 2);
  CHECK(wrong_aad.err.find("HTTP 400 BadParameter") != std::string::npos);

  // Rotation: rewrap moves the envelope to the new primary; both kids still unwrap.
  const std::string new_kid = rotateInVault(world, "app-kek");
  REQUIRE(
      runProcess(SKR_SKRCTL_PATH, {"rotate", "app-kek", "--socket=" + agent.admin()}).exit_code ==
      0);
  ProcessResult rewrapped = skrctl({"rewrap", "app-kek"}, wrapped.out);
  INFO(rewrapped.err);
  REQUIRE(rewrapped.exit_code == 0);
  CHECK(parsed(UdsResponse{false, "", 200, {}, rewrapped.out})->getValue<std::string>("kid") ==
        new_kid);
  CHECK(skrctl({"unwrap"}, rewrapped.out).out == dek);
  CHECK(skrctl({"unwrap"}, wrapped.out).out == dek);  // the old version still serves

  ProcessResult events = skrctl({"events"});
  CHECK(events.exit_code == 0);
  CHECK(events.out.find("\"type\":\"rotated\"") != std::string::npos);
  CHECK(events.out.find("\"type\":\"ready\"") != std::string::npos);

  // Errors: the agent's AKV code in the line, DESIGN §9 exit codes.
  ProcessResult unknown = skrctl({"wrap", "no-such-key", "--alg", "RSA-OAEP-256"}, dek);
  CHECK(unknown.exit_code == 7);
  CHECK(unknown.err.find("HTTP 404 KeyNotFound") != std::string::npos);
  ProcessResult bad_version = skrctl({"unwrap", "app-kek/0123456789abcdef"}, wrapped.out);
  CHECK(bad_version.exit_code == 7);
  CHECK(bad_version.err.find("VersionNotFound") != std::string::npos);
  CHECK(skrctl({"unwrap"}, "not json").exit_code == 2);
  CHECK(skrctl({"wrap", "../etc"}, dek).exit_code == 2);
  ProcessResult admin_route =
      runProcess(SKR_SKRCTL_PATH, {"wrap", "app-kek", "--socket=" + agent.admin()},
                 ProcessOptions{{}, {}, dek});
  CHECK(admin_route.exit_code == 6);  // key operations are refused on the admin socket

  ProcessOptions no_env;
  no_env.unset_env = {"SKR_AGENT_SOCKET"};
  ProcessResult no_socket = runProcess(SKR_SKRCTL_PATH, {"keys"}, no_env);
  CHECK(no_socket.exit_code == 2);
  CHECK(no_socket.err.find("SKR_AGENT_SOCKET") != std::string::npos);

  CHECK(agent.terminate() == 0);
  ProcessResult down = skrctl({"keys"});
  CHECK(down.exit_code == 8);
  CHECK(down.err.find(agent.client()) != std::string::npos);
}

}  // namespace
}  // namespace skr::testing
