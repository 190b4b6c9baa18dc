#include "common/jose/jws.h"

#include <Poco/Crypto/ECKey.h>
#include <Poco/Crypto/RSAKey.h>
#include <Poco/JWT/Signer.h>
#include <Poco/JWT/Token.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <tuple>

#include "common/encoding/base64.h"
#include "common/jose/jwk.h"
#include "tests/unit/jose/jose_test_vectors.h"

namespace skr::jose {
namespace {

using crypto::Curve;
using crypto::PrivateKey;
using crypto::PublicKey;

const PrivateKey& rsa2048() {
  static const PrivateKey key = *PrivateKey::generateRsa(2048);
  return key;
}
const PrivateKey& ecKey(Curve curve) {
  static const PrivateKey p256 = *PrivateKey::generateEc(Curve::P256);
  static const PrivateKey p384 = *PrivateKey::generateEc(Curve::P384);
  static const PrivateKey p521 = *PrivateKey::generateEc(Curve::P521);
  switch (curve) {
    case Curve::P384: return p384;
    case Curve::P521: return p521;
    default: return p256;
  }
}

PublicKey rfc7515A2Key() {
  StatusOr<Bytes> n = encoding::base64UrlDecode(testing::kRfc7515A2N);
  REQUIRE(n.ok());
  const Bytes e = {0x01, 0x00, 0x01};
  StatusOr<PublicKey> key = PublicKey::fromRsaComponents(*n, e);
  REQUIRE(key.ok());
  return std::move(key).value();
}

PublicKey rfc7515A3Key() {
  StatusOr<Jwk> jwk = Jwk::parseSecret(SecretBytes::copyOf(asBytes(testing::kRfc7515A3Jwk)));
  REQUIRE(jwk.ok());
  return (*jwk->privateKey())->publicKey();
}

std::string readFile(const std::string& relative) {
  std::ifstream in(std::string(SKR_TEST_DATA_DIR) + "/" + relative, std::ios::binary);
  REQUIRE(in.good());
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string flipChar(std::string s, std::size_t at) {
  s[at] = s[at] == 'A' ? 'B' : 'A';
  return s;
}

TEST_CASE("RFC 7515 A.2 RS256 JWS verifies with the published key") {
  StatusOr<Jws> jws = Jws::parse(testing::kRfc7515A2Jws);
  REQUIRE(jws.ok());
  CHECK(jws->algorithm() == JwsAlgorithm::RS256);
  CHECK(toString(jws->payload()) == testing::kRfc7515Payload);
  CHECK(jws->verify(rfc7515A2Key()).ok());
  StatusOr<json::ObjectPtr> claims = jws->payloadJson();
  REQUIRE(claims.ok());
  CHECK((*claims)->getValue<std::string>("iss") == "joe");
}

TEST_CASE("RFC 7515 A.3 ES256 JWS verifies with the published key") {
  StatusOr<Jws> jws = Jws::parse(testing::kRfc7515A3Jws);
  REQUIRE(jws.ok());
  CHECK(jws->algorithm() == JwsAlgorithm::ES256);
  CHECK(toString(jws->payload()) == testing::kRfc7515Payload);
  CHECK(jws->verify(rfc7515A3Key()).ok());
}

TEST_CASE("a JWS with any byte of header, payload or signature changed does not verify") {
  const std::string original = testing::kRfc7515A2Jws;
  const std::size_t dot2 = original.rfind('.');
  for (std::size_t at : {std::size_t{25}, std::size_t{60}, dot2 + 5, original.size() - 10}) {
    INFO("offset " << at);
    StatusOr<Jws> jws = Jws::parse(flipChar(original, at));
    REQUIRE(jws.ok());
    Status s = jws->verify(rfc7515A2Key());
    CHECK(s.code() == StatusCode::DataLoss);
  }
  // A changed header byte can break the header JSON itself: then parsing fails cleanly.
  StatusOr<Jws> broken = Jws::parse(flipChar(original, 3));
  if (broken.ok()) {
    CHECK(broken->verify(rfc7515A2Key()).code() == StatusCode::DataLoss);
  } else {
    CHECK(broken.status().code() == StatusCode::InvalidArgument);
  }
}

TEST_CASE("a JWS does not verify with another key of the right type") {
  StatusOr<Jws> jws = Jws::parse(testing::kRfc7515A2Jws);
  REQUIRE(jws.ok());
  CHECK(jws->verify(rsa2048().publicKey()).code() == StatusCode::DataLoss);
  StatusOr<Jws> es = Jws::parse(testing::kRfc7515A3Jws);
  REQUIRE(es.ok());
  CHECK(es->verify(ecKey(Curve::P256).publicKey()).code() == StatusCode::DataLoss);
}

TEST_CASE("algorithm and key mismatches are rejected before any signature check") {
  StatusOr<Jws> rs = Jws::parse(testing::kRfc7515A2Jws);
  REQUIRE(rs.ok());
  Status ec_for_rs = rs->verify(rfc7515A3Key());
  CHECK(ec_for_rs.code() == StatusCode::InvalidArgument);
  CHECK(ec_for_rs.message().find("needs an RSA key") != std::string::npos);

  StatusOr<Jws> es = Jws::parse(testing::kRfc7515A3Jws);
  REQUIRE(es.ok());
  Status rs_for_es = es->verify(rfc7515A2Key());
  CHECK(rs_for_es.code() == StatusCode::InvalidArgument);
  CHECK(rs_for_es.message().find("needs an EC key") != std::string::npos);
  Status wrong_curve = es->verify(ecKey(Curve::P384).publicKey());
  CHECK(wrong_curve.code() == StatusCode::InvalidArgument);
  CHECK(wrong_curve.message().find("P-256") != std::string::npos);

  // The header says ES256 but the signer used RS256 bytes: alg is taken from the header only.
  StatusOr<std::string> signed_rs = signJws(rsa2048(), JwsAlgorithm::RS256, asBytes("x"));
  REQUIRE(signed_rs.ok());
  const std::string forged = "eyJhbGciOiJFUzI1NiJ9" + signed_rs->substr(signed_rs->find('.'));
  StatusOr<Jws> f = Jws::parse(forged);
  REQUIRE(f.ok());
  CHECK(f->verify(rsa2048().publicKey()).code() == StatusCode::InvalidArgument);
}

TEST_CASE("sign then verify round-trips for all nine algorithms") {
  struct Case {
    JwsAlgorithm alg;
    const PrivateKey* key;
  };
  const Case cases[] = {
      {JwsAlgorithm::RS256, &rsa2048()},          {JwsAlgorithm::RS384, &rsa2048()},
      {JwsAlgorithm::RS512, &rsa2048()},          {JwsAlgorithm::PS256, &rsa2048()},
      {JwsAlgorithm::PS384, &rsa2048()},          {JwsAlgorithm::PS512, &rsa2048()},
      {JwsAlgorithm::ES256, &ecKey(Curve::P256)}, {JwsAlgorithm::ES384, &ecKey(Curve::P384)},
      {JwsAlgorithm::ES512, &ecKey(Curve::P521)},
  };
  const std::string payload = R"({"x-ms-ver":"1.0"})";
  for (const auto& c : cases) {
    INFO(jwsAlgorithmName(c.alg));
    json::ObjectPtr header = new Poco::JSON::Object();
    header->set("kid", "key-1");
    header->set("typ", "JWT");
    StatusOr<std::string> compact = signJws(*c.key, c.alg, asBytes(payload), header);
    REQUIRE(compact.ok());
    StatusOr<Jws> jws = Jws::parse(*compact);
    REQUIRE(jws.ok());
    CHECK(jws->algorithm() == c.alg);
    CHECK(jws->kid() == "key-1");
    CHECK(toString(jws->payload()) == payload);
    CHECK(jws->verify(c.key->publicKey()).ok());
    // The header is canonical JSON: sorted keys, no whitespace.
    StatusOr<Bytes> header_bytes =
        encoding::base64UrlDecode(compact->substr(0, compact->find('.')));
    REQUIRE(header_bytes.ok());
    CHECK(toString(*header_bytes) ==
          R"({"alg":")" + std::string(jwsAlgorithmName(c.alg)) + R"(","kid":"key-1","typ":"JWT"})");
  }
}

TEST_CASE("ES signatures use the fixed-length JOSE r||s form") {
  for (auto [alg, curve, size] : {std::tuple{JwsAlgorithm::ES256, Curve::P256, 64},
                                  std::tuple{JwsAlgorithm::ES384, Curve::P384, 96},
                                  std::tuple{JwsAlgorithm::ES512, Curve::P521, 132}}) {
    StatusOr<std::string> compact = signJws(ecKey(curve), alg, asBytes("p"));
    REQUIRE(compact.ok());
    StatusOr<Bytes> sig = encoding::base64UrlDecode(compact->substr(compact->rfind('.') + 1));
    REQUIRE(sig.ok());
    CHECK(sig->size() == static_cast<std::size_t>(size));
  }
}

TEST_CASE("'none', HMAC and unknown algorithms are rejected at parse time") {
  const char* headers[] = {
      R"({"alg":"none"})", R"({"alg":"HS256"})", R"({"alg":"RS1"})", R"({"alg":"rs256"})",
      R"({"alg":""})",     R"({"alg":256})",     R"({"typ":"JWT"})",
  };
  for (const char* header : headers) {
    INFO(header);
    const std::string compact = encoding::base64UrlEncode(asBytes(header)) + ".e30.c2ln";
    StatusOr<Jws> jws = Jws::parse(compact);
    REQUIRE_FALSE(jws.ok());
    CHECK((jws.status().code() == StatusCode::InvalidArgument ||
           jws.status().code() == StatusCode::NotFound));
  }
  StatusOr<Jws> none =
      Jws::parse(encoding::base64UrlEncode(asBytes(R"({"alg":"none"})")) + ".e30.c2ln");
  CHECK(none.status().message().find("'none'") != std::string::npos);
}

TEST_CASE("malformed compact serializations give InvalidArgument") {
  const std::string good = testing::kRfc7515A2Jws;
  const std::string cases[] = {
      "",
      "abc",
      "a.b",
      "a.b.c.d",
      good + ".",
      "." + good.substr(good.find('.')),
      good.substr(0, good.rfind('.') + 1),  // empty signature
      "eyJhbGciOiJSUzI1NiJ9=.e30.c2ln",     // padding
      "eyJhbGciOiJSUzI1NiJ9.e3+0.c2ln",     // std alphabet
      "bm90IGpzb24.e30.c2ln",               // header is not JSON
      "WzFd.e30.c2ln",                      // header is an array
  };
  for (const auto& c : cases) {
    INFO(c.substr(0, 60));
    StatusOr<Jws> jws = Jws::parse(c);
    REQUIRE_FALSE(jws.ok());
    CHECK(jws.status().code() == StatusCode::InvalidArgument);
  }
}

TEST_CASE("oversized JWS and 'crit' headers are rejected") {
  JwsLimits limits;
  limits.max_compact_bytes = 100;
  CHECK(Jws::parse(testing::kRfc7515A2Jws, limits).status().code() ==
        StatusCode::ResourceExhausted);
  const std::string crit =
      encoding::base64UrlEncode(asBytes(R"({"alg":"RS256","crit":["b64"],"b64":false})"));
  StatusOr<Jws> jws = Jws::parse(crit + ".e30.c2ln");
  REQUIRE_FALSE(jws.ok());
  CHECK(jws.status().message().find("crit") != std::string::npos);
}

TEST_CASE("an ES256 signature of the wrong length is DataLoss, not a crash") {
  const std::string compact =
      std::string("eyJhbGciOiJFUzI1NiJ9.e30.") + encoding::base64UrlEncode(Bytes(63, 1));
  StatusOr<Jws> jws = Jws::parse(compact);
  REQUIRE(jws.ok());
  Status s = jws->verify(ecKey(Curve::P256).publicKey());
  CHECK(s.code() == StatusCode::DataLoss);
  CHECK(s.message().find("expected 64") != std::string::npos);
}

TEST_CASE("signJws refuses an 'alg' in the extra header and a key that does not fit") {
  json::ObjectPtr header = new Poco::JSON::Object();
  header->set("alg", "none");
  CHECK(signJws(rsa2048(), JwsAlgorithm::RS256, asBytes("x"), header).status().code() ==
        StatusCode::InvalidArgument);
  CHECK(signJws(ecKey(Curve::P256), JwsAlgorithm::PS256, asBytes("x")).status().code() ==
        StatusCode::InvalidArgument);
  CHECK(signJws(ecKey(Curve::P384), JwsAlgorithm::ES256, asBytes("x")).status().code() ==
        StatusCode::InvalidArgument);
}

TEST_CASE("x5c certificates are decoded from standard base64 DER, leaf first") {
  // Two real AMD certificates stand in for a chain: what matters is the decoding and order.
  StatusOr<std::vector<crypto::Certificate>> bundle = crypto::Certificate::parsePemBundle(
      readFile("amd/milan_ask.pem") + readFile("amd/milan_ark.pem"));
  REQUIRE(bundle.ok());
  REQUIRE(bundle->size() == 2);
  Poco::JSON::Array::Ptr x5c = new Poco::JSON::Array();
  for (const auto& cert : *bundle) x5c->add(encoding::base64Encode(cert.der()));
  json::ObjectPtr header = new Poco::JSON::Object();
  header->set("x5c", x5c);
  StatusOr<std::string> compact = signJws(rsa2048(), JwsAlgorithm::RS256, asBytes("{}"), header);
  REQUIRE(compact.ok());
  StatusOr<Jws> jws = Jws::parse(*compact);
  REQUIRE(jws.ok());
  StatusOr<std::vector<crypto::Certificate>> certs = jws->x5c();
  REQUIRE(certs.ok());
  REQUIRE(certs->size() == 2);
  CHECK((*certs)[0].subjectCommonName() == "SEV-Milan");
  CHECK((*certs)[1].subjectCommonName() == "ARK-Milan");

  // base64url in x5c is not the standard encoding and is rejected.
  StatusOr<Jws> no_x5c = Jws::parse(testing::kRfc7515A2Jws);
  REQUIRE(no_x5c.ok());
  CHECK(no_x5c->x5c().status().code() == StatusCode::NotFound);
  Poco::JSON::Array::Ptr bad = new Poco::JSON::Array();
  bad->add(std::string("-_-_"));
  json::ObjectPtr bad_header = new Poco::JSON::Object();
  bad_header->set("x5c", bad);
  StatusOr<std::string> bad_compact =
      signJws(rsa2048(), JwsAlgorithm::RS256, asBytes("{}"), bad_header);
  REQUIRE(bad_compact.ok());
  StatusOr<Jws> bad_jws = Jws::parse(*bad_compact);
  REQUIRE(bad_jws.ok());
  CHECK(bad_jws->x5c().status().code() == StatusCode::InvalidArgument);
}

// Independent implementation check: Poco::JWT (Poco::Crypto keys) and skr agree on RS256 / ES256.
TEST_CASE("tokens signed by Poco::JWT verify with skr, and skr's verify with Poco::JWT") {
  const std::string rsa_pem = toString(rsa2048().toPkcs8Pem().view(grantSecretAccess()));
  std::istringstream rsa_priv(rsa_pem);
  const Poco::SharedPtr<Poco::Crypto::RSAKey> poco_rsa(
      new Poco::Crypto::RSAKey(nullptr, &rsa_priv, ""));
  const std::string ec_pem = toString(ecKey(Curve::P256).toPkcs8Pem().view(grantSecretAccess()));
  std::istringstream ec_priv(ec_pem);
  const Poco::SharedPtr<Poco::Crypto::ECKey> poco_ec(
      new Poco::Crypto::ECKey(nullptr, &ec_priv, ""));

  Poco::JWT::Token token;
  token.setIssuer("https://maa.example.test");
  token.payload().set("x-ms-attestation-type", std::string("sevsnpvm"));

  Poco::JWT::Signer rsa_signer(poco_rsa);
  const std::string poco_rs256 = rsa_signer.sign(token, Poco::JWT::Signer::ALGO_RS256);
  StatusOr<Jws> jws = Jws::parse(poco_rs256);
  REQUIRE(jws.ok());
  CHECK(jws->verify(rsa2048().publicKey()).ok());

  Poco::JWT::Signer ec_signer(poco_ec);
  const std::string poco_es256 = ec_signer.sign(token, Poco::JWT::Signer::ALGO_ES256);
  StatusOr<Jws> es = Jws::parse(poco_es256);
  REQUIRE(es.ok());
  CHECK(es->verify(ecKey(Curve::P256).publicKey()).ok());

  const std::string payload = R"({"iss":"https://maa.example.test"})";
  StatusOr<std::string> ours = signJws(rsa2048(), JwsAlgorithm::RS256, asBytes(payload));
  REQUIRE(ours.ok());
  Poco::JWT::Token verified;
  rsa_signer.addAlgorithm(Poco::JWT::Signer::ALGO_RS256);
  CHECK(rsa_signer.tryVerify(*ours, verified));
  CHECK(verified.getIssuer() == "https://maa.example.test");
  StatusOr<std::string> ours_es =
      signJws(ecKey(Curve::P256), JwsAlgorithm::ES256, asBytes(payload));
  REQUIRE(ours_es.ok());
  ec_signer.addAlgorithm(Poco::JWT::Signer::ALGO_ES256);
  CHECK(ec_signer.tryVerify(*ours_es, verified));
}

}  // namespace
}  // namespace skr::jose
