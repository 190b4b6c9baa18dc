// A small, deterministic PKI for tests: self-signed roots, intermediates and leaves (TLS-server
// style, with DNS subjectAltNames) built with OpenSSL. For X.509 chain, TLS and AKV JWS (x5c)
// tests. Validity defaults to a fixed window so tests never depend on the real clock; verify at
// testPkiVerifyTime(). Failures inside OpenSSL throw std::runtime_error (test code only).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/crypto/pkey.h"
#include "common/crypto/x509.h"

namespace skr::testing {

// Default validity of every test certificate: 2024-01-01T00:00:00Z .. 2034-01-01T00:00:00Z.
crypto::TimePoint testPkiNotBefore();
crypto::TimePoint testPkiNotAfter();
// A time inside the default validity: 2025-06-01T00:00:00Z.
crypto::TimePoint testPkiVerifyTime();

enum class TestKeyType { EcP256, EcP384, Rsa2048 };

// What to put in a certificate. Extensions follow RFC 5280 profiles: CAs get critical
// basicConstraints CA:TRUE and keyUsage keyCertSign|cRLSign; leaves CA:FALSE and
// digitalSignature|keyEncipherment plus serverAuth; all get SKI and AKI.
struct CertificateProfile {
  std::string common_name;
  std::vector<std::string> dns_names;  // subjectAltName dNSName entries; none when empty
  crypto::TimePoint not_before = testPkiNotBefore();
  crypto::TimePoint not_after = testPkiNotAfter();  // TimePoint::max(): 99991231235959Z
  TestKeyType key_type = TestKeyType::EcP256;
};

// A profile with the default validity and key type (designated initializers with omitted members
// trip -Wmissing-field-initializers on GCC 12).
CertificateProfile profile(std::string common_name, std::vector<std::string> dns_names = {});

struct IssuedCertificate {
  crypto::Certificate certificate;
  crypto::PrivateKey key;
};

// A certificate authority: a self-signed root (create) or an intermediate (issueIntermediate).
// Move-only (owns its private key). Serial numbers are unique within the process.
class TestCa {
 public:
  static TestCa create(std::string_view name);
  static TestCa create(const CertificateProfile& profile);

  // A CA certificate signed by this CA (the profile's dns_names are ignored).
  TestCa issueIntermediate(std::string_view name) const;
  TestCa issueIntermediate(const CertificateProfile& profile) const;

  // An end-entity certificate signed by this CA, e.g. profile("vault", {"vault.example.test"}).
  IssuedCertificate issue(const CertificateProfile& profile) const;

  const crypto::Certificate& certificate() const { return certificate_; }
  const crypto::PrivateKey& key() const { return key_; }

 private:
  TestCa(crypto::Certificate certificate, crypto::PrivateKey key)
      : certificate_(std::move(certificate)), key_(std::move(key)) {}
  crypto::Certificate certificate_;
  crypto::PrivateKey key_;
};

}  // namespace skr::testing
