#include "agent/router.h"

#include <catch2/catch.hpp>
#include <mutex>

#include "common/crypto/digest.h"
#include "common/crypto/rsa_oaep.h"
#include "common/log/logger.h"
#include "tests/fakes/fake_clock.h"
#include "tests/unit/agent/agent_test_util.h"

namespace skr::agent {
namespace {

using namespace skr::agent::testing;  // NOLINT(google-build-using-namespace)

constexpr std::string_view kKek256 =
    "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F";
constexpr std::string_view kKeyData256 =
    "00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F";
constexpr std::string_view kWrapped46 =
    "28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21";

// Captures log lines for the lifetime of the object.
class LogCapture {
 public:
  LogCapture() {
    previous_ = log::setSink([this](log::Level, std::string_view line) {
      std::lock_guard lock(mutex_);
      lines_.emplace_back(line);
    });
  }
  ~LogCapture() { log::setSink(previous_); }
  std::vector<std::string> lines() const {
    std::lock_guard lock(mutex_);
    return lines_;
  }
  json::ObjectPtr lastRequestLine() const {
    const std::vector<std::string> all = lines();
    for (auto it = all.rbegin(); it != all.rend(); ++it) {
      if (it->find("\"event\":\"request\"") != std::string::npos)
        return take(json::parseObject(*it));
    }
    FAIL("no request line was logged");
    return nullptr;
  }

 private:
  log::Sink previous_;
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;
};

struct Fixture {
  Fixture() {
    keyring = std::make_shared<Keyring>();
    REQUIRE(keyring
                ->addVersion(versionOf("rsa-kek", "r1", rsaJwk(rsaPrivate2048()),
                                       {"wrapKey", "unwrapKey", "encrypt", "decrypt"}),
                             true)
                .ok());
    REQUIRE(keyring->addVersion(versionOf("aes-kek", "v1", octJwk(kKek256)), true).ok());
    REQUIRE(keyring->addVersion(versionOf("aes-kek", "v2", octJwk(32)), true).ok());
    REQUIRE(keyring
                ->addVersion(versionOf("kek128", "k1", octJwk("000102030405060708090A0B0C0D0E0F")),
                             true)
                .ok());
    REQUIRE(keyring->addVersion(versionOf("gcm-key", "g1", octJwk(32)), true).ok());
    REQUIRE(keyring->addVersion(versionOf("wrap-only", "w1", octJwk(32), {"wrapKey"}), true).ok());
    std::vector<AuthRule> rules;
    rules.push_back({"app", {1000}, {}, {"*"}, {"*"}, std::nullopt});
    rules.push_back({"narrow", {1001}, {}, {"unwrap", "keys"}, {"aes-kek"}, std::nullopt});
    rules.push_back({"tokened",
                     {},
                     {2000},
                     {"*"},
                     {"*"},
                     encoding::hexEncode(crypto::sha256(asBytes("the-token")))});
    rules.push_back({"operator", {0}, {}, {"admin"}, {"*"}, std::nullopt});
    authorizer = std::make_shared<const Authorizer>(take(Authorizer::create(std::move(rules))));
    router = std::make_unique<Router>(keyring, authorizer, clock, RouterOptions{});
    router->setReady(true);
  }

  HttpResponse post(const std::string& path, std::string_view body, uid_t uid = 1000) {
    return router->handle(request("POST", path, body, uid, uid));
  }
  HttpResponse get(const std::string& path, uid_t uid = 1000) {
    return router->handle(request("GET", path, {}, uid, uid));
  }
  HttpResponse admin(const std::string& method, const std::string& path,
                     std::string_view body = {}) {
    HttpRequest r = request(method, path, body, 0, 0);
    r.listener = Listener::Admin;
    return router->handle(r);
  }

  skr::testing::FakeClock clock;
  std::shared_ptr<Keyring> keyring;
  std::shared_ptr<const Authorizer> authorizer;
  std::unique_ptr<Router> router;
};

std::string member(const HttpResponse& r, std::string_view name) {
  return take(json::getString(bodyJson(r), name));
}

TEST_CASE("unwrapkey and wrapkey with A256KW reproduce RFC 3394 section 4.6") {
  Fixture f;
  HttpResponse r = f.post("/keys/aes-kek/v1/unwrapkey",
                          R"({"alg":"A256KW","value":")" + b64Hex(kWrapped46) + R"("})");
  REQUIRE(r.status == 200);
  CHECK(member(r, "kid") == kidOf("aes-kek", "v1"));
  CHECK(member(r, "value") == b64Hex(kKeyData256));

  r = f.post("/keys/aes-kek/v1/wrapkey",
             R"({"alg":"A256KW","value":")" + b64Hex(kKeyData256) + R"("})");
  REQUIRE(r.status == 200);
  CHECK(member(r, "value") == b64Hex(kWrapped46));
}

TEST_CASE("A128KW through the router reproduces RFC 3394 section 4.1") {
  Fixture f;
  HttpResponse r = f.post("/keys/kek128/unwrapkey",
                          R"({"alg":"A128KW","value":")" +
                              b64Hex("1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5") + R"("})");
  REQUIRE(r.status == 200);
  CHECK(member(r, "value") == b64Hex("00112233445566778899AABBCCDDEEFF"));
  CHECK(member(r, "kid") == kidOf("kek128", "k1"));
}

TEST_CASE("without a version the primary is used and named in kid") {
  Fixture f;
  HttpResponse r = f.post("/keys/aes-kek/wrapkey",
                          R"({"alg":"A256KWPAD","value":")" + b64Hex("0102030405") + R"("})");
  REQUIRE(r.status == 200);
  CHECK(member(r, "kid") == kidOf("aes-kek", "v2"));
  r = f.post("/keys/aes-kek/v2/unwrapkey",
             R"({"alg":"A256KWPAD","value":")" + member(r, "value") + R"("})");
  REQUIRE(r.status == 200);
  CHECK(member(r, "value") == b64Hex("0102030405"));
}

TEST_CASE("a DEK wrapped outside with the public key from GET /keys unwraps to the same bytes") {
  Fixture f;
  HttpResponse got = f.get("/keys/rsa-kek");
  REQUIRE(got.status == 200);
  json::ObjectPtr key_json = take(json::getObject(bodyJson(got), "key"));
  const jose::Jwk pub = take(jose::Jwk::fromJson(key_json));
  CHECK_FALSE(pub.hasPrivate());
  CHECK(pub.kid() == kidOf("rsa-kek", "r1"));
  const Bytes dek = crypto::randomBytes(32);
  const Bytes wrapped =
      take(crypto::rsaOaepEncrypt(*take(pub.publicKey()), crypto::HashAlg::Sha256, dek));
  HttpResponse r = f.post("/keys/rsa-kek/unwrapkey",
                          R"({"alg":"RSA-OAEP-256","value":")" + b64(wrapped) + R"("})");
  REQUIRE(r.status == 200);
  CHECK(member(r, "value") == b64(dek));
}

TEST_CASE("quick() takes symmetric key operations with small bodies and health, nothing slow") {
  Fixture f;
  auto quick = [&](const std::string& method, const std::string& path, std::size_t body_bytes = 64,
                   Listener listener = Listener::Client) {
    HttpRequest r = request(method, path, std::string(body_bytes, 'x'), 1000, 1000);
    r.listener = listener;
    return f.router->quick(r);
  };
  // AES key wrap and GCM: microseconds on the event-loop thread.
  CHECK(quick("POST", "/keys/aes-kek/unwrapkey"));
  CHECK(quick("POST", "/keys/aes-kek/v1/wrapkey"));
  CHECK(quick("POST", "/keys/gcm-key/decrypt"));
  CHECK(quick("POST", "/keys/gcm-key/encrypt", Router::kQuickBodyBytes));
  CHECK(quick("GET", "/healthz", 0));
  CHECK(quick("GET", "/readyz", 0, Listener::Admin));
  // RSA (milliseconds), a larger body, batches, rewrap, unknown keys, versions and routes, wrong
  // methods and the other sockets go to the workers.
  CHECK_FALSE(quick("POST", "/keys/rsa-kek/unwrapkey"));
  CHECK_FALSE(quick("POST", "/keys/gcm-key/encrypt", Router::kQuickBodyBytes + 1));
  CHECK_FALSE(quick("POST", "/keys/aes-kek/unwrapkey/batch"));
  CHECK_FALSE(quick("POST", "/keys/aes-kek/rewrap"));
  CHECK_FALSE(quick("POST", "/keys/nope/unwrapkey"));
  CHECK_FALSE(quick("POST", "/keys/aes-kek/v9/unwrapkey"));
  CHECK_FALSE(quick("POST", "/nowhere"));
  CHECK_FALSE(quick("GET", "/keys/aes-kek/unwrapkey", 0));
  CHECK_FALSE(quick("GET", "/keys", 0));
  CHECK_FALSE(quick("POST", "/keys/aes-kek/unwrapkey", 64, Listener::Admin));
  CHECK_FALSE(quick("POST", "/keys/aes-kek/unwrapkey", 64, Listener::Compat));
}

TEST_CASE("GET /keys and GET /keys/{name} never return private members") {
  Fixture f;
  for (const std::string& path :
       {std::string("/keys/rsa-kek"), std::string("/keys/rsa-kek/r1"), std::string("/keys/aes-kek"),
        std::string("/keys/aes-kek/v1"), std::string("/keys")}) {
    HttpResponse r = f.get(path);
    INFO(path);
    REQUIRE(r.status == 200);
    const std::string text = bodyText(r);
    for (const char* m : {"\"d\"", "\"p\"", "\"q\"", "\"dp\"", "\"dq\"", "\"qi\"", "\"k\""}) {
      CHECK(text.find(m) == std::string::npos);
    }
  }
  json::ObjectPtr oct = take(json::getObject(bodyJson(f.get("/keys/aes-kek/v1")), "key"));
  CHECK(take(json::getString(oct, "kty")) == "oct");
  CHECK(take(json::getString(oct, "kid")) == kidOf("aes-kek", "v1"));
}

TEST_CASE("GET /keys lists versions, primary and state of the keys the caller may see") {
  Fixture f;
  json::ArrayPtr all = take(json::getArray(bodyJson(f.get("/keys")), "value"));
  CHECK(all->size() == 5);
  json::ArrayPtr narrow = take(json::getArray(bodyJson(f.get("/keys", 1001)), "value"));
  REQUIRE(narrow->size() == 1);
  json::ObjectPtr item = narrow->getObject(0);
  CHECK(take(json::getString(item, "name")) == "aes-kek");
  CHECK(take(json::getString(item, "primary_version")) == "v2");
  CHECK(take(json::getStringArray(item, "versions")) == std::vector<std::string>{"v1", "v2"});
  CHECK(take(json::getString(item, "state")) == "ready");
}

TEST_CASE("A256GCM encrypt and decrypt round-trip with aad through the router") {
  Fixture f;
  const std::string aad = b64(toBytes("header"));
  HttpResponse enc =
      f.post("/keys/gcm-key/encrypt", R"({"alg":"A256GCM","value":")" + b64(toBytes("plain text")) +
                                          R"(","aad":")" + aad + R"("})");
  REQUIRE(enc.status == 200);
  json::ObjectPtr e = bodyJson(enc);
  CHECK(take(json::getString(e, "kid")) == kidOf("gcm-key", "g1"));
  const std::string iv = take(json::getString(e, "iv"));
  const std::string tag = take(json::getString(e, "tag"));
  CHECK(take(encoding::base64UrlDecode(iv)).size() == 12);
  HttpResponse dec =
      f.post("/keys/gcm-key/g1/decrypt",
             R"({"alg":"A256GCM","value":")" + take(json::getString(e, "value")) + R"(","iv":")" +
                 iv + R"(","tag":")" + tag + R"(","aad":")" + aad + R"("})");
  REQUIRE(dec.status == 200);
  CHECK(member(dec, "value") == b64(toBytes("plain text")));

  HttpResponse tampered =
      f.post("/keys/gcm-key/g1/decrypt", R"({"alg":"A256GCM","value":")" +
                                             take(json::getString(e, "value")) + R"(","iv":")" +
                                             iv + R"(","tag":")" + tag + R"("})");
  CHECK(tampered.status == 400);
  CHECK(errorCode(tampered) == "BadParameter");

  HttpResponse with_iv =
      f.post("/keys/gcm-key/encrypt", R"({"alg":"A256GCM","value":"AAAA","iv":")" + iv + R"("})");
  CHECK(with_iv.status == 400);
}

TEST_CASE("malformed requests get 400 BadParameter naming the field") {
  Fixture f;
  HttpResponse r = f.post("/keys/aes-kek/unwrapkey", R"({"alg":"A256KW",)");
  CHECK(r.status == 400);
  CHECK(errorCode(r) == "BadParameter");
  CHECK(errorMessage(r).rfind("the request body is not a valid JSON object", 0) == 0);

  r = f.post("/keys/aes-kek/unwrapkey", R"({"alg":"A256KW","value":"not base64!"})");
  CHECK(r.status == 400);
  CHECK(errorMessage(r).rfind("member 'value' is not valid base64url", 0) == 0);

  r = f.post("/keys/aes-kek/unwrapkey", R"({"alg":"ROT13","value":"AAAA"})");
  CHECK(r.status == 400);
  CHECK(errorMessage(r).rfind("member 'alg': unsupported algorithm 'ROT13'", 0) == 0);

  r = f.post("/keys/aes-kek/unwrapkey", R"({"value":"AAAA"})");
  CHECK(r.status == 400);
  CHECK(errorMessage(r) == "member 'alg' is required");

  r = f.post("/keys/aes-kek/unwrapkey",
             R"({"alg":"A128KW","value":")" + b64Hex(kWrapped46) + R"("})");
  CHECK(r.status == 400);
  CHECK(errorMessage(r) ==
        "algorithm A128KW needs a 128-bit key, but key 'aes-kek' version 'v2' is "
        "256-bit");

  r = f.post("/keys/aes-kek/unwrapkey", "");
  CHECK(r.status == 400);
}

TEST_CASE("an unknown version is 404 VersionNotFound, never a fallback to the primary") {
  Fixture f;
  HttpResponse r = f.post("/keys/aes-kek/v9/unwrapkey",
                          R"({"alg":"A256KW","value":")" + b64Hex(kWrapped46) + R"("})");
  CHECK(r.status == 404);
  CHECK(errorCode(r) == "VersionNotFound");
  CHECK(errorMessage(r) == "version 'v9' of key 'aes-kek' not found");
  r = f.get("/keys/nope");
  CHECK(r.status == 404);
  CHECK(errorCode(r) == "KeyNotFound");
  r = f.get("/keys/aes-kek/v9");
  CHECK(r.status == 404);
  CHECK(errorCode(r) == "VersionNotFound");
}

TEST_CASE("wrong methods are 405 with Allow and unknown paths 404") {
  Fixture f;
  HttpResponse r = f.get("/keys/aes-kek/unwrapkey");
  CHECK(r.status == 405);
  CHECK(header(r, "Allow") == "POST");
  CHECK(errorCode(r) == "MethodNotAllowed");
  r = f.get("/nothing/here");
  CHECK(r.status == 404);
  CHECK(errorCode(r) == "NotFound");
}

TEST_CASE("key_ops refusing the operation is 403 KeyOperationForbidden") {
  Fixture f;
  HttpResponse r = f.post("/keys/wrap-only/unwrapkey",
                          R"({"alg":"A256KW","value":")" + b64Hex(kWrapped46) + R"("})");
  CHECK(r.status == 403);
  CHECK(errorCode(r) == "Forbidden");
  json::ObjectPtr inner =
      take(json::getObject(take(json::getObject(bodyJson(r), "error")), "innererror"));
  CHECK(take(json::getString(inner, "code")) == "KeyOperationForbidden");
}

TEST_CASE("rewrap moves a DEK from an old version to the primary") {
  Fixture f;
  HttpResponse r =
      f.post("/keys/aes-kek/rewrap", R"({"alg":"A256KW","kid":")" + kidOf("aes-kek", "v1") +
                                         R"(","value":")" + b64Hex(kWrapped46) + R"("})");
  REQUIRE(r.status == 200);
  CHECK(member(r, "kid") == kidOf("aes-kek", "v2"));
  CHECK(member(r, "value") != b64Hex(kWrapped46));
  HttpResponse back = f.post("/keys/aes-kek/v2/unwrapkey",
                             R"({"alg":"A256KW","value":")" + member(r, "value") + R"("})");
  REQUIRE(back.status == 200);
  CHECK(member(back, "value") == b64Hex(kKeyData256));

  HttpResponse other =
      f.post("/keys/aes-kek/rewrap",
             R"({"alg":"A256KW","kid":")" + kidOf("gcm-key", "g1") + R"(","value":"AAAA"})");
  CHECK(other.status == 400);
  CHECK(errorMessage(other) == "member 'kid' names key 'gcm-key', not 'aes-kek'");
}

TEST_CASE("batch unwrap answers each item and is bounded to 100") {
  Fixture f;
  const std::string item = R"({"alg":"A256KW","kid":")" + kidOf("aes-kek", "v1") +
                           R"(","value":")" + b64Hex(kWrapped46) + R"("})";
  HttpResponse r = f.post("/keys/aes-kek/unwrapkey/batch",
                          R"({"requests":[)" + item + "," + R"({"alg":"A256KW","kid":")" +
                              kidOf("aes-kek", "v7") + R"(","value":"AAAA"},)" + item + "]}");
  REQUIRE(r.status == 200);
  json::ArrayPtr results = take(json::getArray(bodyJson(r), "results"));
  REQUIRE(results->size() == 3);
  CHECK(take(json::getString(results->getObject(0), "value")) == b64Hex(kKeyData256));
  CHECK(take(json::getString(results->getObject(0), "kid")) == kidOf("aes-kek", "v1"));
  json::ObjectPtr err = take(json::getObject(results->getObject(1), "error"));
  CHECK(take(json::getString(err, "code")) == "VersionNotFound");
  CHECK(take(json::getString(results->getObject(2), "value")) == b64Hex(kKeyData256));

  std::string many = R"({"requests":[)";
  for (int i = 0; i < 101; ++i) many += (i ? "," : "") + item;
  many += "]}";
  HttpResponse too_many = f.post("/keys/aes-kek/unwrapkey/batch", many);
  CHECK(too_many.status == 400);
  CHECK(errorMessage(too_many) == "member 'requests' has 101 items, expected 1..100");
}

TEST_CASE("until ready, key operations and readyz answer 503 NotReady with Retry-After") {
  Fixture f;
  f.router->setReady(false);
  HttpResponse r = f.post("/keys/aes-kek/unwrapkey",
                          R"({"alg":"A256KW","value":")" + b64Hex(kWrapped46) + R"("})");
  CHECK(r.status == 503);
  CHECK(errorCode(r) == "NotReady");
  CHECK(header(r, "Retry-After") == "1");
  HttpRequest probe = request("GET", "/readyz");
  probe.headers.clear();
  CHECK(f.router->handle(probe).status == 503);
  probe.path = "/healthz";
  CHECK(f.router->handle(probe).status == 200);
  f.router->setReady(true);
  probe.path = "/readyz";
  CHECK(f.router->handle(probe).status == 200);
}

struct AuthCase {
  const char* name;
  uid_t uid;
  const char* path;
  bool header;
  const char* token;
  int status;
  const char* code;
};

TEST_CASE("the authorization matrix gives the documented status, code and an audit line") {
  const AuthCase cases[] = {
      {"allowed uid", 1000, "/keys/aes-kek/v1/unwrapkey", true, nullptr, 200, ""},
      {"disallowed uid", 3000, "/keys/aes-kek/v1/unwrapkey", true, nullptr, 403, "Forbidden"},
      {"missing header", 1000, "/keys/aes-kek/v1/unwrapkey", false, nullptr, 401,
       "MissingRequestHeader"},
      {"bad token", 2000, "/keys/aes-kek/v1/unwrapkey", true, "not-the-token", 401, "Unauthorized"},
      {"missing token", 2000, "/keys/aes-kek/v1/unwrapkey", true, nullptr, 401, "Unauthorized"},
      {"good token", 2000, "/keys/aes-kek/v1/unwrapkey", true, "the-token", 200, ""},
      {"op outside the rule", 1001, "/keys/aes-kek/v1/wrapkey", true, nullptr, 403, "Forbidden"},
      {"key outside the rule", 1001, "/keys/gcm-key/unwrapkey", true, nullptr, 403, "Forbidden"},
  };
  for (const AuthCase& c : cases) {
    SECTION(c.name) {
      Fixture f;
      LogCapture capture;
      const std::string body = std::string(R"({"alg":"A256KW","value":")") +
                               (std::string(c.path).find("wrapkey") != std::string::npos &&
                                        std::string(c.path).find("unwrapkey") == std::string::npos
                                    ? b64Hex(kKeyData256)
                                    : b64Hex(kWrapped46)) +
                               R"("})";
      HttpRequest r = request("POST", c.path, body, c.uid, c.uid);
      if (!c.header) r.headers.clear();
      if (c.token != nullptr)
        r.headers.emplace_back("authorization", std::string("Bearer ") + c.token);
      HttpResponse resp = f.router->handle(r);
      CHECK(resp.status == c.status);
      if (c.status != 200) CHECK(errorCode(resp) == c.code);
      if (c.status == 401 && std::string(c.code) == "Unauthorized") {
        CHECK(header(resp, "WWW-Authenticate") == "Bearer");
      }
      json::ObjectPtr audit = capture.lastRequestLine();
      CHECK(take(json::getInt(audit, "status")) == c.status);
      CHECK(take(json::getInt(audit, "caller_uid")) == static_cast<int64_t>(c.uid));
      CHECK(take(json::getInt(audit, "caller_pid")) == 4242);
      CHECK(take(json::getString(audit, "code")) == c.code);
      for (const std::string& line : capture.lines()) {
        CHECK(line.find(b64Hex(kWrapped46)) == std::string::npos);
        CHECK(line.find(b64Hex(kKeyData256)) == std::string::npos);
        CHECK(line.find("the-token") == std::string::npos);
      }
    }
  }
}

TEST_CASE("admin routes are served only on the admin socket to admin rules") {
  Fixture f;
  HttpResponse r = f.get("/status");
  CHECK(r.status == 403);
  CHECK(errorMessage(r) == "admin operations are served only on the admin socket");
  HttpRequest not_admin = request("GET", "/status", {}, 1000, 1000);
  not_admin.listener = Listener::Admin;
  r = f.router->handle(not_admin);
  CHECK(r.status == 403);
  r = f.admin("GET", "/status");
  REQUIRE(r.status == 200);
  json::ArrayPtr keys = take(json::getArray(bodyJson(r), "keys"));
  CHECK(keys->size() == 5);
  CHECK(take(json::getBool(bodyJson(r), "ready")));
}

TEST_CASE("retire refuses the primary with 409 and makes a retired version 404") {
  Fixture f;
  HttpResponse r = f.admin("POST", "/keys/aes-kek/v2/retire");
  CHECK(r.status == 409);
  CHECK(errorCode(r) == "Conflict");
  std::vector<std::string> persisted;
  AdminHooks hooks;
  hooks.retire = [&](const std::string& name, const std::string& version) {
    persisted.push_back(name + "/" + version);
    return okStatus();
  };
  f.router->setAdminHooks(hooks);
  r = f.admin("POST", "/keys/aes-kek/v1/retire");
  CHECK(r.status == 200);
  CHECK(persisted == std::vector<std::string>{"aes-kek/v1"});
  r = f.post("/keys/aes-kek/v1/unwrapkey",
             R"({"alg":"A256KW","value":")" + b64Hex(kWrapped46) + R"("})");
  CHECK(r.status == 404);
  CHECK(errorCode(r) == "VersionNotFound");
  CHECK(f.keyring->entry("aes-kek")->changes == 3);
}

TEST_CASE("rotate and reload call their hooks and are 501 while unset") {
  Fixture f;
  CHECK(f.admin("POST", "/keys/aes-kek/rotate").status == 501);
  CHECK(f.admin("POST", "/reload").status == 501);
  std::optional<std::string> asked;
  AdminHooks hooks;
  hooks.rotate = [&](const std::string& name,
                     const std::optional<std::string>& version) -> StatusOr<std::string> {
    asked = version;
    if (version == std::optional<std::string>("bad")) return unavailableError("vault unreachable");
    return kidOf(name, "v3");
  };
  hooks.reload = [] { return okStatus(); };
  f.router->setAdminHooks(hooks);
  HttpResponse r = f.admin("POST", "/keys/aes-kek/rotate", R"({"version":"v3"})");
  REQUIRE(r.status == 200);
  CHECK(asked == std::optional<std::string>("v3"));
  CHECK(member(r, "kid") == kidOf("aes-kek", "v3"));
  r = f.admin("POST", "/keys/aes-kek/rotate", R"({"version":"bad"})");
  CHECK(r.status == 503);
  CHECK(errorMessage(r).find("vault unreachable") != std::string::npos);
  // last_error is the provisioner's to set (with one "rotate: " prefix), not the router's.
  CHECK(f.keyring->entry("aes-kek")->last_error.empty());
  CHECK(f.admin("POST", "/reload").status == 200);
}

TEST_CASE("metrics count requests by op and outcome and auth failures by reason") {
  Fixture f;
  f.post("/keys/aes-kek/v1/unwrapkey",
         R"({"alg":"A256KW","value":")" + b64Hex(kWrapped46) + R"("})");
  f.post("/keys/aes-kek/v1/unwrapkey",
         R"({"alg":"A256KW","value":")" + b64Hex(kWrapped46) + R"("})", 3000);
  HttpResponse r = f.admin("GET", "/metrics");
  REQUIRE(r.status == 200);
  CHECK(header(r, "Content-Type").rfind("text/plain; version=0.0.4", 0) == 0);
  const std::string text = bodyText(r);
  CHECK(text.find("skr_requests_total{op=\"unwrapkey\",outcome=\"ok\"} 1\n") != std::string::npos);
  CHECK(text.find("skr_requests_total{op=\"unwrapkey\",outcome=\"Forbidden\"} 1\n") !=
        std::string::npos);
  CHECK(text.find("skr_auth_failures_total{reason=\"no_matching_rule\"} 1\n") != std::string::npos);
  CHECK(text.find("skr_request_duration_seconds_count{op=\"unwrapkey\"} 2\n") != std::string::npos);
  CHECK(text.find("skr_keys_loaded 5\n") != std::string::npos);
  CHECK(text.find("skr_emulated 0\n") != std::string::npos);
}

}  // namespace
}  // namespace skr::agent

namespace skr::agent {
namespace {

TEST_CASE("GET /events long-polls the event log on the client socket and filters by the rule") {
  Fixture f;
  auto events = std::make_shared<EventLog>();
  CHECK(f.get("/events").status == 501);
  f.router->setEventLog(events);
  events->publish(EventType::Rotated, "aes-kek", "v2", f.clock.now());
  events->publish(EventType::Rotated, "gcm-key", "g2", f.clock.now());
  HttpRequest r = testing::request("GET", "/events", {}, 1001, 1001);
  r.query = {{"after", "0"}, {"timeout", "0"}};
  HttpResponse narrow = f.router->handle(r);
  REQUIRE(narrow.status == 403);  // the narrow rule does not grant "events"
  r = testing::request("GET", "/events");
  r.query = {{"after", "1"}, {"timeout", "0"}};
  HttpResponse later = f.router->handle(r);
  REQUIRE(later.status == 200);
  CHECK(testing::bodyText(later).find("\"key\":\"gcm-key\"") != std::string::npos);
  CHECK(testing::bodyText(later).find("aes-kek") == std::string::npos);
  CHECK(testing::bodyText(later).find("\"next\":2") != std::string::npos);
  r.query = {{"after", "x"}};
  CHECK(f.router->handle(r).status == 400);
  r.query = {{"timeout", "61"}};
  CHECK(f.router->handle(r).status == 400);
  HttpRequest on_admin = testing::request("GET", "/events", {}, 0, 0);
  on_admin.listener = Listener::Admin;
  CHECK(f.router->handle(on_admin).status == 403);
}

TEST_CASE(
    "GET /events beyond max_event_waiters is 429 Throttled when it would wait, and answers at "
    "once when it need not") {
  Fixture f;
  RouterOptions options;
  options.max_event_waiters = 0;
  Router router(f.keyring, f.authorizer, f.clock, options);
  auto events = std::make_shared<EventLog>();
  router.setEventLog(events);
  events->publish(EventType::Ready, "", "", f.clock.now());
  const uint64_t seq = events->after(0).next;
  HttpRequest r = testing::request("GET", "/events");
  r.query = {{"after", std::to_string(seq)}, {"timeout", "60"}};
  const auto started = std::chrono::steady_clock::now();
  HttpResponse answer = router.handle(r);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(10));
  REQUIRE(answer.status == 429);
  CHECK(take(json::getString(bodyJson(answer)->getObject("error"), "code")) == "Throttled");
  CHECK(std::find(answer.headers.begin(), answer.headers.end(),
                  std::pair<std::string, std::string>("Retry-After", "1")) != answer.headers.end());
  // timeout=0 never waits; a poll with events to return does not either.
  r.query = {{"after", std::to_string(seq)}, {"timeout", "0"}};
  CHECK(router.handle(r).status == 200);
  r.query = {{"after", "0"}, {"timeout", "60"}};
  HttpResponse kept = router.handle(r);
  REQUIRE(kept.status == 200);
  CHECK(bodyJson(kept)->getArray("events")->size() == 1);
}

TEST_CASE(
    "admit() refuses from the head alone: no rule, missing header, key or operation outside the "
    "rule, unknown route, wrong socket, and lets allowed callers' bodies in") {
  Fixture f;
  auto head = [](std::string method, std::string path, uid_t uid) {
    HttpRequest r = testing::request(std::move(method), std::move(path), {}, uid, uid);
    return r;
  };
  CHECK_FALSE(f.router->admit(head("POST", "/keys/aes-kek/unwrapkey", 1000)).has_value());
  CHECK_FALSE(f.router->admit(head("POST", "/keys/aes-kek/unwrapkey", 1001)).has_value());
  std::optional<HttpResponse> stranger =
      f.router->admit(head("POST", "/keys/aes-kek/unwrapkey", 7));
  REQUIRE(stranger.has_value());
  CHECK(stranger->status == 403);
  std::optional<HttpResponse> other_key =
      f.router->admit(head("POST", "/keys/rsa-kek/unwrapkey", 1001));
  REQUIRE(other_key.has_value());
  CHECK(other_key->status == 403);
  std::optional<HttpResponse> other_op =
      f.router->admit(head("POST", "/keys/aes-kek/wrapkey", 1001));
  REQUIRE(other_op.has_value());
  CHECK(other_op->status == 403);
  HttpRequest no_header = head("POST", "/keys/aes-kek/unwrapkey", 1000);
  no_header.headers.clear();
  std::optional<HttpResponse> missing = f.router->admit(no_header);
  REQUIRE(missing.has_value());
  CHECK(missing->status == 401);
  std::optional<HttpResponse> unknown = f.router->admit(head("POST", "/nowhere", 1000));
  REQUIRE(unknown.has_value());
  CHECK(unknown->status == 404);
  std::optional<HttpResponse> method =
      f.router->admit(head("PUT", "/keys/aes-kek/unwrapkey", 1000));
  REQUIRE(method.has_value());
  CHECK(method->status == 405);
  std::optional<HttpResponse> admin_here =
      f.router->admit(head("POST", "/keys/aes-kek/rotate", 1000));
  REQUIRE(admin_here.has_value());
  CHECK(admin_here->status == 403);
  // Who is known at all decides the connection budget.
  CHECK(f.router->knownPeer(Listener::Client, PeerCredentials{1, 1000, 1000}));
  CHECK_FALSE(f.router->knownPeer(Listener::Client, PeerCredentials{1, 7, 7}));
  CHECK(f.router->knownPeer(Listener::Admin, PeerCredentials{1, 0, 0}));
  CHECK_FALSE(f.router->knownPeer(Listener::Admin, PeerCredentials{1, 1000, 1000}));
}

TEST_CASE("a request body of more than 4096 JSON values is 400 before a tree is built") {
  Fixture f;
  std::string body =
      R"({"alg":"A256KW","value":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","x":[)";
  for (int i = 0; i < 5000; ++i) body += i == 0 ? "{}" : ",{}";
  body += "]}";
  HttpResponse r = f.post("/keys/aes-kek/unwrapkey", body);
  CHECK(r.status == 400);
  CHECK_THAT(bodyText(r), Catch::Contains("more than 4096 values"));
}

}  // namespace
}  // namespace skr::agent

namespace skr::agent {
namespace {

TEST_CASE(
    "wrapkey and encrypt take their plaintext out before JSON parsing: escaped or repeated "
    "value members are 400") {
  Fixture f;
  const std::string dek = b64Hex(kKeyData256);
  HttpResponse r =
      f.post("/keys/aes-kek/v1/wrapkey", R"({"alg":"A256KW","value" : ")" + dek + R"("})");
  REQUIRE(r.status == 200);
  CHECK(member(r, "value") == b64Hex(kWrapped46));
  r = f.post("/keys/aes-kek/v1/wrapkey", R"({"alg":"A256KW","val\u0075e":")" + dek + R"("})");
  CHECK(r.status == 400);
  CHECK_THAT(bodyText(r), Catch::Contains("must be named without escape sequences"));
  r = f.post("/keys/gcm-key/encrypt",
             R"({"alg":"A256GCM","value":")" + dek + R"(","value":")" + dek + R"("})");
  CHECK(r.status == 400);
  CHECK_THAT(bodyText(r), Catch::Contains("member 'value' appears twice"));
  CHECK_THAT(bodyText(r), !Catch::Contains(dek));
  r = f.post("/keys/aes-kek/v1/wrapkey", R"({"alg":"A256KW"})");
  CHECK(r.status == 400);
  CHECK_THAT(bodyText(r), Catch::Contains("member 'value' is required"));
  r = f.post("/keys/aes-kek/v1/wrapkey", R"({"alg":"A256KW","value":7})");
  CHECK(r.status == 400);
}

}  // namespace
}  // namespace skr::agent
