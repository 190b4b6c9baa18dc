#include "common/crypto/pkey.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <catch2/catch.hpp>
#include <cctype>
#include <string>
#include <string_view>

#include "tests/unit/crypto/hex_vectors.h"

namespace skr::crypto {
namespace {

using namespace skr::crypto::testing;  // hex, toHex, secretHex

// Key generation is slow: one key per size/curve for the whole binary.
const PrivateKey& rsa2048() {
  static const PrivateKey key = PrivateKey::generateRsa(2048).value();
  return key;
}

const PrivateKey& ecKey(Curve curve) {
  static const PrivateKey p256 = PrivateKey::generateEc(Curve::P256).value();
  static const PrivateKey p384 = PrivateKey::generateEc(Curve::P384).value();
  static const PrivateKey p521 = PrivateKey::generateEc(Curve::P521).value();
  switch (curve) {
    case Curve::P256: return p256;
    case Curve::P384: return p384;
    case Curve::P521: return p521;
  }
  FAIL("unknown curve");
  return p256;
}

// RFC 6979 A.2.5: the P-256 key pair (private x, public Ux, Uy).
constexpr std::string_view kRfc6979D =
    "C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721";
constexpr std::string_view kRfc6979Ux =
    "60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6";
constexpr std::string_view kRfc6979Uy =
    "7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299";

// Expected failures must leave nothing on OpenSSL's error queue for later, unrelated calls.
void checkErrorQueueEmpty() {
  CHECK(ERR_peek_error() == 0);
}

void checkInvalidArgument(const Status& status) {
  CHECK(status.code() == StatusCode::InvalidArgument);
  checkErrorQueueEmpty();
}

// Serializes with OpenSSL directly, for formats skr only reads (traditional and encrypted PEM).
std::string opensslPem(EVP_PKEY* pkey, bool traditional, const char* passphrase = nullptr) {
  SslPtr<BIO> bio(BIO_new(BIO_s_mem()));
  REQUIRE(bio);
  int ok = 0;
  if (traditional) {
    ok = PEM_write_bio_PrivateKey_traditional(bio.get(), pkey, nullptr, nullptr, 0, nullptr,
                                              nullptr);
  } else {
    ok = PEM_write_bio_PKCS8PrivateKey(bio.get(), pkey, EVP_aes_256_cbc(), passphrase,
                                       static_cast<int>(std::string_view(passphrase).size()),
                                       nullptr, nullptr);
  }
  REQUIRE(ok == 1);
  char* data = nullptr;
  const long len = BIO_ctrl(bio.get(), BIO_CTRL_INFO, 0, &data);
  return std::string(data, static_cast<std::size_t>(len));
}

std::string secretToString(const SecretBytes& secret) {
  return toString(secret.view(grantSecretAccess()));
}

TEST_CASE("curve names, sizes and lookups follow JOSE") {
  CHECK(std::string(curveName(Curve::P256)) == "P-256");
  CHECK(std::string(curveName(Curve::P384)) == "P-384");
  CHECK(std::string(curveName(Curve::P521)) == "P-521");
  CHECK(curveFieldSize(Curve::P256) == 32);
  CHECK(curveFieldSize(Curve::P384) == 48);
  CHECK(curveFieldSize(Curve::P521) == 66);
  CHECK(curveFromName("P-384").value() == Curve::P384);
  auto unknown = curveFromName("secp256k1");
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.status().code() == StatusCode::InvalidArgument);
  CHECK(unknown.status().message().find("secp256k1") != std::string::npos);
}

TEST_CASE("generateRsa makes a 2048-bit RSA key with e = 65537") {
  const PrivateKey& key = rsa2048();
  CHECK(key.type() == KeyType::Rsa);
  CHECK(key.bits() == 2048);
  CHECK(key.curve().status().code() == StatusCode::InvalidArgument);
  auto components = key.publicKey().rsaComponents();
  REQUIRE(components.ok());
  CHECK(toHex(components->e) == "010001");
  REQUIRE(components->n.size() == 256);
  CHECK((components->n[0] & 0x80) != 0);
  CHECK((components->n[255] & 0x01) != 0);
}

TEST_CASE("generateRsa makes a 3072-bit key") {
  auto key = PrivateKey::generateRsa(3072);
  REQUIRE(key.ok());
  CHECK(key->bits() == 3072);
  CHECK(key->publicKey().bits() == 3072);
}

TEST_CASE("generateRsa makes a 4096-bit key") {
  auto key = PrivateKey::generateRsa(4096);
  REQUIRE(key.ok());
  CHECK(key->bits() == 4096);
  CHECK(key->publicKey().rsaComponents()->n.size() == 512);
}

TEST_CASE("generateRsa rejects sizes other than 2048, 3072 and 4096") {
  for (int bits : {0, 512, 1024, 2047, 2049, 8192}) {
    auto key = PrivateKey::generateRsa(bits);
    INFO("bits " << bits);
    REQUIRE_FALSE(key.ok());
    CHECK(key.status().code() == StatusCode::InvalidArgument);
    CHECK(key.status().message().find(std::to_string(bits)) != std::string::npos);
  }
}

TEST_CASE("generateEc makes keys on P-256, P-384 and P-521") {
  const struct {
    Curve curve;
    int bits;
    std::size_t field;
  } cases[] = {{Curve::P256, 256, 32}, {Curve::P384, 384, 48}, {Curve::P521, 521, 66}};
  for (const auto& c : cases) {
    const PrivateKey& key = ecKey(c.curve);
    INFO(curveName(c.curve));
    CHECK(key.type() == KeyType::Ec);
    CHECK(key.bits() == c.bits);
    CHECK(key.curve().value() == c.curve);
    const PublicKey pub = key.publicKey();
    CHECK(pub.type() == KeyType::Ec);
    CHECK(pub.curve().value() == c.curve);
    auto point = pub.ecPoint();
    REQUIRE(point.ok());
    CHECK(point->curve == c.curve);
    CHECK(point->x.size() == c.field);
    CHECK(point->y.size() == c.field);
    auto scalar = key.ecPrivateScalar();
    REQUIRE(scalar.ok());
    CHECK(scalar->size() == c.field);
    CHECK(pub.rsaComponents().status().code() == StatusCode::InvalidArgument);
    CHECK(key.rsaPrivateComponents().status().code() == StatusCode::InvalidArgument);
  }
}

TEST_CASE("RSA private key round-trips through PKCS#8 DER") {
  const SecretBytes der = rsa2048().toPkcs8Der();
  REQUIRE(der.size() > 1000);
  CHECK(der.view(grantSecretAccess())[0] == 0x30);  // SEQUENCE
  auto parsed = PrivateKey::fromPkcs8Der(der);
  REQUIRE(parsed.ok());
  CHECK(parsed->type() == KeyType::Rsa);
  CHECK(parsed->toPkcs8Der() == der);
  CHECK(parsed->publicKey().equals(rsa2048().publicKey()));
}

TEST_CASE("RSA private key round-trips through PKCS#8 PEM") {
  const SecretBytes pem = rsa2048().toPkcs8Pem();
  const std::string text = secretToString(pem);
  CHECK(text.rfind("-----BEGIN PRIVATE KEY-----\n", 0) == 0);
  CHECK(text.find("-----END PRIVATE KEY-----") != std::string::npos);
  auto parsed = PrivateKey::fromPem(pem);
  REQUIRE(parsed.ok());
  CHECK(parsed->toPkcs8Der() == rsa2048().toPkcs8Der());
}

TEST_CASE("EC private keys round-trip through PKCS#8 DER and PEM") {
  for (Curve curve : {Curve::P256, Curve::P384, Curve::P521}) {
    INFO(curveName(curve));
    const PrivateKey& key = ecKey(curve);
    auto from_der = PrivateKey::fromPkcs8Der(key.toPkcs8Der());
    REQUIRE(from_der.ok());
    CHECK(from_der->curve().value() == curve);
    CHECK(from_der->ecPrivateScalar().value() == key.ecPrivateScalar().value());
    auto from_pem = PrivateKey::fromPem(key.toPkcs8Pem());
    REQUIRE(from_pem.ok());
    CHECK(from_pem->toPkcs8Der() == key.toPkcs8Der());
  }
}

TEST_CASE("PrivateKey::fromPem accepts traditional RSA PRIVATE KEY and EC PRIVATE KEY blocks") {
  const std::string rsa_pem = opensslPem(rsa2048().evp(), /*traditional=*/true);
  CHECK(rsa_pem.rfind("-----BEGIN RSA PRIVATE KEY-----", 0) == 0);
  auto rsa = PrivateKey::fromPem(SecretBytes::copyOf(asBytes(rsa_pem)));
  REQUIRE(rsa.ok());
  CHECK(rsa->toPkcs8Der() == rsa2048().toPkcs8Der());

  const std::string ec_pem = opensslPem(ecKey(Curve::P384).evp(), /*traditional=*/true);
  CHECK(ec_pem.rfind("-----BEGIN EC PRIVATE KEY-----", 0) == 0);
  auto ec = PrivateKey::fromPem(SecretBytes::copyOf(asBytes(ec_pem)));
  REQUIRE(ec.ok());
  CHECK(ec->ecPrivateScalar().value() == ecKey(Curve::P384).ecPrivateScalar().value());
}

TEST_CASE("PrivateKey::fromPem rejects an encrypted key without prompting for a passphrase") {
  const std::string pem = opensslPem(ecKey(Curve::P256).evp(), /*traditional=*/false, "secret");
  CHECK(pem.rfind("-----BEGIN ENCRYPTED PRIVATE KEY-----", 0) == 0);
  auto key = PrivateKey::fromPem(SecretBytes::copyOf(asBytes(pem)));
  REQUIRE_FALSE(key.ok());
  checkInvalidArgument(key.status());
}

TEST_CASE("PrivateKey::fromPem rejects public keys and garbage") {
  const std::string public_pem = rsa2048().publicKey().toPem();
  checkInvalidArgument(PrivateKey::fromPem(SecretBytes::copyOf(asBytes(public_pem))).status());
  checkInvalidArgument(PrivateKey::fromPem(SecretBytes::copyOf(asBytes("not a key"))).status());
  checkInvalidArgument(PrivateKey::fromPem(SecretBytes()).status());
}

TEST_CASE("public keys round-trip through SPKI DER and PEM") {
  for (const PrivateKey* key : {&rsa2048(), &ecKey(Curve::P256), &ecKey(Curve::P521)}) {
    const PublicKey pub = key->publicKey();
    const Bytes der = pub.toSpkiDer();
    auto from_der = PublicKey::fromSpkiDer(der);
    REQUIRE(from_der.ok());
    CHECK(from_der->type() == key->type());
    CHECK(from_der->toSpkiDer() == der);
    CHECK(from_der->equals(pub));

    const std::string pem = pub.toPem();
    CHECK(pem.rfind("-----BEGIN PUBLIC KEY-----\n", 0) == 0);
    auto from_pem = PublicKey::fromPem(pem);
    REQUIRE(from_pem.ok());
    CHECK(from_pem->toSpkiDer() == der);
  }
}

TEST_CASE("corrupted or truncated DER is rejected with InvalidArgument") {
  const Bytes spki = rsa2048().publicKey().toSpkiDer();
  SECTION("truncated SPKI") {
    checkInvalidArgument(PublicKey::fromSpkiDer(ByteView(spki).first(spki.size() - 1)).status());
  }
  SECTION("SPKI with a wrong outer tag") {
    Bytes bad = spki;
    bad[0] = 0x31;
    checkInvalidArgument(PublicKey::fromSpkiDer(bad).status());
  }
  SECTION("SPKI with trailing bytes") {
    Bytes bad = spki;
    bad.push_back(0x00);
    auto key = PublicKey::fromSpkiDer(bad);
    checkInvalidArgument(key.status());
    CHECK(key.status().message().find("1 trailing bytes") != std::string::npos);
  }
  SECTION("empty SPKI") {
    checkInvalidArgument(PublicKey::fromSpkiDer({}).status());
  }
  SECTION("PKCS#8 truncated, retagged or with trailing bytes") {
    const SecretBytes secret_der = rsa2048().toPkcs8Der();
    const ByteView der_view = secret_der.view(grantSecretAccess());
    const Bytes der(der_view.begin(), der_view.end());
    checkInvalidArgument(
        PrivateKey::fromPkcs8Der(SecretBytes::copyOf(ByteView(der).first(der.size() - 10)))
            .status());
    Bytes retagged = der;
    retagged[0] = 0x04;
    checkInvalidArgument(PrivateKey::fromPkcs8Der(SecretBytes::copyOf(retagged)).status());
    Bytes trailing = der;
    trailing.push_back(0x00);
    checkInvalidArgument(PrivateKey::fromPkcs8Der(SecretBytes::copyOf(trailing)).status());
  }
  SECTION("an SPKI is not a PKCS#8 private key") {
    checkInvalidArgument(PrivateKey::fromPkcs8Der(SecretBytes::copyOf(spki)).status());
  }
  SECTION("PEM with the wrong label") {
    checkInvalidArgument(
        PublicKey::fromPem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
            .status());
  }
}

TEST_CASE("RSA public components round-trip") {
  const PublicKey pub = rsa2048().publicKey();
  auto components = pub.rsaComponents();
  REQUIRE(components.ok());
  auto rebuilt = PublicKey::fromRsaComponents(components->n, components->e);
  REQUIRE(rebuilt.ok());
  CHECK(rebuilt->equals(pub));
  CHECK(rebuilt->toSpkiDer() == pub.toSpkiDer());
  CHECK(rebuilt->bits() == 2048);

  // A leading zero byte (as some JWK encoders emit) denotes the same modulus.
  Bytes padded_n = components->n;
  padded_n.insert(padded_n.begin(), 0x00);
  auto padded = PublicKey::fromRsaComponents(padded_n, components->e);
  REQUIRE(padded.ok());
  CHECK(padded->equals(pub));
}

TEST_CASE("RSA private components round-trip") {
  auto pub = rsa2048().publicKey().rsaComponents();
  auto priv = rsa2048().rsaPrivateComponents();
  REQUIRE(pub.ok());
  REQUIRE(priv.ok());
  CHECK(priv->p.size() == 128);
  CHECK(priv->q.size() == 128);
  CHECK(priv->d.size() <= 256);
  auto rebuilt = PrivateKey::fromRsaComponents(*pub, *priv);
  REQUIRE(rebuilt.ok());
  CHECK(rebuilt->toPkcs8Der() == rsa2048().toPkcs8Der());
}

TEST_CASE("RSA private components that do not form a key pair are rejected") {
  auto pub = rsa2048().publicKey().rsaComponents();
  REQUIRE(pub.ok());
  SECTION("a flipped bit in d") {
    auto priv = rsa2048().rsaPrivateComponents();
    REQUIRE(priv.ok());
    priv->d.mutableView(grantSecretAccess())[10] ^= 0x01;
    checkInvalidArgument(PrivateKey::fromRsaComponents(*pub, *priv).status());
  }
  SECTION("dp and dq swapped") {
    auto priv = rsa2048().rsaPrivateComponents();
    REQUIRE(priv.ok());
    std::swap(priv->dp, priv->dq);
    checkInvalidArgument(PrivateKey::fromRsaComponents(*pub, *priv).status());
  }
  SECTION("the modulus of another key") {
    auto priv = rsa2048().rsaPrivateComponents();
    REQUIRE(priv.ok());
    RsaPublicComponents other = *pub;
    other.n[100] ^= 0x10;
    checkInvalidArgument(PrivateKey::fromRsaComponents(other, *priv).status());
  }
  SECTION("a missing component") {
    auto priv = rsa2048().rsaPrivateComponents();
    REQUIRE(priv.ok());
    priv->qi = SecretBytes();
    checkInvalidArgument(PrivateKey::fromRsaComponents(*pub, *priv).status());
  }
}

namespace {

SecretBytes bnSecret(const BIGNUM* bn) {
  SecretBytes out(static_cast<std::size_t>(BN_num_bytes(bn)));
  BN_bn2bin(bn, out.mutableView(grantSecretAccess()).data());
  return out;
}

}  // namespace

TEST_CASE("an RSA key whose p is composite is rejected although every congruence holds") {
  // p = r*s (two 512-bit primes), q prime: n = p*q, d = e^-1 mod lcm(p-1, q-1) and the CRT values
  // are all consistent as if p were prime; only the private operation round trip exposes it.
  BN_CTX* ctx = BN_CTX_new();
  BIGNUM *r = BN_new(), *s = BN_new(), *p = BN_new(), *q = BN_new(), *n = BN_new(), *e = BN_new(),
         *p1 = BN_new(), *q1 = BN_new(), *g = BN_new(), *lcm = BN_new(), *d = BN_new(),
         *dp = BN_new(), *dq = BN_new(), *qi = BN_new();
  REQUIRE(BN_set_word(e, 65537));
  do {
    REQUIRE(BN_generate_prime_ex(r, 512, 0, nullptr, nullptr, nullptr));
    REQUIRE(BN_generate_prime_ex(s, 512, 0, nullptr, nullptr, nullptr));
    REQUIRE(BN_generate_prime_ex(q, 1024, 0, nullptr, nullptr, nullptr));
    REQUIRE(BN_mul(p, r, s, ctx));
    REQUIRE(BN_mul(n, p, q, ctx));
    REQUIRE(BN_sub(p1, p, BN_value_one()));
    REQUIRE(BN_sub(q1, q, BN_value_one()));
    REQUIRE(BN_gcd(g, p1, q1, ctx));
    REQUIRE(BN_mul(lcm, p1, q1, ctx));
    REQUIRE(BN_div(lcm, nullptr, lcm, g, ctx));
  } while (BN_num_bits(n) != 2048 || BN_mod_inverse(d, e, lcm, ctx) == nullptr);
  REQUIRE(BN_mod(dp, d, p1, ctx));
  REQUIRE(BN_mod(dq, d, q1, ctx));
  REQUIRE(BN_mod_inverse(qi, q, p, ctx) != nullptr);

  RsaPublicComponents pub;
  pub.n.resize(static_cast<std::size_t>(BN_num_bytes(n)));
  BN_bn2bin(n, pub.n.data());
  pub.e = {0x01, 0x00, 0x01};
  RsaPrivateComponents priv{bnSecret(d),  bnSecret(p),  bnSecret(q),
                            bnSecret(dp), bnSecret(dq), bnSecret(qi)};
  checkInvalidArgument(PrivateKey::fromRsaComponents(pub, priv).status());
  for (BIGNUM* bn : {r, s, p, q, n, e, p1, q1, g, lcm, d, dp, dq, qi}) BN_clear_free(bn);
  BN_CTX_free(ctx);
}

TEST_CASE("RSA public keys below 1024 bits or with an even exponent are rejected") {
  const Bytes n512(64, 0xff);  // odd, 512 bits
  auto small = PublicKey::fromRsaComponents(n512, hex("010001"));
  REQUIRE_FALSE(small.ok());
  checkInvalidArgument(small.status());
  CHECK(small.status().message().find("512 bits") != std::string::npos);

  const Bytes n1024(128, 0xff);  // legacy size: accepted for verification
  auto legacy = PublicKey::fromRsaComponents(n1024, hex("010001"));
  REQUIRE(legacy.ok());
  CHECK(legacy->bits() == 1024);

  checkInvalidArgument(PublicKey::fromRsaComponents(n1024, hex("010000")).status());
  checkInvalidArgument(PublicKey::fromRsaComponents(n1024, hex("01")).status());
  checkInvalidArgument(PublicKey::fromRsaComponents({}, hex("010001")).status());
}

TEST_CASE("EC point import accepts the RFC 6979 A.2.5 public key") {
  auto pub = PublicKey::fromEcPoint(Curve::P256, hex(kRfc6979Ux), hex(kRfc6979Uy));
  REQUIRE(pub.ok());
  CHECK(pub->curve().value() == Curve::P256);
  auto point = pub->ecPoint();
  REQUIRE(point.ok());
  CHECK(toHex(point->x) == toHex(hex(kRfc6979Ux)));
  CHECK(toHex(point->y) == toHex(hex(kRfc6979Uy)));
}

TEST_CASE("EC point import rejects points not on the curve") {
  Bytes y = hex(kRfc6979Uy);
  y[31] ^= 0x01;
  auto off_curve = PublicKey::fromEcPoint(Curve::P256, hex(kRfc6979Ux), y);
  REQUIRE_FALSE(off_curve.ok());
  checkInvalidArgument(off_curve.status());
  CHECK(off_curve.status().message() ==
        "EC public key for P-256: (x, y) is not a point on the curve");

  // The point (0, 0) is not on P-384 either.
  checkInvalidArgument(PublicKey::fromEcPoint(Curve::P384, Bytes(48), Bytes(48)).status());
  // A valid P-256 point is not a P-384 point, even padded.
  Bytes x48(16, 0), y48(16, 0);
  const Bytes ux = hex(kRfc6979Ux), uy = hex(kRfc6979Uy);
  x48.insert(x48.end(), ux.begin(), ux.end());
  y48.insert(y48.end(), uy.begin(), uy.end());
  checkInvalidArgument(PublicKey::fromEcPoint(Curve::P384, x48, y48).status());
}

TEST_CASE("EC point import rejects coordinates of the wrong length") {
  const Bytes x = hex(kRfc6979Ux);
  auto short_x = PublicKey::fromEcPoint(Curve::P256, ByteView(x).first(31), hex(kRfc6979Uy));
  REQUIRE_FALSE(short_x.ok());
  checkInvalidArgument(short_x.status());
  CHECK(short_x.status().message() ==
        "EC public key for P-256: x is 31 bytes and y is 32 bytes, expected 32 each");
  checkInvalidArgument(PublicKey::fromEcPoint(Curve::P521, Bytes(65), Bytes(66)).status());
  checkInvalidArgument(PublicKey::fromEcPoint(Curve::P256, {}, {}).status());
}

TEST_CASE("EC private key import checks d against (x, y)") {
  const SecretBytes d = secretHex(kRfc6979D);
  SECTION("the RFC 6979 A.2.5 key pair is accepted") {
    auto key = PrivateKey::fromEcPrivate(Curve::P256, d, hex(kRfc6979Ux), hex(kRfc6979Uy));
    REQUIRE(key.ok());
    CHECK(key->ecPrivateScalar().value() == d);
    auto point = key->publicKey().ecPoint();
    REQUIRE(point.ok());
    CHECK(toHex(point->x) == toHex(hex(kRfc6979Ux)));
  }
  SECTION("a public point of another key is rejected") {
    auto other = ecKey(Curve::P256).publicKey().ecPoint();
    REQUIRE(other.ok());
    auto key = PrivateKey::fromEcPrivate(Curve::P256, d, other->x, other->y);
    REQUIRE_FALSE(key.ok());
    checkInvalidArgument(key.status());
    CHECK(key.status().message().find("does not match") != std::string::npos);
  }
  SECTION("d = 0 and oversized d are rejected") {
    checkInvalidArgument(
        PrivateKey::fromEcPrivate(Curve::P256, SecretBytes(32), hex(kRfc6979Ux), hex(kRfc6979Uy))
            .status());
    checkInvalidArgument(
        PrivateKey::fromEcPrivate(Curve::P256, SecretBytes(33), hex(kRfc6979Ux), hex(kRfc6979Uy))
            .status());
  }
  SECTION("an off-curve point is rejected") {
    Bytes y = hex(kRfc6979Uy);
    y[0] ^= 0x40;
    checkInvalidArgument(PrivateKey::fromEcPrivate(Curve::P256, d, hex(kRfc6979Ux), y).status());
  }
}

TEST_CASE("ecPrivateScalar left-pads to the field size and round-trips (P-521: 66 bytes)") {
  for (Curve curve : {Curve::P256, Curve::P384, Curve::P521}) {
    INFO(curveName(curve));
    const PrivateKey& key = ecKey(curve);
    auto scalar = key.ecPrivateScalar();
    REQUIRE(scalar.ok());
    REQUIRE(scalar->size() == curveFieldSize(curve));
    auto point = key.publicKey().ecPoint();
    REQUIRE(point.ok());
    auto rebuilt = PrivateKey::fromEcPrivate(curve, *scalar, point->x, point->y);
    REQUIRE(rebuilt.ok());
    CHECK(rebuilt->toPkcs8Der() == key.toPkcs8Der());
  }
  // A P-521 scalar is < 2^521: the first of its 66 bytes holds at most one bit.
  auto d521 = ecKey(Curve::P521).ecPrivateScalar();
  REQUIRE(d521.ok());
  CHECK(d521->view(grantSecretAccess())[0] <= 0x01);

  // d = 1 (public point G) comes back as 31 zero bytes then 0x01.
  const Bytes gx = hex("6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296");
  const Bytes gy = hex("4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5");
  auto one = PrivateKey::fromEcPrivate(Curve::P256, secretHex("01"), gx, gy);
  REQUIRE(one.ok());
  CHECK(one->ecPrivateScalar().value() ==
        secretHex("0000000000000000000000000000000000000000000000000000000000000001"));
}

TEST_CASE("equals distinguishes keys and key types") {
  const PublicKey rsa = rsa2048().publicKey();
  const PublicKey p256 = ecKey(Curve::P256).publicKey();
  const PublicKey p384 = ecKey(Curve::P384).publicKey();
  CHECK(rsa.equals(rsa));
  CHECK_FALSE(rsa.equals(p256));
  CHECK_FALSE(p256.equals(rsa));
  CHECK_FALSE(p256.equals(p384));
  auto rfc = PublicKey::fromEcPoint(Curve::P256, hex(kRfc6979Ux), hex(kRfc6979Uy));
  REQUIRE(rfc.ok());
  CHECK_FALSE(p256.equals(*rfc));
  checkErrorQueueEmpty();
}

TEST_CASE("fromEvp rejects a missing key and unsupported key types") {
  checkInvalidArgument(PublicKey::fromEvp(nullptr).status());

  SslPtr<EVP_PKEY> ed25519(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  REQUIRE(ed25519);
  auto key = PublicKey::fromEvp(std::move(ed25519));
  REQUIRE_FALSE(key.ok());
  checkInvalidArgument(key.status());
  CHECK(key.status().message().find("ED25519") != std::string::npos);

  SslPtr<EVP_PKEY> k256(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "secp256k1"));
  REQUIRE(k256);
  auto secp256k1 = PublicKey::fromEvp(std::move(k256));
  REQUIRE_FALSE(secp256k1.ok());
  checkInvalidArgument(secp256k1.status());
  CHECK(secp256k1.status().message().find("secp256k1") != std::string::npos);
}

}  // namespace
}  // namespace skr::crypto
