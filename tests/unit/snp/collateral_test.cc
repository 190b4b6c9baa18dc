#include "common/snp/collateral.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "common/encoding/base64.h"
#include "common/encoding/hex.h"
#include "common/snp/thim.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_http_transport.h"
#include "tests/unit/snp/amd_test_pki.h"

namespace skr::snp {
namespace {

namespace fs = std::filesystem;
using skr::testing::FakeHttpTransport;
using skr::testing::readTestData;

constexpr const char* kThimUrl = "http://169.254.169.254/metadata/THIM/amd/certification";
constexpr const char* kAciChipId =
    "b12164b45a2a27426e04ab52c5781d404fe2eab35ef5c4f714ce0fc23d2fb3f3e65631710244a4edfad191616be"
    "3366e48a6352b35128d748458bc9c282d0f5a";
const std::string kAciVcekUrl = std::string("https://kdsintf.amd.com/vcek/v1/Milan/") + kAciChipId +
                                "?blSPL=3&teeSPL=0&snpSPL=8&ucodeSPL=115";
const std::string kMilanChainUrl = "https://kdsintf.amd.com/vcek/v1/Milan/cert_chain";

// A fresh directory under the system temp dir, removed at scope exit.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = fs::temp_directory_path() /
            ("skr-collateral-" + std::to_string(rd()) + "-" + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void writeFile(const fs::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
  REQUIRE(out.good());
}

SnpReport aciReport() {
  StatusOr<SnpReport> r = SnpReport::parse(readTestData("snp/aci-milan-v2/report.bin"));
  REQUIRE(r.ok());
  return *r;
}

std::string aciThimJson() {
  return toString(readTestData("snp/aci-milan-v2/thim.json"));
}

Bytes aciVcekDer() {
  StatusOr<crypto::Certificate> c =
      crypto::Certificate::fromPem(toString(readTestData("snp/aci-milan-v2/vcek.pem")));
  REQUIRE(c.ok());
  return c->der();
}

// A PEM as a JSON string body (newlines escaped).
std::string jsonEscaped(const std::string& pem) {
  std::string escaped;
  for (char ch : pem) escaped += ch == '\n' ? std::string("\\n") : std::string(1, ch);
  return escaped;
}

// THIM JSON whose VCEK is the go-sev-guest one (TCB bl=2 tee=0 snp=5 ucode=68), i.e. stale for
// the aci report.
std::string staleThimJson(const std::string& tcbm) {
  StatusOr<crypto::Certificate> c =
      crypto::Certificate::fromDer(readTestData("snp/gosevguest-milan-v2/vcek.der"));
  REQUIRE(c.ok());
  return "{\"vcekCert\":\"" + jsonEscaped(c->toPem()) + "\",\"tcbm\":\"" + tcbm +
         "\",\"cacheControl\":\"86400\"}";
}

// Options that look nowhere on the real machine: root dir = an empty temp dir.
CollateralOptions hermeticOptions(const fs::path& root) {
  CollateralOptions o;
  o.root_dir = root;
  return o;
}

std::unique_ptr<CollateralProvider> makeProvider(std::shared_ptr<FakeHttpTransport> transport,
                                                 CollateralOptions options) {
  auto p = CollateralProvider::create(std::move(transport), std::move(options));
  REQUIRE(p.ok());
  return std::move(p).value();
}

TEST_CASE("collateral comes from the first security-context-* directory without HTTP",
          "[snp][collateral]") {
  TempDir root;
  const fs::path dir = root.path() / "security-context-abc";
  fs::create_directories(dir);
  fs::create_directories(root.path() / "security-context-zzz");  // later by name: not used
  writeFile(root.path() / "security-context-aaa", "a file, not a directory");
  writeFile(dir / "host-amd-cert-base64", encoding::base64Encode(asBytes(aciThimJson())) + "\n");
  const std::string policy = toString(readTestData("snp/aci-milan-v2/security_policy.base64"));
  writeFile(dir / "security-policy-base64", policy);
  const Bytes cose = {0xd2, 0x84, 0x43, 0xa1, 0x01, 0x26};
  writeFile(dir / "reference-info-base64", encoding::base64Encode(cose));

  auto transport = std::make_shared<FakeHttpTransport>();
  auto provider = makeProvider(transport, hermeticOptions(root.path()));
  StatusOr<Collateral> c = provider->fetch(aciReport());
  INFO(c.status().toString());
  REQUIRE(c.ok());
  CHECK(c->source == "security-context:" + dir.string());
  CHECK(c->vek.der() == aciVcekDer());
  REQUIRE(c->chain.size() == 2);
  CHECK(c->chain[0].subjectCommonName() == "SEV-Milan");
  CHECK(c->chain[1].subjectCommonName() == "ARK-Milan");
  CHECK(c->tcbm == "7308000000000003");
  CHECK(c->uvm_endorsement == std::optional<Bytes>(cose));
  REQUIRE(c->security_policy_base64.has_value());
  CHECK(*c->security_policy_base64 == policy.substr(0, policy.find_last_not_of("\n") + 1));
  CHECK(transport->requestCount() == 0);
}

TEST_CASE("an explicit security-context directory (UVM_SECURITY_CONTEXT_DIR) is used",
          "[snp][collateral]") {
  TempDir root;
  const fs::path dir = root.path() / "elsewhere";
  fs::create_directories(dir);
  writeFile(dir / "host-amd-cert-base64", encoding::base64Encode(asBytes(aciThimJson())));
  CollateralOptions o = hermeticOptions(root.path());
  o.security_context_dir = dir;
  auto transport = std::make_shared<FakeHttpTransport>();
  StatusOr<Collateral> c = makeProvider(transport, o)->fetch(aciReport());
  INFO(c.status().toString());
  REQUIRE(c.ok());
  CHECK(c->source == "security-context:" + dir.string());
  CHECK_FALSE(c->uvm_endorsement.has_value());
  CHECK_FALSE(c->security_policy_base64.has_value());
  CHECK(transport->requestCount() == 0);
}

TEST_CASE("a malformed host-amd-cert-base64 is InvalidArgument naming the file",
          "[snp][collateral]") {
  TempDir root;
  const fs::path dir = root.path() / "security-context-1";
  fs::create_directories(dir);
  writeFile(dir / "host-amd-cert-base64", "@@@");
  auto transport = std::make_shared<FakeHttpTransport>();
  StatusOr<Collateral> c =
      makeProvider(transport, hermeticOptions(root.path()))->fetch(aciReport());
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().code() == StatusCode::InvalidArgument);
  CHECK_THAT(c.status().message(),
             Catch::StartsWith((dir / "host-amd-cert-base64").string() + ": host-amd-cert-base64"));
}

TEST_CASE("without a security context the collateral comes from THIM with Metadata: true",
          "[snp][collateral]") {
  TempDir root;
  auto transport = std::make_shared<FakeHttpTransport>();
  transport->setResponse(kThimUrl, 200, aciThimJson());
  StatusOr<Collateral> c =
      makeProvider(transport, hermeticOptions(root.path()))->fetch(aciReport());
  INFO(c.status().toString());
  REQUIRE(c.ok());
  CHECK(c->source == std::string("thim:") + kThimUrl);
  CHECK(c->vek.der() == aciVcekDer());
  CHECK(c->chain.size() == 2);
  CHECK(c->tcbm == "7308000000000003");
  const auto requests = transport->requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].method == "GET");
  CHECK(requests[0].url == kThimUrl);
  REQUIRE(requests[0].headers.size() == 1);
  CHECK(requests[0].headers[0].name == "Metadata");
  CHECK(requests[0].headers[0].value == "true");
}

TEST_CASE("the THIM URL is injectable (emulator)", "[snp][collateral]") {
  TempDir root;
  auto transport = std::make_shared<FakeHttpTransport>();
  transport->setResponse("http://127.0.0.1:8123/metadata/THIM/amd/certification", 200,
                         aciThimJson());
  CollateralOptions o = hermeticOptions(root.path());
  o.thim_url = "http://127.0.0.1:8123/metadata/THIM/amd/certification";
  o.use_kds = false;
  StatusOr<Collateral> c = makeProvider(transport, o)->fetch(aciReport());
  INFO(c.status().toString());
  REQUIRE(c.ok());
  CHECK(transport->requestedUrls() ==
        std::vector<std::string>{"http://127.0.0.1:8123/metadata/THIM/amd/certification"});
}

TEST_CASE("when THIM fails, KDS is asked for the VCEK then cert_chain at the exact URLs",
          "[snp][collateral]") {
  TempDir root;
  auto transport = std::make_shared<FakeHttpTransport>();
  transport->setResponse(kThimUrl, 404, "not here");
  transport->setResponse(kAciVcekUrl, 200, toString(aciVcekDer()));
  transport->setResponse(kMilanChainUrl, 200,
                         toString(readTestData("snp/aci-milan-v2/ask_ark.pem")));
  StatusOr<Collateral> c =
      makeProvider(transport, hermeticOptions(root.path()))->fetch(aciReport());
  INFO(c.status().toString());
  REQUIRE(c.ok());
  CHECK(transport->requestedUrls() ==
        std::vector<std::string>{kThimUrl, kAciVcekUrl, kMilanChainUrl});
  CHECK(transport->requests()[1].headers.empty());
  CHECK(c->source == "kds:" + kAciVcekUrl);
  CHECK(c->vek.der() == aciVcekDer());
  REQUIRE(c->chain.size() == 2);
  CHECK(c->chain[0].subjectCommonName() == "SEV-Milan");
  CHECK(c->tcbm == "7308000000000003");
}

TEST_CASE("KDS URLs follow spec 5.3 for Milan/Genoa and Turin", "[snp][collateral]") {
  SnpReport report = aciReport();
  CHECK(kdsVcekUrl("https://kdsintf.amd.com", Generation::Milan, report) == kAciVcekUrl);
  CHECK(kdsVcekUrl("http://127.0.0.1:9", Generation::Genoa, report) ==
        std::string("http://127.0.0.1:9/vcek/v1/Genoa/") + kAciChipId +
            "?blSPL=3&teeSPL=0&snpSPL=8&ucodeSPL=115");
  // Turin: 8-byte hwid and the Turin TCB layout (fmc, bl, tee, snp in bytes 0..3).
  report.reported_tcb = 0x5200000004020105ULL;
  CHECK(kdsVcekUrl("https://kdsintf.amd.com", Generation::Turin, report) ==
        "https://kdsintf.amd.com/vcek/v1/Turin/b12164b45a2a2742"
        "?fmcSPL=5&blSPL=1&teeSPL=2&snpSPL=4&ucodeSPL=82");
  CHECK(kdsChainUrl("https://kdsintf.amd.com", Generation::Genoa, false) ==
        "https://kdsintf.amd.com/vcek/v1/Genoa/cert_chain");
  CHECK(kdsChainUrl("https://kdsintf.amd.com", Generation::Turin, true) ==
        "https://kdsintf.amd.com/vlek/v1/Turin/cert_chain");
}

TEST_CASE("a non-200 from the only source is Unavailable with the URL and status",
          "[snp][collateral]") {
  TempDir root;
  auto transport = std::make_shared<FakeHttpTransport>();
  transport->setResponse(kAciVcekUrl, 503, "busy");
  CollateralOptions o = hermeticOptions(root.path());
  o.use_thim = false;
  StatusOr<Collateral> c = makeProvider(transport, o)->fetch(aciReport());
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().code() == StatusCode::Unavailable);
  CHECK(c.status().message() == "collateral: KDS GET " + kAciVcekUrl + ": HTTP 503, expected 200");
  CHECK(transport->requestCount() == 1);  // no retries here
}

namespace {
class HalfJitter : public http::JitterSource {
 public:
  double next() override { return 0.5; }
};
}  // namespace

TEST_CASE("with a retry policy, a transient THIM answer is retried and Retry-After honoured",
          "[snp][collateral]") {
  TempDir root;
  auto transport = std::make_shared<FakeHttpTransport>();
  transport->queueResponse(kThimUrl, 429, "slow down", {{"Retry-After", "3"}});
  transport->queueResponse(kThimUrl, 500, "oops");
  transport->setResponse(kThimUrl, 200, aciThimJson());
  skr::testing::FakeClock clock;
  HalfJitter jitter;
  CollateralOptions o = hermeticOptions(root.path());
  o.use_kds = false;
  http::RetryPolicy policy;
  policy.max_attempts = 3;
  policy.backoff.base = std::chrono::milliseconds(100);
  o.retry = policy;
  o.clock = &clock;
  o.jitter = &jitter;
  StatusOr<Collateral> c = makeProvider(transport, o)->fetch(aciReport());
  INFO(c.status().toString());
  REQUIRE(c.ok());
  CHECK(c->source == std::string("thim:") + kThimUrl);
  CHECK(transport->requestCount() == 3);
  // Retry-After: 3 s, then full jitter under base * 2 = 200 ms with the jitter value 0.5.
  CHECK(clock.sleeps() == std::vector<std::chrono::milliseconds>{std::chrono::milliseconds(3000),
                                                                 std::chrono::milliseconds(100)});
}

TEST_CASE("with a retry policy, a THIM that stays unavailable fails after the attempt budget",
          "[snp][collateral]") {
  TempDir root;
  auto transport = std::make_shared<FakeHttpTransport>();
  transport->setResponse(kThimUrl, 503, "busy");
  skr::testing::FakeClock clock;
  HalfJitter jitter;
  CollateralOptions o = hermeticOptions(root.path());
  o.use_kds = false;
  http::RetryPolicy policy;
  policy.max_attempts = 3;
  o.retry = policy;
  o.clock = &clock;
  o.jitter = &jitter;
  StatusOr<Collateral> c = makeProvider(transport, o)->fetch(aciReport());
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().code() == StatusCode::Unavailable);
  CHECK(transport->requestCount() == 3);
  CHECK_THAT(c.status().message(),
             Catch::Contains(std::string("THIM GET ") + kThimUrl + ": HTTP 503"));
  CHECK_THAT(c.status().message(), Catch::Contains("3 attempts"));
  // A 404 is final: one attempt.
  transport->setResponse(kThimUrl, 404, "no");
  StatusOr<Collateral> d = makeProvider(transport, o)->fetch(aciReport());
  REQUIRE_FALSE(d.ok());
  CHECK(transport->requestCount() == 4);
}

TEST_CASE("when every source fails, the error lists each one", "[snp][collateral]") {
  TempDir root;
  auto transport = std::make_shared<FakeHttpTransport>();
  transport->setResponse(kThimUrl, 500, "");
  StatusOr<Collateral> c =
      makeProvider(transport, hermeticOptions(root.path()))->fetch(aciReport());
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().code() == StatusCode::Unavailable);
  CHECK(c.status().message() == std::string("collateral: no source answered; THIM GET ") +
                                    kThimUrl + ": HTTP 500, expected 200; KDS GET " + kAciVcekUrl +
                                    ": fake transport: no route to " + kAciVcekUrl);
}

TEST_CASE("a stale VCEK from THIM is refetched once from KDS for REPORTED_TCB",
          "[snp][collateral]") {
  TempDir root;
  auto transport = std::make_shared<FakeHttpTransport>();
  transport->setResponse(kThimUrl, 200, staleThimJson("4405000000000002"));
  transport->setResponse(kAciVcekUrl, 200, toString(aciVcekDer()));
  transport->setResponse(kMilanChainUrl, 200,
                         toString(readTestData("snp/aci-milan-v2/ask_ark.pem")));
  StatusOr<Collateral> c =
      makeProvider(transport, hermeticOptions(root.path()))->fetch(aciReport());
  INFO(c.status().toString());
  REQUIRE(c.ok());
  CHECK(c->source == "kds:" + kAciVcekUrl);
  CHECK(c->vek.der() == aciVcekDer());
  CHECK(transport->requestedUrls() ==
        std::vector<std::string>{kThimUrl, kAciVcekUrl, kMilanChainUrl});
}

TEST_CASE("a TCB mismatch that persists after one refetch fails with both values",
          "[snp][collateral]") {
  TempDir root;
  auto transport = std::make_shared<FakeHttpTransport>();
  transport->setResponse(kThimUrl, 200, staleThimJson("4405000000000002"));
  // KDS keeps answering with the stale certificate.
  transport->setResponse(kAciVcekUrl, 200,
                         toString(readTestData("snp/gosevguest-milan-v2/vcek.der")));
  transport->setResponse(kMilanChainUrl, 200,
                         toString(readTestData("snp/aci-milan-v2/ask_ark.pem")));
  StatusOr<Collateral> c =
      makeProvider(transport, hermeticOptions(root.path()))->fetch(aciReport());
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().code() == StatusCode::FailedPrecondition);
  CHECK(c.status().message() ==
        std::string("collateral: VCEK TCB bl=2 tee=0 snp=5 ucode=68 (0x4405000000000002) from "
                    "thim:") +
            kThimUrl +
            " != REPORTED_TCB bl=3 tee=0 snp=8 ucode=115 (0x7308000000000003); after "
            "refetching: VCEK TCB bl=2 tee=0 snp=5 ucode=68 (0x4405000000000002) from kds:" +
            kAciVcekUrl + " != REPORTED_TCB bl=3 tee=0 snp=8 ucode=115 (0x7308000000000003)");
  // Exactly one refetch.
  CHECK(transport->requestedUrls() ==
        std::vector<std::string>{kThimUrl, kAciVcekUrl, kMilanChainUrl});
}

TEST_CASE("a THIM tcbm that differs from REPORTED_TCB also triggers the refetch",
          "[snp][collateral]") {
  TempDir root;
  auto transport = std::make_shared<FakeHttpTransport>();
  // Right VCEK, wrong tcbm; KDS disabled so the mismatch is final.
  std::string json = aciThimJson();
  const std::size_t at = json.find("7308000000000003");
  REQUIRE(at != std::string::npos);
  json.replace(at, 16, "7309000000000003");
  transport->setResponse(kThimUrl, 200, json);
  CollateralOptions o = hermeticOptions(root.path());
  o.use_kds = false;
  StatusOr<Collateral> c = makeProvider(transport, o)->fetch(aciReport());
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().code() == StatusCode::FailedPrecondition);
  CHECK(c.status().message() == std::string("collateral: tcbm 7309000000000003 from thim:") +
                                    kThimUrl +
                                    " != REPORTED_TCB bl=3 tee=0 snp=8 ucode=115 "
                                    "(0x7308000000000003)");
}

TEST_CASE("a second fetch for the same chip and TCB is served from the cache",
          "[snp][collateral]") {
  TempDir root;
  auto transport = std::make_shared<FakeHttpTransport>();
  transport->setResponse(kThimUrl, 200, aciThimJson());
  auto provider = makeProvider(transport, hermeticOptions(root.path()));
  StatusOr<Collateral> first = provider->fetch(aciReport());
  REQUIRE(first.ok());
  CHECK(transport->requestCount() == 1);
  transport->clearResponses();  // a second request would now fail
  StatusOr<Collateral> second = provider->fetch(aciReport());
  REQUIRE(second.ok());
  CHECK(transport->requestCount() == 1);
  CHECK(second->vek.der() == first->vek.der());
  CHECK(second->source == first->source);

  // Another REPORTED_TCB is another key: it goes to the network again.
  SnpReport other = aciReport();
  other.reported_tcb = 0x7309000000000003ULL;
  StatusOr<Collateral> third = provider->fetch(other);
  CHECK_FALSE(third.ok());
  CHECK(transport->requestCount() > 1);
}

TEST_CASE("KDS cannot serve a report whose CHIP_ID is masked", "[snp][collateral]") {
  TempDir root;
  auto transport = std::make_shared<FakeHttpTransport>();
  CollateralOptions o = hermeticOptions(root.path());
  o.use_thim = false;
  SnpReport report = aciReport();
  report.chip_id.fill(0);
  StatusOr<Collateral> c = makeProvider(transport, o)->fetch(report);
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().code() == StatusCode::FailedPrecondition);
  CHECK_THAT(c.status().message(), Catch::Contains("CHIP_ID is zero"));
  CHECK(transport->requestCount() == 0);
}

TEST_CASE("a VLEK from THIM without a chain gets the VLEK cert_chain from KDS",
          "[snp][collateral]") {
  TempDir root;
  SnpReport report = aciReport();
  report.signer_info = 1 << 2;  // SIGNING_KEY = VLEK
  auto vlek = skr::testing::mintCertificate(
      "SEV-VLEK", "SEV-VLEK-Milan", nullptr,
      skr::testing::amdVcekExtensions("Milan-B0", 3, 0, 8, 115, std::nullopt));
  auto transport = std::make_shared<FakeHttpTransport>();
  transport->setResponse(kThimUrl, 200,
                         "{\"vcekCert\":\"" + jsonEscaped(vlek.certificate.toPem()) +
                             "\",\"tcbm\":\"7308000000000003\"}");
  const std::string vlek_chain_url = "https://kdsintf.amd.com/vlek/v1/Milan/cert_chain";
  transport->setResponse(
      vlek_chain_url, 200,
      toString(readTestData("amd/milan_asvk.pem")) + toString(readTestData("amd/milan_ark.pem")));
  StatusOr<Collateral> c = makeProvider(transport, hermeticOptions(root.path()))->fetch(report);
  INFO(c.status().toString());
  REQUIRE(c.ok());
  CHECK(transport->requestedUrls() == std::vector<std::string>{kThimUrl, vlek_chain_url});
  CHECK(c->vek.der() == vlek.certificate.der());
  REQUIRE(c->chain.size() == 2);
  CHECK(c->chain[0].subjectCommonName() == "SEV-VLEK-Milan");
  CHECK(c->chain[1].subjectCommonName() == "ARK-Milan");
}

TEST_CASE("KDS is not asked for a VLEK", "[snp][collateral]") {
  TempDir root;
  SnpReport report = aciReport();
  report.signer_info = 1 << 2;  // SIGNING_KEY = VLEK
  auto transport = std::make_shared<FakeHttpTransport>();
  CollateralOptions o = hermeticOptions(root.path());
  o.use_thim = false;
  StatusOr<Collateral> c = makeProvider(transport, o)->fetch(report);
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().code() == StatusCode::FailedPrecondition);
  CHECK_THAT(c.status().message(),
             Catch::StartsWith("collateral: KDS: the report is signed with a VLEK"));
  CHECK(transport->requestCount() == 0);
}

TEST_CASE("the provider refuses a null transport and non-HTTP URLs", "[snp][collateral]") {
  auto no_transport = CollateralProvider::create(nullptr, CollateralOptions{});
  REQUIRE_FALSE(no_transport.ok());
  CHECK(no_transport.status().code() == StatusCode::InvalidArgument);
  CollateralOptions o;
  o.kds_base_url = "ftp://kds";
  auto bad = CollateralProvider::create(std::make_shared<FakeHttpTransport>(), o);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message() ==
        "collateral provider: KDS base URL 'ftp://kds' is not http:// or https://");
}

}  // namespace
}  // namespace skr::snp
