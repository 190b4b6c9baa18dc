#include "tests/fakes/test_pki.h"

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <stdexcept>
#include <utility>

#include "common/core/ssl_ptr.h"
#include "common/crypto/openssl_error.h"

namespace skr::testing {
namespace {

using std::chrono::January;
using std::chrono::June;

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error("test PKI: " + what + ": " + crypto::takeOpenSslErrors());
}

template <typename T>
T valueOrThrow(StatusOr<T> s, const std::string& what) {
  if (!s.ok()) throw std::runtime_error("test PKI: " + what + ": " + s.status().toString());
  return std::move(s).value();
}

std::time_t toTimeT(crypto::TimePoint tp) {
  return static_cast<std::time_t>(
      std::chrono::duration_cast<std::chrono::seconds>(tp.time_since_epoch()).count());
}

crypto::PrivateKey generateKey(TestKeyType type) {
  switch (type) {
    case TestKeyType::EcP256:
      return valueOrThrow(crypto::PrivateKey::generateEc(crypto::Curve::P256), "EC P-256 key");
    case TestKeyType::EcP384:
      return valueOrThrow(crypto::PrivateKey::generateEc(crypto::Curve::P384), "EC P-384 key");
    case TestKeyType::Rsa2048:
      return valueOrThrow(crypto::PrivateKey::generateRsa(2048), "RSA-2048 key");
  }
  throw std::runtime_error("test PKI: unknown key type");
}

void addExtension(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
  SslPtr<X509_EXTENSION> ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str()));
  if (!ext) fail("extension " + std::string(OBJ_nid2sn(nid)) + "=" + value);
  if (X509_add_ext(cert, ext.get(), -1) != 1) fail("X509_add_ext");
}

// Builds and signs a certificate for `subject_key`. `issuer` null = self-signed.
crypto::Certificate buildCertificate(const CertificateProfile& profile, bool is_ca,
                                     const crypto::PrivateKey& subject_key,
                                     const crypto::Certificate* issuer,
                                     const crypto::PrivateKey& issuer_key) {
  static std::atomic<int64_t> next_serial{0x1000};
  SslPtr<X509> x(X509_new());
  if (!x) fail("X509_new");
  if (X509_set_version(x.get(), X509_VERSION_3) != 1) fail("X509_set_version");
  if (ASN1_INTEGER_set_int64(X509_get_serialNumber(x.get()), next_serial++) != 1) fail("serial");
  if (ASN1_TIME_set(X509_getm_notBefore(x.get()), toTimeT(profile.not_before)) == nullptr) {
    fail("notBefore");
  }
  if (profile.not_after == crypto::TimePoint::max()) {
    // RFC 5280 §4.1.2.5: no well-defined expiration date.
    if (ASN1_TIME_set_string_X509(X509_getm_notAfter(x.get()), "99991231235959Z") != 1) {
      fail("notAfter");
    }
  } else if (ASN1_TIME_set(X509_getm_notAfter(x.get()), toTimeT(profile.not_after)) == nullptr) {
    fail("notAfter");
  }
  X509_NAME* subject = X509_get_subject_name(x.get());
  if (X509_NAME_add_entry_by_txt(subject, "O", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>("skr tests"),  // NOLINT
                                 -1, -1, 0) != 1 ||
      X509_NAME_add_entry_by_txt(
          subject, "CN", MBSTRING_UTF8,
          reinterpret_cast<const unsigned char*>(profile.common_name.c_str()),  // NOLINT
          -1, -1, 0) != 1) {
    fail("subject name");
  }
  X509* issuer_x509 = issuer != nullptr ? issuer->x509() : x.get();
  if (X509_set_issuer_name(x.get(), X509_get_subject_name(issuer_x509)) != 1) fail("issuer name");
  if (X509_set_pubkey(x.get(), subject_key.evp()) != 1) fail("X509_set_pubkey");

  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer_x509, x.get(), nullptr, nullptr, 0);
  addExtension(x.get(), &ctx, NID_basic_constraints,
               is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  addExtension(
      x.get(), &ctx, NID_key_usage,
      is_ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature,keyEncipherment");
  addExtension(x.get(), &ctx, NID_subject_key_identifier, "hash");
  if (issuer != nullptr) addExtension(x.get(), &ctx, NID_authority_key_identifier, "keyid:always");
  if (!is_ca) addExtension(x.get(), &ctx, NID_ext_key_usage, "serverAuth,clientAuth");
  if (!is_ca && !profile.dns_names.empty()) {
    std::string san;
    for (const std::string& name : profile.dns_names) {
      san += (san.empty() ? "DNS:" : ",DNS:") + name;
    }
    addExtension(x.get(), &ctx, NID_subject_alt_name, san);
  }
  if (X509_sign(x.get(), issuer_key.evp(), EVP_sha256()) <= 0) fail("X509_sign");

  unsigned char* der_raw = nullptr;
  int len = i2d_X509(x.get(), &der_raw);
  if (len <= 0) fail("i2d_X509");
  SslBuffer der(der_raw, SslBufferDeleter{static_cast<std::size_t>(len)});
  return valueOrThrow(
      crypto::Certificate::fromDer(ByteView(der.get(), static_cast<std::size_t>(len))),
      "parse the built certificate '" + profile.common_name + "'");
}

}  // namespace

crypto::TimePoint testPkiNotBefore() {
  return std::chrono::sys_days{std::chrono::year{2024} / January / 1};
}
crypto::TimePoint testPkiNotAfter() {
  return std::chrono::sys_days{std::chrono::year{2034} / January / 1};
}
crypto::TimePoint testPkiVerifyTime() {
  return std::chrono::sys_days{std::chrono::year{2025} / June / 1};
}

CertificateProfile profile(std::string common_name, std::vector<std::string> dns_names) {
  CertificateProfile p;
  p.common_name = std::move(common_name);
  p.dns_names = std::move(dns_names);
  return p;
}

TestCa TestCa::create(std::string_view name) {
  return create(profile(std::string(name)));
}

TestCa TestCa::create(const CertificateProfile& profile) {
  crypto::PrivateKey key = generateKey(profile.key_type);
  crypto::Certificate cert = buildCertificate(profile, /*is_ca=*/true, key, nullptr, key);
  return TestCa(std::move(cert), std::move(key));
}

TestCa TestCa::issueIntermediate(std::string_view name) const {
  return issueIntermediate(profile(std::string(name)));
}

TestCa TestCa::issueIntermediate(const CertificateProfile& profile) const {
  crypto::PrivateKey key = generateKey(profile.key_type);
  crypto::Certificate cert = buildCertificate(profile, /*is_ca=*/true, key, &certificate_, key_);
  return TestCa(std::move(cert), std::move(key));
}

IssuedCertificate TestCa::issue(const CertificateProfile& profile) const {
  crypto::PrivateKey key = generateKey(profile.key_type);
  crypto::Certificate cert = buildCertificate(profile, /*is_ca=*/false, key, &certificate_, key_);
  return IssuedCertificate{std::move(cert), std::move(key)};
}

}  // namespace skr::testing
