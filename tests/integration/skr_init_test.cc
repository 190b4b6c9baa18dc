// skr-init, the real binary, against skr-emulator over HTTPS (issue 5 "Done when"): releases of
// every key type under every enc through managed and workload identity, attest-and-defer,
// --dry-run, and the end-to-end run through the LD_PRELOAD /dev/sev-guest seam. Each test opens
// the bundles skr-init wrote and compares the key material with what the emulator holds, and
// scans everything skr-init and the emulator printed for tokens and key material.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "common/seal/bundle.h"
#include "common/seal/state_dir.h"
#include "tests/integration/init_world.h"

namespace skr::testing {
namespace {

const char* const kEncs[] = {"CKM_RSA_AES_KEY_WRAP", "RSA_AES_KEY_WRAP_256",
                             "RSA_AES_KEY_WRAP_384"};

struct KeyType {
  std::string stem;
  std::string listener;
  std::string spec;
};

const std::vector<KeyType>& keyTypes() {
  static const std::vector<KeyType> types = {
      {"rsa2048", "vault", R"("kty":"RSA-HSM","key_size":2048)"},
      {"rsa3072", "vault", R"("kty":"RSA-HSM","key_size":3072)"},
      {"ecp256", "vault", R"("kty":"EC-HSM","crv":"P-256")"},
      {"ecp384", "vault", R"("kty":"EC-HSM","crv":"P-384")"},
      {"oct256", "mhsm", R"("kty":"oct-HSM","key_size":256)"},
  };
  return types;
}

TEST_CASE(
    "skr-init releases RSA 2048/3072, EC P-256/P-384 and oct 256 under each enc through managed "
    "identity, and each bundle holds the emulator's key",
    "[init][release]") {
  InitWorld world;
  for (const KeyType& type : keyTypes()) world.createKey(type.listener, type.stem, type.spec);
  // Each enc in its own run and state dir (a config names each key once).
  for (const char* enc : kEncs) {
    std::vector<InitKey> run;
    for (const KeyType& type : keyTypes()) run.push_back({type.stem, type.listener, enc});
    std::filesystem::remove_all(world.stateDir());
    ProcessResult r = world.runInit(world.configYaml(run, world.managedIdentityYaml()));
    INFO(enc);
    REQUIRE(r.exit_code == 0);
    json::ObjectPtr done = lastEvent(r.err, "done");
    CHECK(done->getValue<int>("exit_code") == 0);
    for (const KeyType& type : keyTypes()) world.expectSameMaterial(type.listener, type.stem);
    // The progress lines name each step; the release steps name the key and the vault host.
    int releases = 0;
    for (const json::ObjectPtr& line : jsonLines(r.err)) {
      if (line->optValue<std::string>("event", "") != "step") continue;
      CHECK(line->optValue<std::string>("status", "") == "ok");
      if (line->optValue<std::string>("step", "") == "release") {
        ++releases;
        CHECK(!line->optValue<std::string>("key", "").empty());
        CHECK(line->optValue<std::string>("host", "").find("127.0.0.1:") == 0);
      }
    }
    CHECK(releases == static_cast<int>(keyTypes().size()));
  }
  world.expectNoSecretsInOutput();
}

TEST_CASE("skr-init releases through workload identity (federated token file)",
          "[init][release][workload]") {
  InitWorld world;
  EmulatorProcess& emu = world.emulator();
  json::ObjectPtr app = emu.admin(
      "POST", "/_emulator/identities",
      R"({"kind":"app","name":"skr","federated_credentials":[{"subject":"system:serviceaccount:apps:skr"}]})");
  const std::string object_id = app->getValue<std::string>("object_id");
  assignRole(emu, object_id, "Key Vault Crypto Service Release User", "vault");
  assignRole(emu, object_id, "Managed HSM Crypto Service Release User", "mhsm");
  world.createKey("vault", "wi-rsa", R"("kty":"RSA-HSM","key_size":2048)");
  world.createKey("mhsm", "wi-oct", R"("kty":"oct-HSM","key_size":256)");
  const std::string token_file = world.dir() + "/sa-token";
  std::ofstream(token_file) << emu.admin("POST", "/_emulator/service-account-token",
                                         R"({"namespace":"apps","service_account":"skr"})")
                                   ->getValue<std::string>("token");
  const std::string identity =
      "  kind: workload\n  client_id: " + app->getValue<std::string>("client_id") +
      "\n  tenant_id: " + emu.env().at("SKR_EMULATOR_TENANT_ID") +
      "\n  federated_token_file: " + token_file + "\n  authority_host: " + emu.url("entra") + "\n";
  ProcessResult r = world.runInit(world.configYaml(
      {{"wi-rsa", "vault"}, {"wi-oct", "mhsm", "CKM_RSA_AES_KEY_WRAP"}}, identity));
  REQUIRE(r.exit_code == 0);
  world.expectSameMaterial("vault", "wi-rsa");
  world.expectSameMaterial("mhsm", "wi-oct");
  world.expectNoSecretsInOutput();
}

TEST_CASE(
    "with identity none skr-init attests and writes a pending bundle per key (attest-and-defer)",
    "[init][defer]") {
  InitWorld world;
  ProcessResult r = world.runInit(
      world.configYaml({{"deferred-a", "vault"}, {"deferred-b", "mhsm"}}, "  kind: none\n"));
  REQUIRE(r.exit_code == 0);
  CHECK(lastEvent(r.err, "done")->getValue<std::string>("message").find("attest-and-defer") !=
        std::string::npos);
  // Nothing asked Key Vault or Managed HSM for anything.
  json::ObjectPtr requests = world.emulator().admin("GET", "/_emulator/requests");
  for (const auto& entry : *requests->getArray("requests")) {
    const std::string listener =
        entry.extract<Poco::JSON::Object::Ptr>()->getValue<std::string>("listener");
    CHECK(listener != "vault");
    CHECK(listener != "mhsm");
  }
  std::map<std::string, std::string> files = world.snapshotState();
  REQUIRE(files.count("deferred-a/pending.json") == 1);
  REQUIRE(files.count("deferred-b/pending.json") == 1);
  CHECK(files.count("deferred-a/current") == 0);
  StatusOr<seal::SealedBundle> pending =
      seal::SealedBundle::parse(files["deferred-a/pending.json"]);
  REQUIRE(pending.ok());
  CHECK(pending->info().kind == seal::BundleKind::Pending);
  CHECK(pending->info().kid == world.emulator().url("vault") + "/keys/deferred-a");
  CHECK(pending->info().maa.issuer == world.emulator().url("maa"));
  CHECK(pending->info().hostdata == kInitHostData);
  CHECK(pending->provider() == "emulated");
  world.expectNoSecretsInOutput();
}

TEST_CASE("skr-init --dry-run attests and verifies but releases and writes nothing",
          "[init][dry-run]") {
  InitWorld world;
  world.createKey("vault", "dry", R"("kty":"RSA-HSM","key_size":2048)");
  ProcessResult r = world.runInit(world.configYaml({{"dry", "vault"}}, world.managedIdentityYaml()),
                                  {"--dry-run"});
  REQUIRE(r.exit_code == 0);
  CHECK(lastEvent(r.err, "done")->getValue<std::string>("message").find("dry run") == 0);
  CHECK_FALSE(std::filesystem::exists(world.stateDir()));
  // No release was asked for (the request log may still show the key's creation).
  json::ObjectPtr requests = world.emulator().admin("GET", "/_emulator/requests?listener=vault");
  for (const auto& entry : *requests->getArray("requests")) {
    CHECK(entry.extract<Poco::JSON::Object::Ptr>()->getValue<std::string>("path").find(
              "/release") == std::string::npos);
  }
}

TEST_CASE("skr-init --help, --version and usage errors", "[init][cli]") {
  ProcessResult help = runProcess(SKR_INIT_PATH, {"--help"});
  CHECK(help.exit_code == 0);
  CHECK(help.out.find("usage: skr-init") == 0);
  CHECK(help.out.find("attest-and-defer") != std::string::npos);
  ProcessResult version = runProcess(SKR_INIT_PATH, {"--version"});
  CHECK(version.exit_code == 0);
  CHECK(version.out.find("skr-init ") == 0);
  ProcessResult bad = runProcess(SKR_INIT_PATH, {"--frobnicate"});
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("unknown argument '--frobnicate'") != std::string::npos);
  ProcessResult timeout = runProcess(SKR_INIT_PATH, {"--timeout", "soon"});
  CHECK(timeout.exit_code == 2);
  CHECK(timeout.err.find("--timeout") != std::string::npos);
  ProcessOptions options;
  options.env["SKR_CONFIG_YAML"] =
      "state_dir: /tmp/x\nkeys:\n  - name: a\n    vault: myvault\n    enc: RSA\n";
  ProcessResult config = runProcess(SKR_INIT_PATH, {}, options);
  CHECK(config.exit_code == 2);
  CHECK(lastEvent(config.err, "failed")->getValue<std::string>("message").find("keys[0].enc") !=
        std::string::npos);
}

TEST_CASE(
    "end to end through the LD_PRELOAD /dev/sev-guest seam: the production ioctl path attests, "
    "releases and seals with the snp-derived key",
    "[init][preload]") {
  InitWorld world;
  world.createKey("vault", "e2e", R"("kty":"RSA-HSM","key_size":2048)");
  std::string yaml = world.configYaml({{"e2e", "vault"}}, world.managedIdentityYaml());
  // The production device and sealing paths instead of the emulated ones.
  auto replace = [&](const std::string& from, const std::string& to) {
    const std::size_t at = yaml.find(from);
    REQUIRE(at != std::string::npos);
    yaml.replace(at, from.size(), to);
  };
  replace(
      "  kind: emulated\n  chip_dir: " + world.emulator().env().at("SKR_EMULATOR_CHIP_DIR") + "\n",
      "  kind: sev-guest\n");
  replace("provider: emulated", "provider: snp-derived");
  ProcessResult r =
      world.runInit(yaml, {},
                    {{"LD_PRELOAD", SKR_SEV_PRELOAD_PATH},
                     {"SKR_FAKE_SEV_CHIP_DIR", world.emulator().env().at("SKR_EMULATOR_CHIP_DIR")},
                     {"SKR_FAKE_SEV_DEVICES", "sev-guest"},
                     {"ASAN_OPTIONS", "verify_asan_link_order=0:detect_leaks=0"}});
  REQUIRE(r.exit_code == 0);
  std::map<std::string, std::string> files = world.snapshotState();
  REQUIRE(files.count("e2e/current") == 1);
  std::string version = files["e2e/current"];
  version.erase(version.find('\n'));
  StatusOr<seal::SealedBundle> bundle =
      seal::SealedBundle::parse(files["e2e/" + version + ".json"]);
  REQUIRE(bundle.ok());
  CHECK(bundle->info().platform == "sev-guest");
  CHECK(bundle->provider() == "snp-derived");
  CHECK(bundle->encrypted());
  // The token came from the emulated MAA, so the bundle carries the emulation stamp.
  CHECK(bundle->info().emulated);
  CHECK(bundle->info().hostdata == kInitHostData);
  world.expectNoSecretsInOutput();
}

}  // namespace
}  // namespace skr::testing
