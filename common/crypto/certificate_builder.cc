#include "common/crypto/certificate_builder.h"

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <ctime>
#include <string_view>
#include <utility>

#include "common/core/ssl_ptr.h"
#include "common/crypto/digest.h"
#include "common/crypto/openssl_error.h"

namespace skr::crypto {
namespace {

constexpr std::size_t kMaxSerialBytes = 20;  // RFC 5280 §4.1.2.2
constexpr int kAmdPssSaltLength = 48;

Status builderError(std::string_view what) {
  return invalidArgumentError("certificate builder: " + std::string(what));
}

Status opensslError(std::string_view call) {
  return openSslInternalError("certificate builder: " + std::string(call));
}

// --- minimal DER encoding of the standard extensions (X.690) ---

void appendLength(Bytes& out, std::size_t length) {
  if (length < 0x80) {
    out.push_back(static_cast<uint8_t>(length));
    return;
  }
  Bytes be;
  for (std::size_t v = length; v != 0; v >>= 8) be.insert(be.begin(), static_cast<uint8_t>(v));
  out.push_back(static_cast<uint8_t>(0x80 | be.size()));
  out.insert(out.end(), be.begin(), be.end());
}

Bytes tlv(uint8_t tag, ByteView content) {
  Bytes out{tag};
  appendLength(out, content.size());
  out.insert(out.end(), content.begin(), content.end());
  return out;
}

// A non-negative INTEGER, minimal two's complement.
Bytes derUnsignedInteger(uint64_t value) {
  Bytes be;
  for (uint64_t v = value; v != 0; v >>= 8) be.insert(be.begin(), static_cast<uint8_t>(v));
  if (be.empty() || (be.front() & 0x80) != 0) be.insert(be.begin(), 0);
  return tlv(0x02, be);
}

Bytes basicConstraintsDer(bool ca, std::optional<int> path_len) {
  Bytes content;
  if (ca) content = {0x01, 0x01, 0xff};  // cA BOOLEAN TRUE (FALSE is the DEFAULT: omitted)
  if (path_len) {
    Bytes n = derUnsignedInteger(static_cast<uint64_t>(*path_len));
    content.insert(content.end(), n.begin(), n.end());
  }
  return tlv(0x30, content);
}

// Named BIT STRING: bit 0 is the most significant bit; trailing zero bits are not encoded.
Bytes keyUsageDer(uint32_t bits) {
  uint8_t first = 0;
  for (int i = 0; i < 7; ++i) {
    if ((bits >> i) & 1u) first |= static_cast<uint8_t>(0x80u >> i);
  }
  uint8_t unused = 0;
  while (((first >> unused) & 1u) == 0) ++unused;
  const Bytes content{unused, first};
  return tlv(0x03, content);
}

StatusOr<Bytes> oidDer(const std::string& oid) {
  SslPtr<ASN1_OBJECT> obj(OBJ_txt2obj(oid.c_str(), /*no_name=*/1));
  if (!obj) return builderError("'" + oid + "' is not a dotted OID");
  const int len = i2d_ASN1_OBJECT(obj.get(), nullptr);
  if (len <= 0) return opensslError("i2d_ASN1_OBJECT");
  Bytes out(static_cast<std::size_t>(len));
  unsigned char* p = out.data();
  if (i2d_ASN1_OBJECT(obj.get(), &p) != len) return opensslError("i2d_ASN1_OBJECT");
  return out;
}

bool isDnsName(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.' || c == '*';
    if (!ok) return false;
  }
  return true;
}

StatusOr<SslPtr<X509_NAME>> buildName(const DistinguishedName& dn, std::string_view role) {
  if (dn.common_name.empty()) {
    return builderError(std::string(role) + " common name is empty");
  }
  if (!dn.country.empty() && dn.country.size() != 2) {
    return builderError(std::string(role) + " country '" + dn.country +
                        "' is not a two-letter code");
  }
  SslPtr<X509_NAME> name(X509_NAME_new());
  if (!name) return opensslError("X509_NAME_new");
  const std::pair<int, const std::string*> entries[] = {
      {NID_countryName, &dn.country},
      {NID_stateOrProvinceName, &dn.state},
      {NID_localityName, &dn.locality},
      {NID_organizationName, &dn.organization},
      {NID_organizationalUnitName, &dn.organizational_unit},
      {NID_commonName, &dn.common_name},
  };
  for (const auto& [nid, value] : entries) {
    if (value->empty()) continue;
    if (X509_NAME_add_entry_by_NID(name.get(), nid, MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(value->data()),  // NOLINT
                                   static_cast<int>(value->size()), -1, 0) != 1) {
      return builderError(std::string(role) + " attribute " + OBJ_nid2sn(nid) + " '" + *value +
                          "' is not encodable: " + takeOpenSslErrors());
    }
  }
  return name;
}

Status addRawExtension(X509* x, const std::string& oid, ByteView value, bool critical) {
  SslPtr<ASN1_OBJECT> obj(OBJ_txt2obj(oid.c_str(), /*no_name=*/1));
  if (!obj) return builderError("extension OID '" + oid + "' is not a dotted OID");
  SslPtr<ASN1_STRING> octets(ASN1_OCTET_STRING_new());
  if (!octets ||
      ASN1_OCTET_STRING_set(octets.get(), value.data(), static_cast<int>(value.size())) != 1) {
    return opensslError("ASN1_OCTET_STRING_set");
  }
  SslPtr<X509_EXTENSION> ext(
      X509_EXTENSION_create_by_OBJ(nullptr, obj.get(), critical ? 1 : 0, octets.get()));
  if (!ext) return opensslError("X509_EXTENSION_create_by_OBJ(" + oid + ")");
  if (X509_add_ext(x, ext.get(), -1) != 1) return opensslError("X509_add_ext(" + oid + ")");
  return okStatus();
}

// SHA-1 over the subjectPublicKey BIT STRING value of `x` (RFC 5280 §4.2.1.2 method 1).
StatusOr<Bytes> keyIdentifierOf(const X509* x) {
  const ASN1_BIT_STRING* bits = X509_get0_pubkey_bitstr(x);
  if (bits == nullptr) return opensslError("X509_get0_pubkey_bitstr");
  return digest(HashAlg::Sha1, ByteView(ASN1_STRING_get0_data(bits),
                                        static_cast<std::size_t>(ASN1_STRING_length(bits))));
}

StatusOr<Bytes> keyIdentifierOf(const PrivateKey& key) {
  SslPtr<X509> tmp(X509_new());
  if (!tmp || X509_set_pubkey(tmp.get(), key.evp()) != 1) return opensslError("X509_set_pubkey");
  return keyIdentifierOf(tmp.get());
}

// The issuer certificate's SKI keyIdentifier (the OCTET STRING's content), if present.
StatusOr<std::optional<Bytes>> issuerSki(const Certificate& issuer) {
  SKR_ASSIGN_OR_RETURN(std::optional<Bytes> value, issuer.extensionValue("2.5.29.14"));
  if (!value) return std::optional<Bytes>();
  const Bytes& v = *value;
  if (v.size() < 2 || v[0] != 0x04 || v[1] >= 0x80 || v.size() != 2u + v[1]) {
    return builderError("issuer '" + issuer.subjectOneLine() +
                        "' has a malformed subjectKeyIdentifier");
  }
  return std::optional<Bytes>(Bytes(v.begin() + 2, v.end()));
}

std::time_t toTimeT(TimePoint tp) {
  return static_cast<std::time_t>(
      std::chrono::duration_cast<std::chrono::seconds>(tp.time_since_epoch()).count());
}

Status signWith(X509* x, const PrivateKey& key, CertificateSignatureAlg alg) {
  const bool want_rsa = alg == CertificateSignatureAlg::RsaPkcs1Sha256 ||
                        alg == CertificateSignatureAlg::RsaPssSha384;
  if (want_rsa != (key.type() == KeyType::Rsa)) {
    return builderError(std::string("the signing key is ") +
                        (key.type() == KeyType::Rsa ? "RSA" : "EC") + " but the algorithm needs " +
                        (want_rsa ? "an RSA key" : "an EC key"));
  }
  const EVP_MD* md =
      (alg == CertificateSignatureAlg::RsaPssSha384 || alg == CertificateSignatureAlg::EcdsaSha384)
          ? EVP_sha384()
          : EVP_sha256();
  SslPtr<EVP_MD_CTX> mctx(EVP_MD_CTX_new());
  if (!mctx) return opensslError("EVP_MD_CTX_new");
  EVP_PKEY_CTX* pctx = nullptr;  // owned by mctx
  if (EVP_DigestSignInit(mctx.get(), &pctx, md, nullptr, key.evp()) != 1) {
    return opensslError("EVP_DigestSignInit");
  }
  if (alg == CertificateSignatureAlg::RsaPssSha384) {
    // AMD's ARK/ASK/VCEK: RSASSA-PSS, SHA-384, MGF1-SHA-384, salt 48 (spec/azure-wire.md §5).
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, kAmdPssSaltLength) != 1 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha384()) != 1) {
      return opensslError("RSA-PSS parameters");
    }
  }
  if (X509_sign_ctx(x, mctx.get()) <= 0) return opensslError("X509_sign_ctx");
  return okStatus();
}

}  // namespace

CertificateBuilder& CertificateBuilder::subject(DistinguishedName name) {
  subject_ = std::move(name);
  return *this;
}

CertificateBuilder& CertificateBuilder::issuer(const Certificate& issuer_certificate) {
  issuer_der_ = issuer_certificate.der();
  issuer_name_.reset();
  return *this;
}

CertificateBuilder& CertificateBuilder::issuerName(DistinguishedName name) {
  issuer_name_ = std::move(name);
  issuer_der_.reset();
  return *this;
}

CertificateBuilder& CertificateBuilder::serialNumber(Bytes big_endian) {
  serial_ = std::move(big_endian);
  return *this;
}

CertificateBuilder& CertificateBuilder::serialNumber(uint64_t serial) {
  Bytes be;
  for (uint64_t v = serial; v != 0; v >>= 8) be.insert(be.begin(), static_cast<uint8_t>(v));
  serial_ = std::move(be);
  return *this;
}

CertificateBuilder& CertificateBuilder::validity(TimePoint not_before, TimePoint not_after) {
  not_before_ = not_before;
  not_after_ = not_after;
  return *this;
}

CertificateBuilder& CertificateBuilder::publicKey(const PublicKey& key) {
  spki_der_ = key.toSpkiDer();
  return *this;
}

CertificateBuilder& CertificateBuilder::basicConstraints(bool ca, std::optional<int> path_len) {
  ca_ = ca;
  path_len_ = path_len;
  return *this;
}

CertificateBuilder& CertificateBuilder::keyUsage(uint32_t bits) {
  key_usage_ = bits;
  return *this;
}

CertificateBuilder& CertificateBuilder::extendedKeyUsage(std::vector<std::string> oids) {
  eku_ = std::move(oids);
  return *this;
}

CertificateBuilder& CertificateBuilder::dnsNames(std::vector<std::string> names) {
  dns_names_ = std::move(names);
  return *this;
}

CertificateBuilder& CertificateBuilder::subjectKeyIdentifier(bool enabled) {
  ski_ = enabled;
  return *this;
}

CertificateBuilder& CertificateBuilder::authorityKeyIdentifier(bool enabled) {
  aki_ = enabled;
  return *this;
}

CertificateBuilder& CertificateBuilder::addExtension(std::string oid, Bytes der_value,
                                                     bool critical) {
  extensions_.push_back(RawExtension{std::move(oid), std::move(der_value), critical});
  return *this;
}

StatusOr<Certificate> CertificateBuilder::sign(const PrivateKey& issuer_key,
                                               CertificateSignatureAlg alg) const {
  // Validate everything first, so errors name the field rather than an OpenSSL call.
  if (spki_der_.empty()) return builderError("no subject public key");
  if (!not_before_ || !not_after_) return builderError("no validity period");
  if (*not_after_ <= *not_before_) return builderError("notAfter is not after notBefore");
  if (serial_.size() > kMaxSerialBytes) {
    return builderError("serial number is " + std::to_string(serial_.size()) +
                        " bytes, expected at most 20");
  }
  if (path_len_ && (!ca_ || !*ca_)) return builderError("pathLenConstraint without CA:TRUE");
  if (path_len_ && *path_len_ < 0) return builderError("negative pathLenConstraint");
  if (key_usage_ && (*key_usage_ == 0 || *key_usage_ >= (1u << 7))) {
    return builderError("keyUsage bits 0x" + std::to_string(*key_usage_) +
                        " are empty or outside digitalSignature..cRLSign");
  }
  for (const std::string& name : dns_names_) {
    if (!isDnsName(name)) return builderError("'" + name + "' is not a DNS name");
  }

  SslPtr<X509> x(X509_new());
  if (!x) return opensslError("X509_new");
  if (X509_set_version(x.get(), X509_VERSION_3) != 1) return opensslError("X509_set_version");

  SslPtr<BIGNUM> serial(BN_bin2bn(serial_.data(), static_cast<int>(serial_.size()), nullptr));
  if (!serial || BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(x.get())) == nullptr) {
    return opensslError("serial number");
  }
  if (ASN1_TIME_set(X509_getm_notBefore(x.get()), toTimeT(*not_before_)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(x.get()), toTimeT(*not_after_)) == nullptr) {
    return builderError("validity times are not representable in ASN.1: " + takeOpenSslErrors());
  }

  SKR_ASSIGN_OR_RETURN(SslPtr<X509_NAME> subject, buildName(subject_, "subject"));
  if (X509_set_subject_name(x.get(), subject.get()) != 1) return opensslError("subject name");

  std::optional<Certificate> issuer_cert;
  if (issuer_der_) {
    SKR_ASSIGN_OR_RETURN(Certificate parsed, Certificate::fromDer(*issuer_der_));
    issuer_cert.emplace(std::move(parsed));
    if (X509_set_issuer_name(x.get(), X509_get_subject_name(issuer_cert->x509())) != 1) {
      return opensslError("issuer name");
    }
  } else if (issuer_name_) {
    SKR_ASSIGN_OR_RETURN(SslPtr<X509_NAME> issuer, buildName(*issuer_name_, "issuer"));
    if (X509_set_issuer_name(x.get(), issuer.get()) != 1) return opensslError("issuer name");
  } else if (X509_set_issuer_name(x.get(), subject.get()) != 1) {
    return opensslError("issuer name");
  }

  const unsigned char* p = spki_der_.data();
  SslPtr<EVP_PKEY> subject_key(d2i_PUBKEY(nullptr, &p, static_cast<long>(spki_der_.size())));
  if (!subject_key) return opensslError("d2i_PUBKEY");
  if (X509_set_pubkey(x.get(), subject_key.get()) != 1) return opensslError("X509_set_pubkey");

  // Standard extensions in a fixed order, then the caller's in call order.
  if (ca_) {
    SKR_RETURN_IF_ERROR(
        addRawExtension(x.get(), "2.5.29.19", basicConstraintsDer(*ca_, path_len_), true));
  }
  if (key_usage_) {
    SKR_RETURN_IF_ERROR(addRawExtension(x.get(), "2.5.29.15", keyUsageDer(*key_usage_), true));
  }
  if (!eku_.empty()) {
    Bytes content;
    for (const std::string& oid : eku_) {
      SKR_ASSIGN_OR_RETURN(Bytes der, oidDer(oid));
      content.insert(content.end(), der.begin(), der.end());
    }
    SKR_RETURN_IF_ERROR(addRawExtension(x.get(), "2.5.29.37", tlv(0x30, content), false));
  }
  if (!dns_names_.empty()) {
    Bytes content;
    for (const std::string& name : dns_names_) {
      Bytes entry = tlv(0x82, asBytes(name));  // [2] IMPLICIT IA5String dNSName
      content.insert(content.end(), entry.begin(), entry.end());
    }
    SKR_RETURN_IF_ERROR(addRawExtension(x.get(), "2.5.29.17", tlv(0x30, content), false));
  }
  if (ski_) {
    SKR_ASSIGN_OR_RETURN(Bytes key_id, keyIdentifierOf(x.get()));
    SKR_RETURN_IF_ERROR(addRawExtension(x.get(), "2.5.29.14", tlv(0x04, key_id), false));
  }
  if (aki_) {
    std::optional<Bytes> key_id;
    if (issuer_cert) {
      SKR_ASSIGN_OR_RETURN(key_id, issuerSki(*issuer_cert));
    }
    if (!key_id) {
      SKR_ASSIGN_OR_RETURN(Bytes computed, keyIdentifierOf(issuer_key));
      key_id = std::move(computed);
    }
    // AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING }
    SKR_RETURN_IF_ERROR(
        addRawExtension(x.get(), "2.5.29.35", tlv(0x30, tlv(0x80, *key_id)), false));
  }
  for (const RawExtension& ext : extensions_) {
    SKR_RETURN_IF_ERROR(addRawExtension(x.get(), ext.oid, ext.value, ext.critical));
  }

  SKR_RETURN_IF_ERROR(signWith(x.get(), issuer_key, alg));

  unsigned char* der_raw = nullptr;
  const int len = i2d_X509(x.get(), &der_raw);
  if (len <= 0) return opensslError("i2d_X509");
  SslBuffer der(der_raw, SslBufferDeleter{static_cast<std::size_t>(len)});
  return Certificate::fromDer(ByteView(der.get(), static_cast<std::size_t>(len)));
}

}  // namespace skr::crypto
