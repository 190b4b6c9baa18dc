#include "common/seal/bundle.h"

#include <Poco/JSON/Object.h>

#include <catch2/catch.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "common/crypto/aes_gcm.h"
#include "common/crypto/digest.h"
#include "common/encoding/base64.h"
#include "common/encoding/hex.h"
#include "common/log/logger.h"
#include "tests/unit/seal/seal_test_util.h"

namespace skr::seal {
namespace {

using testing::sampleInfo;
using testing::take;

struct Keyfile {
  Bytes raw = crypto::randomBytes(32);
  std::unique_ptr<SealingKeyProvider> provider;
  Keyfile() : provider(take(makeKeyfileProvider(testing::writeFile("seal.key", raw, 0400)))) {}
  SecretBytes sealingKey() const {
    return take(crypto::hkdf(crypto::HashAlg::Sha256, SecretBytes::copyOf(raw), {},
                             asBytes("skr-sealed-key/1 sealing key keyfile"), 32));
  }
};

const OpenOptions kEmulated{true};
const OpenOptions kHardware{false};

jose::Jwk open(std::string_view text, const SealingKeyProvider& p, OpenOptions o = kEmulated) {
  return take(openKey(take(SealedBundle::parse(text)), p, o));
}

Status openStatus(std::string_view text, const SealingKeyProvider& p, OpenOptions o = kEmulated) {
  StatusOr<SealedBundle> b = SealedBundle::parse(text);
  if (!b.ok()) return b.status();
  return openKey(*b, p, o).status();
}

json::ObjectPtr parseObj(std::string_view text) {
  return take(json::parseObject(text));
}
std::string canonical(const json::ObjectPtr& o) {
  return take(json::serializeCanonical(o));
}

void checkSameKey(const jose::Jwk& a, const jose::Jwk& b) {
  REQUIRE(a.type() == b.type());
  CHECK(a.thumbprint() == b.thumbprint());
  if (a.type() == jose::JwkType::Oct) {
    CHECK(*take(a.octet()) == *take(b.octet()));
  } else {
    CHECK(take(a.privateKey())->toPkcs8Der() == take(b.privateKey())->toPkcs8Der());
  }
}

std::vector<std::unique_ptr<SealingKeyProvider>> allProviders(const Keyfile& keyfile) {
  std::vector<std::unique_ptr<SealingKeyProvider>> out;
  out.push_back(take(makeSnpDerivedProvider(testing::pristineDevice())));
  out.push_back(take(makeKeyfileProvider(testing::writeFile("k", keyfile.raw, 0400))));
  out.push_back(take(makeEmulatedProvider(testing::pristineDevice())));
  out.push_back(makeNoneProvider());
  return out;
}

TEST_CASE("RSA, EC and oct keys round-trip under every provider") {
  Keyfile keyfile;
  std::vector<jose::Jwk> keys;
  keys.push_back(
      take(jose::Jwk::parseSecret(take(testing::rsaKey().privateJson(grantSecretAccess())))));
  keys.push_back(testing::ecKey());
  keys.push_back(testing::octKey());
  for (const auto& provider : allProviders(keyfile)) {
    for (const jose::Jwk& key : keys) {
      INFO(provider->name() << " " << jose::jwkTypeName(key.type()));
      const BundleInfo info = sampleInfo();
      const std::string text = take(sealKey(info, key, *provider));
      CHECK(text.back() == '\n');
      CHECK(text.size() < kMaxBundleBytes);
      const SealedBundle bundle = take(SealedBundle::parse(text));
      CHECK(bundle.info().key_name == info.key_name);
      CHECK(bundle.info().kid == info.kid);
      CHECK(bundle.info().key_ops == info.key_ops);
      CHECK(bundle.info().maa.token_sha256 == info.maa.token_sha256);
      CHECK(formatRfc3339(bundle.info().released_at) == "2026-11-28T10:00:00Z");
      CHECK(bundle.kty() == key.type());
      CHECK(bundle.provider() == provider->name());
      CHECK(bundle.encrypted() == (provider->kind() != SealProviderKind::None));
      CHECK((bundle.publicJwk() == nullptr) == (key.type() == jose::JwkType::Oct));
      const jose::Jwk opened = take(openKey(bundle, *provider, kEmulated));
      checkSameKey(opened, key);
      CHECK(opened.kid() == info.kid);
      CHECK(opened.keyOps() == info.key_ops);
      // Encrypted bundles never contain the private material in clear.
      if (bundle.encrypted() && key.type() != jose::JwkType::Oct) {
        const SecretBytes pj = take(key.privateJson(grantSecretAccess()));
        const std::string d = toString(pj.view(grantSecretAccess()));
        const auto dpos = d.find("\"d\":\"");
        REQUIRE(dpos != std::string::npos);
        CHECK(text.find(d.substr(dpos + 5, 20)) == std::string::npos);
      }
    }
  }
}

TEST_CASE("a bundle written on hardware opens on hardware, and its stamp is checked both ways") {
  Keyfile keyfile;
  const std::string hw = take(sealKey(sampleInfo(false), testing::ecKey(), *keyfile.provider));
  CHECK(parseObj(hw)->getValue<bool>("emulated") == false);
  CHECK(open(hw, *keyfile.provider, kHardware).type() == jose::JwkType::Ec);
  Status s = openStatus(hw, *keyfile.provider, kEmulated);
  CHECK(s.code() == StatusCode::FailedPrecondition);
  CHECK(s.message().find("emulation stamp differs") != std::string::npos);

  const std::string emu = take(sealKey(sampleInfo(true), testing::ecKey(), *keyfile.provider));
  s = openStatus(emu, *keyfile.provider, kHardware);
  CHECK(s.code() == StatusCode::FailedPrecondition);
  CHECK(s.message().find("emulation stamp differs") != std::string::npos);
}

TEST_CASE("sealing with an emulated provider requires the emulated stamp") {
  auto provider = take(makeEmulatedProvider(testing::pristineDevice()));
  BundleInfo info = sampleInfo(false);
  StatusOr<std::string> text = sealKey(info, testing::ecKey(), *provider);
  REQUIRE_FALSE(text.ok());
  CHECK(text.status().code() == StatusCode::FailedPrecondition);
  info.platform = "emulated";  // platform emulated without the stamp is inconsistent too
  CHECK(sealKey(info, testing::ecKey(), *provider).status().code() == StatusCode::InvalidArgument);
}

TEST_CASE("open fails with DataLoss under a different sealing key") {
  const jose::Jwk key = testing::ecKey();
  SECTION("snp-derived on a UVM with another measurement") {
    auto provider = take(makeSnpDerivedProvider(testing::pristineDevice()));
    const std::string text = take(sealKey(sampleInfo(), key, *provider));
    const std::string dir = testing::copyOfChip();
    snp::EmulatedChip chip = take(snp::EmulatedChip::openOrCreate(dir));
    snp::ChipConfig config = chip.config();
    config.measurement[5] ^= 0x80;
    REQUIRE(chip.updateConfig(config).ok());
    auto other = take(makeSnpDerivedProvider(testing::emulatedDevice(dir)));
    const Status s = openStatus(text, *other);
    CHECK(s.code() == StatusCode::DataLoss);
    CHECK(s.message().find("authentication tag does not verify") != std::string::npos);
    CHECK(open(text, *provider).thumbprint() == key.thumbprint());
  }
  SECTION("keyfile with other bytes: the key id differs") {
    Keyfile a;
    Keyfile b;
    const std::string text = take(sealKey(sampleInfo(), key, *a.provider));
    const Status s = openStatus(text, *b.provider);
    CHECK(s.code() == StatusCode::FailedPrecondition);
    CHECK(s.message().find("seal parameters differ") != std::string::npos);
  }
  SECTION("keyfile with the key id edited to match: the tag fails") {
    Keyfile a;
    Keyfile b;
    json::ObjectPtr o = parseObj(take(sealKey(sampleInfo(), key, *a.provider)));
    o->getObject("seal")->set("parameters", b.provider->parameters());
    CHECK(openStatus(canonical(o), *b.provider).code() == StatusCode::DataLoss);
  }
}

TEST_CASE("open rejects a bundle sealed by another provider") {
  Keyfile keyfile;
  auto emulated = take(makeEmulatedProvider(testing::pristineDevice()));
  auto derived = take(makeSnpDerivedProvider(testing::pristineDevice()));
  const std::string text = take(sealKey(sampleInfo(), testing::octKey(), *emulated));
  auto none = makeNoneProvider();
  for (const SealingKeyProvider* other : {derived.get(), keyfile.provider.get(), none.get()}) {
    const Status s = openStatus(text, *other);
    CHECK(s.code() == StatusCode::FailedPrecondition);
    CHECK(s.message().find("seal provider differs: the bundle was sealed with 'emulated'") !=
          std::string::npos);
  }
}

// Flipping any single byte of the file must make it unusable (parse or open fails).
void everyByteFlipFails(const std::string& text, const SealingKeyProvider& provider, bool pending) {
  std::size_t data_loss = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    for (uint8_t mask : {0x01, 0x20}) {
      std::string t = text;
      t[i] = static_cast<char>(t[i] ^ mask);
      StatusOr<SealedBundle> b = SealedBundle::parse(t);
      if (!b.ok()) continue;
      const Status s = pending ? openPending(*b, provider, kEmulated).status()
                               : openKey(*b, provider, kEmulated).status();
      INFO("byte " << i << " of " << text.size() << " ('" << text[i] << "' ^ " << int{mask}
                   << "): " << text.substr(i > 20 ? i - 20 : 0, 40));
      REQUIRE_FALSE(s.ok());
      if (s.code() == StatusCode::DataLoss) ++data_loss;
    }
  }
  CHECK(data_loss > text.size() / 4);  // most flips reach the tag check
}

TEST_CASE("flipping any byte of a sealed bundle makes open fail") {
  Keyfile keyfile;
  everyByteFlipFails(take(sealKey(sampleInfo(), testing::ecKey(), *keyfile.provider)),
                     *keyfile.provider, false);
  everyByteFlipFails(take(sealKey(sampleInfo(), testing::octKey(), *keyfile.provider)),
                     *keyfile.provider, false);
  everyByteFlipFails(take(sealKey(sampleInfo(), testing::rsaKey(), *keyfile.provider)),
                     *keyfile.provider, false);
}

TEST_CASE("the AAD covers every member: a valid but different value fails the tag") {
  Keyfile keyfile;
  const std::string text = take(sealKey(sampleInfo(), testing::ecKey(), *keyfile.provider));
  const jose::Jwk other_ec = testing::ecKey();
  using Edit = void (*)(json::ObjectPtr&, const jose::Jwk&);
  struct Case {
    const char* member;
    Edit edit;
    StatusCode code;
  };
  const std::vector<Case> cases = {
      {"key_name", [](json::ObjectPtr& o, const jose::Jwk&) { o->set("key_name", "data-kek2"); },
       StatusCode::DataLoss},
      {"vault",
       [](json::ObjectPtr& o, const jose::Jwk&) { o->set("vault", "evil.vault.azure.net"); },
       StatusCode::DataLoss},
      {"kid", [](json::ObjectPtr& o, const jose::Jwk&) { o->set("kid", "https://x/keys/k/1"); },
       StatusCode::DataLoss},
      {"kty", [](json::ObjectPtr& o, const jose::Jwk&) { o->set("kty", "RSA"); },
       StatusCode::InvalidArgument},
      {"key_ops",
       [](json::ObjectPtr& o, const jose::Jwk&) {
         Poco::JSON::Array::Ptr ops = new Poco::JSON::Array();
         ops->add("unwrapKey");
         o->set("key_ops", ops);
       },
       StatusCode::DataLoss},
      {"public_jwk",
       [](json::ObjectPtr& o, const jose::Jwk& k) { o->set("public_jwk", take(k.publicJson())); },
       StatusCode::DataLoss},
      {"released_at",
       [](json::ObjectPtr& o, const jose::Jwk&) { o->set("released_at", "2026-11-28T10:00:01Z"); },
       StatusCode::DataLoss},
      {"maa.issuer",
       [](json::ObjectPtr& o, const jose::Jwk&) {
         o->getObject("maa")->set("issuer", "https://evil.attest.azure.net");
       },
       StatusCode::DataLoss},
      {"maa.token_sha256",
       [](json::ObjectPtr& o, const jose::Jwk&) {
         o->getObject("maa")->set("token_sha256", std::string(64, 'b'));
       },
       StatusCode::DataLoss},
      {"maa.token_expires_at",
       [](json::ObjectPtr& o, const jose::Jwk&) {
         o->getObject("maa")->set("token_expires_at", "2030-01-01T00:00:00Z");
       },
       StatusCode::DataLoss},
      {"hostdata",
       [](json::ObjectPtr& o, const jose::Jwk&) { o->set("hostdata", std::string(64, '0')); },
       StatusCode::DataLoss},
      {"platform", [](json::ObjectPtr& o, const jose::Jwk&) { o->set("platform", "sev-guest"); },
       StatusCode::DataLoss},
      {"emulated", [](json::ObjectPtr& o, const jose::Jwk&) { o->set("emulated", false); },
       StatusCode::InvalidArgument},  // platform emulated without the stamp
      {"format", [](json::ObjectPtr& o, const jose::Jwk&) { o->set("format", "skr-sealed-key/2"); },
       StatusCode::InvalidArgument},
      {"kind", [](json::ObjectPtr& o, const jose::Jwk&) { o->set("kind", "pending"); },
       StatusCode::InvalidArgument},
      {"material", [](json::ObjectPtr& o, const jose::Jwk&) { o->set("material", "raw"); },
       StatusCode::InvalidArgument},
      {"seal.provider",
       [](json::ObjectPtr& o, const jose::Jwk&) { o->getObject("seal")->set("provider", "none"); },
       StatusCode::InvalidArgument},  // 'sealed' no longer has the shape 'none' expects
      {"seal.parameters",
       [](json::ObjectPtr& o, const jose::Jwk&) {
         o->getObject("seal")->getObject("parameters")->set("kdf", "none");
       },
       StatusCode::FailedPrecondition},
      {"extra member", [](json::ObjectPtr& o, const jose::Jwk&) { o->set("note", "hi"); },
       StatusCode::InvalidArgument},
      {"sealed.iv",
       [](json::ObjectPtr& o, const jose::Jwk&) {
         o->getObject("sealed")->set("iv", encoding::base64UrlEncode(Bytes(12, 0)));
       },
       StatusCode::DataLoss},
      {"sealed.tag",
       [](json::ObjectPtr& o, const jose::Jwk&) {
         o->getObject("sealed")->set("tag", encoding::base64UrlEncode(Bytes(16, 0)));
       },
       StatusCode::DataLoss},
      {"sealed.tag short",
       [](json::ObjectPtr& o, const jose::Jwk&) {
         o->getObject("sealed")->set("tag", encoding::base64UrlEncode(Bytes(15, 0)));
       },
       StatusCode::InvalidArgument},
  };
  for (const Case& c : cases) {
    INFO(c.member);
    json::ObjectPtr o = parseObj(text);
    c.edit(o, other_ec);
    const Status s = openStatus(canonical(o), *keyfile.provider);
    INFO(s.toString());
    CHECK(s.code() == c.code);
  }
}

TEST_CASE("the AAD is independent of member order and whitespace") {
  Keyfile keyfile;
  const jose::Jwk key = testing::ecKey();
  const std::string text = take(sealKey(sampleInfo(), key, *keyfile.provider));
  std::ostringstream pretty;
  parseObj(text)->stringify(pretty, 4);  // Poco's own order and indentation
  REQUIRE(pretty.str() != text);
  CHECK(open(pretty.str(), *keyfile.provider).thumbprint() == key.thumbprint());
}

TEST_CASE("open rejects key material that does not match the public JWK, even under a valid tag") {
  // An insider with the keyfile re-seals key A's material under key B's public JWK.
  Keyfile keyfile;
  const jose::Jwk a = testing::ecKey();
  const jose::Jwk b = testing::ecKey();
  json::ObjectPtr o = parseObj(take(sealKey(sampleInfo(), a, *keyfile.provider)));
  o->set("public_jwk", take(b.publicJson()));
  o->remove("sealed");
  const std::string aad = canonical(o);
  const crypto::GcmSealed gcm = take(crypto::aesGcmEncrypt(
      keyfile.sealingKey(), take(a.privateJson(grantSecretAccess())).view(grantSecretAccess()),
      asBytes(aad)));
  json::ObjectPtr sealed = new Poco::JSON::Object();
  sealed->set("iv", encoding::base64UrlEncode(gcm.iv));
  sealed->set("ciphertext", encoding::base64UrlEncode(gcm.ciphertext));
  sealed->set("tag", encoding::base64UrlEncode(gcm.tag));
  o->set("sealed", sealed);
  const Status s = openStatus(canonical(o), *keyfile.provider);
  CHECK(s.code() == StatusCode::DataLoss);
  CHECK(s.message().find("does not match public_jwk") != std::string::npos);

  // The same forgery with the right public JWK opens: the check above is what rejected it.
  o->set("public_jwk", take(a.publicJson()));
  o->remove("sealed");
  const crypto::GcmSealed good = take(crypto::aesGcmEncrypt(
      keyfile.sealingKey(), take(a.privateJson(grantSecretAccess())).view(grantSecretAccess()),
      asBytes(canonical(o))));
  sealed = new Poco::JSON::Object();
  sealed->set("iv", encoding::base64UrlEncode(good.iv));
  sealed->set("ciphertext", encoding::base64UrlEncode(good.ciphertext));
  sealed->set("tag", encoding::base64UrlEncode(good.tag));
  o->set("sealed", sealed);
  CHECK(open(canonical(o), *keyfile.provider).thumbprint() == a.thumbprint());
}

TEST_CASE("provider none: plaintext, a warning at every use, and only the key check protects it") {
  std::vector<std::string> warnings;
  log::Sink previous = log::setSink([&](log::Level level, std::string_view line) {
    if (level == log::Level::Warning) warnings.emplace_back(line);
  });
  auto none = makeNoneProvider();
  const jose::Jwk key = testing::ecKey();
  const std::string text = take(sealKey(sampleInfo(), key, *none));
  open(text, *none);
  open(text, *none);
  json::ObjectPtr o = parseObj(text);
  o->set("public_jwk", take(testing::ecKey().publicJson()));
  const Status s = openStatus(canonical(o), *none);
  log::setSink(previous);
  CHECK(s.code() == StatusCode::DataLoss);
  CHECK(parseObj(text)->getObject("sealed")->has("plaintext"));
  std::size_t uses = 0;
  for (const std::string& line : warnings) {
    if (line.find("\"event\":\"seal.provider_none\"") != std::string::npos) ++uses;
  }
  CHECK(uses == 5);  // created, sealed, opened twice, opened the edited one
}

TEST_CASE("unknown format, oversized and truncated bundles are rejected") {
  Keyfile keyfile;
  const std::string text = take(sealKey(sampleInfo(), testing::rsaKey(), *keyfile.provider));
  json::ObjectPtr o = parseObj(text);
  o->set("format", "skr-sealed-key/2");
  StatusOr<SealedBundle> unknown = SealedBundle::parse(canonical(o));
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.status().code() == StatusCode::InvalidArgument);
  CHECK(unknown.status().message() ==
        "sealed bundle: unknown format 'skr-sealed-key/2', expected 'skr-sealed-key/1'");

  std::string big = text;
  big.insert(big.size() - 2, std::string(kMaxBundleBytes, ' '));
  StatusOr<SealedBundle> oversized = SealedBundle::parse(big);
  REQUIRE_FALSE(oversized.ok());
  CHECK(oversized.status().code() == StatusCode::ResourceExhausted);

  for (std::size_t n = 0; n + 1 < text.size(); ++n) {  // every prefix short of the newline
    StatusOr<SealedBundle> truncated = SealedBundle::parse(std::string_view(text).substr(0, n));
    INFO(n);
    REQUIRE_FALSE(truncated.ok());
  }
  CHECK(SealedBundle::parse(std::string_view(text).substr(0, text.size() - 1)).ok());
}

TEST_CASE("sealKey validates its inputs") {
  Keyfile keyfile;
  BundleInfo info = sampleInfo();
  const auto code = [&](const BundleInfo& i, const jose::Jwk& k) {
    return sealKey(i, k, *keyfile.provider).status().code();
  };
  const jose::Jwk ec = testing::ecKey();
  const jose::Jwk public_only = jose::Jwk::fromPublicKey(
      take(crypto::PublicKey::fromSpkiDer(take(ec.publicKey())->toSpkiDer())));
  CHECK(code(info, public_only) == StatusCode::InvalidArgument);
  for (const char* bad : {"", "a/b", "..", ".hidden", "a.b", "a b"}) {
    BundleInfo i = info;
    i.key_name = bad;
    INFO(bad);
    CHECK(code(i, ec) == StatusCode::InvalidArgument);
  }
  BundleInfo i = info;
  i.key_name = std::string(128, 'k');
  CHECK(code(i, ec) == StatusCode::InvalidArgument);
  i.key_name = std::string(127, 'k');
  CHECK(code(i, ec) == StatusCode::Ok);
  i = info;
  i.kid = "";
  CHECK(code(i, ec) == StatusCode::InvalidArgument);
  i = info;
  i.hostdata = std::string(64, 'A');
  CHECK(code(i, ec) == StatusCode::InvalidArgument);
  i = info;
  i.platform = "auto";
  CHECK(code(i, ec) == StatusCode::InvalidArgument);
  i = info;
  i.kind = BundleKind::Pending;
  CHECK(code(i, ec) == StatusCode::InvalidArgument);
}

TEST_CASE("pending bundle seals the transfer key and the MAA token") {
  Keyfile keyfile;
  const std::string token = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJtYWEifQ.c2ln";
  BundleInfo info = sampleInfo(true, BundleKind::Pending);
  info.maa.token_sha256.clear();
  const std::string text = take(sealPending(info, testing::rsaKey(), token, *keyfile.provider));
  CHECK(text.find(token) == std::string::npos);  // the token is inside the ciphertext
  const SealedBundle bundle = take(SealedBundle::parse(text));
  CHECK(bundle.info().kind == BundleKind::Pending);
  CHECK(bundle.info().kid.empty());
  CHECK(bundle.info().maa.token_sha256 == encoding::hexEncode(crypto::sha256(asBytes(token))));
  const PendingRelease pending = take(openPending(bundle, *keyfile.provider, kEmulated));
  CHECK(pending.maa_token == token);
  checkSameKey(pending.transfer_key, testing::rsaKey());

  // A pending bundle is not a key bundle, and the other way round.
  CHECK(openKey(bundle, *keyfile.provider, kEmulated).status().code() ==
        StatusCode::InvalidArgument);
  const SealedBundle key_bundle =
      take(SealedBundle::parse(take(sealKey(sampleInfo(), testing::ecKey(), *keyfile.provider))));
  CHECK(openPending(key_bundle, *keyfile.provider, kEmulated).status().code() ==
        StatusCode::InvalidArgument);

  // A token hash that does not describe the token is refused when sealing.
  info.maa.token_sha256 = std::string(64, 'c');
  CHECK(sealPending(info, testing::rsaKey(), token, *keyfile.provider).status().code() ==
        StatusCode::InvalidArgument);
  // The transfer key must be an RSA private key.
  info.maa.token_sha256.clear();
  CHECK_FALSE(sealPending(info, testing::ecKey(), token, *keyfile.provider).ok());
  CHECK_FALSE(sealPending(info, testing::rsaKey(), "", *keyfile.provider).ok());
}

TEST_CASE("flipping any byte of a pending bundle makes open fail") {
  Keyfile keyfile;  // the AAD does not depend on the provider; no chip needed
  BundleInfo info = sampleInfo(true, BundleKind::Pending);
  info.maa.token_sha256.clear();
  everyByteFlipFails(take(sealPending(info, testing::rsaKey(), "a.b.c", *keyfile.provider)),
                     *keyfile.provider, true);
}

}  // namespace
}  // namespace skr::seal
