#include "common/crypto/signature.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <string>

#include "common/core/ssl_ptr.h"
#include "common/crypto/openssl_error.h"

namespace skr::crypto {
namespace {

// SEV-SNP signature components (spec/azure-wire.md §6.3).
constexpr std::size_t kSnpComponentSize = 72;

bool isPss(SignatureScheme scheme) {
  return scheme == SignatureScheme::RsaPssSha256 || scheme == SignatureScheme::RsaPssSha384 ||
         scheme == SignatureScheme::RsaPssSha512;
}

std::string schemeName(SignatureScheme scheme) {
  const std::string hash = hashName(schemeHash(scheme));
  if (schemeKeyType(scheme) == KeyType::Ec) return "ECDSA-" + hash;
  return (isPss(scheme) ? "RSA-PSS-" : "RSA-PKCS1-") + hash;
}

const char* keyTypeName(KeyType type) {
  return type == KeyType::Rsa ? "RSA" : "EC";
}

Status checkKeyFitsScheme(EVP_PKEY* pkey, KeyType type, SignatureScheme scheme) {
  const KeyType needed = schemeKeyType(scheme);
  if (type != needed) {
    return invalidArgumentError(schemeName(scheme) + " needs an " + keyTypeName(needed) +
                                " key, got an " + keyTypeName(type) + " key");
  }
  if (!isPss(scheme) && EVP_PKEY_is_a(pkey, "RSA-PSS")) {
    return invalidArgumentError(schemeName(scheme) +
                                ": the key is restricted to RSA-PSS (id-RSASSA-PSS)");
  }
  return okStatus();
}

// A digest-sign/verify context. PSS: salt length = hash length, MGF1 with the same hash (JOSE
// PS256/384/512, RFC 7518 §3.5; AMD's VCEK chain uses SHA-384 with a 48-byte salt).
StatusOr<SslPtr<EVP_MD_CTX>> newDigestContext(EVP_PKEY* pkey, SignatureScheme scheme, bool sign) {
  SslPtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  if (!ctx) return openSslInternalError("EVP_MD_CTX_new");
  char* md = const_cast<char*>(hashName(schemeHash(scheme)));  // setters do not write through it
  const OSSL_PARAM pss_params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE,
                                       const_cast<char*>(OSSL_PKEY_RSA_PAD_MODE_PSS), 0),
      OSSL_PARAM_construct_utf8_string(OSSL_SIGNATURE_PARAM_PSS_SALTLEN,
                                       const_cast<char*>(OSSL_PKEY_RSA_PSS_SALT_LEN_DIGEST), 0),
      OSSL_PARAM_construct_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_DIGEST, md, 0),
      OSSL_PARAM_construct_end()};
  const OSSL_PARAM* params = isPss(scheme) ? pss_params : nullptr;
  const int ok =
      sign ? EVP_DigestSignInit_ex(ctx.get(), nullptr, md, nullptr, nullptr, pkey, params)
           : EVP_DigestVerifyInit_ex(ctx.get(), nullptr, md, nullptr, nullptr, pkey, params);
  if (ok != 1) {
    return openSslInternalError(schemeName(scheme) + (sign ? " sign init" : " verify init"));
  }
  return ctx;
}

// Parses a DER ECDSA-Sig-Value strictly: no trailing bytes and canonical (re-encodes identically).
StatusOr<SslPtr<ECDSA_SIG>> parseEcdsaDer(ByteView der) {
  if (der.empty() || der.size() > 1024) {
    return invalidArgumentError("ECDSA signature: " + std::to_string(der.size()) +
                                " bytes is not a valid DER length");
  }
  const unsigned char* p = der.data();
  SslPtr<ECDSA_SIG> sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig || static_cast<std::size_t>(p - der.data()) != der.size()) {
    ERR_clear_error();
    return invalidArgumentError("ECDSA signature is not valid DER (ECDSA-Sig-Value)");
  }
  const int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  Bytes canonical(len > 0 ? static_cast<std::size_t>(len) : 0);
  unsigned char* out = canonical.data();
  if (len <= 0 || i2d_ECDSA_SIG(sig.get(), &out) != len ||
      !std::equal(canonical.begin(), canonical.end(), der.begin(), der.end())) {
    ERR_clear_error();
    return invalidArgumentError("ECDSA signature is not canonical DER");
  }
  return sig;
}

// DER ECDSA-Sig-Value from r and s; takes ownership of both.
StatusOr<Bytes> ecdsaDer(SslPtr<BIGNUM> r, SslPtr<BIGNUM> s) {
  if (!r || !s) return openSslInternalError("BN_bin2bn");
  SslPtr<ECDSA_SIG> sig(ECDSA_SIG_new());
  if (!sig) return openSslInternalError("ECDSA_SIG_new");
  if (ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1)
    return openSslInternalError("ECDSA_SIG_set0");
  (void)r.release();  // now owned by sig
  (void)s.release();
  const int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (len <= 0) return openSslInternalError("i2d_ECDSA_SIG");
  Bytes der(static_cast<std::size_t>(len));
  unsigned char* p = der.data();
  if (i2d_ECDSA_SIG(sig.get(), &p) != len) return openSslInternalError("i2d_ECDSA_SIG");
  return der;
}

}  // namespace

HashAlg schemeHash(SignatureScheme scheme) {
  switch (scheme) {
    case SignatureScheme::RsaPkcs1Sha256:
    case SignatureScheme::RsaPssSha256:
    case SignatureScheme::EcdsaSha256: return HashAlg::Sha256;
    case SignatureScheme::RsaPkcs1Sha384:
    case SignatureScheme::RsaPssSha384:
    case SignatureScheme::EcdsaSha384: return HashAlg::Sha384;
    case SignatureScheme::RsaPkcs1Sha512:
    case SignatureScheme::RsaPssSha512:
    case SignatureScheme::EcdsaSha512: return HashAlg::Sha512;
  }
  std::abort();  // Unreachable: every enumerator is handled.
}

KeyType schemeKeyType(SignatureScheme scheme) {
  switch (scheme) {
    case SignatureScheme::EcdsaSha256:
    case SignatureScheme::EcdsaSha384:
    case SignatureScheme::EcdsaSha512: return KeyType::Ec;
    case SignatureScheme::RsaPkcs1Sha256:
    case SignatureScheme::RsaPkcs1Sha384:
    case SignatureScheme::RsaPkcs1Sha512:
    case SignatureScheme::RsaPssSha256:
    case SignatureScheme::RsaPssSha384:
    case SignatureScheme::RsaPssSha512: return KeyType::Rsa;
  }
  std::abort();  // Unreachable: every enumerator is handled.
}

StatusOr<Bytes> sign(const PrivateKey& key, SignatureScheme scheme, ByteView data) {
  SKR_RETURN_IF_ERROR(checkKeyFitsScheme(key.evp(), key.type(), scheme));
  SKR_ASSIGN_OR_RETURN(SslPtr<EVP_MD_CTX> ctx, newDigestContext(key.evp(), scheme, true));
  // EVP_PKEY_get_size is the maximum signature size (RSA: k; ECDSA: the largest DER encoding).
  Bytes signature(static_cast<std::size_t>(EVP_PKEY_get_size(key.evp())));
  std::size_t len = signature.size();
  if (EVP_DigestSign(ctx.get(), signature.data(), &len, data.data(), data.size()) != 1) {
    return openSslInternalError(schemeName(scheme) + " sign");
  }
  signature.resize(len);
  return signature;
}

Status verify(const PublicKey& key, SignatureScheme scheme, ByteView data, ByteView signature) {
  SKR_RETURN_IF_ERROR(checkKeyFitsScheme(key.evp(), key.type(), scheme));
  if (key.type() == KeyType::Ec) {
    SKR_RETURN_IF_ERROR(parseEcdsaDer(signature));
  } else {
    const auto k = static_cast<std::size_t>(EVP_PKEY_get_size(key.evp()));
    if (signature.size() != k) {
      return invalidArgumentError(schemeName(scheme) + " signature is " +
                                  std::to_string(signature.size()) + " bytes, expected " +
                                  std::to_string(k) + " (the modulus size)");
    }
  }
  SKR_ASSIGN_OR_RETURN(SslPtr<EVP_MD_CTX> ctx, newDigestContext(key.evp(), scheme, false));
  const int rc =
      EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), data.data(), data.size());
  // A bad signature leaves errors on the queue; they must not surface in later, unrelated calls.
  ERR_clear_error();
  if (rc != 1) return dataLossError(schemeName(scheme) + ": signature does not verify");
  return okStatus();
}

StatusOr<Bytes> ecdsaDerFromJose(Curve curve, ByteView jose_signature) {
  const std::size_t field = curveFieldSize(curve);
  if (jose_signature.size() != 2 * field) {
    return invalidArgumentError(std::string("JOSE ECDSA signature for ") + curveName(curve) +
                                " is " + std::to_string(jose_signature.size()) +
                                " bytes, expected " + std::to_string(2 * field) + " (r || s)");
  }
  const int half = static_cast<int>(field);
  SslPtr<BIGNUM> r(BN_bin2bn(jose_signature.data(), half, nullptr));
  SslPtr<BIGNUM> s(BN_bin2bn(jose_signature.data() + field, half, nullptr));
  return ecdsaDer(std::move(r), std::move(s));
}

StatusOr<Bytes> ecdsaJoseFromDer(Curve curve, ByteView der_signature) {
  SKR_ASSIGN_OR_RETURN(SslPtr<ECDSA_SIG> sig, parseEcdsaDer(der_signature));
  const BIGNUM* r = ECDSA_SIG_get0_r(sig.get());
  const BIGNUM* s = ECDSA_SIG_get0_s(sig.get());
  const std::size_t field = curveFieldSize(curve);
  if (BN_is_negative(r) || BN_is_negative(s) || static_cast<std::size_t>(BN_num_bytes(r)) > field ||
      static_cast<std::size_t>(BN_num_bytes(s)) > field) {
    return invalidArgumentError(std::string("ECDSA signature: r or s does not fit ") +
                                curveName(curve) + "'s " + std::to_string(field) + " bytes");
  }
  Bytes jose(2 * field);
  const int half = static_cast<int>(field);
  if (BN_bn2binpad(r, jose.data(), half) != half ||
      BN_bn2binpad(s, jose.data() + field, half) != half) {
    return openSslInternalError("BN_bn2binpad");
  }
  return jose;
}

StatusOr<Bytes> ecdsaDerFromSnp(ByteView r_le72, ByteView s_le72) {
  if (r_le72.size() != kSnpComponentSize || s_le72.size() != kSnpComponentSize) {
    return invalidArgumentError("SEV-SNP signature: r is " + std::to_string(r_le72.size()) +
                                " bytes and s is " + std::to_string(s_le72.size()) +
                                " bytes, expected 72 each (little-endian)");
  }
  const int len = static_cast<int>(kSnpComponentSize);
  SslPtr<BIGNUM> r(BN_lebin2bn(r_le72.data(), len, nullptr));
  SslPtr<BIGNUM> s(BN_lebin2bn(s_le72.data(), len, nullptr));
  return ecdsaDer(std::move(r), std::move(s));
}

}  // namespace skr::crypto
