// skr-agent's Azure SKR sidecar compatibility listener (issue 6 "Sidecar compatibility"), the real
// binary against skr-emulator: requests in the shapes of microsoft/confidential-sidecar-containers
// (internal/httpginendpoints) on a Unix socket and on a loopback TCP port. /attest/raw's report is
// a real (emulated) SNP report over SHA-256(runtime_data); /attest/maa's token is the emulator's
// MAA token with the runtime data as x-ms-runtime; /key/release returns the released key as a JWK
// string whose public half is what GET /keys serves; failures carry the sidecar's codes and
// {"error": ...}. On TCP, callers are told apart by uid (a setpriv'd client is refused).
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <sstream>

#include "common/crypto/digest.h"
#include "common/crypto/x509.h"
#include "common/encoding/base64.h"
#include "common/encoding/hex.h"
#include "common/jose/jwk.h"
#include "common/json/json.h"
#include "common/snp/report.h"
#include "tests/integration/agent_process.h"
#include "tests/integration/init_world.h"
#include "tests/integration/process.h"
#include "tests/integration/uds_http_client.h"

namespace skr::testing {
namespace {

namespace fs = std::filesystem;

const std::string kRuntime = R"({"keys":[{"e":"AQAB","kid":"app","kty":"RSA","n":"q83v"}]})";

std::string runtimeBody() {
  return R"({"runtime_data":")" + encoding::base64Encode(asBytes(kRuntime)) + R"("})";
}

// "host[:port]" of an absolute URL.
std::string hostOf(const std::string& url) {
  std::string rest = url.substr(url.find("://") + 3);
  return rest.substr(0, rest.find('/'));
}

// A port on 127.0.0.1 nobody listens on right now.
int freePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
  socklen_t length = sizeof(a);
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &length) == 0);
  ::close(fd);
  return ntohs(a.sin_port);
}

struct TcpAnswer {
  int status = 0;
  std::string body;
};

TcpAnswer tcpPost(int port, const std::string& path, const std::string& body,
                  bool with_header = true) {
  Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port));
  session.setTimeout(Poco::Timespan(60, 0));
  Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, path,
                                 Poco::Net::HTTPMessage::HTTP_1_1);
  request.setContentType("application/json");
  if (with_header) request.set("X-SKR-Request", "1");
  request.setContentLength(static_cast<std::streamsize>(body.size()));
  session.sendRequest(request) << body;
  Poco::Net::HTTPResponse response;
  std::istream& in = session.receiveResponse(response);
  std::ostringstream text;
  text << in.rdbuf();
  return {static_cast<int>(response.getStatus()), text.str()};
}

// A world with one RSA key released by skr-init and an agent whose compat listener is on
// `compat_yaml` (the lines under azure_sidecar:), the test's uid granted attest and release.
struct CompatWorld {
  explicit CompatWorld(const std::string& compat_yaml) {
    world.createKey("vault", "app-kek", R"("kty":"RSA-HSM","key_size":2048)");
    yaml = world.configYaml({{"app-kek", "vault"}}, world.managedIdentityYaml());
    REQUIRE(world.runInit(yaml).exit_code == 0);
    const std::string uid = std::to_string(::getuid());
    AgentOptions options;
    options.default_clients = false;
    options.extra_agent_yaml = "  clients:\n    - name: legacy-app\n      uids: [" + uid +
                               "]\n      operations: ['*', attest, release]\n      keys: ['*']\n"
                               "  admin_uids: [" +
                               uid + "]\n  compat:\n    azure_sidecar:\n      enabled: true\n" +
                               compat_yaml;
    agent = std::make_unique<AgentProcess>(world, yaml, options);
    agent->waitReady();
    maa_host = hostOf(world.emulator().url("maa"));
    vault_host = hostOf(world.emulator().url("vault"));
  }
  std::string releaseBody(const std::string& kid, const std::string& akv = {}) const {
    return R"({"maa_endpoint":")" + maa_host + R"(","akv_endpoint":")" +
           (akv.empty() ? vault_host : akv) + R"(","kid":")" + kid + R"("})";
  }

  InitWorld world;
  std::string yaml;
  std::unique_ptr<AgentProcess> agent;
  std::string maa_host, vault_host;
};

// The claims of a compact JWT (not verified: the agent verified it; the test reads what it says).
json::ObjectPtr jwtClaims(const std::string& token) {
  const std::size_t a = token.find('.');
  const std::size_t b = token.find('.', a + 1);
  REQUIRE(b != std::string::npos);
  StatusOr<Bytes> payload = encoding::base64UrlDecode(token.substr(a + 1, b - a - 1));
  REQUIRE(payload.ok());
  StatusOr<json::ObjectPtr> claims = json::parseObject(toString(*payload));
  REQUIRE(claims.ok());
  return *claims;
}

TEST_CASE(
    "the sidecar-compatible socket serves /status, /attest/raw, /attest/combined, "
    "/attest/maa and /key/release in the sidecar's shapes",
    "[agent][compat]") {
  char name[] = "/tmp/skr-compat-XXXXXX";
  REQUIRE(::mkdtemp(name) != nullptr);
  const std::string sock = std::string(name) + "/sidecar.sock";
  CompatWorld w("      socket: " + sock + "\n");
  INFO(w.agent->stderrText());

  // GET /status: the sidecar's readiness message.
  json::ObjectPtr status = parsed(udsRequest(sock, "GET", "/status"));
  CHECK(status->getValue<std::string>("message") == "Status OK");

  // POST /attest/raw: a real SNP report, hex, whose REPORT_DATA is SHA-256(runtime_data) || 0.
  UdsResponse r = udsRequest(sock, "POST", "/attest/raw", runtimeBody());
  REQUIRE(r.status == 200);
  StatusOr<Bytes> raw = encoding::hexDecode(parsed(r)->getValue<std::string>("report"));
  REQUIRE(raw.ok());
  StatusOr<snp::SnpReport> report = snp::SnpReport::parse(*raw);
  REQUIRE(report.ok());
  const Bytes digest = crypto::sha256(asBytes(kRuntime));
  CHECK(Bytes(report->report_data.begin(), report->report_data.begin() + 32) == digest);
  CHECK(encoding::hexEncode(report->host_data) == kInitHostData);

  // POST /attest/combined: the sidecar's CombinedAttestationData at the top level, read as a
  // sidecar client reads it (evidence, endorsements, endorsed_tcb, uvm_endorsements).
  r = udsRequest(sock, "POST", "/attest/combined", runtimeBody());
  REQUIRE(r.status == 200);
  json::ObjectPtr combined = parsed(r);
  CHECK_FALSE(combined->has("combined_report"));
  CHECK(combined->has("uvm_endorsements"));
  StatusOr<Bytes> evidence = encoding::base64Decode(combined->getValue<std::string>("evidence"));
  REQUIRE(evidence.ok());
  CHECK(snp::SnpReport::parse(*evidence).ok());
  StatusOr<Bytes> pem = encoding::base64Decode(combined->getValue<std::string>("endorsements"));
  REQUIRE(pem.ok());
  StatusOr<std::vector<crypto::Certificate>> chain =
      crypto::Certificate::parsePemBundle(toString(*pem));
  REQUIRE(chain.ok());
  CHECK(chain->size() >= 2);  // VCEK, ASK (and ARK)
  CHECK(combined->getValue<std::string>("endorsed_tcb").size() == 16);

  // POST /attest/maa: the emulator's MAA token, carrying the runtime data as x-ms-runtime.
  r = udsRequest(sock, "POST", "/attest/maa",
                 R"({"maa_endpoint":")" + w.maa_host + R"(","runtime_data":")" +
                     encoding::base64Encode(asBytes(kRuntime)) + R"("})");
  REQUIRE(r.status == 200);
  json::ObjectPtr claims = jwtClaims(parsed(r)->getValue<std::string>("token"));
  CHECK(claims->getValue<std::string>("iss") == w.world.emulator().url("maa"));
  CHECK(claims->getValue<std::string>("x-ms-sevsnpvm-reportdata") ==
        encoding::hexEncode(digest) + std::string(64, '0'));
  CHECK(claims->getObject("x-ms-runtime")
            ->getArray("keys")
            ->getObject(0)
            ->getValue<std::string>("kid") == "app");

  // POST /key/release: {"key": "<private JWK JSON>"}, the key GET /keys serves the public half of.
  r = udsRequest(sock, "POST", "/key/release", w.releaseBody("app-kek"));
  REQUIRE(r.status == 200);
  json::ObjectPtr released = parsed(r);
  REQUIRE(released->size() == 1);
  StatusOr<jose::Jwk> jwk =
      jose::Jwk::parseSecret(SecretBytes::copyOf(asBytes(released->getValue<std::string>("key"))));
  REQUIRE(jwk.ok());
  CHECK(jwk->hasPrivate());
  json::ObjectPtr served = parsed(udsRequest(w.agent->client(), "GET", "/keys/app-kek"));
  StatusOr<json::ObjectPtr> public_half = jwk->publicJson();
  REQUIRE(public_half.ok());
  CHECK((*public_half)->getValue<std::string>("n") ==
        served->getObject("key")->getValue<std::string>("n"));

  // Failures: the sidecar's codes and {"error": "..."} bodies.
  r = udsRequest(sock, "POST", "/key/release", w.releaseBody("app-kek", "evil.example"));
  CHECK(r.status == 403);
  CHECK(parsed(r)->getValue<std::string>("error").find("is not the vault of key 'app-kek'") !=
        std::string::npos);
  r = udsRequest(sock, "POST", "/key/release", w.releaseBody("no-such-key"));
  CHECK(r.status == 403);
  CHECK(parsed(r)->getValue<std::string>("error").find("not granted") == std::string::npos);
  r = udsRequest(sock, "POST", "/key/release", R"({"kid":"app-kek"})");
  CHECK(r.status == 400);
  CHECK(parsed(r)->getValue<std::string>("error").find("'maa_endpoint' is required") !=
        std::string::npos);
  r = udsRequest(sock, "POST", "/attest/maa",
                 R"({"maa_endpoint":"sharedeus.eus.attest.azure.net","runtime_data":"e30="})");
  CHECK(r.status == 403);
  r = udsRequest(sock, "POST", "/attest/raw", R"({"runtime_data":"not base64!"})");
  CHECK(r.status == 400);
  // The skr API is not on this socket, and the sidecar routes are not on the client socket.
  CHECK(udsRequest(sock, "GET", "/keys").status == 404);
  CHECK(udsRequest(w.agent->client(), "POST", "/key/release", w.releaseBody("app-kek")).status ==
        404);
  // Every request wrote an audit line on the compat listener; no release reached the vault.
  const std::string log = w.agent->stderrText();
  CHECK(log.find(
            R"("listener":"compat","method":"POST","op":"sidecar_key_release","key":"app-kek")") !=
        std::string::npos);
  CHECK(fs::is_socket(sock));
  CHECK(w.agent->terminate() == 0);
  CHECK_FALSE(fs::exists(sock));
  fs::remove_all(name);
}

TEST_CASE(
    "the sidecar-compatible loopback TCP port identifies callers by the uid of their "
    "socket",
    "[agent][compat]") {
  const int port = freePort();
  CompatWorld w("      tcp_port: " + std::to_string(port) + "\n");
  INFO(w.agent->stderrText());

  TcpAnswer a = tcpPost(port, "/key/release", w.releaseBody("app-kek"));
  REQUIRE(a.status == 200);
  CHECK(a.body.rfind(R"({"key":")", 0) == 0);

  // The same request from uid 4321 (no rule) is refused, and the audit line names that uid.
  ProcessResult other =
      runProcess("/usr/bin/setpriv",
                 {"--reuid=4321", "--regid=4321", "--clear-groups", "/usr/bin/python3", "-c",
                  "import json,sys,urllib.request as u\n"
                  "r=u.Request('http://127.0.0.1:" +
                      std::to_string(port) +
                      "/key/release',data=sys.argv[1].encode(),headers={'X-SKR-Request':'1',"
                      "'Content-Type':'application/json'})\n"
                      "try:\n  u.urlopen(r,timeout=30)\n  print(200)\n"
                      "except u.HTTPError as e:\n  print(e.code, json.load(e)['error'])\n",
                  w.releaseBody("app-kek")});
  INFO(other.out << other.err);
  REQUIRE(other.exit_code == 0);
  CHECK(other.out.rfind("403 caller uid 4321", 0) == 0);
  CHECK(w.agent->stderrText().find(R"("status":403,"code":"Forbidden","caller_uid":4321)") !=
        std::string::npos);
}

TEST_CASE(
    "with require_request_header false an unchanged sidecar client (no X-SKR-Request) is served "
    "on the compat port, and the agent warns about it",
    "[agent][compat]") {
  const int port = freePort();
  {
    CompatWorld strict("      tcp_port: " + std::to_string(port) + "\n");
    TcpAnswer refused = tcpPost(port, "/key/release", strict.releaseBody("app-kek"), false);
    CHECK(refused.status == 401);
    CHECK(refused.body.find("X-SKR-Request") != std::string::npos);
  }
  CompatWorld w("      tcp_port: " + std::to_string(port) +
                "\n      require_request_header: false\n");
  INFO(w.agent->stderrText());
  TcpAnswer a = tcpPost(port, "/key/release", w.releaseBody("app-kek"), false);
  REQUIRE(a.status == 200);
  CHECK(a.body.rfind(R"({"key":")", 0) == 0);
  CHECK(w.agent->stderrText().find("compat_header_not_required") != std::string::npos);
}

}  // namespace
}  // namespace skr::testing
