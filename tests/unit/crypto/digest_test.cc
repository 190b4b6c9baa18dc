#include "common/crypto/digest.h"

#include <catch2/catch.hpp>
#include <cctype>
#include <string>
#include <string_view>

#include "tests/unit/crypto/hex_vectors.h"

namespace skr::crypto {
namespace {

using namespace skr::crypto::testing;  // hex, toHex, secretHex

Bytes repeat(uint8_t byte, std::size_t n) {
  return Bytes(n, byte);
}

TEST_CASE("digest sizes and names match the algorithms") {
  CHECK(digestSize(HashAlg::Sha1) == 20);
  CHECK(digestSize(HashAlg::Sha256) == 32);
  CHECK(digestSize(HashAlg::Sha384) == 48);
  CHECK(digestSize(HashAlg::Sha512) == 64);
  CHECK(std::string(hashName(HashAlg::Sha1)) == "SHA-1");
  CHECK(std::string(hashName(HashAlg::Sha256)) == "SHA-256");
  CHECK(std::string(hashName(HashAlg::Sha384)) == "SHA-384");
  CHECK(std::string(hashName(HashAlg::Sha512)) == "SHA-512");
}

// FIPS 180-2, Appendix B.1 / C.1 / D.1: the one-block message "abc".
TEST_CASE("SHA-2 of \"abc\" matches the FIPS 180-2 examples") {
  CHECK(toHex(sha256(asBytes("abc"))) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(toHex(sha384(asBytes("abc"))) ==
        "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded163"
        "1a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7");
  CHECK(toHex(sha512(asBytes("abc"))) ==
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
        "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
}

TEST_CASE("digest of empty input has the algorithm's size") {
  // NIST CAVP SHAVS SHA256ShortMsg.rsp, Len = 0.
  CHECK(toHex(sha256({})) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(digest(HashAlg::Sha1, {}).size() == 20);
}

// RFC 4231 §4.2, §4.3 and §4.7 (HMAC-SHA-256 rows).
TEST_CASE("HMAC-SHA-256 matches RFC 4231 test cases 1, 2 and 6") {
  SECTION("test case 1: 20-byte key of 0x0b, \"Hi There\"") {
    const SecretBytes key = SecretBytes::copyOf(repeat(0x0b, 20));
    CHECK(toHex(hmac(HashAlg::Sha256, key, asBytes("Hi There"))) ==
          "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  }
  SECTION("test case 2: key \"Jefe\", data shorter than the key block") {
    const SecretBytes key = SecretBytes::copyOf(asBytes("Jefe"));
    CHECK(toHex(hmac(HashAlg::Sha256, key, asBytes("what do ya want for nothing?"))) ==
          "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  }
  SECTION("test case 6: a 131-byte key is hashed first") {
    const SecretBytes key = SecretBytes::copyOf(repeat(0xaa, 131));
    CHECK(toHex(hmac(HashAlg::Sha256, key,
                     asBytes("Test Using Larger Than Block-Size Key - Hash Key First"))) ==
          "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  }
}

TEST_CASE("HMAC accepts an empty key and differs from HMAC with another key") {
  const SecretBytes empty;
  const Bytes a = hmac(HashAlg::Sha256, empty, asBytes("data"));
  const Bytes b = hmac(HashAlg::Sha256, SecretBytes::copyOf(asBytes("k")), asBytes("data"));
  CHECK(a.size() == 32);
  CHECK(a != b);
  CHECK(hmac(HashAlg::Sha384, empty, {}).size() == 48);
}

// RFC 5869 Appendix A.
TEST_CASE("HKDF matches RFC 5869 A.1 (SHA-256 basic)") {
  auto okm = hkdf(HashAlg::Sha256, secretHex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"),
                  hex("000102030405060708090a0b0c"), hex("f0f1f2f3f4f5f6f7f8f9"), 42);
  REQUIRE(okm.ok());
  CHECK(*okm == secretHex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
                          "34007208d5b887185865"));
}

TEST_CASE("HKDF matches RFC 5869 A.2 (SHA-256, 80-byte inputs, 82-byte output)") {
  Bytes ikm, salt, info;
  for (int i = 0x00; i <= 0x4f; ++i) ikm.push_back(static_cast<uint8_t>(i));
  for (int i = 0x60; i <= 0xaf; ++i) salt.push_back(static_cast<uint8_t>(i));
  for (int i = 0xb0; i <= 0xff; ++i) info.push_back(static_cast<uint8_t>(i));
  auto okm = hkdf(HashAlg::Sha256, SecretBytes::copyOf(ikm), salt, info, 82);
  REQUIRE(okm.ok());
  CHECK(*okm == secretHex("b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
                          "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
                          "cc30c58179ec3e87c14c01d5c1f3434f1d87"));
}

TEST_CASE("HKDF matches RFC 5869 A.3 (SHA-256, empty salt and info)") {
  auto okm =
      hkdf(HashAlg::Sha256, secretHex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"), {}, {}, 42);
  REQUIRE(okm.ok());
  CHECK(*okm == secretHex("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
                          "9d201395faa4b61a96c8"));
}

TEST_CASE("HKDF matches RFC 5869 A.4 (SHA-1 basic)") {
  auto okm = hkdf(HashAlg::Sha1, secretHex("0b0b0b0b0b0b0b0b0b0b0b"),
                  hex("000102030405060708090a0b0c"), hex("f0f1f2f3f4f5f6f7f8f9"), 42);
  REQUIRE(okm.ok());
  CHECK(*okm == secretHex("085a01ea1b10f36933068b56efa5ad81a4f14b822f5b091568a9cdd4f155fda2"
                          "c22e422478d305f3f896"));
}

TEST_CASE("HKDF output is a prefix-consistent stream across lengths") {
  const SecretBytes ikm = SecretBytes::copyOf(asBytes("input keying material"));
  auto short_okm = hkdf(HashAlg::Sha256, ikm, asBytes("salt"), asBytes("info"), 16);
  auto long_okm = hkdf(HashAlg::Sha256, ikm, asBytes("salt"), asBytes("info"), 255 * 32);
  REQUIRE(short_okm.ok());
  REQUIRE(long_okm.ok());
  CHECK(long_okm->size() == 255 * 32);
  const ByteView prefix = long_okm->view(grantSecretAccess()).first(16);
  CHECK(SecretBytes::copyOf(prefix) == *short_okm);
}

TEST_CASE("HKDF rejects a length above 255*HashLen or of zero with InvalidArgument") {
  const SecretBytes ikm = SecretBytes::copyOf(asBytes("ikm"));
  auto too_long = hkdf(HashAlg::Sha256, ikm, {}, {}, 255 * 32 + 1);
  REQUIRE_FALSE(too_long.ok());
  CHECK(too_long.status().code() == StatusCode::InvalidArgument);
  CHECK(too_long.status().message().find("8161") != std::string::npos);
  CHECK(too_long.status().message().find("8160") != std::string::npos);

  auto sha1_too_long = hkdf(HashAlg::Sha1, ikm, {}, {}, 255 * 20 + 1);
  CHECK(sha1_too_long.status().code() == StatusCode::InvalidArgument);

  auto zero = hkdf(HashAlg::Sha256, ikm, {}, {}, 0);
  CHECK(zero.status().code() == StatusCode::InvalidArgument);
}

}  // namespace
}  // namespace skr::crypto
