#include "common/azure/identity.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <thread>

#include "common/encoding/base64.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_http_transport.h"

namespace skr::azure {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::system_clock;
using testing::FakeClock;
using testing::FakeHttpTransport;

constexpr int64_t kNow = 1767225600;  // FakeClock's default: 2026-01-01T00:00:00Z
const std::string kImds = "http://169.254.169.254";
const std::string kVaultTokenUrl =
    kImds +
    "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net";

class ZeroJitter : public http::JitterSource {
 public:
  double next() override { return 0.0; }
};

std::string text(const SecretBytes& secret) {
  const ByteView v = secret.view(grantSecretAccess());
  return std::string(reinterpret_cast<const char*>(v.data()), v.size());
}

std::string b64url(const std::string& s) {
  return encoding::base64UrlEncode(ByteView(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
}

std::string jwt(const std::string& claims) {
  return b64url(R"({"alg":"RS256","typ":"JWT"})") + "." + b64url(claims) + ".c2ln";
}

std::string imdsBody(const std::string& token, const std::string& expires_on) {
  return R"({"access_token":")" + token +
         R"(","refresh_token":"","expires_in":"28799","expires_on":")" + expires_on +
         R"(","not_before":"1539898432","resource":"https://vault.azure.net/","token_type":"Bearer"})";
}

std::string tempFile(const std::string& name, const std::string& content) {
  const std::string path = "/tmp/skr_identity_test_" + std::to_string(::getpid()) + "_" + name;
  std::ofstream(path, std::ios::trunc) << content;
  return path;
}

struct ImdsFixture {
  std::shared_ptr<FakeHttpTransport> transport = std::make_shared<FakeHttpTransport>();
  FakeClock clock;
  ZeroJitter jitter;

  std::unique_ptr<ImdsTokenProvider> provider(ImdsOptions options = {}) {
    auto p = ImdsTokenProvider::create(transport, std::move(options), clock, jitter);
    REQUIRE(p.ok());
    return std::move(p).value();
  }
};

// ---- parsers ----

TEST_CASE("IMDS response with string-typed numbers (spec 4.1 example) parses") {
  StatusOr<AccessToken> t =
      parseImdsTokenResponse(imdsBody("eyJ0eXAi.abc.def", "1539927532"),
                             system_clock::time_point(seconds(1539927532 - 28799)));
  REQUIRE(t.ok());
  CHECK(text(t->token) == "eyJ0eXAi.abc.def");
  CHECK(t->expires_on == system_clock::time_point(seconds(1539927532)));
}

TEST_CASE("IMDS response variants: integer expires_on, expires_in only, extra members") {
  const auto now = system_clock::time_point(seconds(kNow));
  auto integer = parseImdsTokenResponse(R"({"access_token":"t","expires_on":1800000000})", now);
  REQUIRE(integer.ok());
  CHECK(integer->expires_on == system_clock::time_point(seconds(1800000000)));
  auto relative = parseImdsTokenResponse(
      R"({"access_token":"t","expires_in":"3599","token_type":"bearer","client_id":"x"})", now);
  REQUIRE(relative.ok());
  CHECK(relative->expires_on == now + seconds(3599));
  auto relative_int = parseImdsTokenResponse(R"({"access_token":"t","expires_in":60})", now);
  REQUIRE(relative_int.ok());
  CHECK(relative_int->expires_on == now + seconds(60));
}

TEST_CASE("IMDS response errors name the member and never the token") {
  const auto now = system_clock::time_point(seconds(kNow));
  struct Case {
    const char* body;
    StatusCode code;
    const char* needle;
  };
  const Case cases[] = {
      {R"({"access_token":"secret-tok"})", StatusCode::InvalidArgument, "neither expires_on"},
      {R"({"access_token":"secret-tok","expires_on":"soon"})", StatusCode::InvalidArgument,
       "expires_on"},
      {R"({"access_token":"secret-tok","expires_on":"-5"})", StatusCode::InvalidArgument,
       "expires_on"},
      {R"({"access_token":"secret-tok","expires_on":"99999999999999"})",
       StatusCode::InvalidArgument, "expires_on"},
      {R"({"access_token":"secret-tok","expires_on":true})", StatusCode::InvalidArgument,
       "expires_on"},
      // 12 digits pass the number syntax but not the 10-year bound (found by the token_response
      // fuzz target: they overflowed a system_clock time_point).
      {R"({"access_token":"secret-tok","expires_on":"499999999999"})", StatusCode::InvalidArgument,
       "expires_on 499999999999 is out of range"},
      {R"({"access_token":"secret-tok","expires_on":87412694430})", StatusCode::InvalidArgument,
       "expires_on 87412694430 is out of range"},
      {R"({"access_token":"secret-tok","expires_in":"-1"})", StatusCode::InvalidArgument,
       "expires_in"},
      {R"({"access_token":"secret-tok","expires_on":"0"})", StatusCode::InvalidArgument,
       "expires_on"},
      {R"({"expires_on":"1800000000"})", StatusCode::NotFound, "access_token"},
      {R"({"access_token":"","expires_on":"1800000000"})", StatusCode::InvalidArgument,
       "empty access_token"},
      {R"({"access_token":"secret tok","expires_on":"1800000000"})", StatusCode::InvalidArgument,
       "not allowed"},
      {R"({"access_token":7,"expires_on":"1800000000"})", StatusCode::InvalidArgument,
       "access_token"},
      {R"({"access_token":"secret-tok","expires_on":"1800000000","token_type":"MAC"})",
       StatusCode::InvalidArgument, "token_type"},
      {R"({"access_token":"secret-tok","expires_on":"1767225000"})", StatusCode::InvalidArgument,
       "the token expired at 2025-12-31T23:50:00Z, before it arrived"},
      {"not json", StatusCode::InvalidArgument, "IMDS token response"},
      {"[]", StatusCode::InvalidArgument, "IMDS token response"},
  };
  for (const Case& c : cases) {
    INFO(c.body);
    StatusOr<AccessToken> t = parseImdsTokenResponse(c.body, now);
    REQUIRE_FALSE(t.ok());
    CHECK(t.status().code() == c.code);
    CHECK(t.status().message().find(c.needle) != std::string::npos);
    CHECK(t.status().message().find("secret") == std::string::npos);
  }
  const std::string huge =
      R"({"access_token":")" + std::string(17000, 'a') + R"(","expires_on":"1800000000"})";
  CHECK(parseImdsTokenResponse(huge, now).status().code() == StatusCode::InvalidArgument);
}

TEST_CASE("Entra ID v2.0 response parses integer and string expires_in") {
  const auto now = system_clock::time_point(seconds(kNow));
  auto t = parseEntraTokenResponse(
      R"({"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"abc.def.ghi"})",
      now);
  REQUIRE(t.ok());
  CHECK(text(t->token) == "abc.def.ghi");
  CHECK(t->expires_on == now + seconds(3599));
  auto s = parseEntraTokenResponse(R"({"expires_in":"100","access_token":"x"})", now);
  REQUIRE(s.ok());
  CHECK(s->expires_on == now + seconds(100));
  CHECK(parseEntraTokenResponse(R"({"access_token":"x"})", now).status().code() ==
        StatusCode::InvalidArgument);
  CHECK(parseEntraTokenResponse(R"({"expires_in":1})", now).status().code() ==
        StatusCode::NotFound);
}

TEST_CASE("token endpoint errors map to codes with error and error_description") {
  auto answer = [](int status, const std::string& body, std::string gave_up = {}) {
    http::RetriedResponse r;
    r.response.status = status;
    r.response.body = body;
    r.attempts = 1;
    r.gave_up = std::move(gave_up);
    return r;
  };
  Status invalid_resource = tokenEndpointError(
      "IMDS",
      answer(
          400,
          R"({"error":"invalid_resource","error_description":"AADSTS500011: The resource principal named https://x was not found"})"));
  CHECK(invalid_resource.code() == StatusCode::InvalidArgument);
  CHECK(invalid_resource.message() ==
        "IMDS: HTTP 400 invalid_resource: AADSTS500011: The resource principal named https://x "
        "was not found");
  CHECK(
      tokenEndpointError(
          "IMDS",
          answer(
              400,
              R"({"error":"bad_request_102","error_description":"Required metadata header not specified"})"))
          .message()
          .find("Required metadata header not specified") != std::string::npos);
  CHECK(tokenEndpointError("E", answer(401, R"({"error":"invalid_client"})")).code() ==
        StatusCode::Unauthenticated);
  CHECK(tokenEndpointError("E", answer(400, R"({"error":"unauthorized_client"})")).code() ==
        StatusCode::Unauthenticated);
  CHECK(tokenEndpointError("E", answer(403, "{}")).code() == StatusCode::PermissionDenied);
  CHECK(tokenEndpointError("E", answer(404, "")).code() == StatusCode::NotFound);
  Status busy = tokenEndpointError(
      "IMDS",
      answer(
          500,
          R"({"error":"unknown","error_description":"Failed to retrieve token from the Active directory"})",
          "gave up after 5 attempts (attempt budget)"));
  CHECK(busy.code() == StatusCode::Unavailable);
  CHECK(busy.message().find("(gave up after 5 attempts (attempt budget))") != std::string::npos);
  Status html = tokenEndpointError("E", answer(502, "<html>bad gateway</html>"));
  CHECK(html.code() == StatusCode::Unavailable);
  CHECK(html.message() == "E: HTTP 502 (24-byte body without error)");
}

TEST_CASE("token endpoint error descriptions never echo tokens and are bounded") {
  http::RetriedResponse r;
  r.response.status = 401;
  r.response.body =
      R"({"error":"invalid_client","error_description":"AADSTS50027: JWT eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln is invalid\nnext"})";
  Status s = tokenEndpointError("E", r);
  CHECK(s.message() ==
        "E: HTTP 401 invalid_client: AADSTS50027: JWT <redacted token> is invalid next");
  r.response.body = R"({"error":"x","error_description":")" + std::string(5000, 'd') + R"("})";
  CHECK(tokenEndpointError("E", r).message().size() < 600);
}

// ---- IMDS provider ----

TEST_CASE("IMDS provider sends the documented request and returns the token") {
  ImdsFixture f;
  f.transport->setResponse(kVaultTokenUrl, 200, imdsBody("tok-1", "1767229200"));
  auto provider = f.provider();
  StatusOr<AccessToken> t = provider->token(kVaultResource);
  REQUIRE(t.ok());
  CHECK(text(t->token) == "tok-1");
  CHECK(t->expires_on == system_clock::time_point(seconds(1767229200)));
  const auto requests = f.transport->requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].method == "GET");
  REQUIRE(requests[0].headers.size() == 1);
  CHECK(requests[0].headers[0].name == "Metadata");
  CHECK(requests[0].headers[0].value == "true");
}

TEST_CASE("IMDS provider selects user-assigned identities and honours an endpoint override") {
  ImdsFixture f;
  struct Case {
    ImdsIdentity kind;
    std::string id;
    std::string suffix;
  };
  const std::string arm = "/subscriptions/s/resourceGroups/rg/providers/x/id(1)";
  for (const Case& c : {Case{ImdsIdentity::ClientId, "c-1", "&client_id=c-1"},
                        Case{ImdsIdentity::ObjectId, "o-1", "&object_id=o-1"},
                        Case{ImdsIdentity::MsiResId, arm,
                             "&msi_res_id=%2Fsubscriptions%2Fs%2FresourceGroups%2Frg%2Fproviders%"
                             "2Fx%2Fid%281%29"}}) {
    ImdsOptions options;
    options.endpoint = "http://127.0.0.1:4567/";
    options.identity = c.kind;
    options.identity_id = c.id;
    const std::string url =
        "http://127.0.0.1:4567/metadata/identity/oauth2/token?api-version=2018-02-01&resource="
        "https%3A%2F%2Fmanagedhsm.azure.net" +
        c.suffix;
    f.transport->setResponse(url, 200, imdsBody("t", "1767229200"));
    auto provider = f.provider(options);
    INFO(url);
    CHECK(provider->token(kManagedHsmResource).ok());
    CHECK(provider->describe().find(c.id) != std::string::npos);
  }
}

TEST_CASE("IMDS provider options are validated") {
  ImdsFixture f;
  auto make = [&](ImdsOptions o) {
    return ImdsTokenProvider::create(f.transport, std::move(o), f.clock, f.jitter).status().code();
  };
  ImdsOptions o;
  o.identity = ImdsIdentity::ClientId;
  CHECK(make(o) == StatusCode::InvalidArgument);  // id missing
  o = {};
  o.identity_id = "x";
  CHECK(make(o) == StatusCode::InvalidArgument);  // id without kind
  o = {};
  o.endpoint = "ftp://x";
  CHECK(make(o) == StatusCode::InvalidArgument);
  o = {};
  o.endpoint = "http://host/path?q";
  CHECK(make(o) == StatusCode::InvalidArgument);
  o = {};
  o.identity = ImdsIdentity::ClientId;
  o.identity_id = "a&resource=evil";
  CHECK(make(o) == StatusCode::InvalidArgument);
  CHECK(ImdsTokenProvider::create(nullptr, {}, f.clock, f.jitter).status().code() ==
        StatusCode::InvalidArgument);
  auto provider = f.provider();
  CHECK(provider->token("http://vault.azure.net").status().code() == StatusCode::InvalidArgument);
  CHECK(provider->token("https://vault.azure.net&x=1").status().code() ==
        StatusCode::InvalidArgument);
}

TEST_CASE("IMDS provider retries 404 and 5xx, then succeeds") {
  ImdsFixture f;
  f.transport->queueResponse(kVaultTokenUrl, 404, R"({"error":"not_found"})");
  f.transport->queueResponse(kVaultTokenUrl, 503, "");
  f.transport->setResponse(kVaultTokenUrl, 200, imdsBody("t", "1767229200"));
  auto provider = f.provider();
  REQUIRE(provider->token(kVaultResource).ok());
  CHECK(f.transport->requestCount() == 3);
  CHECK(f.clock.sleeps().size() == 2);
}

TEST_CASE("IMDS provider reports the IMDS error after its retries") {
  ImdsFixture f;
  f.transport->setResponse(
      kVaultTokenUrl, 500,
      R"({"error":"unknown","error_description":"Failed to retrieve token from the Active directory"})");
  auto provider = f.provider();
  StatusOr<AccessToken> t = provider->token(kVaultResource);
  REQUIRE_FALSE(t.ok());
  CHECK(t.status().code() == StatusCode::Unavailable);
  CHECK(t.status().message() ==
        "IMDS managed identity (default identity) token for 'https://vault.azure.net': HTTP 500 "
        "unknown: Failed to retrieve token from the Active directory (gave up after 5 attempts "
        "(attempt budget))");
  CHECK(f.transport->requestCount() == 5);
}

TEST_CASE("IMDS provider: 400 invalid_resource is final, transport failure is Unavailable") {
  ImdsFixture f;
  f.transport->setResponse(kVaultTokenUrl, 400,
                           R"({"error":"invalid_resource","error_description":"AADSTS500011: x"})");
  auto provider = f.provider();
  StatusOr<AccessToken> t = provider->token(kVaultResource);
  CHECK(t.status().code() == StatusCode::InvalidArgument);
  CHECK(t.status().message().find("invalid_resource: AADSTS500011: x") != std::string::npos);
  CHECK(f.transport->requestCount() == 1);

  f.transport->setError(kVaultTokenUrl, unavailableError("connect refused"));
  StatusOr<AccessToken> down = provider->token(kVaultResource);
  CHECK(down.status().code() == StatusCode::Unavailable);
  CHECK(down.status().message().find("IMDS: gave up after 5 attempts") != std::string::npos);
}

// ---- workload identity ----

struct WorkloadFixture {
  std::shared_ptr<FakeHttpTransport> transport = std::make_shared<FakeHttpTransport>();
  FakeClock clock;
  ZeroJitter jitter;
  std::string token_file = tempFile("sa_token", "assertion-1\n");
  const std::string url = "https://login.example/tenant-1/oauth2/v2.0/token";

  WorkloadIdentityOptions options() {
    WorkloadIdentityOptions o;
    o.client_id = "11111111-2222-3333-4444-555555555555";
    o.tenant_id = "tenant-1";
    o.federated_token_file = token_file;
    o.authority_host = "https://login.example/";
    return o;
  }
  std::unique_ptr<WorkloadIdentityTokenProvider> provider() {
    auto p = WorkloadIdentityTokenProvider::create(transport, options(), clock, jitter);
    REQUIRE(p.ok());
    return std::move(p).value();
  }
  ~WorkloadFixture() { std::remove(token_file.c_str()); }
};

TEST_CASE("workload identity posts a client-credentials form with the federated assertion") {
  WorkloadFixture f;
  f.transport->setResponse(f.url, 200,
                           R"({"token_type":"Bearer","expires_in":3600,"access_token":"aad-tok"})");
  auto provider = f.provider();
  StatusOr<AccessToken> t = provider->token("https://vault.azure.net/");
  REQUIRE(t.ok());
  CHECK(text(t->token) == "aad-tok");
  CHECK(t->expires_on == f.clock.now() + seconds(3600));
  const auto requests = f.transport->requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].method == "POST");
  CHECK(requests[0].body ==
        "grant_type=client_credentials&client_id=11111111-2222-3333-4444-555555555555"
        "&scope=https%3A%2F%2Fvault.azure.net%2F.default"
        "&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"
        "&client_assertion=assertion-1");
  CHECK(requests[0].headers[0].value == "application/x-www-form-urlencoded");

  // The projected token is re-read on every exchange (kubelet rotates it).
  std::ofstream(f.token_file, std::ios::trunc) << "assertion-2";
  REQUIRE(provider->token(kVaultResource).ok());
  CHECK(f.transport->requests().back().body.find("client_assertion=assertion-2") !=
        std::string::npos);
}

TEST_CASE("workload identity maps AADSTS errors and missing files") {
  WorkloadFixture f;
  f.transport->setResponse(
      f.url, 401,
      R"({"error":"invalid_client","error_description":"AADSTS700027: Client assertion contains an invalid signature.","error_codes":[700027]})");
  auto provider = f.provider();
  StatusOr<AccessToken> t = provider->token(kVaultResource);
  REQUIRE_FALSE(t.ok());
  CHECK(t.status().code() == StatusCode::Unauthenticated);
  CHECK(t.status().message().find("invalid_client: AADSTS700027: Client assertion contains an "
                                  "invalid signature.") != std::string::npos);
  CHECK(t.status().message().find("assertion-1") == std::string::npos);

  std::remove(f.token_file.c_str());
  StatusOr<AccessToken> missing = provider->token(kVaultResource);
  CHECK(missing.status().code() == StatusCode::NotFound);
  CHECK(missing.status().message().find("federated token file") != std::string::npos);
}

TEST_CASE("workload identity options come from the environment and are validated") {
  unsetenv("AZURE_CLIENT_ID");
  unsetenv("AZURE_TENANT_ID");
  unsetenv("AZURE_FEDERATED_TOKEN_FILE");
  unsetenv("AZURE_AUTHORITY_HOST");
  StatusOr<WorkloadIdentityOptions> none = WorkloadIdentityOptions::fromEnvironment();
  CHECK(none.status().code() == StatusCode::NotFound);
  CHECK(none.status().message().find(
            "AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE") != std::string::npos);
  setenv("AZURE_CLIENT_ID", "cid", 1);
  setenv("AZURE_TENANT_ID", "tid", 1);
  setenv("AZURE_FEDERATED_TOKEN_FILE", "/var/run/token", 1);
  setenv("AZURE_AUTHORITY_HOST", "https://login.microsoftonline.us/", 1);
  StatusOr<WorkloadIdentityOptions> env = WorkloadIdentityOptions::fromEnvironment();
  unsetenv("AZURE_CLIENT_ID");
  unsetenv("AZURE_TENANT_ID");
  unsetenv("AZURE_FEDERATED_TOKEN_FILE");
  unsetenv("AZURE_AUTHORITY_HOST");
  REQUIRE(env.ok());
  CHECK(env->client_id == "cid");
  CHECK(env->tenant_id == "tid");
  CHECK(env->federated_token_file == "/var/run/token");
  CHECK(env->authority_host == "https://login.microsoftonline.us/");

  WorkloadFixture f;
  auto code = [&](WorkloadIdentityOptions o) {
    return WorkloadIdentityTokenProvider::create(f.transport, std::move(o), f.clock, f.jitter)
        .status()
        .code();
  };
  WorkloadIdentityOptions o = f.options();
  o.authority_host = "http://login.example";
  CHECK(code(o) == StatusCode::InvalidArgument);
  o = f.options();
  o.tenant_id = "t/../x";
  CHECK(code(o) == StatusCode::InvalidArgument);
  o = f.options();
  o.client_id = "a&b";
  CHECK(code(o) == StatusCode::InvalidArgument);
}

// ---- static tokens and cache ----

TEST_CASE("token file: JWT exp sets the expiry, a wrong aud is refused, plain text lasts 5 min") {
  FakeClock clock;
  const std::string path =
      tempFile("file_token", jwt(R"({"aud":"https://vault.azure.net","exp":1767229200})") + "\n");
  TokenFileProvider provider(path, clock);
  StatusOr<AccessToken> t = provider.token(kVaultResource);
  REQUIRE(t.ok());
  CHECK(t->expires_on == system_clock::time_point(seconds(1767229200)));
  StatusOr<AccessToken> wrong = provider.token(kManagedHsmResource);
  CHECK(wrong.status().code() == StatusCode::InvalidArgument);
  CHECK(wrong.status().message().find("the token is for 'https://vault.azure.net'") !=
        std::string::npos);

  std::ofstream(path, std::ios::trunc) << "opaque-token";
  StatusOr<AccessToken> opaque = provider.token(kVaultResource);
  REQUIRE(opaque.ok());
  CHECK(text(opaque->token) == "opaque-token");
  CHECK(opaque->expires_on == clock.now() + std::chrono::minutes(5));
  std::remove(path.c_str());
  CHECK(provider.token(kVaultResource).status().code() == StatusCode::NotFound);
}

TEST_CASE("cached token file is re-read once the cached token nears expiry") {
  FakeClock clock;
  const std::string path = tempFile(
      "cached_file",
      jwt(R"({"aud":"https://vault.azure.net/","exp":)" + std::to_string(kNow + 3600) + "}"));
  CachingTokenProvider cache(std::make_unique<TokenFileProvider>(path, clock), clock,
                             std::chrono::minutes(5));
  StatusOr<AccessToken> first = cache.token(kVaultResource);
  REQUIRE(first.ok());
  const std::string rotated =
      jwt(R"({"aud":"https://vault.azure.net","exp":)" + std::to_string(kNow + 7200) + "}");
  std::ofstream(path, std::ios::trunc) << rotated;
  clock.advance(std::chrono::minutes(50));
  CHECK(text(cache.token(kVaultResource)->token) == text(first->token));  // still cached
  clock.advance(std::chrono::minutes(6));  // 56 min: within the 5 min margin of exp (60 min)
  CHECK(text(cache.token(kVaultResource)->token) == rotated);
  std::remove(path.c_str());
}

TEST_CASE("literal token without exp never expires") {
  const std::string raw = "literal";
  LiteralTokenProvider provider(
      SecretBytes::copyOf(ByteView(reinterpret_cast<const uint8_t*>(raw.data()), raw.size())));
  StatusOr<AccessToken> t = provider.token(kVaultResource);
  REQUIRE(t.ok());
  CHECK(text(t->token) == "literal");
  CHECK(t->expires_on == system_clock::time_point::max());
}

TEST_CASE("cache serves tokens until expiry minus margin, per resource, errors not cached") {
  ImdsFixture f;
  const std::string mhsm_url =
      kImds +
      "/metadata/identity/oauth2/"
      "token?api-version=2018-02-01&resource=https%3A%2F%2Fmanagedhsm.azure.net";
  f.transport->queueResponse(kVaultTokenUrl, 200, imdsBody("v1", std::to_string(kNow + 3600)));
  f.transport->queueResponse(kVaultTokenUrl, 200, imdsBody("v2", std::to_string(kNow + 7200)));
  f.transport->setResponse(mhsm_url, 200, imdsBody("m1", std::to_string(kNow + 3600)));
  CachingTokenProvider cache(f.provider(), f.clock, std::chrono::minutes(5));
  CHECK_FALSE(cache.earliestExpiry().has_value());

  CHECK(text(cache.token(kVaultResource)->token) == "v1");
  CHECK(text(cache.token("https://vault.azure.net/")->token) == "v1");
  CHECK(text(cache.token(kManagedHsmResource)->token) == "m1");
  CHECK(f.transport->requestCount() == 2);
  f.clock.advance(std::chrono::minutes(54));
  CHECK(text(cache.token(kVaultResource)->token) == "v1");
  f.clock.advance(std::chrono::minutes(2));  // 56 min
  CHECK(text(cache.token(kVaultResource)->token) == "v2");
  CHECK(f.transport->requestCount() == 3);
  // The metrics gauge: the earliest expiry among the cached tokens (m1 at kNow + 3600).
  using std::chrono::system_clock;
  CHECK(cache.earliestExpiry() == system_clock::time_point(std::chrono::seconds(kNow + 3600)));

  cache.invalidate();
  CHECK_FALSE(cache.earliestExpiry().has_value());
  f.transport->setResponse(kVaultTokenUrl, 400, R"({"error":"invalid_request"})");
  CHECK_FALSE(cache.token(kVaultResource).ok());
  CHECK_FALSE(cache.token(kVaultResource).ok());
  CHECK(f.transport->requestCount() == 5);
}

TEST_CASE("cache fetches once when many threads ask at the same time") {
  ImdsFixture f;
  f.transport->setResponse(kVaultTokenUrl, 200, imdsBody("t", std::to_string(kNow + 3600)));
  CachingTokenProvider cache(f.provider(), f.clock);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      if (cache.token(kVaultResource).ok()) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  CHECK(ok == 8);
  CHECK(f.transport->requestCount() == 1);
}

// ---- resource ----

TEST_CASE("resourceForHost picks the Managed HSM or Key Vault audience") {
  CHECK(resourceForHost("myvault.vault.azure.net") == "https://vault.azure.net");
  CHECK(resourceForHost("myhsm.managedhsm.azure.net") == "https://managedhsm.azure.net");
  CHECK(resourceForHost("MyHSM.ManagedHSM.Azure.NET:443") == "https://managedhsm.azure.net");
  CHECK(resourceForHost("managedhsm.azure.net.evil.example") == "https://vault.azure.net");
  CHECK(resourceForHost("xmanagedhsm.azure.net") == "https://vault.azure.net");
  const std::map<std::string, std::string> emulator = {{"127.0.0.1:8443", kVaultResource},
                                                       {"127.0.0.1:8444", kManagedHsmResource}};
  CHECK(resourceForHost("127.0.0.1:8444", emulator) == "https://managedhsm.azure.net");
  CHECK(resourceForHost("127.0.0.1:8443", emulator) == "https://vault.azure.net");
  CHECK(resourceForHost("hsm.internal", {{"HSM.internal", kManagedHsmResource}}) ==
        "https://managedhsm.azure.net");
  CHECK(resourceForHost("hsm.internal:1234", {{"hsm.internal", kManagedHsmResource}}) ==
        "https://managedhsm.azure.net");
}

}  // namespace
}  // namespace skr::azure
