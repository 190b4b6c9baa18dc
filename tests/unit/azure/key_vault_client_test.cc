#include "common/azure/key_vault_client.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <catch2/catch.hpp>
#include <functional>

#include "common/crypto/aes_key_wrap.h"
#include "common/crypto/random.h"
#include "common/crypto/rsa_oaep.h"
#include "common/encoding/base64.h"
#include "common/jose/jws.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_http_transport.h"
#include "tests/fakes/scripted_failures.h"
#include "tests/fakes/test_pki.h"

namespace skr::azure {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::FakeClock;
using testing::FakeHttpTransport;

const std::string kHost = "myvault.vault.azure.net";
const std::string kVault = "https://" + kHost;
const std::string kReleaseUrl = kVault + "/keys/kek/release?api-version=7.4";
const std::string kVersion = "4eb68492b5f6421e835d961ad2be3155";
const std::string kKid = kVault + "/keys/kek/" + kVersion;
// Looks like a JWT on purpose: messages must not carry it even when the vault echoes it.
const std::string kMaaToken =
    "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwczovL21hYS5leGFtcGxlIn0.c2lnbmF0dXJlLW9mLXRoZS1tYWE";

class ZeroJitter : public http::JitterSource {
 public:
  double next() override { return 0.0; }
};

// Hands out "access-token-N" (N = call number); or fails with `failure` when set.
class CountingTokenProvider : public TokenProvider {
 public:
  StatusOr<AccessToken> token(const std::string& resource) override {
    resources.push_back(resource);
    if (!failure.ok()) return failure;
    ++calls;
    const std::string t = "secret-access-token-" + std::to_string(calls);
    return AccessToken{SecretBytes::copyOf(asBytes(t)),
                       std::chrono::system_clock::time_point(seconds(1767225600 + 3600))};
  }
  std::string describe() const override { return "counting test provider"; }

  int calls = 0;
  Status failure;
  std::vector<std::string> resources;
};

// Delegates to a CountingTokenProvider owned by the test.
class ForwardingProvider : public TokenProvider {
 public:
  explicit ForwardingProvider(CountingTokenProvider& inner) : inner_(inner) {}
  StatusOr<AccessToken> token(const std::string& resource) override {
    return inner_.token(resource);
  }
  std::string describe() const override { return inner_.describe(); }

 private:
  CountingTokenProvider& inner_;
};

const crypto::PrivateKey& transferKey() {
  static const crypto::PrivateKey key = crypto::PrivateKey::generateRsa(2048).value();
  return key;
}

struct Pki {
  testing::TestCa root = testing::TestCa::create("AKV test root");
  testing::TestCa intermediate = root.issueIntermediate("AKV test intermediate");
  testing::IssuedCertificate leaf = signer(intermediate, kHost);
  testing::TestCa other_root = testing::TestCa::create("untrusted root");

  static testing::IssuedCertificate signer(const testing::TestCa& ca, const std::string& host) {
    testing::CertificateProfile p = testing::profile(host, {host});
    p.key_type = testing::TestKeyType::Rsa2048;
    return ca.issue(p);
  }
};

const Pki& pki() {
  static const Pki p;
  return p;
}

// What the fake vault puts in a release response; tests vary one thing at a time.
struct ReleaseSpec {
  std::string kty = "RSA-HSM";  // RSA-HSM, EC-HSM, oct-HSM
  std::optional<crypto::PrivateKey> asymmetric;
  SecretBytes oct;
  KeyExportEnc enc = KeyExportEnc::RsaAesKeyWrap256;  // what the payload says and wraps with
  std::string kid = kKid;
  std::string request_kid = kKid;
  bool public_members = true;
  std::optional<crypto::PublicKey> announced;  // public members of another key
  const testing::IssuedCertificate* leaf = nullptr;
  std::vector<crypto::Certificate> chain;   // after the leaf; default: the intermediate
  std::optional<std::string> alg_override;  // e.g. "PS256"
  bool tamper_payload = false;
};

SecretBytes plaintextOf(const ReleaseSpec& spec) {
  return spec.asymmetric ? spec.asymmetric->toPkcs8Der() : spec.oct.clone();
}

std::string keyHsm(const SecretBytes& plaintext, KeyExportEnc enc) {
  const SecretBytes kek = crypto::randomSecret(32);
  Bytes ct = crypto::rsaOaepEncrypt(transferKey().publicKey(), oaepHashFor(enc),
                                    kek.view(grantSecretAccess()))
                 .value();
  const Bytes wrapped = crypto::aesKeyWrapPad(kek, plaintext).value();
  ct.insert(ct.end(), wrapped.begin(), wrapped.end());
  json::ObjectPtr header = new Poco::JSON::Object;
  header->set("kid", "transfer");
  header->set("alg", "dir");
  header->set("enc", std::string(keyExportEncName(enc)));
  json::ObjectPtr blob = new Poco::JSON::Object;
  blob->set("schema_version", "1.0.0");
  blob->set("header", header);
  blob->set("ciphertext", encoding::base64UrlEncode(ct));
  return encoding::base64UrlEncode(asBytes(json::serializeCanonical(blob).value()));
}

std::string releaseBodyFor(const ReleaseSpec& spec) {
  json::ObjectPtr key = new Poco::JSON::Object;
  key->set("kid", spec.kid);
  key->set("kty", spec.kty);
  Poco::JSON::Array::Ptr ops = new Poco::JSON::Array;
  ops->add("wrapKey");
  ops->add("unwrapKey");
  key->set("key_ops", ops);
  if (spec.public_members && spec.asymmetric) {
    const crypto::PublicKey own = spec.asymmetric->publicKey();
    const crypto::PublicKey& pub = spec.announced ? *spec.announced : own;
    if (pub.type() == crypto::KeyType::Rsa) {
      key->set("n", encoding::base64UrlEncode(pub.rsaComponents()->n));
      key->set("e", encoding::base64UrlEncode(pub.rsaComponents()->e));
    } else {
      key->set("crv", std::string(crypto::curveName(pub.ecPoint()->curve)));
      key->set("x", encoding::base64UrlEncode(pub.ecPoint()->x));
      key->set("y", encoding::base64UrlEncode(pub.ecPoint()->y));
    }
  }
  key->set("key_hsm", keyHsm(plaintextOf(spec), spec.enc));
  json::ObjectPtr bundle = new Poco::JSON::Object;
  bundle->set("key", key);
  json::ObjectPtr response = new Poco::JSON::Object;
  response->set("key", bundle);
  json::ObjectPtr request = new Poco::JSON::Object;
  request->set("api-version", "7.4");
  request->set("enc", std::string(keyExportEncName(spec.enc)));
  request->set("kid", spec.request_kid);
  json::ObjectPtr payload = new Poco::JSON::Object;
  payload->set("request", request);
  payload->set("response", response);

  const testing::IssuedCertificate& leaf = spec.leaf ? *spec.leaf : pki().leaf;
  Poco::JSON::Array::Ptr x5c = new Poco::JSON::Array;
  x5c->add(encoding::base64Encode(leaf.certificate.der()));
  const std::vector<crypto::Certificate> chain =
      spec.chain.empty() ? std::vector{pki().intermediate.certificate()} : spec.chain;
  for (const crypto::Certificate& c : chain) x5c->add(encoding::base64Encode(c.der()));
  json::ObjectPtr header = new Poco::JSON::Object;
  header->set("x5c", x5c);
  const jose::JwsAlgorithm alg = spec.alg_override
                                     ? jose::jwsAlgorithmFromName(*spec.alg_override).value()
                                     : jose::JwsAlgorithm::RS256;
  std::string jws =
      jose::signJws(leaf.key, alg, asBytes(json::serializeCanonical(payload).value()), header)
          .value();
  if (spec.tamper_payload) {
    const std::size_t first = jws.find('.');
    const std::size_t last = jws.rfind('.');
    payload->set("extra", "tampered");
    jws = jws.substr(0, first + 1) +
          encoding::base64UrlEncode(asBytes(json::serializeCanonical(payload).value())) +
          jws.substr(last);
  }
  json::ObjectPtr top = new Poco::JSON::Object;
  top->set("value", jws);
  return json::serializeCanonical(top).value();
}

std::string vaultError(const std::string& code, const std::string& message,
                       const std::string& inner = {}) {
  json::ObjectPtr error = new Poco::JSON::Object;
  error->set("code", code);
  error->set("message", message);
  if (!inner.empty()) {
    json::ObjectPtr i = new Poco::JSON::Object;
    i->set("code", inner);
    error->set("innererror", i);
  }
  json::ObjectPtr top = new Poco::JSON::Object;
  top->set("error", error);
  return json::serializeCanonical(top).value();
}

struct Fixture {
  std::shared_ptr<FakeHttpTransport> transport = std::make_shared<FakeHttpTransport>();
  FakeClock clock;
  ZeroJitter jitter;
  CountingTokenProvider counting;
  std::unique_ptr<TokenProvider> provider;
  KeyVaultOptions options;

  Fixture() {
    options.jws_trust_anchors = {pki().root.certificate()};
    provider = std::make_unique<ForwardingProvider>(counting);
  }

  std::unique_ptr<KeyVaultClient> client() {
    StatusOr<std::unique_ptr<KeyVaultClient>> c =
        KeyVaultClient::create(transport, *provider, clock, jitter, options);
    REQUIRE(c.ok());
    return std::move(c).value();
  }

  StatusOr<ReleasedKey> release(
      VaultKeyRef ref = {kVault, "kek", ""},
      std::optional<std::chrono::steady_clock::time_point> deadline = std::nullopt) {
    return client()->release(ref, kMaaToken, transferKey(), deadline);
  }
};

// No status message may carry a token or key bytes.
void expectNoSecrets(const Status& status, const ReleaseSpec* spec = nullptr) {
  INFO(status.toString());
  CHECK(status.message().find("secret-access-token") == std::string::npos);
  CHECK(status.message().find(kMaaToken) == std::string::npos);
  CHECK(status.message().find("c2lnbmF0dXJlLW9mLXRoZS1tYWE") == std::string::npos);
  if (spec != nullptr) {
    const SecretBytes plain = plaintextOf(*spec);
    const std::string b64 = encoding::base64UrlEncode(plain.view(grantSecretAccess()));
    CHECK(status.message().find(b64.substr(b64.size() / 2, 16)) == std::string::npos);
  }
}

ReleaseSpec rsaSpec(int bits = 2048) {
  ReleaseSpec spec;
  spec.asymmetric = crypto::PrivateKey::generateRsa(bits).value();
  return spec;
}

TEST_CASE("parseKeyExportEnc round-trips the three names and rejects others", "[keyvault]") {
  for (KeyExportEnc enc : {KeyExportEnc::CkmRsaAesKeyWrap, KeyExportEnc::RsaAesKeyWrap256,
                           KeyExportEnc::RsaAesKeyWrap384}) {
    CHECK(parseKeyExportEnc(keyExportEncName(enc)).value() == enc);
  }
  CHECK(oaepHashFor(KeyExportEnc::CkmRsaAesKeyWrap) == crypto::HashAlg::Sha1);
  CHECK(oaepHashFor(KeyExportEnc::RsaAesKeyWrap256) == crypto::HashAlg::Sha256);
  CHECK(oaepHashFor(KeyExportEnc::RsaAesKeyWrap384) == crypto::HashAlg::Sha384);
  StatusOr<KeyExportEnc> bad = parseKeyExportEnc("RSA-OAEP");
  REQUIRE(!bad.ok());
  CHECK(bad.status().code() == StatusCode::InvalidArgument);
  CHECK_THAT(bad.status().message(), Catch::Contains("RSA_AES_KEY_WRAP_384"));
  // The names are exact and case-sensitive (the emulator parses release requests with this too).
  for (const char* other : {"ckm_rsa_aes_key_wrap", "", "RSA_AES_KEY_WRAP_512"}) {
    INFO(other);
    CHECK(parseKeyExportEnc(other).status().code() == StatusCode::InvalidArgument);
  }
}

TEST_CASE("releaseRequestBody is the JSON the vault expects, with the nonce when given",
          "[keyvault]") {
  const SecretBytes body = releaseRequestBody("a.b\"c", KeyExportEnc::RsaAesKeyWrap384, "n-1");
  const std::string text = toString(body.view(grantSecretAccess()));
  CHECK(text == R"({"enc":"RSA_AES_KEY_WRAP_384","nonce":"n-1","target":"a.b\"c"})");
  json::ObjectPtr parsed = json::parseObject(text).value();
  CHECK(parsed->getValue<std::string>("target") == "a.b\"c");
  const SecretBytes plain = releaseRequestBody(kMaaToken, KeyExportEnc::CkmRsaAesKeyWrap, {});
  CHECK(toString(plain.view(grantSecretAccess())) ==
        R"({"enc":"CKM_RSA_AES_KEY_WRAP","target":")" + kMaaToken + "\"}");
}

TEST_CASE("release returns RSA, EC and oct keys under every enc with the vault's kid and key_ops",
          "[keyvault]") {
  struct Case {
    std::string name;
    std::function<ReleaseSpec()> make;
  };
  const std::vector<Case> cases = {
      {"RSA 2048", [] { return rsaSpec(2048); }},
      {"RSA 3072", [] { return rsaSpec(3072); }},
      {"EC P-256",
       [] {
         ReleaseSpec s;
         s.kty = "EC-HSM";
         s.asymmetric = crypto::PrivateKey::generateEc(crypto::Curve::P256).value();
         return s;
       }},
      {"EC P-384",
       [] {
         ReleaseSpec s;
         s.kty = "EC-HSM";
         s.asymmetric = crypto::PrivateKey::generateEc(crypto::Curve::P384).value();
         return s;
       }},
      {"oct 256",
       [] {
         ReleaseSpec s;
         s.kty = "oct-HSM";
         s.oct = crypto::randomSecret(32);
         return s;
       }},
  };
  for (const Case& c : cases) {
    for (KeyExportEnc enc : {KeyExportEnc::CkmRsaAesKeyWrap, KeyExportEnc::RsaAesKeyWrap256,
                             KeyExportEnc::RsaAesKeyWrap384}) {
      INFO(c.name << " " << keyExportEncName(enc));
      ReleaseSpec spec = c.make();
      spec.enc = enc;
      Fixture f;
      f.options.enc = enc;
      f.transport->setResponse(kReleaseUrl, 200, releaseBodyFor(spec));
      StatusOr<ReleasedKey> released = f.release();
      INFO(released.status().toString());
      REQUIRE(released.ok());
      CHECK(released->kid == kKid);
      CHECK(released->version == kVersion);
      CHECK(released->vault_host == kHost);
      CHECK(released->kty == spec.kty);
      CHECK(released->enc == enc);
      CHECK(released->attempts == 1);
      CHECK(released->key.kid() == kKid);
      CHECK(released->key.keyOps() == std::vector<std::string>{"wrapKey", "unwrapKey"});
      if (spec.asymmetric) {
        REQUIRE(released->key.privateKey().ok());
        CHECK((*released->key.privateKey())->toPkcs8Der() == spec.asymmetric->toPkcs8Der());
      } else {
        REQUIRE(released->key.octet().ok());
        CHECK(**released->key.octet() == spec.oct);
      }
      // The request on the wire.
      const std::vector<http::HttpRequest> requests = f.transport->requests();
      REQUIRE(requests.size() == 1);
      const http::HttpRequest& r = requests[0];
      CHECK(r.method == "POST");
      CHECK(r.url == kReleaseUrl);
      CHECK(r.max_response_bytes == 1024 * 1024);
      http::HttpResponse as_headers;
      as_headers.headers = r.headers;
      CHECK(as_headers.header("Authorization") == "Bearer secret-access-token-1");
      CHECK(as_headers.header("Content-Type") == "application/json");
      CHECK(as_headers.header("Accept") == "application/json");
      json::ObjectPtr body = json::parseObject(r.body).value();
      CHECK(body->getValue<std::string>("target") == kMaaToken);
      CHECK(body->getValue<std::string>("enc") == std::string(keyExportEncName(enc)));
      CHECK(f.counting.resources == std::vector<std::string>{"https://vault.azure.net"});
    }
  }
}

TEST_CASE("a versioned release posts to /keys/name/version and Managed HSM gets its resource",
          "[keyvault]") {
  Fixture f;
  ReleaseSpec spec = rsaSpec();
  f.transport->setResponse(kVault + "/keys/kek/" + kVersion + "/release?api-version=7.4", 200,
                           releaseBodyFor(spec));
  StatusOr<ReleasedKey> released = f.release({kVault, "kek", kVersion});
  INFO(released.status().toString());
  REQUIRE(released.ok());
  CHECK(released->version == kVersion);

  // Another version in the signed kid than the one requested is DataLoss.
  StatusOr<ReleasedKey> other = f.release({kVault, "kek", "0123456789abcdef0123456789abcdef"});
  CHECK(other.status().code() == StatusCode::Unavailable);  // no canned answer for that URL
  f.transport->setResponse(
      kVault + "/keys/kek/0123456789abcdef0123456789abcdef/release?api-version=7.4", 200,
      releaseBodyFor(spec));
  StatusOr<ReleasedKey> wrong_version =
      f.release({kVault, "kek", "0123456789abcdef0123456789abcdef"});
  CHECK(wrong_version.status().code() == StatusCode::DataLoss);
  CHECK_THAT(wrong_version.status().message(), Catch::Contains(kVersion));

  Fixture mhsm;
  mhsm.transport->setError("https://x.managedhsm.azure.net/keys/kek/release?api-version=7.4",
                           unavailableError("connection refused"));
  mhsm.options.retry.max_attempts = 1;
  CHECK(!mhsm.release({"https://x.managedhsm.azure.net", "kek", ""}).ok());
  CHECK(mhsm.counting.resources == std::vector<std::string>{"https://managedhsm.azure.net"});
}

TEST_CASE("a 401 drops the cached token and retries once with a fresh one", "[keyvault]") {
  Fixture f;
  f.provider = std::make_unique<CachingTokenProvider>(
      std::make_unique<ForwardingProvider>(f.counting), f.clock);
  ReleaseSpec spec = rsaSpec();
  f.transport->queueResponse(kReleaseUrl, 401,
                             vaultError("Unauthorized", "Request is missing a Bearer token."));
  f.transport->setResponse(kReleaseUrl, 200, releaseBodyFor(spec));
  StatusOr<ReleasedKey> released = f.release();
  INFO(released.status().toString());
  REQUIRE(released.ok());
  CHECK(released->attempts == 2);
  CHECK(f.counting.calls == 2);
  const std::vector<http::HttpRequest> requests = f.transport->requests();
  REQUIRE(requests.size() == 2);
  http::HttpResponse first;
  first.headers = requests[0].headers;
  http::HttpResponse second;
  second.headers = requests[1].headers;
  CHECK(first.header("Authorization") == "Bearer secret-access-token-1");
  CHECK(second.header("Authorization") == "Bearer secret-access-token-2");

  // Rejected twice: Unauthenticated, only one retry, no token in the message.
  Fixture g;
  g.transport->setResponse(kReleaseUrl, 401,
                           vaultError("Unauthorized", "token secret-access-token-1 is expired"));
  StatusOr<ReleasedKey> rejected = g.release();
  REQUIRE(!rejected.ok());
  CHECK(rejected.status().code() == StatusCode::Unauthenticated);
  CHECK(g.transport->requestCount() == 2);
  CHECK_THAT(rejected.status().message(), Catch::Contains(kHost));
  CHECK_THAT(rejected.status().message(), Catch::Contains("'kek'"));
  expectNoSecrets(rejected.status());
}

TEST_CASE("a token provider failure comes back as identity: keeping Unavailable", "[keyvault]") {
  Fixture f;
  f.counting.failure = unavailableError("IMDS: connection refused");
  StatusOr<ReleasedKey> unavailable = f.release();
  REQUIRE(!unavailable.ok());
  CHECK(unavailable.status().code() == StatusCode::Unavailable);
  CHECK(unavailable.status().message().rfind("identity: ", 0) == 0);
  CHECK_THAT(unavailable.status().message(), Catch::Contains("IMDS: connection refused"));
  CHECK(f.transport->requestCount() == 0);

  f.counting.failure = permissionDeniedError("IMDS: identity not found");
  StatusOr<ReleasedKey> denied = f.release();
  CHECK(denied.status().code() == StatusCode::Unauthenticated);
  CHECK(denied.status().message().rfind("identity: ", 0) == 0);
}

TEST_CASE("a 403 ForbiddenByRbac names the missing release role", "[keyvault]") {
  Fixture f;
  f.transport->setResponse(
      kReleaseUrl, 403,
      vaultError("Forbidden", "Caller is not authorized to perform action on resource.",
                 "ForbiddenByRbac"));
  StatusOr<ReleasedKey> r = f.release();
  REQUIRE(!r.ok());
  CHECK(r.status().code() == StatusCode::PermissionDenied);
  CHECK_THAT(r.status().message(), Catch::Contains("'Key Vault Crypto Service Release User'"));
  CHECK_THAT(r.status().message(), Catch::Contains("'Managed HSM Crypto Service Release User'"));
  CHECK_THAT(r.status().message(), Catch::Contains("Caller is not authorized"));
  CHECK_THAT(r.status().message(), Catch::Contains(kHost));
  CHECK(f.transport->requestCount() == 1);
}

TEST_CASE("a 403 policy denial names the failing claim and drops JWTs from the vault message",
          "[keyvault]") {
  Fixture f;
  f.transport->setResponse(
      kReleaseUrl, 403,
      vaultError(
          "Forbidden",
          "Target environment attestation statement does not satisfy the key release "
          "policy: claim 'x-ms-sevsnpvm-hostdata' is \"00...01\" but the policy requires "
          "\"532e...\" (token " +
              kMaaToken +
              ", caller eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiJvdGhlci1jYWxsZXIifQ.b3RoZXItc2lnbmF0dXJl)",
          "AccessDenied"));
  StatusOr<ReleasedKey> r = f.release();
  REQUIRE(!r.ok());
  CHECK(r.status().code() == StatusCode::PermissionDenied);
  CHECK_THAT(r.status().message(), Catch::Contains("the release policy was not satisfied"));
  CHECK_THAT(r.status().message(), Catch::Contains("x-ms-sevsnpvm-hostdata"));
  CHECK_THAT(r.status().message(), Catch::Contains("(token <redacted>, caller <redacted token>)"));
  CHECK(r.status().message().find("b3RoZXItc2lnbmF0dXJl") == std::string::npos);
  CHECK_THAT(r.status().message(), Catch::Contains("'kek'"));
  expectNoSecrets(r.status());

  f.transport->setResponse(
      kReleaseUrl, 403,
      vaultError("Forbidden",
                 "Target environment attestation statement cannot be verified: the attestation "
                 "token's issuer \"https://maa2.example\" is an unknown attestation service",
                 "AccessDenied"));
  StatusOr<ReleasedKey> issuer = f.release();
  CHECK(issuer.status().code() == StatusCode::PermissionDenied);
  CHECK_THAT(issuer.status().message(), Catch::Contains("issuer is not the policy's authority"));

  // The emulator's text for a token of another MAA than the policy names.
  f.transport->setResponse(
      kReleaseUrl, 403,
      vaultError("Forbidden",
                 "Target environment attestation statement does not satisfy the key release "
                 "policy: no policy authority matches the token issuer \"https://maa.example\" "
                 "(policy authorities: https://maa2.example)",
                 "AccessDenied"));
  StatusOr<ReleasedKey> authority = f.release();
  CHECK(authority.status().code() == StatusCode::PermissionDenied);
  CHECK_THAT(authority.status().message(), Catch::Contains("not the policy's authority"));
  CHECK_THAT(authority.status().message(), Catch::Contains("https://maa2.example"));
}

TEST_CASE("a 404 KeyNotFound is NotFound naming the key and vault, a 400 InvalidArgument",
          "[keyvault]") {
  Fixture f;
  f.transport->setResponse(
      kReleaseUrl, 404,
      vaultError("KeyNotFound", "A key with (name/id) kek was not found in this key vault."));
  StatusOr<ReleasedKey> r = f.release();
  CHECK(r.status().code() == StatusCode::NotFound);
  CHECK_THAT(r.status().message(), Catch::Contains("key 'kek' not found in vault " + kHost));

  f.transport->setResponse(kReleaseUrl, 400,
                           vaultError("BadParameter", "Property 'enc': 'X' is not valid"));
  StatusOr<ReleasedKey> bad = f.release();
  CHECK(bad.status().code() == StatusCode::InvalidArgument);
  CHECK_THAT(bad.status().message(), Catch::Contains("BadParameter"));
  CHECK_THAT(bad.status().message(), Catch::Contains("Property 'enc'"));
  CHECK(f.transport->requestCount() == 2);
}

TEST_CASE("a 429 is retried after its Retry-After and 500s with backoff", "[keyvault]") {
  ReleaseSpec spec = rsaSpec();
  const std::string ok = releaseBodyFor(spec);
  Fixture f;
  f.transport->queueResponse(kReleaseUrl, 429, vaultError("Throttled", "slow down"),
                             {{"Retry-After", "7"}});
  f.transport->setResponse(kReleaseUrl, 200, ok);
  StatusOr<ReleasedKey> r = f.release();
  INFO(r.status().toString());
  REQUIRE(r.ok());
  CHECK(r->attempts == 2);
  CHECK(f.clock.sleeps() == std::vector<milliseconds>{milliseconds(7000)});

  Fixture g;
  g.transport->queueResponse(kReleaseUrl, 500, vaultError("InternalError", "oops"));
  g.transport->queueResponse(kReleaseUrl, 500, vaultError("InternalError", "oops"));
  g.transport->setResponse(kReleaseUrl, 200, ok);
  StatusOr<ReleasedKey> r2 = g.release();
  REQUIRE(r2.ok());
  CHECK(r2->attempts == 3);
  CHECK(g.clock.sleeps().size() == 2);
  CHECK(g.transport->requestCount() == 3);

  // Persistent 503 within a 5 s deadline and a 10 s Retry-After: gives up without sleeping.
  Fixture h;
  h.transport->setResponse(kReleaseUrl, 503, vaultError("ServiceUnavailable", "busy"),
                           {{"Retry-After", "10"}});
  StatusOr<ReleasedKey> r3 = h.release({kVault, "kek", ""}, h.clock.steadyNow() + seconds(5));
  REQUIRE(!r3.ok());
  CHECK(r3.status().code() == StatusCode::DeadlineExceeded);
  CHECK(h.clock.sleeps().empty());
  CHECK(h.transport->requestCount() == 1);

  // Transport failures use the attempt budget, then Unavailable.
  Fixture t;
  t.transport->setError(kReleaseUrl, unavailableError("connection reset"));
  StatusOr<ReleasedKey> r4 = t.release();
  CHECK(r4.status().code() == StatusCode::Unavailable);
  CHECK(t.transport->requestCount() == 4);
}

TEST_CASE("a truncated, malformed or oversized release body is InvalidArgument", "[keyvault]") {
  ReleaseSpec spec = rsaSpec();
  const std::string ok = releaseBodyFor(spec);
  Fixture f;
  f.transport->setResponse(kReleaseUrl, 200, ok.substr(0, ok.size() / 2));
  StatusOr<ReleasedKey> truncated = f.release();
  CHECK(truncated.status().code() == StatusCode::InvalidArgument);
  CHECK_THAT(truncated.status().message(), Catch::Contains(kHost));
  f.transport->setResponse(kReleaseUrl, 200, "{\"value\": 7}");
  CHECK(f.release().status().code() == StatusCode::InvalidArgument);
  f.transport->setResponse(kReleaseUrl, 200, "<html>proxy</html>");
  CHECK(f.release().status().code() == StatusCode::InvalidArgument);
  f.transport->setError(kReleaseUrl, resourceExhaustedError("response larger than 1048576"));
  CHECK(f.release().status().code() == StatusCode::InvalidArgument);
}

// A spec around a copy of `key` (PrivateKey is move-only).
ReleaseSpec specWith(const crypto::PrivateKey& key) {
  ReleaseSpec spec;
  spec.asymmetric = crypto::PrivateKey::fromPkcs8Der(key.toPkcs8Der()).value();
  return spec;
}

const crypto::PrivateKey& releasedRsa() {
  static const crypto::PrivateKey key = crypto::PrivateKey::generateRsa(2048).value();
  return key;
}

void expectDataLoss(const ReleaseSpec& spec, const std::string& part,
                    VaultKeyRef ref = {kVault, "kek", ""}) {
  Fixture f;
  f.transport->setResponse(kReleaseUrl, 200, releaseBodyFor(spec));
  StatusOr<ReleasedKey> r = f.release(std::move(ref));
  INFO(r.status().toString());
  REQUIRE(!r.ok());
  CHECK(r.status().code() == StatusCode::DataLoss);
  CHECK_THAT(r.status().message(), Catch::Contains(part));
  CHECK_THAT(r.status().message(), Catch::Contains(kHost));
  expectNoSecrets(r.status(), &spec);
}

TEST_CASE("release rejects a JWS whose signature does not verify with x5c[0]", "[keyvault]") {
  ReleaseSpec spec = specWith(releasedRsa());
  spec.tamper_payload = true;
  expectDataLoss(spec, "signature does not verify");
  // Signed by another key than the x5c leaf's.
  ReleaseSpec other = specWith(releasedRsa());
  static const testing::IssuedCertificate stranger = Pki::signer(pki().intermediate, kHost);
  testing::IssuedCertificate mixed{
      pki().leaf.certificate, crypto::PrivateKey::fromPkcs8Der(stranger.key.toPkcs8Der()).value()};
  other.leaf = &mixed;
  expectDataLoss(other, "signature does not verify");
}

TEST_CASE("release rejects an x5c chain that does not lead to the trust anchors", "[keyvault]") {
  static const testing::TestCa other_intermediate =
      pki().other_root.issueIntermediate("rogue intermediate");
  static const testing::IssuedCertificate rogue = Pki::signer(other_intermediate, kHost);
  ReleaseSpec spec = specWith(releasedRsa());
  spec.leaf = &rogue;
  spec.chain = {other_intermediate.certificate()};
  expectDataLoss(spec, "x5c chain is not trusted");
  // The right leaf without its intermediate does not chain either.
  ReleaseSpec missing = specWith(releasedRsa());
  missing.chain = {pki().other_root.certificate()};
  expectDataLoss(missing, "x5c chain is not trusted");
}

TEST_CASE("release rejects a JWS signed for another vault host or naming another key",
          "[keyvault]") {
  static const testing::IssuedCertificate other_host =
      Pki::signer(pki().intermediate, "othervault.vault.azure.net");
  ReleaseSpec spec = specWith(releasedRsa());
  spec.leaf = &other_host;
  expectDataLoss(spec, "x5c chain is not trusted");

  ReleaseSpec kid_host = specWith(releasedRsa());
  kid_host.kid = "https://othervault.vault.azure.net/keys/kek/" + kVersion;
  kid_host.request_kid = kid_host.kid;
  expectDataLoss(kid_host, "another vault");

  ReleaseSpec kid_name = specWith(releasedRsa());
  kid_name.kid = kVault + "/keys/other-key/" + kVersion;
  kid_name.request_kid = kid_name.kid;
  expectDataLoss(kid_name, "'other-key'");

  ReleaseSpec request_kid = specWith(releasedRsa());
  request_kid.request_kid = kVault + "/keys/kek/0000";
  expectDataLoss(request_kid, "request.kid");

  ReleaseSpec bad_kid = specWith(releasedRsa());
  bad_kid.kid = "kek";
  expectDataLoss(bad_kid, "is not https://{vault}/keys/{name}/{version}");

  ReleaseSpec ps256 = specWith(releasedRsa());
  ps256.alg_override = "PS256";
  expectDataLoss(ps256, "only RS256");
}

TEST_CASE("the enc in the signed payload is used even when it differs from the request",
          "[keyvault]") {
  Fixture f;
  f.options.enc = KeyExportEnc::RsaAesKeyWrap256;
  ReleaseSpec spec = specWith(releasedRsa());
  spec.enc = KeyExportEnc::CkmRsaAesKeyWrap;  // wrapped with SHA-1 OAEP and says so
  f.transport->setResponse(kReleaseUrl, 200, releaseBodyFor(spec));
  StatusOr<ReleasedKey> r = f.release();
  INFO(r.status().toString());
  REQUIRE(r.ok());
  CHECK(r->enc == KeyExportEnc::CkmRsaAesKeyWrap);
  CHECK((*r->key.privateKey())->toPkcs8Der() == releasedRsa().toPkcs8Der());
  json::ObjectPtr body = json::parseObject(f.transport->requests()[0].body).value();
  CHECK(body->getValue<std::string>("enc") == "RSA_AES_KEY_WRAP_256");
}

TEST_CASE("released material that does not match the response's public members is DataLoss",
          "[keyvault]") {
  ReleaseSpec rsa = specWith(releasedRsa());
  rsa.announced = transferKey().publicKey();
  expectDataLoss(rsa, "public member 'n'");

  ReleaseSpec ec;
  ec.kty = "EC-HSM";
  ec.asymmetric = crypto::PrivateKey::generateEc(crypto::Curve::P256).value();
  ec.announced = crypto::PrivateKey::generateEc(crypto::Curve::P256).value().publicKey();
  expectDataLoss(ec, "public member 'x'");

  ReleaseSpec curve;
  curve.kty = "EC-HSM";
  curve.asymmetric = crypto::PrivateKey::generateEc(crypto::Curve::P256).value();
  curve.announced = crypto::PrivateKey::generateEc(crypto::Curve::P384).value().publicKey();
  expectDataLoss(curve, "crv 'P-384'");

  // An oct plaintext announced as an RSA key.
  ReleaseSpec kind;
  kind.kty = "RSA-HSM";
  kind.oct = crypto::randomSecret(32);
  expectDataLoss(kind, "not a PKCS#8 private key");
}

TEST_CASE("unwrapKeyHsm rejects a wrong hash, a wrong transfer key and bad framing", "[keyvault]") {
  const SecretBytes key = crypto::randomSecret(32);
  const std::string blob = keyHsm(key, KeyExportEnc::RsaAesKeyWrap384);
  StatusOr<SecretBytes> ok = unwrapKeyHsm(blob, transferKey(), KeyExportEnc::RsaAesKeyWrap384);
  REQUIRE(ok.ok());
  CHECK(*ok == key);
  CHECK(unwrapKeyHsm(blob, transferKey(), KeyExportEnc::RsaAesKeyWrap256).status().code() ==
        StatusCode::DataLoss);
  CHECK(unwrapKeyHsm(blob, releasedRsa(), KeyExportEnc::RsaAesKeyWrap384).status().code() ==
        StatusCode::DataLoss);
  const std::string short_ct = encoding::base64UrlEncode(
      asBytes(R"({"ciphertext":")" + encoding::base64UrlEncode(Bytes(260, 1)) + "\"}"));
  StatusOr<SecretBytes> framing =
      unwrapKeyHsm(short_ct, transferKey(), KeyExportEnc::RsaAesKeyWrap256);
  CHECK(framing.status().code() == StatusCode::DataLoss);
  CHECK_THAT(framing.status().message(), Catch::Contains("260 bytes"));
  CHECK(unwrapKeyHsm("!!", transferKey(), KeyExportEnc::RsaAesKeyWrap256).status().code() ==
        StatusCode::DataLoss);
}

TEST_CASE("release allows clock_skew on the signing certificate's validity", "[keyvault]") {
  ReleaseSpec spec = specWith(releasedRsa());
  const std::string body = releaseBodyFor(spec);
  for (const int skew : {0, 300}) {
    INFO("skew " << skew);
    Fixture f;
    f.clock.advance(
        std::chrono::duration_cast<milliseconds>(testing::testPkiNotAfter() - f.clock.now()) +
        seconds(100));
    f.options.clock_skew = seconds(skew);
    f.transport->setResponse(kReleaseUrl, 200, body);
    StatusOr<ReleasedKey> r = f.release();
    INFO(r.status().toString());
    if (skew == 0) {
      CHECK(r.status().code() == StatusCode::DataLoss);
      CHECK_THAT(r.status().message(), Catch::Contains("expired"));
    } else {
      CHECK(r.ok());
    }
  }
}

TEST_CASE("verifyReleaseResponse checks the leaf's validity at the given time", "[keyvault]") {
  ReleaseSpec spec = specWith(releasedRsa());
  const std::string body = releaseBodyFor(spec);
  const std::vector<crypto::Certificate> anchors{pki().root.certificate()};
  StatusOr<VerifiedRelease> now =
      verifyReleaseResponse(body, kHost + ":443", anchors, testing::testPkiVerifyTime());
  INFO(now.status().toString());
  REQUIRE(now.ok());
  CHECK(now->kid == kKid);
  CHECK(now->enc == KeyExportEnc::RsaAesKeyWrap256);
  StatusOr<VerifiedRelease> late = verifyReleaseResponse(
      body, kHost, anchors, testing::testPkiNotAfter() + std::chrono::hours(24));
  CHECK(late.status().code() == StatusCode::DataLoss);
  // An empty anchor list means the system store, which does not hold the test root.
  CHECK(verifyReleaseResponse(body, kHost, {}, testing::testPkiVerifyTime()).status().code() ==
        StatusCode::DataLoss);
}

// ---- the failures release-flow tests script (tests/fakes/scripted_failures.h), from the wire ----

// Arranges the token provider or the vault's answer for `failure`, then releases 'kek'.
Status releaseFailing(testing::VaultFailure failure) {
  using testing::VaultFailure;
  Fixture f;
  std::optional<std::chrono::steady_clock::time_point> deadline;
  switch (failure) {
    case VaultFailure::Identity:
      f.counting.failure = invalidArgumentError("IMDS token: HTTP 400 invalid_request");
      break;
    case VaultFailure::PolicyDenied:
      f.transport->setResponse(
          kReleaseUrl, 403,
          vaultError("Forbidden", "claim 'x-ms-sevsnpvm-hostdata' does not match", "AccessDenied"));
      break;
    case VaultFailure::RoleMissing:
      f.transport->setResponse(
          kReleaseUrl, 403,
          vaultError("Forbidden", "Caller is not authorized to perform action on resource.",
                     "ForbiddenByRbac"));
      break;
    case VaultFailure::KeyNotFound:
      f.transport->setResponse(kReleaseUrl, 404,
                               vaultError("KeyNotFound", "A key with (name/id) kek was not found"));
      break;
    case VaultFailure::TransportDeadline:
      f.transport->setResponse(kReleaseUrl, 503, "", {{"Retry-After", "30"}});
      deadline = f.clock.steadyNow() + seconds(10);
      break;
    case VaultFailure::RetriesExhausted:
      f.transport->setError(kReleaseUrl, unavailableError("connection refused"));
      break;
    case VaultFailure::Integrity:
      f.transport->setResponse(kReleaseUrl, 200, R"({"value":"not-a-jws"})");
      break;
  }
  StatusOr<ReleasedKey> released = f.release({kVault, "kek", ""}, deadline);
  REQUIRE_FALSE(released.ok());
  return released.status();
}

TEST_CASE("release failures carry the scripted code and details, however messages are worded",
          "[keyvault]") {
  for (const testing::VaultFailure failure : testing::allVaultFailures()) {
    INFO(testing::vaultFailureName(failure));
    const Status expected = testing::scriptedVaultFailure(failure, kHost);
    const Status plain = releaseFailing(failure);
    INFO(plain.toString());
    CHECK(plain.code() == expected.code());
    CHECK(plain.details() == expected.details());
    expectNoSecrets(plain);

    const Status other = [&] {
      testing::ScopedRewording rewording;
      return releaseFailing(failure);
    }();
    CHECK_THAT(other.message(), Catch::StartsWith(std::string(testing::kRewordedPrefix)));
    CHECK(other.code() == plain.code());
    CHECK(other.details() == plain.details());
  }
}

}  // namespace
}  // namespace skr::azure
