#include "common/crypto/rsa_oaep.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <catch2/catch.hpp>
#include <string>

namespace skr::crypto {
namespace {

// Key generation is slow: two RSA-2048 keys for the whole file.
const PrivateKey& rsaKey() {
  static const PrivateKey key = PrivateKey::generateRsa(2048).value();
  return key;
}

const PrivateKey& otherRsaKey() {
  static const PrivateKey key = PrivateKey::generateRsa(2048).value();
  return key;
}

const SecretBytes& dataKey() {
  static const SecretBytes key = SecretBytes::copyOf(
      asBytes("0123456789abcdef0123456789abcdef"));  // a 32-byte AES key stand-in
  return key;
}

Bytes encryptOk(HashAlg hash, ByteView plaintext) {
  auto ciphertext = rsaOaepEncrypt(rsaKey().publicKey(), hash, plaintext);
  REQUIRE(ciphertext.ok());
  return std::move(ciphertext).value();
}

// Encrypts with OpenSSL directly so OAEP and MGF1 hashes can be chosen independently.
Bytes opensslOaepEncrypt(const char* oaep_md, const char* mgf1_md, ByteView plaintext) {
  SslPtr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, rsaKey().evp(), nullptr));
  REQUIRE(ctx);
  REQUIRE(EVP_PKEY_encrypt_init(ctx.get()) == 1);
  REQUIRE(EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) == 1);
  REQUIRE(EVP_PKEY_CTX_set_rsa_oaep_md_name(ctx.get(), oaep_md, nullptr) == 1);
  REQUIRE(EVP_PKEY_CTX_set_rsa_mgf1_md_name(ctx.get(), mgf1_md, nullptr) == 1);
  Bytes out(256);
  std::size_t len = out.size();
  REQUIRE(EVP_PKEY_encrypt(ctx.get(), out.data(), &len, plaintext.data(), plaintext.size()) == 1);
  out.resize(len);
  return out;
}

TEST_CASE("RSA-OAEP round-trips a key with SHA-1, SHA-256 and SHA-384") {
  for (HashAlg hash : {HashAlg::Sha1, HashAlg::Sha256, HashAlg::Sha384}) {
    INFO(hashName(hash));
    const Bytes ciphertext = encryptOk(hash, dataKey().view(grantSecretAccess()));
    CHECK(ciphertext.size() == 256);
    auto plaintext = rsaOaepDecrypt(rsaKey(), hash, ciphertext);
    REQUIRE(plaintext.ok());
    CHECK(*plaintext == dataKey());
  }
}

TEST_CASE("RSA-OAEP encryption is randomized") {
  const Bytes a = encryptOk(HashAlg::Sha256, asBytes("same plaintext"));
  const Bytes b = encryptOk(HashAlg::Sha256, asBytes("same plaintext"));
  CHECK(a != b);
}

TEST_CASE("RSA-OAEP round-trips an empty plaintext and the longest one that fits") {
  const struct {
    HashAlg hash;
    std::size_t max;  // k - 2*hLen - 2 for k = 256
  } cases[] = {{HashAlg::Sha1, 214}, {HashAlg::Sha256, 190}, {HashAlg::Sha384, 158}};
  for (const auto& c : cases) {
    INFO(hashName(c.hash));
    for (std::size_t size : {std::size_t{0}, c.max}) {
      const Bytes plaintext(size, 0x5a);
      auto decrypted = rsaOaepDecrypt(rsaKey(), c.hash, encryptOk(c.hash, plaintext));
      REQUIRE(decrypted.ok());
      CHECK(*decrypted == SecretBytes::copyOf(plaintext));
    }
  }
}

TEST_CASE("RSA-OAEP encrypt rejects a plaintext longer than k - 2*hLen - 2 with InvalidArgument") {
  auto result = rsaOaepEncrypt(rsaKey().publicKey(), HashAlg::Sha256, Bytes(191));
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().code() == StatusCode::InvalidArgument);
  CHECK(result.status().message() ==
        "RSA-OAEP-SHA-256 encrypt: plaintext is 191 bytes, at most 190 fit a 2048-bit key");
  CHECK(rsaOaepEncrypt(rsaKey().publicKey(), HashAlg::Sha1, Bytes(215)).status().code() ==
        StatusCode::InvalidArgument);
  CHECK(rsaOaepEncrypt(rsaKey().publicKey(), HashAlg::Sha384, Bytes(159)).status().code() ==
        StatusCode::InvalidArgument);
}

TEST_CASE("RSA-OAEP decrypt with the wrong hash fails with DataLoss") {
  const Bytes ciphertext = encryptOk(HashAlg::Sha256, dataKey().view(grantSecretAccess()));
  for (HashAlg wrong : {HashAlg::Sha1, HashAlg::Sha384}) {
    auto result = rsaOaepDecrypt(rsaKey(), wrong, ciphertext);
    REQUIRE_FALSE(result.ok());
    CHECK(result.status().code() == StatusCode::DataLoss);
    CHECK(ERR_peek_error() == 0);
  }
}

TEST_CASE("RSA-OAEP decrypt with the wrong key fails with DataLoss") {
  const Bytes ciphertext = encryptOk(HashAlg::Sha256, dataKey().view(grantSecretAccess()));
  auto result = rsaOaepDecrypt(otherRsaKey(), HashAlg::Sha256, ciphertext);
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().code() == StatusCode::DataLoss);
  CHECK(result.status().message() ==
        "RSA-OAEP-SHA-256 decrypt failed (wrong key, wrong hash or corrupted ciphertext)");
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("RSA-OAEP decrypt of a corrupted ciphertext fails with DataLoss") {
  Bytes ciphertext = encryptOk(HashAlg::Sha1, dataKey().view(grantSecretAccess()));
  for (std::size_t index : {std::size_t{1}, std::size_t{128}, std::size_t{255}}) {
    Bytes corrupted = ciphertext;
    corrupted[index] ^= 0x01;
    INFO("byte " << index);
    CHECK(rsaOaepDecrypt(rsaKey(), HashAlg::Sha1, corrupted).status().code() ==
          StatusCode::DataLoss);
  }
}

TEST_CASE("RSA-OAEP decrypt rejects a ciphertext that is not the modulus size") {
  for (std::size_t size : {std::size_t{0}, std::size_t{255}, std::size_t{257}, std::size_t{512}}) {
    auto result = rsaOaepDecrypt(rsaKey(), HashAlg::Sha256, Bytes(size, 0x01));
    INFO("size " << size);
    REQUIRE_FALSE(result.ok());
    CHECK(result.status().code() == StatusCode::InvalidArgument);
    CHECK(result.status().message() == "RSA-OAEP decrypt: ciphertext is " + std::to_string(size) +
                                           " bytes, expected 256 (the modulus size)");
  }
}

TEST_CASE("RSA-OAEP uses MGF1 with the OAEP hash") {
  // What JOSE RSA-OAEP-256 and CKM_RSA_AES_KEY_WRAP peers send: OAEP and MGF1 both SHA-256.
  const Bytes same = opensslOaepEncrypt("SHA256", "SHA256", asBytes("wrapped"));
  auto ok = rsaOaepDecrypt(rsaKey(), HashAlg::Sha256, same);
  REQUIRE(ok.ok());
  CHECK(*ok == SecretBytes::copyOf(asBytes("wrapped")));

  const Bytes mixed = opensslOaepEncrypt("SHA256", "SHA1", asBytes("wrapped"));
  CHECK(rsaOaepDecrypt(rsaKey(), HashAlg::Sha256, mixed).status().code() == StatusCode::DataLoss);
}

TEST_CASE("RSA-OAEP rejects SHA-512 and non-RSA keys with InvalidArgument") {
  CHECK(rsaOaepEncrypt(rsaKey().publicKey(), HashAlg::Sha512, asBytes("k")).status().code() ==
        StatusCode::InvalidArgument);
  CHECK(rsaOaepDecrypt(rsaKey(), HashAlg::Sha512, Bytes(256)).status().code() ==
        StatusCode::InvalidArgument);

  auto ec = PrivateKey::generateEc(Curve::P256);
  REQUIRE(ec.ok());
  auto encrypted = rsaOaepEncrypt(ec->publicKey(), HashAlg::Sha256, asBytes("k"));
  REQUIRE_FALSE(encrypted.ok());
  CHECK(encrypted.status().code() == StatusCode::InvalidArgument);
  CHECK(rsaOaepDecrypt(*ec, HashAlg::Sha256, Bytes(256)).status().code() ==
        StatusCode::InvalidArgument);
}

}  // namespace
}  // namespace skr::crypto
