#include "common/crypto/x509.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <utility>

#include "common/crypto/digest.h"
#include "common/crypto/openssl_error.h"

namespace skr::crypto {
namespace {

// Whether `host` is an IPv4 or IPv6 address literal (a2i_IPADDRESS accepts exactly those).
bool isIpLiteral(const std::string& host) {
  SslPtr<ASN1_OCTET_STRING> ip(a2i_IPADDRESS(host.c_str()));
  ERR_clear_error();
  return ip != nullptr;
}

// Certificates seen by skr are a few KiB (AMD VCEK ~1.4 KiB, ARK/ASK ~1.6 KiB); the limits only
// keep hostile input from driving large allocations.
constexpr std::size_t kMaxCertificateDerBytes = 64 * 1024;
constexpr std::size_t kMaxPemInputBytes = 4 * 1024 * 1024;

std::string formatTime(std::optional<std::time_t> maybe_t) {
  if (!maybe_t) return "?";
  std::time_t t = *maybe_t;
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr) return std::to_string(static_cast<long long>(t));
  char buf[32];
  std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return std::string(buf, n);
}

// ASN1_TIME -> seconds since the epoch (UTC).
std::optional<std::time_t> asn1TimeToTimeT(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return std::nullopt;
  std::time_t seconds = timegm(&tm);
  if (seconds == static_cast<std::time_t>(-1) &&
      !(tm.tm_year == 69 && tm.tm_mon == 11 && tm.tm_mday == 31)) {
    return std::nullopt;
  }
  return seconds;
}

// system_clock counts nanoseconds on libstdc++ and ends in 2262; RFC 5280 "no well-defined
// expiration" certificates say 9999-12-31, so times beyond the range clamp to its ends.
TimePoint timePointFromTimeT(std::time_t t) {
  using std::chrono::seconds;
  constexpr auto kMax = std::chrono::duration_cast<seconds>(TimePoint::max().time_since_epoch());
  constexpr auto kMin = std::chrono::duration_cast<seconds>(TimePoint::min().time_since_epoch());
  if (t >= kMax.count()) return TimePoint::max();
  if (t <= kMin.count()) return TimePoint::min();
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(seconds(t)));
}

std::time_t timeTFromTimePoint(TimePoint tp) {
  return static_cast<std::time_t>(
      std::chrono::duration_cast<std::chrono::seconds>(tp.time_since_epoch()).count());
}

std::string nameCommonName(const X509_NAME* name) {
  if (name == nullptr) return {};
  // The last CN is the most specific one (RFC 6125 §6.4.4 takes the same view).
  int index = -1;
  for (int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(name, NID_commonName, i)) {
    index = i;
  }
  if (index < 0) return {};
  const ASN1_STRING* value = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  unsigned char* utf8_raw = nullptr;
  int len = ASN1_STRING_to_UTF8(&utf8_raw, value);
  if (len < 0) {
    ERR_clear_error();
    return {};
  }
  SslBuffer utf8(utf8_raw, SslBufferDeleter{static_cast<std::size_t>(len)});
  return std::string(reinterpret_cast<const char*>(utf8.get()),  // NOLINT
                     static_cast<std::size_t>(len));
}

std::string nameOneLine(const X509_NAME* name) {
  SslPtr<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) {
    ERR_clear_error();
    return {};
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  if (len <= 0 || data == nullptr) return {};
  return std::string(data, static_cast<std::size_t>(len));
}

// The subject CN for messages; the whole subject when it has no CN.
std::string describe(const X509* x) {
  std::string cn = nameCommonName(X509_get_subject_name(x));
  return cn.empty() ? nameOneLine(X509_get_subject_name(x)) : cn;
}

// Dotted-decimal OID with at least two arcs, e.g. "1.3.6.1.4.1.3704.1.3.1".
bool isDottedOid(std::string_view oid) {
  if (oid.empty() || oid.size() > 256 || oid.front() == '.' || oid.back() == '.') return false;
  int arcs = 1;
  char previous = '\0';
  for (char c : oid) {
    if (c == '.') {
      if (previous == '.') return false;
      ++arcs;
    } else if (std::isdigit(static_cast<unsigned char>(c)) == 0) {
      return false;
    }
    previous = c;
  }
  return arcs >= 2;
}

std::string objectToDotted(const ASN1_OBJECT* obj) {
  char buf[128];
  int len = OBJ_obj2txt(buf, sizeof buf, obj, 1);
  if (len <= 0) return {};
  if (static_cast<std::size_t>(len) < sizeof buf) return std::string(buf, static_cast<size_t>(len));
  std::string big(static_cast<std::size_t>(len) + 1, '\0');
  OBJ_obj2txt(big.data(), len + 1, obj, 1);
  big.resize(static_cast<std::size_t>(len));
  return big;
}

SslPtr<X509> upRef(X509* x) {
  if (X509_up_ref(x) != 1) std::abort();  // Only fails on a corrupted object.
  return SslPtr<X509>(x);
}

// Up to `stop_after` CERTIFICATE blocks of `pem`, in order. Text outside blocks is skipped, as
// openssl does; every block must be a well-formed CERTIFICATE without PEM headers.
StatusOr<std::vector<Certificate>> readPemCertificates(std::string_view pem,
                                                       std::size_t stop_after) {
  if (pem.size() > kMaxPemInputBytes) {
    return invalidArgumentError("PEM input is " + std::to_string(pem.size()) + " bytes, limit " +
                                std::to_string(kMaxPemInputBytes));
  }
  ERR_clear_error();
  SslPtr<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return internalError("BIO_new_mem_buf: " + takeOpenSslErrors());

  std::vector<Certificate> certs;
  for (std::size_t block = 1; certs.size() < stop_after; ++block) {
    char* name_raw = nullptr;
    char* header_raw = nullptr;
    unsigned char* data_raw = nullptr;
    long len = 0;
    int read = PEM_read_bio(bio.get(), &name_raw, &header_raw, &data_raw, &len);
    SslString name(name_raw);
    SslString header(header_raw);
    SslBuffer data(data_raw, SslBufferDeleter{len > 0 ? static_cast<std::size_t>(len) : 0});
    if (read != 1) {
      unsigned long e = ERR_peek_last_error();
      if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
        ERR_clear_error();  // End of input: no further "-----BEGIN" line.
        break;
      }
      return invalidArgumentError("PEM block " + std::to_string(block) +
                                  " is malformed: " + takeOpenSslErrors());
    }
    if (std::strcmp(name.get(), PEM_STRING_X509) != 0) {
      return invalidArgumentError("PEM block " + std::to_string(block) + " is '" + name.get() +
                                  "', expected 'CERTIFICATE'");
    }
    if (header && header.get()[0] != '\0') {
      return invalidArgumentError("PEM block " + std::to_string(block) +
                                  " has PEM headers; a CERTIFICATE block has none");
    }
    auto cert = Certificate::fromDer(ByteView(data.get(), static_cast<std::size_t>(len)));
    if (!cert.ok()) return cert.status().withContext("PEM block " + std::to_string(block));
    certs.push_back(std::move(cert).value());
  }
  return certs;
}

bool isTimeError(int error) {
  return error == X509_V_ERR_CERT_HAS_EXPIRED || error == X509_V_ERR_CERT_NOT_YET_VALID;
}

}  // namespace

StatusOr<Certificate> Certificate::fromDer(ByteView der) {
  if (der.empty()) return invalidArgumentError("certificate DER is empty");
  if (der.size() > kMaxCertificateDerBytes) {
    return invalidArgumentError("certificate DER is " + std::to_string(der.size()) +
                                " bytes, limit " + std::to_string(kMaxCertificateDerBytes));
  }
  ERR_clear_error();
  const unsigned char* p = der.data();
  SslPtr<X509> x509(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!x509) {
    return invalidArgumentError("certificate DER (" + std::to_string(der.size()) +
                                " bytes) does not parse: " + takeOpenSslErrors());
  }
  auto consumed = static_cast<std::size_t>(p - der.data());
  if (consumed != der.size()) {
    return invalidArgumentError("certificate DER has " + std::to_string(der.size() - consumed) +
                                " trailing bytes after the " + std::to_string(consumed) +
                                "-byte certificate");
  }
  // Checked once here so that the accessors below cannot fail.
  if (!asn1TimeToTimeT(X509_get0_notBefore(x509.get())) ||
      !asn1TimeToTimeT(X509_get0_notAfter(x509.get()))) {
    ERR_clear_error();
    return invalidArgumentError("certificate '" + describe(x509.get()) +
                                "' has a malformed validity time");
  }
  SslPtr<EVP_PKEY> pkey(X509_get_pubkey(x509.get()));
  if (!pkey) {
    return invalidArgumentError("certificate '" + describe(x509.get()) +
                                "' has an unreadable public key: " + takeOpenSslErrors());
  }
  auto key = PublicKey::fromEvp(std::move(pkey));
  if (!key.ok()) {
    return key.status().withContext("certificate '" + describe(x509.get()) + "' public key");
  }
  return Certificate(std::move(x509), Bytes(der.begin(), der.end()));
}

StatusOr<Certificate> Certificate::fromPem(std::string_view pem) {
  SKR_ASSIGN_OR_RETURN(auto certs, readPemCertificates(pem, 2));
  if (certs.empty()) return invalidArgumentError("no CERTIFICATE PEM block found");
  if (certs.size() > 1) {
    return invalidArgumentError("expected exactly one CERTIFICATE PEM block, found more");
  }
  return std::move(certs.front());
}

StatusOr<Certificate> Certificate::fromPemOrDer(ByteView data) {
  std::size_t i = 0;
  while (i < data.size() && std::isspace(data[i]) != 0) ++i;
  static constexpr std::string_view kPemStart = "-----BEGIN";
  if (data.size() - i >= kPemStart.size() &&
      std::equal(kPemStart.begin(), kPemStart.end(), data.begin() + static_cast<long>(i))) {
    // From the "-----BEGIN" on: openssl only sees a BEGIN line at the start of a line.
    ByteView pem = data.subspan(i);
    return fromPem(asText(pem));
  }
  if (!data.empty() && data[0] == 0x30) return fromDer(data);  // DER SEQUENCE
  return invalidArgumentError("certificate (" + std::to_string(data.size()) +
                              " bytes) is neither PEM nor DER");
}

StatusOr<std::vector<Certificate>> Certificate::parsePemBundle(std::string_view pem,
                                                               std::size_t max_certs) {
  if (max_certs == 0) return invalidArgumentError("parsePemBundle: max_certs is 0");
  SKR_ASSIGN_OR_RETURN(auto certs, readPemCertificates(pem, max_certs + 1));
  if (certs.empty()) return invalidArgumentError("no CERTIFICATE PEM block found");
  if (certs.size() > max_certs) {
    return resourceExhaustedError("PEM bundle has more than " + std::to_string(max_certs) +
                                  " certificates");
  }
  return certs;
}

Certificate::Certificate(const Certificate& other)
    : x509_(upRef(other.x509_.get())), der_(other.der_) {}

Certificate& Certificate::operator=(const Certificate& other) {
  if (this != &other) {
    x509_ = upRef(other.x509_.get());
    der_ = other.der_;
  }
  return *this;
}

std::string Certificate::toPem() const {
  SslPtr<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), x509_.get()) != 1) std::abort();  // Out of memory.
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

Bytes Certificate::sha256Fingerprint() const {
  return sha256(der_);
}

std::string Certificate::subjectCommonName() const {
  return nameCommonName(X509_get_subject_name(x509_.get()));
}

std::string Certificate::issuerCommonName() const {
  return nameCommonName(X509_get_issuer_name(x509_.get()));
}

std::string Certificate::subjectOneLine() const {
  return nameOneLine(X509_get_subject_name(x509_.get()));
}

std::string Certificate::serialHex() const {
  SslPtr<BIGNUM> bn(ASN1_INTEGER_to_BN(X509_get0_serialNumber(x509_.get()), nullptr));
  if (!bn) std::abort();  // d2i_X509 accepted the INTEGER; only out of memory remains.
  SslString hex_raw(BN_bn2hex(bn.get()));
  if (!hex_raw) std::abort();
  std::string hex(hex_raw.get());
  bool negative = !hex.empty() && hex.front() == '-';
  std::string digits = hex.substr(negative ? 1 : 0);
  std::size_t first = digits.find_first_not_of('0');
  digits = first == std::string::npos ? "0" : digits.substr(first);
  std::transform(digits.begin(), digits.end(), digits.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return negative ? "-" + digits : digits;
}

TimePoint Certificate::notBefore() const {
  return timePointFromTimeT(*asn1TimeToTimeT(X509_get0_notBefore(x509_.get())));
}

TimePoint Certificate::notAfter() const {
  return timePointFromTimeT(*asn1TimeToTimeT(X509_get0_notAfter(x509_.get())));
}

std::string Certificate::signatureAlgorithmOid() const {
  const ASN1_BIT_STRING* signature = nullptr;
  const X509_ALGOR* algorithm = nullptr;
  X509_get0_signature(&signature, &algorithm, x509_.get());
  const ASN1_OBJECT* obj = nullptr;
  X509_ALGOR_get0(&obj, nullptr, nullptr, algorithm);
  return objectToDotted(obj);
}

bool Certificate::isSelfIssued() const {
  return X509_NAME_cmp(X509_get_subject_name(x509_.get()), X509_get_issuer_name(x509_.get())) == 0;
}

PublicKey Certificate::publicKey() const {
  // fromDer checked that PublicKey accepts this key.
  auto key = PublicKey::fromEvp(SslPtr<EVP_PKEY>(X509_get_pubkey(x509_.get())));
  if (!key.ok()) internal::dieOnBadStatusAccess(key.status());
  return std::move(key).value();
}

StatusOr<std::optional<Bytes>> Certificate::extensionValue(std::string_view oid) const {
  if (!isDottedOid(oid)) {
    return invalidArgumentError("extension OID '" + std::string(oid.substr(0, 64)) +
                                "' is not in dotted-decimal form");
  }
  ERR_clear_error();
  SslPtr<ASN1_OBJECT> obj(OBJ_txt2obj(std::string(oid).c_str(), 1));
  if (!obj) {
    return invalidArgumentError("extension OID '" + std::string(oid) +
                                "' is malformed: " + takeOpenSslErrors());
  }
  int index = X509_get_ext_by_OBJ(x509_.get(), obj.get(), -1);
  if (index < 0) return std::optional<Bytes>();
  // RFC 5280 §4.2: an extension appears at most once; two would make the value ambiguous.
  if (X509_get_ext_by_OBJ(x509_.get(), obj.get(), index) >= 0) {
    return invalidArgumentError("certificate '" + describe(x509_.get()) + "' has extension " +
                                std::string(oid) + " more than once");
  }
  const ASN1_OCTET_STRING* value = X509_EXTENSION_get_data(X509_get_ext(x509_.get(), index));
  const unsigned char* bytes = ASN1_STRING_get0_data(value);
  return std::optional<Bytes>(
      Bytes(bytes, bytes + static_cast<std::size_t>(ASN1_STRING_length(value))));
}

Status Certificate::verifySignedBy(const Certificate& issuer) const {
  ERR_clear_error();
  EVP_PKEY* issuer_key = X509_get0_pubkey(issuer.x509_.get());
  if (issuer_key == nullptr) return internalError("X509_get0_pubkey: " + takeOpenSslErrors());
  int rc = X509_verify(x509_.get(), issuer_key);
  if (rc == 1) return okStatus();
  return dataLossError(
      "certificate '" + describe(x509_.get()) + "' is not signed by '" +
      describe(issuer.x509_.get()) + "': " +
      (rc == 0 ? std::string("signature does not verify") + " (" + takeOpenSslErrors() + ")"
               : takeOpenSslErrors()));
}

Status verifyChain(const Certificate& leaf, std::span<const Certificate> intermediates,
                   std::span<const Certificate> roots, const ChainVerifyOptions& options) {
  if (roots.empty() && !options.system_trust_store) {
    return invalidArgumentError("verifyChain: no trust anchors given");
  }
  if (options.max_depth < 1) {
    return invalidArgumentError("verifyChain: max_depth is " + std::to_string(options.max_depth) +
                                ", expected >= 1");
  }
  if (options.hostname && options.hostname->empty()) {
    return invalidArgumentError("verifyChain: hostname is empty");
  }
  ERR_clear_error();

  SslPtr<X509_STORE> store(X509_STORE_new());
  if (!store) return internalError("X509_STORE_new: " + takeOpenSslErrors());
  for (const Certificate& root : roots) {
    if (X509_STORE_add_cert(store.get(), root.x509()) != 1) {
      return internalError("X509_STORE_add_cert: " + takeOpenSslErrors());
    }
  }
  if (options.system_trust_store && X509_STORE_set_default_paths(store.get()) != 1) {
    return internalError("X509_STORE_set_default_paths: " + takeOpenSslErrors());
  }
  SslPtr<STACK_OF(X509)> untrusted(sk_X509_new_null());
  if (!untrusted) return internalError("sk_X509_new_null: " + takeOpenSslErrors());
  for (const Certificate& cert : intermediates) {
    SslPtr<X509> ref = upRef(cert.x509());
    if (sk_X509_push(untrusted.get(), ref.get()) <= 0) {
      return internalError("sk_X509_push: " + takeOpenSslErrors());
    }
    (void)ref.release();  // Now owned by the stack.
  }

  SslPtr<X509_STORE_CTX> ctx(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), store.get(), leaf.x509(), untrusted.get()) != 1) {
    return internalError("X509_STORE_CTX_init: " + takeOpenSslErrors());
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  // X509_V_FLAG_X509_STRICT stays off: AMD VCEKs have serial 0 and no AKI (see x509.h).
  if (options.at) {
    X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_USE_CHECK_TIME);
    X509_VERIFY_PARAM_set_time(param, timeTFromTimePoint(*options.at));
  }
  // OpenSSL's depth counts intermediates only: neither the leaf nor the trust anchor.
  X509_VERIFY_PARAM_set_depth(param, std::max(0, options.max_depth - 2));
  // An IP literal host matches iPAddress SANs only (RFC 2818 §3.1); set1_host would compare it
  // with dNSName entries and never match a certificate for https://127.0.0.1.
  if (options.hostname && isIpLiteral(*options.hostname)) {
    if (X509_VERIFY_PARAM_set1_ip_asc(param, options.hostname->c_str()) != 1) {
      return invalidArgumentError("verifyChain: IP address '" + *options.hostname +
                                  "' is not usable: " + takeOpenSslErrors());
    }
  } else if (options.hostname && X509_VERIFY_PARAM_set1_host(param, options.hostname->data(),
                                                             options.hostname->size()) != 1) {
    return invalidArgumentError("verifyChain: hostname '" + *options.hostname +
                                "' is not usable: " + takeOpenSslErrors());
  }

  int rc = X509_verify_cert(ctx.get());
  if (rc == 1) {
    int length = sk_X509_num(X509_STORE_CTX_get0_chain(ctx.get()));
    if (length > options.max_depth) {
      return dataLossError("certificate chain of '" + describe(leaf.x509()) + "' has " +
                           std::to_string(length) + " certificates, limit " +
                           std::to_string(options.max_depth));
    }
    ERR_clear_error();
    return okStatus();
  }

  int error = X509_STORE_CTX_get_error(ctx.get());
  int depth = X509_STORE_CTX_get_error_depth(ctx.get());
  X509* failing = X509_STORE_CTX_get_current_cert(ctx.get());
  if (failing == nullptr) failing = leaf.x509();
  if (error == X509_V_OK) {
    return internalError("X509_verify_cert failed without a verify error: " + takeOpenSslErrors());
  }
  ERR_clear_error();
  std::string message = "certificate '" + describe(failing) + "' (chain depth " +
                        std::to_string(depth) + "): " + X509_verify_cert_error_string(error);
  if (isTimeError(error)) {
    std::time_t at = options.at ? timeTFromTimePoint(*options.at) : std::time(nullptr);
    message += " (valid " + formatTime(asn1TimeToTimeT(X509_get0_notBefore(failing))) + " to " +
               formatTime(asn1TimeToTimeT(X509_get0_notAfter(failing))) + ", checked at " +
               formatTime(at) + ")";
    return failedPreconditionError(std::move(message));
  }
  if ((error == X509_V_ERR_HOSTNAME_MISMATCH || error == X509_V_ERR_IP_ADDRESS_MISMATCH) &&
      options.hostname) {
    message += " (expected '" + *options.hostname + "')";
  }
  return dataLossError(std::move(message));
}

}  // namespace skr::crypto
