// X.509 v3 certificate issuance over OpenSSL 3: names, serial, validity, the usual RFC 5280
// extensions, arbitrary extensions by OID (e.g. AMD's VCEK TCB/hwID extensions, spec/azure-wire.md
// §5.4) and signing with RSA-PKCS1 SHA-256, RSA-PSS SHA-384 (salt 48, MGF1 SHA-384: AMD's ARK/ASK
// scheme) or ECDSA SHA-256/384. Used by the emulated SNP chip and the emulator's CA and signers.
// A builder is a plain value: setters record, sign() validates everything and builds. Not
// thread-safe; sign() is const and may run concurrently on distinct builders.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/core/bytes.h"
#include "common/core/status.h"
#include "common/crypto/pkey.h"
#include "common/crypto/x509.h"

namespace skr::crypto {

// A distinguished name. Empty attributes are omitted; present ones are encoded as UTF8String
// (country as PrintableString) in the order C, ST, L, O, OU, CN. common_name is required.
struct DistinguishedName {
  std::string common_name;
  std::string organization;
  std::string organizational_unit;
  std::string country;  // two letters when present
  std::string state;
  std::string locality;
};

// keyUsage bits (RFC 5280 §4.2.1.3), combinable with |.
enum KeyUsageBits : uint32_t {
  kKeyUsageDigitalSignature = 1u << 0,
  kKeyUsageNonRepudiation = 1u << 1,
  kKeyUsageKeyEncipherment = 1u << 2,
  kKeyUsageDataEncipherment = 1u << 3,
  kKeyUsageKeyAgreement = 1u << 4,
  kKeyUsageKeyCertSign = 1u << 5,
  kKeyUsageCrlSign = 1u << 6,
};

// extendedKeyUsage purposes (dotted OIDs).
inline constexpr const char* kEkuServerAuth = "1.3.6.1.5.5.7.3.1";
inline constexpr const char* kEkuClientAuth = "1.3.6.1.5.5.7.3.2";
inline constexpr const char* kEkuCodeSigning = "1.3.6.1.5.5.7.3.3";

enum class CertificateSignatureAlg {
  RsaPkcs1Sha256,
  RsaPssSha384,  // salt 48, MGF1 SHA-384, as AMD signs ARK, ASK and VCEK
  EcdsaSha256,
  EcdsaSha384,
};

class CertificateBuilder {
 public:
  CertificateBuilder() = default;

  CertificateBuilder& subject(DistinguishedName name);
  // Issuer name, and the source of the Authority Key Identifier (the issuer's SKI when it has one).
  // Without issuer() or issuerName() the certificate is self-issued (issuer = subject).
  CertificateBuilder& issuer(const Certificate& issuer_certificate);
  CertificateBuilder& issuerName(DistinguishedName name);
  // Unsigned big-endian serial, at most 20 bytes; empty or all-zero bytes encode serial 0 (AMD
  // VCEKs use 0, which RFC 5280 discourages but OpenSSL accepts outside strict mode).
  CertificateBuilder& serialNumber(Bytes big_endian);
  CertificateBuilder& serialNumber(uint64_t serial);
  CertificateBuilder& validity(TimePoint not_before, TimePoint not_after);
  CertificateBuilder& publicKey(const PublicKey& key);
  // basicConstraints (always critical). path_len only with ca.
  CertificateBuilder& basicConstraints(bool ca, std::optional<int> path_len = std::nullopt);
  // keyUsage (always critical), KeyUsageBits combined.
  CertificateBuilder& keyUsage(uint32_t bits);
  // extendedKeyUsage (not critical), dotted OIDs such as kEkuServerAuth.
  CertificateBuilder& extendedKeyUsage(std::vector<std::string> oids);
  // subjectAltName dNSName entries (not critical).
  CertificateBuilder& dnsNames(std::vector<std::string> names);
  // Subject Key Identifier = SHA-1 of the subjectPublicKey BIT STRING (RFC 5280 §4.2.1.2 (1)).
  CertificateBuilder& subjectKeyIdentifier(bool enabled = true);
  // Authority Key Identifier (keyIdentifier only): the issuer certificate's SKI when issuer() was
  // given and has one, else SHA-1 of the signing key's public key.
  CertificateBuilder& authorityKeyIdentifier(bool enabled = true);
  // An extension by dotted OID; `der_value` becomes the extnValue OCTET STRING's content verbatim.
  // Added after the standard extensions, in call order.
  CertificateBuilder& addExtension(std::string oid, Bytes der_value, bool critical = false);

  // Validates the recorded fields and signs with `issuer_key` (which must match the issuer's public
  // key; not checked for issuerName()). InvalidArgument names the bad field, e.g.
  // "certificate builder: subject common name is empty"; Internal for OpenSSL failures.
  StatusOr<Certificate> sign(const PrivateKey& issuer_key, CertificateSignatureAlg alg) const;

 private:
  struct RawExtension {
    std::string oid;
    Bytes value;
    bool critical = false;
  };

  DistinguishedName subject_;
  std::optional<DistinguishedName> issuer_name_;
  std::optional<Bytes> issuer_der_;  // issuer certificate, for its name and SKI
  Bytes serial_;
  std::optional<TimePoint> not_before_;
  std::optional<TimePoint> not_after_;
  Bytes spki_der_;
  std::optional<bool> ca_;
  std::optional<int> path_len_;
  std::optional<uint32_t> key_usage_;
  std::vector<std::string> eku_;
  std::vector<std::string> dns_names_;
  bool ski_ = false;
  bool aki_ = false;
  std::vector<RawExtension> extensions_;
};

}  // namespace skr::crypto
