#include "common/crypto/aes_key_wrap.h"

#include <openssl/err.h>
#include <openssl/evp.h>

#include <climits>
#include <string>

#include "common/core/ssl_ptr.h"
#include "common/crypto/openssl_error.h"

namespace skr::crypto {
namespace {

// Keys beyond this are not keys; it also keeps every length inside OpenSSL's int arguments.
constexpr std::size_t kMaxKeyBytes = 1 << 20;

enum class Mode { Kw, Kwp };

const char* modeName(Mode mode) {
  return mode == Mode::Kw ? "AES-KW" : "AES-KWP";
}

// Fetches AES-{128,192,256}-WRAP (RFC 3394) or -WRAP-PAD (RFC 5649) for the KEK's size.
StatusOr<SslPtr<EVP_CIPHER>> fetchWrapCipher(Mode mode, std::size_t kek_size, const char* op) {
  if (kek_size != 16 && kek_size != 24 && kek_size != 32) {
    return invalidArgumentError(std::string(modeName(mode)) + " " + op + ": KEK is " +
                                std::to_string(kek_size) + " bytes, expected 16, 24 or 32");
  }
  const std::string name =
      "AES-" + std::to_string(kek_size * 8) + (mode == Mode::Kw ? "-WRAP" : "-WRAP-PAD");
  SslPtr<EVP_CIPHER> cipher(EVP_CIPHER_fetch(nullptr, name.c_str(), nullptr));
  if (!cipher) return openSslInternalError("EVP_CIPHER_fetch(" + name + ")");
  return cipher;
}

// One cipher pass over `in` into `out` (which must be large enough); returns the bytes written.
// Wrap ciphers work in a single Update call (spec/azure-wire.md §8); the IV is the RFC default
// (A6A6A6A6A6A6A6A6 for KW, the A65959A6 AIV for KWP) when none is given.
StatusOr<std::size_t> runWrapCipher(Mode mode, const SecretBytes& kek, bool encrypt, ByteView in,
                                    uint8_t* out, const char* op) {
  SKR_ASSIGN_OR_RETURN(SslPtr<EVP_CIPHER> cipher, fetchWrapCipher(mode, kek.size(), op));
  SslPtr<EVP_CIPHER_CTX> ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return openSslInternalError("EVP_CIPHER_CTX_new");
  // Required by OpenSSL 1.x for wrap modes; harmless on 3.x (spec/azure-wire.md §8).
  EVP_CIPHER_CTX_set_flags(ctx.get(), EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
  const unsigned char* key = kek.view(grantSecretAccess()).data();
  if (EVP_CipherInit_ex2(ctx.get(), cipher.get(), key, nullptr, encrypt ? 1 : 0, nullptr) != 1) {
    return openSslInternalError(std::string(modeName(mode)) + " " + op + " init");
  }
  int out_len = 0;
  if (EVP_CipherUpdate(ctx.get(), out, &out_len, in.data(), static_cast<int>(in.size())) != 1 ||
      out_len < 0) {
    if (encrypt) return openSslInternalError(std::string(modeName(mode)) + " " + op);
    ERR_clear_error();
    return dataLossError("AES key unwrap: integrity check failed (wrong key or corrupted input)");
  }
  return static_cast<std::size_t>(out_len);
}

StatusOr<Bytes> wrap(Mode mode, const SecretBytes& kek, const SecretBytes& key) {
  const std::size_t n = key.size();
  if (mode == Mode::Kw && (n % 8 != 0 || n < 16 || n > kMaxKeyBytes)) {
    return invalidArgumentError("AES-KW wrap: key is " + std::to_string(n) +
                                " bytes, expected a multiple of 8 and >= 16");
  }
  if (mode == Mode::Kwp && (n < 1 || n > kMaxKeyBytes)) {
    return invalidArgumentError("AES-KWP wrap: key is " + std::to_string(n) +
                                " bytes, expected 1.." + std::to_string(kMaxKeyBytes));
  }
  // KW: n + 8. KWP: n padded to a multiple of 8, plus the 8-byte AIV block (RFC 5649 §4.1).
  const std::size_t expected = (n + 7) / 8 * 8 + 8;
  Bytes out(expected);
  SKR_ASSIGN_OR_RETURN(
      std::size_t written,
      runWrapCipher(mode, kek, true, key.view(grantSecretAccess()), out.data(), "wrap"));
  if (written != expected) {
    return internalError(std::string(modeName(mode)) + " wrap: produced " +
                         std::to_string(written) + " bytes, expected " + std::to_string(expected));
  }
  return out;
}

StatusOr<SecretBytes> unwrap(Mode mode, const SecretBytes& kek, ByteView wrapped) {
  const std::size_t n = wrapped.size();
  // KW: a wrapped key of >= 16 bytes is >= 24. KWP: >= 16 (one block plus the AIV).
  const std::size_t min_size = mode == Mode::Kw ? 24 : 16;
  if (n % 8 != 0 || n < min_size || n > kMaxKeyBytes + 16) {
    return invalidArgumentError(
        std::string(modeName(mode)) + " unwrap: ciphertext is " + std::to_string(n) +
        " bytes, expected a multiple of 8 and >= " + std::to_string(min_size));
  }
  // Unwrap straight into secret storage, then trim to the real length (KWP removes padding).
  SecretBytes key(n - 8);
  SKR_ASSIGN_OR_RETURN(std::size_t written,
                       runWrapCipher(mode, kek, false, wrapped,
                                     key.mutableView(grantSecretAccess()).data(), "unwrap"));
  if (written > n - 8 || (mode == Mode::Kw && written != n - 8)) {
    return internalError(std::string(modeName(mode)) + " unwrap: produced " +
                         std::to_string(written) + " bytes from " + std::to_string(n));
  }
  key.resize(written);
  return key;
}

}  // namespace

StatusOr<Bytes> aesKeyWrap(const SecretBytes& kek, const SecretBytes& key) {
  return wrap(Mode::Kw, kek, key);
}

StatusOr<SecretBytes> aesKeyUnwrap(const SecretBytes& kek, ByteView wrapped) {
  return unwrap(Mode::Kw, kek, wrapped);
}

StatusOr<Bytes> aesKeyWrapPad(const SecretBytes& kek, const SecretBytes& key) {
  return wrap(Mode::Kwp, kek, key);
}

StatusOr<SecretBytes> aesKeyUnwrapPad(const SecretBytes& kek, ByteView wrapped) {
  return unwrap(Mode::Kwp, kek, wrapped);
}

}  // namespace skr::crypto
