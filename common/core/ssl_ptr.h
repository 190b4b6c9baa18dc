// SslPtr<T>: the one owner type for OpenSSL objects (STYLE.md "Secrets").
// Each OpenSSL type gets exactly one deleter specialization below; using SslPtr with a type that is
// not listed fails to compile. This is the only file in skr that calls an OpenSSL *_free function.
#pragma once

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <cstddef>
#include <memory>

namespace skr {

template <typename T>
struct SslDeleter;  // Intentionally undefined: unlisted types do not compile.

#define SKR_SSL_DELETER(Type, free_fn)                      \
  template <>                                               \
  struct SslDeleter<Type> {                                 \
    void operator()(Type* p) const noexcept { free_fn(p); } \
  }

SKR_SSL_DELETER(EVP_PKEY, EVP_PKEY_free);
SKR_SSL_DELETER(EVP_PKEY_CTX, EVP_PKEY_CTX_free);
SKR_SSL_DELETER(EVP_MD_CTX, EVP_MD_CTX_free);
SKR_SSL_DELETER(EVP_MD, EVP_MD_free);
SKR_SSL_DELETER(EVP_CIPHER_CTX, EVP_CIPHER_CTX_free);
SKR_SSL_DELETER(EVP_CIPHER, EVP_CIPHER_free);
SKR_SSL_DELETER(EVP_MAC, EVP_MAC_free);
SKR_SSL_DELETER(EVP_MAC_CTX, EVP_MAC_CTX_free);
SKR_SSL_DELETER(EVP_KDF, EVP_KDF_free);
SKR_SSL_DELETER(EVP_KDF_CTX, EVP_KDF_CTX_free);
SKR_SSL_DELETER(BIGNUM, BN_clear_free);  // BIGNUMs may hold private exponents: always cleared.
SKR_SSL_DELETER(BN_CTX, BN_CTX_free);
SKR_SSL_DELETER(ECDSA_SIG, ECDSA_SIG_free);
SKR_SSL_DELETER(BIO, BIO_free_all);
SKR_SSL_DELETER(X509, X509_free);
SKR_SSL_DELETER(X509_STORE, X509_STORE_free);
SKR_SSL_DELETER(X509_STORE_CTX, X509_STORE_CTX_free);
SKR_SSL_DELETER(X509_VERIFY_PARAM, X509_VERIFY_PARAM_free);
SKR_SSL_DELETER(X509_NAME, X509_NAME_free);
SKR_SSL_DELETER(X509_EXTENSION, X509_EXTENSION_free);
// ASN1_TIME, ASN1_INTEGER, ASN1_OCTET_STRING are all ASN1_STRING.
SKR_SSL_DELETER(ASN1_STRING, ASN1_STRING_free);
SKR_SSL_DELETER(ASN1_OBJECT, ASN1_OBJECT_free);
SKR_SSL_DELETER(OSSL_PARAM_BLD, OSSL_PARAM_BLD_free);
SKR_SSL_DELETER(OSSL_PARAM, OSSL_PARAM_free);
SKR_SSL_DELETER(PKCS8_PRIV_KEY_INFO, PKCS8_PRIV_KEY_INFO_free);

template <>
struct SslDeleter<STACK_OF(X509)> {
  void operator()(STACK_OF(X509) * p) const noexcept { sk_X509_pop_free(p, X509_free); }
};

#undef SKR_SSL_DELETER

template <typename T>
using SslPtr = std::unique_ptr<T, SslDeleter<T>>;

template <typename T>
SslPtr<T> makeSslPtr(T* p) {
  return SslPtr<T>(p);
}

// A buffer that OpenSSL allocated (i2d_*, BN_bn2hex, ...); wiped on release because such buffers
// can hold DER-encoded private keys.
struct SslBufferDeleter {
  std::size_t size = 0;
  void operator()(unsigned char* p) const noexcept { OPENSSL_clear_free(p, size); }
};
using SslBuffer = std::unique_ptr<unsigned char, SslBufferDeleter>;

struct SslStringDeleter {
  void operator()(char* p) const noexcept { OPENSSL_free(p); }
};
using SslString = std::unique_ptr<char, SslStringDeleter>;

}  // namespace skr
