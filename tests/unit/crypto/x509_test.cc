#include "common/crypto/x509.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "common/crypto/digest.h"
#include "tests/fakes/test_pki.h"

namespace skr::crypto {
namespace {

using std::chrono::hours;
using std::chrono::seconds;

// Fixtures: tests/data/README.md.
std::string dataPath(const std::string& relative) {
  return std::string(SKR_TEST_DATA_DIR) + "/" + relative;
}

std::string readText(const std::string& relative) {
  std::ifstream in(dataPath(relative), std::ios::binary | std::ios::ate);
  REQUIRE(in.good());
  std::string text(static_cast<std::size_t>(in.tellg()), '\0');
  in.seekg(0);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  REQUIRE(in.good());
  return text;
}

Bytes readBytes(const std::string& relative) {
  return toBytes(readText(relative));
}

Certificate loadPem(const std::string& relative) {
  auto cert = Certificate::fromPem(readText(relative));
  INFO(relative << ": " << cert.status().toString());
  REQUIRE(cert.ok());
  return *cert;
}

std::string hex(ByteView bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (uint8_t b : bytes) {
    out += kDigits[b >> 4];
    out += kDigits[b & 0xF];
  }
  return out;
}

// "2020-10-22T18:24:20+00:00" (the form fingerprints.json uses; always UTC).
TimePoint parseUtc(const std::string& text) {
  std::tm tm{};
  int consumed = 0;
  REQUIRE(std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d+00:00%n", &tm.tm_year, &tm.tm_mon,
                      &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) == 6);
  REQUIRE(static_cast<std::size_t>(consumed) == text.size());
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

TimePoint utc(int y, unsigned m, unsigned d, int hh = 0, int mm = 0, int ss = 0) {
  return std::chrono::sys_days{std::chrono::year{y} / std::chrono::month{m} / std::chrono::day{d}} +
         hours(hh) + std::chrono::minutes(mm) + seconds(ss);
}

// Base64 PEM block of `der` with the given label (64-column lines, as openssl writes).
std::string pemBlock(const std::string& label, ByteView der) {
  std::string b64(((der.size() + 2) / 3) * 4 + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()),  // NOLINT
                          der.data(), static_cast<int>(der.size()));
  b64.resize(static_cast<std::size_t>(n));
  std::string out = "-----BEGIN " + label + "-----\n";
  for (std::size_t i = 0; i < b64.size(); i += 64) out += b64.substr(i, 64) + "\n";
  return out + "-----END " + label + "-----\n";
}

// A DER INTEGER that fits in 64 bits (AMD's SPL extensions: 02 01 08, 02 02 00 d1, ...).
std::optional<uint64_t> derSmallInteger(const Bytes& der) {
  if (der.size() < 3 || der[0] != 0x02 || der[1] != der.size() - 2 || der[1] > 9) return {};
  if ((der[2] & 0x80) != 0) return {};  // negative
  uint64_t v = 0;
  for (std::size_t i = 2; i < der.size(); ++i) v = (v << 8) | der[i];
  return v;
}

// A short DER IA5String (AMD productName1: 16 08 "Milan-B0").
std::optional<std::string> derIa5String(const Bytes& der) {
  if (der.size() < 2 || der[0] != 0x16 || der[1] != der.size() - 2 || der[1] > 127) return {};
  return std::string(der.begin() + 2, der.end());
}

// AMD's hwID is the raw 64-byte chip ID in these fixtures (extnValue content octets = the ID, not a
// nested OCTET STRING); accept the nested form too (04 40 <64 bytes>).
Bytes hwIdBytes(const Bytes& value) {
  if (value.size() == 66 && value[0] == 0x04 && value[1] == 0x40) {
    return Bytes(value.begin() + 2, value.end());
  }
  return value;
}

Poco::JSON::Object::Ptr loadJson(const std::string& relative) {
  Poco::JSON::Parser parser;
  return parser.parse(readText(relative)).extract<Poco::JSON::Object::Ptr>();
}

const char* const kAmdPems[] = {"milan_ark.pem", "milan_ask.pem", "milan_asvk.pem",
                                "genoa_ark.pem", "genoa_ask.pem", "genoa_asvk.pem",
                                "turin_ark.pem", "turin_ask.pem", "turin_asvk.pem"};
constexpr const char* kRsassaPssOid = "1.2.840.113549.1.1.10";

ChainVerifyOptions at(TimePoint t, std::optional<std::string> hostname = std::nullopt) {
  ChainVerifyOptions options;
  options.at = t;
  options.hostname = std::move(hostname);
  return options;
}

TEST_CASE("AMD ARK/ASK/ASVK parse with the fields recorded in fingerprints.json", "[x509]") {
  auto fingerprints = loadJson("amd/fingerprints.json");
  REQUIRE(fingerprints->size() == 9);
  for (const char* file : kAmdPems) {
    INFO(file);
    Certificate cert = loadPem(std::string("amd/") + file);
    auto expected = fingerprints->getObject(file);
    REQUIRE(expected);
    CHECK(cert.subjectCommonName() == expected->getValue<std::string>("subject_cn"));
    CHECK(cert.issuerCommonName() == expected->getValue<std::string>("issuer_cn"));
    CHECK("0x" + cert.serialHex() == expected->getValue<std::string>("serial"));
    CHECK(cert.notBefore() == parseUtc(expected->getValue<std::string>("not_before")));
    CHECK(cert.notAfter() == parseUtc(expected->getValue<std::string>("not_after")));
    CHECK(hex(cert.sha256Fingerprint()) == expected->getValue<std::string>("sha256_der"));
    CHECK(cert.signatureAlgorithmOid() == kRsassaPssOid);
    CHECK(cert.signatureAlgorithmOid() == expected->getValue<std::string>("sig_alg_oid"));
    PublicKey key = cert.publicKey();
    CHECK(key.type() == KeyType::Rsa);
    CHECK(key.bits() == expected->getValue<int>("rsa_bits"));
    CHECK(hex(sha256(key.toSpkiDer())) == expected->getValue<std::string>("sha256_spki"));
    CHECK(cert.isSelfIssued() == (cert.subjectCommonName().rfind("ARK-", 0) == 0));
  }
}

TEST_CASE("a certificate survives a PEM round trip byte for byte", "[x509]") {
  Certificate ark = loadPem("amd/milan_ark.pem");
  auto again = Certificate::fromPem(ark.toPem());
  REQUIRE(again.ok());
  CHECK(again->der() == ark.der());
  CHECK(ark.toPem() == readText("amd/milan_ark.pem"));
  CHECK(ark.subjectOneLine() ==
        "CN=ARK-Milan,O=Advanced Micro Devices,ST=CA,L=Santa Clara,C=US,OU=Engineering");

  Certificate copy = ark;  // copies share the X509 and stay valid after the original goes
  {
    Certificate moved = std::move(ark);
    CHECK(moved.der() == copy.der());
  }
  CHECK(copy.subjectCommonName() == "ARK-Milan");
}

TEST_CASE("each AMD generation's ARK is self-signed and signs its ASK and ASVK", "[x509]") {
  for (std::string gen : {"milan", "genoa", "turin"}) {
    INFO(gen);
    Certificate ark = loadPem("amd/" + gen + "_ark.pem");
    Certificate ask = loadPem("amd/" + gen + "_ask.pem");
    Certificate asvk = loadPem("amd/" + gen + "_asvk.pem");
    CHECK(ark.verifySignedBy(ark).ok());
    CHECK(ask.verifySignedBy(ark).ok());
    CHECK(asvk.verifySignedBy(ark).ok());
    // The ASK is not a root: its own key did not sign it, nor the ARK.
    CHECK(ask.verifySignedBy(ask).code() == StatusCode::DataLoss);
    CHECK(ark.verifySignedBy(ask).code() == StatusCode::DataLoss);
  }
}

TEST_CASE("a Genoa ASK is not signed by the Milan ARK: DataLoss naming both", "[x509]") {
  Certificate milan_ark = loadPem("amd/milan_ark.pem");
  Certificate genoa_ask = loadPem("amd/genoa_ask.pem");
  Status s = genoa_ask.verifySignedBy(milan_ark);
  CHECK(s.code() == StatusCode::DataLoss);
  CHECK_THAT(s.message(), Catch::Contains("SEV-Genoa") && Catch::Contains("ARK-Milan"));

  Certificate turin_asvk = loadPem("amd/turin_asvk.pem");
  CHECK(turin_asvk.verifySignedBy(loadPem("amd/genoa_ark.pem")).code() == StatusCode::DataLoss);
}

TEST_CASE("AMD ARKs chain with OpenSSL's X509_verify_cert (strict mode off)", "[x509]") {
  for (std::string gen : {"milan", "genoa", "turin"}) {
    INFO(gen);
    Certificate ark = loadPem("amd/" + gen + "_ark.pem");
    Certificate ask = loadPem("amd/" + gen + "_ask.pem");
    std::vector<Certificate> roots{ark};
    Status s = verifyChain(ask, {}, roots, at(utc(2030, 1, 1)));
    INFO(s.toString());
    CHECK(s.ok());
  }
}

// A VCEK fixture with the ASK/ARK its source published next to it.
struct VcekFixture {
  const char* name;
  Certificate vcek;
  Certificate ask;
  Certificate ark;
};

std::vector<VcekFixture> loadVcekFixtures() {
  std::vector<VcekFixture> out;
  for (const char* dir : {"snp/aci-milan-v2", "snp/gosevguest-milan-v2"}) {
    std::string base = dir;
    Bytes vcek_data = base == "snp/aci-milan-v2" ? readBytes(base + "/vcek.pem")   // PEM
                                                 : readBytes(base + "/vcek.der");  // DER
    auto vcek = Certificate::fromPemOrDer(vcek_data);
    INFO(base << ": " << vcek.status().toString());
    REQUIRE(vcek.ok());
    auto ask_ark = Certificate::parsePemBundle(readText(base + "/ask_ark.pem"));
    REQUIRE(ask_ark.ok());
    REQUIRE(ask_ark->size() == 2);
    out.push_back(VcekFixture{dir, *vcek, (*ask_ark)[0], (*ask_ark)[1]});
  }
  return out;
}

TEST_CASE("the fixture VCEKs have the validity windows the pinned times rely on", "[x509]") {
  auto fixtures = loadVcekFixtures();
  // Read from the certificates (openssl x509 -dates); both VCEKs are valid 2022 .. 2029.
  CHECK(fixtures[0].vcek.notBefore() == utc(2022, 11, 29, 1, 55, 56));
  CHECK(fixtures[0].vcek.notAfter() == utc(2029, 11, 29, 1, 55, 56));
  CHECK(fixtures[1].vcek.notBefore() == utc(2022, 9, 24, 0, 55, 28));
  CHECK(fixtures[1].vcek.notAfter() == utc(2029, 9, 24, 0, 55, 28));
  for (const auto& f : fixtures) {
    INFO(f.name);
    CHECK(f.vcek.subjectCommonName() == "SEV-VCEK");
    CHECK(f.vcek.issuerCommonName() == "SEV-Milan");
    CHECK(f.vcek.serialHex() == "0");  // AMD VCEKs have serial 0 (and no AKI)
    CHECK(f.vcek.signatureAlgorithmOid() == kRsassaPssOid);
    CHECK(f.vcek.publicKey().type() == KeyType::Ec);
    CHECK(f.vcek.publicKey().curve().ok());
    CHECK(*f.vcek.publicKey().curve() == Curve::P384);
    CHECK(f.ask.der() == loadPem("amd/milan_ask.pem").der());
    CHECK(f.ark.der() == loadPem("amd/milan_ark.pem").der());
  }
}

TEST_CASE("a genuine VCEK chains to its ASK and ARK at a time inside every validity", "[x509]") {
  for (const auto& f : loadVcekFixtures()) {
    INFO(f.name);
    // One day after the latest notBefore of the three (the VCEK's), well before any notAfter.
    TimePoint pinned =
        std::max({f.vcek.notBefore(), f.ask.notBefore(), f.ark.notBefore()}) + hours(24);
    REQUIRE(pinned < std::min({f.vcek.notAfter(), f.ask.notAfter(), f.ark.notAfter()}));

    CHECK(f.vcek.verifySignedBy(f.ask).ok());
    CHECK(f.ask.verifySignedBy(f.ark).ok());
    CHECK(f.ark.verifySignedBy(f.ark).ok());
    CHECK(f.vcek.verifySignedBy(f.ark).code() == StatusCode::DataLoss);

    std::vector<Certificate> intermediates{f.ask};
    std::vector<Certificate> roots{f.ark};
    Status s = verifyChain(f.vcek, intermediates, roots, at(pinned));
    INFO(s.toString());
    CHECK(s.ok());
  }
}

TEST_CASE("a VCEK chain fails with FailedPrecondition before notBefore and after notAfter",
          "[x509]") {
  for (const auto& f : loadVcekFixtures()) {
    INFO(f.name);
    std::vector<Certificate> intermediates{f.ask};
    std::vector<Certificate> roots{f.ark};

    Status early = verifyChain(f.vcek, intermediates, roots, at(f.vcek.notBefore() - seconds(1)));
    CHECK(early.code() == StatusCode::FailedPrecondition);
    CHECK_THAT(early.message(),
               Catch::Contains("SEV-VCEK") && Catch::Contains("certificate is not yet valid"));

    Status late = verifyChain(f.vcek, intermediates, roots, at(f.vcek.notAfter() + seconds(1)));
    CHECK(late.code() == StatusCode::FailedPrecondition);
    CHECK_THAT(late.message(),
               Catch::Contains("SEV-VCEK") && Catch::Contains("certificate has expired"));

    // OpenSSL's window (X509_cmp_time): notBefore is inclusive, notAfter exclusive.
    CHECK(verifyChain(f.vcek, intermediates, roots, at(f.vcek.notBefore())).ok());
    CHECK(verifyChain(f.vcek, intermediates, roots, at(f.vcek.notAfter() - seconds(1))).ok());
    CHECK(verifyChain(f.vcek, intermediates, roots, at(f.vcek.notAfter())).code() ==
          StatusCode::FailedPrecondition);
  }
}

TEST_CASE("a Milan VCEK does not chain to the Genoa ASK and ARK: DataLoss", "[x509]") {
  auto fixtures = loadVcekFixtures();
  const auto& f = fixtures[0];
  std::vector<Certificate> intermediates{loadPem("amd/genoa_ask.pem")};
  std::vector<Certificate> roots{loadPem("amd/genoa_ark.pem")};
  Status s = verifyChain(f.vcek, intermediates, roots, at(f.vcek.notBefore() + hours(24)));
  CHECK(s.code() == StatusCode::DataLoss);
  CHECK_THAT(s.message(), Catch::Contains("SEV-VCEK") &&
                              Catch::Contains("unable to get local issuer certificate"));
}

TEST_CASE("VCEK TCB extensions read by OID match expected.json", "[x509]") {
  const std::string kAmd = "1.3.6.1.4.1.3704.1.";
  for (const auto& f : loadVcekFixtures()) {
    INFO(f.name);
    auto expected = loadJson(std::string(f.name) + "/expected.json")->getObject("vek_extensions");
    REQUIRE(expected);
    auto integer = [&](const std::string& arc) -> std::optional<uint64_t> {
      auto value = f.vcek.extensionValue(kAmd + arc);
      REQUIRE(value.ok());
      REQUIRE(value->has_value());
      return derSmallInteger(**value);
    };
    CHECK(integer("1") == expected->getValue<uint64_t>("structVersion"));
    CHECK(integer("3.1") == expected->getValue<uint64_t>("blSPL"));
    CHECK(integer("3.2") == expected->getValue<uint64_t>("teeSPL"));
    CHECK(integer("3.3") == expected->getValue<uint64_t>("snpSPL"));
    for (const char* spl : {"3.4", "3.5", "3.6", "3.7"}) CHECK(integer(spl) == uint64_t{0});
    CHECK(integer("3.8") == expected->getValue<uint64_t>("ucodeSPL"));

    auto product = f.vcek.extensionValue(kAmd + "2");
    REQUIRE(product.ok());
    REQUIRE(product->has_value());
    CHECK(derIa5String(**product) == expected->getValue<std::string>("productName1"));

    auto hwid = f.vcek.extensionValue(kAmd + "4");
    REQUIRE(hwid.ok());
    REQUIRE(hwid->has_value());
    CHECK((*hwid)->size() == 64);  // observed: raw chip ID, no nested OCTET STRING
    CHECK(hex(hwIdBytes(**hwid)) == expected->getValue<std::string>("hwID"));
  }
}

TEST_CASE("extensionValue returns the extnValue content octets of a standard extension", "[x509]") {
  Certificate ask = loadPem("amd/milan_ask.pem");
  auto basic_constraints = ask.extensionValue("2.5.29.19");
  REQUIRE(basic_constraints.ok());
  REQUIRE(basic_constraints->has_value());
  // BasicConstraints ::= SEQUENCE { cA TRUE, pathLenConstraint 0 }
  CHECK(**basic_constraints == Bytes{0x30, 0x06, 0x01, 0x01, 0xFF, 0x02, 0x01, 0x00});
}

TEST_CASE("extensionValue gives nullopt for an absent OID", "[x509]") {
  Certificate ask = loadPem("amd/milan_ask.pem");
  auto hwid_on_ask = ask.extensionValue("1.3.6.1.4.1.3704.1.4");
  REQUIRE(hwid_on_ask.ok());
  CHECK_FALSE(hwid_on_ask->has_value());

  auto vcek = Certificate::fromPem(readText("snp/aci-milan-v2/vcek.pem"));
  REQUIRE(vcek.ok());
  auto unknown = vcek->extensionValue("1.3.6.1.4.1.3704.1.99");
  REQUIRE(unknown.ok());
  CHECK_FALSE(unknown->has_value());
}

TEST_CASE("extensionValue rejects a malformed OID with InvalidArgument", "[x509]") {
  Certificate ask = loadPem("amd/milan_ask.pem");
  for (const char* oid :
       {"", "1", "1..2", "1.2.", ".1.2", "abc", "1.3.6.x", "1.3 .6", "basicConstraints", "-1.2"}) {
    INFO("'" << oid << "'");
    auto value = ask.extensionValue(oid);
    CHECK(value.status().code() == StatusCode::InvalidArgument);
  }
}

TEST_CASE("parsePemBundle returns the ASK then the ARK from ask_ark.pem", "[x509]") {
  auto certs = Certificate::parsePemBundle(readText("snp/aci-milan-v2/ask_ark.pem"));
  REQUIRE(certs.ok());
  REQUIRE(certs->size() == 2);
  CHECK((*certs)[0].subjectCommonName() == "SEV-Milan");
  CHECK((*certs)[1].subjectCommonName() == "ARK-Milan");
  CHECK((*certs)[0].der() == loadPem("amd/milan_ask.pem").der());
  CHECK((*certs)[1].der() == loadPem("amd/milan_ark.pem").der());
}

TEST_CASE("parsePemBundle skips text and whitespace around blocks, like openssl", "[x509]") {
  std::string bundle = "Subject: SEV-Milan\r\n\n" + readText("amd/milan_ask.pem") +
                       "\n\n  some comment\n" + readText("amd/milan_ark.pem") + "trailing text\n";
  auto certs = Certificate::parsePemBundle(bundle);
  REQUIRE(certs.ok());
  REQUIRE(certs->size() == 2);
  CHECK((*certs)[1].subjectCommonName() == "ARK-Milan");
}

TEST_CASE("parsePemBundle enforces max_certs with ResourceExhausted", "[x509]") {
  std::string bundle = readText("snp/aci-milan-v2/ask_ark.pem");
  CHECK(Certificate::parsePemBundle(bundle, 2).ok());
  CHECK(Certificate::parsePemBundle(bundle, 1).status().code() == StatusCode::ResourceExhausted);
}

TEST_CASE("fromPem wants exactly one CERTIFICATE block", "[x509]") {
  auto two = Certificate::fromPem(readText("snp/aci-milan-v2/ask_ark.pem"));
  CHECK(two.status().code() == StatusCode::InvalidArgument);
  auto none = Certificate::fromPem("no PEM here\n");
  CHECK(none.status().code() == StatusCode::InvalidArgument);
}

TEST_CASE("malformed PEM and DER give InvalidArgument without throwing", "[x509]") {
  const std::string pem = readText("amd/milan_ark.pem");
  const Bytes der = loadPem("amd/milan_ark.pem").der();
  const std::size_t end_line = pem.find("-----END");

  SECTION("PEM inputs") {
    std::string bad_base64 = pem;
    bad_base64[pem.find('\n') + 10] = '*';
    Bytes trailing_der = der;
    trailing_der.push_back(0x00);
    const std::vector<std::pair<const char*, std::string>> cases = {
        {"empty", ""},
        {"whitespace only", " \n\t\n"},
        {"garbage", "hello, I am not a certificate\n"},
        {"BEGIN line only", "-----BEGIN CERTIFICATE-----\n"},
        {"cut in the base64", pem.substr(0, pem.size() / 2)},
        {"no END line", pem.substr(0, end_line)},
        {"END line cut", pem.substr(0, end_line + 10)},
        {"bad base64 character", bad_base64},
        {"body is not a certificate", pemBlock("CERTIFICATE", asBytes("not DER at all"))},
        {"body has trailing bytes", pemBlock("CERTIFICATE", trailing_der)},
        {"body is truncated DER", pemBlock("CERTIFICATE", ByteView(der).first(der.size() - 5))},
        {"other block type", pemBlock("PRIVATE KEY", der)},
        {"second block broken", pem + pem.substr(0, end_line)},
        {"second block of another type", pem + pemBlock("PUBLIC KEY", der)},
    };
    for (const auto& [what, input] : cases) {
      INFO(what);
      auto bundle = Certificate::parsePemBundle(input);
      CHECK(bundle.status().code() == StatusCode::InvalidArgument);
      auto single = Certificate::fromPem(input);
      CHECK(single.status().code() == StatusCode::InvalidArgument);
      auto either = Certificate::fromPemOrDer(asBytes(input));
      CHECK(either.status().code() == StatusCode::InvalidArgument);
    }
  }

  SECTION("DER inputs") {
    Bytes trailing = der;
    trailing.push_back(0x00);
    Bytes trailing_cert = der;
    trailing_cert.insert(trailing_cert.end(), der.begin(), der.end());
    Bytes bad_tag = der;
    bad_tag[0] = 0x31;
    const std::vector<std::pair<const char*, Bytes>> cases = {
        {"empty", {}},
        {"one byte", {0x30}},
        {"truncated by one byte", Bytes(der.begin(), der.end() - 1)},
        {"truncated to half", Bytes(der.begin(), der.begin() + static_cast<long>(der.size() / 2))},
        {"trailing zero byte", trailing},
        {"two certificates back to back", trailing_cert},
        {"not a SEQUENCE", bad_tag},
        {"random bytes", {0x30, 0x82, 0xFF, 0xFF, 0x01, 0x02}},
    };
    for (const auto& [what, input] : cases) {
      INFO(what);
      CHECK(Certificate::fromDer(input).status().code() == StatusCode::InvalidArgument);
      CHECK(Certificate::fromPemOrDer(input).status().code() == StatusCode::InvalidArgument);
    }
  }
}

TEST_CASE("fromPemOrDer detects PEM and DER", "[x509]") {
  const std::string pem = readText("amd/milan_ark.pem");
  auto from_pem = Certificate::fromPemOrDer(asBytes("\n  " + pem));
  REQUIRE(from_pem.ok());
  auto from_der = Certificate::fromPemOrDer(from_pem->der());
  REQUIRE(from_der.ok());
  CHECK(from_der->der() == from_pem->der());
}

// --- verifyChain with an ordinary, generated PKI -------------------------------------------

testing::CertificateProfile rsaProfile(std::string name) {
  auto p = testing::profile(std::move(name));
  p.key_type = testing::TestKeyType::Rsa2048;
  return p;
}

testing::CertificateProfile expiringProfile(std::string name, TimePoint not_after,
                                            std::vector<std::string> dns_names = {}) {
  auto p = testing::profile(std::move(name), std::move(dns_names));
  p.not_after = not_after;
  return p;
}

struct GeneratedChain {
  testing::TestCa root = testing::TestCa::create(rsaProfile("skr test root"));
  testing::TestCa intermediate = root.issueIntermediate("skr test intermediate");
  testing::IssuedCertificate leaf =
      intermediate.issue(testing::profile("vault", {"vault.example.test"}));

  std::vector<Certificate> intermediates() const { return {intermediate.certificate()}; }
  std::vector<Certificate> roots() const { return {root.certificate()}; }
};

TEST_CASE("verifyChain accepts a valid leaf <- intermediate <- root chain", "[x509]") {
  GeneratedChain chain;
  CHECK(chain.leaf.certificate.subjectCommonName() == "vault");
  CHECK(chain.leaf.certificate.issuerCommonName() == "skr test intermediate");
  CHECK(chain.root.certificate().isSelfIssued());
  CHECK(chain.leaf.certificate.verifySignedBy(chain.intermediate.certificate()).ok());

  Status s = verifyChain(chain.leaf.certificate, chain.intermediates(), chain.roots(),
                         at(testing::testPkiVerifyTime(), "vault.example.test"));
  INFO(s.toString());
  CHECK(s.ok());
  // Without a hostname the name is not checked.
  CHECK(verifyChain(chain.leaf.certificate, chain.intermediates(), chain.roots(),
                    at(testing::testPkiVerifyTime()))
            .ok());
}

TEST_CASE("verifyChain fails with DataLoss for the wrong hostname", "[x509]") {
  GeneratedChain chain;
  Status s = verifyChain(chain.leaf.certificate, chain.intermediates(), chain.roots(),
                         at(testing::testPkiVerifyTime(), "other.example.test"));
  CHECK(s.code() == StatusCode::DataLoss);
  CHECK_THAT(s.message(), Catch::Contains("'vault'") && Catch::Contains("hostname mismatch") &&
                              Catch::Contains("other.example.test"));
}

TEST_CASE("verifyChain fails with FailedPrecondition for an expired leaf", "[x509]") {
  GeneratedChain chain;
  auto expired = chain.intermediate.issue(
      expiringProfile("old vault", utc(2025, 1, 1), {"vault.example.test"}));
  Status s = verifyChain(expired.certificate, chain.intermediates(), chain.roots(),
                         at(testing::testPkiVerifyTime(), "vault.example.test"));
  CHECK(s.code() == StatusCode::FailedPrecondition);
  CHECK_THAT(s.message(), Catch::Contains("'old vault'") &&
                              Catch::Contains("certificate has expired") &&
                              Catch::Contains("2025-01-01T00:00:00Z") &&
                              Catch::Contains("checked at 2025-06-01T00:00:00Z"));
}

TEST_CASE("verifyChain names an expired intermediate", "[x509]") {
  GeneratedChain chain;
  auto old_intermediate =
      chain.root.issueIntermediate(expiringProfile("expired intermediate", utc(2025, 1, 1)));
  auto leaf = old_intermediate.issue(testing::profile("vault"));
  std::vector<Certificate> intermediates{old_intermediate.certificate()};
  Status s =
      verifyChain(leaf.certificate, intermediates, chain.roots(), at(testing::testPkiVerifyTime()));
  CHECK(s.code() == StatusCode::FailedPrecondition);
  CHECK_THAT(s.message(), Catch::Contains("'expired intermediate'"));
}

TEST_CASE("verifyChain fails with FailedPrecondition before the chain is valid", "[x509]") {
  GeneratedChain chain;
  Status s = verifyChain(chain.leaf.certificate, chain.intermediates(), chain.roots(),
                         at(utc(2023, 6, 1)));
  CHECK(s.code() == StatusCode::FailedPrecondition);
  CHECK_THAT(s.message(), Catch::Contains("certificate is not yet valid"));
}

TEST_CASE("verifyChain fails with DataLoss for an untrusted root", "[x509]") {
  GeneratedChain chain;
  auto other_root = testing::TestCa::create("other root");
  std::vector<Certificate> roots{other_root.certificate()};
  Status s = verifyChain(chain.leaf.certificate, chain.intermediates(), roots,
                         at(testing::testPkiVerifyTime(), "vault.example.test"));
  CHECK(s.code() == StatusCode::DataLoss);
  CHECK_THAT(s.message(), Catch::Contains("skr test intermediate") &&
                              Catch::Contains("unable to get local issuer certificate"));

  // The chain's own root passed as an intermediate does not make it trusted.
  std::vector<Certificate> with_root{chain.intermediate.certificate(), chain.root.certificate()};
  Status self =
      verifyChain(chain.leaf.certificate, with_root, roots, at(testing::testPkiVerifyTime()));
  CHECK(self.code() == StatusCode::DataLoss);
  CHECK_THAT(self.message(), Catch::Contains("self-signed certificate in certificate chain"));
}

TEST_CASE("verifyChain fails with DataLoss when the intermediate is missing", "[x509]") {
  GeneratedChain chain;
  Status s = verifyChain(chain.leaf.certificate, {}, chain.roots(),
                         at(testing::testPkiVerifyTime(), "vault.example.test"));
  CHECK(s.code() == StatusCode::DataLoss);
  CHECK_THAT(s.message(), Catch::Contains("'vault'") &&
                              Catch::Contains("unable to get local issuer certificate"));
}

TEST_CASE("verifyChain enforces max_depth (leaf and root included)", "[x509]") {
  GeneratedChain chain;
  ChainVerifyOptions options = at(testing::testPkiVerifyTime());
  options.max_depth = 3;
  CHECK(verifyChain(chain.leaf.certificate, chain.intermediates(), chain.roots(), options).ok());
  options.max_depth = 2;
  Status s = verifyChain(chain.leaf.certificate, chain.intermediates(), chain.roots(), options);
  CHECK(s.code() == StatusCode::DataLoss);
  options.max_depth = 0;
  CHECK(verifyChain(chain.leaf.certificate, chain.intermediates(), chain.roots(), options).code() ==
        StatusCode::InvalidArgument);
}

TEST_CASE("a notAfter of 99991231235959Z reads as TimePoint::max() and still verifies", "[x509]") {
  GeneratedChain chain;
  auto forever = chain.intermediate.issue(expiringProfile("forever", TimePoint::max()));
  CHECK(forever.certificate.notAfter() == TimePoint::max());
  CHECK(forever.certificate.notBefore() == testing::testPkiNotBefore());
  CHECK(verifyChain(forever.certificate, chain.intermediates(), chain.roots(),
                    at(testing::testPkiVerifyTime()))
            .ok());
}

TEST_CASE("verifyChain needs at least one trust anchor", "[x509]") {
  GeneratedChain chain;
  CHECK(verifyChain(chain.leaf.certificate, chain.intermediates(), {},
                    at(testing::testPkiVerifyTime()))
            .code() == StatusCode::InvalidArgument);
}

TEST_CASE("a leaf signed by a forged intermediate with the same name fails with DataLoss",
          "[x509]") {
  GeneratedChain chain;
  auto impostor_root = testing::TestCa::create("skr test root");
  auto impostor = impostor_root.issueIntermediate("skr test intermediate");
  auto leaf = impostor.issue(testing::profile("vault", {"vault.example.test"}));
  Status s = verifyChain(leaf.certificate, chain.intermediates(), chain.roots(),
                         at(testing::testPkiVerifyTime(), "vault.example.test"));
  CHECK(s.code() == StatusCode::DataLoss);
  CHECK_THAT(s.message(), Catch::Contains("'vault'"));
}

// OpenSSL's default verify paths honour SSL_CERT_FILE / SSL_CERT_DIR, so the test can point the
// "system store" at a file holding its own root without touching /etc/ssl.
TEST_CASE("verifyChain with system_trust_store trusts the default verify paths", "[x509]") {
  const skr::testing::TestCa root = skr::testing::TestCa::create("system store root");
  const skr::testing::TestCa other = skr::testing::TestCa::create("unlisted root");
  const skr::testing::IssuedCertificate leaf =
      root.issue(skr::testing::profile("vault", {"vault.example.test"}));
  const skr::testing::IssuedCertificate stranger =
      other.issue(skr::testing::profile("vault", {"vault.example.test"}));
  char file_template[] = "/tmp/skr_x509_store_XXXXXX";
  const int fd = mkstemp(file_template);
  REQUIRE(fd >= 0);
  const std::string pem = root.certificate().toPem();
  REQUIRE(write(fd, pem.data(), pem.size()) == static_cast<ssize_t>(pem.size()));
  close(fd);
  char dir_template[] = "/tmp/skr_x509_dir_XXXXXX";
  REQUIRE(mkdtemp(dir_template) != nullptr);
  const char* old_file = std::getenv("SSL_CERT_FILE");
  const char* old_dir = std::getenv("SSL_CERT_DIR");
  const std::optional<std::string> saved_file =
      old_file ? std::optional<std::string>(old_file) : std::nullopt;
  const std::optional<std::string> saved_dir =
      old_dir ? std::optional<std::string>(old_dir) : std::nullopt;
  setenv("SSL_CERT_FILE", file_template, 1);
  setenv("SSL_CERT_DIR", dir_template, 1);

  ChainVerifyOptions options;
  options.at = skr::testing::testPkiVerifyTime();
  options.hostname = "vault.example.test";
  options.system_trust_store = true;
  const Status trusted = verifyChain(leaf.certificate, {}, {}, options);
  const Status untrusted = verifyChain(stranger.certificate, {}, {}, options);
  ChainVerifyOptions without = options;
  without.system_trust_store = false;
  const Status no_anchors = verifyChain(leaf.certificate, {}, {}, without);

  if (saved_file)
    setenv("SSL_CERT_FILE", saved_file->c_str(), 1);
  else
    unsetenv("SSL_CERT_FILE");
  if (saved_dir)
    setenv("SSL_CERT_DIR", saved_dir->c_str(), 1);
  else
    unsetenv("SSL_CERT_DIR");
  std::remove(file_template);
  rmdir(dir_template);

  INFO(trusted.toString());
  CHECK(trusted.ok());
  CHECK(untrusted.code() == StatusCode::DataLoss);
  CHECK(no_anchors.code() == StatusCode::InvalidArgument);
}

}  // namespace
}  // namespace skr::crypto
