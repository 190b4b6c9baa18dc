// skrctl token show / token verify --jwks / policy check on tokens signed in the test, and the
// helpers they share (ctl/jwt_text.h): decoding, shortening, JWKS keys, refused algorithms.
// Hermetic: temp files only; every verification passes --at, so no real clock decides a result.
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/azure/release_policy.h"
#include "common/crypto/pkey.h"
#include "common/encoding/base64.h"
#include "common/jose/jwk.h"
#include "common/jose/jws.h"
#include "ctl/cli.h"
#include "ctl/jwt_text.h"

namespace skr::ctl {
namespace {

namespace fs = std::filesystem;

// 2026-01-01T00:00:00Z, and the token lifetime around it.
constexpr int64_t kIat = 1767225600;
constexpr int64_t kExp = kIat + 8 * 3600;
const std::string kAtValid = "2026-01-01T01:00:00Z";
const std::string kAtExpired = "2026-01-02T00:00:00Z";
const std::string kHostData = "532eaabd9574880dbf76b9b8cc00832c20a6ec113d682299550d7a6e0f345e25";

const crypto::PrivateKey& rsaKey() {
  static const crypto::PrivateKey key = *crypto::PrivateKey::generateRsa(2048);
  return key;
}
const crypto::PrivateKey& ecKey() {
  static const crypto::PrivateKey key = *crypto::PrivateKey::generateEc(crypto::Curve::P256);
  return key;
}

struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/skr-ctl-unit-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string write(const std::string& name, const std::string& data) const {
    const std::string p = path + "/" + name;
    std::ofstream(p, std::ios::binary) << data;
    return p;
  }
  std::string path;
};

struct Run {
  int code = -1;
  std::string out;
  std::string err;
};

Run skrctl(const std::vector<std::string>& args) {
  std::ostringstream out;
  std::ostringstream err;
  std::istringstream in;
  Io io{out, err, in};
  Run r;
  r.code = runSkrctl(args, io);
  r.out = out.str();
  r.err = err.str();
  return r;
}

json::ObjectPtr maaClaims(const std::string& hostdata = kHostData) {
  json::ObjectPtr claims = new Poco::JSON::Object;
  claims->set("iss", "https://maa.example");
  claims->set("iat", kIat);
  claims->set("nbf", kIat);
  claims->set("exp", kExp);
  claims->set("x-ms-attestation-type", "sevsnpvm");
  claims->set("x-ms-compliance-status", "azure-compliant-uvm");
  claims->set("x-ms-sevsnpvm-hostdata", hostdata);
  claims->set("x-ms-sevsnpvm-is-debuggable", false);
  claims->set("x-ms-sevsnpvm-vmpl", 0);
  json::ObjectPtr runtime = new Poco::JSON::Object;
  Poco::JSON::Array::Ptr keys = new Poco::JSON::Array;
  json::ObjectPtr key = new Poco::JSON::Object;
  key->set("kty", "RSA");
  key->set("e", "AQAB");
  key->set("n", std::string(342, 'n'));
  keys->add(key);
  runtime->set("keys", keys);
  claims->set("x-ms-runtime", runtime);
  return claims;
}

std::string sign(const crypto::PrivateKey& key, jose::JwsAlgorithm alg,
                 const json::ObjectPtr& claims, const std::string& kid = "k1") {
  json::ObjectPtr header = new Poco::JSON::Object;
  if (!kid.empty()) header->set("kid", kid);
  header->set("typ", "JWT");
  StatusOr<std::string> compact =
      jose::signJws(key, alg, asBytes(json::serializeCanonical(claims).value()), header);
  REQUIRE(compact.ok());
  return *compact;
}

std::string jwks(const crypto::PrivateKey& key, const std::string& kid = "k1") {
  jose::Jwk jwk = jose::Jwk::fromPublicKey(key.publicKey());
  jwk.setKid(kid);
  return "{\"keys\":[" + json::serializeCanonical(jwk.publicJson().value()).value() + "]}";
}

std::string b64u(const std::string& text) {
  return encoding::base64UrlEncode(asBytes(text));
}

TEST_CASE("shortenForDisplay keeps 128 characters and shortens longer values with their length") {
  CHECK(shortenForDisplay(std::string(128, 'a')) == std::string(128, 'a'));
  CHECK(shortenForDisplay(std::string(342, 'n')) ==
        std::string(24, 'n') + "\xE2\x80\xA6(342 chars)");
  CHECK(shortenForDisplay(std::string("a\x01\nb")) == "a??b");
}

TEST_CASE("decodeUnverifiedJwt accepts the compact form, MAA's and AKV's JSON answers") {
  const std::string compact = sign(rsaKey(), jose::JwsAlgorithm::RS256, maaClaims());
  for (const std::string& text :
       {compact + "\n", "{\"token\":\"" + compact + "\"}", "{\"value\":\"" + compact + "\"}"}) {
    StatusOr<UnverifiedJwt> jwt = decodeUnverifiedJwt(text);
    REQUIRE(jwt.ok());
    CHECK(jwt->compact == compact);
    CHECK(json::getString(jwt->claims, "x-ms-sevsnpvm-hostdata").value() == kHostData);
    CHECK(json::getString(jwt->header, "alg").value() == "RS256");
  }
}

TEST_CASE("decodeUnverifiedJwt names the part that does not decode") {
  CHECK_THAT(decodeUnverifiedJwt("").status().message(), Catch::Contains("empty"));
  CHECK_THAT(decodeUnverifiedJwt("a.b").status().message(), Catch::Contains("three"));
  CHECK_THAT(decodeUnverifiedJwt("a.b.c.d.e").status().message(), Catch::Contains("three"));
  CHECK_THAT(decodeUnverifiedJwt("!!.e30.").status().message(), Catch::Contains("header"));
  CHECK_THAT(decodeUnverifiedJwt(b64u("{}") + "." + b64u("[1]") + ".").status().message(),
             Catch::Contains("payload"));
  CHECK_THAT(decodeUnverifiedJwt("{\"other\":1}").status().message(), Catch::Contains("'token'"));
  CHECK_THAT(decodeUnverifiedJwt("{\"token\":").status().message(), Catch::Contains("JSON"));
}

TEST_CASE("refusedAlgorithmReason refuses none and HMAC and nothing else") {
  CHECK_THAT(refusedAlgorithmReason("none"), Catch::Contains("unsigned"));
  CHECK_THAT(refusedAlgorithmReason("NONE"), Catch::Contains("unsigned"));
  CHECK_THAT(refusedAlgorithmReason(""), Catch::Contains("unsigned"));
  CHECK_THAT(refusedAlgorithmReason("HS256"), Catch::Contains("HMAC"));
  CHECK(refusedAlgorithmReason("RS256").empty());
  CHECK(refusedAlgorithmReason("ES384").empty());
}

TEST_CASE("parseJwksKeys reads RSA n/e, EC x/y, x5c and a single JWK, and skips unusable keys") {
  auto keys = parseJwksKeys(jwks(rsaKey()));
  REQUIRE(keys.ok());
  REQUIRE(keys->size() == 1);
  CHECK((*keys)[0].first == "k1");
  CHECK((*keys)[0].second.equals(rsaKey().publicKey()));
  jose::Jwk ec = jose::Jwk::fromPublicKey(ecKey().publicKey());
  auto single = parseJwksKeys(json::serializeCanonical(ec.publicJson().value()).value());
  REQUIRE(single.ok());
  CHECK((*single)[0].first.empty());
  CHECK((*single)[0].second.equals(ecKey().publicKey()));
  auto mixed = parseJwksKeys(R"({"keys":[{"kty":"oct","k":"AAAA"},{"kid":"x","x5c":["!!"]},7]})");
  CHECK_FALSE(mixed.ok());
  CHECK_THAT(mixed.status().message(), Catch::Contains("no usable key"));
  CHECK_FALSE(parseJwksKeys("not json").ok());
}

TEST_CASE("jsonToText indents, sorts, shortens long strings and dates exp") {
  const std::string text = jsonToText(maaClaims(), 1);
  CHECK_THAT(text, Catch::Contains("  exp: " + std::to_string(kExp) + " (2026-01-01T08:00:00Z)\n"));
  CHECK_THAT(text, Catch::Contains("  x-ms-runtime:\n    keys:\n      [0]:\n        e: AQAB\n"));
  CHECK_THAT(text,
             Catch::Contains("        n: " + std::string(24, 'n') + "\xE2\x80\xA6(342 chars)\n"));
  CHECK_THAT(text, Catch::Contains("  x-ms-sevsnpvm-hostdata: " + kHostData + "\n"));
  CHECK_THAT(text, Catch::Contains("  x-ms-sevsnpvm-is-debuggable: false\n"));
}

TEST_CASE("skrctl token show prints header and claims unverified, --json the full claims") {
  TempDir dir;
  const std::string token =
      dir.write("t.jwt", sign(rsaKey(), jose::JwsAlgorithm::RS256, maaClaims()));
  Run text = skrctl({"token", "show", token});
  CHECK(text.code == 0);
  CHECK(text.out.rfind("NOT VERIFIED", 0) == 0);
  CHECK_THAT(text.out, Catch::Contains("header:\n  alg: RS256\n  kid: k1\n"));
  CHECK_THAT(text.out, Catch::Contains("(342 chars)"));
  Run json_out = skrctl({"token", "show", token, "--json"});
  CHECK(json_out.code == 0);
  CHECK_THAT(json_out.out, Catch::Contains(std::string(342, 'n')));
  CHECK(json_out.out == json::serializeCanonical(maaClaims()).value() + "\n");
  // alg none decodes too: show never verifies.
  const std::string none =
      dir.write("none.jwt", b64u(R"({"alg":"none"})") + "." + b64u(R"({"a":1})") + ".");
  CHECK(skrctl({"token", "show", none}).code == 0);
  CHECK(skrctl({"token", "show", dir.write("bad", "x.y")}).code == kExitUsage);
  CHECK(skrctl({"token", "show", dir.path + "/missing"}).code == kExitUsage);
  CHECK(skrctl({"token", "show"}).code == kExitUsage);
}

TEST_CASE("skrctl token verify --jwks accepts RS256, PS384 and ES256 tokens at a pinned time") {
  TempDir dir;
  const std::string rsa_jwks = dir.write("rsa.json", jwks(rsaKey()));
  for (jose::JwsAlgorithm alg : {jose::JwsAlgorithm::RS256, jose::JwsAlgorithm::PS384}) {
    const std::string token = dir.write("t.jwt", sign(rsaKey(), alg, maaClaims()));
    Run r = skrctl({"token", "verify", token, "--jwks", rsa_jwks, "--at", kAtValid});
    INFO(r.err);
    CHECK(r.code == 0);
    CHECK(r.out.rfind("valid: " + std::string(jose::jwsAlgorithmName(alg)), 0) == 0);
    CHECK_THAT(r.out, Catch::Contains("x-ms-sevsnpvm-hostdata: " + kHostData));
  }
  const std::string ec = dir.write("ec.jwt", sign(ecKey(), jose::JwsAlgorithm::ES256, maaClaims()));
  CHECK(skrctl({"token", "verify", ec, "--jwks", dir.write("ec.json", jwks(ecKey())), "--at",
                kAtValid})
            .code == 0);
}

TEST_CASE(
    "skrctl token verify --jwks exits 9 for a bad signature, unknown kid, expiry, none, HS256") {
  TempDir dir;
  const std::string keys = dir.write("rsa.json", jwks(rsaKey()));
  const std::string good = sign(rsaKey(), jose::JwsAlgorithm::RS256, maaClaims());
  auto verify = [&](const std::string& compact, const std::string& at = kAtValid) {
    return skrctl({"token", "verify", dir.write("t.jwt", compact), "--jwks", keys, "--at", at});
  };
  std::string tampered = good;
  tampered[tampered.size() - 5] = tampered[tampered.size() - 5] == 'A' ? 'B' : 'A';
  Run sig = verify(tampered);
  CHECK(sig.code == kExitIntegrity);
  CHECK_THAT(sig.err, Catch::Contains("signature"));
  Run other_key =
      verify(sign(*crypto::PrivateKey::generateRsa(2048), jose::JwsAlgorithm::RS256, maaClaims()));
  CHECK(other_key.code == kExitIntegrity);
  Run kid = verify(sign(rsaKey(), jose::JwsAlgorithm::RS256, maaClaims(), "k2"));
  CHECK(kid.code == kExitIntegrity);
  CHECK_THAT(kid.err, Catch::Contains("'k2' is not among"));
  Run expired = verify(good, kAtExpired);
  CHECK(expired.code == kExitIntegrity);
  CHECK_THAT(expired.err, Catch::Contains("expired"));
  Run none = verify(b64u(R"({"alg":"none"})") + "." + b64u(R"({"a":1})") + ".");
  CHECK(none.code == kExitIntegrity);
  CHECK_THAT(none.err, Catch::Contains("alg 'none' is refused"));
  Run hs = verify(b64u(R"({"alg":"HS256","kid":"k1"})") + "." + b64u(R"({"a":1})") + ".c2ln");
  CHECK(hs.code == kExitIntegrity);
  CHECK_THAT(hs.err, Catch::Contains("HMAC"));
}

TEST_CASE("skrctl token verify refuses bad usage with exit 2") {
  TempDir dir;
  const std::string token =
      dir.write("t.jwt", sign(rsaKey(), jose::JwsAlgorithm::RS256, maaClaims()));
  const std::string keys = dir.write("rsa.json", jwks(rsaKey()));
  CHECK(skrctl({"token", "verify", token}).code == kExitUsage);
  CHECK(skrctl({"token", "verify", token, "--jwks", keys, "--issuer", "https://a"}).code ==
        kExitUsage);
  CHECK(skrctl({"token", "verify", token, "--jwks", keys, "--at", "yesterday"}).code == kExitUsage);
  CHECK(skrctl({"token", "verify", token, "--jwks", dir.write("k", "{}")}).code == kExitUsage);
  CHECK(skrctl({"token", "verify", dir.write("x", "nope"), "--jwks", keys}).code == kExitUsage);
  CHECK(skrctl({"token", "verify", token, "--issuer", "ftp://x"}).code == kExitUsage);
}

TEST_CASE("skrctl policy check allows, and denies naming the path, claim and both values") {
  TempDir dir;
  const std::string policy_json =
      R"({"version":"1.0.0","anyOf":[{"authority":"https://maa.example","allOf":[)"
      R"({"claim":"x-ms-sevsnpvm-hostdata","equals":")" +
      kHostData + R"("},{"claim":"x-ms-sevsnpvm-vmpl","equals":0}]}]})";
  const std::string plain = dir.write("policy.json", policy_json);
  const std::string wire =
      dir.write("wire.json", R"({"contentType":"application/json; charset=utf-8","data":")" +
                                 azure::toWireBase64Url(policy_json) + "\"}");
  const std::string wrapped =
      dir.write("bundle.json",
                R"({"release_policy":{"data":")" + azure::toWireBase64Url(policy_json) + "\"}}");
  const std::string good =
      dir.write("good.jwt", sign(rsaKey(), jose::JwsAlgorithm::RS256, maaClaims()));
  for (const std::string& policy : {plain, wire, wrapped}) {
    Run r = skrctl({"policy", "check", policy, good});
    INFO(r.out << r.err);
    CHECK(r.code == 0);
    CHECK(r.out.rfind("allowed: ", 0) == 0);
    CHECK_THAT(r.out, Catch::Contains("without verifying"));
  }
  const std::string other(64, '0');
  const std::string bad =
      dir.write("bad.jwt", sign(rsaKey(), jose::JwsAlgorithm::RS256, maaClaims(other)));
  Run denied = skrctl({"policy", "check", plain, bad});
  CHECK(denied.code == kExitReleaseDenied);
  CHECK(denied.out.rfind("denied: ", 0) == 0);
  CHECK_THAT(denied.out, Catch::Contains("x-ms-sevsnpvm-hostdata"));
  CHECK_THAT(denied.out, Catch::Contains("anyOf[0].allOf[0]"));
  // The full token values of the claims the policy names follow the shortened reason.
  CHECK_THAT(denied.out, Catch::Contains("token claims the policy names:\n"
                                         "  x-ms-sevsnpvm-hostdata: " +
                                         other + "\n  x-ms-sevsnpvm-vmpl: 0\n"));
  // A nested claim and an absent one are shown too.
  const std::string nested = dir.write(
      "nested.json",
      R"({"version":"1.0.0","anyOf":[{"authority":"https://maa.example","allOf":[)"
      R"({"claim":"x-ms-runtime.keys","exists":true},{"claim":"x-ms-nothing","equals":"x"}]}]})");
  Run absent = skrctl({"policy", "check", nested, good});
  CHECK(absent.code == kExitReleaseDenied);
  CHECK_THAT(absent.out, Catch::Contains("  x-ms-runtime.keys: [{"));
  CHECK_THAT(absent.out, Catch::Contains("  x-ms-nothing: (absent)\n"));
  CHECK(skrctl({"policy", "check", plain}).code == kExitUsage);
  CHECK(skrctl({"policy", "check", dir.write("p", R"({"anyOf":[]})"), good}).code == kExitUsage);
  CHECK(skrctl({"policy", "check", plain, dir.write("t", "x")}).code == kExitUsage);
}

TEST_CASE("every new skrctl command has --help naming its exit codes") {
  for (const std::vector<std::string>& path : {std::vector<std::string>{"token", "show"},
                                               {"token", "verify"},
                                               {"jws", "verify"},
                                               {"policy", "check"}}) {
    std::vector<std::string> args = path;
    args.push_back("--help");
    Run r = skrctl(args);
    CHECK(r.code == 0);
    CHECK_THAT(r.out, Catch::Contains("Exit codes"));
  }
}

}  // namespace
}  // namespace skr::ctl
