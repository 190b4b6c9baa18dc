// The emulated MAA over plain HTTPS (spec/azure-wire.md §1): a report from the emulated chip with
// the THIM chain from IMDS is attested, the token is verified against /certs' x5c and every claim
// is checked against the report; rejected evidence answers MAA's CloudError.
#include <catch2/catch.hpp>
#include <chrono>
#include <string>

#include "common/crypto/digest.h"
#include "common/crypto/pkey.h"
#include "common/crypto/x509.h"
#include "common/encoding/base64.h"
#include "common/encoding/hex.h"
#include "common/jose/jwk.h"
#include "common/jose/jws.h"
#include "common/snp/emulated_chip.h"
#include "common/snp/report.h"
#include "tests/fakes/test_pki.h"
#include "tests/fakes/uvm_endorsement_builder.h"
#include "tests/integration/emulator_process.h"

namespace skr::testing {
namespace {

const std::string kData = SKR_TEST_DATA_DIR;
const std::string kMeasurement(
    "8d3a0c1e5b7f9214a6c8e0f2b4d6f8a1c3e5f7091b3d5f7092b4d6f8a0c2e4f6a8b1d3f5a7c9e1f3b5d7f9a1c3e5f7"
    "09");
const std::string kHostData("cadd74f71ebb8fbf9782baab649612520f3c416bc5ce9ac768808ddc8d9b031c");

std::string runtimeJwks() {
  StatusOr<crypto::PrivateKey> key = crypto::PrivateKey::generateRsa(2048);
  REQUIRE(key.ok());
  jose::Jwk jwk = jose::Jwk::fromPublicKey(key->publicKey());
  jwk.setKid("TransferKey");
  StatusOr<json::ObjectPtr> pub = jwk.publicJson();
  REQUIRE(pub.ok());
  Poco::JSON::Array::Ptr ops = new Poco::JSON::Array;
  ops->add(std::string("encrypt"));
  (*pub)->set("key_ops", ops);
  Poco::JSON::Array::Ptr keys = new Poco::JSON::Array;
  keys->add(*pub);
  json::ObjectPtr jwks = new Poco::JSON::Object;
  jwks->set("keys", keys);
  jwks->set("Extra-Member", "kept as sent");
  return json::serializeCanonical(jwks).value();
}

// REPORT_DATA = SHA-256(runtime) || tail (§0 step 3), signed by the emulator's chip.
Bytes chipReport(const EmulatorProcess& emu, const std::string& runtime, uint8_t tail = 0) {
  StatusOr<snp::EmulatedChip> chip =
      snp::EmulatedChip::openOrCreate(emu.env().at("SKR_EMULATOR_CHIP_DIR"));
  REQUIRE(chip.ok());
  std::array<uint8_t, 64> report_data{};
  const Bytes hash = crypto::sha256(asBytes(runtime));
  std::copy(hash.begin(), hash.end(), report_data.begin());
  report_data[63] = tail;
  StatusOr<Bytes> report = chip->signReport(report_data, 0);
  REQUIRE(report.ok());
  return *report;
}

// VCEK + ASK + ARK as the confidential-sidecar concatenates THIM's fields (§1.2).
std::string thimChain(const EmulatorProcess& emu) {
  HttpResult r =
      emu.get(emu.url("imds") + "/metadata/THIM/amd/certification", {{"Metadata", "true"}});
  REQUIRE(r.status == 200);
  return r.json()->getValue<std::string>("vcekCert") +
         r.json()->getValue<std::string>("certificateChain");
}

std::string attestBody(const Bytes& report, const std::string& chain, const std::string& runtime,
                       const std::string& extra = {}, const std::vector<Bytes>& uvm = {}) {
  std::string inner = R"({"SnpReport":")" + encoding::base64UrlEncode(report) +
                      R"(","VcekCertChain":")" + encoding::base64UrlEncode(asBytes(chain)) + "\"";
  if (!uvm.empty()) {
    const std::string endorsements =
        R"({"Uvm":[")" + encoding::base64UrlEncode(uvm.front()) + "\"]}";
    inner += R"(,"Endorsements":")" + encoding::base64UrlEncode(asBytes(endorsements)) + "\"";
  }
  inner += "}";
  return R"({"report":")" + encoding::base64UrlEncode(asBytes(inner)) +
         R"(","runtimeData":{"data":")" + encoding::base64UrlEncode(asBytes(runtime)) +
         R"(","dataType":"JSON"})" + extra + "}";
}

HttpResult attest(const EmulatorProcess& emu, const std::string& body,
                  const std::string& listener = "maa",
                  const std::string& path = "/attest/SevSnpVm?api-version=2022-08-01") {
  return emu.post(emu.url(listener) + path, body);
}

// Verifies `token` with the x5c key /certs publishes for its kid; returns the claims.
json::ObjectPtr verifiedClaims(const EmulatorProcess& emu, const std::string& listener,
                               const std::string& token) {
  StatusOr<jose::Jws> jws = jose::Jws::parse(token);
  REQUIRE(jws.ok());
  REQUIRE(jws->algorithm() == jose::JwsAlgorithm::RS256);
  CHECK(jws->header()->getValue<std::string>("typ") == "JWT");
  CHECK(jws->header()->getValue<std::string>("jku") == emu.url(listener) + "/certs");
  HttpResult certs = emu.get(emu.url(listener) + "/certs");
  REQUIRE(certs.status == 200);
  json::ArrayPtr keys = certs.json()->getArray("keys");
  REQUIRE(keys->size() == 1);
  json::ObjectPtr jwk = keys->getObject(0);
  CHECK(jwk->getValue<std::string>("kid") == jws->kid().value_or(""));
  CHECK(jwk->getValue<std::string>("kty") == "RSA");
  CHECK_FALSE(jwk->has("n"));  // MAA publishes x5c only (§1.6)
  CHECK_FALSE(jwk->has("e"));
  StatusOr<Bytes> der = encoding::base64Decode(jwk->getArray("x5c")->getElement<std::string>(0));
  REQUIRE(der.ok());
  StatusOr<crypto::Certificate> cert = crypto::Certificate::fromDer(*der);
  REQUIRE(cert.ok());
  CHECK(cert->subjectCommonName() == emu.url(listener));
  CHECK(cert->verifySignedBy(*cert).ok());  // self-issued
  Status verified = jws->verify(cert->publicKey());
  INFO(verified.toString());
  REQUIRE(verified.ok());
  StatusOr<json::ObjectPtr> claims = jws->payloadJson();
  REQUIRE(claims.ok());
  return *claims;
}

void expectCloudError(const HttpResult& r, int status, const std::string& message_part) {
  INFO(r.status << " " << r.body << r.error);
  REQUIRE(r.status == status);
  json::ObjectPtr error = r.json()->getObject("error");
  REQUIRE(error);
  CHECK(!error->getValue<std::string>("code").empty());
  CHECK_THAT(error->getValue<std::string>("message"), Catch::Contains(message_part));
}

TEST_CASE(
    "MAA attests an emulated-chip report: RS256 token verified by /certs, every claim from "
    "the report",
    "[emulator][maa]") {
  auto emu = EmulatorProcess::start();
  emu->admin("PUT", "/_emulator/chip",
             R"({"measurement":")" + kMeasurement + R"(","host_data":")" + kHostData +
                 R"(","guest_svn":7})");
  const std::string runtime = runtimeJwks();
  const Bytes report_bytes = chipReport(*emu, runtime);
  StatusOr<snp::SnpReport> report = snp::SnpReport::parse(report_bytes);
  REQUIRE(report.ok());

  const int64_t before = std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  HttpResult r =
      attest(*emu, attestBody(report_bytes, thimChain(*emu), runtime, R"(,"nonce":"nonce-123")"));
  INFO(r.body);
  REQUIRE(r.status == 200);
  const std::string token = r.json()->getValue<std::string>("token");
  json::ObjectPtr c = verifiedClaims(*emu, "maa", token);

  CHECK(c->getValue<std::string>("iss") == emu->url("maa"));
  const int64_t iat = c->getValue<int64_t>("iat");
  CHECK(iat >= before - 5);
  CHECK(iat <= before + 300);
  CHECK(c->getValue<int64_t>("nbf") == iat);
  CHECK(c->getValue<int64_t>("exp") == iat + 28800);
  const std::string jti = c->getValue<std::string>("jti");
  CHECK(jti.size() == 64);
  CHECK(encoding::hexDecode(jti).ok());
  CHECK(c->getValue<std::string>("nonce") == "nonce-123");
  CHECK(c->getValue<std::string>("x-ms-ver") == "1.0");
  CHECK(c->getValue<std::string>("x-ms-attestation-type") == "sevsnpvm");
  CHECK(c->getValue<bool>("x-ms-emulated"));
  CHECK_FALSE(c->has("x-ms-compliance-status"));  // no UVM endorsement sent
  CHECK(!c->getValue<std::string>("x-ms-policy-hash").empty());
  CHECK(json::serializeCanonical(c->getObject("x-ms-runtime")).value() == runtime);
  CHECK(c->getObject("x-ms-runtime")->getValue<std::string>("Extra-Member") == "kept as sent");

  CHECK(c->getValue<std::string>("x-ms-sevsnpvm-launchmeasurement") == kMeasurement);
  CHECK(c->getValue<std::string>("x-ms-sevsnpvm-hostdata") == kHostData);
  CHECK(c->getValue<std::string>("x-ms-sevsnpvm-reportdata") ==
        encoding::hexEncode(report->report_data));
  CHECK(c->getValue<std::string>("x-ms-sevsnpvm-reportdata").substr(0, 64) ==
        encoding::hexEncode(crypto::sha256(asBytes(runtime))));
  CHECK(c->getValue<std::string>("x-ms-sevsnpvm-reportid") ==
        encoding::hexEncode(report->report_id));
  CHECK(c->getValue<std::string>("x-ms-sevsnpvm-idkeydigest") ==
        encoding::hexEncode(report->id_key_digest));
  CHECK(c->getValue<std::string>("x-ms-sevsnpvm-authorkeydigest") ==
        encoding::hexEncode(report->author_key_digest));
  CHECK(c->getValue<std::string>("x-ms-sevsnpvm-familyId") ==
        encoding::hexEncode(report->family_id));
  CHECK(c->getValue<std::string>("x-ms-sevsnpvm-imageId") == encoding::hexEncode(report->image_id));
  CHECK(c->getValue<int>("x-ms-sevsnpvm-guestsvn") == 7);
  CHECK(c->getValue<int>("x-ms-sevsnpvm-vmpl") == 0);
  CHECK(c->getValue<int>("x-ms-sevsnpvm-bootloader-svn") == 3);  // the chip's default TCB
  CHECK(c->getValue<int>("x-ms-sevsnpvm-tee-svn") == 0);
  CHECK(c->getValue<int>("x-ms-sevsnpvm-snpfw-svn") == 8);
  CHECK(c->getValue<int>("x-ms-sevsnpvm-microcode-svn") == 115);
  CHECK_FALSE(c->getValue<bool>("x-ms-sevsnpvm-is-debuggable"));
  CHECK(c->getValue<bool>("x-ms-sevsnpvm-smt-allowed"));
  CHECK_FALSE(c->getValue<bool>("x-ms-sevsnpvm-migration-allowed"));

  // OpenID metadata names the same issuer and key set.
  HttpResult oidc = emu->get(emu->url("maa") + "/.well-known/openid-configuration");
  REQUIRE(oidc.status == 200);
  CHECK(oidc.json()->getValue<std::string>("issuer") == emu->url("maa"));
  CHECK(oidc.json()->getValue<std::string>("jwks_uri") == emu->url("maa") + "/certs");
  CHECK(
      oidc.json()->getArray("id_token_signing_alg_values_supported")->getElement<std::string>(0) ==
      "RS256");

  // SIDECAR's spelling of the path, the older api-version and a numeric nonce.
  HttpResult sidecar =
      attest(*emu, attestBody(report_bytes, thimChain(*emu), runtime, R"(,"nonce":9876543210)"),
             "maa", "/attest/SevSnpVM?api-version=2020-10-01");
  REQUIRE(sidecar.status == 200);
  json::ObjectPtr c2 = verifiedClaims(*emu, "maa", sidecar.json()->getValue<std::string>("token"));
  CHECK(c2->get("nonce").isString());
  CHECK(c2->getValue<std::string>("nonce") == "9876543210");
  CHECK(c2->getValue<std::string>("jti") != jti);
}

TEST_CASE("a token from maa2 carries maa2's issuer and key, which maa's /certs does not verify",
          "[emulator][maa]") {
  auto emu = EmulatorProcess::start();
  const std::string runtime = R"({"keys":[]})";
  HttpResult r =
      attest(*emu, attestBody(chipReport(*emu, runtime), thimChain(*emu), runtime), "maa2");
  REQUIRE(r.status == 200);
  const std::string token = r.json()->getValue<std::string>("token");
  json::ObjectPtr c = verifiedClaims(*emu, "maa2", token);
  CHECK(c->getValue<std::string>("iss") == emu->url("maa2"));
  CHECK(emu->url("maa2") != emu->url("maa"));

  HttpResult maa_certs = emu->get(emu->url("maa") + "/certs");
  REQUIRE(maa_certs.status == 200);
  json::ObjectPtr maa_jwk = maa_certs.json()->getArray("keys")->getObject(0);
  StatusOr<jose::Jws> jws = jose::Jws::parse(token);
  REQUIRE(jws.ok());
  CHECK(jws->kid().value_or("") != maa_jwk->getValue<std::string>("kid"));
  StatusOr<Bytes> der =
      encoding::base64Decode(maa_jwk->getArray("x5c")->getElement<std::string>(0));
  REQUIRE(der.ok());
  StatusOr<crypto::Certificate> maa_cert = crypto::Certificate::fromDer(*der);
  REQUIRE(maa_cert.ok());
  CHECK(jws->verify(maa_cert->publicKey()).code() == StatusCode::DataLoss);

  // The admin setting for the MAA token lifetime: negative values mint expired tokens.
  json::ObjectPtr settings =
      emu->admin("PUT", "/_emulator/settings", R"({"maa_token_lifetime_seconds":-600})");
  CHECK(settings->getValue<int64_t>("maa_token_lifetime_seconds") == -600);
  HttpResult expired =
      attest(*emu, attestBody(chipReport(*emu, runtime), thimChain(*emu), runtime), "maa2");
  REQUIRE(expired.status == 200);
  json::ObjectPtr e = verifiedClaims(*emu, "maa2", expired.json()->getValue<std::string>("token"));
  CHECK(e->getValue<int64_t>("exp") == e->getValue<int64_t>("iat") - 600);
  HttpCall bad;
  bad.method = "PUT";
  bad.url = emu->url("admin") + "/_emulator/settings";
  bad.body = R"({"maa_token_lifetime_seconds":99999999})";
  CHECK(emu->call(bad).status == 400);
}

TEST_CASE("MAA rejects bad evidence and bad requests with a CloudError naming the failed check",
          "[emulator][maa]") {
  auto emu = EmulatorProcess::start();
  const std::string runtime = R"({"keys":[{"kid":"k"}]})";
  const Bytes report = chipReport(*emu, runtime);
  const std::string chain = thimChain(*emu);
  REQUIRE(attest(*emu, attestBody(report, chain, runtime)).status == 200);

  // Runtime data other than what REPORT_DATA binds.
  expectCloudError(attest(*emu, attestBody(report, chain, R"({"keys":[{"kid":"other"}]})")), 400,
                   "runtime-data: SHA-256 of runtimeData");
  // A flipped byte in the signed part of the report.
  Bytes flipped = report;
  flipped[0x90] ^= 0x80;
  expectCloudError(attest(*emu, attestBody(flipped, chain, runtime)), 400, "report-signature:");
  // AMD's real (ACI fixture) chain with the emulated chip's report.
  const std::string amd_chain = readFileText(kData + "/snp/aci-milan-v2/vcek.pem") +
                                readFileText(kData + "/snp/aci-milan-v2/ask_ark.pem");
  expectCloudError(attest(*emu, attestBody(report, amd_chain, runtime)), 400, "report-signature:");
  // A chain whose root nobody trusts: the emulated VCEK and ASK under a foreign "ARK".
  TestCa foreign = TestCa::create("foreign ARK");
  const std::string no_ark =
      chain.substr(0, chain.rfind("-----BEGIN CERTIFICATE-----")) + foreign.certificate().toPem();
  expectCloudError(attest(*emu, attestBody(report, no_ark, runtime)), 400, "ark:");
  // REPORT_DATA[32:64] not zero.
  expectCloudError(attest(*emu, attestBody(chipReport(*emu, runtime, 0x5a), chain, runtime)), 400,
                   "runtime-data: REPORT_DATA[32:64] is not zero");
  // initTimeData that is not what HOST_DATA binds.
  expectCloudError(
      attest(*emu, attestBody(report, chain, runtime,
                              R"(,"initTimeData":{"data":"YWJj","dataType":"Binary"})")),
      400, "init-time-data:");
  // Malformed base64, JSON, members.
  expectCloudError(
      attest(*emu, R"({"report":"!!!","runtimeData":{"data":"e30","dataType":"JSON"}})"), 400,
      "member 'report' is not base64url");
  expectCloudError(attest(*emu, "{\"report\": "), 400, "body is not a JSON object");
  expectCloudError(
      attest(*emu, R"({"report":"e30","runtimeData":{"data":"e30","dataType":"JSON"}})"), 400,
      "SnpReport");
  // api-version: missing, unknown.
  expectCloudError(attest(*emu, attestBody(report, chain, runtime), "maa", "/attest/SevSnpVm"), 400,
                   "api-version query parameter is required");
  expectCloudError(attest(*emu, attestBody(report, chain, runtime), "maa",
                          "/attest/SevSnpVm?api-version=2099-01-01"),
                   400, "api-version '2099-01-01' is not supported");
  // Other TEE types are not emulated.
  expectCloudError(attest(*emu, attestBody(report, chain, runtime), "maa",
                          "/attest/SgxEnclave?api-version=2022-08-01"),
                   404, "SgxEnclave");
  // Over MAA's 512 KiB request limit (and under the server's 1 MiB one).
  expectCloudError(attest(*emu, std::string(600 * 1024, ' ')), 413,
                   "the emulated MAA accepts at most 524288");
}

TEST_CASE(
    "a UVM endorsement over the chip's measurement yields azure-compliant-uvm, one over "
    "another measurement is rejected",
    "[emulator][maa]") {
  auto emu = EmulatorProcess::start();
  emu->admin("PUT", "/_emulator/chip", R"({"measurement":")" + kMeasurement + "\"}");
  const std::string runtime = R"({"keys":[]})";
  const Bytes report = chipReport(*emu, runtime);
  const std::string chain = thimChain(*emu);

  TestCa root = TestCa::create("UVM signing root (test)");
  CertificateProfile p = profile("UVM signer (test)");
  p.key_type = TestKeyType::EcP384;
  IssuedCertificate leaf = root.issue(p);
  UvmEndorsementSpec spec;
  spec.launch_measurement_hex = kMeasurement;
  spec.x5chain = {leaf.certificate, root.certificate()};
  HttpResult ok =
      attest(*emu, attestBody(report, chain, runtime, {}, {makeUvmEndorsement(spec, leaf.key)}));
  INFO(ok.body);
  REQUIRE(ok.status == 200);
  json::ObjectPtr c = verifiedClaims(*emu, "maa", ok.json()->getValue<std::string>("token"));
  CHECK(c->getValue<std::string>("x-ms-compliance-status") == "azure-compliant-uvm");

  spec.launch_measurement_hex = std::string(96, 'e');
  expectCloudError(
      attest(*emu, attestBody(report, chain, runtime, {}, {makeUvmEndorsement(spec, leaf.key)})),
      400, "uvm-endorsement: endorsed launch measurement");
}

TEST_CASE("the wrong_key fault makes MAA sign with a key its /certs does not publish",
          "[emulator][maa]") {
  auto emu = EmulatorProcess::start();
  emu->admin("POST", "/_emulator/faults", R"({"listener":"maa","action":"wrong_key"})");
  const std::string runtime = R"({"keys":[]})";
  HttpResult r = attest(*emu, attestBody(chipReport(*emu, runtime), thimChain(*emu), runtime));
  REQUIRE(r.status == 200);
  StatusOr<jose::Jws> jws = jose::Jws::parse(r.json()->getValue<std::string>("token"));
  REQUIRE(jws.ok());
  HttpResult certs = emu->get(emu->url("maa") + "/certs");
  json::ObjectPtr jwk = certs.json()->getArray("keys")->getObject(0);
  CHECK(jws->kid().value_or("") == jwk->getValue<std::string>("kid"));
  StatusOr<Bytes> der = encoding::base64Decode(jwk->getArray("x5c")->getElement<std::string>(0));
  REQUIRE(der.ok());
  StatusOr<crypto::Certificate> cert = crypto::Certificate::fromDer(*der);
  REQUIRE(cert.ok());
  CHECK(jws->verify(cert->publicKey()).code() == StatusCode::DataLoss);
}

}  // namespace
}  // namespace skr::testing
