#include "common/crypto/aes_key_wrap.h"

#include <openssl/evp.h>

#include <catch2/catch.hpp>
#include <cctype>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "common/core/ssl_ptr.h"
#include "tests/unit/crypto/hex_vectors.h"

namespace skr::crypto {
namespace {

using namespace skr::crypto::testing;  // hex, toHex, secretHex

constexpr std::string_view kKek128 = "000102030405060708090A0B0C0D0E0F";
constexpr std::string_view kKek192 = "000102030405060708090A0B0C0D0E0F1011121314151617";
constexpr std::string_view kKek256 =
    "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F";

struct WrapVector {
  const char* section;
  std::string_view kek;
  std::string_view key;
  std::string_view wrapped;
};

// RFC 3394 §4.1 - §4.6.
const WrapVector kRfc3394Vectors[] = {
    {"4.1 128 bits of key data, 128-bit KEK", kKek128, "00112233445566778899AABBCCDDEEFF",
     "1FA68B0A8112B447 AEF34BD8FB5A7B82 9D3E862371D2CFE5"},
    {"4.2 128 bits of key data, 192-bit KEK", kKek192, "00112233445566778899AABBCCDDEEFF",
     "96778B25AE6CA435 F92B5B97C050AED2 468AB8A17AD84E5D"},
    {"4.3 128 bits of key data, 256-bit KEK", kKek256, "00112233445566778899AABBCCDDEEFF",
     "64E8C3F9CE0F5BA2 63E9777905818A2A 93C8191E7D6E8AE7"},
    {"4.4 192 bits of key data, 192-bit KEK", kKek192,
     "00112233445566778899AABBCCDDEEFF0001020304050607",
     "031D33264E15D332 68F24EC260743EDC E1C6C7DDEE725A93 6BA814915C6762D2"},
    {"4.5 192 bits of key data, 256-bit KEK", kKek256,
     "00112233445566778899AABBCCDDEEFF0001020304050607",
     "A8F9BC1612C68B3F F6E6F4FBE30E71E4 769C8B80A32CB895 8CD5D17D6B254DA1"},
    {"4.6 256 bits of key data, 256-bit KEK", kKek256,
     "00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F",
     "28C9F404C4B810F4 CBCCB35CFB87F826 3F5786E2D80ED326 CBC7F0E71A99F43B FB988B9B7A02DD21"},
};

// RFC 5649 §6: both examples use this 192-bit KEK.
constexpr std::string_view kRfc5649Kek = "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8";

const WrapVector kRfc5649Vectors[] = {
    {"6 20-octet key", kRfc5649Kek, "c37b7e6492584340bed12207808941155068f738",
     "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a"},
    {"6 7-octet key", kRfc5649Kek, "466f7250617369", "afbeb0f07dfbf5419200f2ccb50bb24f"},
};

TEST_CASE("AES-KW wraps and unwraps every RFC 3394 §4 vector") {
  for (const WrapVector& v : kRfc3394Vectors) {
    SECTION(v.section) {
      const SecretBytes kek = secretHex(v.kek);
      auto wrapped = aesKeyWrap(kek, secretHex(v.key));
      REQUIRE(wrapped.ok());
      CHECK(toHex(*wrapped) == toHex(hex(v.wrapped)));

      auto unwrapped = aesKeyUnwrap(kek, hex(v.wrapped));
      REQUIRE(unwrapped.ok());
      CHECK(*unwrapped == secretHex(v.key));
    }
  }
}

TEST_CASE("AES-KWP wraps and unwraps both RFC 5649 §6 vectors") {
  for (const WrapVector& v : kRfc5649Vectors) {
    SECTION(v.section) {
      const SecretBytes kek = secretHex(v.kek);
      auto wrapped = aesKeyWrapPad(kek, secretHex(v.key));
      REQUIRE(wrapped.ok());
      CHECK(toHex(*wrapped) == toHex(hex(v.wrapped)));

      auto unwrapped = aesKeyUnwrapPad(kek, hex(v.wrapped));
      REQUIRE(unwrapped.ok());
      CHECK(*unwrapped == secretHex(v.key));
      CHECK(unwrapped->size() == hex(v.key).size());
    }
  }
}

TEST_CASE("AES-KW unwrap with the wrong KEK fails with DataLoss") {
  const WrapVector& v = kRfc3394Vectors[5];
  Bytes wrong_kek = hex(v.kek);
  wrong_kek[0] ^= 0x01;
  auto result = aesKeyUnwrap(SecretBytes::copyOf(wrong_kek), hex(v.wrapped));
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().code() == StatusCode::DataLoss);
  CHECK(result.status().message() ==
        "AES key unwrap: integrity check failed (wrong key or corrupted input)");
}

TEST_CASE("AES-KWP unwrap with the wrong KEK fails with DataLoss") {
  for (const WrapVector& v : kRfc5649Vectors) {
    Bytes wrong_kek = hex(v.kek);
    wrong_kek[23] ^= 0x80;
    auto result = aesKeyUnwrapPad(SecretBytes::copyOf(wrong_kek), hex(v.wrapped));
    REQUIRE_FALSE(result.ok());
    CHECK(result.status().code() == StatusCode::DataLoss);
  }
}

TEST_CASE("AES-KW unwrap fails with DataLoss for any single flipped ciphertext bit") {
  const WrapVector& v = kRfc3394Vectors[3];  // 32-byte ciphertext
  const SecretBytes kek = secretHex(v.kek);
  const Bytes wrapped = hex(v.wrapped);
  for (std::size_t bit = 0; bit < wrapped.size() * 8; ++bit) {
    Bytes corrupted = wrapped;
    corrupted[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    auto result = aesKeyUnwrap(kek, corrupted);
    INFO("flipped bit " << bit);
    REQUIRE_FALSE(result.ok());
    CHECK(result.status().code() == StatusCode::DataLoss);
  }
}

TEST_CASE("AES-KWP unwrap fails with DataLoss for any single flipped ciphertext bit") {
  for (const WrapVector& v : kRfc5649Vectors) {
    const SecretBytes kek = secretHex(v.kek);
    const Bytes wrapped = hex(v.wrapped);
    for (std::size_t bit = 0; bit < wrapped.size() * 8; ++bit) {
      Bytes corrupted = wrapped;
      corrupted[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
      auto result = aesKeyUnwrapPad(kek, corrupted);
      INFO(v.section << ", flipped bit " << bit);
      REQUIRE_FALSE(result.ok());
      CHECK(result.status().code() == StatusCode::DataLoss);
    }
  }
}

TEST_CASE("AES key wrap rejects KEKs that are not 16, 24 or 32 bytes") {
  const SecretBytes key = secretHex("00112233445566778899AABBCCDDEEFF");
  for (std::size_t size : {0, 8, 15, 17, 20, 31, 33, 64}) {
    const SecretBytes kek(size);
    INFO("KEK size " << size);
    auto wrapped = aesKeyWrap(kek, key);
    REQUIRE_FALSE(wrapped.ok());
    CHECK(wrapped.status().code() == StatusCode::InvalidArgument);
    CHECK(wrapped.status().message() ==
          "AES-KW wrap: KEK is " + std::to_string(size) + " bytes, expected 16, 24 or 32");
    CHECK(aesKeyWrapPad(kek, key).status().code() == StatusCode::InvalidArgument);
    CHECK(aesKeyUnwrap(kek, Bytes(24)).status().code() == StatusCode::InvalidArgument);
    CHECK(aesKeyUnwrapPad(kek, Bytes(16)).status().code() == StatusCode::InvalidArgument);
  }
}

TEST_CASE("AES-KW wrap rejects keys that are not a multiple of 8 or shorter than 16 bytes") {
  const SecretBytes kek = secretHex(kKek256);
  for (std::size_t size : {0, 8, 15, 17, 23}) {
    auto wrapped = aesKeyWrap(kek, SecretBytes(size));
    INFO("key size " << size);
    REQUIRE_FALSE(wrapped.ok());
    CHECK(wrapped.status().code() == StatusCode::InvalidArgument);
    CHECK(wrapped.status().message() == "AES-KW wrap: key is " + std::to_string(size) +
                                            " bytes, expected a multiple of 8 and >= 16");
  }
}

TEST_CASE("AES-KWP wrap rejects an empty key") {
  auto wrapped = aesKeyWrapPad(secretHex(kKek256), SecretBytes());
  REQUIRE_FALSE(wrapped.ok());
  CHECK(wrapped.status().code() == StatusCode::InvalidArgument);
}

TEST_CASE("AES key unwrap rejects ciphertext lengths that cannot be wrapped keys") {
  const SecretBytes kek = secretHex(kKek256);
  SECTION("RFC 3394") {
    for (std::size_t size : {0, 8, 16, 20, 25, 31}) {
      auto result = aesKeyUnwrap(kek, Bytes(size));
      INFO("ciphertext size " << size);
      REQUIRE_FALSE(result.ok());
      CHECK(result.status().code() == StatusCode::InvalidArgument);
      CHECK(result.status().message() == "AES-KW unwrap: ciphertext is " + std::to_string(size) +
                                             " bytes, expected a multiple of 8 and >= 24");
    }
  }
  SECTION("RFC 5649") {
    for (std::size_t size : {0, 8, 15, 20, 23}) {
      auto result = aesKeyUnwrapPad(kek, Bytes(size));
      INFO("ciphertext size " << size);
      REQUIRE_FALSE(result.ok());
      CHECK(result.status().code() == StatusCode::InvalidArgument);
      CHECK(result.status().message() == "AES-KWP unwrap: ciphertext is " + std::to_string(size) +
                                             " bytes, expected a multiple of 8 and >= 16");
    }
  }
}

TEST_CASE("AES-KWP round-trips every key length from 1 to 40 bytes under each KEK size") {
  for (std::string_view kek_hex : {kKek128, kKek192, kKek256}) {
    const SecretBytes kek = secretHex(kek_hex);
    for (std::size_t n = 1; n <= 40; ++n) {
      Bytes key_bytes(n);
      for (std::size_t i = 0; i < n; ++i) key_bytes[i] = static_cast<uint8_t>(i * 7 + n);
      auto wrapped = aesKeyWrapPad(kek, SecretBytes::copyOf(key_bytes));
      REQUIRE(wrapped.ok());
      CHECK(wrapped->size() == (n + 7) / 8 * 8 + 8);
      auto unwrapped = aesKeyUnwrapPad(kek, *wrapped);
      REQUIRE(unwrapped.ok());
      CHECK(*unwrapped == SecretBytes::copyOf(key_bytes));
    }
  }
}

TEST_CASE("KW and KWP outputs are not interchangeable") {
  // A KW ciphertext fails the KWP integrity check (different IV / AIV) and vice versa.
  const WrapVector& v = kRfc3394Vectors[5];
  const SecretBytes kek = secretHex(v.kek);
  CHECK(aesKeyUnwrapPad(kek, hex(v.wrapped)).status().code() == StatusCode::DataLoss);
  auto kwp = aesKeyWrapPad(kek, secretHex(v.key));
  REQUIRE(kwp.ok());
  CHECK(aesKeyUnwrap(kek, *kwp).status().code() == StatusCode::DataLoss);
}

// The reference: OpenSSL's own AES-*-WRAP / -WRAP-PAD ciphers (the agent's implementation runs the
// RFC steps over AES-ECB instead, for speed). nullopt when OpenSSL refuses (a failed integrity
// check on unwrap). `iv`, if not empty, replaces the RFC default IV (KW only: 8 bytes).
std::optional<Bytes> opensslWrapCipher(bool pad, ByteView kek, bool encrypt, ByteView in,
                                       ByteView iv = {}) {
  const std::string name = "AES-" + std::to_string(kek.size() * 8) + (pad ? "-WRAP-PAD" : "-WRAP");
  SslPtr<EVP_CIPHER> cipher(EVP_CIPHER_fetch(nullptr, name.c_str(), nullptr));
  REQUIRE(cipher);
  SslPtr<EVP_CIPHER_CTX> ctx(EVP_CIPHER_CTX_new());
  REQUIRE(ctx);
  REQUIRE(EVP_CipherInit_ex2(ctx.get(), cipher.get(), kek.data(), iv.empty() ? nullptr : iv.data(),
                             encrypt ? 1 : 0, nullptr) == 1);
  Bytes out(in.size() + 16);
  int len = 0;
  if (EVP_CipherUpdate(ctx.get(), out.data(), &len, in.data(), static_cast<int>(in.size())) != 1 ||
      len < 0) {
    return std::nullopt;
  }
  out.resize(static_cast<std::size_t>(len));
  return out;
}

std::optional<Bytes> ours(bool pad, const SecretBytes& kek, ByteView wrapped) {
  auto key = pad ? aesKeyUnwrapPad(kek, wrapped) : aesKeyUnwrap(kek, wrapped);
  if (!key.ok()) {
    CHECK(key.status().code() == StatusCode::DataLoss);
    return std::nullopt;
  }
  const ByteView view = key->view(grantSecretAccess());
  return Bytes(view.begin(), view.end());
}

TEST_CASE(
    "AES-KW and AES-KWP agree with OpenSSL's WRAP ciphers on random keys, lengths and "
    "damaged inputs") {
  std::mt19937 rng(20261207);
  auto randomOf = [&](std::size_t n) {
    Bytes b(n);
    for (auto& x : b) x = static_cast<uint8_t>(rng());
    return b;
  };
  for (int round = 0; round < 300; ++round) {
    const bool pad = round % 2 == 1;
    const std::size_t kek_size = 16 + 8 * static_cast<std::size_t>(rng() % 3);
    const Bytes kek_bytes = randomOf(kek_size);
    const SecretBytes kek = SecretBytes::copyOf(kek_bytes);
    const std::size_t n = pad ? 1 + rng() % 300 : 8 * (2 + rng() % 40);
    const Bytes key = randomOf(n);
    INFO("round " << round << (pad ? " KWP" : " KW") << " KEK " << kek_size << " key " << n);

    auto wrapped = pad ? aesKeyWrapPad(kek, SecretBytes::copyOf(key))
                       : aesKeyWrap(kek, SecretBytes::copyOf(key));
    REQUIRE(wrapped.ok());
    const auto reference = opensslWrapCipher(pad, kek_bytes, true, key);
    REQUIRE(reference);
    CHECK(toHex(*wrapped) == toHex(*reference));
    CHECK(ours(pad, kek, *wrapped) == key);

    // A damaged copy: one flipped bit, or a random ciphertext of the same length. Both
    // implementations refuse it, or (never seen, but allowed) both return the same bytes.
    Bytes damaged = *wrapped;
    if (round % 3 == 0) {
      damaged = randomOf(damaged.size());
    } else {
      damaged[rng() % damaged.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
    }
    CHECK(ours(pad, kek, damaged) == opensslWrapCipher(pad, kek_bytes, false, damaged));
  }
}

TEST_CASE("AES-KWP unwrap checks the AIV's length and padding exactly as OpenSSL does") {
  // Ciphertexts whose AIV carries every message length indicator around the valid range, and
  // whose padding is zero or not: built with the KW cipher and a chosen IV (RFC 5649 §4.1 is RFC
  // 3394 with the AIV as IV) for two and three semiblocks, and with one AES-ECB block for one.
  const Bytes kek_bytes = hex(kKek256);
  const SecretBytes kek = SecretBytes::copyOf(kek_bytes);
  for (std::size_t semiblocks : {1, 2, 3}) {
    for (uint32_t mli = 0; mli <= 8 * semiblocks + 9; ++mli) {
      for (bool dirty_padding : {false, true}) {
        INFO(semiblocks << " semiblocks, MLI " << mli << (dirty_padding ? ", dirty padding" : ""));
        Bytes plain(8 * semiblocks, 0x5A);
        for (std::size_t p = mli; p < plain.size(); ++p) plain[p] = 0;
        if (dirty_padding && mli < plain.size()) plain.back() = 1;
        const Bytes aiv = {0xA6,
                           0x59,
                           0x59,
                           0xA6,
                           static_cast<uint8_t>(mli >> 24),
                           static_cast<uint8_t>(mli >> 16),
                           static_cast<uint8_t>(mli >> 8),
                           static_cast<uint8_t>(mli)};
        Bytes wrapped;
        if (semiblocks == 1) {
          SslPtr<EVP_CIPHER> ecb(EVP_CIPHER_fetch(nullptr, "AES-256-ECB", nullptr));
          SslPtr<EVP_CIPHER_CTX> ctx(EVP_CIPHER_CTX_new());
          REQUIRE(EVP_EncryptInit_ex2(ctx.get(), ecb.get(), kek_bytes.data(), nullptr, nullptr));
          REQUIRE(EVP_CIPHER_CTX_set_padding(ctx.get(), 0) == 1);
          Bytes block = aiv;
          block.insert(block.end(), plain.begin(), plain.end());
          wrapped.resize(16);
          int len = 0;
          REQUIRE(EVP_EncryptUpdate(ctx.get(), wrapped.data(), &len, block.data(), 16) == 1);
        } else {
          auto kw = opensslWrapCipher(false, kek_bytes, true, plain, aiv);
          REQUIRE(kw);
          wrapped = *kw;
        }
        const auto expected = opensslWrapCipher(true, kek_bytes, false, wrapped);
        CHECK(ours(true, kek, wrapped) == expected);
        const bool valid = mli > 8 * (semiblocks - 1) && mli <= 8 * semiblocks &&
                           !(dirty_padding && mli < 8 * semiblocks);
        CHECK(expected.has_value() == valid);
      }
    }
  }
}

}  // namespace
}  // namespace skr::crypto
