// X.509 certificates: parsing (DER, PEM, PEM bundles), fields and extensions by OID, and chain
// verification with an injectable verification time and RSA-PSS signatures.
// OpenSSL's X509_V_FLAG_X509_STRICT stays off: AMD VCEKs have serial number 0 and no Authority Key
// Identifier (shared/fixtures/README.md), which strict mode rejects.
#pragma once

#include <openssl/x509.h>

#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/bytes.h"
#include "common/core/ssl_ptr.h"
#include "common/core/status.h"
#include "common/crypto/pkey.h"

namespace skr::crypto {

using TimePoint = std::chrono::system_clock::time_point;

// An immutable parsed certificate. Parsing also checks that the validity times decode and that
// PublicKey supports the key (RSA, EC P-256/P-384/P-521), so the accessors below cannot fail.
// Copies share the underlying X509 (reference-counted); const methods are thread-safe.
class Certificate {
 public:
  // The whole input must be one certificate (trailing bytes: InvalidArgument); at most 64 KiB.
  static StatusOr<Certificate> fromDer(ByteView der);
  // Exactly one "CERTIFICATE" PEM block.
  static StatusOr<Certificate> fromPem(std::string_view pem);
  // PEM or DER, detected from the content.
  static StatusOr<Certificate> fromPemOrDer(ByteView data);
  // All "CERTIFICATE" blocks in order; at least one, at most `max_certs` (ResourceExhausted when
  // there are more). Text between blocks is skipped as openssl does; a block of another type, with
  // PEM headers, or truncated is InvalidArgument.
  static StatusOr<std::vector<Certificate>> parsePemBundle(std::string_view pem,
                                                           std::size_t max_certs = 16);

  Certificate(const Certificate& other);
  Certificate& operator=(const Certificate& other);
  Certificate(Certificate&&) noexcept = default;
  Certificate& operator=(Certificate&&) noexcept = default;

  const Bytes& der() const { return der_; }
  std::string toPem() const;
  Bytes sha256Fingerprint() const;  // SHA-256 of the DER

  std::string subjectCommonName() const;  // empty when absent
  std::string issuerCommonName() const;
  std::string subjectOneLine() const;  // RFC 2253 form, for messages
  std::string serialHex() const;       // lower case, "0" for zero
  // Times past the range of TimePoint (year 2262 on libstdc++, e.g. RFC 5280's 99991231235959Z)
  // clamp to TimePoint::max().
  TimePoint notBefore() const;
  TimePoint notAfter() const;
  std::string signatureAlgorithmOid() const;  // dotted form, e.g. "1.2.840.113549.1.1.10"
  bool isSelfIssued() const;

  PublicKey publicKey() const;

  // Content octets of the extension's extnValue (the DER of the inner value), or nullopt when the
  // certificate has no such extension. `oid` in dotted form. InvalidArgument for a malformed OID
  // and for a certificate that carries the extension twice.
  StatusOr<std::optional<Bytes>> extensionValue(std::string_view oid) const;

  // Whether `issuer`'s key signed this certificate (any algorithm OpenSSL knows, incl. RSA-PSS):
  // OK, or DataLoss naming both certificates. Checks the signature only: no names, times or CA
  // constraints.
  Status verifySignedBy(const Certificate& issuer) const;

  X509* x509() const { return x509_.get(); }

 private:
  Certificate(SslPtr<X509> x509, Bytes der) : x509_(std::move(x509)), der_(std::move(der)) {}
  SslPtr<X509> x509_;
  Bytes der_;
};

struct ChainVerifyOptions {
  // Verification time; nullopt = now.
  std::optional<TimePoint> at;
  // When set, the leaf must be valid for this DNS name (SAN, or CN when there are no SANs); an
  // IPv4/IPv6 literal ("127.0.0.1", "::1") must be one of the leaf's iPAddress SANs.
  std::optional<std::string> hostname;
  // Maximum chain length including leaf and root.
  int max_depth = 8;
  // Also trust OpenSSL's default verify paths (the system store, /etc/ssl/certs; SSL_CERT_FILE /
  // SSL_CERT_DIR override them). With it set, `roots` may be empty.
  bool system_trust_store = false;
};

// Verifies leaf <- intermediates <- one of `roots` (trust anchors, plus the system store when
// options.system_trust_store) with OpenSSL's X509_verify_cert
// (signatures incl. RSA-PSS, validity at `at`, CA constraints; strict mode off). The error names
// the failing certificate's subject and OpenSSL's reason: DataLoss for signature/untrusted,
// FailedPrecondition for time validity ("certificate has expired" / "not yet valid"). As in
// OpenSSL, a certificate is valid from notBefore (inclusive) to notAfter (exclusive). Accepts AMD's
// VCEK <- ASK <- ARK chain (RSASSA-PSS; VCEK serial 0, no AKI).
Status verifyChain(const Certificate& leaf, std::span<const Certificate> intermediates,
                   std::span<const Certificate> roots, const ChainVerifyOptions& options);

}  // namespace skr::crypto
