#include "common/crypto/pkey.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

#include "common/crypto/openssl_error.h"

namespace skr::crypto {
namespace {

// Modulus limits. Public keys down to 1024 bits are accepted so that legacy material (old
// certificates, test fixtures) can still be verified; every key skr generates or holds privately
// is >= 2048 bits (generateRsa offers 2048/3072/4096 only). 16384 is OpenSSL's own ceiling for
// RSA public operations (OPENSSL_RSA_MAX_MODULUS_BITS).
constexpr int kMinRsaPublicBits = 1024;
constexpr int kMinRsaPrivateBits = 2048;
constexpr int kMaxRsaBits = 16384;

struct CurveInfo {
  Curve curve;
  const char* jose_name;
  const char* openssl_name;  // OSSL_PKEY_PARAM_GROUP_NAME as OpenSSL reports it
  std::size_t field_size;
};

constexpr CurveInfo kCurves[] = {
    {Curve::P256, "P-256", "prime256v1", 32},
    {Curve::P384, "P-384", "secp384r1", 48},
    {Curve::P521, "P-521", "secp521r1", 66},
};

const CurveInfo& curveInfo(Curve curve) {
  for (const CurveInfo& info : kCurves) {
    if (info.curve == curve) return info;
  }
  std::abort();  // Unreachable: every enumerator is in kCurves.
}

// Clears errors of an expected failure (bad input) and returns `status`.
Status expectedFailure(Status status) {
  ERR_clear_error();
  return status;
}

std::string truncatedName(std::string_view name) {
  constexpr std::size_t kMax = 32;
  return name.size() <= kMax ? std::string(name) : std::string(name.substr(0, kMax)) + "...";
}

std::string keyTypeName(EVP_PKEY* pkey) {
  const char* name = EVP_PKEY_get0_type_name(pkey);
  return name != nullptr ? name : "unknown";
}

StatusOr<Curve> curveOf(EVP_PKEY* pkey) {
  if (!EVP_PKEY_is_a(pkey, "EC")) {
    return invalidArgumentError("key is " + keyTypeName(pkey) + ", not EC: it has no curve");
  }
  char group[64] = {};
  std::size_t group_len = 0;
  if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                     &group_len) != 1) {
    // Explicit curve parameters (no named group) are never accepted.
    return expectedFailure(
        invalidArgumentError("EC key without a named curve; expected P-256, P-384 or P-521"));
  }
  const std::string_view name(group, group_len);
  for (const CurveInfo& info : kCurves) {
    if (name == info.openssl_name || name == info.jose_name) return info.curve;
  }
  return invalidArgumentError("unsupported EC curve '" + truncatedName(name) +
                              "'; expected P-256, P-384 or P-521");
}

StatusOr<SslPtr<BIGNUM>> getBn(EVP_PKEY* pkey, const char* param) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, param, &raw) != 1) {
    return openSslInternalError(std::string("reading key parameter '") + param + "'");
  }
  return SslPtr<BIGNUM>(raw);
}

Bytes bnToBytes(const BIGNUM* bn) {
  Bytes out(static_cast<std::size_t>(BN_num_bytes(bn)));
  if (!out.empty()) BN_bn2bin(bn, out.data());
  return out;
}

// Big-endian, minimal length, into secret storage (private RSA components).
SecretBytes bnToSecret(const BIGNUM* bn) {
  const int len = BN_num_bytes(bn);
  SecretBytes out(static_cast<std::size_t>(len));
  if (len > 0) BN_bn2binpad(bn, out.mutableView(grantSecretAccess()).data(), len);
  return out;
}

StatusOr<SslPtr<BIGNUM>> publicBn(ByteView bytes, const char* what) {
  if (bytes.empty()) return invalidArgumentError(std::string(what) + " is empty");
  if (bytes.size() > static_cast<std::size_t>(INT_MAX)) {
    return invalidArgumentError(std::string(what) + " is too large");
  }
  SslPtr<BIGNUM> bn(BN_bin2bn(bytes.data(), static_cast<int>(bytes.size()), nullptr));
  if (!bn) return openSslInternalError("BN_bin2bn");
  return bn;
}

// A BIGNUM flagged secure, so OSSL_PARAM_BLD places it in the wiped part of the parameters.
StatusOr<SslPtr<BIGNUM>> secretBn(const SecretBytes& bytes, const char* what) {
  if (bytes.empty()) return invalidArgumentError(std::string(what) + " is empty");
  if (bytes.size() > static_cast<std::size_t>(INT_MAX)) {
    return invalidArgumentError(std::string(what) + " is too large");
  }
  SslPtr<BIGNUM> bn(BN_secure_new());
  if (!bn) return openSslInternalError("BN_secure_new");
  const ByteView view = bytes.view(grantSecretAccess());
  if (BN_bin2bn(view.data(), static_cast<int>(view.size()), bn.get()) == nullptr) {
    return openSslInternalError("BN_bin2bn");
  }
  return bn;
}

// RSA sanity shared by public and private keys: modulus size within limits, n and e odd, e > 1.
Status checkRsaKey(EVP_PKEY* pkey, int min_bits) {
  const int bits = EVP_PKEY_get_bits(pkey);
  if (bits < min_bits || bits > kMaxRsaBits) {
    return invalidArgumentError("RSA modulus is " + std::to_string(bits) + " bits, expected " +
                                std::to_string(min_bits) + ".." + std::to_string(kMaxRsaBits));
  }
  SKR_ASSIGN_OR_RETURN(SslPtr<BIGNUM> n, getBn(pkey, OSSL_PKEY_PARAM_RSA_N));
  SKR_ASSIGN_OR_RETURN(SslPtr<BIGNUM> e, getBn(pkey, OSSL_PKEY_PARAM_RSA_E));
  if (!BN_is_odd(n.get())) return invalidArgumentError("RSA modulus is even");
  if (!BN_is_odd(e.get()) || BN_is_one(e.get())) {
    return invalidArgumentError("RSA public exponent must be odd and > 1");
  }
  return okStatus();
}

SslPtr<EVP_PKEY_CTX> ctxForKey(EVP_PKEY* pkey) {
  SslPtr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr));
  if (!ctx) abortOnOpenSslFailure("EVP_PKEY_CTX_new_from_pkey");
  return ctx;
}

// Which public key types skr handles. RSA-PSS SPKIs (id-RSASSA-PSS, as in AMD's ARK/ASK
// certificates) are accepted as RSA for PSS verification; private keys are rsaEncryption or EC.
StatusOr<KeyType> classifyPublic(EVP_PKEY* pkey) {
  if (EVP_PKEY_is_a(pkey, "RSA") || EVP_PKEY_is_a(pkey, "RSA-PSS")) {
    SKR_RETURN_IF_ERROR(checkRsaKey(pkey, kMinRsaPublicBits));
    return KeyType::Rsa;
  }
  if (EVP_PKEY_is_a(pkey, "EC")) {
    SKR_RETURN_IF_ERROR(curveOf(pkey));
    // On the curve, not infinity, of the right order (SP 800-56A 5.6.2.3.3).
    SslPtr<EVP_PKEY_CTX> ctx = ctxForKey(pkey);
    if (EVP_PKEY_public_check(ctx.get()) != 1) {
      return expectedFailure(invalidArgumentError("EC public key is not a valid curve point"));
    }
    return KeyType::Ec;
  }
  return invalidArgumentError("unsupported key type '" + keyTypeName(pkey) +
                              "'; expected RSA or EC P-256/P-384/P-521");
}

// RSA key-pair consistency without re-testing primality (what EVP_PKEY_pairwise_check spends
// ~140 ms on for RSA-3072, and what made skr-agent miss its 100 ms ready target with two keys):
// n = p*q, e*d = 1 mod (p-1) and mod (q-1), the CRT values derived from d, q*qInv = 1 mod p, and
// a random m that survives m^e then the CRT private operation. The last is a Fermat test of p
// and q with a random base, so a composite "prime" is caught with overwhelming probability;
// the keys skr holds come from OpenSSL key generation or an HSM (inside signed or sealed
// envelopes), so a slower deterministic primality proof adds no protection here.
bool rsaKeyPairConsistent(EVP_PKEY* pkey) {
  BIGNUM* raw[8] = {};
  const char* names[8] = {OSSL_PKEY_PARAM_RSA_N,         OSSL_PKEY_PARAM_RSA_E,
                          OSSL_PKEY_PARAM_RSA_D,         OSSL_PKEY_PARAM_RSA_FACTOR1,
                          OSSL_PKEY_PARAM_RSA_FACTOR2,   OSSL_PKEY_PARAM_RSA_EXPONENT1,
                          OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1};
  bool complete = true;
  for (int i = 0; i < 8; ++i)
    complete = EVP_PKEY_get_bn_param(pkey, names[i], &raw[i]) == 1 && complete;
  SslPtr<BIGNUM> n(raw[0]), e(raw[1]), d(raw[2]), p(raw[3]), q(raw[4]), dp(raw[5]), dq(raw[6]),
      qinv(raw[7]);
  if (!complete) return false;
  SslPtr<BN_CTX> ctx(BN_CTX_secure_new());
  SslPtr<BIGNUM> t1(BN_new()), t2(BN_new()), p1(BN_new()), q1(BN_new()), m(BN_new()), c(BN_new()),
      m1(BN_new()), m2(BN_new());
  if (!ctx || !t1 || !t2 || !p1 || !q1 || !m || !c || !m1 || !m2) return false;
  for (BIGNUM* secret : {d.get(), p.get(), q.get(), dp.get(), dq.get(), qinv.get()}) {
    BN_set_flags(secret, BN_FLG_CONSTTIME);
  }
  const BIGNUM* one = BN_value_one();
  if (BN_cmp(p.get(), one) <= 0 || BN_cmp(q.get(), one) <= 0 || !BN_is_odd(p.get()) ||
      !BN_is_odd(q.get()) || BN_cmp(p.get(), q.get()) == 0) {
    return false;
  }
  // n = p*q
  if (!BN_mul(t1.get(), p.get(), q.get(), ctx.get()) || BN_cmp(t1.get(), n.get()) != 0)
    return false;
  if (!BN_sub(p1.get(), p.get(), one) || !BN_sub(q1.get(), q.get(), one)) return false;
  // e*d = 1 mod (p-1) and mod (q-1); dp = d mod (p-1), dq = d mod (q-1)
  for (auto [m_1, exp] : {std::pair{p1.get(), dp.get()}, std::pair{q1.get(), dq.get()}}) {
    if (!BN_mod_mul(t1.get(), e.get(), d.get(), m_1, ctx.get()) || !BN_is_one(t1.get())) {
      return false;
    }
    if (!BN_mod(t2.get(), d.get(), m_1, ctx.get()) || BN_cmp(t2.get(), exp) != 0) return false;
  }
  // q * qInv = 1 mod p
  if (!BN_mod_mul(t1.get(), q.get(), qinv.get(), p.get(), ctx.get()) || !BN_is_one(t1.get())) {
    return false;
  }
  // m -> m^e mod n -> CRT private operation -> m
  if (!BN_priv_rand_range(m.get(), n.get()) ||
      !BN_mod_exp(c.get(), m.get(), e.get(), n.get(), ctx.get()) ||
      !BN_mod_exp_mont_consttime(m1.get(), c.get(), dp.get(), p.get(), ctx.get(), nullptr) ||
      !BN_mod_exp_mont_consttime(m2.get(), c.get(), dq.get(), q.get(), ctx.get(), nullptr) ||
      !BN_mod_sub(t1.get(), m1.get(), m2.get(), p.get(), ctx.get()) ||
      !BN_mod_mul(t2.get(), t1.get(), qinv.get(), p.get(), ctx.get()) ||
      !BN_mul(t1.get(), t2.get(), q.get(), ctx.get()) || !BN_add(t1.get(), t1.get(), m2.get())) {
    return false;
  }
  return BN_cmp(t1.get(), m.get()) == 0;
}

// Validates a private key end to end: supported type and size, and the private part consistent
// with the public part (RSA: rsaKeyPairConsistent; EC: d in range and Q = d*G).
StatusOr<KeyType> classifyPrivate(EVP_PKEY* pkey) {
  KeyType type;
  SslPtr<EVP_PKEY_CTX> ctx = ctxForKey(pkey);
  if (EVP_PKEY_is_a(pkey, "RSA")) {
    SKR_RETURN_IF_ERROR(checkRsaKey(pkey, kMinRsaPrivateBits));
    if (!rsaKeyPairConsistent(pkey)) {
      ERR_clear_error();
      return expectedFailure(invalidArgumentError(
          "RSA private key is inconsistent (components do not form a valid key pair)"));
    }
    type = KeyType::Rsa;
  } else if (EVP_PKEY_is_a(pkey, "EC")) {
    SKR_ASSIGN_OR_RETURN(Curve curve, curveOf(pkey));
    if (EVP_PKEY_check(ctx.get()) != 1) {
      return expectedFailure(
          invalidArgumentError(std::string("EC private key for ") + curveName(curve) +
                               ": d is out of range or does not match the public point (x, y)"));
    }
    type = KeyType::Ec;
  } else {
    return invalidArgumentError("unsupported private key type '" + keyTypeName(pkey) +
                                "'; expected RSA or EC P-256/P-384/P-521");
  }
  return type;
}

StatusOr<SslPtr<EVP_PKEY>> keyFromParams(const char* type, int selection, OSSL_PARAM_BLD* builder,
                                         const std::string& what) {
  SslPtr<OSSL_PARAM> params(OSSL_PARAM_BLD_to_param(builder));
  if (!params) return openSslInternalError(what + ": OSSL_PARAM_BLD_to_param");
  SslPtr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  if (!ctx) return openSslInternalError(what + ": EVP_PKEY_CTX_new_from_name");
  if (EVP_PKEY_fromdata_init(ctx.get()) != 1) return openSslInternalError(what + ": fromdata_init");
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &raw, selection, params.get()) != 1) {
    return expectedFailure(invalidArgumentError(what + ": the components do not form a valid key"));
  }
  return SslPtr<EVP_PKEY>(raw);
}

// 0x04 || x || y (SEC 1 §2.3.3 uncompressed point).
StatusOr<Bytes> uncompressedPoint(Curve curve, ByteView x, ByteView y, const std::string& what) {
  const std::size_t field = curveFieldSize(curve);
  if (x.size() != field || y.size() != field) {
    return invalidArgumentError(what + ": x is " + std::to_string(x.size()) + " bytes and y is " +
                                std::to_string(y.size()) + " bytes, expected " +
                                std::to_string(field) + " each");
  }
  Bytes point;
  point.reserve(1 + 2 * field);
  point.push_back(0x04);
  point.insert(point.end(), x.begin(), x.end());
  point.insert(point.end(), y.begin(), y.end());
  return point;
}

Bytes spkiDer(EVP_PKEY* pkey) {
  const int len = i2d_PUBKEY(pkey, nullptr);
  if (len <= 0) abortOnOpenSslFailure("i2d_PUBKEY");
  Bytes out(static_cast<std::size_t>(len));
  unsigned char* p = out.data();
  if (i2d_PUBKEY(pkey, &p) != len) abortOnOpenSslFailure("i2d_PUBKEY");
  return out;
}

SslPtr<BIO> memBio(ByteView bytes) {
  if (bytes.size() > static_cast<std::size_t>(INT_MAX)) return nullptr;
  static const uint8_t kEmpty = 0;  // BIO_new_mem_buf rejects NULL even for length 0
  const uint8_t* data = bytes.empty() ? &kEmpty : bytes.data();
  SslPtr<BIO> bio(BIO_new_mem_buf(data, static_cast<int>(bytes.size())));
  if (!bio) abortOnOpenSslFailure("BIO_new_mem_buf");
  return bio;
}

ByteView bioContents(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_ctrl(bio, BIO_CTRL_INFO, 0, &data);  // BIO_get_mem_data
  if (len <= 0 || data == nullptr) return {};
  return {reinterpret_cast<const uint8_t*>(data), static_cast<std::size_t>(len)};
}

// Never prompts for a passphrase: encrypted PEM private keys are rejected.
int refusePassphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*u*/) {
  return -1;
}

}  // namespace

const char* curveName(Curve curve) {
  return curveInfo(curve).jose_name;
}

StatusOr<Curve> curveFromName(std::string_view jose_name) {
  for (const CurveInfo& info : kCurves) {
    if (jose_name == info.jose_name) return info.curve;
  }
  return invalidArgumentError("unsupported curve '" + truncatedName(jose_name) +
                              "'; expected P-256, P-384 or P-521");
}

std::size_t curveFieldSize(Curve curve) {
  return curveInfo(curve).field_size;
}

// ---------------------------------------------------------------------------------------------
// PublicKey

StatusOr<PublicKey> PublicKey::fromSpkiDer(ByteView der) {
  if (der.empty() || der.size() > static_cast<std::size_t>(LONG_MAX)) {
    return invalidArgumentError("SubjectPublicKeyInfo: " + std::to_string(der.size()) +
                                " bytes is not a valid length");
  }
  const unsigned char* p = der.data();
  SslPtr<EVP_PKEY> pkey(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
  if (!pkey) {
    return expectedFailure(
        invalidArgumentError("SubjectPublicKeyInfo: not a valid DER public key"));
  }
  const auto consumed = static_cast<std::size_t>(p - der.data());
  if (consumed != der.size()) {
    return invalidArgumentError("SubjectPublicKeyInfo: " + std::to_string(der.size() - consumed) +
                                " trailing bytes after the DER structure");
  }
  return fromEvp(std::move(pkey));
}

StatusOr<PublicKey> PublicKey::fromPem(std::string_view pem) {
  SslPtr<BIO> bio = memBio(asBytes(pem));
  if (!bio) return invalidArgumentError("PEM public key is too large");
  SslPtr<EVP_PKEY> pkey(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!pkey) {
    return expectedFailure(
        invalidArgumentError("PEM: no valid 'PUBLIC KEY' (SubjectPublicKeyInfo) block"));
  }
  return fromEvp(std::move(pkey));
}

StatusOr<PublicKey> PublicKey::fromRsaComponents(ByteView n, ByteView e) {
  SKR_ASSIGN_OR_RETURN(SslPtr<BIGNUM> bn_n, publicBn(n, "RSA modulus n"));
  SKR_ASSIGN_OR_RETURN(SslPtr<BIGNUM> bn_e, publicBn(e, "RSA exponent e"));
  SslPtr<OSSL_PARAM_BLD> builder(OSSL_PARAM_BLD_new());
  if (!builder) return openSslInternalError("OSSL_PARAM_BLD_new");
  if (OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
    return openSslInternalError("RSA public key: OSSL_PARAM_BLD_push_BN");
  }
  SKR_ASSIGN_OR_RETURN(SslPtr<EVP_PKEY> pkey,
                       keyFromParams("RSA", EVP_PKEY_PUBLIC_KEY, builder.get(), "RSA public key"));
  return fromEvp(std::move(pkey));
}

StatusOr<PublicKey> PublicKey::fromEcPoint(Curve curve, ByteView x, ByteView y) {
  const std::string what = std::string("EC public key for ") + curveName(curve);
  SKR_ASSIGN_OR_RETURN(Bytes point, uncompressedPoint(curve, x, y, what));
  SslPtr<OSSL_PARAM_BLD> builder(OSSL_PARAM_BLD_new());
  if (!builder) return openSslInternalError("OSSL_PARAM_BLD_new");
  if (OSSL_PARAM_BLD_push_utf8_string(builder.get(), OSSL_PKEY_PARAM_GROUP_NAME,
                                      curveInfo(curve).openssl_name, 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(builder.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1) {
    return openSslInternalError(what + ": OSSL_PARAM_BLD_push");
  }
  // OpenSSL decodes the point with EC_POINT_oct2point, which rejects points not on the curve.
  auto pkey = keyFromParams("EC", EVP_PKEY_PUBLIC_KEY, builder.get(), what);
  if (!pkey.ok()) {
    if (pkey.status().code() != StatusCode::InvalidArgument) return std::move(pkey).status();
    return invalidArgumentError(what + ": (x, y) is not a point on the curve");
  }
  return fromEvp(std::move(pkey).value());
}

StatusOr<PublicKey> PublicKey::fromEvp(SslPtr<EVP_PKEY> pkey) {
  if (!pkey) return invalidArgumentError("no public key given");
  SKR_ASSIGN_OR_RETURN(KeyType type, classifyPublic(pkey.get()));
  return PublicKey(std::move(pkey), type);
}

int PublicKey::bits() const {
  return EVP_PKEY_get_bits(pkey_.get());
}

StatusOr<Curve> PublicKey::curve() const {
  return curveOf(pkey_.get());
}

StatusOr<RsaPublicComponents> PublicKey::rsaComponents() const {
  if (type_ != KeyType::Rsa) return invalidArgumentError("not an RSA key: no n, e components");
  SKR_ASSIGN_OR_RETURN(SslPtr<BIGNUM> n, getBn(pkey_.get(), OSSL_PKEY_PARAM_RSA_N));
  SKR_ASSIGN_OR_RETURN(SslPtr<BIGNUM> e, getBn(pkey_.get(), OSSL_PKEY_PARAM_RSA_E));
  return RsaPublicComponents{bnToBytes(n.get()), bnToBytes(e.get())};
}

StatusOr<EcPublicPoint> PublicKey::ecPoint() const {
  SKR_ASSIGN_OR_RETURN(Curve curve, curveOf(pkey_.get()));
  SKR_ASSIGN_OR_RETURN(SslPtr<BIGNUM> x, getBn(pkey_.get(), OSSL_PKEY_PARAM_EC_PUB_X));
  SKR_ASSIGN_OR_RETURN(SslPtr<BIGNUM> y, getBn(pkey_.get(), OSSL_PKEY_PARAM_EC_PUB_Y));
  const std::size_t field = curveFieldSize(curve);
  EcPublicPoint point{curve, Bytes(field), Bytes(field)};
  if (BN_bn2binpad(x.get(), point.x.data(), static_cast<int>(field)) < 0 ||
      BN_bn2binpad(y.get(), point.y.data(), static_cast<int>(field)) < 0) {
    return internalError("EC point coordinate larger than the field");
  }
  return point;
}

Bytes PublicKey::toSpkiDer() const {
  return spkiDer(pkey_.get());
}

std::string PublicKey::toPem() const {
  SslPtr<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio) abortOnOpenSslFailure("BIO_new");
  if (PEM_write_bio_PUBKEY(bio.get(), pkey_.get()) != 1)
    abortOnOpenSslFailure("PEM_write_bio_PUBKEY");
  return toString(bioContents(bio.get()));
}

bool PublicKey::equals(const PublicKey& other) const {
  const bool same = type_ == other.type_ && EVP_PKEY_eq(pkey_.get(), other.pkey_.get()) == 1;
  ERR_clear_error();  // EVP_PKEY_eq queues errors for keys of different types.
  return same;
}

// ---------------------------------------------------------------------------------------------
// PrivateKey

StatusOr<PrivateKey> PrivateKey::generateRsa(int bits) {
  if (bits != 2048 && bits != 3072 && bits != 4096) {
    return invalidArgumentError("RSA key size " + std::to_string(bits) +
                                " is not supported; expected 2048, 3072 or 4096");
  }
  // e = 65537 (OpenSSL's default).
  SslPtr<EVP_PKEY> pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(bits)));
  if (!pkey) return openSslInternalError("RSA-" + std::to_string(bits) + " key generation");
  return PrivateKey(std::move(pkey), KeyType::Rsa);
}

StatusOr<PrivateKey> PrivateKey::generateEc(Curve curve) {
  SslPtr<EVP_PKEY> pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curveInfo(curve).openssl_name));
  if (!pkey) return openSslInternalError(std::string(curveName(curve)) + " key generation");
  return PrivateKey(std::move(pkey), KeyType::Ec);
}

StatusOr<PrivateKey> PrivateKey::fromPkcs8Der(const SecretBytes& der) {
  const ByteView bytes = der.view(grantSecretAccess());
  if (bytes.empty() || bytes.size() > static_cast<std::size_t>(LONG_MAX)) {
    return invalidArgumentError("PKCS#8: " + std::to_string(bytes.size()) +
                                " bytes is not a valid length");
  }
  const unsigned char* p = bytes.data();
  SslPtr<PKCS8_PRIV_KEY_INFO> p8(
      d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, static_cast<long>(bytes.size())));
  if (!p8) {
    return expectedFailure(invalidArgumentError("PKCS#8: not a DER PrivateKeyInfo"));
  }
  const auto consumed = static_cast<std::size_t>(p - bytes.data());
  if (consumed != bytes.size()) {
    return invalidArgumentError("PKCS#8: " + std::to_string(bytes.size() - consumed) +
                                " trailing bytes after the DER structure");
  }
  SslPtr<EVP_PKEY> pkey(EVP_PKCS82PKEY(p8.get()));
  if (!pkey) {
    return expectedFailure(
        invalidArgumentError("PKCS#8: unsupported algorithm or malformed private key"));
  }
  SKR_ASSIGN_OR_RETURN(KeyType type, classifyPrivate(pkey.get()));
  return PrivateKey(std::move(pkey), type);
}

StatusOr<PrivateKey> PrivateKey::fromPem(const SecretBytes& pem) {
  SslPtr<BIO> bio = memBio(pem.view(grantSecretAccess()));
  if (!bio) return invalidArgumentError("PEM private key is too large");
  SslPtr<EVP_PKEY> pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, refusePassphrase, nullptr));
  if (!pkey) {
    return expectedFailure(invalidArgumentError(
        "PEM: no valid unencrypted 'PRIVATE KEY', 'RSA PRIVATE KEY' or 'EC PRIVATE KEY' block"));
  }
  SKR_ASSIGN_OR_RETURN(KeyType type, classifyPrivate(pkey.get()));
  return PrivateKey(std::move(pkey), type);
}

StatusOr<PrivateKey> PrivateKey::fromRsaComponents(const RsaPublicComponents& pub,
                                                   const RsaPrivateComponents& priv) {
  SKR_ASSIGN_OR_RETURN(SslPtr<BIGNUM> n, publicBn(pub.n, "RSA modulus n"));
  SKR_ASSIGN_OR_RETURN(SslPtr<BIGNUM> e, publicBn(pub.e, "RSA exponent e"));
  SKR_ASSIGN_OR_RETURN(SslPtr<BIGNUM> d, secretBn(priv.d, "RSA private exponent d"));
  SKR_ASSIGN_OR_RETURN(SslPtr<BIGNUM> p, secretBn(priv.p, "RSA prime p"));
  SKR_ASSIGN_OR_RETURN(SslPtr<BIGNUM> q, secretBn(priv.q, "RSA prime q"));
  SKR_ASSIGN_OR_RETURN(SslPtr<BIGNUM> dp, secretBn(priv.dp, "RSA CRT exponent dp"));
  SKR_ASSIGN_OR_RETURN(SslPtr<BIGNUM> dq, secretBn(priv.dq, "RSA CRT exponent dq"));
  SKR_ASSIGN_OR_RETURN(SslPtr<BIGNUM> qi, secretBn(priv.qi, "RSA CRT coefficient qi"));

  SslPtr<OSSL_PARAM_BLD> builder(OSSL_PARAM_BLD_new());
  if (!builder) return openSslInternalError("OSSL_PARAM_BLD_new");
  const struct {
    const char* name;
    const BIGNUM* value;
  } components[] = {
      {OSSL_PKEY_PARAM_RSA_N, n.get()},          {OSSL_PKEY_PARAM_RSA_E, e.get()},
      {OSSL_PKEY_PARAM_RSA_D, d.get()},          {OSSL_PKEY_PARAM_RSA_FACTOR1, p.get()},
      {OSSL_PKEY_PARAM_RSA_FACTOR2, q.get()},    {OSSL_PKEY_PARAM_RSA_EXPONENT1, dp.get()},
      {OSSL_PKEY_PARAM_RSA_EXPONENT2, dq.get()}, {OSSL_PKEY_PARAM_RSA_COEFFICIENT1, qi.get()},
  };
  for (const auto& component : components) {
    if (OSSL_PARAM_BLD_push_BN(builder.get(), component.name, component.value) != 1) {
      return openSslInternalError("RSA private key: OSSL_PARAM_BLD_push_BN");
    }
  }
  SKR_ASSIGN_OR_RETURN(SslPtr<EVP_PKEY> pkey,
                       keyFromParams("RSA", EVP_PKEY_KEYPAIR, builder.get(), "RSA private key"));
  SKR_ASSIGN_OR_RETURN(KeyType type, classifyPrivate(pkey.get()));
  return PrivateKey(std::move(pkey), type);
}

StatusOr<PrivateKey> PrivateKey::fromEcPrivate(Curve curve, const SecretBytes& d, ByteView x,
                                               ByteView y) {
  const std::string what = std::string("EC private key for ") + curveName(curve);
  SKR_ASSIGN_OR_RETURN(Bytes point, uncompressedPoint(curve, x, y, what));
  const std::size_t field = curveFieldSize(curve);
  if (d.empty() || d.size() > field) {
    return invalidArgumentError(what + ": d is " + std::to_string(d.size()) +
                                " bytes, expected 1.." + std::to_string(field));
  }
  SKR_ASSIGN_OR_RETURN(SslPtr<BIGNUM> bn_d, secretBn(d, "EC private scalar d"));
  SslPtr<OSSL_PARAM_BLD> builder(OSSL_PARAM_BLD_new());
  if (!builder) return openSslInternalError("OSSL_PARAM_BLD_new");
  if (OSSL_PARAM_BLD_push_utf8_string(builder.get(), OSSL_PKEY_PARAM_GROUP_NAME,
                                      curveInfo(curve).openssl_name, 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(builder.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1 ||
      OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_PRIV_KEY, bn_d.get()) != 1) {
    return openSslInternalError(what + ": OSSL_PARAM_BLD_push");
  }
  auto pkey = keyFromParams("EC", EVP_PKEY_KEYPAIR, builder.get(), what);
  if (!pkey.ok()) {
    if (pkey.status().code() != StatusCode::InvalidArgument) return std::move(pkey).status();
    return invalidArgumentError(what + ": (x, y) is not a point on the curve");
  }
  // fromdata does not relate d to (x, y): classifyPrivate checks Q == d*G.
  SKR_ASSIGN_OR_RETURN(KeyType type, classifyPrivate(pkey->get()));
  return PrivateKey(std::move(pkey).value(), type);
}

int PrivateKey::bits() const {
  return EVP_PKEY_get_bits(pkey_.get());
}

StatusOr<Curve> PrivateKey::curve() const {
  return curveOf(pkey_.get());
}

PublicKey PrivateKey::publicKey() const {
  // Re-parsing the SPKI yields an EVP_PKEY that holds no private material at all.
  auto key = PublicKey::fromSpkiDer(spkiDer(pkey_.get()));
  if (!key.ok()) {
    std::fprintf(stderr, "skr: fatal: public half of a valid private key rejected: %s\n",
                 key.status().toString().c_str());
    std::abort();
  }
  return std::move(key).value();
}

SecretBytes PrivateKey::toPkcs8Der() const {
  SslPtr<PKCS8_PRIV_KEY_INFO> p8(EVP_PKEY2PKCS8(pkey_.get()));
  if (!p8) abortOnOpenSslFailure("EVP_PKEY2PKCS8");
  const int len = i2d_PKCS8_PRIV_KEY_INFO(p8.get(), nullptr);
  if (len <= 0) abortOnOpenSslFailure("i2d_PKCS8_PRIV_KEY_INFO");
  SecretBytes out(static_cast<std::size_t>(len));
  unsigned char* p = out.mutableView(grantSecretAccess()).data();
  if (i2d_PKCS8_PRIV_KEY_INFO(p8.get(), &p) != len)
    abortOnOpenSslFailure("i2d_PKCS8_PRIV_KEY_INFO");
  return out;
}

SecretBytes PrivateKey::toPkcs8Pem() const {
  SslPtr<PKCS8_PRIV_KEY_INFO> p8(EVP_PKEY2PKCS8(pkey_.get()));
  if (!p8) abortOnOpenSslFailure("EVP_PKEY2PKCS8");
  // A secure-heap memory BIO: its buffer is wiped when the BIO is freed.
  SslPtr<BIO> bio(BIO_new(BIO_s_secmem()));
  if (!bio) abortOnOpenSslFailure("BIO_new");
  if (PEM_write_bio_PKCS8_PRIV_KEY_INFO(bio.get(), p8.get()) != 1) {
    abortOnOpenSslFailure("PEM_write_bio_PKCS8_PRIV_KEY_INFO");
  }
  return SecretBytes::copyOf(bioContents(bio.get()));
}

StatusOr<RsaPrivateComponents> PrivateKey::rsaPrivateComponents() const {
  if (type_ != KeyType::Rsa) return invalidArgumentError("not an RSA key: no RSA components");
  RsaPrivateComponents out;
  const struct {
    const char* name;
    SecretBytes* target;
  } components[] = {
      {OSSL_PKEY_PARAM_RSA_D, &out.d},          {OSSL_PKEY_PARAM_RSA_FACTOR1, &out.p},
      {OSSL_PKEY_PARAM_RSA_FACTOR2, &out.q},    {OSSL_PKEY_PARAM_RSA_EXPONENT1, &out.dp},
      {OSSL_PKEY_PARAM_RSA_EXPONENT2, &out.dq}, {OSSL_PKEY_PARAM_RSA_COEFFICIENT1, &out.qi},
  };
  for (const auto& component : components) {
    SKR_ASSIGN_OR_RETURN(SslPtr<BIGNUM> bn, getBn(pkey_.get(), component.name));
    *component.target = bnToSecret(bn.get());
  }
  return out;
}

StatusOr<SecretBytes> PrivateKey::ecPrivateScalar() const {
  SKR_ASSIGN_OR_RETURN(Curve curve, curveOf(pkey_.get()));
  SKR_ASSIGN_OR_RETURN(SslPtr<BIGNUM> d, getBn(pkey_.get(), OSSL_PKEY_PARAM_PRIV_KEY));
  const std::size_t field = curveFieldSize(curve);
  SecretBytes out(field);
  if (BN_bn2binpad(d.get(), out.mutableView(grantSecretAccess()).data(), static_cast<int>(field)) <
      0) {
    return internalError("EC private scalar larger than the curve order");
  }
  return out;
}

}  // namespace skr::crypto
