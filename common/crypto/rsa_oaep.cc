#include "common/crypto/rsa_oaep.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <string>

#include "common/core/ssl_ptr.h"
#include "common/crypto/openssl_error.h"

namespace skr::crypto {
namespace {

// RSA-OAEP needs an rsaEncryption key: RSA-PSS keys are restricted to signing.
Status checkKeyAndHash(EVP_PKEY* pkey, KeyType type, HashAlg hash, const char* op) {
  if (type != KeyType::Rsa || !EVP_PKEY_is_a(pkey, "RSA")) {
    return invalidArgumentError(std::string("RSA-OAEP ") + op +
                                ": key is not an RSA encryption key");
  }
  if (hash == HashAlg::Sha512) {
    return invalidArgumentError(std::string("RSA-OAEP ") + op +
                                ": SHA-512 is not supported; expected SHA-1, SHA-256 or SHA-384");
  }
  return okStatus();
}

// OAEP with MGF1 over the same hash and an empty label (RFC 8017 §7.1).
Status configureOaep(EVP_PKEY_CTX* ctx, HashAlg hash, bool encrypt) {
  char* md = const_cast<char*>(hashName(hash));  // OSSL_PARAM setters do not write through it
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_PAD_MODE,
                                       const_cast<char*>(OSSL_PKEY_RSA_PAD_MODE_OAEP), 0),
      OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST, md, 0),
      OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST, md, 0),
      OSSL_PARAM_construct_end()};
  const int ok =
      encrypt ? EVP_PKEY_encrypt_init_ex(ctx, params) : EVP_PKEY_decrypt_init_ex(ctx, params);
  if (ok != 1) return openSslInternalError(std::string("RSA-OAEP-") + hashName(hash) + " init");
  return okStatus();
}

}  // namespace

StatusOr<Bytes> rsaOaepEncrypt(const PublicKey& key, HashAlg hash, ByteView plaintext) {
  SKR_RETURN_IF_ERROR(checkKeyAndHash(key.evp(), key.type(), hash, "encrypt"));
  const auto k = static_cast<std::size_t>(EVP_PKEY_get_size(key.evp()));
  const std::size_t max_plaintext = k - 2 * digestSize(hash) - 2;  // RFC 8017 §7.1.1 step 1.b
  if (plaintext.size() > max_plaintext) {
    return invalidArgumentError("RSA-OAEP-" + std::string(hashName(hash)) +
                                " encrypt: plaintext is " + std::to_string(plaintext.size()) +
                                " bytes, at most " + std::to_string(max_plaintext) + " fit a " +
                                std::to_string(key.bits()) + "-bit key");
  }
  SslPtr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key.evp(), nullptr));
  if (!ctx) return openSslInternalError("EVP_PKEY_CTX_new_from_pkey");
  SKR_RETURN_IF_ERROR(configureOaep(ctx.get(), hash, /*encrypt=*/true));
  Bytes out(k);
  std::size_t out_len = out.size();
  if (EVP_PKEY_encrypt(ctx.get(), out.data(), &out_len, plaintext.data(), plaintext.size()) != 1) {
    return openSslInternalError("RSA-OAEP-" + std::string(hashName(hash)) + " encrypt");
  }
  out.resize(out_len);
  return out;
}

StatusOr<SecretBytes> rsaOaepDecrypt(const PrivateKey& key, HashAlg hash, ByteView ciphertext) {
  SKR_RETURN_IF_ERROR(checkKeyAndHash(key.evp(), key.type(), hash, "decrypt"));
  const auto k = static_cast<std::size_t>(EVP_PKEY_get_size(key.evp()));
  if (ciphertext.size() != k) {
    return invalidArgumentError("RSA-OAEP decrypt: ciphertext is " +
                                std::to_string(ciphertext.size()) + " bytes, expected " +
                                std::to_string(k) + " (the modulus size)");
  }
  SslPtr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key.evp(), nullptr));
  if (!ctx) return openSslInternalError("EVP_PKEY_CTX_new_from_pkey");
  SKR_RETURN_IF_ERROR(configureOaep(ctx.get(), hash, /*encrypt=*/false));
  SecretBytes out(k);
  std::size_t out_len = out.size();
  if (EVP_PKEY_decrypt(ctx.get(), out.mutableView(grantSecretAccess()).data(), &out_len,
                       ciphertext.data(), ciphertext.size()) != 1) {
    // One message for every cause, so the failure does not tell a padding oracle anything.
    ERR_clear_error();
    return dataLossError("RSA-OAEP-" + std::string(hashName(hash)) +
                         " decrypt failed (wrong key, wrong hash or corrupted ciphertext)");
  }
  out.resize(out_len);
  return out;
}

}  // namespace skr::crypto
