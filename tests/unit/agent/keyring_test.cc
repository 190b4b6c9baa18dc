#include "agent/keyring.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <thread>

#include "agent/key_operations.h"
#include "tests/unit/agent/agent_test_util.h"

namespace skr::agent {
namespace {

using testing::kidOf;
using testing::octJwk;
using testing::rsaJwk;
using testing::rsaPrivate2048;
using testing::take;
using testing::versionOf;

namespace fs = std::filesystem;

struct TempDir {
  TempDir() {
    std::string templ = (fs::temp_directory_path() / "skr-agent-test-XXXXXX").string();
    REQUIRE(::mkdtemp(templ.data()) != nullptr);
    path = templ;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string path;
};

std::unique_ptr<seal::SealingKeyProvider> keyfileProvider(const TempDir& dir) {
  const std::string path = dir.path + "/sealing.key";
  const Bytes key = crypto::randomBytes(32);
  {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(key.data()), static_cast<std::streamsize>(key.size()));
  }
  REQUIRE(::chmod(path.c_str(), 0400) == 0);
  return take(seal::makeKeyfileProvider(path));
}

seal::BundleInfo infoFor(const std::string& name, const std::string& version) {
  seal::BundleInfo info;
  info.kind = seal::BundleKind::Key;
  info.key_name = name;
  info.vault = "myvault.vault.azure.net";
  info.kid = kidOf(name, version);
  info.key_ops = {"wrapKey", "unwrapKey"};
  info.released_at = take(parseRfc3339("2026-11-28T10:00:00Z"));
  info.maa = seal::MaaTokenInfo::describe("https://maa.example", "a.b.c",
                                          take(parseRfc3339("2026-11-28T18:00:00Z")));
  info.hostdata = std::string(64, 'a');
  info.platform = "sev-guest";
  info.emulated = false;
  return info;
}

TEST_CASE("the keyring loads sealed bundles and reports a tampered one without loading it") {
  TempDir tmp;
  auto provider = keyfileProvider(tmp);
  seal::StateDirOptions options;
  options.path = tmp.path + "/state";
  seal::StateDir state = take(seal::StateDir::open(options));

  const jose::Jwk v1 = octJwk(32);
  const std::string v1_text = take(seal::sealKey(infoFor("data-kek", "v1"), v1, *provider));
  REQUIRE(state.writeVersion("data-kek", "v1", v1_text).ok());
  REQUIRE(state
              .writeVersion("data-kek", "v2",
                            take(seal::sealKey(infoFor("data-kek", "v2"), octJwk(32), *provider)))
              .ok());
  REQUIRE(state.setCurrent("data-kek", "v2").ok());
  REQUIRE(state.writeGeneration("data-kek", 7).ok());
  // Tampered: the hostdata (part of the AAD) changed after sealing.
  std::string tampered = take(seal::sealKey(infoFor("data-kek", "v3"), octJwk(32), *provider));
  const std::size_t at = tampered.find(std::string(64, 'a'));
  REQUIRE(at != std::string::npos);
  tampered.replace(at, 64, std::string(64, 'b'));
  REQUIRE(state.writeVersion("data-kek", "v3", tampered).ok());
  // A second key, RSA, whose `current` is fine.
  REQUIRE(state
              .writeVersion("rsa-kek", "r1",
                            take(seal::sealKey(infoFor("rsa-kek", "r1"), rsaJwk(rsaPrivate2048()),
                                               *provider)))
              .ok());
  REQUIRE(state.setCurrent("rsa-kek", "r1").ok());

  Keyring keyring;
  std::vector<KeyLoadResult> results =
      take(keyring.loadFromStateDir(state, *provider, seal::OpenOptions{}));
  REQUIRE(results.size() == 2);
  const KeyLoadResult& data = results[0];
  CHECK(data.name == "data-kek");
  CHECK(data.loaded_versions == std::vector<std::string>{"v1", "v2"});
  CHECK(data.primary == "v2");
  REQUIRE(data.errors.size() == 1);
  CHECK(data.errors[0].file == "data-kek/v3.json");
  CHECK(data.errors[0].status.code() == StatusCode::DataLoss);
  CHECK(results[1].primary == "r1");
  CHECK(results[1].errors.empty());
  // The generation is the file's (what apps watching it see), not a count of this load's changes.
  CHECK(keyring.entry("data-kek")->generation == 7);
  CHECK(keyring.entry("rsa-kek")->generation == 0);

  std::shared_ptr<const KeyVersion> primary = take(keyring.find("data-kek", std::nullopt));
  CHECK(primary->version == "v2");
  CHECK(primary->kid == kidOf("data-kek", "v2"));
  CHECK(primary->key_ops == std::vector<std::string>{"wrapKey", "unwrapKey"});
  CHECK(keyring.find("data-kek", "v3").status().code() == StatusCode::NotFound);
  CHECK(keyring.entry("data-kek")->last_error.find("data-kek/v3.json: DataLoss") == 0);

  // The loaded v1 is the sealed key: a wrap with the original unwraps with the loaded one.
  const SecretBytes dek = crypto::randomSecret(32);
  KeyVersion sealed_v1 =
      versionOf("data-kek", "v1", take(jose::Jwk::fromOctet(take(v1.octet())->clone())));
  const Bytes wrapped = take(wrapKey(sealed_v1, KeyAlgorithm::A256Kw, dek));
  CHECK(take(unwrapKey(*take(keyring.find("data-kek", "v1")), KeyAlgorithm::A256Kw, wrapped)) ==
        dek);
  CHECK(take(keyring.find("rsa-kek", std::nullopt))->kty == jose::JwkType::Rsa);
}

TEST_CASE("a key whose current file is missing has no primary rather than a guessed one") {
  TempDir tmp;
  auto provider = keyfileProvider(tmp);
  seal::StateDirOptions options;
  options.path = tmp.path + "/state";
  seal::StateDir state = take(seal::StateDir::open(options));
  REQUIRE(state
              .writeVersion("data-kek", "v1",
                            take(seal::sealKey(infoFor("data-kek", "v1"), octJwk(32), *provider)))
              .ok());
  Keyring keyring;
  std::vector<KeyLoadResult> results =
      take(keyring.loadFromStateDir(state, *provider, seal::OpenOptions{}));
  REQUIRE(results.size() == 1);
  CHECK(results[0].loaded_versions == std::vector<std::string>{"v1"});
  CHECK(results[0].primary.empty());
  REQUIRE(results[0].errors.size() == 1);
  CHECK(results[0].errors[0].file == "data-kek/current");
  StatusOr<std::shared_ptr<const KeyVersion>> primary = keyring.find("data-kek", std::nullopt);
  REQUIRE_FALSE(primary.ok());
  CHECK(primary.status().code() == StatusCode::FailedPrecondition);
  CHECK(take(keyring.find("data-kek", "v1"))->version == "v1");
}

TEST_CASE("a reload that cannot verify current keeps the primary verified before") {
  TempDir tmp;
  auto provider = keyfileProvider(tmp);
  seal::StateDirOptions options;
  options.path = tmp.path + "/state";
  seal::StateDir state = take(seal::StateDir::open(options));
  REQUIRE(state
              .writeVersion("data-kek", "v1",
                            take(seal::sealKey(infoFor("data-kek", "v1"), octJwk(32), *provider)))
              .ok());
  REQUIRE(state.setCurrent("data-kek", "v1").ok());
  Keyring keyring;
  REQUIRE(take(keyring.loadFromStateDir(state, *provider, seal::OpenOptions{}))[0].primary == "v1");

  // The current bundle is replaced by one in another key's name: it does not load on reload.
  REQUIRE(state
              .writeVersion("data-kek", "v1",
                            take(seal::sealKey(infoFor("other-kek", "v1"), octJwk(32), *provider)))
              .ok());
  std::vector<KeyLoadResult> reloaded =
      take(keyring.loadFromStateDir(state, *provider, seal::OpenOptions{}));
  REQUIRE(reloaded.size() == 1);
  CHECK(reloaded[0].primary.empty());
  CHECK(!reloaded[0].errors.empty());
  CHECK(take(keyring.find("data-kek", std::nullopt))->version == "v1");
  CHECK(keyring.entry("data-kek")->last_error.find("data-kek/v1.json") == 0);
}

TEST_CASE("a bundle lying in another key's directory is reported, not loaded") {
  TempDir tmp;
  auto provider = keyfileProvider(tmp);
  seal::StateDirOptions options;
  options.path = tmp.path + "/state";
  seal::StateDir state = take(seal::StateDir::open(options));
  REQUIRE(state
              .writeVersion("other-kek", "v1",
                            take(seal::sealKey(infoFor("data-kek", "v1"), octJwk(32), *provider)))
              .ok());
  Keyring keyring;
  std::vector<KeyLoadResult> results =
      take(keyring.loadFromStateDir(state, *provider, seal::OpenOptions{}));
  REQUIRE(results.size() == 1);
  CHECK(results[0].loaded_versions.empty());
  REQUIRE(results[0].errors.size() == 2);
  CHECK(results[0].errors[0].status.message() ==
        "bundle names key 'data-kek' but lies in directory 'other-kek'");
}

TEST_CASE("an emulation-stamped bundle is refused by a production-mode keyring") {
  TempDir tmp;
  auto provider = keyfileProvider(tmp);
  seal::StateDirOptions options;
  options.path = tmp.path + "/state";
  seal::StateDir state = take(seal::StateDir::open(options));
  seal::BundleInfo info = infoFor("data-kek", "v1");
  info.emulated = true;
  info.platform = "emulated";
  REQUIRE(
      state.writeVersion("data-kek", "v1", take(seal::sealKey(info, octJwk(32), *provider))).ok());
  Keyring keyring;
  std::vector<KeyLoadResult> results =
      take(keyring.loadFromStateDir(state, *provider, seal::OpenOptions{false}));
  REQUIRE(results[0].errors.size() == 2);
  CHECK(results[0].errors[0].status.code() == StatusCode::FailedPrecondition);
  CHECK(results[0].loaded_versions.empty());
}

TEST_CASE("add, set primary and retire count as changes and protect the primary") {
  Keyring keyring;
  REQUIRE(keyring.addVersion(versionOf("k", "v1", octJwk(32)), false).ok());
  CHECK(keyring.entry("k")->primary == "v1");  // the first version becomes primary
  REQUIRE(keyring.addVersion(versionOf("k", "v2", octJwk(32)), false).ok());
  CHECK(keyring.entry("k")->primary == "v1");
  REQUIRE(keyring.setPrimary("k", "v2").ok());
  CHECK(keyring.entry("k")->changes == 3);
  Status refused = keyring.retire("k", "v2");
  CHECK(refused.code() == StatusCode::FailedPrecondition);
  REQUIRE(keyring.retire("k", "v1").ok());
  CHECK(keyring.entry("k")->changes == 4);
  CHECK(keyring.find("k", "v1").status().message() == "version 'v1' of key 'k' not found");
  CHECK(keyring.setPrimary("k", "v9").code() == StatusCode::NotFound);
  CHECK(keyring.find("nope", std::nullopt).status().message() == "key 'nope' not found");
}

TEST_CASE("readers keep their snapshot while a writer changes the key", "[concurrency]") {
  Keyring keyring;
  REQUIRE(keyring.addVersion(versionOf("k", "v1", octJwk(32)), true).ok());
  std::shared_ptr<const KeyEntry> before = keyring.entry("k");
  std::atomic<bool> stop{false};
  std::atomic<int> reads{0};
  std::thread reader([&] {
    while (!stop.load()) {
      if (keyring.find("k", std::nullopt).ok()) reads.fetch_add(1);
    }
  });
  for (int i = 2; i <= 50; ++i) {
    REQUIRE(keyring.addVersion(versionOf("k", "v" + std::to_string(i), octJwk(32)), true).ok());
  }
  stop.store(true);
  reader.join();
  CHECK(before->versions.size() == 1);
  CHECK(before->primary == "v1");
  CHECK(keyring.entry("k")->versions.size() == 50);
  CHECK(keyring.entry("k")->primary == "v50");
}

}  // namespace
}  // namespace skr::agent
