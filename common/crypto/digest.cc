#include "common/crypto/digest.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <cstdlib>
#include <string>

#include "common/core/ssl_ptr.h"
#include "common/crypto/openssl_error.h"

namespace skr::crypto {
namespace {

// OpenSSL treats a NULL key pointer as "no key given"; an empty key must still be a key.
const unsigned char* nonNull(ByteView bytes) {
  static const unsigned char kEmpty = 0;
  return bytes.empty() ? &kEmpty : bytes.data();
}

}  // namespace

std::size_t digestSize(HashAlg alg) {
  switch (alg) {
    case HashAlg::Sha1: return 20;
    case HashAlg::Sha256: return 32;
    case HashAlg::Sha384: return 48;
    case HashAlg::Sha512: return 64;
  }
  std::abort();  // Unreachable: every enumerator is handled.
}

const char* hashName(HashAlg alg) {
  switch (alg) {
    case HashAlg::Sha1: return "SHA-1";
    case HashAlg::Sha256: return "SHA-256";
    case HashAlg::Sha384: return "SHA-384";
    case HashAlg::Sha512: return "SHA-512";
  }
  std::abort();  // Unreachable: every enumerator is handled.
}

Bytes digest(HashAlg alg, ByteView data) {
  Bytes out(digestSize(alg));
  std::size_t out_len = 0;
  if (EVP_Q_digest(nullptr, hashName(alg), nullptr, data.data(), data.size(), out.data(),
                   &out_len) != 1 ||
      out_len != out.size()) {
    abortOnOpenSslFailure(hashName(alg));
  }
  return out;
}

Bytes hmac(HashAlg alg, const SecretBytes& key, ByteView data) {
  SslPtr<EVP_MAC> mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  if (!mac) abortOnOpenSslFailure("EVP_MAC_fetch(HMAC)");
  SslPtr<EVP_MAC_CTX> ctx(EVP_MAC_CTX_new(mac.get()));
  if (!ctx) abortOnOpenSslFailure("EVP_MAC_CTX_new");

  // OSSL_PARAM takes a non-const pointer but does not write through it for a setter.
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(hashName(alg)), 0),
      OSSL_PARAM_construct_end()};
  const ByteView key_bytes = key.view(grantSecretAccess());
  if (EVP_MAC_init(ctx.get(), nonNull(key_bytes), key_bytes.size(), params) != 1) {
    abortOnOpenSslFailure("HMAC init");
  }
  if (!data.empty() && EVP_MAC_update(ctx.get(), data.data(), data.size()) != 1) {
    abortOnOpenSslFailure("HMAC update");
  }
  Bytes tag(digestSize(alg));
  std::size_t tag_len = 0;
  if (EVP_MAC_final(ctx.get(), tag.data(), &tag_len, tag.size()) != 1 || tag_len != tag.size()) {
    abortOnOpenSslFailure("HMAC final");
  }
  return tag;
}

StatusOr<SecretBytes> hkdf(HashAlg alg, const SecretBytes& ikm, ByteView salt, ByteView info,
                           std::size_t length) {
  const std::size_t max_length = 255 * digestSize(alg);
  if (length == 0 || length > max_length) {
    return invalidArgumentError("HKDF-" + std::string(hashName(alg)) + ": output length " +
                                std::to_string(length) + " is outside 1.." +
                                std::to_string(max_length) + " (RFC 5869 §2.3)");
  }
  SslPtr<EVP_KDF> kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
  if (!kdf) abortOnOpenSslFailure("EVP_KDF_fetch(HKDF)");
  SslPtr<EVP_KDF_CTX> ctx(EVP_KDF_CTX_new(kdf.get()));
  if (!ctx) abortOnOpenSslFailure("EVP_KDF_CTX_new");

  // Extract-and-expand is OpenSSL's default mode. An absent salt means HashLen zero bytes
  // (RFC 5869 §2.2), which is what OpenSSL does when the parameter is not given.
  const ByteView ikm_bytes = ikm.view(grantSecretAccess());
  OSSL_PARAM params[5];
  std::size_t n = 0;
  params[n++] =
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char*>(hashName(alg)), 0);
  params[n++] = OSSL_PARAM_construct_octet_string(
      OSSL_KDF_PARAM_KEY, const_cast<unsigned char*>(nonNull(ikm_bytes)), ikm_bytes.size());
  if (!salt.empty()) {
    params[n++] = OSSL_PARAM_construct_octet_string(
        OSSL_KDF_PARAM_SALT, const_cast<unsigned char*>(salt.data()), salt.size());
  }
  if (!info.empty()) {
    params[n++] = OSSL_PARAM_construct_octet_string(
        OSSL_KDF_PARAM_INFO, const_cast<unsigned char*>(info.data()), info.size());
  }
  params[n] = OSSL_PARAM_construct_end();

  SecretBytes okm(length);
  if (EVP_KDF_derive(ctx.get(), okm.mutableView(grantSecretAccess()).data(), length, params) != 1) {
    return openSslInternalError("HKDF-" + std::string(hashName(alg)) + " derive failed");
  }
  return okm;
}

}  // namespace skr::crypto
