#include "common/crypto/signature.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cctype>
#include <string>
#include <string_view>

#include "tests/unit/crypto/hex_vectors.h"

namespace skr::crypto {
namespace {

using namespace skr::crypto::testing;  // hex, toHex, secretHex

// Key generation is slow: one key per type/curve for the whole file.
const PrivateKey& rsaKey() {
  static const PrivateKey key = PrivateKey::generateRsa(2048).value();
  return key;
}

const PrivateKey& ecKey(Curve curve) {
  static const PrivateKey p256 = PrivateKey::generateEc(Curve::P256).value();
  static const PrivateKey p384 = PrivateKey::generateEc(Curve::P384).value();
  static const PrivateKey p521 = PrivateKey::generateEc(Curve::P521).value();
  return curve == Curve::P256 ? p256 : curve == Curve::P384 ? p384 : p521;
}

struct SchemeCase {
  SignatureScheme scheme;
  const char* name;
  const PrivateKey& (*key)();
};

const SchemeCase kAllSchemes[] = {
    {SignatureScheme::RsaPkcs1Sha256, "RS256", []() -> const PrivateKey& { return rsaKey(); }},
    {SignatureScheme::RsaPkcs1Sha384, "RS384", []() -> const PrivateKey& { return rsaKey(); }},
    {SignatureScheme::RsaPkcs1Sha512, "RS512", []() -> const PrivateKey& { return rsaKey(); }},
    {SignatureScheme::RsaPssSha256, "PS256", []() -> const PrivateKey& { return rsaKey(); }},
    {SignatureScheme::RsaPssSha384, "PS384", []() -> const PrivateKey& { return rsaKey(); }},
    {SignatureScheme::RsaPssSha512, "PS512", []() -> const PrivateKey& { return rsaKey(); }},
    {SignatureScheme::EcdsaSha256, "ES256",
     []() -> const PrivateKey& { return ecKey(Curve::P256); }},
    {SignatureScheme::EcdsaSha384, "ES384",
     []() -> const PrivateKey& { return ecKey(Curve::P384); }},
    {SignatureScheme::EcdsaSha512, "ES512",
     []() -> const PrivateKey& { return ecKey(Curve::P521); }},
};

const Bytes& message() {
  static const Bytes kMessage = toBytes("attestation report bytes");
  return kMessage;
}

Bytes signOk(const PrivateKey& key, SignatureScheme scheme, ByteView data) {
  auto signature = sign(key, scheme, data);
  REQUIRE(signature.ok());
  return std::move(signature).value();
}

// RFC 6979 A.2.5 (P-256): public key and the SHA-256 signatures of "sample" and "test".
constexpr std::string_view kRfc6979Ux =
    "60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6";
constexpr std::string_view kRfc6979Uy =
    "7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299";
constexpr std::string_view kSampleR =
    "EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716";
constexpr std::string_view kSampleS =
    "F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8";
constexpr std::string_view kTestR =
    "F1ABB023518351CD71D881567B1EA663ED3EFCF6C5132B354F28D3B0B7D38367";
constexpr std::string_view kTestS =
    "019F4113742A2B14BD25926B49C649155F267E60D3814B4C0CC84250E46F0083";

PublicKey rfc6979Key() {
  return PublicKey::fromEcPoint(Curve::P256, hex(kRfc6979Ux), hex(kRfc6979Uy)).value();
}

Bytes concat(ByteView a, ByteView b) {
  Bytes out(a.begin(), a.end());
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

// Big-endian field element -> 72-byte little-endian SEV-SNP component (spec §6.3).
Bytes toSnpLittleEndian(ByteView big_endian) {
  Bytes out(big_endian.rbegin(), big_endian.rend());
  out.resize(72, 0x00);
  return out;
}

TEST_CASE("schemes map to their hash and key type") {
  CHECK(schemeHash(SignatureScheme::RsaPkcs1Sha256) == HashAlg::Sha256);
  CHECK(schemeHash(SignatureScheme::RsaPssSha384) == HashAlg::Sha384);
  CHECK(schemeHash(SignatureScheme::EcdsaSha512) == HashAlg::Sha512);
  CHECK(schemeKeyType(SignatureScheme::RsaPssSha512) == KeyType::Rsa);
  CHECK(schemeKeyType(SignatureScheme::RsaPkcs1Sha384) == KeyType::Rsa);
  CHECK(schemeKeyType(SignatureScheme::EcdsaSha256) == KeyType::Ec);
}

TEST_CASE("every scheme signs and verifies, and rejects a flipped byte with DataLoss") {
  for (const SchemeCase& c : kAllSchemes) {
    SECTION(c.name) {
      const PrivateKey& key = c.key();
      const PublicKey pub = key.publicKey();
      const Bytes signature = signOk(key, c.scheme, message());
      if (schemeKeyType(c.scheme) == KeyType::Rsa) {
        CHECK(signature.size() == 256);
      } else {
        CHECK(signature[0] == 0x30);  // DER SEQUENCE
      }
      CHECK(verify(pub, c.scheme, message(), signature).ok());

      Bytes bad_signature = signature;
      bad_signature.back() ^= 0x01;  // inside s (ECDSA) or the RSA signature value
      const Status bad = verify(pub, c.scheme, message(), bad_signature);
      CHECK(bad.code() == StatusCode::DataLoss);
      CHECK(bad.message().find("signature does not verify") != std::string::npos);
      CHECK(ERR_peek_error() == 0);

      Bytes bad_message = message();
      bad_message[0] ^= 0x20;
      CHECK(verify(pub, c.scheme, bad_message, signature).code() == StatusCode::DataLoss);
    }
  }
}

TEST_CASE("PKCS#1 v1.5 signatures are deterministic, PSS and ECDSA ones are randomized") {
  CHECK(signOk(rsaKey(), SignatureScheme::RsaPkcs1Sha256, message()) ==
        signOk(rsaKey(), SignatureScheme::RsaPkcs1Sha256, message()));
  CHECK(signOk(rsaKey(), SignatureScheme::RsaPssSha256, message()) !=
        signOk(rsaKey(), SignatureScheme::RsaPssSha256, message()));
  CHECK(signOk(ecKey(Curve::P256), SignatureScheme::EcdsaSha256, message()) !=
        signOk(ecKey(Curve::P256), SignatureScheme::EcdsaSha256, message()));
}

TEST_CASE("a signature does not verify under another scheme or hash") {
  const PublicKey pub = rsaKey().publicKey();
  const Bytes pkcs1 = signOk(rsaKey(), SignatureScheme::RsaPkcs1Sha256, message());
  CHECK(verify(pub, SignatureScheme::RsaPssSha256, message(), pkcs1).code() ==
        StatusCode::DataLoss);
  CHECK(verify(pub, SignatureScheme::RsaPkcs1Sha384, message(), pkcs1).code() ==
        StatusCode::DataLoss);
  const Bytes es = signOk(ecKey(Curve::P384), SignatureScheme::EcdsaSha384, message());
  CHECK(
      verify(ecKey(Curve::P384).publicKey(), SignatureScheme::EcdsaSha256, message(), es).code() ==
      StatusCode::DataLoss);
}

TEST_CASE("a key of the wrong type for the scheme is InvalidArgument") {
  auto rsa_ecdsa = sign(rsaKey(), SignatureScheme::EcdsaSha256, message());
  REQUIRE_FALSE(rsa_ecdsa.ok());
  CHECK(rsa_ecdsa.status().code() == StatusCode::InvalidArgument);
  CHECK(rsa_ecdsa.status().message() == "ECDSA-SHA-256 needs an EC key, got an RSA key");

  const Bytes es = signOk(ecKey(Curve::P256), SignatureScheme::EcdsaSha256, message());
  CHECK(verify(rsaKey().publicKey(), SignatureScheme::EcdsaSha256, message(), es).code() ==
        StatusCode::InvalidArgument);
  CHECK(sign(ecKey(Curve::P256), SignatureScheme::RsaPssSha256, message()).status().code() ==
        StatusCode::InvalidArgument);
  CHECK(
      verify(ecKey(Curve::P256).publicKey(), SignatureScheme::RsaPkcs1Sha256, message(), Bytes(256))
          .code() == StatusCode::InvalidArgument);
}

TEST_CASE("malformed signatures are InvalidArgument") {
  const PublicKey ec = ecKey(Curve::P256).publicKey();
  const Bytes der = signOk(ecKey(Curve::P256), SignatureScheme::EcdsaSha256, message());
  SECTION("not DER at all") {
    CHECK(verify(ec, SignatureScheme::EcdsaSha256, message(), asBytes("garbage")).code() ==
          StatusCode::InvalidArgument);
    CHECK(verify(ec, SignatureScheme::EcdsaSha256, message(), {}).code() ==
          StatusCode::InvalidArgument);
  }
  SECTION("a raw JOSE r || s instead of DER") {
    CHECK(verify(ec, SignatureScheme::EcdsaSha256, message(), Bytes(64, 0x11)).code() ==
          StatusCode::InvalidArgument);
  }
  SECTION("trailing bytes after the DER") {
    Bytes trailing = der;
    trailing.push_back(0x00);
    CHECK(verify(ec, SignatureScheme::EcdsaSha256, message(), trailing).code() ==
          StatusCode::InvalidArgument);
  }
  SECTION("non-canonical DER (an extra leading zero in r)") {
    auto jose = ecdsaJoseFromDer(Curve::P256, der);
    REQUIRE(jose.ok());
    const ByteView r = ByteView(*jose).first(32);
    const ByteView s = ByteView(*jose).last(32);
    // Tag-length-value with a short-form length (all lengths here are < 128).
    auto tlv = [](uint8_t tag, ByteView value) {
      Bytes header;
      header.push_back(tag);
      header.push_back(static_cast<uint8_t>(value.size()));
      return concat(header, value);
    };
    auto integer = [&](ByteView v, bool extra_zero) {
      Bytes prefix;
      if (extra_zero) prefix.push_back(0x00);
      if (v[0] & 0x80) prefix.push_back(0x00);
      return tlv(0x02, concat(prefix, v));
    };
    const Bytes padded = tlv(0x30, concat(integer(r, true), integer(s, false)));
    CHECK(verify(ec, SignatureScheme::EcdsaSha256, message(), padded).code() ==
          StatusCode::InvalidArgument);
  }
  SECTION("an RSA signature of the wrong length") {
    const Bytes rs = signOk(rsaKey(), SignatureScheme::RsaPkcs1Sha256, message());
    const Status status = verify(rsaKey().publicKey(), SignatureScheme::RsaPkcs1Sha256, message(),
                                 ByteView(rs).first(255));
    CHECK(status.code() == StatusCode::InvalidArgument);
    CHECK(status.message() ==
          "RSA-PKCS1-SHA-256 signature is 255 bytes, expected 256 (the modulus size)");
  }
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("RSA-PSS uses a salt as long as the digest and MGF1 with the same hash") {
  const PublicKey pub = rsaKey().publicKey();
  // Signs with OpenSSL directly, choosing salt length and MGF1 hash.
  auto opensslPss = [](int salt_len, const char* mgf1) {
    SslPtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
    EVP_PKEY_CTX* pctx = nullptr;
    REQUIRE(EVP_DigestSignInit_ex(ctx.get(), &pctx, "SHA256", nullptr, nullptr, rsaKey().evp(),
                                  nullptr) == 1);
    REQUIRE(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1);
    REQUIRE(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, salt_len) == 1);
    REQUIRE(EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, mgf1, nullptr) == 1);
    Bytes signature(256);
    std::size_t len = signature.size();
    REQUIRE(EVP_DigestSign(ctx.get(), signature.data(), &len, message().data(), message().size()) ==
            1);
    return signature;
  };
  CHECK(verify(pub, SignatureScheme::RsaPssSha256, message(), opensslPss(32, "SHA256")).ok());
  CHECK(verify(pub, SignatureScheme::RsaPssSha256, message(), opensslPss(20, "SHA256")).code() ==
        StatusCode::DataLoss);
  CHECK(verify(pub, SignatureScheme::RsaPssSha256, message(), opensslPss(32, "SHA1")).code() ==
        StatusCode::DataLoss);
}

TEST_CASE("an RSA-PSS-restricted public key (as in AMD's ARK/ASK certificates) verifies PSS only") {
  // An id-RSASSA-PSS key restricted to SHA-384, MGF1-SHA-384 and a 48-byte salt, like AMD's.
  SslPtr<EVP_PKEY_CTX> gen(EVP_PKEY_CTX_new_from_name(nullptr, "RSA-PSS", nullptr));
  REQUIRE(gen);
  REQUIRE(EVP_PKEY_keygen_init(gen.get()) == 1);
  REQUIRE(EVP_PKEY_CTX_set_rsa_keygen_bits(gen.get(), 2048) == 1);
  REQUIRE(EVP_PKEY_CTX_set_rsa_pss_keygen_md_name(gen.get(), "SHA384", nullptr) == 1);
  REQUIRE(EVP_PKEY_CTX_set_rsa_pss_keygen_mgf1_md_name(gen.get(), "SHA384") == 1);
  REQUIRE(EVP_PKEY_CTX_set_rsa_pss_keygen_saltlen(gen.get(), 48) == 1);
  EVP_PKEY* generated = nullptr;
  REQUIRE(EVP_PKEY_generate(gen.get(), &generated) == 1);
  SslPtr<EVP_PKEY> pss_key(generated);
  // Signature as AMD makes them: RSASSA-PSS, SHA-384, MGF1-SHA-384, 48-byte salt.
  SslPtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  REQUIRE(EVP_DigestSignInit_ex(ctx.get(), &pctx, "SHA384", nullptr, nullptr, pss_key.get(),
                                nullptr) == 1);
  REQUIRE(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 48) == 1);
  REQUIRE(EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, "SHA384", nullptr) == 1);
  Bytes signature(256);
  std::size_t len = signature.size();
  REQUIRE(EVP_DigestSign(ctx.get(), signature.data(), &len, message().data(), message().size()) ==
          1);

  const int spki_len = i2d_PUBKEY(pss_key.get(), nullptr);
  Bytes spki(static_cast<std::size_t>(spki_len));
  unsigned char* p = spki.data();
  REQUIRE(i2d_PUBKEY(pss_key.get(), &p) == spki_len);
  auto pub = PublicKey::fromSpkiDer(spki);
  REQUIRE(pub.ok());
  CHECK(pub->type() == KeyType::Rsa);
  CHECK(verify(*pub, SignatureScheme::RsaPssSha384, message(), signature).ok());
  CHECK(verify(*pub, SignatureScheme::RsaPkcs1Sha384, message(), signature).code() ==
        StatusCode::InvalidArgument);
}

TEST_CASE("the RFC 6979 A.2.5 P-256/SHA-256 signatures verify through ecdsaDerFromJose") {
  const PublicKey key = rfc6979Key();
  SECTION("message \"sample\": r and s both need a 0x00 sign byte in DER") {
    auto der = ecdsaDerFromJose(Curve::P256, concat(hex(kSampleR), hex(kSampleS)));
    REQUIRE(der.ok());
    CHECK(toHex(*der) == toHex(concat(concat(hex("3046 022100"), hex(kSampleR)),
                                      concat(hex("022100"), hex(kSampleS)))));
    CHECK(verify(key, SignatureScheme::EcdsaSha256, asBytes("sample"), *der).ok());
    CHECK(verify(key, SignatureScheme::EcdsaSha256, asBytes("samplE"), *der).code() ==
          StatusCode::DataLoss);
    CHECK(toHex(ecdsaJoseFromDer(Curve::P256, *der).value()) ==
          toHex(concat(hex(kSampleR), hex(kSampleS))));
  }
  SECTION("message \"test\": s starts with 0x01 and needs no sign byte") {
    auto der = ecdsaDerFromJose(Curve::P256, concat(hex(kTestR), hex(kTestS)));
    REQUIRE(der.ok());
    CHECK(toHex(*der) ==
          toHex(concat(concat(hex("3045 022100"), hex(kTestR)), concat(hex("0220"), hex(kTestS)))));
    CHECK(verify(key, SignatureScheme::EcdsaSha256, asBytes("test"), *der).ok());
    CHECK(verify(key, SignatureScheme::EcdsaSha256, asBytes("sample"), *der).code() ==
          StatusCode::DataLoss);
  }
}

TEST_CASE("JOSE <-> DER conversion strips and restores leading zeros") {
  Bytes jose(64, 0x00);
  // r = 00 00 01 02 ... (30 significant bytes); s = 0x80 followed by 31 bytes of 0x11.
  for (std::size_t i = 2; i < 32; ++i) jose[i] = static_cast<uint8_t>(i - 1);
  jose[32] = 0x80;
  std::fill(jose.begin() + 33, jose.end(), 0x11);
  auto der = ecdsaDerFromJose(Curve::P256, jose);
  REQUIRE(der.ok());
  // SEQUENCE { INTEGER (30 bytes), INTEGER (0x00 + 32 bytes) }.
  REQUIRE(der->size() == 2 + 2 + 30 + 2 + 33);
  CHECK(toHex(ByteView(*der).first(5)) == "3043021e01");
  CHECK((*der)[34] == 0x02);
  CHECK((*der)[35] == 33);
  CHECK((*der)[36] == 0x00);
  auto back = ecdsaJoseFromDer(Curve::P256, *der);
  REQUIRE(back.ok());
  CHECK(*back == jose);

  // r = 0 and s = 1 encode as one-byte integers.
  Bytes tiny(64, 0x00);
  tiny[63] = 0x01;
  auto tiny_der = ecdsaDerFromJose(Curve::P256, tiny);
  REQUIRE(tiny_der.ok());
  CHECK(toHex(*tiny_der) == "3006020100020101");
  CHECK(ecdsaJoseFromDer(Curve::P256, *tiny_der).value() == tiny);
}

TEST_CASE("JOSE <-> DER conversion round-trips real signatures on every curve") {
  const struct {
    Curve curve;
    SignatureScheme scheme;
  } cases[] = {{Curve::P256, SignatureScheme::EcdsaSha256},
               {Curve::P384, SignatureScheme::EcdsaSha384},
               {Curve::P521, SignatureScheme::EcdsaSha512}};
  for (const auto& c : cases) {
    INFO(curveName(c.curve));
    const Bytes der = signOk(ecKey(c.curve), c.scheme, message());
    auto jose = ecdsaJoseFromDer(c.curve, der);
    REQUIRE(jose.ok());
    CHECK(jose->size() == 2 * curveFieldSize(c.curve));
    auto der_again = ecdsaDerFromJose(c.curve, *jose);
    REQUIRE(der_again.ok());
    CHECK(*der_again == der);
  }
}

TEST_CASE("JOSE <-> DER conversion rejects wrong lengths and oversized integers") {
  auto short_jose = ecdsaDerFromJose(Curve::P256, Bytes(63));
  REQUIRE_FALSE(short_jose.ok());
  CHECK(short_jose.status().code() == StatusCode::InvalidArgument);
  CHECK(short_jose.status().message() ==
        "JOSE ECDSA signature for P-256 is 63 bytes, expected 64 (r || s)");
  CHECK(ecdsaDerFromJose(Curve::P384, Bytes(64)).status().code() == StatusCode::InvalidArgument);
  CHECK(ecdsaDerFromJose(Curve::P521, Bytes(128)).status().code() == StatusCode::InvalidArgument);
  CHECK(ecdsaDerFromJose(Curve::P521, Bytes(132)).ok());

  // A P-384 signature's integers do not fit P-256's 32 bytes (unless both happen to be short).
  Bytes big(96, 0xff);
  auto der384 = ecdsaDerFromJose(Curve::P384, big);
  REQUIRE(der384.ok());
  CHECK(ecdsaJoseFromDer(Curve::P256, *der384).status().code() == StatusCode::InvalidArgument);
  CHECK(ecdsaJoseFromDer(Curve::P256, asBytes("not der")).status().code() ==
        StatusCode::InvalidArgument);
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("ecdsaDerFromSnp converts 72-byte little-endian r and s into a verifying signature") {
  // Produce a P-384/SHA-384 signature, present it as a SEV-SNP report would (spec §6.3).
  const PrivateKey& vcek = ecKey(Curve::P384);
  const Bytes report_body = Bytes(672, 0xa5);
  const Bytes der = signOk(vcek, SignatureScheme::EcdsaSha384, report_body);
  auto jose = ecdsaJoseFromDer(Curve::P384, der);
  REQUIRE(jose.ok());
  const Bytes r_le = toSnpLittleEndian(ByteView(*jose).first(48));
  const Bytes s_le = toSnpLittleEndian(ByteView(*jose).last(48));

  auto converted = ecdsaDerFromSnp(r_le, s_le);
  REQUIRE(converted.ok());
  CHECK(*converted == der);
  CHECK(verify(vcek.publicKey(), SignatureScheme::EcdsaSha384, report_body, *converted).ok());

  // Reading the components as big-endian (the classic mistake) does not verify.
  Bytes flipped_r = r_le;
  flipped_r[0] ^= 0x01;
  auto corrupted = ecdsaDerFromSnp(flipped_r, s_le);
  REQUIRE(corrupted.ok());
  CHECK(verify(vcek.publicKey(), SignatureScheme::EcdsaSha384, report_body, *corrupted).code() ==
        StatusCode::DataLoss);
}

TEST_CASE("ecdsaDerFromSnp encodes little-endian components with known bytes") {
  Bytes r(72, 0x00), s(72, 0x00);
  r[0] = 0x01;  // r = 1
  s[0] = 0x02;  // s = 0x0102 (little-endian 02 01)
  s[1] = 0x01;
  auto der = ecdsaDerFromSnp(r, s);
  REQUIRE(der.ok());
  CHECK(toHex(*der) ==
        "30070201010202"
        "0102");
}

TEST_CASE("ecdsaDerFromSnp rejects components that are not 72 bytes") {
  auto short_r = ecdsaDerFromSnp(Bytes(71), Bytes(72));
  REQUIRE_FALSE(short_r.ok());
  CHECK(short_r.status().code() == StatusCode::InvalidArgument);
  CHECK(short_r.status().message() ==
        "SEV-SNP signature: r is 71 bytes and s is 72 bytes, expected 72 each (little-endian)");
  CHECK(ecdsaDerFromSnp(Bytes(72), Bytes(73)).status().code() == StatusCode::InvalidArgument);
  CHECK(ecdsaDerFromSnp(Bytes(48), Bytes(48)).status().code() == StatusCode::InvalidArgument);
}

}  // namespace
}  // namespace skr::crypto
