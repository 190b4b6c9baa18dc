#include "agent/key_provisioner.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "common/crypto/random.h"
#include "common/release/released_bundle.h"
#include "tests/fakes/fake_clock.h"
#include "tests/unit/agent/agent_test_util.h"

namespace skr::agent {
namespace {

using namespace std::chrono_literals;
using testing::rsaJwk;
using testing::rsaPrivate2048;
using testing::rsaPrivate2048b;
using testing::take;

namespace fs = std::filesystem;

constexpr const char* kVaultHost = "v.vault.azure.net";

// The release flow, faked: attestations with a token valid for `token_validity`, releases of the
// version in `latest[key]` (key material alternates between two fixed RSA keys per version).
class FakeBackend final : public ReleaseBackend {
 public:
  explicit FakeBackend(Clock& clock) : clock_(clock) {}

  release::StepResult<release::Attestation> attest() override {
    ++attests;
    return attestationWith(take(azure::TransferKey::fromPrivateKey(copyOf(rsaPrivate2048b()))));
  }
  release::StepResult<release::Attestation> attestWith(azure::TransferKey transfer) override {
    ++attests_with;
    return attestationWith(std::move(transfer));
  }
  StatusOr<azure::MaaToken> verifyToken(std::string_view token,
                                        const jose::Jwk& transfer_public) override {
    ++verifies;
    verified_transfer_kid = transfer_public.kid();
    if (token != "pending.token.sig") return dataLossError("token does not verify");
    azure::MaaToken out;
    out.token = std::string(token);
    out.issuer = "https://maa.example";
    out.expires_at = clock_.now() + pending_token_validity;
    out.hostdata = std::string(64, 'b');
    return out;
  }
  release::StepResult<azure::ReleasedKey> release(const release::Attestation& attestation,
                                                  const config::KeyConfig& key,
                                                  const std::string& version) override {
    ++releases;
    released_with_transfer_kid = attestation.transfer.public_jwk.kid();
    if (fail_next > 0) {
      --fail_next;
      return release::StepFailure{release::Step::Release, kVaultHost,
                                  Status(StatusCode::PermissionDenied, "AKV answered 403")};
    }
    const std::string v = version.empty() ? latest[key.name] : version;
    azure::ReleasedKey out{rsaJwk(v.back() % 2 == 1 ? rsaPrivate2048() : rsaPrivate2048b()),
                           "https://" + std::string(kVaultHost) + "/keys/" + key.name + "/" + v,
                           v,
                           kVaultHost,
                           "RSA-HSM",
                           azure::KeyExportEnc::RsaAesKeyWrap256,
                           1};
    out.key.setKid(out.kid);
    return out;
  }

  static crypto::PrivateKey copyOf(const crypto::PrivateKey& key) {
    return take(crypto::PrivateKey::fromPkcs8Der(key.toPkcs8Der()));
  }

  int attests = 0, attests_with = 0, verifies = 0, releases = 0, fail_next = 0;
  std::chrono::seconds token_validity = 8h, pending_token_validity = 8h;
  std::map<std::string, std::string> latest;
  std::string verified_transfer_kid, released_with_transfer_kid;

 private:
  release::Attestation attestationWith(azure::TransferKey transfer) {
    azure::MaaToken token;
    token.token = "fresh.token.sig";
    token.issuer = "https://maa.example";
    token.expires_at = clock_.now() + token_validity;
    token.hostdata = std::string(64, 'a');
    std::string runtime = azure::runtimeDataJson(transfer.public_jwk);
    return release::Attestation{std::move(transfer), std::move(runtime), {}, {},
                                "sev-guest",         std::move(token)};
  }
  Clock& clock_;
};

struct World {
  World() {
    std::string templ = (fs::temp_directory_path() / "skr-prov-test-XXXXXX").string();
    REQUIRE(::mkdtemp(templ.data()) != nullptr);
    dir = templ;
    const std::string key_path = dir + "/sealing.key";
    {
      const Bytes key = crypto::randomBytes(32);
      std::ofstream out(key_path, std::ios::binary);
      out.write(reinterpret_cast<const char*>(key.data()),
                static_cast<std::streamsize>(key.size()));
    }
    REQUIRE(::chmod(key_path.c_str(), 0400) == 0);
    sealing = take(seal::makeKeyfileProvider(key_path));
    seal::StateDirOptions options;
    options.path = dir + "/state";
    state.emplace(take(seal::StateDir::open(std::move(options))));
    config::KeyConfig key;
    key.name = "kek";
    key.vault_url = std::string("https://") + kVaultHost;
    config.keys.push_back(key);
    config.seal.provider = seal::SealProviderKind::Keyfile;
    backend.latest["kek"] = "v1";
  }
  ~World() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  // A provisioner over a fresh keyring (an agent start).
  std::unique_ptr<KeyProvisioner> start(config::ReleaseOnStart policy) {
    keyring = std::make_shared<Keyring>();
    events = std::make_shared<EventLog>();
    ProvisionerOptions options;
    options.release_on_start = policy;
    auto p = std::make_unique<KeyProvisioner>(config, backend, *sealing, *state, keyring, events,
                                              clock, &metrics, options);
    REQUIRE(p->loadBundles().ok());
    return p;
  }
  std::string file(const std::string& relative) const {
    std::ifstream in(dir + "/state/" + relative, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  std::string lastError() const { return keyring->entry("kek")->last_error; }
  std::string primary() const { return keyring->entry("kek")->primary; }

  std::string dir;
  skr::testing::FakeClock clock;
  FakeBackend backend{clock};
  std::unique_ptr<seal::SealingKeyProvider> sealing;
  std::optional<seal::StateDir> state;
  config::Config config;
  std::shared_ptr<Keyring> keyring;
  std::shared_ptr<EventLog> events;
  AgentMetrics metrics;
};

TEST_CASE("a key without a bundle is released, sealed, written and made primary (if-missing)",
          "[agent][provisioner]") {
  World w;
  auto p = w.start(config::ReleaseOnStart::IfMissing);
  CHECK(!p->allReady());
  CHECK(p->provision());
  CHECK(w.backend.releases == 1);
  CHECK(w.primary() == "v1");
  CHECK(w.file("kek/current") == "v1\n");
  CHECK(w.file("kek/generation") == "1\n");
  CHECK(w.keyring->entry("kek")->generation == 1);
  CHECK(w.file("kek/v1.json").find("\"format\":\"skr-sealed-key/1\"") != std::string::npos);
  EventBatch events = w.events->after(0);
  REQUIRE(events.events.size() == 1);
  CHECK(events.events[0].type == EventType::Released);
  CHECK(events.events[0].version == "v1");

  SECTION("a restart serves the bundle without releasing") {
    auto again = w.start(config::ReleaseOnStart::IfMissing);
    CHECK(again->allReady());
    CHECK(again->provision());
    CHECK(w.backend.releases == 1);
    CHECK(w.primary() == "v1");
  }
  SECTION("always releases again even with a bundle") {
    w.backend.latest["kek"] = "v3";
    auto again = w.start(config::ReleaseOnStart::Always);
    CHECK(again->provision());
    CHECK(w.backend.releases == 2);
    CHECK(w.primary() == "v3");
    CHECK(again->provision());  // once per start only
    CHECK(w.backend.releases == 2);
  }
  SECTION("a tampered bundle is reported and released again") {
    const std::string path = w.dir + "/state/kek/v1.json";
    std::string text = w.file("kek/v1.json");
    const std::size_t at = text.find("\"ciphertext\":\"") + 20;
    text[at] = text[at] == 'A' ? 'B' : 'A';
    REQUIRE(::chmod(path.c_str(), 0600) == 0);
    { std::ofstream(path, std::ios::binary | std::ios::trunc) << text; }
    auto again = w.start(config::ReleaseOnStart::IfMissing);
    CHECK(!again->allReady());
    CHECK(w.lastError().find("kek/v1.json") != std::string::npos);
    CHECK(again->provision());
    CHECK(w.backend.releases == 2);
    CHECK(w.lastError().empty());
  }
}

TEST_CASE("release_on_start never leaves a key without a bundle not ready and says why",
          "[agent][provisioner]") {
  World w;
  auto p = w.start(config::ReleaseOnStart::Never);
  CHECK(!p->provision());
  CHECK(w.backend.releases == 0);
  CHECK(w.lastError().find("release_on_start is never") != std::string::npos);
}

TEST_CASE("a failed start-up release names the step and host and is retried by the next pass",
          "[agent][provisioner]") {
  World w;
  w.backend.fail_next = 1;
  auto p = w.start(config::ReleaseOnStart::IfMissing);
  const SystemTime attested_at = w.clock.now();
  CHECK(!p->provision());
  // The attestation succeeded and is cached: the metrics gauge sees its token's expiry.
  CHECK(p->cachedMaaExpiry() == std::optional<SystemTime>(attested_at + 8h));
  CHECK(w.lastError().find("release (v.vault.azure.net)") != std::string::npos);
  CHECK(w.lastError().find("AKV answered 403") != std::string::npos);
  CHECK(w.metrics.render(*w.keyring, false, false)
            .find("skr_releases_total{reason=\"start\",outcome=\"release\"} 1") !=
        std::string::npos);
  CHECK(p->provision());
  CHECK(w.lastError().empty());
  CHECK(w.backend.attests == 1);  // the attestation was cached across the retry
}

TEST_CASE(
    "rotation makes the new version primary, keeps the old one, bumps generation and publishes, "
    "and "
    "a failed rotation changes nothing",
    "[agent][provisioner][rotate]") {
  World w;
  auto p = w.start(config::ReleaseOnStart::IfMissing);
  REQUIRE(p->provision());
  w.backend.latest["kek"] = "v2";
  StatusOr<std::string> kid = p->rotate("kek", std::nullopt);
  REQUIRE(kid.ok());
  CHECK(*kid == "https://v.vault.azure.net/keys/kek/v2");
  CHECK(w.primary() == "v2");
  CHECK(w.keyring->entry("kek")->versions.count("v1") == 1);
  CHECK(w.file("kek/generation") == "2\n");
  CHECK(w.keyring->entry("kek")->generation == 2);
  CHECK(w.file("kek/current") == "v2\n");
  EventBatch events = w.events->after(1);
  REQUIRE(events.events.size() == 1);
  CHECK(events.events[0].type == EventType::Rotated);
  CHECK(w.backend.attests == 1);  // the token is valid for hours: reused

  // Unchanged latest: nothing written, no event.
  REQUIRE(p->rotate("kek", std::nullopt).ok());
  CHECK(w.file("kek/generation") == "2\n");
  CHECK(w.events->lastSeq() == 2);

  // Failure: primary, files and events unchanged; last_error names the step.
  w.backend.latest["kek"] = "v3";
  w.backend.fail_next = 1;
  StatusOr<std::string> failed = p->rotate("kek", std::nullopt);
  CHECK(failed.status().code() == StatusCode::PermissionDenied);
  CHECK(w.primary() == "v2");
  CHECK(w.file("kek/current") == "v2\n");
  CHECK(w.file("kek/generation") == "2\n");
  CHECK(w.events->lastSeq() == 2);
  CHECK(w.lastError().rfind("rotate: release (v.vault.azure.net)", 0) == 0);
  CHECK(w.lastError().find("rotate: rotate") == std::string::npos);

  // A named version; an unknown key.
  REQUIRE(p->rotate("kek", std::string("v1")).ok());
  CHECK(w.primary() == "v1");
  CHECK(p->rotate("nope", std::nullopt).status().code() == StatusCode::NotFound);

  // The cached attestation is replaced once its token has less than 5 minutes left.
  w.clock.advance(8h - 4min);
  REQUIRE(p->rotate("kek", std::string("v2")).ok());
  CHECK(w.backend.attests == 2);
}

TEST_CASE("a scheduled check rotates only when the versionless release names a new version",
          "[agent][provisioner][rotate]") {
  World w;
  auto p = w.start(config::ReleaseOnStart::IfMissing);
  REQUIRE(p->provision());
  CHECK(take(p->checkForNewVersion("kek")) == false);
  CHECK(w.events->lastSeq() == 1);
  w.backend.latest["kek"] = "v2";
  CHECK(take(p->checkForNewVersion("kek")) == true);
  CHECK(w.primary() == "v2");
  CHECK(w.events->after(1).events.at(0).type == EventType::Rotated);
}

TEST_CASE("scheduled delays stay within interval plus or minus jitter and at least 1 s",
          "[agent][provisioner]") {
  CHECK(scheduledDelay(3600s, 60s, 0.0) == 3540s);
  CHECK(scheduledDelay(3600s, 60s, 0.5) == 3600s);
  CHECK(scheduledDelay(3600s, 60s, 1.0) == 3660s);
  CHECK(scheduledDelay(2s, 60s, 0.0) == 1s);
}

// Writes {kek}/pending.json as skr-init does in attest-and-defer mode, with `token`.
std::string writePending(World& w, const std::string& token) {
  azure::TransferKey transfer =
      take(azure::TransferKey::fromPrivateKey(FakeBackend::copyOf(rsaPrivate2048())));
  const std::string transfer_kid = transfer.public_jwk.kid();
  azure::MaaToken maa;
  maa.token = token;
  maa.issuer = "https://maa.example";
  maa.expires_at = w.clock.now() + 1h;
  maa.hostdata = std::string(64, 'a');
  release::Attestation attestation{std::move(transfer), "", {}, {}, "sev-guest", std::move(maa)};
  const std::string content = take(release::sealPendingRelease(
      w.config, attestation, w.config.keys[0], *w.sealing, w.clock.now()));
  REQUIRE(w.state->writePending("kek", content).ok());
  return transfer_kid;
}

TEST_CASE("a pending bundle is completed with its own token while it is valid for over 60 s",
          "[agent][provisioner][pending]") {
  World w;
  const std::string transfer_kid = writePending(w, "pending.token.sig");
  auto p = w.start(config::ReleaseOnStart::Never);  // completing a pending bundle is not a policy
  CHECK(p->provision());
  CHECK(w.backend.verifies == 1);
  CHECK(w.backend.verified_transfer_kid == transfer_kid);
  CHECK(w.backend.attests + w.backend.attests_with == 0);
  CHECK(w.backend.released_with_transfer_kid == transfer_kid);
  CHECK(w.primary() == "v1");
  CHECK(w.state->readPending("kek", 1 << 20).status().code() == StatusCode::NotFound);
}

TEST_CASE("a pending bundle whose token expires within 60 s is re-attested with its transfer key",
          "[agent][provisioner][pending]") {
  World w;
  w.backend.pending_token_validity = 30s;
  const std::string transfer_kid = writePending(w, "pending.token.sig");
  auto p = w.start(config::ReleaseOnStart::IfMissing);
  CHECK(p->provision());
  CHECK(w.backend.attests_with == 1);
  CHECK(w.backend.attests == 0);
  CHECK(w.backend.released_with_transfer_kid == transfer_kid);
}

TEST_CASE("a pending bundle whose token does not verify is re-attested with its transfer key",
          "[agent][provisioner][pending]") {
  World w;
  writePending(w, "forged.token.sig");
  auto p = w.start(config::ReleaseOnStart::IfMissing);
  CHECK(p->provision());
  CHECK(w.backend.attests_with == 1);
}

TEST_CASE(
    "an unusable pending bundle does not block the key: it is released per policy and the file "
    "is removed",
    "[agent][provisioner][pending]") {
  SECTION("tampered") {
    World w;
    writePending(w, "pending.token.sig");
    std::string text = w.file("kek/pending.json");
    const std::size_t at = text.find("\"ciphertext\":\"") + 14;
    REQUIRE(at > 14);
    text[at] = text[at] == 'A' ? 'B' : 'A';
    REQUIRE(w.state->writePending("kek", text).ok());
    auto p = w.start(config::ReleaseOnStart::IfMissing);
    CHECK(p->provision());
    CHECK(w.backend.releases == 1);
    CHECK(w.backend.verifies == 0);  // its token was never trusted
    CHECK(w.primary() == "v1");
    CHECK(w.state->readPending("kek", 1 << 20).status().code() == StatusCode::NotFound);
  }
  SECTION("unreadable: a symlink in its place") {
    World w;
    auto p = w.start(config::ReleaseOnStart::IfMissing);
    REQUIRE(p->provision());  // v1 committed
    const std::string pending = w.dir + "/state/kek/pending.json";
    REQUIRE(::symlink((w.dir + "/sealing.key").c_str(), pending.c_str()) == 0);
    auto restarted = w.start(config::ReleaseOnStart::IfMissing);
    CHECK(restarted->provision());
    CHECK(w.backend.releases == 1);  // served from the bundle
    CHECK(w.primary() == "v1");
    CHECK(!fs::exists(fs::symlink_status(pending)));
    CHECK(fs::exists(w.dir + "/sealing.key"));  // the link, not its target, was removed
  }
  SECTION("with release_on_start never and no bundle, the key stays not ready and the file stays") {
    World w;
    REQUIRE(w.state->writePending("kek", "{not a bundle").ok());
    auto p = w.start(config::ReleaseOnStart::Never);
    CHECK(!p->provision());
    CHECK(w.backend.releases == 0);
    CHECK(w.state->readPending("kek", 1 << 20).ok());
  }
}

}  // namespace
}  // namespace skr::agent
