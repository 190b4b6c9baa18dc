// Secure key release on the emulated Key Vault / Managed HSM over plain HTTPS: the response JWS
// verifies against its x5c chain to DIR/ca.pem, key_hsm unwraps with the transfer key to the
// released key, and every denial (policy, token, RBAC, lookup, body) has AKV's error shape.
// Most MAA tokens are minted here with the MAA instances' persisted signing keys (DIR/signing/),
// the same keys the emulated MAA signs with, so each claim can be varied; the last test gets its
// tokens from the emulated MAA (POST /attest/SevSnpVm with a report of the emulated chip).
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <array>
#include <catch2/catch.hpp>
#include <chrono>

#include "common/azure/release_policy.h"
#include "common/crypto/aes_key_wrap.h"
#include "common/crypto/digest.h"
#include "common/crypto/pkey.h"
#include "common/crypto/rsa_oaep.h"
#include "common/crypto/x509.h"
#include "common/encoding/base64.h"
#include "common/jose/jwk.h"
#include "common/jose/jws.h"
#include "common/snp/emulated_chip.h"
#include "tests/integration/emulator_process.h"
#include "tests/integration/maa_test_tokens.h"

namespace skr::testing {
namespace {

const std::string& kHostData = kTestHostData;
const std::string kOtherHostData =
    "0000000000000000000000000000000000000000000000000000000000000001";

const crypto::PrivateKey& transferKey() {
  return testTransferKey();
}

json::ObjectPtr maaClaims(const EmulatorProcess& emu, const std::string& maa = "maa") {
  return aciMaaClaims(emu, kHostData, maa);
}

std::string mintToken(const EmulatorProcess& emu, const json::ObjectPtr& claims,
                      const std::string& maa = "maa", const crypto::PrivateKey* signer = nullptr) {
  return signMaaToken(emu, claims, maa, signer);
}

std::string policyWire(const std::string& authority, bool require_uvm = true) {
  return aciReleasePolicyWire(authority, kHostData, require_uvm);
}

struct Vault {
  const EmulatorProcess& emu;
  std::string listener;
  std::string token;

  HttpResult send(const std::string& method, const std::string& path, const std::string& body = {},
                  const std::string& api = "7.4") const {
    HttpCall c;
    c.method = method;
    c.url = emu.url(listener) + path + (api.empty() ? "" : "?api-version=" + api);
    c.body = body;
    if (!token.empty()) c.headers.push_back({"Authorization", "Bearer " + token});
    return emu.call(c);
  }
  // Creates an exportable key with the ACI policy for the trusted MAA; returns its kid.
  std::string createExportable(const std::string& name, const std::string& spec,
                               const std::string& policy = {}) const {
    HttpResult r = send("POST", "/keys/" + name + "/create",
                        "{" + spec + R"(,"attributes":{"exportable":true},"release_policy":)" +
                            (policy.empty() ? policyWire(emu.url("maa")) : policy) + "}");
    INFO(r.body);
    REQUIRE(r.status == 200);
    return r.json()->getObject("key")->getValue<std::string>("kid");
  }
};

std::string releaseBody(const std::string& target, const std::string& enc = {},
                        const std::string& nonce = {}) {
  json::ObjectPtr b = new Poco::JSON::Object;
  b->set("target", target);
  if (!enc.empty()) b->set("enc", enc);
  if (!nonce.empty()) b->set("nonce", nonce);
  return json::serializeCanonical(b).value();
}

void expectError(const HttpResult& r, int status, const std::string& code,
                 const std::string& message_part = {}, const std::string& inner = {}) {
  INFO(r.status << " " << r.body << r.error);
  REQUIRE(r.status == status);
  json::ObjectPtr error = r.json()->getObject("error");
  CHECK(error->getValue<std::string>("code") == code);
  if (!message_part.empty()) {
    CHECK_THAT(error->getValue<std::string>("message"), Catch::Contains(message_part));
  }
  if (!inner.empty()) {
    CHECK(error->getObject("innererror")->getValue<std::string>("code") == inner);
  }
}

struct Released {
  json::ObjectPtr payload;
  json::ObjectPtr key_hsm;
  SecretBytes plaintext;
};

// Verifies the release response as a client must (spec §2.2-2.4) and unwraps key_hsm.
Released verifyRelease(const EmulatorProcess& emu, const HttpResult& r,
                       const std::string& expected_enc) {
  INFO(r.status << " " << r.body);
  REQUIRE(r.status == 200);
  StatusOr<jose::Jws> jws = jose::Jws::parse(r.json()->getValue<std::string>("value"));
  REQUIRE(jws.ok());
  CHECK(jws->algorithm() == jose::JwsAlgorithm::RS256);
  StatusOr<std::vector<crypto::Certificate>> x5c = jws->x5c();
  REQUIRE(x5c.ok());
  REQUIRE(x5c->size() == 2);
  StatusOr<crypto::Certificate> ca = crypto::Certificate::fromPem(readFileText(emu.caFile()));
  REQUIRE(ca.ok());
  // The leaf names the vault host (SAN IP 127.0.0.1) and localhost, like the TLS certificate.
  const std::vector<crypto::Certificate> intermediates(x5c->begin() + 1, x5c->end());
  for (const char* host : {"127.0.0.1", "localhost"}) {
    crypto::ChainVerifyOptions options;
    options.hostname = host;
    Status chain = crypto::verifyChain(x5c->front(), intermediates, std::vector{*ca}, options);
    INFO(host << ": " << chain.toString());
    REQUIRE(chain.ok());
  }
  crypto::ChainVerifyOptions other_host;
  other_host.hostname = "myvault.vault.azure.net";
  CHECK(!crypto::verifyChain(x5c->front(), intermediates, std::vector{*ca}, other_host).ok());
  CHECK(jws->header()->getValue<std::string>("x5t#S256") ==
        encoding::base64UrlEncode(x5c->front().sha256Fingerprint()));
  CHECK(jws->kid().has_value());
  Status sig = jws->verify(x5c->front().publicKey());
  INFO(sig.toString());
  REQUIRE(sig.ok());

  Released out;
  out.payload = jws->payloadJson().value();
  CHECK(out.payload->getValue<bool>("x-ms-emulated"));
  CHECK(out.payload->getObject("request")->getValue<std::string>("enc") == expected_enc);
  const std::string key_hsm = out.payload->getObject("response")
                                  ->getObject("key")
                                  ->getObject("key")
                                  ->getValue<std::string>("key_hsm");
  StatusOr<Bytes> blob = encoding::base64UrlDecode(key_hsm);
  REQUIRE(blob.ok());
  out.key_hsm = json::parseObject(toString(*blob)).value();
  json::ObjectPtr header = out.key_hsm->getObject("header");
  CHECK(out.key_hsm->getValue<std::string>("schema_version") == "1.0.0");
  CHECK(header->getValue<std::string>("alg") == "dir");
  CHECK(header->getValue<std::string>("enc") == expected_enc);
  CHECK(header->getValue<std::string>("kid") == "transfer");
  const Bytes ct = *encoding::base64UrlDecode(out.key_hsm->getValue<std::string>("ciphertext"));
  const crypto::HashAlg hash = expected_enc == "CKM_RSA_AES_KEY_WRAP"   ? crypto::HashAlg::Sha1
                               : expected_enc == "RSA_AES_KEY_WRAP_256" ? crypto::HashAlg::Sha256
                                                                        : crypto::HashAlg::Sha384;
  REQUIRE(ct.size() > 256);
  StatusOr<SecretBytes> kek = crypto::rsaOaepDecrypt(transferKey(), hash, ByteView(ct.data(), 256));
  REQUIRE(kek.ok());
  CHECK(kek->size() == 32);
  StatusOr<SecretBytes> plain =
      crypto::aesKeyUnwrapPad(*kek, ByteView(ct.data() + 256, ct.size() - 256));
  REQUIRE(plain.ok());
  out.plaintext = std::move(plain).value();
  return out;
}

json::ObjectPtr releasedJwk(const Released& r) {
  return r.payload->getObject("response")->getObject("key")->getObject("key");
}

Bytes b64u(const json::ObjectPtr& o, const std::string& member) {
  StatusOr<Bytes> b = encoding::base64UrlDecode(o->getValue<std::string>(member));
  REQUIRE(b.ok());
  return *b;
}

const char* const kEncs[] = {"CKM_RSA_AES_KEY_WRAP", "RSA_AES_KEY_WRAP_256",
                             "RSA_AES_KEY_WRAP_384"};

TEST_CASE(
    "key release wraps RSA and EC (vault) and oct (mhsm) keys to the transfer key under "
    "every enc, in a JWS that verifies to the emulator CA",
    "[emulator][release]") {
  auto emu = EmulatorProcess::start();
  Vault vault{*emu, "vault", tokenWithRole(*emu, "Key Vault Crypto Officer")};
  Vault mhsm{*emu, "mhsm", tokenWithRole(*emu, "Managed HSM Crypto Officer", "mhsm")};
  Vault vault_release{*emu, "vault", tokenWithRole(*emu, "Key Vault Crypto Service Release User")};
  Vault mhsm_release{*emu, "mhsm",
                     tokenWithRole(*emu, "Managed HSM Crypto Service Release User", "mhsm")};
  const std::string rsa_kid = vault.createExportable("rsa", R"("kty":"RSA-HSM","key_size":3072)");
  const std::string ec_kid = vault.createExportable("ec", R"("kty":"EC-HSM","crv":"P-384")");
  // A known oct key, imported, so the released bytes can be compared.
  const Bytes aes(32, 0x42);
  HttpResult imported =
      mhsm.send("PUT", "/keys/aes",
                R"({"key":{"kty":"oct-HSM","k":")" + encoding::base64UrlEncode(aes) +
                    R"("},"attributes":{"exportable":true},"release_policy":)" +
                    policyWire(emu->url("maa")) + "}");
  REQUIRE(imported.status == 200);
  const std::string aes_kid = imported.json()->getObject("key")->getValue<std::string>("kid");
  const std::string token = mintToken(*emu, maaClaims(*emu));

  for (const std::string enc : kEncs) {
    INFO(enc);
    Released rsa = verifyRelease(
        *emu, vault_release.send("POST", "/keys/rsa/release", releaseBody(token, enc)), enc);
    StatusOr<crypto::PrivateKey> rsa_key = crypto::PrivateKey::fromPkcs8Der(rsa.plaintext);
    REQUIRE(rsa_key.ok());
    CHECK(rsa_key->bits() == 3072);
    const crypto::RsaPublicComponents pub = rsa_key->publicKey().rsaComponents().value();
    CHECK(pub.n == b64u(releasedJwk(rsa), "n"));
    CHECK(pub.e == b64u(releasedJwk(rsa), "e"));
    CHECK(releasedJwk(rsa)->getValue<std::string>("kid") == rsa_kid);
    CHECK(releasedJwk(rsa)->getValue<std::string>("kty") == "RSA-HSM");
    CHECK(!releasedJwk(rsa)->has("d"));
    CHECK(rsa.payload->getObject("request")->getValue<std::string>("kid") == rsa_kid);
    CHECK(rsa.payload->getObject("request")->getValue<std::string>("api-version") == "7.4");

    Released ec = verifyRelease(
        *emu, vault_release.send("POST", "/keys/ec/release", releaseBody(token, enc)), enc);
    StatusOr<crypto::PrivateKey> ec_key = crypto::PrivateKey::fromPkcs8Der(ec.plaintext);
    REQUIRE(ec_key.ok());
    const crypto::EcPublicPoint point = ec_key->publicKey().ecPoint().value();
    CHECK(point.curve == crypto::Curve::P384);
    CHECK(point.x == b64u(releasedJwk(ec), "x"));
    CHECK(point.y == b64u(releasedJwk(ec), "y"));
    CHECK(releasedJwk(ec)->getValue<std::string>("crv") == "P-384");
    CHECK(releasedJwk(ec)->getValue<std::string>("kid") == ec_kid);

    Released oct = verifyRelease(
        *emu, mhsm_release.send("POST", "/keys/aes/release", releaseBody(token, enc)), enc);
    CHECK(oct.plaintext == SecretBytes::copyOf(aes));
    CHECK(releasedJwk(oct)->getValue<std::string>("kty") == "oct-HSM");
    CHECK(!releasedJwk(oct)->has("k"));
    CHECK(releasedJwk(oct)->getValue<std::string>("kid") == aes_kid);
  }

  // Default enc, versioned path, nonce echo, other api-versions, the release policy echoed.
  const std::string version = rsa_kid.substr(rsa_kid.rfind('/') + 1);
  for (const char* api : {"7.3", "7.6", "2025-07-01"}) {
    Released r = verifyRelease(*emu,
                               vault_release.send("POST", "/keys/rsa/" + version + "/release",
                                                  releaseBody(token, "", "nonce-42"), api),
                               "CKM_RSA_AES_KEY_WRAP");
    CHECK(r.payload->getObject("request")->getValue<std::string>("nonce") == "nonce-42");
    CHECK(r.payload->getObject("request")->getValue<std::string>("api-version") == api);
    json::ObjectPtr bundle = r.payload->getObject("response")->getObject("key");
    CHECK(bundle->getObject("attributes")->getValue<bool>("exportable"));
    CHECK(bundle->getObject("release_policy")->getValue<std::string>("contentType") ==
          "application/json; charset=utf-8");
    CHECK(bundle->getObject("release_policy")->has("data"));
  }
  // 7.2 is a Key Vault version, but one without the release operation.
  HttpResult old_version =
      vault_release.send("POST", "/keys/rsa/release", releaseBody(token), "7.2");
  expectError(old_version, 400, "BadParameter");
  CHECK(old_version.json()->getObject("error")->getValue<std::string>("message") ==
        "The specified version (7.2) does not support key release. Use version 7.3 or later.");
  // The Crypto Officer may release on Key Vault too; Managed HSM's release role is separate.
  verifyRelease(*emu, vault.send("POST", "/keys/rsa/release", releaseBody(token)),
                "CKM_RSA_AES_KEY_WRAP");
  expectError(mhsm.send("POST", "/keys/aes/release", releaseBody(token)), 403, "Forbidden", "",
              "ForbiddenByRbac");
  CHECK(emu->stop() == 0);
}

TEST_CASE("key release is denied with 403 naming the failing claim, issuer, signature or time",
          "[emulator][release]") {
  auto emu = EmulatorProcess::start();
  Vault officer{*emu, "vault", tokenWithRole(*emu, "Key Vault Crypto Officer")};
  Vault vault{*emu, "vault", tokenWithRole(*emu, "Key Vault Crypto Service Release User")};
  officer.createExportable("kek", R"("kty":"RSA-HSM")");
  officer.createExportable("other-authority", R"("kty":"RSA-HSM")", policyWire(emu->url("maa2")));
  // The authority with a trailing slash, as CVM policies write it.
  officer.createExportable("slash", R"("kty":"RSA-HSM")", policyWire(emu->url("maa") + "/"));
  const std::string policy_denied = "does not satisfy the key release policy";

  auto release = [&](const std::string& key, const std::string& token) {
    return vault.send("POST", "/keys/" + key + "/release", releaseBody(token));
  };
  verifyRelease(*emu, release("slash", mintToken(*emu, maaClaims(*emu))), "CKM_RSA_AES_KEY_WRAP");

  json::ObjectPtr hostdata = maaClaims(*emu);
  hostdata->set("x-ms-sevsnpvm-hostdata", kOtherHostData);
  expectError(release("kek", mintToken(*emu, hostdata)), 403, "Forbidden", policy_denied,
              "AccessDenied");
  HttpResult hostdata_denied = release("kek", mintToken(*emu, hostdata));
  CHECK_THAT(hostdata_denied.json()->getObject("error")->getValue<std::string>("message"),
             Catch::Contains("x-ms-sevsnpvm-hostdata"));

  json::ObjectPtr debuggable = maaClaims(*emu);
  debuggable->set("x-ms-sevsnpvm-is-debuggable", true);
  expectError(release("kek", mintToken(*emu, debuggable)), 403, "Forbidden",
              "x-ms-sevsnpvm-is-debuggable", "AccessDenied");

  json::ObjectPtr compliance = maaClaims(*emu);
  compliance->set("x-ms-compliance-status", "azure-compliant-cvm");
  expectError(release("kek", mintToken(*emu, compliance)), 403, "Forbidden",
              "x-ms-compliance-status", "AccessDenied");
  json::ObjectPtr no_compliance = maaClaims(*emu);
  no_compliance->remove("x-ms-compliance-status");
  expectError(release("kek", mintToken(*emu, no_compliance)), 403, "Forbidden",
              "x-ms-compliance-status", "AccessDenied");

  // The policy names maa2 as its authority; the (trusted) token is from maa.
  HttpResult authority = release("other-authority", mintToken(*emu, maaClaims(*emu)));
  expectError(authority, 403, "Forbidden", policy_denied, "AccessDenied");
  CHECK_THAT(authority.json()->getObject("error")->getValue<std::string>("message"),
             Catch::Contains(emu->url("maa2")));

  json::ObjectPtr expired = maaClaims(*emu);
  expired->set("iat", unixNow() - 9 * 3600);
  expired->set("nbf", unixNow() - 9 * 3600);
  expired->set("exp", unixNow() - 3600);
  expectError(release("kek", mintToken(*emu, expired)), 403, "Forbidden", "token expired at",
              "AccessDenied");
  json::ObjectPtr future = maaClaims(*emu);
  future->set("nbf", unixNow() + 3600);
  expectError(release("kek", mintToken(*emu, future)), 403, "Forbidden", "not valid before",
              "AccessDenied");

  // A well-signed token of maa2, which the vaults do not trust.
  expectError(release("kek", mintToken(*emu, maaClaims(*emu, "maa2"), "maa2")), 403, "Forbidden",
              "is the emulated MAA instance 'maa2', which this vault does not trust",
              "AccessDenied");
  // maa2's key signing a token that claims to be from maa: kid and signature give it away.
  const crypto::PrivateKey maa2_key = maaSigningKey(*emu, "maa2");
  expectError(release("kek", mintToken(*emu, maaClaims(*emu), "maa", &maa2_key)), 403, "Forbidden",
              "signature does not verify", "AccessDenied");
  // A token from an unknown issuer.
  json::ObjectPtr unknown = maaClaims(*emu);
  unknown->set("iss", "https://sharedeus.eus.attest.azure.net");
  expectError(release("kek", mintToken(*emu, unknown)), 403, "Forbidden",
              "unknown attestation service", "AccessDenied");
  // Tampered payload: same header and signature, other claims.
  const std::string good = mintToken(*emu, maaClaims(*emu));
  const std::string header = good.substr(0, good.find('.'));
  const std::string signature = good.substr(good.rfind('.'));
  json::ObjectPtr tampered = maaClaims(*emu);
  tampered->set("x-ms-sevsnpvm-is-debuggable", false);
  tampered->set("x-ms-sevsnpvm-hostdata", kHostData);
  tampered->set("jti", "tampered");
  expectError(release("kek", header + "." +
                                 encoding::base64UrlEncode(
                                     asBytes(json::serializeCanonical(tampered).value())) +
                                 signature),
              403, "Forbidden", "signature does not verify", "AccessDenied");
  CHECK(emu->stop() == 0);
}

TEST_CASE(
    "key release answers 401, 403 RBAC, 404 for unknown keys and versions, 400 for bad "
    "bodies and non-exportable keys",
    "[emulator][release]") {
  auto emu = EmulatorProcess::start();
  Vault officer{*emu, "vault", tokenWithRole(*emu, "Key Vault Crypto Officer")};
  Vault vault{*emu, "vault", tokenWithRole(*emu, "Key Vault Crypto Service Release User")};
  officer.createExportable("kek", R"("kty":"RSA-HSM")");
  REQUIRE(officer.send("POST", "/keys/plain/create", R"({"kty":"RSA-HSM"})").status == 200);
  const std::string token = mintToken(*emu, maaClaims(*emu));

  expectError(Vault{*emu, "vault", ""}.send("POST", "/keys/kek/release", releaseBody(token)), 401,
              "Unauthorized");
  // Crypto User may read and use keys but not release them.
  Vault user{*emu, "vault", tokenWithRole(*emu, "Key Vault Crypto User")};
  HttpResult rbac = user.send("POST", "/keys/kek/release", releaseBody(token));
  expectError(rbac, 403, "Forbidden", "Microsoft.KeyVault/vaults/keys/release/action",
              "ForbiddenByRbac");

  expectError(vault.send("POST", "/keys/absent/release", releaseBody(token)), 404, "KeyNotFound",
              "absent");
  expectError(
      vault.send("POST", "/keys/kek/0123456789abcdef0123456789abcdef/release", releaseBody(token)),
      404, "KeyNotFound", "kek/0123456789abcdef0123456789abcdef");
  expectError(vault.send("POST", "/keys/plain/release", releaseBody(token)), 400, "BadParameter",
              "is not exportable");

  const std::pair<std::string, std::string> bad_bodies[] = {
      {"", "empty"},
      {"{", "not a valid JSON object"},
      {"{}", "'target' is required"},
      {R"({"target":7})", "'target' must be a string"},
      {R"({"target":""})", "'target' must not be empty"},
      {R"({"target":")" + token + R"(","enc":"RSA-OAEP"})", "'enc'"},
      {R"({"target":")" + token + R"(","nonce":{}})", "'nonce' must be a string"},
      {R"({"target":"not.a.jwt"})", "target is not a compact JWS"},
      {R"({"target":")" + std::string(200 * 1024, 'a') + "\"}", "'target' is 204800 bytes"},
  };
  for (const auto& [body, message] : bad_bodies) {
    INFO(body.substr(0, 60));
    expectError(vault.send("POST", "/keys/kek/release", body), 400, "BadParameter", message);
  }
  // Policies the release could not evaluate are refused when they are set.
  const std::string bad_policy =
      R"({"version":"1.0.0","anyOf":[{"authority":"https://maa.example","allOf":[{"claim":"x","between":1}]}]})";
  expectError(
      officer.send(
          "POST", "/keys/bad-policy/create",
          R"({"kty":"RSA-HSM","attributes":{"exportable":true},"release_policy":{"data":")" +
              encoding::base64UrlEncode(asBytes(bad_policy)) + "\"}}"),
      400, "BadParameter", "release_policy.data is not a valid release policy");
  expectError(officer.send("PATCH", "/keys/kek",
                           R"({"release_policy":{"data":")" +
                               encoding::base64UrlEncode(asBytes(R"({"anyOf":[]})")) + "\"}}"),
              400, "BadParameter", "release_policy.data is not a valid release policy");

  // A valid token whose runtime data holds no RSA encryption key.
  json::ObjectPtr no_keys = maaClaims(*emu);
  json::ObjectPtr runtime = new Poco::JSON::Object;
  runtime->set("keys", Poco::JSON::Array::Ptr(new Poco::JSON::Array));
  no_keys->set("x-ms-runtime", runtime);
  expectError(vault.send("POST", "/keys/kek/release", releaseBody(mintToken(*emu, no_keys))), 400,
              "BadParameter", "x-ms-runtime.keys holds no RSA key");

  // Disabled keys are not released.
  REQUIRE(officer.send("PATCH", "/keys/kek", R"({"attributes":{"enabled":false}})").status == 200);
  expectError(vault.send("POST", "/keys/kek/release", releaseBody(token)), 403, "Forbidden",
              "disabled", "KeyDisabled");
  REQUIRE(officer.send("PATCH", "/keys/kek", R"({"attributes":{"enabled":true}})").status == 200);

  // The wrong_key fault: the JWS is signed with a key that does not match its x5c.
  emu->admin("POST", "/_emulator/faults", R"({"listener":"vault","action":"wrong_key"})");
  HttpResult faulted = vault.send("POST", "/keys/kek/release", releaseBody(token));
  REQUIRE(faulted.status == 200);
  StatusOr<jose::Jws> jws = jose::Jws::parse(faulted.json()->getValue<std::string>("value"));
  REQUIRE(jws.ok());
  CHECK(jws->verify(jws->x5c()->front().publicKey()).code() == StatusCode::DataLoss);
  verifyRelease(*emu, vault.send("POST", "/keys/kek/release", releaseBody(token)),
                "CKM_RSA_AES_KEY_WRAP");
  CHECK(emu->stop() == 0);
}

TEST_CASE(
    "after rotate, a versionless release returns the new version and the old one stays "
    "releasable by version",
    "[emulator][release]") {
  auto emu = EmulatorProcess::start();
  Vault officer{*emu, "mhsm", tokenWithRole(*emu, "Managed HSM Crypto Officer", "mhsm")};
  Vault mhsm{*emu, "mhsm", tokenWithRole(*emu, "Managed HSM Crypto Service Release User", "mhsm")};
  const std::string kid1 = officer.createExportable("dek", R"("kty":"oct-HSM","key_size":256)");
  const std::string token = mintToken(*emu, maaClaims(*emu));
  Released first = verifyRelease(*emu, mhsm.send("POST", "/keys/dek/release", releaseBody(token)),
                                 "CKM_RSA_AES_KEY_WRAP");
  CHECK(first.payload->getObject("request")->getValue<std::string>("kid") == kid1);
  HttpResult rotated = officer.send("POST", "/keys/dek/rotate");
  REQUIRE(rotated.status == 200);
  const std::string kid2 = rotated.json()->getObject("key")->getValue<std::string>("kid");
  REQUIRE(kid2 != kid1);
  Released second = verifyRelease(
      *emu, mhsm.send("POST", "/keys/dek/release", releaseBody(token, "RSA_AES_KEY_WRAP_256")),
      "RSA_AES_KEY_WRAP_256");
  CHECK(second.payload->getObject("request")->getValue<std::string>("kid") == kid2);
  CHECK(releasedJwk(second)->getValue<std::string>("kid") == kid2);
  CHECK(second.plaintext.size() == 32);
  CHECK(!(second.plaintext == first.plaintext));
  Released old =
      verifyRelease(*emu,
                    mhsm.send("POST", "/keys/dek/" + kid1.substr(kid1.rfind('/') + 1) + "/release",
                              releaseBody(token)),
                    "CKM_RSA_AES_KEY_WRAP");
  CHECK(old.plaintext == first.plaintext);
  CHECK(emu->stop() == 0);
}

// The runtime data of §0 step 2: a JWKS holding the transfer key (kid "transfer", encrypt).
std::string runtimeJwks() {
  return json::serializeCanonical(testRuntimeJwks()).value();
}

// A token from MAA instance `maa` for a report of the emulated chip binding `runtime` (§0 steps
// 3-6): REPORT_DATA = SHA-256(runtime) || zeros, VCEK chain from IMDS THIM.
std::string attestedToken(const EmulatorProcess& emu, const std::string& runtime,
                          const std::string& maa = "maa") {
  StatusOr<snp::EmulatedChip> chip =
      snp::EmulatedChip::openOrCreate(emu.env().at("SKR_EMULATOR_CHIP_DIR"));
  REQUIRE(chip.ok());
  std::array<uint8_t, 64> report_data{};
  const Bytes hash = crypto::sha256(asBytes(runtime));
  std::copy(hash.begin(), hash.end(), report_data.begin());
  StatusOr<Bytes> report = chip->signReport(report_data, 0);
  REQUIRE(report.ok());
  HttpResult thim =
      emu.get(emu.url("imds") + "/metadata/THIM/amd/certification", {{"Metadata", "true"}});
  REQUIRE(thim.status == 200);
  const std::string chain = thim.json()->getValue<std::string>("vcekCert") +
                            thim.json()->getValue<std::string>("certificateChain");
  const std::string inner = R"({"SnpReport":")" + encoding::base64UrlEncode(*report) +
                            R"(","VcekCertChain":")" + encoding::base64UrlEncode(asBytes(chain)) +
                            "\"}";
  HttpResult r =
      emu.post(emu.url(maa) + "/attest/SevSnpVm?api-version=2022-08-01",
               R"({"report":")" + encoding::base64UrlEncode(asBytes(inner)) +
                   R"(","runtimeData":{"data":")" + encoding::base64UrlEncode(asBytes(runtime)) +
                   R"(","dataType":"JSON"},"nonce":"e2e"})");
  INFO(r.body);
  REQUIRE(r.status == 200);
  return r.json()->getValue<std::string>("token");
}

TEST_CASE(
    "end to end: a token from the emulated MAA for an emulated-chip report releases the key, while "
    "other hostdata, maa2 and a UVM-compliance policy are refused",
    "[emulator][release][maa]") {
  auto emu = EmulatorProcess::start();
  emu->admin("PUT", "/_emulator/chip", R"({"host_data":")" + kHostData + R"(","debug":false})");
  Vault officer{*emu, "mhsm", tokenWithRole(*emu, "Managed HSM Crypto Officer", "mhsm")};
  Vault mhsm{*emu, "mhsm", tokenWithRole(*emu, "Managed HSM Crypto Service Release User", "mhsm")};
  // The ACI policy without the compliance-status condition: the emulated MAA says
  // azure-compliant-uvm only for a UVM endorsement, which this report does not carry.
  const std::string kid =
      officer.createExportable("kek", R"("kty":"RSA-HSM")", policyWire(emu->url("maa"), false));
  officer.createExportable("uvm-only", R"("kty":"RSA-HSM")", policyWire(emu->url("maa"), true));
  const std::string runtime = runtimeJwks();
  const std::string token = attestedToken(*emu, runtime);

  Released r = verifyRelease(
      *emu, mhsm.send("POST", "/keys/kek/release", releaseBody(token, "RSA_AES_KEY_WRAP_256")),
      "RSA_AES_KEY_WRAP_256");
  CHECK(r.payload->getObject("request")->getValue<std::string>("kid") == kid);
  StatusOr<crypto::PrivateKey> released = crypto::PrivateKey::fromPkcs8Der(r.plaintext);
  REQUIRE(released.ok());
  CHECK(released->publicKey().rsaComponents()->n == b64u(releasedJwk(r), "n"));

  expectError(mhsm.send("POST", "/keys/uvm-only/release", releaseBody(token)), 403, "Forbidden",
              "x-ms-compliance-status", "AccessDenied");
  expectError(
      mhsm.send("POST", "/keys/kek/release", releaseBody(attestedToken(*emu, runtime, "maa2"))),
      403, "Forbidden", "'maa2', which this vault does not trust", "AccessDenied");
  // The platform's HOST_DATA changes (another CCE policy): the new token no longer matches.
  emu->admin("PUT", "/_emulator/chip", R"({"host_data":")" + kOtherHostData + "\"}");
  expectError(mhsm.send("POST", "/keys/kek/release", releaseBody(attestedToken(*emu, runtime))),
              403, "Forbidden", "x-ms-sevsnpvm-hostdata", "AccessDenied");
  CHECK(emu->stop() == 0);
}

}  // namespace
}  // namespace skr::testing
