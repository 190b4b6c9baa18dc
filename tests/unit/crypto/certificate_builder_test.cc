#include "common/crypto/certificate_builder.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <string>

#include "common/crypto/pkey.h"
#include "common/crypto/x509.h"

namespace skr::crypto {
namespace {

DistinguishedName dn(std::string cn, std::string o = "", std::string country = "") {
  DistinguishedName name;
  name.common_name = std::move(cn);
  name.organization = std::move(o);
  name.country = std::move(country);
  return name;
}

TimePoint day(int y, unsigned m, unsigned d) {
  return std::chrono::sys_days{std::chrono::year{y} / std::chrono::month{m} / std::chrono::day{d}};
}

template <typename T>
T take(StatusOr<T> s) {
  INFO(s.status().toString());
  REQUIRE(s.ok());
  return std::move(s).value();
}

// Keys are slow to generate (RSA-4096 especially): one set for the whole file.
const PrivateKey& rsaKey() {
  static const PrivateKey key = take(PrivateKey::generateRsa(2048));
  return key;
}
const PrivateKey& ecKey() {
  static const PrivateKey key = take(PrivateKey::generateEc(Curve::P384));
  return key;
}
const PrivateKey& ecKey256() {
  static const PrivateKey key = take(PrivateKey::generateEc(Curve::P256));
  return key;
}

CertificateBuilder rootBuilder() {
  CertificateBuilder b;
  b.subject(dn("Test Root", "skr tests"))
      .serialNumber(uint64_t{0x1001})
      .validity(day(2024, 1, 1), day(2034, 1, 1))
      .publicKey(rsaKey().publicKey())
      .basicConstraints(true, 1)
      .keyUsage(kKeyUsageKeyCertSign | kKeyUsageCrlSign)
      .subjectKeyIdentifier();
  return b;
}

Bytes ext(const Certificate& c, const char* oid) {
  std::optional<Bytes> v = take(c.extensionValue(oid));
  REQUIRE(v.has_value());
  return *v;
}

TEST_CASE("a self-signed RSA-PSS SHA-384 root has AMD's signature parameters", "[certbuilder]") {
  Certificate root = take(rootBuilder().sign(rsaKey(), CertificateSignatureAlg::RsaPssSha384));
  CHECK(root.subjectCommonName() == "Test Root");
  CHECK(root.issuerCommonName() == "Test Root");
  CHECK(root.subjectOneLine() == "CN=Test Root,O=skr tests");
  CHECK(root.isSelfIssued());
  CHECK(root.serialHex() == "1001");
  CHECK(root.notBefore() == day(2024, 1, 1));
  CHECK(root.notAfter() == day(2034, 1, 1));
  CHECK(root.signatureAlgorithmOid() == "1.2.840.113549.1.1.10");
  CHECK(root.verifySignedBy(root).ok());
  CHECK(root.publicKey().equals(rsaKey().publicKey()));
  // basicConstraints CA:TRUE pathlen 1; keyUsage keyCertSign|cRLSign (bits 5,6 -> 0x06, 1 unused)
  CHECK(ext(root, "2.5.29.19") == Bytes{0x30, 0x06, 0x01, 0x01, 0xff, 0x02, 0x01, 0x01});
  CHECK(ext(root, "2.5.29.15") == Bytes{0x03, 0x02, 0x01, 0x06});
  // PSS parameters: SHA-384, MGF1-SHA-384, salt 48 (0x30) as in AMD's certificates.
  const X509_ALGOR* alg = nullptr;
  X509_get0_signature(nullptr, &alg, root.x509());
  REQUIRE(alg != nullptr);
  const ASN1_OBJECT* obj = nullptr;
  int ptype = 0;
  const void* pval = nullptr;
  X509_ALGOR_get0(&obj, &ptype, &pval, alg);
  REQUIRE(ptype == V_ASN1_SEQUENCE);
  const auto* seq = static_cast<const ASN1_STRING*>(pval);
  const Bytes params(ASN1_STRING_get0_data(seq),
                     ASN1_STRING_get0_data(seq) + ASN1_STRING_length(seq));
  // SEQUENCE { [0] sha384, [1] mgf1(sha384), [2] INTEGER 48 }
  const Bytes expected{0x30, 0x34, 0xa0, 0x0f, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48,
                       0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0xa1, 0x1c, 0x30,
                       0x1a, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01,
                       0x08, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03,
                       0x04, 0x02, 0x02, 0x05, 0x00, 0xa2, 0x03, 0x02, 0x01, 0x30};
  CHECK(params == expected);
}

TEST_CASE("a leaf chains to its issuer with SAN, EKU, SKI and AKI", "[certbuilder]") {
  Certificate root = take(rootBuilder().sign(rsaKey(), CertificateSignatureAlg::RsaPkcs1Sha256));
  CHECK(root.signatureAlgorithmOid() == "1.2.840.113549.1.1.11");
  CertificateBuilder leaf_builder;
  leaf_builder.subject(dn("vault.example.test"))
      .issuer(root)
      .serialNumber(Bytes{0x7f, 0x00, 0x01})
      .validity(day(2025, 1, 1), day(2026, 1, 1))
      .publicKey(ecKey256().publicKey())
      .basicConstraints(false)
      .keyUsage(kKeyUsageDigitalSignature)
      .extendedKeyUsage({kEkuServerAuth, kEkuClientAuth})
      .dnsNames({"vault.example.test", "*.vault.example.test"})
      .subjectKeyIdentifier()
      .authorityKeyIdentifier();
  Certificate leaf = take(leaf_builder.sign(rsaKey(), CertificateSignatureAlg::RsaPkcs1Sha256));
  CHECK(leaf.issuerCommonName() == "Test Root");
  CHECK(leaf.serialHex() == "7f0001");
  CHECK(leaf.verifySignedBy(root).ok());
  CHECK(ext(leaf, "2.5.29.19") == Bytes{0x30, 0x00});
  CHECK(ext(leaf, "2.5.29.15") == Bytes{0x03, 0x02, 0x07, 0x80});
  CHECK(ext(leaf, "2.5.29.37") == Bytes{0x30, 0x14, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05,
                                        0x05, 0x07, 0x03, 0x01, 0x06, 0x08, 0x2b, 0x06,
                                        0x01, 0x05, 0x05, 0x07, 0x03, 0x02});
  // AKI keyIdentifier == the root's SKI.
  Bytes root_ski = ext(root, "2.5.29.14");
  REQUIRE(root_ski.size() == 22);
  Bytes aki = ext(leaf, "2.5.29.35");
  REQUIRE(aki.size() == 24);
  CHECK(Bytes(aki.begin(), aki.begin() + 4) == Bytes{0x30, 0x16, 0x80, 0x14});
  CHECK(Bytes(aki.begin() + 4, aki.end()) == Bytes(root_ski.begin() + 2, root_ski.end()));

  const Certificate roots[] = {root};
  ChainVerifyOptions options;
  options.at = day(2025, 6, 1);
  options.hostname = "vault.example.test";
  CHECK(verifyChain(leaf, {}, roots, options).ok());
  options.hostname = "a.vault.example.test";
  CHECK(verifyChain(leaf, {}, roots, options).ok());
  options.hostname = "other.example.test";
  CHECK_FALSE(verifyChain(leaf, {}, roots, options).ok());
}

TEST_CASE("verifyChain matches an IP literal host against iPAddress SANs only", "[certbuilder]") {
  Certificate root = take(rootBuilder().sign(rsaKey(), CertificateSignatureAlg::RsaPkcs1Sha256));
  // GeneralNames { dNSName "localhost", iPAddress 127.0.0.1, iPAddress ::1 } (RFC 5280 §4.2.1.6).
  Bytes san{0x30, 0x23, 0x82, 0x09, 'l', 'o', 'c', 'a', 'l',  'h', 'o',
            's',  't',  0x87, 0x04, 127, 0,   0,   1,   0x87, 0x10};
  for (int i = 0; i < 15; ++i) san.push_back(0);
  san.push_back(1);
  CertificateBuilder b;
  b.subject(dn("127.0.0.2"))
      .issuer(root)
      .serialNumber(uint64_t{0x2002})
      .validity(day(2025, 1, 1), day(2026, 1, 1))
      .publicKey(ecKey256().publicKey())
      .basicConstraints(false)
      .keyUsage(kKeyUsageDigitalSignature)
      .addExtension("2.5.29.17", san);
  Certificate leaf = take(b.sign(rsaKey(), CertificateSignatureAlg::RsaPkcs1Sha256));
  const Certificate roots[] = {root};
  ChainVerifyOptions options;
  options.at = day(2025, 6, 1);
  for (const char* host : {"127.0.0.1", "::1", "localhost"}) {
    INFO(host);
    options.hostname = host;
    CHECK(verifyChain(leaf, {}, roots, options).ok());
  }
  // The CN (127.0.0.2) does not count, nor does another address.
  for (const char* host : {"127.0.0.2", "::2", "10.0.0.1"}) {
    INFO(host);
    options.hostname = host;
    Status s = verifyChain(leaf, {}, roots, options);
    CHECK(s.code() == StatusCode::DataLoss);
    CHECK_THAT(s.message(), Catch::Contains("expected '" + std::string(host) + "'"));
  }
}

TEST_CASE("serial 0, no AKI and raw extensions reproduce an AMD VCEK's shape", "[certbuilder]") {
  CertificateBuilder b;
  b.subject(dn("SEV-VCEK"))
      .issuerName(dn("SEV-Emulated"))
      .serialNumber(uint64_t{0})
      .validity(day(2024, 1, 1), day(2031, 1, 1))
      .publicKey(ecKey().publicKey())
      .addExtension("1.3.6.1.4.1.3704.1.1", Bytes{0x02, 0x01, 0x00})
      .addExtension("1.3.6.1.4.1.3704.1.3.8", Bytes{0x02, 0x01, 0x73})
      .addExtension("1.3.6.1.4.1.3704.1.4", Bytes(64, 0xab), /*critical=*/false);
  Certificate vcek = take(b.sign(rsaKey(), CertificateSignatureAlg::RsaPssSha384));
  CHECK(vcek.serialHex() == "0");
  CHECK(vcek.issuerCommonName() == "SEV-Emulated");
  CHECK(ext(vcek, "1.3.6.1.4.1.3704.1.3.8") == Bytes{0x02, 0x01, 0x73});
  CHECK(ext(vcek, "1.3.6.1.4.1.3704.1.4") == Bytes(64, 0xab));
  CHECK_FALSE(take(vcek.extensionValue("2.5.29.35")).has_value());
  CHECK_FALSE(take(vcek.extensionValue("2.5.29.19")).has_value());
  CHECK(X509_get_ext_count(vcek.x509()) == 3);
  // Extensions appear in call order.
  char oid[64];
  OBJ_obj2txt(oid, sizeof oid, X509_EXTENSION_get_object(X509_get_ext(vcek.x509(), 1)), 1);
  CHECK(std::string(oid) == "1.3.6.1.4.1.3704.1.3.8");
}

TEST_CASE("ECDSA SHA-384 and SHA-256 signatures verify", "[certbuilder]") {
  CertificateBuilder b;
  b.subject(dn("EC Root"))
      .serialNumber(uint64_t{5})
      .validity(day(2024, 1, 1), day(2060, 1, 1))  // GeneralizedTime after 2049
      .publicKey(ecKey().publicKey())
      .basicConstraints(true)
      .authorityKeyIdentifier();
  Certificate c384 = take(b.sign(ecKey(), CertificateSignatureAlg::EcdsaSha384));
  CHECK(c384.signatureAlgorithmOid() == "1.2.840.10045.4.3.3");
  CHECK(c384.verifySignedBy(c384).ok());
  CHECK(c384.notAfter() == day(2060, 1, 1));
  Certificate c256 = take(b.sign(ecKey(), CertificateSignatureAlg::EcdsaSha256));
  CHECK(c256.signatureAlgorithmOid() == "1.2.840.10045.4.3.2");
  CHECK(c256.verifySignedBy(c256).ok());
}

TEST_CASE("the builder rejects incomplete or inconsistent input by name", "[certbuilder]") {
  auto message = [](const CertificateBuilder& b, const PrivateKey& key,
                    CertificateSignatureAlg alg) {
    StatusOr<Certificate> c = b.sign(key, alg);
    REQUIRE_FALSE(c.ok());
    return c.status().toString();
  };
  CertificateBuilder no_key;
  no_key.subject(dn("x")).validity(day(2024, 1, 1), day(2025, 1, 1));
  CHECK(message(no_key, rsaKey(), CertificateSignatureAlg::RsaPkcs1Sha256) ==
        "InvalidArgument: certificate builder: no subject public key");

  CertificateBuilder b = rootBuilder();
  CHECK(message(CertificateBuilder(b).subject(DistinguishedName()), rsaKey(),
                CertificateSignatureAlg::RsaPkcs1Sha256) ==
        "InvalidArgument: certificate builder: subject common name is empty");
  CHECK(message(CertificateBuilder(b).validity(day(2025, 1, 1), day(2025, 1, 1)), rsaKey(),
                CertificateSignatureAlg::RsaPkcs1Sha256) ==
        "InvalidArgument: certificate builder: notAfter is not after notBefore");
  CHECK(message(CertificateBuilder(b).serialNumber(Bytes(21, 1)), rsaKey(),
                CertificateSignatureAlg::RsaPkcs1Sha256) ==
        "InvalidArgument: certificate builder: serial number is 21 bytes, expected at most 20");
  CHECK(message(CertificateBuilder(b).basicConstraints(false, 0), rsaKey(),
                CertificateSignatureAlg::RsaPkcs1Sha256) ==
        "InvalidArgument: certificate builder: pathLenConstraint without CA:TRUE");
  CHECK(message(CertificateBuilder(b).dnsNames({"bad name"}), rsaKey(),
                CertificateSignatureAlg::RsaPkcs1Sha256) ==
        "InvalidArgument: certificate builder: 'bad name' is not a DNS name");
  CHECK(message(CertificateBuilder(b).addExtension("not.an.oid", {0x05, 0x00}), rsaKey(),
                CertificateSignatureAlg::RsaPkcs1Sha256) ==
        "InvalidArgument: certificate builder: extension OID 'not.an.oid' is not a dotted OID");
  CHECK(message(CertificateBuilder(b).subject(dn("x", "", "USA")), rsaKey(),
                CertificateSignatureAlg::RsaPkcs1Sha256) ==
        "InvalidArgument: certificate builder: subject country 'USA' is not a two-letter code");
  CHECK(message(b, ecKey(), CertificateSignatureAlg::RsaPssSha384) ==
        "InvalidArgument: certificate builder: the signing key is EC but the algorithm needs an "
        "RSA key");
  CHECK(message(b, rsaKey(), CertificateSignatureAlg::EcdsaSha384) ==
        "InvalidArgument: certificate builder: the signing key is RSA but the algorithm needs an "
        "EC key");
}

}  // namespace
}  // namespace skr::crypto
