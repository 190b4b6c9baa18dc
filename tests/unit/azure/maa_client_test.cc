#include "common/azure/maa_client.h"

#include <catch2/catch.hpp>

#include "common/crypto/digest.h"
#include "common/encoding/base64.h"
#include "common/encoding/hex.h"
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
using testing::TestCa;

constexpr int64_t kNow = 1767225600;  // FakeClock's default: 2026-01-01T00:00:00Z
const std::string kEndpoint = "https://maa.test";
const std::string kAttestUrl = kEndpoint + "/attest/SevSnpVm?api-version=2022-08-01";
const std::string kCertsUrl = kEndpoint + "/certs";
const std::string kKid = "maa-signing-key-1";
const std::string kHostData(64, 'c');

class ZeroJitter : public http::JitterSource {
 public:
  double next() override { return 0.0; }
};

template <typename T>
T take(StatusOr<T> s) {
  INFO(s.status().toString());
  REQUIRE(s.ok());
  return std::move(s).value();
}

std::string headerOf(const http::HttpRequest& r, std::string_view name) {
  for (const http::Header& h : r.headers) {
    if (h.name == name) return h.value;
  }
  return "";
}

std::string b64url(std::string_view s) {
  return encoding::base64UrlEncode(asBytes(s));
}

TestCa rsaCa(const std::string& name) {
  testing::CertificateProfile p = testing::profile(name);
  p.key_type = testing::TestKeyType::Rsa2048;
  return TestCa::create(p);
}

// One RSA-2048 transfer key and one MAA signing CA per test binary (key generation is slow).
const TransferKey& transferKey() {
  static const TransferKey key = take(TransferKey::generate(2048));
  return key;
}
const TestCa& maaSigner() {
  static const TestCa ca = rsaCa("https://maa.test");
  return ca;
}
const TestCa& otherSigner() {
  static const TestCa ca = rsaCa("https://elsewhere.test");
  return ca;
}

std::string certsJson(const std::vector<std::pair<std::string, const TestCa*>>& keys) {
  std::string out = R"({"keys":[)";
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (i > 0) out += ",";
    out += R"({"kid":")" + keys[i].first + R"(","kty":"RSA","x5c":[")" +
           encoding::base64Encode(keys[i].second->certificate().der()) + R"("]})";
  }
  return out + "]}";
}

struct Fixture {
  std::shared_ptr<FakeHttpTransport> transport = std::make_shared<FakeHttpTransport>();
  FakeClock clock;
  ZeroJitter jitter;
  const TransferKey& transfer = transferKey();
  std::string runtime = runtimeDataJson(transfer.public_jwk);
  std::array<uint8_t, 64> report_data = reportDataFor(runtime);
  Bytes report = Bytes(1184, 0x5a);
  snp::Collateral collateral{maaSigner().certificate(), {}, "0000000000000000", {}, {}, "test"};

  Fixture() { transport->setResponse(kCertsUrl, 200, certsJson({{kKid, &maaSigner()}})); }

  json::ObjectPtr claims() const {
    Poco::JSON::Array::Ptr keys = new Poco::JSON::Array;
    keys->add(json::parseObject(runtime).value()->getArray("keys")->getObject(0));
    json::ObjectPtr x_ms_runtime = new Poco::JSON::Object;
    x_ms_runtime->set("keys", keys);
    json::ObjectPtr c = new Poco::JSON::Object;
    c->set("iss", kEndpoint);
    c->set("iat", static_cast<Poco::Int64>(kNow - 10));
    c->set("nbf", static_cast<Poco::Int64>(kNow - 10));
    c->set("exp", static_cast<Poco::Int64>(kNow + 28800));
    c->set("x-ms-attestation-type", "sevsnpvm");
    c->set("x-ms-runtime", x_ms_runtime);
    c->set("x-ms-sevsnpvm-reportdata", encoding::hexEncode(report_data));
    c->set("x-ms-sevsnpvm-hostdata", kHostData);
    c->set("x-ms-emulated", true);
    return c;
  }

  static std::string sign(const json::ObjectPtr& claims, const TestCa& signer = maaSigner(),
                          const std::string& kid = kKid,
                          jose::JwsAlgorithm alg = jose::JwsAlgorithm::RS256) {
    json::ObjectPtr header = new Poco::JSON::Object;
    header->set("kid", kid);
    header->set("typ", "JWT");
    header->set("jku", kEndpoint + "/certs");
    const std::string payload = json::serializeCanonical(claims).value();
    return take(jose::signJws(signer.key(), alg, asBytes(payload), header));
  }

  static std::string tokenBody(const std::string& token) { return R"({"token":")" + token + "\"}"; }

  std::unique_ptr<MaaClient> client(MaaOptions options = {}) {
    if (options.endpoint.empty()) options.endpoint = kEndpoint;
    return take(MaaClient::create(transport, clock, jitter, std::move(options)));
  }

  StatusOr<MaaToken> attest(MaaClient& c, std::optional<std::string> nonce = std::nullopt) {
    return c.attest(report, collateral, transfer, report_data, nonce);
  }

  std::size_t requestsTo(const std::string& url) const {
    std::size_t n = 0;
    for (const std::string& u : transport->requestedUrls()) n += u == url ? 1 : 0;
    return n;
  }
};

// ---- transfer key, runtime data, request body ----

TEST_CASE("a transfer key's public JWK has the RFC 7638 thumbprint as kid and key_ops encrypt",
          "[azure][maa]") {
  const TransferKey& key = transferKey();
  CHECK(key.private_key.bits() == 2048);
  const crypto::RsaPublicComponents rsa = take(key.private_key.publicKey().rsaComponents());
  // RFC 7638 §3.2: the required members in lexicographic order, no whitespace.
  const std::string members = R"({"e":")" + encoding::base64UrlEncode(rsa.e) +
                              R"(","kty":"RSA","n":")" + encoding::base64UrlEncode(rsa.n) + "\"}";
  CHECK(key.public_jwk.kid() == encoding::base64UrlEncode(crypto::sha256(asBytes(members))));
  CHECK(key.public_jwk.keyOps() == std::vector<std::string>{"encrypt"});
  CHECK_FALSE(key.public_jwk.hasPrivate());

  TransferKey big = take(TransferKey::generate(3072));
  CHECK(big.private_key.bits() == 3072);
  StatusOr<TransferKey> small = TransferKey::generate(1024);
  REQUIRE_FALSE(small.ok());
  CHECK(small.status().code() == StatusCode::InvalidArgument);
  CHECK_FALSE(
      TransferKey::fromPrivateKey(take(crypto::PrivateKey::generateEc(crypto::Curve::P256))).ok());
}

TEST_CASE("runtime data is the canonical one-key JWKS and REPORT_DATA its SHA-256 then zeros",
          "[azure][maa]") {
  const TransferKey& key = transferKey();
  const crypto::RsaPublicComponents rsa = take(key.private_key.publicKey().rsaComponents());
  const std::string expected = R"({"keys":[{"e":"AQAB","key_ops":["encrypt"],"kid":")" +
                               key.public_jwk.kid() + R"(","kty":"RSA","n":")" +
                               encoding::base64UrlEncode(rsa.n) + R"("}]})";
  const std::string runtime = runtimeDataJson(key.public_jwk);
  CHECK(runtime == expected);

  const std::array<uint8_t, 64> rd = reportDataFor(runtime);
  const Bytes hash = crypto::sha256(asBytes(expected));
  CHECK(encoding::hexEncode(rd) == encoding::hexEncode(hash) + std::string(64, '0'));
  CHECK(encoding::hexEncode(reportDataFor("abc")).substr(0, 64) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("the AttestSevSnpVm body is byte-exact: report document, runtimeData JSON, nonce",
          "[azure][maa]") {
  const TestCa ask = rsaCa("ask");
  const TestCa ark = rsaCa("ark");
  snp::Collateral collateral{maaSigner().certificate(),
                             {ask.certificate(), ark.certificate()},
                             "0000000000000000",
                             {},
                             {},
                             "test"};
  const Bytes report = {0x01, 0x02, 0xfe, 0xff};
  const std::string pem =
      maaSigner().certificate().toPem() + ask.certificate().toPem() + ark.certificate().toPem();
  const std::string runtime = R"({"keys":[]})";

  const std::string inner = R"({"SnpReport":"AQL-_w","VcekCertChain":")" +
                            encoding::base64UrlEncode(asBytes(pem)) + "\"}";
  CHECK(maaRequestBody(report, collateral, runtime, std::nullopt) ==
        R"({"report":")" + b64url(inner) +
            R"(","runtimeData":{"data":"eyJrZXlzIjpbXX0","dataType":"JSON"}})");

  collateral.uvm_endorsement = Bytes{0xd2, 0x84, 0x43};
  const std::string endorsements = R"({"Uvm":["0oRD"]})";
  const std::string inner_uvm = R"({"SnpReport":"AQL-_w","VcekCertChain":")" +
                                encoding::base64UrlEncode(asBytes(pem)) + R"(","Endorsements":")" +
                                b64url(endorsements) + "\"}";
  CHECK(maaRequestBody(report, collateral, runtime, std::string("n-1 \"q\"")) ==
        R"({"report":")" + b64url(inner_uvm) +
            R"(","runtimeData":{"data":"eyJrZXlzIjpbXX0","dataType":"JSON"},"nonce":"n-1 \"q\""})");
}

// ---- create ----

TEST_CASE("the MAA endpoint must be https, or http on loopback", "[azure][maa]") {
  Fixture f;
  MaaOptions o;
  o.endpoint = "http://maa.test";
  CHECK(MaaClient::create(f.transport, f.clock, f.jitter, o).status().code() ==
        StatusCode::InvalidArgument);
  o.endpoint = "https://maa.test/some/path";
  CHECK_FALSE(MaaClient::create(f.transport, f.clock, f.jitter, o).ok());
  o.endpoint = "maa.test";
  CHECK_FALSE(MaaClient::create(f.transport, f.clock, f.jitter, o).ok());
  o.endpoint = "http://127.0.0.1:8443";
  CHECK(MaaClient::create(f.transport, f.clock, f.jitter, o).ok());
  o.endpoint = "https://maa.test:8443/";
  std::unique_ptr<MaaClient> c = take(MaaClient::create(f.transport, f.clock, f.jitter, o));
  CHECK(c->options().endpoint == "https://maa.test:8443");
  CHECK(c->options().retry.dependency == "MAA");
}

// ---- attest ----

TEST_CASE("attest posts the request and returns the verified token with its claims",
          "[azure][maa]") {
  Fixture f;
  const std::string token = Fixture::sign(f.claims());
  f.transport->setResponse(kAttestUrl, 200, Fixture::tokenBody(token));
  auto client = f.client();
  MaaToken t = take(f.attest(*client, std::string("nonce-7")));

  CHECK(t.token == token);
  CHECK(t.issuer == kEndpoint);
  CHECK(t.hostdata == kHostData);
  CHECK(t.emulated);
  CHECK(t.attempts == 1);
  CHECK(t.expires_at == std::chrono::system_clock::time_point(seconds(kNow + 28800)));
  CHECK(t.claims->getValue<std::string>("x-ms-attestation-type") == "sevsnpvm");

  const std::vector<http::HttpRequest> requests = f.transport->requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].method == "POST");
  CHECK(requests[0].url == kAttestUrl);
  CHECK(headerOf(requests[0], "Content-Type") == "application/json");
  CHECK(headerOf(requests[0], "Authorization").empty());  // MAA attest is anonymous (§1.1)
  CHECK(requests[0].body ==
        maaRequestBody(f.report, f.collateral, f.runtime, std::string("nonce-7")));
  CHECK(requests[1].method == "GET");
  CHECK(requests[1].url == kCertsUrl);

  // The signing keys are cached: a second attestation fetches no /certs.
  REQUIRE(f.attest(*client).ok());
  CHECK(f.requestsTo(kCertsUrl) == 1);
  // ...until the cache time passes.
  f.clock.advance(std::chrono::hours(2));
  REQUIRE(f.attest(*client).ok());
  CHECK(f.requestsTo(kCertsUrl) == 2);
}

void expectDataLoss(Fixture& f, const std::string& token, const std::string& check) {
  f.transport->setResponse(kAttestUrl, 200, Fixture::tokenBody(token));
  auto client = f.client();
  StatusOr<MaaToken> t = f.attest(*client);
  INFO(t.status().toString());
  REQUIRE_FALSE(t.ok());
  CHECK(t.status().code() == StatusCode::DataLoss);
  CHECK_THAT(t.status().message(), Catch::Contains("MAA token " + check + ":"));
  CHECK_THAT(t.status().message(), !Catch::Contains(token));
}

TEST_CASE("a token that does not verify is DataLoss naming the failed check", "[azure][maa]") {
  Fixture f;
  SECTION("signed by another key under the pinned kid") {
    expectDataLoss(f, Fixture::sign(f.claims(), otherSigner()), "signature");
  }
  SECTION("RS384 instead of RS256") {
    expectDataLoss(f, Fixture::sign(f.claims(), maaSigner(), kKid, jose::JwsAlgorithm::RS384),
                   "alg");
  }
  SECTION("not a JWS") {
    expectDataLoss(f, "eyJhbGciOiJSUzI1NiJ9.bm90", "format");
  }
  SECTION("no kid") {
    const std::string payload = json::serializeCanonical(f.claims()).value();
    expectDataLoss(
        f, take(jose::signJws(maaSigner().key(), jose::JwsAlgorithm::RS256, asBytes(payload))),
        "kid");
  }
  SECTION("issuer of another instance") {
    json::ObjectPtr c = f.claims();
    c->set("iss", "https://maa2.test");
    expectDataLoss(f, Fixture::sign(c), "iss");
  }
  SECTION("issuer with a trailing slash") {
    json::ObjectPtr c = f.claims();
    c->set("iss", kEndpoint + "/");
    expectDataLoss(f, Fixture::sign(c), "iss");
  }
  SECTION("expired beyond the skew") {
    json::ObjectPtr c = f.claims();
    c->set("exp", static_cast<Poco::Int64>(kNow - 301));
    expectDataLoss(f, Fixture::sign(c), "exp/nbf");
  }
  SECTION("not yet valid beyond the skew") {
    json::ObjectPtr c = f.claims();
    c->set("nbf", static_cast<Poco::Int64>(kNow + 301));
    expectDataLoss(f, Fixture::sign(c), "exp/nbf");
  }
  SECTION("no exp") {
    json::ObjectPtr c = f.claims();
    c->remove("exp");
    expectDataLoss(f, Fixture::sign(c), "exp/nbf");
  }
  SECTION("attestation type other than sevsnpvm") {
    json::ObjectPtr c = f.claims();
    c->set("x-ms-attestation-type", "sgx");
    expectDataLoss(f, Fixture::sign(c), "x-ms-attestation-type");
  }
  SECTION("x-ms-runtime without our transfer key") {
    json::ObjectPtr c = f.claims();
    const TransferKey other = take(TransferKey::generate(2048));
    c->set("x-ms-runtime", json::parseObject(runtimeDataJson(other.public_jwk)).value());
    expectDataLoss(f, Fixture::sign(c), "x-ms-runtime");
  }
  SECTION("x-ms-runtime with our n but another e") {
    json::ObjectPtr c = f.claims();
    json::ObjectPtr runtime = json::parseObject(f.runtime).value();
    runtime->getArray("keys")->getObject(0)->set("e", "Aw");
    c->set("x-ms-runtime", runtime);
    expectDataLoss(f, Fixture::sign(c), "x-ms-runtime");
  }
  SECTION("no x-ms-runtime") {
    json::ObjectPtr c = f.claims();
    c->remove("x-ms-runtime");
    expectDataLoss(f, Fixture::sign(c), "x-ms-runtime");
  }
  SECTION("report data of another report") {
    json::ObjectPtr c = f.claims();
    c->set("x-ms-sevsnpvm-reportdata", std::string(128, '0'));
    expectDataLoss(f, Fixture::sign(c), "x-ms-sevsnpvm-reportdata");
  }
  SECTION("hostdata that is not 32 bytes of hex") {
    json::ObjectPtr c = f.claims();
    c->set("x-ms-sevsnpvm-hostdata", "abcd");
    expectDataLoss(f, Fixture::sign(c), "x-ms-sevsnpvm-hostdata");
  }
}

TEST_CASE("exp and nbf are accepted within the clock skew", "[azure][maa]") {
  Fixture f;
  json::ObjectPtr c = f.claims();
  c->set("exp", static_cast<Poco::Int64>(kNow - 299));
  c->set("nbf", static_cast<Poco::Int64>(kNow + 299));
  f.transport->setResponse(kAttestUrl, 200, Fixture::tokenBody(Fixture::sign(c)));
  auto client = f.client();
  MaaToken t = take(f.attest(*client));
  CHECK(t.expires_at == std::chrono::system_clock::time_point(seconds(kNow - 299)));
  CHECK(t.emulated);
}

TEST_CASE("a token from real MAA (no x-ms-emulated) is not marked emulated", "[azure][maa]") {
  Fixture f;
  json::ObjectPtr c = f.claims();
  c->remove("x-ms-emulated");
  auto client = f.client();
  MaaToken t = take(client->verifyToken(Fixture::sign(c), f.transfer.public_jwk, std::nullopt));
  CHECK_FALSE(t.emulated);
  CHECK(t.attempts == 0);
}

TEST_CASE("verifyIssuedToken accepts any runtime data but keeps every other check",
          "[azure][maa]") {
  Fixture f;
  auto client = f.client();
  json::ObjectPtr c = f.claims();
  const TransferKey other = take(TransferKey::generate(2048));
  c->set("x-ms-runtime", json::parseObject(runtimeDataJson(other.public_jwk)).value());
  MaaToken t = take(client->verifyIssuedToken(Fixture::sign(c)));
  CHECK(t.hostdata == json::getString(c, "x-ms-sevsnpvm-hostdata").value());
  c->remove("x-ms-runtime");
  CHECK(client->verifyIssuedToken(Fixture::sign(c)).ok());
  StatusOr<MaaToken> forged = client->verifyIssuedToken(Fixture::sign(c, otherSigner()));
  REQUIRE_FALSE(forged.ok());
  CHECK(forged.status().code() == StatusCode::DataLoss);
  CHECK(forged.status().details().cause == ErrorCause::Integrity);
  c->set("iss", "https://maa2.test");
  StatusOr<MaaToken> foreign = client->verifyIssuedToken(Fixture::sign(c));
  REQUIRE_FALSE(foreign.ok());
  CHECK_THAT(foreign.status().message(), Catch::Contains("iss"));
}

TEST_CASE("an unknown kid refetches /certs once, then verifies with the rotated key",
          "[azure][maa]") {
  Fixture f;
  f.transport->queueResponse(kCertsUrl, 200, certsJson({{"old-kid", &otherSigner()}}));
  f.transport->setResponse(kCertsUrl, 200,
                           certsJson({{"old-kid", &otherSigner()}, {kKid, &maaSigner()}}));
  auto client = f.client();
  // The cache holds the old key only.
  REQUIRE(client
              ->verifyToken(Fixture::sign(f.claims(), otherSigner(), "old-kid"),
                            f.transfer.public_jwk, f.report_data)
              .ok());
  CHECK(f.requestsTo(kCertsUrl) == 1);
  f.transport->setResponse(kAttestUrl, 200, Fixture::tokenBody(Fixture::sign(f.claims())));
  StatusOr<MaaToken> t = f.attest(*client);
  INFO(t.status().toString());
  REQUIRE(t.ok());
  CHECK(f.requestsTo(kCertsUrl) == 2);
}

TEST_CASE("a kid /certs never publishes fails after exactly one refetch", "[azure][maa]") {
  Fixture f;
  auto client = f.client();
  // Warm the cache.
  REQUIRE(
      client->verifyToken(Fixture::sign(f.claims()), f.transfer.public_jwk, f.report_data).ok());
  CHECK(f.requestsTo(kCertsUrl) == 1);
  StatusOr<MaaToken> t = client->verifyToken(Fixture::sign(f.claims(), maaSigner(), "nobody"),
                                             f.transfer.public_jwk, f.report_data);
  REQUIRE_FALSE(t.ok());
  CHECK(t.status().code() == StatusCode::DataLoss);
  CHECK(t.status().message() ==
        "MAA token kid: 'nobody' is not among the keys maa.test/certs publishes");
  CHECK(f.requestsTo(kCertsUrl) == 2);
}

TEST_CASE("/certs entries without x5c or of another kty are skipped", "[azure][maa]") {
  Fixture f;
  f.transport->setResponse(
      kCertsUrl, 200,
      R"({"keys":[{"kid":"a","kty":"RSA","n":"AQAB","e":"AQAB"},{"kid":"b","kty":"EC","x5c":[]},)" +
          certsJson({{kKid, &maaSigner()}}).substr(9));
  auto client = f.client();
  CHECK(client->verifyToken(Fixture::sign(f.claims()), f.transfer.public_jwk, f.report_data).ok());

  f.transport->setResponse(kCertsUrl, 200, R"({"keys":[{"kid":"a","kty":"RSA"}]})");
  auto fresh = f.client();
  StatusOr<MaaToken> t =
      fresh->verifyToken(Fixture::sign(f.claims()), f.transfer.public_jwk, f.report_data);
  CHECK(t.status().code() == StatusCode::DataLoss);
  CHECK_THAT(t.status().message(), Catch::Contains("no RSA key with kid and x5c"));
}

TEST_CASE("MAA 400 is PermissionDenied quoting its CloudError message, with JWTs redacted",
          "[azure][maa]") {
  Fixture f;
  f.transport->setResponse(
      kAttestUrl, 400,
      R"({"error":{"code":"InvalidParameter","message":"SEV-SNP attestation failed: runtime-data: mismatch near eyJhbGciOiJSUzI1NiJ9.eyJ4IjoxfQ.c2ln"}})");
  auto client = f.client();
  StatusOr<MaaToken> t = f.attest(*client);
  REQUIRE_FALSE(t.ok());
  CHECK(t.status().code() == StatusCode::PermissionDenied);
  CHECK(t.status().message() ==
        "MAA rejected the evidence: MAA attest at maa.test: HTTP 400 InvalidParameter: SEV-SNP "
        "attestation failed: runtime-data: mismatch near <redacted token>");
  CHECK(f.transport->requestCount() == 1);  // not retried
}

TEST_CASE("MAA 403 and 401 are PermissionDenied, a long message is bounded", "[azure][maa]") {
  Fixture f;
  const int status = GENERATE(401, 403);
  f.transport->setResponse(
      kAttestUrl, status,
      R"({"error":{"code":"Forbidden","message":")" + std::string(5000, 'x') + "\"}}");
  auto client = f.client();
  StatusOr<MaaToken> t = f.attest(*client);
  CHECK(t.status().code() == StatusCode::PermissionDenied);
  CHECK(t.status().message().size() < 500);
  CHECK_THAT(t.status().message(), Catch::EndsWith("xxx..."));
}

TEST_CASE("MAA 429 is retried after Retry-After", "[azure][maa]") {
  Fixture f;
  f.transport->queueResponse(kAttestUrl, 429, R"({"error":{"code":"TooManyRequests"}})",
                             {{"Retry-After", "7"}});
  f.transport->setResponse(kAttestUrl, 200, Fixture::tokenBody(Fixture::sign(f.claims())));
  auto client = f.client();
  MaaToken t = take(f.attest(*client));
  CHECK(t.attempts == 2);
  CHECK(f.clock.sleeps() == std::vector<milliseconds>{milliseconds(7000)});
}

TEST_CASE("MAA 503 twice then 200 succeeds on the third attempt", "[azure][maa]") {
  Fixture f;
  f.transport->queueResponse(kAttestUrl, 503, "");
  f.transport->queueResponse(kAttestUrl, 503, "");
  f.transport->setResponse(kAttestUrl, 200, Fixture::tokenBody(Fixture::sign(f.claims())));
  auto client = f.client();
  MaaToken t = take(f.attest(*client));
  CHECK(t.attempts == 3);
  CHECK(f.requestsTo(kAttestUrl) == 3);
}

TEST_CASE("MAA that stays 503 is Unavailable after the attempt budget", "[azure][maa]") {
  Fixture f;
  f.transport->setResponse(kAttestUrl, 503, R"({"error":{"code":"ServiceUnavailable"}})");
  auto client = f.client();
  StatusOr<MaaToken> t = f.attest(*client);
  CHECK(t.status().code() == StatusCode::Unavailable);
  CHECK_THAT(t.status().message(), Catch::Contains("HTTP 503 ServiceUnavailable"));
  CHECK_THAT(t.status().message(), Catch::Contains("gave up after 4 attempts"));
  CHECK(f.requestsTo(kAttestUrl) == 4);
}

TEST_CASE("an unreachable MAA is Unavailable naming the dependency", "[azure][maa]") {
  Fixture f;
  f.transport->setError(kAttestUrl, unavailableError("connection refused"));
  auto client = f.client();
  StatusOr<MaaToken> t = f.attest(*client);
  CHECK(t.status().code() == StatusCode::Unavailable);
  CHECK_THAT(t.status().message(), Catch::StartsWith("MAA attest at maa.test: MAA: gave up"));
}

TEST_CASE("a deadline that already passed sends nothing", "[azure][maa]") {
  Fixture f;
  auto client = f.client();
  StatusOr<MaaToken> t = client->attest(f.report, f.collateral, f.transfer, f.report_data,
                                        std::nullopt, f.clock.steadyNow());
  CHECK(t.status().code() == StatusCode::DeadlineExceeded);
  CHECK(f.transport->requestCount() == 0);
}

TEST_CASE("the deadline shortens the retry budget", "[azure][maa]") {
  Fixture f;
  f.transport->setResponse(kAttestUrl, 503, "");
  auto client = f.client();
  const auto deadline = f.clock.steadyNow() + milliseconds(1200);
  StatusOr<MaaToken> t =
      client->attest(f.report, f.collateral, f.transfer, f.report_data, std::nullopt, deadline);
  CHECK(t.status().code() == StatusCode::Unavailable);
  CHECK(f.clock.steadyNow() <= deadline);
  CHECK(f.transport->requests().front().timeout == milliseconds(1200));
}

TEST_CASE("a malformed MAA response is InvalidArgument", "[azure][maa]") {
  Fixture f;
  const std::string body = GENERATE(std::string("not json"), std::string(R"({"tokens":"x"})"),
                                    std::string(R"({"token":42})"), std::string(R"({"token":""})"));
  f.transport->setResponse(kAttestUrl, 200, body);
  auto client = f.client();
  StatusOr<MaaToken> t = f.attest(*client);
  CHECK(t.status().code() == StatusCode::InvalidArgument);
  CHECK_THAT(t.status().message(), Catch::Contains("malformed response"));
}

TEST_CASE("REPORT_DATA that does not bind the transfer key is refused before sending",
          "[azure][maa]") {
  Fixture f;
  auto client = f.client();
  std::array<uint8_t, 64> wrong = f.report_data;
  wrong[63] = 1;
  StatusOr<MaaToken> t = client->attest(f.report, f.collateral, f.transfer, wrong);
  CHECK(t.status().code() == StatusCode::InvalidArgument);
  CHECK(f.transport->requestCount() == 0);
}

TEST_CASE("a failing /certs is Unavailable", "[azure][maa]") {
  Fixture f;
  f.transport->setResponse(kCertsUrl, 500, "");
  auto client = f.client();
  StatusOr<MaaToken> t =
      client->verifyToken(Fixture::sign(f.claims()), f.transfer.public_jwk, f.report_data);
  CHECK(t.status().code() == StatusCode::Unavailable);
  CHECK_THAT(t.status().message(), Catch::StartsWith("MAA maa.test /certs: HTTP 500"));
}

TEST_CASE(
    "attestRuntimeData sends the caller's runtime data and checks the token's report data, "
    "not a transfer key",
    "[azure][maa]") {
  Fixture f;
  const std::string runtime = R"({"app":"chosen by the caller"})";
  json::ObjectPtr c = f.claims();
  c->set("x-ms-runtime", json::parseObject(runtime).value());
  c->set("x-ms-sevsnpvm-reportdata", encoding::hexEncode(reportDataFor(runtime)));
  const std::string token = Fixture::sign(c);
  f.transport->setResponse(kAttestUrl, 200, Fixture::tokenBody(token));
  auto client = f.client();
  MaaToken t = take(client->attestRuntimeData(f.report, f.collateral, runtime));
  CHECK(t.token == token);
  CHECK(t.hostdata == kHostData);
  const std::vector<http::HttpRequest> requests = f.transport->requests();
  REQUIRE_FALSE(requests.empty());
  CHECK(requests[0].body == maaRequestBody(f.report, f.collateral, runtime, std::nullopt));

  SECTION("a token over other report data is DataLoss") {
    f.transport->setResponse(kAttestUrl, 200, Fixture::tokenBody(Fixture::sign(f.claims())));
    StatusOr<MaaToken> other = client->attestRuntimeData(f.report, f.collateral, runtime);
    REQUIRE_FALSE(other.ok());
    CHECK(other.status().code() == StatusCode::DataLoss);
    CHECK_THAT(other.status().message(), Catch::Contains("x-ms-sevsnpvm-reportdata"));
  }
  SECTION("runtime data over 64 KiB is refused before sending") {
    const std::size_t before = f.transport->requests().size();
    StatusOr<MaaToken> big =
        client->attestRuntimeData(f.report, f.collateral, std::string(64 * 1024 + 1, ' '));
    CHECK(big.status().code() == StatusCode::InvalidArgument);
    CHECK(f.transport->requests().size() == before);
  }
}

TEST_CASE("a rejection carries the scripted code and details, however messages are worded",
          "[azure][maa]") {
  auto rejected = [] {
    Fixture f;
    f.transport->setResponse(kAttestUrl, 400,
                             R"({"error":{"code":"InvalidParameter","message":"bad evidence"}})");
    auto client = f.client();
    StatusOr<MaaToken> t = f.attest(*client);
    REQUIRE_FALSE(t.ok());
    return t.status();
  };
  const Status expected = testing::scriptedMaaRejection("maa.test");
  const Status plain = rejected();
  INFO(plain.toString());
  CHECK(plain.code() == expected.code());
  CHECK(plain.details() == expected.details());
  const Status other = [&] {
    testing::ScopedRewording rewording;
    return rejected();
  }();
  CHECK_THAT(other.message(), Catch::StartsWith(std::string(testing::kRewordedPrefix)));
  CHECK(other.code() == plain.code());
  CHECK(other.details() == plain.details());
}

}  // namespace
}  // namespace skr::azure
