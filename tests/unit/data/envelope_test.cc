#include "common/data/envelope.h"

#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <vector>

#include "common/crypto/aes_gcm.h"
#include "common/crypto/aes_key_wrap.h"
#include "common/crypto/random.h"
#include "common/crypto/rsa_oaep.h"
#include "common/encoding/base64.h"
#include "common/jose/jwk.h"

namespace skr::data {
namespace {

constexpr const char* kKidRsa = "https://vault.example/keys/data-key/v1";
constexpr const char* kKidOct = "https://vault.example/keys/data-oct/v1";
constexpr uint64_t kSmallChunk = kMinChunkSize;  // 4096

// Holds the test keys and decrypts content keys like the agent's keyring would.
class TestKeys final : public KeyResolver {
 public:
  TestKeys()
      : rsa_(crypto::PrivateKey::generateRsa(2048).value()), oct_(crypto::randomSecret(32)) {}

  StatusOr<SecretBytes> decryptContentKey(const std::string& kid, const std::string& alg,
                                          ByteView encrypted_key) override {
    ++calls;
    if (kid == kKidRsa) {
      if (alg != "RSA-OAEP-256") return invalidArgumentError("alg does not suit an RSA key");
      return crypto::rsaOaepDecrypt(rsa_, crypto::HashAlg::Sha256, encrypted_key);
    }
    if (kid == kKidOct) {
      if (alg != "A256KW") return invalidArgumentError("alg does not suit an oct key");
      return crypto::aesKeyUnwrap(oct_, encrypted_key);
    }
    return notFoundError("no key version " + kid);
  }

  Recipient rsaRecipient() const {
    Recipient r;
    r.kid = kKidRsa;
    r.alg = "RSA-OAEP-256";
    r.rsa = std::make_shared<const crypto::PublicKey>(rsa_.publicKey());
    return r;
  }
  Recipient octRecipient() const {
    Recipient r;
    r.kid = kKidOct;
    r.alg = "A256KW";
    r.oct = std::make_shared<const SecretBytes>(oct_.clone());
    return r;
  }
  const crypto::PrivateKey& rsa() const { return rsa_; }
  const SecretBytes& oct() const { return oct_; }

  int calls = 0;

 private:
  crypto::PrivateKey rsa_;
  SecretBytes oct_;
};

TestKeys& keys() {
  static TestKeys k;  // one RSA key generation for the whole file
  return k;
}

class CollectSink final : public PlaintextSink {
 public:
  Status write(const SecretBytes& plaintext) override {
    const ByteView v = plaintext.view(grantSecretAccess());
    data.insert(data.end(), v.begin(), v.end());
    ++writes;
    return okStatus();
  }
  Bytes data;
  int writes = 0;
};

Bytes pattern(std::size_t n, uint8_t seed = 7) {
  Bytes out(n);
  uint32_t x = seed;
  for (auto& b : out) {
    x = x * 1103515245u + 12345u;
    b = static_cast<uint8_t>(x >> 16);
  }
  return out;
}

Bytes sealChunked(ByteView plaintext, const Recipient& recipient, uint64_t cs,
                  std::size_t piece = 1000) {
  Bytes out;
  auto sealer = ChunkedSealer::create(
      recipient,
      [&out](ByteView b) {
        out.insert(out.end(), b.begin(), b.end());
        return okStatus();
      },
      cs);
  REQUIRE(sealer.ok());
  while (!plaintext.empty()) {
    const std::size_t n = std::min(piece, plaintext.size());
    REQUIRE((*sealer)->write(plaintext.first(n)).ok());
    plaintext = plaintext.subspan(n);
  }
  REQUIRE((*sealer)->finish().ok());
  return out;
}

Bytes sealCompactBytes(ByteView plaintext, const Recipient& recipient) {
  auto text = sealCompact(plaintext, recipient);
  REQUIRE(text.ok());
  return toBytes(*text);
}

StatusOr<OpenedObject> openBytes(const Bytes& object, CollectSink& sink,
                                 const OpenLimits& limits = {}) {
  MemoryObjectSource source(object, "test object");
  return openObject(source, keys(), sink, limits);
}

std::size_t headerLineEnd(const Bytes& object) {
  const auto lf = std::find(object.begin(), object.end(), uint8_t{'\n'});
  REQUIRE(lf != object.end());
  return static_cast<std::size_t>(lf - object.begin()) + 1;
}

// A header line with a chosen protected header and chunk parameters JSON, sealed to the oct key.
std::string jweWith(const std::string& header_json, ByteView plaintext, const SecretBytes& cek) {
  const std::string header = encoding::base64UrlEncode(asBytes(header_json));
  const Bytes ek = crypto::aesKeyWrap(keys().oct(), cek).value();
  const auto sealed = crypto::aesGcmEncrypt(cek, plaintext, asBytes(header)).value();
  return header + "." + encoding::base64UrlEncode(ek) + "." + encoding::base64UrlEncode(sealed.iv) +
         "." + encoding::base64UrlEncode(sealed.ciphertext) + "." +
         encoding::base64UrlEncode(sealed.tag);
}

std::string octHeader(const std::string& extra = "") {
  return std::string(R"({"alg":"A256KW","enc":"A256GCM","kid":")") + kKidOct + "\"" + extra + "}";
}
std::string chunkedOctHeader() {
  return octHeader(std::string(R"(,"cty":")") + std::string(kChunkedContentType) + "\"");
}

Status openStatus(const Bytes& object) {
  CollectSink sink;
  auto opened = openBytes(object, sink);
  if (opened.ok()) return okStatus();
  return opened.status();
}

bool mentions(const Status& s, const std::string& text) {
  return s.message().find(text) != std::string::npos;
}

TEST_CASE("envelope: compact and chunked objects round-trip to both key types", "[data]") {
  const uint64_t cs = kSmallChunk;
  const std::vector<std::size_t> sizes = {0, 1, cs - 1, cs, cs + 1, 5 * cs, 5 * cs + 17};
  for (bool rsa : {true, false}) {
    const Recipient recipient = rsa ? keys().rsaRecipient() : keys().octRecipient();
    for (std::size_t n : sizes) {
      INFO("recipient " << recipient.alg << ", " << n << " bytes");
      const Bytes plaintext = pattern(n);
      {
        CollectSink sink;
        auto opened = openBytes(sealCompactBytes(plaintext, recipient), sink);
        REQUIRE(opened.ok());
        CHECK(sink.data == plaintext);
        CHECK(opened->header.form == EnvelopeForm::Compact);
        CHECK(opened->header.kid == recipient.kid);
        CHECK(opened->header.alg == recipient.alg);
        CHECK(opened->plaintext_bytes == n);
        CHECK(opened->chunks == 0);
      }
      {
        const Bytes object = sealChunked(plaintext, recipient, cs);
        CollectSink sink;
        auto opened = openBytes(object, sink);
        REQUIRE(opened.ok());
        CHECK(sink.data == plaintext);
        CHECK(opened->header.form == EnvelopeForm::Chunked);
        CHECK(opened->header.kid == recipient.kid);
        const uint64_t expected_chunks = n == 0 ? 1 : (n + cs - 1) / cs;
        CHECK(opened->chunks == expected_chunks);
        CHECK(opened->plaintext_bytes == n);
        // Layout: header line, then chunks of cs + 16 bytes, the last 16 + (1..cs).
        CHECK(object.size() - headerLineEnd(object) == n + 16 * expected_chunks);
      }
    }
  }
}

TEST_CASE("envelope: sealing is independent of how the plaintext is split", "[data]") {
  const Bytes plaintext = pattern(3 * kSmallChunk + 5);
  for (std::size_t piece :
       {std::size_t{1} << 20, std::size_t{1}, std::size_t{4096}, std::size_t{4097}}) {
    CollectSink sink;
    REQUIRE(
        openBytes(sealChunked(plaintext, keys().octRecipient(), kSmallChunk, piece), sink).ok());
    CHECK(sink.data == plaintext);
  }
}

TEST_CASE("envelope: readHeader names form, alg and kid before any key is used", "[data]") {
  keys().calls = 0;
  MemoryObjectSource chunked(sealChunked(pattern(10), keys().rsaRecipient(), kSmallChunk));
  auto h = readHeader(chunked);
  REQUIRE(h.ok());
  CHECK(h->form == EnvelopeForm::Chunked);
  CHECK(h->alg == "RSA-OAEP-256");
  CHECK(h->enc == "A256GCM");
  CHECK(h->kid == kKidRsa);
  MemoryObjectSource compact(sealCompactBytes(pattern(10), keys().octRecipient()));
  h = readHeader(compact);
  REQUIRE(h.ok());
  CHECK(h->form == EnvelopeForm::Compact);
  CHECK(h->alg == "A256KW");
  CHECK(h->kid == kKidOct);
  CHECK(keys().calls == 0);
  CHECK(envelopeFormName(EnvelopeForm::Chunked) == "chunked");
  CHECK(envelopeFormName(EnvelopeForm::Compact) == "compact");
}

TEST_CASE("envelope: a compact object with trailing whitespace opens", "[data]") {
  Bytes object = sealCompactBytes(toBytes("hello"), keys().octRecipient());
  for (char c : std::string(" \r\n\t\n")) object.push_back(static_cast<uint8_t>(c));
  CollectSink sink;
  REQUIRE(openBytes(object, sink).ok());
  CHECK(toString(sink.data) == "hello");
}

TEST_CASE("envelope: every flipped byte of a compact object is refused", "[data]") {
  const Bytes object = sealCompactBytes(pattern(200), keys().rsaRecipient());
  // Flip one base64url character in each of the five parts (replacing it with another valid
  // character, so only the crypto can notice).
  std::vector<std::size_t> dots;
  for (std::size_t i = 0; i < object.size(); ++i) {
    if (object[i] == '.') dots.push_back(i);
  }
  REQUIRE(dots.size() == 4);
  const std::vector<std::size_t> positions = {2, dots[0] + 3, dots[1] + 3, dots[2] + 3,
                                              dots[3] + 3};
  for (std::size_t pos : positions) {
    INFO("position " << pos);
    Bytes bad = object;
    bad[pos] = bad[pos] == 'A' ? 'B' : 'A';
    const Status s = openStatus(bad);
    REQUIRE_FALSE(s.ok());
    CHECK((s.code() == StatusCode::DataLoss || s.code() == StatusCode::InvalidArgument));
  }
  // The ciphertext and tag parts fail as integrity failures.
  for (std::size_t pos : {dots[2] + 3, dots[3] + 3}) {
    Bytes bad = object;
    bad[pos] = bad[pos] == 'A' ? 'B' : 'A';
    CHECK(openStatus(bad).code() == StatusCode::DataLoss);
  }
}

TEST_CASE("envelope: every flipped byte of a chunked object is refused and named", "[data]") {
  const uint64_t cs = kSmallChunk;
  const Bytes object = sealChunked(pattern(3 * cs + 100), keys().octRecipient(), cs);
  const std::size_t body = headerLineEnd(object);
  SECTION("header line: each part of the JWE") {
    std::vector<std::size_t> dots;
    for (std::size_t i = 0; i < body; ++i) {
      if (object[i] == '.') dots.push_back(i);
    }
    REQUIRE(dots.size() == 4);
    for (std::size_t pos : {std::size_t{5}, dots[0] + 3, dots[1] + 3, dots[2] + 3, dots[3] + 3}) {
      Bytes bad = object;
      bad[pos] = bad[pos] == 'A' ? 'B' : 'A';
      const Status s = openStatus(bad);
      REQUIRE_FALSE(s.ok());
      CHECK((s.code() == StatusCode::DataLoss || s.code() == StatusCode::InvalidArgument));
    }
  }
  SECTION("each chunk: ciphertext and tag") {
    for (uint64_t i = 0; i < 4; ++i) {
      const std::size_t chunk_start = body + static_cast<std::size_t>(i * (cs + 16));
      const std::size_t chunk_len = i < 3 ? cs + 16 : 100 + 16;
      for (std::size_t within : {std::size_t{0}, chunk_len - 1}) {  // ciphertext, tag
        Bytes bad = object;
        bad[chunk_start + within] ^= 0x01;
        const Status s = openStatus(bad);
        REQUIRE(s.code() == StatusCode::DataLoss);
        CHECK(mentions(s, "chunk " + std::to_string(i + 1) + " of 4"));
        CHECK(mentions(s, "corrupted, reordered or truncated"));
        CHECK(mentions(s, "test object"));
      }
    }
  }
}

TEST_CASE("envelope: truncation, reordering, appending and substitution are detected", "[data]") {
  const uint64_t cs = kSmallChunk;
  const std::size_t record = cs + 16;
  const Bytes object = sealChunked(pattern(3 * cs + 100, 1), keys().octRecipient(), cs);
  const std::size_t body = headerLineEnd(object);
  auto chunkAt = [&](const Bytes& o, std::size_t i, std::size_t len) {
    return Bytes(o.begin() + static_cast<std::ptrdiff_t>(body + i * record),
                 o.begin() + static_cast<std::ptrdiff_t>(body + i * record + len));
  };

  SECTION("truncated mid-chunk") {
    Bytes bad(object.begin(), object.end() - 50);
    CHECK(openStatus(bad).code() == StatusCode::DataLoss);
    Bytes in_tag(object.begin(), object.begin() + static_cast<std::ptrdiff_t>(body + record + 9));
    const Status s = openStatus(in_tag);
    CHECK(s.code() == StatusCode::DataLoss);
    CHECK(mentions(s, "truncated"));
  }
  SECTION("truncated at a chunk boundary") {
    for (std::size_t keep : {std::size_t{1}, std::size_t{2}, std::size_t{3}}) {
      Bytes bad(object.begin(), object.begin() + static_cast<std::ptrdiff_t>(body + keep * record));
      const Status s = openStatus(bad);
      REQUIRE(s.code() == StatusCode::DataLoss);
      CHECK(mentions(s, "chunk " + std::to_string(keep) + " of " + std::to_string(keep)));
    }
    Bytes header_only(object.begin(), object.begin() + static_cast<std::ptrdiff_t>(body));
    CHECK(openStatus(header_only).code() == StatusCode::DataLoss);
  }
  SECTION("two chunks swapped") {
    Bytes bad(object.begin(), object.begin() + static_cast<std::ptrdiff_t>(body));
    for (std::size_t i : {std::size_t{1}, std::size_t{0}, std::size_t{2}}) {
      const Bytes c = chunkAt(object, i, record);
      bad.insert(bad.end(), c.begin(), c.end());
    }
    bad.insert(bad.end(), object.begin() + static_cast<std::ptrdiff_t>(body + 3 * record),
               object.end());
    REQUIRE(bad.size() == object.size());
    const Status s = openStatus(bad);
    CHECK(s.code() == StatusCode::DataLoss);
    CHECK(mentions(s, "chunk 1 of 4"));
  }
  SECTION("a chunk appended") {
    Bytes bad = object;
    const Bytes extra = chunkAt(object, 1, record);
    bad.insert(bad.end(), extra.begin(), extra.end());
    CHECK(openStatus(bad).code() == StatusCode::DataLoss);
    // Appending a copy of the final chunk after it fails on the (former) final chunk.
    Bytes twice = object;
    twice.insert(twice.end(), object.end() - 116, object.end());
    const Status s = openStatus(twice);
    CHECK(s.code() == StatusCode::DataLoss);
  }
  SECTION("a chunk from another object of the same key and layout") {
    const Bytes other = sealChunked(pattern(3 * cs + 100, 2), keys().octRecipient(), cs);
    Bytes bad = object;
    const Bytes foreign = chunkAt(other, 1, record);
    std::copy(foreign.begin(), foreign.end(),
              bad.begin() + static_cast<std::ptrdiff_t>(body + record));
    const Status s = openStatus(bad);
    CHECK(s.code() == StatusCode::DataLoss);
    CHECK(mentions(s, "chunk 2 of 4"));
  }
  SECTION("the header line of another object") {
    const Bytes other = sealChunked(pattern(3 * cs + 100, 2), keys().octRecipient(), cs);
    Bytes bad(other.begin(), other.begin() + static_cast<std::ptrdiff_t>(headerLineEnd(other)));
    bad.insert(bad.end(), object.begin() + static_cast<std::ptrdiff_t>(body), object.end());
    const Status s = openStatus(bad);
    CHECK(s.code() == StatusCode::DataLoss);
    CHECK(mentions(s, "chunk 1 of 4"));
  }
}

TEST_CASE("envelope: an unknown kid is NotFound from the resolver", "[data]") {
  Recipient other = keys().octRecipient();
  other.kid = "https://vault.example/keys/data-oct/v2";
  const Status s = openStatus(sealCompactBytes(pattern(10), other));
  CHECK(s.code() == StatusCode::NotFound);
  CHECK(mentions(s, "data-oct/v2"));
  CHECK(openStatus(sealChunked(pattern(10), other, kSmallChunk)).code() == StatusCode::NotFound);
}

TEST_CASE("envelope: headers outside the profile are refused", "[data]") {
  const SecretBytes cek = crypto::randomSecret(32);
  const std::string kid = std::string("\"kid\":\"") + kKidOct + "\"";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"zip", octHeader(R"(,"zip":"DEF")")},
      {"crit", octHeader(R"(,"crit":["exp"],"exp":1)")},
      {"jku", octHeader(R"(,"jku":"https://evil.example/jwks")")},
      {"missing kid", R"({"alg":"A256KW","enc":"A256GCM"})"},
      {"empty kid", R"({"alg":"A256KW","enc":"A256GCM","kid":""})"},
      {"alg dir", R"({"alg":"dir","enc":"A256GCM",)" + kid + "}"},
      {"alg RSA1_5", R"({"alg":"RSA1_5","enc":"A256GCM",)" + kid + "}"},
      {"enc A128GCM", R"({"alg":"A256KW","enc":"A128GCM",)" + kid + "}"},
      {"enc CBC-HS", R"({"alg":"A256KW","enc":"A256CBC-HS512",)" + kid + "}"},
      {"cty other", octHeader(R"(,"cty":"text/plain")")},
      {"unknown member", octHeader(R"(,"x-extra":1)")},
      {"duplicate member", octHeader(R"(,"alg":"A256KW")")},
      {"not an object", R"(["A256KW"])"},
  };
  for (const auto& [name, header] : cases) {
    INFO(name);
    const std::string jwe = jweWith(header, asBytes("data"), cek);
    const Status s = openStatus(toBytes(jwe));
    CHECK(s.code() == StatusCode::InvalidArgument);
    MemoryObjectSource source(toBytes(jwe));
    CHECK(readHeader(source).status().code() == StatusCode::InvalidArgument);
  }
  // The profile itself opens (the cases differ only in what they name).
  CHECK(openStatus(toBytes(jweWith(octHeader(R"(,"typ":"JWE")"), asBytes("data"), cek))).ok());
}

TEST_CASE("envelope: chunk parameters must be exactly v, cs and dek", "[data]") {
  const SecretBytes cek = crypto::randomSecret(32);
  const std::string dek = encoding::base64UrlEncode(crypto::randomBytes(32));
  auto object = [&](const std::string& params) {
    Bytes o = toBytes(jweWith(chunkedOctHeader(), asBytes(params), cek) + "\n");
    const Bytes filler(100, 0);
    o.insert(o.end(), filler.begin(), filler.end());
    return o;
  };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"v 2", R"({"v":2,"cs":4096,"dek":")" + dek + "\"}"},
      {"cs below the minimum", R"({"v":1,"cs":4095,"dek":")" + dek + "\"}"},
      {"cs above the maximum", R"({"v":1,"cs":16777217,"dek":")" + dek + "\"}"},
      {"cs negative", R"({"v":1,"cs":-1,"dek":")" + dek + "\"}"},
      {"cs huge", R"({"v":1,"cs":18446744073709551615,"dek":")" + dek + "\"}"},
      {"cs not an integer", R"({"v":1,"cs":4096.5,"dek":")" + dek + "\"}"},
      {"dek 16 bytes",
       R"({"v":1,"cs":4096,"dek":")" + encoding::base64UrlEncode(crypto::randomBytes(16)) + "\"}"},
      {"dek not base64url", R"({"v":1,"cs":4096,"dek":"a+b/"})"},
      {"missing dek", R"({"v":1,"cs":4096})"},
      {"unknown member", R"({"v":1,"cs":4096,"dek":")" + dek + R"(","x":1})"},
      {"duplicate member", R"({"v":1,"cs":4096,"cs":4096,"dek":")" + dek + "\"}"},
      {"not JSON", "v=1"},
  };
  for (const auto& [name, params] : cases) {
    INFO(name);
    CHECK(openStatus(object(params)).code() == StatusCode::InvalidArgument);
  }
}

TEST_CASE("envelope: the header line must end with LF within the limit", "[data]") {
  const Bytes object = sealChunked(pattern(100), keys().octRecipient(), kSmallChunk);
  const std::size_t lf = headerLineEnd(object) - 1;
  SECTION("CRLF") {
    Bytes bad(object.begin(), object.begin() + static_cast<std::ptrdiff_t>(lf));
    bad.push_back('\r');
    bad.insert(bad.end(), object.begin() + static_cast<std::ptrdiff_t>(lf), object.end());
    CHECK(openStatus(bad).code() == StatusCode::InvalidArgument);
  }
  SECTION("no LF at all") {
    Bytes bad = object;
    bad[lf] = ' ';
    CHECK(openStatus(bad).code() == StatusCode::InvalidArgument);
  }
  SECTION("a header longer than kMaxHeaderLineBytes") {
    // The kid limit keeps real headers far below the line limit, so build an over-long line.
    Bytes bad = toBytes(std::string(kMaxHeaderLineBytes + 10, 'A'));
    const std::string h = encoding::base64UrlEncode(asBytes(chunkedOctHeader()));
    std::copy(h.begin(), h.end(), bad.begin());
    bad[h.size()] = '.';
    bad.push_back('\n');
    const Status s = openStatus(bad);
    CHECK(s.code() == StatusCode::InvalidArgument);
    CHECK(mentions(s, "16384"));
  }
}

TEST_CASE("envelope: a compact object over the limit is ResourceExhausted", "[data]") {
  const Bytes object = sealCompactBytes(pattern(5000), keys().octRecipient());
  OpenLimits limits;
  limits.max_compact_bytes = 4096;
  CollectSink sink;
  auto opened = openBytes(object, sink, limits);
  CHECK(opened.status().code() == StatusCode::ResourceExhausted);
}

TEST_CASE("envelope: a content key of the wrong size does not open", "[data]") {
  const SecretBytes cek16 = crypto::randomSecret(16);
  const std::string jwe = jweWith(octHeader(), asBytes("data"), cek16);
  CHECK(openStatus(toBytes(jwe)).code() == StatusCode::DataLoss);
}

// Counts reads and their sizes, and holds no copy of the object: the plaintext is computed.
class GeneratedSource final : public ObjectSource {
 public:
  GeneratedSource(Bytes header_line, uint64_t chunks, uint64_t cs, const SecretBytes& dek)
      : header_(std::move(header_line)), chunks_(chunks), cs_(cs), dek_(dek.clone()) {}
  StatusOr<uint64_t> size() override { return header_.size() + chunks_ * (cs_ + 16); }
  StatusOr<Bytes> read(uint64_t offset, std::size_t length) override {
    ++reads;
    max_read = std::max(max_read, length);
    Bytes out;
    out.reserve(length);
    uint64_t pos = offset;
    const uint64_t end = offset + length;
    while (pos < end) {
      if (pos < header_.size()) {
        out.push_back(header_[static_cast<std::size_t>(pos)]);
        ++pos;
        continue;
      }
      const uint64_t index = (pos - header_.size()) / (cs_ + 16);
      const Bytes chunk = makeChunk(index);
      const uint64_t start = header_.size() + index * (cs_ + 16);
      const uint64_t from = pos - start;
      const uint64_t take = std::min<uint64_t>(chunk.size() - from, end - pos);
      out.insert(out.end(), chunk.begin() + static_cast<std::ptrdiff_t>(from),
                 chunk.begin() + static_cast<std::ptrdiff_t>(from + take));
      pos += take;
    }
    return out;
  }
  std::string describe() const override { return "generated object"; }

  int reads = 0;
  std::size_t max_read = 0;

 private:
  Bytes makeChunk(uint64_t index) const {
    Bytes iv(4, 0);
    Bytes aad = toBytes(kChunkAadLabel);
    for (int s = 56; s >= 0; s -= 8) {
      iv.push_back(static_cast<uint8_t>(index >> s));
      aad.push_back(static_cast<uint8_t>(index >> s));
    }
    aad.push_back(index + 1 == chunks_ ? 1 : 0);
    const Bytes plaintext(static_cast<std::size_t>(cs_), static_cast<uint8_t>(index));
    auto sealed = crypto::aesGcmEncryptWithIv(dek_, iv, plaintext, aad).value();
    sealed.ciphertext.insert(sealed.ciphertext.end(), sealed.tag.begin(), sealed.tag.end());
    return sealed.ciphertext;
  }
  Bytes header_;
  uint64_t chunks_;
  uint64_t cs_;
  SecretBytes dek_;
};

// Checks the plaintext's pattern without keeping it.
class CheckingSink final : public PlaintextSink {
 public:
  explicit CheckingSink(uint64_t cs) : cs_(cs) {}
  Status write(const SecretBytes& plaintext) override {
    max_write = std::max(max_write, plaintext.size());
    for (uint8_t b : plaintext.view(grantSecretAccess())) {
      if (b != static_cast<uint8_t>(total / cs_)) mismatches++;
      ++total;
    }
    return okStatus();
  }
  uint64_t total = 0;
  uint64_t mismatches = 0;
  std::size_t max_write = 0;

 private:
  uint64_t cs_;
};

TEST_CASE("envelope: a 100 MiB object opens in whole-chunk reads with bounded memory", "[data]") {
  const uint64_t cs = 1024 * 1024;
  const uint64_t chunks = 100;
  const SecretBytes dek = crypto::randomSecret(32);
  const std::string params = R"({"v":1,"cs":1048576,"dek":")" +
                             encoding::base64UrlEncode(dek.view(grantSecretAccess())) + "\"}";
  const SecretBytes cek = crypto::randomSecret(32);
  GeneratedSource source(toBytes(jweWith(chunkedOctHeader(), asBytes(params), cek) + "\n"), chunks,
                         cs, dek);
  CheckingSink sink(cs);
  OpenLimits limits;
  limits.read_bytes = 4 * 1024 * 1024;
  auto opened = openObject(source, keys(), sink, limits);
  REQUIRE(opened.ok());
  CHECK(opened->plaintext_bytes == chunks * cs);
  CHECK(opened->chunks == chunks);
  CHECK(sink.total == chunks * cs);
  CHECK(sink.mismatches == 0);
  // Reads stay within read_bytes (+ one chunk), plaintext arrives a chunk at a time: nothing in
  // the reader grows with the object.
  CHECK(source.max_read <= limits.read_bytes + cs + 16);
  CHECK(sink.max_write <= cs);
  // 100 records of 1 MiB + 16 in reads of 3 records (4 MiB / (1 MiB + 16)), plus the header reads.
  CHECK(source.reads <= 2 + 34);
  CHECK(source.reads >= 34);
}

TEST_CASE("envelope: reads hold whole chunks, one chunk when it exceeds read_bytes", "[data]") {
  const Bytes object = sealChunked(pattern(10 * kSmallChunk), keys().octRecipient(), kSmallChunk);
  class Counting final : public ObjectSource {
   public:
    explicit Counting(Bytes b) : inner(std::move(b)) {}
    StatusOr<uint64_t> size() override { return inner.size(); }
    StatusOr<Bytes> read(uint64_t offset, std::size_t length) override {
      lengths.push_back(length);
      return inner.read(offset, length);
    }
    std::string describe() const override { return "counting"; }
    MemoryObjectSource inner;
    std::vector<std::size_t> lengths;
  };
  for (std::size_t read_bytes : {std::size_t{100}, std::size_t{3 * (kSmallChunk + 16)}}) {
    Counting source(object);
    CollectSink sink;
    OpenLimits limits;
    limits.read_bytes = read_bytes;
    REQUIRE(openObject(source, keys(), sink, limits).ok());
    CHECK(sink.data == pattern(10 * kSmallChunk));
    const std::size_t per = std::max<std::size_t>(1, read_bytes / (kSmallChunk + 16));
    // Header reads first (readHeader and the header line), then ceil(10 / per) body reads.
    REQUIRE(source.lengths.size() == 2 + (10 + per - 1) / per);
    for (std::size_t i = 2; i < source.lengths.size(); ++i) {
      CHECK(source.lengths[i] % (kSmallChunk + 16) == 0);
      CHECK(source.lengths[i] <= std::max(read_bytes, kSmallChunk + 16));
    }
  }
}

TEST_CASE("envelope: recipientFromJwk takes RSA and 32-byte oct JWKs with a versioned kid",
          "[data]") {
  auto rsa_jwk = jose::Jwk::fromPublicKey(keys().rsa().publicKey());
  rsa_jwk.setKid(kKidRsa);
  const std::string rsa_text = json::serializeCanonical(rsa_jwk.publicJson().value()).value();
  auto r = recipientFromJwk(SecretBytes::copyOf(asBytes(rsa_text)));
  REQUIRE(r.ok());
  CHECK(r->alg == "RSA-OAEP-256");
  CHECK(r->kid == kKidRsa);
  CollectSink sink;
  REQUIRE(openBytes(sealCompactBytes(asBytes("x"), *r), sink).ok());

  const std::string oct_text = R"({"kty":"oct","k":")" +
                               encoding::base64UrlEncode(keys().oct().view(grantSecretAccess())) +
                               "\"}";
  CHECK(recipientFromJwk(SecretBytes::copyOf(asBytes(oct_text))).status().code() ==
        StatusCode::InvalidArgument);  // no kid anywhere
  r = recipientFromJwk(SecretBytes::copyOf(asBytes(oct_text)), kKidOct);
  REQUIRE(r.ok());
  CHECK(r->alg == "A256KW");
  CollectSink sink2;
  REQUIRE(openBytes(sealChunked(asBytes("y"), *r, kSmallChunk), sink2).ok());
  CHECK(toString(sink2.data) == "y");

  // A kid that names no version, a 16-byte oct key, an EC key.
  CHECK_FALSE(recipientFromJwk(SecretBytes::copyOf(asBytes(rsa_text)),
                               "https://vault.example/keys/data-key")
                  .ok());
  const std::string oct16 =
      R"({"kty":"oct","k":")" + encoding::base64UrlEncode(crypto::randomBytes(16)) + "\"}";
  CHECK_FALSE(recipientFromJwk(SecretBytes::copyOf(asBytes(oct16)), kKidOct).ok());
  auto ec =
      jose::Jwk::fromPublicKey(crypto::PrivateKey::generateEc(crypto::Curve::P256)->publicKey());
  const std::string ec_text = json::serializeCanonical(ec.publicJson().value()).value();
  CHECK_FALSE(recipientFromJwk(SecretBytes::copyOf(asBytes(ec_text)), kKidRsa).ok());
}

TEST_CASE("envelope: the sealer refuses out-of-range chunk sizes and use after finish", "[data]") {
  auto sink = [](ByteView) { return okStatus(); };
  CHECK(ChunkedSealer::create(keys().octRecipient(), sink, kMinChunkSize - 1).status().code() ==
        StatusCode::InvalidArgument);
  CHECK(ChunkedSealer::create(keys().octRecipient(), sink, kMaxChunkSize + 1).status().code() ==
        StatusCode::InvalidArgument);
  auto sealer = ChunkedSealer::create(keys().octRecipient(), sink, kMinChunkSize);
  REQUIRE(sealer.ok());
  REQUIRE((*sealer)->finish().ok());
  CHECK_FALSE((*sealer)->write(asBytes("late")).ok());
  CHECK_FALSE((*sealer)->finish().ok());
}

}  // namespace
}  // namespace skr::data
