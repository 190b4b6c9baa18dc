#include "agent/key_operations.h"

#include <catch2/catch.hpp>

#include "tests/unit/agent/agent_test_util.h"

namespace skr::agent {
namespace {

using testing::hexBytes;
using testing::octJwk;
using testing::rsaJwk;
using testing::rsaPrivate2048;
using testing::secretHex;
using testing::take;
using testing::versionOf;

// RFC 3394 §4.1, §4.2 and §4.6 (tests/data/README.md).
struct KwVector {
  const char* name;
  KeyAlgorithm alg;
  const char* kek;
  const char* key;
  const char* wrapped;
};
const KwVector kKwVectors[] = {
    {"RFC 3394 4.1 A128KW", KeyAlgorithm::A128Kw, "000102030405060708090A0B0C0D0E0F",
     "00112233445566778899AABBCCDDEEFF", "1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5"},
    {"RFC 3394 4.2 A192KW", KeyAlgorithm::A192Kw,
     "000102030405060708090A0B0C0D0E0F1011121314151617", "00112233445566778899AABBCCDDEEFF",
     "96778B25AE6CA435F92B5B97C050AED2468AB8A17AD84E5D"},
    {"RFC 3394 4.6 A256KW", KeyAlgorithm::A256Kw,
     "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
     "00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F",
     "28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21"},
};

TEST_CASE("AES key wrap algorithms match the RFC 3394 vectors in both directions") {
  for (const KwVector& v : kKwVectors) {
    SECTION(v.name) {
      const KeyVersion key = versionOf("kek", "v1", octJwk(v.kek));
      const Bytes wrapped = take(wrapKey(key, v.alg, secretHex(v.key)));
      CHECK(encoding::hexEncode(wrapped) == encoding::hexEncode(hexBytes(v.wrapped)));
      const SecretBytes unwrapped = take(unwrapKey(key, v.alg, hexBytes(v.wrapped)));
      CHECK(unwrapped == secretHex(v.key));
    }
  }
}

TEST_CASE("A256KWPAD round-trips keys of every length from 1 to 40 bytes") {
  const KeyVersion key = versionOf("kek", "v1", octJwk(32));
  for (std::size_t n = 1; n <= 40; ++n) {
    const SecretBytes dek = crypto::randomSecret(n);
    const Bytes wrapped = take(wrapKey(key, KeyAlgorithm::A256KwPad, dek));
    CHECK(wrapped.size() == ((n + 7) / 8) * 8 + 8);
    CHECK(take(unwrapKey(key, KeyAlgorithm::A256KwPad, wrapped)) == dek);
  }
}

TEST_CASE("RSA-OAEP and RSA-OAEP-256 round-trip and are not interchangeable") {
  const KeyVersion key = versionOf("rsa", "v1", rsaJwk(rsaPrivate2048()));
  const SecretBytes dek = crypto::randomSecret(32);
  for (KeyAlgorithm alg : {KeyAlgorithm::RsaOaep, KeyAlgorithm::RsaOaep256}) {
    const Bytes wrapped = take(wrapKey(key, alg, dek));
    CHECK(wrapped.size() == 256);
    CHECK(take(unwrapKey(key, alg, wrapped)) == dek);
    const EncryptResult sealed = take(encrypt(key, alg, dek, {}));
    CHECK(sealed.iv.empty());
    CHECK(take(decrypt(key, alg, sealed.ciphertext, {}, {}, {})) == dek);
  }
  const Bytes sha1 = take(wrapKey(key, KeyAlgorithm::RsaOaep, dek));
  StatusOr<SecretBytes> wrong = unwrapKey(key, KeyAlgorithm::RsaOaep256, sha1);
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.status().code() == StatusCode::DataLoss);
}

TEST_CASE("RSA unwrap of a value that is not the modulus size is InvalidArgument") {
  const KeyVersion key = versionOf("rsa", "v1", rsaJwk(rsaPrivate2048()));
  StatusOr<SecretBytes> r = unwrapKey(key, KeyAlgorithm::RsaOaep256, Bytes(100, 1));
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == StatusCode::InvalidArgument);
  CHECK(r.status().message() ==
        "RSA-OAEP-256: value is 100 bytes, expected 256 (the modulus size)");
}

TEST_CASE("A256GCM encrypts with a fresh IV each time and decrypts with the aad") {
  const KeyVersion key = versionOf("gcm", "v1", octJwk(32));
  const SecretBytes plaintext = SecretBytes::copyOf(asBytes("the payload"));
  const Bytes aad = toBytes("context");
  const EncryptResult a = take(encrypt(key, KeyAlgorithm::A256Gcm, plaintext, aad));
  const EncryptResult b = take(encrypt(key, KeyAlgorithm::A256Gcm, plaintext, aad));
  CHECK(a.iv.size() == 12);
  CHECK(a.tag.size() == 16);
  CHECK(a.iv != b.iv);
  CHECK(take(decrypt(key, KeyAlgorithm::A256Gcm, a.ciphertext, a.iv, a.tag, aad)) == plaintext);
  StatusOr<SecretBytes> wrong_aad =
      decrypt(key, KeyAlgorithm::A256Gcm, a.ciphertext, a.iv, a.tag, toBytes("other"));
  REQUIRE_FALSE(wrong_aad.ok());
  CHECK(wrong_aad.status().code() == StatusCode::DataLoss);
}

TEST_CASE("A256GCM decrypts the GCM paper's test case 16") {
  const KeyVersion key = versionOf(
      "gcm", "v1", octJwk("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308"));
  const SecretBytes plain = take(decrypt(
      key, KeyAlgorithm::A256Gcm,
      hexBytes(
          "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b0"
          "8b1056828838c5f61e6393ba7a0abcc9f662"),
      hexBytes("cafebabefacedbaddecaf888"), hexBytes("76fc6ece0f4e1768cddf8853bb2d551b"),
      hexBytes("feedfacedeadbeeffeedfacedeadbeefabaddad2")));
  CHECK(plain == secretHex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c9"
                           "5956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"));
}

TEST_CASE("A256GCM decrypt checks the iv and tag lengths") {
  const KeyVersion key = versionOf("gcm", "v1", octJwk(32));
  StatusOr<SecretBytes> r = decrypt(key, KeyAlgorithm::A256Gcm, Bytes(10), Bytes(8), Bytes(16), {});
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message() == "A256GCM: iv is 8 bytes, expected 12");
  r = decrypt(key, KeyAlgorithm::A256Gcm, Bytes(10), Bytes(12), Bytes(15), {});
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message() == "A256GCM: tag is 15 bytes, expected 16");
}

TEST_CASE("a key wrap algorithm needs an oct key of exactly its size") {
  const KeyVersion k128 = versionOf("kek", "v1", octJwk(16));
  StatusOr<Bytes> r = wrapKey(k128, KeyAlgorithm::A256Kw, crypto::randomSecret(32));
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == StatusCode::InvalidArgument);
  CHECK(r.status().message() ==
        "algorithm A256KW needs a 256-bit key, but key 'kek' version 'v1' is 128-bit");
  const KeyVersion k256 = versionOf("kek", "v1", octJwk(32));
  CHECK(wrapKey(k256, KeyAlgorithm::A128Kw, crypto::randomSecret(32)).status().code() ==
        StatusCode::InvalidArgument);
}

TEST_CASE("algorithms are refused for the wrong key type and the wrong operation") {
  const KeyVersion rsa = versionOf("rsa", "v1", rsaJwk(rsaPrivate2048()));
  const KeyVersion oct = versionOf("oct", "v1", octJwk(32));
  const KeyVersion ec = versionOf(
      "ec", "v1",
      jose::Jwk::fromPrivateKey(take(crypto::PrivateKey::generateEc(crypto::Curve::P256))));
  const SecretBytes dek = crypto::randomSecret(32);

  CHECK(wrapKey(rsa, KeyAlgorithm::A256Kw, dek).status().message() ==
        "algorithm A256KW needs an oct key, but key 'rsa' version 'v1' is RSA");
  CHECK(wrapKey(oct, KeyAlgorithm::RsaOaep256, dek).status().message() ==
        "algorithm RSA-OAEP-256 needs an RSA key, but key 'oct' version 'v1' is oct");
  StatusOr<Bytes> on_ec = wrapKey(ec, KeyAlgorithm::RsaOaep256, dek);
  REQUIRE_FALSE(on_ec.ok());
  CHECK(on_ec.status().code() == StatusCode::InvalidArgument);
  CHECK(on_ec.status().message() ==
        "key 'ec' version 'v1' is an EC key: wrapKey is not supported for EC keys");
  CHECK(wrapKey(oct, KeyAlgorithm::A256Gcm, dek).status().code() == StatusCode::InvalidArgument);
  CHECK(encrypt(oct, KeyAlgorithm::A256Kw, dek, {}).status().code() == StatusCode::InvalidArgument);
}

TEST_CASE("key_ops that do not list the operation make it PermissionDenied") {
  const KeyVersion key = versionOf("kek", "v1", octJwk(32), {"wrapKey"});
  const Bytes wrapped = take(wrapKey(key, KeyAlgorithm::A256Kw, crypto::randomSecret(32)));
  StatusOr<SecretBytes> r = unwrapKey(key, KeyAlgorithm::A256Kw, wrapped);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == StatusCode::PermissionDenied);
  CHECK(r.status().message() == "Operation unwrapKey is not permitted on key 'kek' version 'v1'");
  // Empty key_ops allow everything the key type supports.
  const KeyVersion open = versionOf("kek", "v1", octJwk(32));
  CHECK(unwrapKey(open, KeyAlgorithm::A256Kw,
                  take(wrapKey(open, KeyAlgorithm::A256Kw, crypto::randomSecret(16))))
            .ok());
}

TEST_CASE("AES-KW refuses keys and wrapped values of the wrong length") {
  const KeyVersion key = versionOf("kek", "v1", octJwk(32));
  CHECK(wrapKey(key, KeyAlgorithm::A256Kw, crypto::randomSecret(20)).status().message() ==
        "A256KW: the key to wrap is 20 bytes, expected a multiple of 8 and >= 16 (use A256KWPAD "
        "for other sizes)");
  CHECK(unwrapKey(key, KeyAlgorithm::A256Kw, Bytes(20)).status().message() ==
        "A256KW: value is 20 bytes, expected a multiple of 8 and >= 16");
  CHECK(unwrapKey(key, KeyAlgorithm::A256Kw, Bytes(32)).status().code() == StatusCode::DataLoss);
}

TEST_CASE("parseKeyAlgorithm accepts the AKV names and lists them on error") {
  CHECK(take(parseKeyAlgorithm("RSA-OAEP-256")) == KeyAlgorithm::RsaOaep256);
  CHECK(take(parseKeyAlgorithm("A256KWPAD")) == KeyAlgorithm::A256KwPad);
  StatusOr<KeyAlgorithm> r = parseKeyAlgorithm("RSA1_5");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message() ==
        "unsupported algorithm 'RSA1_5'; supported: RSA-OAEP, RSA-OAEP-256, A128KW, A192KW, "
        "A256KW, A256KWPAD, A256GCM");
}

}  // namespace
}  // namespace skr::agent
