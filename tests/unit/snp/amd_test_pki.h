// Test-only helpers for the SNP verification tests: an AMD-shaped PKI minted with OpenSSL (root
// "ARK-Milan", intermediate "SEV-Milan", leaf "SEV-VCEK" carrying AMD's extensions, all EC P-384
// signed with ECDSA SHA-384) and re-signing of a report with such a leaf. None of it chains to
// AMD's pinned roots, so it stands in for an untrusted or emulated chip. Fixture file access too.
// Failures inside OpenSSL fail the test (REQUIRE).
#pragma once

#include <openssl/x509.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <ctime>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/core/bytes.h"
#include "common/core/ssl_ptr.h"
#include "common/crypto/pkey.h"
#include "common/crypto/signature.h"
#include "common/crypto/x509.h"
#include "common/snp/report.h"

namespace skr::testing {

inline Bytes readTestData(const std::string& relative) {
  std::ifstream in(std::string(SKR_TEST_DATA_DIR) + "/" + relative, std::ios::binary);
  REQUIRE(in.good());
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline crypto::TimePoint utcTime(int year, int month, int day) {
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

// One extension: dotted OID and the extnValue content (DER of the inner value, or raw bytes).
struct RawExtension {
  std::string oid;
  Bytes value;
};

inline Bytes derInteger(uint8_t v) {
  if (v < 0x80) return {0x02, 0x01, v};
  return {0x02, 0x02, 0x00, v};
}

inline Bytes derIa5(const std::string& s) {
  // Built byte by byte: GCC 12 reports a false -Warray-bounds for insert() after a 2-byte init.
  Bytes out(s.size() + 2);
  out[0] = 0x16;
  out[1] = static_cast<uint8_t>(s.size());
  std::copy(s.begin(), s.end(), out.begin() + 2);
  return out;
}

// AMD's VCEK extensions for a Milan-style TCB (as on the fixture certificates).
inline std::vector<RawExtension> amdVcekExtensions(const std::string& product, uint8_t bl,
                                                   uint8_t tee, uint8_t snp, uint8_t ucode,
                                                   std::optional<Bytes> hwid) {
  std::vector<RawExtension> out = {
      {"1.3.6.1.4.1.3704.1.1", derInteger(0)},     {"1.3.6.1.4.1.3704.1.2", derIa5(product)},
      {"1.3.6.1.4.1.3704.1.3.1", derInteger(bl)},  {"1.3.6.1.4.1.3704.1.3.2", derInteger(tee)},
      {"1.3.6.1.4.1.3704.1.3.4", derInteger(0)},   {"1.3.6.1.4.1.3704.1.3.5", derInteger(0)},
      {"1.3.6.1.4.1.3704.1.3.6", derInteger(0)},   {"1.3.6.1.4.1.3704.1.3.7", derInteger(0)},
      {"1.3.6.1.4.1.3704.1.3.3", derInteger(snp)}, {"1.3.6.1.4.1.3704.1.3.8", derInteger(ucode)},
  };
  if (hwid) out.push_back({"1.3.6.1.4.1.3704.1.4", *hwid});
  return out;
}

struct MintedCertificate {
  crypto::Certificate certificate;
  crypto::PrivateKey key;
};

inline crypto::TimePoint mintNotBefore() {
  return utcTime(2020, 1, 1);
}
inline crypto::TimePoint mintNotAfter() {
  return utcTime(2040, 1, 1);
}

// A certificate for a fresh EC P-384 key, signed by `issuer_key` (self-signed when null), with
// subject CN `cn`, issuer CN `issuer_cn` and the given extensions. Serial 0 and no AKI, as AMD.
inline MintedCertificate mintCertificate(const std::string& cn, const std::string& issuer_cn,
                                         const crypto::PrivateKey* issuer_key,
                                         const std::vector<RawExtension>& extensions,
                                         crypto::TimePoint not_before = mintNotBefore(),
                                         crypto::TimePoint not_after = mintNotAfter()) {
  StatusOr<crypto::PrivateKey> key = crypto::PrivateKey::generateEc(crypto::Curve::P384);
  REQUIRE(key.ok());
  SslPtr<X509> x509(X509_new());
  REQUIRE(x509);
  REQUIRE(X509_set_version(x509.get(), 2) == 1);
  REQUIRE(ASN1_INTEGER_set(X509_get_serialNumber(x509.get()), 0) == 1);
  auto name = [](const std::string& common_name) {
    SslPtr<X509_NAME> n(X509_NAME_new());
    REQUIRE(n);
    REQUIRE(
        X509_NAME_add_entry_by_txt(n.get(), "O", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>("skr test"),  // NOLINT
                                   -1, -1, 0) == 1);
    REQUIRE(X509_NAME_add_entry_by_txt(n.get(), "CN", MBSTRING_ASC,
                                       reinterpret_cast<const unsigned char*>(common_name.c_str()),
                                       -1, -1,  // NOLINT
                                       0) == 1);
    return n;
  };
  SslPtr<X509_NAME> subject = name(cn);
  SslPtr<X509_NAME> issuer = name(issuer_cn);
  REQUIRE(X509_set_subject_name(x509.get(), subject.get()) == 1);
  REQUIRE(X509_set_issuer_name(x509.get(), issuer.get()) == 1);
  REQUIRE(ASN1_TIME_set(X509_getm_notBefore(x509.get()),
                        std::chrono::system_clock::to_time_t(not_before)) != nullptr);
  REQUIRE(ASN1_TIME_set(X509_getm_notAfter(x509.get()),
                        std::chrono::system_clock::to_time_t(not_after)) != nullptr);
  REQUIRE(X509_set_pubkey(x509.get(), key->evp()) == 1);
  for (const RawExtension& e : extensions) {
    SslPtr<ASN1_OBJECT> oid(OBJ_txt2obj(e.oid.c_str(), 1));
    REQUIRE(oid);
    SslPtr<ASN1_STRING> value(ASN1_OCTET_STRING_new());
    REQUIRE(value);
    REQUIRE(ASN1_OCTET_STRING_set(value.get(), e.value.data(), static_cast<int>(e.value.size())) ==
            1);
    SslPtr<X509_EXTENSION> ext(X509_EXTENSION_create_by_OBJ(nullptr, oid.get(), 0, value.get()));
    REQUIRE(ext);
    REQUIRE(X509_add_ext(x509.get(), ext.get(), -1) == 1);
  }
  const crypto::PrivateKey& signer = issuer_key ? *issuer_key : *key;
  REQUIRE(X509_sign(x509.get(), signer.evp(), EVP_sha384()) > 0);
  const int len = i2d_X509(x509.get(), nullptr);
  REQUIRE(len > 0);
  Bytes der(static_cast<std::size_t>(len));
  unsigned char* out = der.data();
  REQUIRE(i2d_X509(x509.get(), &out) == len);
  StatusOr<crypto::Certificate> cert = crypto::Certificate::fromDer(der);
  INFO(cert.status().toString());
  REQUIRE(cert.ok());
  return MintedCertificate{std::move(cert).value(), std::move(key).value()};
}

// An emulated Milan chip's chain: ARK (self-signed) -> ASK -> VCEK with AMD's extensions.
struct MintedChain {
  MintedCertificate ark;
  MintedCertificate ask;
  MintedCertificate vcek;
};

inline MintedChain mintMilanChain(uint8_t bl, uint8_t tee, uint8_t snp, uint8_t ucode,
                                  const Bytes& hwid) {
  MintedCertificate ark = mintCertificate("ARK-Milan", "ARK-Milan", nullptr, {});
  MintedCertificate ask = mintCertificate("SEV-Milan", "ARK-Milan", &ark.key, {});
  MintedCertificate vcek = mintCertificate(
      "SEV-VCEK", "SEV-Milan", &ask.key, amdVcekExtensions("Milan-B0", bl, tee, snp, ucode, hwid));
  return MintedChain{std::move(ark), std::move(ask), std::move(vcek)};
}

// Signs report bytes 0x000..0x29F with `key` (ECDSA P-384, SHA-384) and stores r and s
// little-endian at 0x2A0 / 0x2E8 (spec/azure-wire.md §6.3); the rest of the signature is zeroed.
inline void signReport(Bytes& report, const crypto::PrivateKey& key) {
  REQUIRE(report.size() == snp::kReportSize);
  StatusOr<Bytes> der = crypto::sign(key, crypto::SignatureScheme::EcdsaSha384,
                                     ByteView(report).first(snp::kSignedRegionSize));
  REQUIRE(der.ok());
  StatusOr<Bytes> jose = crypto::ecdsaJoseFromDer(crypto::Curve::P384, *der);
  REQUIRE(jose.ok());
  REQUIRE(jose->size() == 96);
  std::fill(report.begin() + snp::kSignatureOffset, report.end(), 0);
  for (std::size_t i = 0; i < 48; ++i) {
    report[snp::kSignatureOffset + i] = (*jose)[47 - i];
    report[snp::kSignatureOffset + snp::kSignatureComponentSize + i] = (*jose)[95 - i];
  }
}

}  // namespace skr::testing
