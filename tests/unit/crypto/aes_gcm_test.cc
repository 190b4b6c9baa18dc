#include "common/crypto/aes_gcm.h"

#include <catch2/catch.hpp>
#include <cctype>
#include <string>
#include <string_view>

#include "tests/unit/crypto/hex_vectors.h"

namespace skr::crypto {
namespace {

using namespace skr::crypto::testing;  // hex, toHex, secretHex

// McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)", Appendix B, Test Case 16
// (AES-256, 96-bit IV, 60-byte plaintext, 20-byte AAD).
constexpr std::string_view kTc16Key =
    "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
constexpr std::string_view kTc16Iv = "cafebabefacedbaddecaf888";
constexpr std::string_view kTc16Plaintext =
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";
constexpr std::string_view kTc16Aad = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
constexpr std::string_view kTc16Ciphertext =
    "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
    "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662";
constexpr std::string_view kTc16Tag = "76fc6ece0f4e1768cddf8853bb2d551b";

TEST_CASE("AES-256-GCM encrypts GCM spec test case 16 to the published ciphertext and tag") {
  auto sealed =
      aesGcmEncryptWithIv(secretHex(kTc16Key), hex(kTc16Iv), hex(kTc16Plaintext), hex(kTc16Aad));
  REQUIRE(sealed.ok());
  CHECK(toHex(sealed->iv) == kTc16Iv);
  CHECK(toHex(sealed->ciphertext) == kTc16Ciphertext);
  CHECK(toHex(sealed->tag) == kTc16Tag);
}

TEST_CASE("AES-256-GCM decrypts GCM spec test case 16 to the published plaintext") {
  auto plaintext = aesGcmDecrypt(secretHex(kTc16Key), hex(kTc16Iv), hex(kTc16Ciphertext),
                                 hex(kTc16Tag), hex(kTc16Aad));
  REQUIRE(plaintext.ok());
  CHECK(*plaintext == secretHex(kTc16Plaintext));
}

TEST_CASE("AES-GCM decrypt fails with DataLoss on any tampering") {
  const SecretBytes key = secretHex(kTc16Key);
  Bytes iv = hex(kTc16Iv);
  Bytes ciphertext = hex(kTc16Ciphertext);
  Bytes tag = hex(kTc16Tag);
  Bytes aad = hex(kTc16Aad);
  auto expectDataLoss = [&](const StatusOr<SecretBytes>& result) {
    REQUIRE_FALSE(result.ok());
    CHECK(result.status().code() == StatusCode::DataLoss);
    CHECK(result.status().message() == "AES-GCM: authentication tag does not verify");
  };

  SECTION("a flipped tag bit") {
    tag[15] ^= 0x01;
    expectDataLoss(aesGcmDecrypt(key, iv, ciphertext, tag, aad));
  }
  SECTION("a flipped ciphertext bit") {
    ciphertext[0] ^= 0x80;
    expectDataLoss(aesGcmDecrypt(key, iv, ciphertext, tag, aad));
  }
  SECTION("a truncated ciphertext") {
    ciphertext.pop_back();
    expectDataLoss(aesGcmDecrypt(key, iv, ciphertext, tag, aad));
  }
  SECTION("a changed AAD byte") {
    aad[19] ^= 0x01;
    expectDataLoss(aesGcmDecrypt(key, iv, ciphertext, tag, aad));
  }
  SECTION("a missing AAD") {
    expectDataLoss(aesGcmDecrypt(key, iv, ciphertext, tag, {}));
  }
  SECTION("a changed IV byte") {
    iv[11] ^= 0x01;
    expectDataLoss(aesGcmDecrypt(key, iv, ciphertext, tag, aad));
  }
  SECTION("a different key") {
    Bytes other = hex(kTc16Key);
    other[0] ^= 0x01;
    expectDataLoss(aesGcmDecrypt(SecretBytes::copyOf(other), iv, ciphertext, tag, aad));
  }
}

TEST_CASE("AES-GCM encrypt picks a fresh random IV each time") {
  const SecretBytes key = secretHex(kTc16Key);
  const Bytes plaintext = hex(kTc16Plaintext);
  auto a = aesGcmEncrypt(key, plaintext, {});
  auto b = aesGcmEncrypt(key, plaintext, {});
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a->iv.size() == kGcmIvSize);
  CHECK(b->iv.size() == kGcmIvSize);
  CHECK(a->iv != b->iv);
  CHECK(a->ciphertext != b->ciphertext);
  CHECK(a->tag.size() == kGcmTagSize);
}

TEST_CASE("AES-GCM round-trips with 128, 192 and 256-bit keys, with and without AAD") {
  const Bytes plaintext = toBytes("sealed bundle payload");
  for (std::size_t key_size : {16, 24, 32}) {
    Bytes key_bytes(key_size);
    for (std::size_t i = 0; i < key_size; ++i) key_bytes[i] = static_cast<uint8_t>(i);
    const SecretBytes key = SecretBytes::copyOf(key_bytes);
    for (std::string_view aad : {std::string_view(), std::string_view("header")}) {
      auto sealed = aesGcmEncrypt(key, plaintext, asBytes(aad));
      REQUIRE(sealed.ok());
      CHECK(sealed->ciphertext.size() == plaintext.size());
      CHECK(sealed->ciphertext != plaintext);
      auto opened = aesGcmDecrypt(key, sealed->iv, sealed->ciphertext, sealed->tag, asBytes(aad));
      REQUIRE(opened.ok());
      CHECK(*opened == SecretBytes::copyOf(plaintext));
    }
  }
}

TEST_CASE("AES-GCM authenticates an empty plaintext") {
  const SecretBytes key = secretHex(kTc16Key);
  auto sealed = aesGcmEncrypt(key, {}, asBytes("aad only"));
  REQUIRE(sealed.ok());
  CHECK(sealed->ciphertext.empty());
  auto opened = aesGcmDecrypt(key, sealed->iv, {}, sealed->tag, asBytes("aad only"));
  REQUIRE(opened.ok());
  CHECK(opened->empty());
  CHECK(aesGcmDecrypt(key, sealed->iv, {}, sealed->tag, asBytes("other")).status().code() ==
        StatusCode::DataLoss);
}

TEST_CASE("AES-GCM rejects bad key, IV and tag sizes with InvalidArgument") {
  const Bytes iv = hex(kTc16Iv);
  const Bytes tag = hex(kTc16Tag);
  const SecretBytes key = secretHex(kTc16Key);

  auto bad_key = aesGcmEncryptWithIv(SecretBytes(20), iv, {}, {});
  REQUIRE_FALSE(bad_key.ok());
  CHECK(bad_key.status().code() == StatusCode::InvalidArgument);
  CHECK(bad_key.status().message() == "AES-GCM encrypt: key is 20 bytes, expected 16, 24 or 32");

  auto bad_iv = aesGcmEncryptWithIv(key, Bytes(16), {}, {});
  REQUIRE_FALSE(bad_iv.ok());
  CHECK(bad_iv.status().code() == StatusCode::InvalidArgument);
  CHECK(bad_iv.status().message() == "AES-GCM encrypt: IV is 16 bytes, expected 12");

  CHECK(aesGcmDecrypt(SecretBytes(0), iv, {}, tag, {}).status().code() ==
        StatusCode::InvalidArgument);
  CHECK(aesGcmDecrypt(key, Bytes(8), {}, tag, {}).status().code() == StatusCode::InvalidArgument);
  auto short_tag = aesGcmDecrypt(key, iv, {}, Bytes(12), {});
  REQUIRE_FALSE(short_tag.ok());
  CHECK(short_tag.status().code() == StatusCode::InvalidArgument);
  CHECK(short_tag.status().message() == "AES-GCM decrypt: tag is 12 bytes, expected 16");
}

}  // namespace
}  // namespace skr::crypto
