// The pure parts of the emulated key release: request parsing, MAA token verification, transfer
// key selection, CKM_RSA_AES_KEY_WRAP (+ _256/_384) wrapping and the signed payload.
#include "emulator/key_release.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <catch2/catch.hpp>

#include "common/crypto/aes_key_wrap.h"
#include "common/crypto/rsa_oaep.h"
#include "common/encoding/base64.h"
#include "common/jose/jwk.h"
#include "common/jose/jws.h"

namespace skr::emulator {
namespace {

using std::chrono::seconds;
using std::chrono::system_clock;

constexpr int64_t kNow = 1800000000;

const crypto::PrivateKey& rsaKey(int index) {
  static std::vector<crypto::PrivateKey> keys = [] {
    std::vector<crypto::PrivateKey> k;
    for (int i = 0; i < 3; ++i) k.push_back(crypto::PrivateKey::generateRsa(2048).value());
    return k;
  }();
  return keys.at(index);
}

system_clock::time_point at(int64_t unix_seconds) {
  return system_clock::time_point(seconds(unix_seconds));
}

// The reference unwrap (spec §2.4 "Unwrap"): OAEP-decrypt the first k bytes, AES-KWP the rest.
SecretBytes unwrap(const crypto::PrivateKey& key, crypto::HashAlg hash, const Bytes& ciphertext) {
  const std::size_t k = static_cast<std::size_t>(key.bits()) / 8;
  REQUIRE(ciphertext.size() > k);
  StatusOr<SecretBytes> kek = crypto::rsaOaepDecrypt(key, hash, ByteView(ciphertext.data(), k));
  REQUIRE(kek.ok());
  CHECK(kek->size() == 32);
  StatusOr<SecretBytes> plain =
      crypto::aesKeyUnwrapPad(*kek, ByteView(ciphertext.data() + k, ciphertext.size() - k));
  REQUIRE(plain.ok());
  return std::move(plain).value();
}

json::ObjectPtr transferJwk(const crypto::PrivateKey& key, const std::string& kid,
                            bool encrypt = true) {
  jose::Jwk jwk = jose::Jwk::fromPublicKey(key.publicKey());
  if (!kid.empty()) jwk.setKid(kid);
  if (encrypt) jwk.setKeyOps({"encrypt"});
  return jwk.publicJson().value();
}

json::ObjectPtr claimsWith(Poco::JSON::Array::Ptr keys, const std::string& iss) {
  json::ObjectPtr runtime = new Poco::JSON::Object;
  runtime->set("keys", keys);
  json::ObjectPtr claims = new Poco::JSON::Object;
  claims->set("iss", iss);
  claims->set("iat", kNow - 10);
  claims->set("nbf", kNow - 10);
  claims->set("exp", kNow + 3600);
  claims->set("x-ms-attestation-type", "sevsnpvm");
  claims->set("x-ms-runtime", runtime);
  return claims;
}

std::string sign(const crypto::PrivateKey& key, const json::ObjectPtr& claims,
                 const std::string& kid, jose::JwsAlgorithm alg = jose::JwsAlgorithm::RS256) {
  json::ObjectPtr header = new Poco::JSON::Object;
  header->set("kid", kid);
  header->set("typ", "JWT");
  return jose::signJws(key, alg, asBytes(json::serializeCanonical(claims).value()), header).value();
}

std::vector<MaaIssuer> issuers() {
  std::vector<MaaIssuer> out;
  out.push_back(MaaIssuer{"maa", "https://127.0.0.1:4001", "kid-maa", rsaKey(0).publicKey(), true});
  out.push_back(
      MaaIssuer{"maa2", "https://127.0.0.1:4002", "kid-maa2", rsaKey(1).publicKey(), false});
  return out;
}

json::ObjectPtr simpleClaims(const std::string& iss = "https://127.0.0.1:4001") {
  Poco::JSON::Array::Ptr keys = new Poco::JSON::Array;
  keys->add(transferJwk(rsaKey(2), "tk"));
  return claimsWith(keys, iss);
}

TEST_CASE("RSA-AES key wrap output unwraps with the transfer key under the enc's OAEP hash only") {
  const SecretBytes pkcs8 = rsaKey(1).toPkcs8Der();
  const SecretBytes aes = SecretBytes::copyOf(Bytes(32, 0x5a));
  for (azure::KeyExportEnc enc :
       {azure::KeyExportEnc::CkmRsaAesKeyWrap, azure::KeyExportEnc::RsaAesKeyWrap256,
        azure::KeyExportEnc::RsaAesKeyWrap384}) {
    INFO(azure::keyExportEncName(enc));
    for (const SecretBytes* plain : {&pkcs8, &aes}) {
      StatusOr<Bytes> wrapped = rsaAesKeyWrap(rsaKey(0).publicKey(), enc, *plain);
      REQUIRE(wrapped.ok());
      const std::size_t padded = (plain->size() + 7) / 8 * 8;
      CHECK(wrapped->size() == 256 + padded + 8);
      CHECK(unwrap(rsaKey(0), azure::oaepHashFor(enc), *wrapped) == *plain);
      // Another OAEP hash does not decrypt the KEK.
      const crypto::HashAlg other = enc == azure::KeyExportEnc::CkmRsaAesKeyWrap
                                        ? crypto::HashAlg::Sha256
                                        : crypto::HashAlg::Sha1;
      CHECK(!crypto::rsaOaepDecrypt(rsaKey(0), other, ByteView(wrapped->data(), 256)).ok());
    }
  }
  // 32-byte oct key under RSA-2048: 256 + 40 = 296 bytes (spec §2.4).
  CHECK(rsaAesKeyWrap(rsaKey(0).publicKey(), kDefaultKeyExportEncryption, aes)->size() == 296);
  // A fresh AES key per wrap.
  CHECK(*rsaAesKeyWrap(rsaKey(0).publicKey(), kDefaultKeyExportEncryption, aes) !=
        *rsaAesKeyWrap(rsaKey(0).publicKey(), kDefaultKeyExportEncryption, aes));
  const crypto::PrivateKey ec = crypto::PrivateKey::generateEc(crypto::Curve::P256).value();
  CHECK(rsaAesKeyWrap(ec.publicKey(), kDefaultKeyExportEncryption, aes).status().code() ==
        StatusCode::InvalidArgument);
  CHECK(rsaAesKeyWrap(rsaKey(0).publicKey(), kDefaultKeyExportEncryption, SecretBytes())
            .status()
            .code() == StatusCode::InvalidArgument);
}

TEST_CASE("release request bodies are validated member by member") {
  StatusOr<ReleaseRequest> minimal = parseReleaseRequest(R"({"target":"a.b.c"})");
  REQUIRE(minimal.ok());
  CHECK(minimal->target == "a.b.c");
  CHECK(!minimal->nonce);
  CHECK(minimal->enc == azure::KeyExportEnc::CkmRsaAesKeyWrap);
  StatusOr<ReleaseRequest> full =
      parseReleaseRequest(R"({"target":"t","nonce":"n1","enc":"RSA_AES_KEY_WRAP_384","other":1})");
  REQUIRE(full.ok());
  CHECK(*full->nonce == "n1");
  CHECK(full->enc == azure::KeyExportEnc::RsaAesKeyWrap384);

  const std::pair<std::string, std::string> bad[] = {
      {"", "empty"},
      {"[1]", "JSON object"},
      {"{", "JSON object"},
      {"{}", "'target' is required"},
      {R"({"target":null})", "'target' is required"},
      {R"({"target":12})", "'target' must be a string"},
      {R"({"target":""})", "'target' must not be empty"},
      {R"({"target":"t","nonce":5})", "'nonce' must be a string"},
      {R"({"target":"t","nonce":")" + std::string(1025, 'n') + "\"}", "'nonce' is 1025 bytes"},
      {R"({"target":"t","enc":"A256KW"})", "'enc'"},
      {R"({"target":"t","enc":true})", "'enc' must be a string"},
      {R"({"target":")" + std::string(kMaxAttestationTokenBytes + 1, 'x') + "\"}",
       "'target' is 131073 bytes"},
  };
  for (const auto& [body, expected] : bad) {
    INFO(body.substr(0, 80));
    StatusOr<ReleaseRequest> r = parseReleaseRequest(body);
    REQUIRE(!r.ok());
    CHECK(r.status().code() == StatusCode::InvalidArgument);
    CHECK_THAT(r.status().message(), Catch::Contains(expected));
  }
}

TEST_CASE("MAA tokens verify only from a trusted issuer, with its kid, signature and lifetime") {
  const std::string good = sign(rsaKey(0), simpleClaims(), "kid-maa");
  StatusOr<VerifiedMaaToken> ok = verifyMaaToken(good, issuers(), at(kNow));
  REQUIRE(ok.ok());
  CHECK(ok->listener == "maa");
  CHECK(ok->issuer == "https://127.0.0.1:4001");
  CHECK(ok->claims->getValue<std::string>("x-ms-attestation-type") == "sevsnpvm");

  // One trailing slash on iss is the same issuer.
  CHECK(verifyMaaToken(sign(rsaKey(0), simpleClaims("https://127.0.0.1:4001/"), "kid-maa"),
                       issuers(), at(kNow))
            .ok());

  struct Case {
    std::string name;
    std::string token;
    int64_t now;
    StatusCode code;
    std::string message;
  };
  json::ObjectPtr no_iss = simpleClaims();
  no_iss->remove("iss");
  const Case cases[] = {
      {"untrusted maa2", sign(rsaKey(1), simpleClaims("https://127.0.0.1:4002"), "kid-maa2"), kNow,
       StatusCode::PermissionDenied,
       "the emulated MAA instance 'maa2', which this vault does not "
       "trust (trusted: https://127.0.0.1:4001)"},
      {"unknown issuer", sign(rsaKey(0), simpleClaims("https://evil.example"), "kid-maa"), kNow,
       StatusCode::PermissionDenied, "\"https://evil.example\" is an unknown attestation service"},
      {"no iss", sign(rsaKey(0), no_iss, "kid-maa"), kNow, StatusCode::PermissionDenied,
       "no string 'iss'"},
      {"wrong kid", sign(rsaKey(0), simpleClaims(), "other"), kNow, StatusCode::PermissionDenied,
       "kid \"other\" is not a signing key of https://127.0.0.1:4001"},
      {"bad signature", sign(rsaKey(1), simpleClaims(), "kid-maa"), kNow,
       StatusCode::PermissionDenied, "signature does not verify"},
      {"expired", good, kNow + 3600 + 61, StatusCode::PermissionDenied, "token expired at"},
      {"not yet valid", good, kNow - 10 - 61, StatusCode::PermissionDenied, "not valid before"},
      {"PS256", sign(rsaKey(0), simpleClaims(), "kid-maa", jose::JwsAlgorithm::PS256), kNow,
       StatusCode::PermissionDenied, "signed with PS256; MAA tokens must use RS256"},
      {"alg none",
       encoding::base64UrlEncode(asBytes(R"({"alg":"none"})")) + "." +
           encoding::base64UrlEncode(asBytes("{}")) + ".",
       kNow, StatusCode::InvalidArgument, "not a compact JWS"},
      {"alg none signed",
       encoding::base64UrlEncode(asBytes(R"({"alg":"none"})")) + "." +
           encoding::base64UrlEncode(asBytes("{}")) + ".c2ln",
       kNow, StatusCode::PermissionDenied, "algorithm is not accepted"},
      {"garbage", "not-a-token", kNow, StatusCode::InvalidArgument, "not a compact JWS"},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    StatusOr<VerifiedMaaToken> r = verifyMaaToken(c.token, issuers(), at(c.now));
    REQUIRE(!r.ok());
    CHECK(r.status().code() == c.code);
    CHECK_THAT(r.status().message(), Catch::Contains(c.message));
  }
  // Within the leeway an expired token still passes.
  CHECK(verifyMaaToken(good, issuers(), at(kNow + 3600 + 30)).ok());
}

TEST_CASE("the transfer key is the first RSA key with key_ops encrypt or key_use enc") {
  const crypto::PrivateKey ec = crypto::PrivateKey::generateEc(crypto::Curve::P256).value();
  Poco::JSON::Array::Ptr keys = new Poco::JSON::Array;
  json::ObjectPtr ec_jwk = jose::Jwk::fromPublicKey(ec.publicKey()).publicJson().value();
  ec_jwk->set("key_ops", Poco::JSON::Array::Ptr(new Poco::JSON::Array));
  keys->add(ec_jwk);
  keys->add(transferJwk(rsaKey(0), "sign-only", /*encrypt=*/false));
  json::ObjectPtr by_use = transferJwk(rsaKey(1), "", /*encrypt=*/false);
  by_use->set("key_use", "enc");
  keys->add(by_use);
  keys->add(transferJwk(rsaKey(2), "later"));
  StatusOr<TransferKey> chosen = selectTransferKey(claimsWith(keys, "https://x"));
  REQUIRE(chosen.ok());
  CHECK((*chosen->jwk.publicKey())->equals(rsaKey(1).publicKey()));
  // No kid: the RFC 7638 thumbprint names it.
  CHECK(chosen->kid == jose::Jwk::fromPublicKey(rsaKey(1).publicKey()).thumbprint());

  Poco::JSON::Array::Ptr unsuitable = new Poco::JSON::Array;
  unsuitable->add(ec_jwk);
  unsuitable->add(transferJwk(rsaKey(0), "sign-only", false));
  StatusOr<TransferKey> none = selectTransferKey(claimsWith(unsuitable, "https://x"));
  REQUIRE(!none.ok());
  CHECK(none.status().code() == StatusCode::FailedPrecondition);
  CHECK_THAT(none.status().message(), Catch::Contains("keys[0] is not an RSA key"));
  CHECK_THAT(none.status().message(), Catch::Contains("keys[1] has neither key_use"));

  json::ObjectPtr no_runtime = simpleClaims();
  no_runtime->remove("x-ms-runtime");
  CHECK_THAT(selectTransferKey(no_runtime).status().message(),
             Catch::Contains("no 'x-ms-runtime'"));
  CHECK_THAT(selectTransferKey(claimsWith(new Poco::JSON::Array, "https://x")).status().message(),
             Catch::Contains("the list is empty"));
}

TEST_CASE("key_hsm and the release payload carry AKV's field names and the wrapped material") {
  KeyVersion v;
  v.vault = "mhsm";
  v.name = "aes";
  v.version = newKeyVersionId();
  v.kty = "oct-HSM";
  REQUIRE(generateKeyMaterial(KeySpec{KeyFamily::Oct, 256, crypto::Curve::P256}, v).ok());
  v.key_ops = {"wrapKey", "unwrapKey"};
  v.attributes.exportable = true;
  v.attributes.created = v.attributes.updated = kNow;
  v.release_policy = KeyReleasePolicy{"application/json; charset=utf-8", toBytes("{}"), false};

  const SecretBytes plain = releasePlaintext(v);
  CHECK(plain.size() == 32);
  CHECK(plain == v.material);
  const Bytes ciphertext =
      rsaAesKeyWrap(rsaKey(0).publicKey(), azure::KeyExportEnc::RsaAesKeyWrap256, plain).value();
  const std::string hsm = keyHsm("tk", azure::KeyExportEnc::RsaAesKeyWrap256, ciphertext);
  CHECK(hsm.find('=') == std::string::npos);
  json::ObjectPtr blob = json::parseObject(toString(*encoding::base64UrlDecode(hsm))).value();
  CHECK(blob->getValue<std::string>("schema_version") == "1.0.0");
  CHECK(blob->getObject("header")->getValue<std::string>("kid") == "tk");
  CHECK(blob->getObject("header")->getValue<std::string>("alg") == "dir");
  CHECK(blob->getObject("header")->getValue<std::string>("enc") == "RSA_AES_KEY_WRAP_256");
  const Bytes ct = *encoding::base64UrlDecode(blob->getValue<std::string>("ciphertext"));
  CHECK(unwrap(rsaKey(0), crypto::HashAlg::Sha256, ct) == v.material);

  json::ObjectPtr payload = releasePayload(v, "https://127.0.0.1:5000", "7.4",
                                           azure::KeyExportEnc::RsaAesKeyWrap256, "n-1", hsm);
  json::ObjectPtr request = payload->getObject("request");
  CHECK(request->getValue<std::string>("api-version") == "7.4");
  CHECK(request->getValue<std::string>("enc") == "RSA_AES_KEY_WRAP_256");
  CHECK(request->getValue<std::string>("kid") == "https://127.0.0.1:5000/keys/aes/" + v.version);
  CHECK(request->getValue<std::string>("nonce") == "n-1");
  CHECK(payload->getValue<bool>("x-ms-emulated"));
  json::ObjectPtr key = payload->getObject("response")->getObject("key");
  CHECK(key->getObject("key")->getValue<std::string>("key_hsm") == hsm);
  CHECK(key->getObject("key")->getValue<std::string>("kty") == "oct-HSM");
  CHECK(!key->getObject("key")->has("k"));
  CHECK(key->getObject("attributes")->getValue<bool>("exportable"));
  CHECK(key->getObject("release_policy")->getValue<std::string>("data") ==
        encoding::base64UrlEncode(asBytes("{}")));
  CHECK(!releasePayload(v, "https://h", "7.4", kDefaultKeyExportEncryption, std::nullopt, hsm)
             ->getObject("request")
             ->has("nonce"));
}

}  // namespace
}  // namespace skr::emulator
