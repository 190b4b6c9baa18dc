// The Azure SKR sidecar compatibility listener through the Router (sidecar_compat.h): the
// sidecar's request fields and response shapes, its status codes, one body per request, the
// caller rules ("attest" and "release" only when named), and the endpoint pinning.
#include "agent/sidecar_compat.h"

#include <catch2/catch.hpp>

#include "agent/router.h"
#include "common/azure/maa_client.h"
#include "common/crypto/digest.h"
#include "common/encoding/base64.h"
#include "common/encoding/hex.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/test_pki.h"
#include "tests/unit/agent/agent_test_util.h"

namespace skr::agent {
namespace {

using namespace skr::agent::testing;  // NOLINT(google-build-using-namespace)

// A platform whose "report" is 1184 bytes starting with REPORT_DATA, so a test can see what was
// asked for; collateral from a test CA; MAA tokens that name the runtime data they were for.
class FakePlatform final : public SidecarPlatform {
 public:
  FakePlatform()
      : ca_(skr::testing::TestCa::create("fake ARK")),
        vek_(ca_.issue(skr::testing::profile("fake VCEK")).certificate) {}
  StatusOr<Bytes> report(const std::array<uint8_t, 64>& report_data) override {
    ++reports;
    if (fail_report) return unavailableError("/dev/sev-guest: ioctl failed (test)");
    Bytes out(1184, 0xAB);
    std::copy(report_data.begin(), report_data.end(), out.begin());
    return out;
  }
  StatusOr<snp::Collateral> collateral(ByteView) override {
    std::vector<crypto::Certificate> chain;
    chain.push_back(ca_.certificate());
    return snp::Collateral{vek_, std::move(chain), "0300000000000873", Bytes{1, 2, 3}, {}, "test"};
  }
  StatusOr<std::string> maaToken(std::string_view runtime_data) override {
    if (fail_maa) return permissionDeniedError("MAA rejected the evidence: HTTP 400 (test)");
    return "eyJ.token-for." + encoding::hexEncode(crypto::sha256(asBytes(runtime_data)));
  }
  std::string pem() const { return vek_.toPem() + ca_.certificate().toPem(); }

  int reports = 0;
  bool fail_report = false;
  bool fail_maa = false;

 private:
  skr::testing::TestCa ca_;
  crypto::Certificate vek_;
};

struct Fixture {
  Fixture() {
    keyring = std::make_shared<Keyring>();
    REQUIRE(keyring->addVersion(versionOf("rsa-kek", "r1", rsaJwk(rsaPrivate2048())), true).ok());
    REQUIRE(keyring->addVersion(versionOf("aes-kek", "v1", octJwk(32)), true).ok());
    REQUIRE(keyring->addVersion(versionOf("aes-kek", "v2", octJwk(32)), true).ok());
    std::vector<AuthRule> rules;
    rules.push_back({"legacy", {1000}, {}, {"attest", "release"}, {"rsa-kek"}, std::nullopt});
    rules.push_back({"star", {1001}, {}, {"*"}, {"*"}, std::nullopt});
    rules.push_back({"attest-only", {1002}, {}, {"attest"}, {"*"}, std::nullopt});
    rules.push_back({"aes", {1003}, {}, {"release"}, {"aes-kek"}, std::nullopt});
    router = std::make_unique<Router>(
        keyring, std::make_shared<const Authorizer>(take(Authorizer::create(std::move(rules)))),
        clock, RouterOptions{});
    platform = std::make_shared<FakePlatform>();
    router->setSidecarCompat(std::make_shared<SidecarCompat>(
        keyring, platform, "https://sharedeus.eus.attest.azure.net"));
    router->setReady(true);
  }
  HttpResponse call(const std::string& method, const std::string& path, std::string_view body,
                    uid_t uid = 1000) {
    HttpRequest r = request(method, path, body, uid, uid);
    r.listener = Listener::Compat;
    return router->handle(r);
  }
  HttpResponse post(const std::string& path, std::string_view body, uid_t uid = 1000) {
    return call("POST", path, body, uid);
  }

  skr::testing::FakeClock clock;
  std::shared_ptr<Keyring> keyring;
  std::shared_ptr<FakePlatform> platform;
  std::unique_ptr<Router> router;
};

std::string member(const HttpResponse& r, std::string_view name) {
  return take(json::getString(bodyJson(r), name));
}

// The error string of a sidecar-shaped failure ({"error": "..."}, and nothing else).
std::string errorOf(const HttpResponse& r) {
  json::ObjectPtr body = bodyJson(r);
  CHECK(body->size() == 1);
  return take(json::getString(body, "error"));
}

const std::string kRuntime = R"({"keys":[{"kty":"RSA","n":"abc","e":"AQAB"}]})";

std::string releaseBody(std::string_view kid, std::string_view akv = "myvault.vault.azure.net",
                        std::string_view maa = "sharedeus.eus.attest.azure.net") {
  return R"({"maa_endpoint":")" + std::string(maa) + R"(","akv_endpoint":")" + std::string(akv) +
         R"(","kid":")" + std::string(kid) + R"(","access_token":""})";
}

TEST_CASE("sidecar GET /status says Status OK once ready and needs no rule") {
  Fixture f;
  HttpResponse r = f.call("GET", "/status", {}, 4242);
  REQUIRE(r.status == 200);
  CHECK(bodyText(r) == R"({"message":"Status OK"})");
  f.router->setReady(false);
  r = f.call("GET", "/status", {}, 4242);
  REQUIRE(r.status == 200);
  CHECK(bodyText(r) == R"({"message":"Status NOT OK"})");
}

TEST_CASE("sidecar POST /attest/raw answers the hex report over SHA-256 of runtime_data") {
  Fixture f;
  HttpResponse r = f.post(
      "/attest/raw", R"({"runtime_data":")" + encoding::base64Encode(asBytes(kRuntime)) + R"("})");
  REQUIRE(r.status == 200);
  const std::string report = member(r, "report");
  REQUIRE(report.size() == 2 * 1184);
  CHECK(report.substr(0, 64) == encoding::hexEncode(crypto::sha256(asBytes(kRuntime))));
  CHECK(report.substr(64, 64) == std::string(64, '0'));
  CHECK(report.substr(128, 4) == "abab");
}

TEST_CASE(
    "sidecar POST /attest/combined answers the sidecar's CombinedAttestationData at the top "
    "level") {
  Fixture f;
  HttpResponse r =
      f.post("/attest/combined",
             R"({"runtime_data":")" + encoding::base64Encode(asBytes(kRuntime)) + R"("})");
  REQUIRE(r.status == 200);
  // As a sidecar client reads it: evidence and the rest are members of the answer itself.
  json::ObjectPtr combined = bodyJson(r);
  CHECK(combined->size() == 4);
  CHECK_FALSE(combined->has("combined_report"));
  CHECK(take(json::getString(combined, "endorsed_tcb")) == "0300000000000873");
  CHECK(take(encoding::base64Decode(take(json::getString(combined, "endorsements")))) ==
        toBytes(f.platform->pem()));
  const Bytes evidence = take(encoding::base64Decode(take(json::getString(combined, "evidence"))));
  REQUIRE(evidence.size() == 1184);
  CHECK(Bytes(evidence.begin(), evidence.begin() + 32) == crypto::sha256(asBytes(kRuntime)));
  CHECK(take(json::getString(combined, "uvm_endorsements")) == "AQID");
}

TEST_CASE("sidecar POST /attest/maa returns the platform's token for the runtime data") {
  Fixture f;
  const std::string body = R"({"maa_endpoint":"sharedeus.eus.attest.azure.net","runtime_data":")" +
                           encoding::base64Encode(asBytes(kRuntime)) + R"("})";
  HttpResponse r = f.post("/attest/maa", body);
  REQUIRE(r.status == 200);
  CHECK(member(r, "token") ==
        "eyJ.token-for." + encoding::hexEncode(crypto::sha256(asBytes(kRuntime))));

  SECTION("another MAA instance is refused before anything is attested") {
    r = f.post("/attest/maa", R"({"maa_endpoint":"evil.example","runtime_data":"e30="})");
    CHECK(r.status == 403);
    CHECK(errorOf(r).find("not the configured MAA instance 'sharedeus.eus.attest.azure.net'") !=
          std::string::npos);
  }
  SECTION("an MAA failure is 403 with the reason, in one body") {
    f.platform->fail_maa = true;
    r = f.post("/attest/maa", body);
    CHECK(r.status == 403);
    CHECK(errorOf(r).find("MAA rejected the evidence") != std::string::npos);
  }
}

TEST_CASE("sidecar /attest/raw failures: 400 for malformed requests, 403 when the device fails") {
  Fixture f;
  HttpResponse r = f.post("/attest/raw", "{not json");
  CHECK(r.status == 400);
  CHECK(errorOf(r).find("invalid request format") != std::string::npos);
  r = f.post("/attest/raw", R"({"runtime":"e30="})");
  CHECK(r.status == 400);
  CHECK(errorOf(r).find("'runtime_data' is required") != std::string::npos);
  r = f.post("/attest/raw", R"({"runtime_data":"***"})");
  CHECK(r.status == 400);
  CHECK(errorOf(r).find("decoding base64-encoded runtime data") != std::string::npos);
  CHECK(f.platform->reports == 0);
  f.platform->fail_report = true;
  r = f.post("/attest/raw", R"({"runtime_data":"e30="})");
  CHECK(r.status == 403);
  CHECK(errorOf(r).find("ioctl failed") != std::string::npos);
  r = f.post("/attest/combined", R"({"runtime_data":"e30="})");
  CHECK(r.status == 500);
}

TEST_CASE("sidecar POST /key/release returns the private JWK as a JSON string in key") {
  Fixture f;
  HttpResponse r = f.post("/key/release", releaseBody("rsa-kek"));
  REQUIRE(r.status == 200);
  json::ObjectPtr jwk = take(json::parseObject(member(r, "key")));
  CHECK(take(json::getString(jwk, "kty")) == "RSA");
  CHECK(jwk->has("d"));
  CHECK(jwk->has("p"));
  const crypto::RsaPublicComponents expected = rsaPrivate2048().publicKey().rsaComponents().value();
  CHECK(take(encoding::base64UrlDecode(take(json::getString(jwk, "n")))) == expected.n);

  SECTION("scheme and trailing slash on the endpoints are accepted") {
    r = f.post("/key/release", releaseBody("rsa-kek/r1", "https://MyVault.vault.azure.net/",
                                           "https://sharedeus.eus.attest.azure.net/"));
    CHECK(r.status == 200);
  }
  SECTION("an oct key comes back with k") {
    r = f.post("/key/release", releaseBody("aes-kek/v1"), 1003);
    REQUIRE(r.status == 200);
    json::ObjectPtr oct = take(json::parseObject(member(r, "key")));
    CHECK(take(json::getString(oct, "kty")) == "oct");
    CHECK(take(encoding::base64UrlDecode(take(json::getString(oct, "k")))).size() == 32);
  }
}

TEST_CASE("sidecar POST /key/release failures are 403 with the reason, 400 when malformed") {
  Fixture f;
  HttpResponse r = f.post("/key/release", releaseBody("rsa-kek", "other.vault.example"));
  CHECK(r.status == 403);
  CHECK(errorOf(r).find("is not the vault of key 'rsa-kek' ('myvault.vault.azure.net')") !=
        std::string::npos);
  r = f.post("/key/release", releaseBody("rsa-kek", "myvault.vault.azure.net", "other.attest.net"));
  CHECK(r.status == 403);
  CHECK(errorOf(r).find("not the configured MAA instance") != std::string::npos);
  r = f.post("/key/release", releaseBody("rsa-kek/nope"));
  CHECK(r.status == 403);
  CHECK(errorOf(r).find("version 'nope' of key 'rsa-kek' not found") != std::string::npos);
  r = f.post("/key/release", R"({"maa_endpoint":"m","akv_endpoint":"a"})");
  CHECK(r.status == 400);
  CHECK(errorOf(r).find("'kid' is required") != std::string::npos);
  r = f.post("/key/release",
             R"({"maa_endpoint":"m","akv_endpoint":"a","kid":"k","access_token":5})");
  CHECK(r.status == 400);
  // A release request outside the rule is refused whatever the key.
  r = f.post("/key/release", releaseBody("aes-kek"));
  CHECK(r.status == 403);
  CHECK(errorOf(r).find("not granted operation 'release'") != std::string::npos);
}

TEST_CASE("sidecar routes need attest or release named: \"*\" does not grant them") {
  Fixture f;
  CHECK(f.post("/attest/raw", R"({"runtime_data":"e30="})", 1001).status == 403);
  CHECK(f.post("/key/release", releaseBody("rsa-kek"), 1001).status == 403);
  CHECK(f.post("/attest/raw", R"({"runtime_data":"e30="})", 1002).status == 200);
  CHECK(f.post("/key/release", releaseBody("rsa-kek"), 1002).status == 403);
  // An unknown uid is refused before the body is looked at; no header is 401.
  CHECK(f.post("/attest/raw", R"({"runtime_data":"e30="})", 999).status == 403);
  HttpRequest r = request("POST", "/attest/raw", R"({"runtime_data":"e30="})", 1000, 1000);
  r.headers.clear();
  r.listener = Listener::Compat;
  HttpResponse answer = f.router->handle(r);
  CHECK(answer.status == 401);
  CHECK(errorOf(answer).find("X-SKR-Request") != std::string::npos);
  CHECK(f.platform->reports == 1);
}

TEST_CASE(
    "require_request_header false lets unchanged sidecar clients in on the compat listener only, "
    "with every other check kept") {
  Fixture f;
  f.router->setSidecarCompat(std::make_shared<SidecarCompat>(
                                 f.keyring, f.platform, "https://sharedeus.eus.attest.azure.net"),
                             /*require_request_header=*/false);
  auto headerless = [&](const std::string& path, std::string_view body, uid_t uid,
                        Listener listener) {
    HttpRequest r = request("POST", path, body, uid, uid);
    r.headers.clear();
    r.listener = listener;
    return f.router->handle(r);
  };
  HttpResponse released =
      headerless("/key/release", releaseBody("rsa-kek"), 1000, Listener::Compat);
  CHECK(released.status == 200);
  CHECK(headerless("/key/release", releaseBody("rsa-kek"), 999, Listener::Compat).status == 403);
  CHECK(headerless("/key/release", releaseBody("aes-kek"), 1000, Listener::Compat).status == 403);
  // The skr socket still wants the header.
  HttpRequest skr = request("GET", "/keys", {}, 1001, 1001);
  skr.headers.clear();
  CHECK(f.router->handle(skr).status == 401);
}

TEST_CASE("sidecar listener: other paths are 404, wrong methods 405, and skr routes are absent") {
  Fixture f;
  HttpResponse r = f.call("GET", "/keys", {});
  CHECK(r.status == 404);
  CHECK(errorOf(r).find("Azure SKR sidecar listener") != std::string::npos);
  r = f.call("GET", "/key/release", {});
  CHECK(r.status == 405);
  // ... and the sidecar routes are not on the client socket.
  CHECK(f.router->handle(request("POST", "/key/release", releaseBody("rsa-kek"))).status == 404);
}

TEST_CASE("the compat listener without SidecarCompat answers 404") {
  skr::testing::FakeClock clock;
  auto keyring = std::make_shared<Keyring>();
  Router router(keyring, std::make_shared<const Authorizer>(take(Authorizer::create({}))), clock,
                RouterOptions{});
  HttpRequest r = request("GET", "/status");
  r.listener = Listener::Compat;
  CHECK(router.handle(r).status == 404);
}

}  // namespace
}  // namespace skr::agent
