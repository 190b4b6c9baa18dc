// Fuzz target for the agent's request router (agent/router.h) and the Azure SKR sidecar routes
// (agent/sidecar_compat.h): untrusted JSON bodies on every route that reads one. The first input
// byte picks the listener and route, the rest is the body. Properties:
//  - handle() answers (never throws, never crashes) with a known status and never 500 (except
//    the sidecar's /attest/combined, whose fuzz platform has no collateral);
//  - every answer except GET /metrics is a JSON object; on the compat listener a failure is
//    exactly {"error": "<string>"}, on the other sockets {"error": {"code", "message"}};
//  - nothing a request does changes the keys (versions and primaries stay as they were).
// A violated property traps, so libFuzzer (and the corpus replay) reports it as a crash.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "agent/router.h"
#include "agent/sidecar_compat.h"
#include "common/core/clock.h"
#include "common/crypto/pkey.h"
#include "common/jose/jwk.h"
#include "common/json/json.h"
#include "common/log/logger.h"

namespace {

using namespace skr;         // NOLINT(google-build-using-namespace)
using namespace skr::agent;  // NOLINT(google-build-using-namespace)

void require(bool condition) {
  if (!condition) __builtin_trap();
}

template <typename T>
T take(StatusOr<T> s) {
  require(s.ok());
  return std::move(s).value();
}

class Platform final : public SidecarPlatform {
 public:
  StatusOr<Bytes> report(const std::array<uint8_t, 64>& report_data) override {
    Bytes out(1184, 0);
    std::copy(report_data.begin(), report_data.end(), out.begin());
    return out;
  }
  StatusOr<snp::Collateral> collateral(ByteView) override {
    return unavailableError("no collateral in the fuzz platform");
  }
  StatusOr<std::string> maaToken(std::string_view runtime_data) override {
    return std::string("token-") + std::to_string(runtime_data.size());
  }
};

KeyVersion version(std::string name, std::string v, jose::Jwk jwk) {
  KeyVersion out;
  out.name = std::move(name);
  out.version = std::move(v);
  out.kid = "https://vault.example/keys/" + out.name + "/" + out.version;
  out.kty = jwk.type();
  jwk.setKid(out.kid);
  out.key = std::make_shared<const jose::Jwk>(std::move(jwk));
  return out;
}

struct World {
  World() {
    log::setMinLevel(log::Level::Error);  // one audit line per input is noise here
    keyring = std::make_shared<Keyring>();
    const crypto::PrivateKey rsa = take(crypto::PrivateKey::generateRsa(2048));
    require(keyring
                ->addVersion(version("rsa", "r1",
                                     jose::Jwk::fromPrivateKey(
                                         take(crypto::PrivateKey::fromPkcs8Der(rsa.toPkcs8Der())))),
                             true)
                .ok());
    SecretBytes k(32);
    require(
        keyring->addVersion(version("aes", "a1", take(jose::Jwk::fromOctet(std::move(k)))), true)
            .ok());
    std::vector<AuthRule> rules;
    rules.push_back({"all", {1000}, {}, {"*", "attest", "release"}, {"*"}, std::nullopt});
    rules.push_back({"ops", {0}, {}, {"admin"}, {"*"}, std::nullopt});
    router = std::make_unique<Router>(
        keyring, std::make_shared<const Authorizer>(take(Authorizer::create(std::move(rules)))),
        systemClock(), RouterOptions{});
    router->setSidecarCompat(std::make_shared<SidecarCompat>(keyring, std::make_shared<Platform>(),
                                                             "https://maa.example"));
    router->setReady(true);
    fingerprint = describeKeys();
  }
  std::string describeKeys() const {
    std::string out;
    for (const auto& entry : keyring->entries()) {
      out += entry->name + ":";
      for (const auto& [name, v] : entry->versions) out += name + ",";
      if (auto p = entry->primaryVersion()) out += "*" + p->version;
      out += ";";
    }
    return out;
  }
  std::shared_ptr<Keyring> keyring;
  std::unique_ptr<Router> router;
  std::string fingerprint;
};

struct Target {
  Listener listener;
  const char* method;
  const char* path;
};

constexpr Target kTargets[] = {
    {Listener::Client, "POST", "/keys/rsa/unwrapkey"},
    {Listener::Client, "POST", "/keys/rsa/wrapkey"},
    {Listener::Client, "POST", "/keys/rsa/r1/decrypt"},
    {Listener::Client, "POST", "/keys/rsa/encrypt"},
    {Listener::Client, "POST", "/keys/aes/unwrapkey"},
    {Listener::Client, "POST", "/keys/aes/wrapkey"},
    {Listener::Client, "POST", "/keys/aes/decrypt"},
    {Listener::Client, "POST", "/keys/aes/encrypt"},
    {Listener::Client, "POST", "/keys/aes/rewrap"},
    {Listener::Client, "POST", "/keys/rsa/unwrapkey/batch"},
    {Listener::Client, "GET", "/keys"},
    {Listener::Client, "GET", "/keys/rsa"},
    {Listener::Admin, "POST", "/keys/aes/rotate"},
    {Listener::Admin, "POST", "/keys/aes/a1/retire"},
    {Listener::Compat, "POST", "/attest/raw"},
    {Listener::Compat, "POST", "/attest/combined"},
    {Listener::Compat, "POST", "/attest/maa"},
    {Listener::Compat, "POST", "/key/release"},
    {Listener::Compat, "GET", "/status"},
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World world;
  if (size == 0) return 0;
  const Target& target = kTargets[data[0] % (sizeof(kTargets) / sizeof(kTargets[0]))];
  HttpRequest request;
  request.method = target.method;
  request.path = target.path;
  request.listener = target.listener;
  request.headers.emplace_back("x-skr-request", "1");
  request.peer.uid = target.listener == Listener::Admin ? 0 : 1000;
  request.peer.gid = request.peer.uid;
  request.body = SecretBytes::copyOf(ByteView(data + 1, size - 1));

  const HttpResponse response = world.router->handle(request);
  static const std::set<int> kKnown = {200, 400, 401, 403, 404, 405, 409, 413, 429, 501, 503};
  // 500 only where the sidecar answers it: /attest/combined without collateral.
  const bool combined = std::string_view(target.path) == "/attest/combined";
  require(kKnown.count(response.status) == 1 || (combined && response.status == 500));
  const std::string text = toString(response.body.view(grantSecretAccess()));
  StatusOr<json::ObjectPtr> body = json::parseObject(text);
  require(body.ok());
  if (response.status != 200) {
    if (target.listener == Listener::Compat) {
      require((*body)->size() == 1);
      require(json::getString(*body, "error").ok());
    } else {
      StatusOr<json::ObjectPtr> error = json::getObject(*body, "error");
      require(error.ok());
      require(json::getString(*error, "code").ok() && json::getString(*error, "message").ok());
    }
  }
  require(world.describeKeys() == world.fingerprint);
  return 0;
}
