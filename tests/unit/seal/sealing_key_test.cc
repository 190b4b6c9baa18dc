#include "common/seal/sealing_key.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "common/crypto/digest.h"
#include "common/log/logger.h"
#include "tests/unit/seal/seal_test_util.h"

namespace skr::seal {
namespace {

using testing::take;

SecretBytes keyOf(const SealingKeyProvider& p) {
  return take(p.sealingKey());
}

std::string params(const SealingKeyProvider& p) {
  return take(json::serializeCanonical(p.parameters()));
}

// A copy of the pristine chip with one config change applied.
std::shared_ptr<const snp::SnpDevice> deviceWith(void (*edit)(snp::ChipConfig&)) {
  const std::string dir = testing::copyOfChip();
  snp::EmulatedChip chip = take(snp::EmulatedChip::openOrCreate(dir));
  snp::ChipConfig config = chip.config();
  edit(config);
  REQUIRE(chip.updateConfig(config).ok());
  return testing::emulatedDevice(dir);
}

TEST_CASE("seal provider names round-trip and unknown names are rejected") {
  for (SealProviderKind k : {SealProviderKind::SnpDerived, SealProviderKind::Keyfile,
                             SealProviderKind::Emulated, SealProviderKind::None}) {
    CHECK(take(parseSealProvider(sealProviderName(k))) == k);
  }
  StatusOr<SealProviderKind> bad = parseSealProvider("tpm");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == StatusCode::InvalidArgument);
  CHECK(bad.status().message().find("snp-derived, keyfile, emulated or none") != std::string::npos);
}

TEST_CASE(
    "snp-derived key is HKDF of the VCEK-rooted measurement+policy+SVN key salted with HOST_DATA") {
  auto provider = take(makeSnpDerivedProvider(testing::pristineDevice()));
  CHECK(provider->kind() == SealProviderKind::SnpDerived);
  CHECK(provider->emulated());  // the device is the emulated chip
  const SecretBytes key = keyOf(*provider);
  REQUIRE(key.size() == 32);

  // Independent recomputation from the chip itself.
  snp::EmulatedChip chip = take(snp::EmulatedChip::openOrCreate(testing::pristineChipDir()));
  snp::DerivedKeyRequest request;
  request.root_key_select = snp::RootKey::Vcek;
  request.guest_field_select = 0x19;  // bits 0 policy, 3 measurement, 4 guest SVN (spec §7.1)
  const SecretBytes raw = take(chip.deriveKey(request));
  CHECK_FALSE(raw == key);  // never used directly
  const SecretBytes expected =
      take(crypto::hkdf(crypto::HashAlg::Sha256, raw, chip.config().host_data,
                        asBytes("skr-sealed-key/1 sealing key snp-derived"), 32));
  CHECK(key == expected);
  CHECK(keyOf(*provider) == key);  // deterministic

  CHECK(
      params(*provider) ==
      R"({"guest_field_select":25,"guest_svn":0,"kdf":"HKDF-SHA-256","kdf_info":"skr-sealed-key/1 sealing key snp-derived","kdf_salt":"HOST_DATA","root_key":"vcek","tcb_version":0,"vmpl":0})");
}

TEST_CASE("snp-derived key changes with measurement, policy, guest SVN and HOST_DATA") {
  const SecretBytes base = keyOf(*take(makeSnpDerivedProvider(testing::pristineDevice())));
  auto other = [&](void (*edit)(snp::ChipConfig&), SnpDerivedOptions options = {}) {
    return keyOf(*take(makeSnpDerivedProvider(deviceWith(edit), options)));
  };
  CHECK_FALSE(other([](snp::ChipConfig& c) { c.measurement[0] ^= 1; }) == base);
  CHECK_FALSE(other([](snp::ChipConfig& c) { c.policy ^= 1; }) == base);
  CHECK_FALSE(other([](snp::ChipConfig& c) { c.host_data[31] ^= 1; }) == base);
  SnpDerivedOptions svn1;
  svn1.guest_svn = 1;
  CHECK_FALSE(other([](snp::ChipConfig& c) { c.guest_svn = 1; }, svn1) == base);
  // Not bound: the report id changes per launch and must not change the key.
  CHECK(other([](snp::ChipConfig& c) { c.report_id[0] ^= 1; }) == base);
}

TEST_CASE("snp-derived fails with the firmware's reason when the request is refused") {
  SnpDerivedOptions options;
  options.guest_svn = 7;  // above the launch GUEST_SVN (0)
  auto provider = take(makeSnpDerivedProvider(testing::pristineDevice(), options));
  StatusOr<SecretBytes> key = provider->sealingKey();
  REQUIRE_FALSE(key.ok());
  CHECK(key.status().message().find("sealing key (snp-derived via emulated)") == 0);

  options = {};
  options.vmpl = 4;
  StatusOr<std::unique_ptr<SealingKeyProvider>> bad =
      makeSnpDerivedProvider(testing::pristineDevice(), options);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == StatusCode::InvalidArgument);
  CHECK_FALSE(makeSnpDerivedProvider(nullptr).ok());
}

TEST_CASE("emulated provider uses the chip's derived key under its own label") {
  auto emulated = take(makeEmulatedProvider(testing::pristineDevice()));
  auto derived = take(makeSnpDerivedProvider(testing::pristineDevice()));
  CHECK(emulated->kind() == SealProviderKind::Emulated);
  CHECK(emulated->emulated());
  const SecretBytes k = keyOf(*emulated);
  CHECK(k.size() == 32);
  CHECK_FALSE(k == keyOf(*derived));  // domain-separated from snp-derived
  CHECK(params(*emulated).find(R"("kdf_info":"skr-sealed-key/1 sealing key emulated")") !=
        std::string::npos);
}

class NamedDevice final : public snp::SnpDevice {
 public:
  std::string_view name() const override { return "sev-guest"; }
  StatusOr<Bytes> getReport(const std::array<uint8_t, 64>&, uint32_t) const override {
    return unavailableError("no report");
  }
  StatusOr<SecretBytes> getDerivedKey(const snp::DerivedKeyRequest&) const override {
    return unavailableError("no key");
  }
  StatusOr<snp::ExtendedReport> getExtendedReport(const std::array<uint8_t, 64>&,
                                                  uint32_t) const override {
    return unavailableError("no report");
  }
};

TEST_CASE(
    "emulated provider refuses a non-emulated device and snp-derived on hardware is not stamped") {
  auto device = std::make_shared<const NamedDevice>();
  StatusOr<std::unique_ptr<SealingKeyProvider>> p = makeEmulatedProvider(device);
  REQUIRE_FALSE(p.ok());
  CHECK(p.status().message().find("'sev-guest'") != std::string::npos);
  auto hw = take(makeSnpDerivedProvider(device));
  CHECK_FALSE(hw->emulated());
  StatusOr<SecretBytes> k = hw->sealingKey();
  REQUIRE_FALSE(k.ok());
  CHECK(k.status().code() == StatusCode::Unavailable);
}

TEST_CASE("keyfile provider: 32 raw bytes, HKDF-expanded, identified by a key id") {
  const Bytes raw = crypto::randomBytes(32);
  const std::string path = testing::writeFile("seal.key", raw, 0400);
  auto p = take(makeKeyfileProvider(path));
  CHECK(p->kind() == SealProviderKind::Keyfile);
  CHECK_FALSE(p->emulated());
  const SecretBytes expected =
      take(crypto::hkdf(crypto::HashAlg::Sha256, SecretBytes::copyOf(raw), {},
                        asBytes("skr-sealed-key/1 sealing key keyfile"), 32));
  CHECK(keyOf(*p) == expected);
  const std::string ps = params(*p);
  CHECK(ps.find(path) == std::string::npos);  // the path is not a parameter
  CHECK(ps.find("\"key_id\":\"") != std::string::npos);

  // Same bytes elsewhere (0440): same key, same parameters. Other bytes: other key id.
  auto same = take(makeKeyfileProvider(testing::writeFile("k", raw, 0440)));
  CHECK(params(*same) == ps);
  CHECK(keyOf(*same) == expected);
  auto other = take(makeKeyfileProvider(testing::writeFile("k", crypto::randomBytes(32), 0600)));
  CHECK(params(*other) != ps);
  CHECK_FALSE(keyOf(*other) == expected);
}

TEST_CASE("keyfile provider rejects wrong sizes with a hint") {
  struct Case {
    std::size_t size;
    const char* expect;
  };
  for (const Case& c :
       {Case{0, "is 0 bytes, expected exactly 32 raw bytes"}, Case{31, "is 31 bytes"},
        Case{33, "is 33 bytes"}, Case{64, "looks like hex"}, Case{44, "looks like base64"}}) {
    const std::string path = testing::writeFile("k", Bytes(c.size, 0x41), 0400);
    StatusOr<std::unique_ptr<SealingKeyProvider>> p = makeKeyfileProvider(path);
    REQUIRE_FALSE(p.ok());
    CHECK(p.status().code() == StatusCode::InvalidArgument);
    CHECK(p.status().message().find(path) != std::string::npos);
    CHECK(p.status().message().find(c.expect) != std::string::npos);
  }
}

TEST_CASE("keyfile provider rejects loose modes, foreign owners, non-files and missing files") {
  for (mode_t mode : {0644, 0404, 0420, 0402, 0600 | 0020}) {
    const std::string path = testing::writeFile("k", crypto::randomBytes(32), mode);
    StatusOr<std::unique_ptr<SealingKeyProvider>> p = makeKeyfileProvider(path);
    INFO(mode);
    REQUIRE_FALSE(p.ok());
    CHECK(p.status().code() == StatusCode::PermissionDenied);
    CHECK(p.status().message().find("has mode " + octalMode(mode)) != std::string::npos);
    CHECK(p.status().message().find("0400 or 0440") != std::string::npos);
  }
  const std::string path = testing::writeFile("k", crypto::randomBytes(32), 0400);
  OwnerPolicy someone_else{::geteuid() + 1, false};
  StatusOr<std::unique_ptr<SealingKeyProvider>> foreign = makeKeyfileProvider(path, someone_else);
  REQUIRE_FALSE(foreign.ok());
  CHECK(foreign.status().code() == StatusCode::PermissionDenied);
  CHECK(foreign.status().message().find("is owned by uid " + std::to_string(::geteuid())) !=
        std::string::npos);

  const std::string dir = testing::makeTempDir();
  REQUIRE(::chmod(dir.c_str(), 0700) == 0);
  StatusOr<std::unique_ptr<SealingKeyProvider>> d = makeKeyfileProvider(dir);
  REQUIRE_FALSE(d.ok());
  CHECK(d.status().message().find("is not a regular file") != std::string::npos);
  StatusOr<std::unique_ptr<SealingKeyProvider>> missing = makeKeyfileProvider(dir + "/nope");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == StatusCode::NotFound);
}

TEST_CASE("keyfile provider follows a symlink (Kubernetes secret volumes) and checks the target") {
  const Bytes raw = crypto::randomBytes(32);
  const std::string target = testing::writeFile("k", raw, 0400);
  const std::string link = testing::makeTempDir() + "/seal.key";
  REQUIRE(::symlink(target.c_str(), link.c_str()) == 0);
  auto via_link = take(makeKeyfileProvider(link));
  auto direct = take(makeKeyfileProvider(target));
  CHECK(keyOf(*via_link) == keyOf(*direct));
  REQUIRE(::chmod(target.c_str(), 0644) == 0);
  CHECK(makeKeyfileProvider(link).status().code() == StatusCode::PermissionDenied);
}

TEST_CASE("none provider has no key and warns when created") {
  std::vector<std::string> lines;
  log::Sink previous = log::setSink([&](log::Level level, std::string_view line) {
    if (level == log::Level::Warning) lines.emplace_back(line);
  });
  auto p = makeNoneProvider();
  log::setSink(previous);
  CHECK(p->kind() == SealProviderKind::None);
  CHECK_FALSE(p->emulated());
  CHECK(p->sealingKey().status().code() == StatusCode::FailedPrecondition);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].find("plaintext") != std::string::npos);
}

}  // namespace
}  // namespace skr::seal
