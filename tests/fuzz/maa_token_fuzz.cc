// Fuzz target: MaaClient::verifyToken over bytes an MAA instance (or whoever answers in its
// place) controls. The first input byte picks what the rest is:
//   'T'  a compact token, verified as is against a fixed /certs;
//   'C'  a claims payload, signed by the fixed /certs key under its kid, then verified (reaches
//        the claim checks); "@N@" and "@RD@" are replaced by the transfer key's n and the
//        expected report data (hex) so the success path stays reachable;
//   'K'  a /certs body served for a token signed with the fixed key.
// Properties: nothing crashes; an accepted token has the pinned issuer, 64-hex hostdata and a
// positive expiry; no error message contains the token (one of 256 bytes or more: shorter ones
// can be spelled by the fixed message text).
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "common/azure/maa_client.h"
#include "common/crypto/certificate_builder.h"
#include "common/encoding/base64.h"
#include "common/encoding/hex.h"
#include "common/jose/jws.h"

namespace {

using namespace skr;  // NOLINT(google-build-using-namespace): fuzz driver

const std::string kEndpoint = "https://maa.fuzz";
const std::string kKid = "fuzz-kid";

class FixedClock : public Clock {
 public:
  std::chrono::system_clock::time_point now() const override {
    return std::chrono::system_clock::time_point(std::chrono::seconds(1767225600));
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

// Serves `certs` for GET {endpoint}/certs; anything else is unreachable.
class CertsTransport : public http::HttpTransport {
 public:
  std::string certs;
  StatusOr<http::HttpResponse> send(const http::HttpRequest& request) override {
    if (request.url != kEndpoint + "/certs") return unavailableError("fuzz: no route");
    http::HttpResponse r;
    r.status = 200;
    r.body = certs;
    return r;
  }
};

struct Fixture {
  crypto::PrivateKey signer = crypto::PrivateKey::generateRsa(2048).value();
  azure::TransferKey transfer = azure::TransferKey::generate(2048).value();
  std::string certs;
  std::string n;
  std::array<uint8_t, 64> report_data{};

  Fixture() {
    crypto::DistinguishedName subject;
    subject.common_name = kEndpoint;
    crypto::CertificateBuilder builder;
    builder.subject(subject)
        .serialNumber(uint64_t{1})
        .validity(crypto::TimePoint(std::chrono::seconds(1700000000)),
                  crypto::TimePoint(std::chrono::seconds(2000000000)))
        .publicKey(signer.publicKey());
    const crypto::Certificate cert =
        builder.sign(signer, crypto::CertificateSignatureAlg::RsaPkcs1Sha256).value();
    certs = R"({"keys":[{"kid":")" + kKid + R"(","kty":"RSA","x5c":[")" +
            encoding::base64Encode(cert.der()) + R"("]}]})";
    n = encoding::base64UrlEncode(transfer.public_jwk.publicKey().value()->rsaComponents()->n);
    report_data = azure::reportDataFor(azure::runtimeDataJson(transfer.public_jwk));
  }

  std::string sign(const std::string& payload) const {
    json::ObjectPtr header = new Poco::JSON::Object;
    header->set("kid", kKid);
    StatusOr<std::string> token =
        jose::signJws(signer, jose::JwsAlgorithm::RS256, asBytes(payload), header);
    if (!token.ok()) std::abort();
    return *token;
  }
};

void replaceAll(std::string& s, const std::string& from, const std::string& to) {
  for (std::size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size()) {
    s.replace(pos, from.size(), to);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Fixture fixture;
  static FixedClock clock;
  static ZeroJitter jitter;
  if (size < 1) return 0;
  const char mode = static_cast<char>(data[0]);
  std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);  // NOLINT

  auto transport = std::make_shared<CertsTransport>();
  transport->certs = fixture.certs;
  std::string token;
  if (mode == 'T') {
    token = rest;
  } else if (mode == 'C') {
    replaceAll(rest, "@N@", fixture.n);
    replaceAll(rest, "@RD@", encoding::hexEncode(fixture.report_data));
    token = fixture.sign(rest);
  } else if (mode == 'K') {
    transport->certs = rest;
    token = fixture.sign(R"({"iss":")" + kEndpoint + R"(","exp":1767229200})");
  } else {
    return 0;
  }
  azure::MaaOptions options;
  options.endpoint = kEndpoint;
  options.retry.max_attempts = 1;
  std::unique_ptr<azure::MaaClient> client =
      azure::MaaClient::create(transport, clock, jitter, options).value();
  StatusOr<azure::MaaToken> verified =
      client->verifyToken(token, fixture.transfer.public_jwk, fixture.report_data);
  if (verified.ok()) {
    if (verified->issuer != kEndpoint || verified->hostdata.size() != 64 ||
        verified->expires_at.time_since_epoch().count() <= 0 || verified->token != token) {
      std::abort();
    }
  } else if (token.size() >= 256 && verified.status().message().find(token) != std::string::npos) {
    // Long enough that no fixed message text (nor anything decoded from a shorter token) can
    // spell it: a 16-byte cut of "JWS compact serialization must ..." once did.
    std::abort();
  }
  return 0;
}
