#include "common/jose/jwk.h"

#include <catch2/catch.hpp>
#include <string>

#include "common/crypto/pkey.h"
#include "common/encoding/base64.h"
#include "common/json/json.h"
#include "tests/unit/jose/jose_test_vectors.h"

namespace skr::jose {
namespace {

using crypto::Curve;
using crypto::PrivateKey;

std::string text(const SecretBytes& s) {
  return toString(s.view(grantSecretAccess()));
}

const PrivateKey& rsaKey() {
  static const PrivateKey key = *PrivateKey::generateRsa(2048);
  return key;
}

TEST_CASE("RFC 7638 §3.1 thumbprint of the example RSA key") {
  StatusOr<Jwk> jwk = Jwk::parse(testing::kRfc7638Jwk);
  REQUIRE(jwk.ok());
  CHECK(jwk->type() == JwkType::Rsa);
  CHECK(jwk->kid() == "2011-04-29");
  CHECK(jwk->alg() == "RS256");
  CHECK_FALSE(jwk->hasPrivate());
  CHECK(jwk->thumbprint() == testing::kRfc7638Thumbprint);
}

TEST_CASE("thumbprint ignores optional members and member order") {
  StatusOr<Jwk> a = Jwk::parse(testing::kRfc7638Jwk);
  REQUIRE(a.ok());
  StatusOr<json::ObjectPtr> pub = a->publicJson();
  REQUIRE(pub.ok());
  (*pub)->remove("kid");
  (*pub)->remove("alg");
  (*pub)->set("use", "sig");
  StatusOr<Jwk> b = Jwk::fromJson(*pub);
  REQUIRE(b.ok());
  CHECK(b->thumbprint() == testing::kRfc7638Thumbprint);
}

TEST_CASE("public RSA JWK round-trips through publicJson with the same key") {
  Jwk jwk = Jwk::fromPublicKey(rsaKey().publicKey());
  jwk.setKid("k1");
  jwk.setKeyOps({"encrypt"});
  StatusOr<json::ObjectPtr> obj = jwk.publicJson();
  REQUIRE(obj.ok());
  CHECK((*obj)->getValue<std::string>("kty") == "RSA");
  CHECK((*obj)->getValue<std::string>("e") == "AQAB");
  CHECK_FALSE((*obj)->has("d"));
  StatusOr<std::string> canonical = json::serializeCanonical(*obj);
  REQUIRE(canonical.ok());
  CHECK(canonical->find("\"key_ops\":[\"encrypt\"]") != std::string::npos);
  StatusOr<Jwk> back = Jwk::fromJson(*obj);
  REQUIRE(back.ok());
  CHECK((*back->publicKey())->equals(rsaKey().publicKey()));
  CHECK(back->thumbprint() == jwk.thumbprint());
  CHECK(back->keyOps() == std::vector<std::string>{"encrypt"});
}

TEST_CASE("private RSA JWK keeps private members out of publicJson and restores the key") {
  Jwk jwk = Jwk::fromPrivateKey(*PrivateKey::fromPkcs8Der(rsaKey().toPkcs8Der()));
  REQUIRE(jwk.hasPrivate());
  StatusOr<json::ObjectPtr> pub = jwk.publicJson();
  REQUIRE(pub.ok());
  for (const char* member : {"d", "p", "q", "dp", "dq", "qi"}) CHECK_FALSE((*pub)->has(member));

  StatusOr<SecretBytes> priv = jwk.privateJson(grantSecretAccess());
  REQUIRE(priv.ok());
  const std::string priv_text = text(*priv);
  for (const char* member : {"\"d\":", "\"p\":", "\"q\":", "\"dp\":", "\"dq\":", "\"qi\":"}) {
    CHECK(priv_text.find(member) != std::string::npos);
  }
  StatusOr<Jwk> back = Jwk::parseSecret(*priv);
  REQUIRE(back.ok());
  REQUIRE(back->hasPrivate());
  CHECK((*back->privateKey())->toPkcs8Der() == rsaKey().toPkcs8Der());
}

TEST_CASE("EC JWKs round-trip for P-256, P-384 and P-521") {
  for (Curve curve : {Curve::P256, Curve::P384, Curve::P521}) {
    StatusOr<PrivateKey> key = PrivateKey::generateEc(curve);
    REQUIRE(key.ok());
    const Bytes spki = key->publicKey().toSpkiDer();
    Jwk jwk = Jwk::fromPrivateKey(std::move(key).value());
    StatusOr<SecretBytes> priv = jwk.privateJson(grantSecretAccess());
    REQUIRE(priv.ok());
    StatusOr<Jwk> back = Jwk::parseSecret(*priv);
    REQUIRE(back.ok());
    CHECK((*back->publicKey())->toSpkiDer() == spki);
    CHECK(back->thumbprint() == jwk.thumbprint());
    StatusOr<json::ObjectPtr> pub = back->publicJson();
    REQUIRE(pub.ok());
    CHECK((*pub)->getValue<std::string>("crv") == crypto::curveName(curve));
    // Coordinates keep their full length (RFC 7518 §6.2.1.2).
    const auto x = encoding::base64UrlDecode((*pub)->getValue<std::string>("x"));
    REQUIRE(x.ok());
    CHECK(x->size() == crypto::curveFieldSize(curve));
  }
}

TEST_CASE("RFC 7515 A.3 EC private JWK parses and matches its public point") {
  StatusOr<Jwk> jwk = Jwk::parseSecret(SecretBytes::copyOf(asBytes(testing::kRfc7515A3Jwk)));
  REQUIRE(jwk.ok());
  CHECK(jwk->type() == JwkType::Ec);
  CHECK(jwk->hasPrivate());
  CHECK(*(*jwk->publicKey())->curve() == Curve::P256);
}

TEST_CASE("oct JWK holds its key secret and has no public form") {
  SecretBytes k = SecretBytes::copyOf(asBytes("0123456789abcdef0123456789abcdef"));
  StatusOr<Jwk> jwk = Jwk::fromOctet(k.clone());
  REQUIRE(jwk.ok());
  CHECK(jwk->type() == JwkType::Oct);
  CHECK(jwk->publicJson().status().code() == StatusCode::FailedPrecondition);
  CHECK(jwk->publicKey().status().code() == StatusCode::FailedPrecondition);
  StatusOr<SecretBytes> priv = jwk->privateJson(grantSecretAccess());
  REQUIRE(priv.ok());
  CHECK(text(*priv) == R"({"k":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY","kty":"oct"})");
  StatusOr<Jwk> back = Jwk::parseSecret(*priv);
  REQUIRE(back.ok());
  CHECK(**back->octet() == k);
  CHECK(back->thumbprint() == jwk->thumbprint());
  CHECK(Jwk::fromOctet(SecretBytes()).status().code() == StatusCode::InvalidArgument);
}

TEST_CASE("JWK parsing rejects malformed keys with the member named") {
  struct Case {
    const char* json;
    StatusCode code;
    const char* message_part;
  };
  const Case cases[] = {
      {R"({"n":"AQAB","e":"AQAB"})", StatusCode::NotFound, "kty"},
      {R"({"kty":"XYZ"})", StatusCode::InvalidArgument, "unsupported 'kty'"},
      {R"({"kty":7})", StatusCode::InvalidArgument, "kty"},
      {R"({"kty":"RSA","e":"AQAB"})", StatusCode::NotFound, "'n'"},
      {R"({"kty":"RSA","n":"!!!","e":"AQAB"})", StatusCode::InvalidArgument, "'n'"},
      {R"({"kty":"RSA","n":"","e":"AQAB"})", StatusCode::InvalidArgument, "'n' is empty"},
      {R"({"kty":"RSA","n":"AQAB","e":"AQAB","d":"AQAB"})", StatusCode::InvalidArgument, "CRT"},
      {R"({"kty":"EC","crv":"P-256","x":"AQAB","y":"AQAB"})", StatusCode::InvalidArgument,
       "expected 32"},
      {R"({"kty":"EC","crv":"secp256k1","x":"AQAB","y":"AQAB"})", StatusCode::InvalidArgument,
       "crv"},
      {R"({"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"})",
       StatusCode::InvalidArgument, "EC JWK"},
      {R"({"kty":"oct"})", StatusCode::NotFound, "'k'"},
      {R"({"kty":"oct","k":5})", StatusCode::InvalidArgument, "'k'"},
      {R"({"kty":"RSA","n":"AQAB","e":"AQAB","key_ops":"encrypt"})", StatusCode::InvalidArgument,
       "key_ops"},
      {R"({"kty":"RSA","n":"AQAB","e":"AQAB","kid":1})", StatusCode::InvalidArgument, "kid"},
      {R"([1,2])", StatusCode::InvalidArgument, ""},
      {R"({"kty":"RSA")", StatusCode::InvalidArgument, ""},
  };
  for (const auto& c : cases) {
    INFO(c.json);
    StatusOr<Jwk> jwk = Jwk::parse(c.json);
    REQUIRE_FALSE(jwk.ok());
    CHECK(jwk.status().code() == c.code);
    CHECK(jwk.status().message().find(c.message_part) != std::string::npos);
  }
}

TEST_CASE("EC private JWK whose d does not match x and y is rejected") {
  StatusOr<PrivateKey> other = PrivateKey::generateEc(Curve::P256);
  REQUIRE(other.ok());
  StatusOr<SecretBytes> d = other->ecPrivateScalar();
  REQUIRE(d.ok());
  std::string json = testing::kRfc7515A3Jwk;
  const std::string original_d = "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI";
  json.replace(json.find(original_d), original_d.size(), text(encoding::base64UrlEncodeSecret(*d)));
  StatusOr<Jwk> jwk = Jwk::parseSecret(SecretBytes::copyOf(asBytes(json)));
  REQUIRE_FALSE(jwk.ok());
  CHECK(jwk.status().code() == StatusCode::InvalidArgument);
}

TEST_CASE("RSA private JWK with a wrong CRT member is rejected") {
  Jwk jwk = Jwk::fromPrivateKey(*PrivateKey::fromPkcs8Der(rsaKey().toPkcs8Der()));
  StatusOr<SecretBytes> priv = jwk.privateJson(grantSecretAccess());
  REQUIRE(priv.ok());
  std::string json = text(*priv);
  const std::size_t at = json.find("\"qi\":\"") + 6;
  json[at] = json[at] == 'A' ? 'B' : 'A';
  StatusOr<Jwk> back = Jwk::parseSecret(SecretBytes::copyOf(asBytes(json)));
  REQUIRE_FALSE(back.ok());
  CHECK(back.status().code() == StatusCode::InvalidArgument);
}

}  // namespace
}  // namespace skr::jose
