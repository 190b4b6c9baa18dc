#include "common/crypto/aes_gcm.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <climits>
#include <string>

#include "common/core/ssl_ptr.h"
#include "common/crypto/openssl_error.h"
#include "common/crypto/random.h"

namespace skr::crypto {
namespace {

// Checks sizes and returns a context initialised with key and IV for `encrypt`.
StatusOr<SslPtr<EVP_CIPHER_CTX>> newGcmContext(const SecretBytes& key, ByteView iv, bool encrypt,
                                               std::size_t text_size, std::size_t aad_size) {
  const char* op = encrypt ? "AES-GCM encrypt" : "AES-GCM decrypt";
  if (key.size() != 16 && key.size() != 24 && key.size() != 32) {
    return invalidArgumentError(std::string(op) + ": key is " + std::to_string(key.size()) +
                                " bytes, expected 16, 24 or 32");
  }
  if (iv.size() != kGcmIvSize) {
    return invalidArgumentError(std::string(op) + ": IV is " + std::to_string(iv.size()) +
                                " bytes, expected " + std::to_string(kGcmIvSize));
  }
  if (text_size > static_cast<std::size_t>(INT_MAX) ||
      aad_size > static_cast<std::size_t>(INT_MAX)) {
    return invalidArgumentError(std::string(op) + ": input larger than 2 GiB");
  }
  const std::string name = "AES-" + std::to_string(key.size() * 8) + "-GCM";
  SslPtr<EVP_CIPHER> cipher(EVP_CIPHER_fetch(nullptr, name.c_str(), nullptr));
  if (!cipher) return openSslInternalError("EVP_CIPHER_fetch(" + name + ")");
  SslPtr<EVP_CIPHER_CTX> ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return openSslInternalError("EVP_CIPHER_CTX_new");
  // 12 bytes is OpenSSL's default GCM IV length.
  if (EVP_CipherInit_ex2(ctx.get(), cipher.get(), key.view(grantSecretAccess()).data(), iv.data(),
                         encrypt ? 1 : 0, nullptr) != 1) {
    return openSslInternalError(std::string(op) + " init");
  }
  return ctx;
}

Status addAad(EVP_CIPHER_CTX* ctx, ByteView aad, const char* op) {
  if (aad.empty()) return okStatus();
  int len = 0;
  if (EVP_CipherUpdate(ctx, nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1) {
    return openSslInternalError(std::string(op) + ": AAD");
  }
  return okStatus();
}

}  // namespace

StatusOr<GcmSealed> aesGcmEncrypt(const SecretBytes& key, ByteView plaintext, ByteView aad) {
  const Bytes iv = randomBytes(kGcmIvSize);
  return aesGcmEncryptWithIv(key, iv, plaintext, aad);
}

StatusOr<GcmSealed> aesGcmEncryptWithIv(const SecretBytes& key, ByteView iv, ByteView plaintext,
                                        ByteView aad) {
  SKR_ASSIGN_OR_RETURN(SslPtr<EVP_CIPHER_CTX> ctx,
                       newGcmContext(key, iv, true, plaintext.size(), aad.size()));
  SKR_RETURN_IF_ERROR(addAad(ctx.get(), aad, "AES-GCM encrypt"));
  GcmSealed sealed{Bytes(iv.begin(), iv.end()), Bytes(plaintext.size()), Bytes(kGcmTagSize)};
  int len = 0;
  if (!plaintext.empty() &&
      (EVP_EncryptUpdate(ctx.get(), sealed.ciphertext.data(), &len, plaintext.data(),
                         static_cast<int>(plaintext.size())) != 1 ||
       static_cast<std::size_t>(len) != plaintext.size())) {
    return openSslInternalError("AES-GCM encrypt");
  }
  unsigned char final_block[16];
  int final_len = 0;
  if (EVP_EncryptFinal_ex(ctx.get(), final_block, &final_len) != 1 || final_len != 0) {
    return openSslInternalError("AES-GCM encrypt final");
  }
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, sealed.tag.data(), kGcmTagSize),
      OSSL_PARAM_construct_end()};
  if (EVP_CIPHER_CTX_get_params(ctx.get(), params) != 1) {
    return openSslInternalError("AES-GCM encrypt: reading the tag");
  }
  return sealed;
}

StatusOr<SecretBytes> aesGcmDecrypt(const SecretBytes& key, ByteView iv, ByteView ciphertext,
                                    ByteView tag, ByteView aad) {
  if (tag.size() != kGcmTagSize) {
    return invalidArgumentError("AES-GCM decrypt: tag is " + std::to_string(tag.size()) +
                                " bytes, expected " + std::to_string(kGcmTagSize));
  }
  SKR_ASSIGN_OR_RETURN(SslPtr<EVP_CIPHER_CTX> ctx,
                       newGcmContext(key, iv, false, ciphertext.size(), aad.size()));
  SKR_RETURN_IF_ERROR(addAad(ctx.get(), aad, "AES-GCM decrypt"));
  SecretBytes plaintext(ciphertext.size());
  int len = 0;
  if (!ciphertext.empty() &&
      (EVP_DecryptUpdate(ctx.get(), plaintext.mutableView(grantSecretAccess()).data(), &len,
                         ciphertext.data(), static_cast<int>(ciphertext.size())) != 1 ||
       static_cast<std::size_t>(len) != ciphertext.size())) {
    return openSslInternalError("AES-GCM decrypt");
  }
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG,
                                        const_cast<unsigned char*>(tag.data()), tag.size()),
      OSSL_PARAM_construct_end()};
  if (EVP_CIPHER_CTX_set_params(ctx.get(), params) != 1) {
    return openSslInternalError("AES-GCM decrypt: setting the tag");
  }
  unsigned char final_block[16];
  int final_len = 0;
  if (EVP_DecryptFinal_ex(ctx.get(), final_block, &final_len) != 1) {
    // Unauthenticated plaintext never leaves this function.
    plaintext.clear();
    ERR_clear_error();
    return dataLossError("AES-GCM: authentication tag does not verify");
  }
  return plaintext;
}

}  // namespace skr::crypto
