#include "common/crypto/aes_key_wrap.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstdint>
#include <cstring>
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

// The wrap and unwrap steps of RFC 3394 §2.2 (and RFC 5649 §4, which reuses them with its
// alternative IV) over AES-ECB, one block per step. Not OpenSSL's AES-*-WRAP ciphers: in OpenSSL
// 3.0 they run the portable table-driven AES (no AES-NI), ~8 µs for one 32-byte key, and that was
// the largest single cost of an A256KW unwrap in the agent (a fifth of its CPU under load). The
// unit tests check every RFC vector and compare both directions against OpenSSL's WRAP ciphers
// for random keys, lengths and tampered inputs.

// AES-{128,192,256}-ECB, fetched once per process (a fetched cipher is immutable and may be
// shared between threads) instead of once per call.
StatusOr<const EVP_CIPHER*> ecbCipher(Mode mode, std::size_t kek_size, const char* op) {
  if (kek_size != 16 && kek_size != 24 && kek_size != 32) {
    return invalidArgumentError(std::string(modeName(mode)) + " " + op + ": KEK is " +
                                std::to_string(kek_size) + " bytes, expected 16, 24 or 32");
  }
  static const SslPtr<EVP_CIPHER> ciphers[3] = {
      SslPtr<EVP_CIPHER>(EVP_CIPHER_fetch(nullptr, "AES-128-ECB", nullptr)),
      SslPtr<EVP_CIPHER>(EVP_CIPHER_fetch(nullptr, "AES-192-ECB", nullptr)),
      SslPtr<EVP_CIPHER>(EVP_CIPHER_fetch(nullptr, "AES-256-ECB", nullptr))};
  const EVP_CIPHER* cipher = ciphers[kek_size / 8 - 2].get();
  if (cipher == nullptr) {
    return openSslInternalError("EVP_CIPHER_fetch(AES-" + std::to_string(kek_size * 8) + "-ECB)");
  }
  return cipher;
}

// An AES-ECB context keyed with the KEK, for one direction, without padding.
StatusOr<SslPtr<EVP_CIPHER_CTX>> blockCipher(Mode mode, const SecretBytes& kek, bool encrypt,
                                             const char* op) {
  SKR_ASSIGN_OR_RETURN(const EVP_CIPHER* cipher, ecbCipher(mode, kek.size(), op));
  SslPtr<EVP_CIPHER_CTX> ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return openSslInternalError("EVP_CIPHER_CTX_new");
  const unsigned char* key = kek.view(grantSecretAccess()).data();
  if (EVP_CipherInit_ex2(ctx.get(), cipher, key, nullptr, encrypt ? 1 : 0, nullptr) != 1 ||
      EVP_CIPHER_CTX_set_padding(ctx.get(), 0) != 1) {
    return openSslInternalError(std::string(modeName(mode)) + " " + op + " init");
  }
  return ctx;
}

// One AES block in place.
bool aesBlock(EVP_CIPHER_CTX* ctx, uint8_t block[16]) {
  int len = 0;
  return EVP_CipherUpdate(ctx, block, &len, block, 16) == 1 && len == 16;
}

// Zeroes a stack buffer that held key bytes.
struct Cleanse {
  void* p;
  std::size_t n;
  ~Cleanse() { OPENSSL_cleanse(p, n); }
};

// The one-semiblock case of both directions (RFC 5649 §4.1 and §4.2): a single AES operation on
// A | R1 in the context's direction, the result split back into a and r; b is scratch.
bool oneBlock(EVP_CIPHER_CTX* ctx, uint8_t a[8], uint8_t r[8], uint8_t b[16]) {
  std::memcpy(b, a, 8);
  std::memcpy(b + 8, r, 8);
  if (!aesBlock(ctx, b)) return false;
  std::memcpy(a, b, 8);
  std::memcpy(r, b + 8, 8);
  return true;
}

void xorCounter(uint8_t a[8], uint64_t t) {
  for (int k = 7; k >= 0; --k, t >>= 8) a[k] ^= static_cast<uint8_t>(t);
}

// RFC 3394 §2.2.1 W: a[0..8) holds the IV, r the n >= 1 semiblocks to wrap; both are replaced by
// the result (C0 and C1..Cn). With n == 1 (RFC 5649 §4.1, one semiblock) it is the single
// encryption of IV | P. False when OpenSSL fails.
bool wrapSteps(EVP_CIPHER_CTX* ctx, uint8_t a[8], uint8_t* r, std::size_t n) {
  uint8_t b[16];
  Cleanse clean{b, sizeof b};
  if (n == 1) return oneBlock(ctx, a, r, b);
  for (uint64_t j = 0; j <= 5; ++j) {
    for (std::size_t i = 1; i <= n; ++i) {
      std::memcpy(b, a, 8);
      std::memcpy(b + 8, r + 8 * (i - 1), 8);
      if (!aesBlock(ctx, b)) return false;
      std::memcpy(a, b, 8);
      xorCounter(a, n * j + i);
      std::memcpy(r + 8 * (i - 1), b + 8, 8);
    }
  }
  return true;
}

// RFC 3394 §2.2.2 W^-1, the inverse of wrapSteps: a holds C0, r C1..Cn; afterwards a holds the
// recovered IV (to be checked by the caller) and r the key.
bool unwrapSteps(EVP_CIPHER_CTX* ctx, uint8_t a[8], uint8_t* r, std::size_t n) {
  uint8_t b[16];
  Cleanse clean{b, sizeof b};
  if (n == 1) return oneBlock(ctx, a, r, b);
  for (uint64_t j = 6; j-- > 0;) {
    for (std::size_t i = n; i >= 1; --i) {
      std::memcpy(b, a, 8);
      xorCounter(b, n * j + i);
      std::memcpy(b + 8, r + 8 * (i - 1), 8);
      if (!aesBlock(ctx, b)) return false;
      std::memcpy(a, b, 8);
      std::memcpy(r + 8 * (i - 1), b + 8, 8);
    }
  }
  return true;
}

constexpr uint8_t kKwIv[8] = {0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6};
constexpr uint8_t kKwpAivPrefix[4] = {0xA6, 0x59, 0x59, 0xA6};

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
  SKR_ASSIGN_OR_RETURN(SslPtr<EVP_CIPHER_CTX> ctx, blockCipher(mode, kek, true, "wrap"));
  // KW: n + 8. KWP: n padded with zeros to a multiple of 8, plus the 8-byte AIV block
  // (RFC 5649 §4.1). The IV goes first, the key after it; both are transformed in place.
  Bytes out((n + 7) / 8 * 8 + 8, 0);
  if (mode == Mode::Kw) {
    std::memcpy(out.data(), kKwIv, 8);
  } else {
    std::memcpy(out.data(), kKwpAivPrefix, 4);
    for (int k = 0; k < 4; ++k) out[4 + k] = static_cast<uint8_t>(n >> (24 - 8 * k));
  }
  std::memcpy(out.data() + 8, key.view(grantSecretAccess()).data(), n);
  if (!wrapSteps(ctx.get(), out.data(), out.data() + 8, (out.size() - 8) / 8)) {
    OPENSSL_cleanse(out.data(), out.size());  // may still hold key bytes
    return openSslInternalError(std::string(modeName(mode)) + " wrap");
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
  SKR_ASSIGN_OR_RETURN(SslPtr<EVP_CIPHER_CTX> ctx, blockCipher(mode, kek, false, "unwrap"));
  // Unwrap straight into secret storage, then trim to the real length (KWP removes padding).
  const std::size_t padded = n - 8;
  SecretBytes key(padded);
  uint8_t* r = key.mutableView(grantSecretAccess()).data();
  uint8_t a[8];
  const Cleanse clean{a, sizeof a};
  std::memcpy(a, wrapped.data(), 8);
  std::memcpy(r, wrapped.data() + 8, padded);
  if (!unwrapSteps(ctx.get(), a, r, padded / 8)) {
    return openSslInternalError(std::string(modeName(mode)) + " unwrap");
  }
  // The checks run to the end whatever fails first, and fail alike.
  std::size_t length = padded;
  bool ok = false;
  if (mode == Mode::Kw) {
    ok = CRYPTO_memcmp(a, kKwIv, 8) == 0;
  } else {
    // RFC 5649 §3: the AIV's prefix, 8 * (n - 1) < MLI <= 8 * n, and zero padding.
    const std::size_t mli = (std::size_t{a[4]} << 24) | (std::size_t{a[5]} << 16) |
                            (std::size_t{a[6]} << 8) | std::size_t{a[7]};
    const bool prefix_ok = CRYPTO_memcmp(a, kKwpAivPrefix, 4) == 0;
    const bool mli_ok = mli > padded - 8 && mli <= padded;
    uint8_t padding = 0;
    for (std::size_t p = padded - 8; p < padded; ++p) {
      padding |= static_cast<uint8_t>(r[p] & -static_cast<uint8_t>(p >= mli));
    }
    ok = prefix_ok & mli_ok & (padding == 0);
    if (ok) length = mli;
  }
  if (!ok) {
    return dataLossError("AES key unwrap: integrity check failed (wrong key or corrupted input)");
  }
  key.resize(length);
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
