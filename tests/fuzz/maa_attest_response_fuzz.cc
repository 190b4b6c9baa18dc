// Fuzz target: the answer of MAA's AttestSevSnpVm (spec/azure-wire.md §1.3), as
// MaaClient::attest() meets it: HTTP status and body of POST /attest/SevSnpVm are bytes whoever
// answers in MAA's place controls. The first input byte picks the status (mostly 200), the rest
// is the body; "@TOKEN@" in it is replaced by a token the fixed /certs key signed for the fixed
// transfer key, so the envelope's success path stays reachable.
// Properties: nothing crashes; attest() succeeds only on a 200 whose "token" member is that
// token (no other bytes verify); 400/401/403 fail as PermissionDenied; every error message is
// bounded (2 KiB) and never contains the token.
#include <array>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "common/azure/maa_client.h"
#include "common/crypto/certificate_builder.h"
#include "common/encoding/base64.h"
#include "common/encoding/hex.h"
#include "common/jose/jws.h"
#include "common/log/logger.h"

namespace {

using namespace skr;  // NOLINT(google-build-using-namespace): fuzz driver

const std::string kEndpoint = "https://maa.fuzz";
const std::string kKid = "fuzz-kid";
constexpr int64_t kNow = 1767225600;

class FixedClock : public Clock {
 public:
  std::chrono::system_clock::time_point now() const override {
    return std::chrono::system_clock::time_point(std::chrono::seconds(kNow));
  }
  std::chrono::steady_clock::time_point steadyNow() const override {
    return std::chrono::steady_clock::time_point(std::chrono::hours(1000));
  }
  void sleepFor(std::chrono::milliseconds) override {}
};

class ZeroJitter : public http::JitterSource {
 public:
  double next() override { return 0.0; }
};

// Answers POST /attest/SevSnpVm with `status` and `body`, GET /certs with the fixed key.
class MaaTransport : public http::HttpTransport {
 public:
  int status = 200;
  std::string body;
  std::string certs;
  StatusOr<http::HttpResponse> send(const http::HttpRequest& request) override {
    http::HttpResponse r;
    if (request.url == kEndpoint + "/certs") {
      r.status = 200;
      r.body = certs;
    } else if (request.url.rfind(kEndpoint + "/attest/SevSnpVm?", 0) == 0) {
      r.status = status;
      r.body = body;
    } else {
      return unavailableError("fuzz: no route");
    }
    return r;
  }
};

// The /certs certificate of `signer`.
crypto::Certificate certificateOf(const crypto::PrivateKey& signer) {
  crypto::DistinguishedName subject;
  subject.common_name = kEndpoint;
  crypto::CertificateBuilder builder;
  builder.subject(subject)
      .serialNumber(uint64_t{1})
      .validity(crypto::TimePoint(std::chrono::seconds(1700000000)),
                crypto::TimePoint(std::chrono::seconds(2000000000)))
      .publicKey(signer.publicKey());
  return builder.sign(signer, crypto::CertificateSignatureAlg::RsaPkcs1Sha256).value();
}

struct Fixture {
  crypto::PrivateKey signer = crypto::PrivateKey::generateRsa(2048).value();
  azure::TransferKey transfer = azure::TransferKey::generate(2048).value();
  crypto::Certificate cert = certificateOf(signer);
  std::string certs;
  std::array<uint8_t, 64> report_data{};
  std::string token;

  Fixture() {
    log::setMinLevel(log::Level::Error);  // one "maa_attested" line per accepted input is noise
    certs = R"({"keys":[{"kid":")" + kKid + R"(","kty":"RSA","x5c":[")" +
            encoding::base64Encode(cert.der()) + R"("]}]})";
    const std::string runtime = azure::runtimeDataJson(transfer.public_jwk);
    report_data = azure::reportDataFor(runtime);
    const std::string claims =
        R"({"iss":")" + kEndpoint + R"(","exp":)" + std::to_string(kNow + 3600) + R"(,"nbf":)" +
        std::to_string(kNow - 60) +
        R"(,"x-ms-attestation-type":"sevsnpvm","x-ms-sevsnpvm-hostdata":")" + std::string(64, 'a') +
        R"(","x-ms-sevsnpvm-reportdata":")" + encoding::hexEncode(report_data) +
        R"(","x-ms-runtime":)" + runtime + "}";
    json::ObjectPtr header = new Poco::JSON::Object;
    header->set("kid", kKid);
    token = jose::signJws(signer, jose::JwsAlgorithm::RS256, asBytes(claims), header).value();
  }
};

void replaceAll(std::string& s, const std::string& from, const std::string& to) {
  for (std::size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size()) {
    s.replace(pos, from.size(), to);
  }
}

constexpr int kStatuses[] = {200, 200, 200, 200, 400, 401, 403, 404, 429, 500, 503, 302};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Fixture fixture;
  static FixedClock clock;
  static ZeroJitter jitter;
  if (size < 1) return 0;
  auto transport = std::make_shared<MaaTransport>();
  transport->certs = fixture.certs;
  transport->status = kStatuses[data[0] % (sizeof(kStatuses) / sizeof(kStatuses[0]))];
  transport->body.assign(reinterpret_cast<const char*>(data) + 1, size - 1);  // NOLINT
  replaceAll(transport->body, "@TOKEN@", fixture.token);

  azure::MaaOptions options;
  options.endpoint = kEndpoint;
  options.retry.max_attempts = 1;
  std::unique_ptr<azure::MaaClient> client =
      azure::MaaClient::create(transport, clock, jitter, options).value();
  const Bytes report(1184, 0);
  const snp::Collateral collateral{fixture.cert, {}, "0000000000000000", {}, {}, "fuzz"};
  StatusOr<azure::MaaToken> attested =
      client->attest(report, collateral, fixture.transfer, fixture.report_data);
  if (attested.ok()) {
    if (transport->status != 200 || attested->token != fixture.token) std::abort();
  } else {
    const Status& error = attested.status();
    const int status = transport->status;
    if ((status == 400 || status == 401 || status == 403) &&
        error.code() != StatusCode::PermissionDenied) {
      std::abort();
    }
    if (error.message().size() > 2048 || error.message().find(fixture.token) != std::string::npos) {
      std::abort();
    }
  }
  return 0;
}
