#include "common/data/envelope.h"

#include <algorithm>
#include <array>
#include <limits>
#include <utility>

#include "common/crypto/aes_gcm.h"
#include "common/crypto/aes_key_wrap.h"
#include "common/crypto/random.h"
#include "common/crypto/rsa_oaep.h"
#include "common/encoding/base64.h"
#include "common/encoding/json_writer.h"
#include "common/jose/jwk.h"
#include "common/json/json.h"

namespace skr::data {
namespace {

constexpr std::string_view kAlgRsaOaep256 = "RSA-OAEP-256";
constexpr std::string_view kAlgA256kw = "A256KW";
constexpr std::string_view kEncA256gcm = "A256GCM";
constexpr std::size_t kContentKeyBytes = 32;
constexpr std::size_t kMaxKidBytes = 2048;
// The chunk parameters JSON ({"v":1,"cs":...,"dek":"..."}) is about 80 bytes.
constexpr std::size_t kMaxChunkParamsBytes = 1024;
constexpr std::size_t kTag = crypto::kGcmTagSize;

// Header members a reader accepts (RFC 7516 §4.1 lets a recipient refuse what it does not
// support). zip, crit, jku, jwk, x5u, x5c, x5t, epk, apu, apv, p2s, p2c and anything else are
// refused rather than ignored: an envelope means exactly what these members say.
constexpr std::array<std::string_view, 5> kHeaderMembers = {"alg", "enc", "kid", "cty", "typ"};

// A missing member is a malformed envelope (InvalidArgument), never NotFound: NotFound means
// "no key for this kid" to the callers (the agent answers 404 KeyNotFound).
Status malformed(const Status& status, std::string_view context) {
  return invalidArgumentError(std::string(context) + ": " + status.message());
}

bool isPrintableAscii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x21 && c <= 0x7e; });
}

bool isAsciiSpace(uint8_t c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

void appendBe64(Bytes& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}

Bytes chunkIv(uint64_t index) {
  Bytes iv(4, 0);
  appendBe64(iv, index);
  return iv;
}

Bytes chunkAad(uint64_t index, bool final) {
  Bytes aad = toBytes(kChunkAadLabel);
  appendBe64(aad, index);
  aad.push_back(final ? 1 : 0);
  return aad;
}

// The five parts of a JWE compact serialization (RFC 7516 §7.1).
struct CompactParts {
  std::string_view header;  // base64url, also the content encryption's AAD
  std::string_view encrypted_key;
  std::string_view iv;
  std::string_view ciphertext;
  std::string_view tag;
};

StatusOr<CompactParts> splitCompact(std::string_view text) {
  std::array<std::string_view, 5> parts;
  std::size_t count = 0;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = text.find('.', start);
    if (count == parts.size()) {
      return invalidArgumentError("JWE compact serialization has more than 5 parts");
    }
    parts[count++] = text.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (count != parts.size()) {
    return invalidArgumentError("JWE compact serialization has " + std::to_string(count) +
                                " parts, expected 5");
  }
  return CompactParts{parts[0], parts[1], parts[2], parts[3], parts[4]};
}

// Parses and checks the protected header (base64url text).
StatusOr<EnvelopeHeader> parseHeader(std::string_view header_b64) {
  if (header_b64.empty()) return invalidArgumentError("JWE protected header is empty");
  SKR_ASSIGN_OR_RETURN(Bytes header_json,
                       encoding::base64UrlDecode(header_b64, kMaxHeaderLineBytes));
  json::ParseLimits limits;
  limits.max_bytes = kMaxHeaderLineBytes;
  limits.max_depth = 4;
  limits.max_values = 64;
  auto parsed = json::parseObject(asText(header_json), limits);
  if (!parsed.ok()) return malformed(parsed.status(), "JWE protected header");
  const json::ObjectPtr& object = *parsed;
  for (const std::string& name : object->getNames()) {
    if (std::find(kHeaderMembers.begin(), kHeaderMembers.end(), name) == kHeaderMembers.end()) {
      std::string shown = name.size() > 32 ? name.substr(0, 32) + "..." : name;
      if (!isPrintableAscii(shown)) shown = "(" + std::to_string(name.size()) + " bytes)";
      return invalidArgumentError("JWE protected header: member '" + shown +
                                  "' is not supported (only alg, enc, kid, cty, typ)");
    }
  }
  EnvelopeHeader header;
  auto alg = json::getString(object, "alg");
  if (!alg.ok()) return malformed(alg.status(), "JWE protected header");
  if (*alg != kAlgRsaOaep256 && *alg != kAlgA256kw) {
    return invalidArgumentError("JWE protected header: alg is not RSA-OAEP-256 or A256KW");
  }
  header.alg = *alg;
  auto enc = json::getString(object, "enc");
  if (!enc.ok()) return malformed(enc.status(), "JWE protected header");
  if (*enc != kEncA256gcm) {
    return invalidArgumentError("JWE protected header: enc is not A256GCM");
  }
  header.enc = *enc;
  auto kid = json::getString(object, "kid");
  if (!kid.ok()) return malformed(kid.status(), "JWE protected header (kid names the key version)");
  if (kid->empty() || kid->size() > kMaxKidBytes || !isPrintableAscii(*kid)) {
    return invalidArgumentError("JWE protected header: kid is empty, longer than " +
                                std::to_string(kMaxKidBytes) + " bytes or not printable ASCII");
  }
  header.kid = *kid;
  auto typ = json::getOptionalString(object, "typ");
  if (!typ.ok()) return malformed(typ.status(), "JWE protected header");
  auto cty = json::getOptionalString(object, "cty");
  if (!cty.ok()) return malformed(cty.status(), "JWE protected header");
  if (!cty->has_value()) {
    header.form = EnvelopeForm::Compact;
  } else if (**cty == kChunkedContentType) {
    header.form = EnvelopeForm::Chunked;
  } else {
    return invalidArgumentError(std::string("JWE protected header: cty is not absent or ") +
                                std::string(kChunkedContentType));
  }
  return header;
}

StatusOr<Bytes> decodePart(std::string_view text, std::string_view what, std::size_t max_bytes) {
  auto decoded = encoding::base64UrlDecode(text, max_bytes);
  if (!decoded.ok()) return decoded.status().withContext(std::string("JWE ") + std::string(what));
  return decoded;
}

// Decrypts a compact JWE whose header was already parsed: the content key through the resolver,
// then A256GCM with AAD = ASCII(BASE64URL(protected header)) (RFC 7516 §5.2 steps 10-14).
StatusOr<SecretBytes> decryptCompact(const CompactParts& parts, const EnvelopeHeader& header,
                                     KeyResolver& keys, std::size_t max_ciphertext) {
  SKR_ASSIGN_OR_RETURN(Bytes encrypted_key, decodePart(parts.encrypted_key, "encrypted key", 4096));
  if (encrypted_key.empty()) return invalidArgumentError("JWE encrypted key is empty");
  SKR_ASSIGN_OR_RETURN(Bytes iv, decodePart(parts.iv, "iv", 64));
  if (iv.size() != crypto::kGcmIvSize) {
    return invalidArgumentError("JWE iv is " + std::to_string(iv.size()) + " bytes, expected 12");
  }
  SKR_ASSIGN_OR_RETURN(Bytes ciphertext,
                       decodePart(parts.ciphertext, "ciphertext", max_ciphertext));
  SKR_ASSIGN_OR_RETURN(Bytes tag, decodePart(parts.tag, "tag", 64));
  if (tag.size() != kTag) {
    return invalidArgumentError("JWE tag is " + std::to_string(tag.size()) + " bytes, expected 16");
  }
  auto cek = keys.decryptContentKey(header.kid, header.alg, encrypted_key);
  if (!cek.ok()) return cek.status();
  if (cek->size() != kContentKeyBytes) {
    return dataLossError("JWE content key is " + std::to_string(cek->size()) +
                         " bytes, expected 32 for A256GCM");
  }
  auto plaintext = crypto::aesGcmDecrypt(*cek, iv, ciphertext, tag, asBytes(parts.header));
  if (!plaintext.ok()) {
    return dataLossError(
        "JWE does not authenticate (its tag does not verify under the content key)");
  }
  return plaintext;
}

// The chunked form's JWE plaintext: exactly {"v":1,"cs":N,"dek":"<32 bytes>"}.
struct ChunkParams {
  uint64_t chunk_size = 0;
  SecretBytes dek;
};

StatusOr<ChunkParams> parseChunkParams(const SecretBytes& text) {
  if (text.size() > kMaxChunkParamsBytes) {
    return invalidArgumentError("chunk parameters are " + std::to_string(text.size()) +
                                " bytes, more than " + std::to_string(kMaxChunkParamsBytes));
  }
  json::ParseLimits limits;
  limits.max_bytes = kMaxChunkParamsBytes;
  limits.max_depth = 2;
  limits.max_values = 16;
  // Poco keeps transient copies of the member strings while parsing (as for a private JWK); the
  // content key goes straight into SecretBytes.
  auto parsed = json::parseObject(asText(text.view(grantSecretAccess())), limits);
  if (!parsed.ok()) return malformed(parsed.status(), "chunk parameters");
  const json::ObjectPtr& object = *parsed;
  if (object->size() != 3) {
    return invalidArgumentError("chunk parameters have " + std::to_string(object->size()) +
                                " members, expected exactly v, cs and dek");
  }
  auto v = json::getInt(object, "v");
  if (!v.ok()) return malformed(v.status(), "chunk parameters");
  if (*v != 1) return invalidArgumentError("chunk parameters: v is not 1");
  auto cs = json::getInt(object, "cs");
  if (!cs.ok()) return malformed(cs.status(), "chunk parameters");
  if (*cs < static_cast<int64_t>(kMinChunkSize) || *cs > static_cast<int64_t>(kMaxChunkSize)) {
    return invalidArgumentError("chunk parameters: cs " + std::to_string(*cs) + " is outside [" +
                                std::to_string(kMinChunkSize) + ", " +
                                std::to_string(kMaxChunkSize) + "]");
  }
  ChunkParams params;
  params.chunk_size = static_cast<uint64_t>(*cs);
  auto dek_text = json::getString(object, "dek");
  if (!dek_text.ok()) return malformed(dek_text.status(), "chunk parameters");
  auto dek = encoding::base64UrlDecodeSecret(*dek_text, 64);
  if (!dek.ok()) return invalidArgumentError("chunk parameters: dek is not base64url");
  if (dek->size() != kContentKeyBytes) {
    return invalidArgumentError("chunk parameters: dek is " + std::to_string(dek->size()) +
                                " bytes, expected 32");
  }
  params.dek = std::move(*dek);
  return params;
}

StatusOr<EnvelopeHeader> openCompact(ObjectSource& source, uint64_t size, KeyResolver& keys,
                                     PlaintextSink& sink, const OpenLimits& limits,
                                     OpenedObject& opened) {
  if (size > limits.max_compact_bytes) {
    return resourceExhaustedError(source.describe() + ": compact JWE of " + std::to_string(size) +
                                  " bytes is larger than the limit of " +
                                  std::to_string(limits.max_compact_bytes) +
                                  " (large objects use the chunked form)");
  }
  SKR_ASSIGN_OR_RETURN(Bytes whole, source.read(0, static_cast<std::size_t>(size)));
  std::size_t end = whole.size();
  while (end > 0 && isAsciiSpace(whole[end - 1])) --end;
  const std::string_view text = asText(ByteView(whole).first(end));
  SKR_ASSIGN_OR_RETURN(CompactParts parts, splitCompact(text));
  SKR_ASSIGN_OR_RETURN(EnvelopeHeader header, parseHeader(parts.header));
  if (header.form != EnvelopeForm::Compact) {
    return invalidArgumentError("the header names the chunked form but has no header line");
  }
  SKR_ASSIGN_OR_RETURN(SecretBytes plaintext,
                       decryptCompact(parts, header, keys, static_cast<std::size_t>(size)));
  opened.plaintext_bytes = plaintext.size();
  opened.chunks = 0;
  if (!plaintext.empty()) SKR_RETURN_IF_ERROR(sink.write(plaintext));
  return header;
}

// The header line of the chunked form: the bytes before the first LF, within
// kMaxHeaderLineBytes (the LF included).
StatusOr<std::size_t> headerLineLength(ByteView prefix) {
  const auto lf = std::find(prefix.begin(), prefix.end(), uint8_t{'\n'});
  if (lf == prefix.end()) {
    return invalidArgumentError("chunked envelope: no line feed ends the header line within " +
                                std::to_string(kMaxHeaderLineBytes) + " bytes");
  }
  return static_cast<std::size_t>(lf - prefix.begin());
}

Status openChunkedBody(ObjectSource& source, uint64_t size, uint64_t body_offset,
                       const ChunkParams& params, PlaintextSink& sink, const OpenLimits& limits,
                       OpenedObject& opened) {
  const uint64_t cs = params.chunk_size;
  const uint64_t record = cs + kTag;  // cs <= 16 MiB: no overflow
  const uint64_t body = size - body_offset;
  if (body == 0) {
    return dataLossError(source.describe() +
                         ": the object has no chunks after its header line (truncated)");
  }
  const uint64_t full = body / record;
  const uint64_t rest = body % record;
  const uint64_t chunks = full + (rest == 0 ? 0 : 1);
  if (rest != 0 && rest < kTag) {
    return dataLossError("chunk " + std::to_string(chunks) + " of " + std::to_string(chunks) +
                         " is " + std::to_string(rest) +
                         " bytes, shorter than its tag: the object is truncated");
  }
  // Whole chunks per read: as many as fit in read_bytes, at least one.
  const uint64_t per_read = std::max<uint64_t>(1, limits.read_bytes / record);
  uint64_t index = 0;
  uint64_t offset = body_offset;
  uint64_t plaintext_bytes = 0;
  while (index < chunks) {
    const uint64_t batch = std::min(per_read, chunks - index);
    const uint64_t length = std::min(batch * record, size - offset);
    SKR_ASSIGN_OR_RETURN(Bytes data, source.read(offset, static_cast<std::size_t>(length)));
    if (data.size() != length) {
      return internalError(source.describe() + ": a read returned " + std::to_string(data.size()) +
                           " bytes, expected " + std::to_string(length));
    }
    uint64_t at = 0;
    while (at < length) {
      const uint64_t this_len = std::min(record, length - at);
      const bool final = index + 1 == chunks;
      const ByteView chunk =
          ByteView(data).subspan(static_cast<std::size_t>(at), static_cast<std::size_t>(this_len));
      const ByteView ciphertext = chunk.first(chunk.size() - kTag);
      const ByteView tag = chunk.last(kTag);
      auto plaintext = crypto::aesGcmDecrypt(params.dek, chunkIv(index), ciphertext, tag,
                                             chunkAad(index, final));
      if (!plaintext.ok()) {
        return dataLossError("chunk " + std::to_string(index + 1) + " of " +
                             std::to_string(chunks) + " (index " + std::to_string(index) +
                             ") does not authenticate: the object is corrupted, reordered or "
                             "truncated");
      }
      if (plaintext->empty() && index != 0) {
        return invalidArgumentError("chunk " + std::to_string(index + 1) + " of " +
                                    std::to_string(chunks) +
                                    " is empty: only the empty object has an empty chunk");
      }
      if (!plaintext->empty()) SKR_RETURN_IF_ERROR(sink.write(*plaintext));
      plaintext_bytes += plaintext->size();
      at += this_len;
      ++index;
    }
    offset += length;
  }
  opened.plaintext_bytes = plaintext_bytes;
  opened.chunks = chunks;
  return okStatus();
}

StatusOr<EnvelopeHeader> openChunked(ObjectSource& source, uint64_t size, KeyResolver& keys,
                                     PlaintextSink& sink, const OpenLimits& limits,
                                     OpenedObject& opened) {
  const std::size_t prefix_len =
      static_cast<std::size_t>(std::min<uint64_t>(size, kMaxHeaderLineBytes));
  SKR_ASSIGN_OR_RETURN(Bytes prefix, source.read(0, prefix_len));
  SKR_ASSIGN_OR_RETURN(std::size_t line_len, headerLineLength(prefix));
  const std::string_view line = asText(ByteView(prefix).first(line_len));
  SKR_ASSIGN_OR_RETURN(CompactParts parts, splitCompact(line));
  SKR_ASSIGN_OR_RETURN(EnvelopeHeader header, parseHeader(parts.header));
  if (header.form != EnvelopeForm::Chunked) {
    return invalidArgumentError("header line of a chunked envelope lacks cty " +
                                std::string(kChunkedContentType));
  }
  auto params_text = decryptCompact(parts, header, keys, kMaxChunkParamsBytes);
  if (!params_text.ok()) return params_text.status().withContext("chunked envelope header");
  SKR_ASSIGN_OR_RETURN(ChunkParams params, parseChunkParams(*params_text));
  SKR_RETURN_IF_ERROR(
      openChunkedBody(source, size, uint64_t{line_len} + 1, params, sink, limits, opened));
  return header;
}

// Sealing --------------------------------------------------------------------------------------

Status checkRecipient(const Recipient& recipient) {
  if (recipient.kid.empty() || recipient.kid.size() > kMaxKidBytes ||
      !isPrintableAscii(recipient.kid)) {
    return invalidArgumentError("recipient kid is empty, too long or not printable ASCII");
  }
  if (recipient.alg == kAlgRsaOaep256) {
    if (!recipient.rsa || recipient.rsa->type() != crypto::KeyType::Rsa) {
      return invalidArgumentError("recipient: RSA-OAEP-256 needs an RSA public key");
    }
    return okStatus();
  }
  if (recipient.alg == kAlgA256kw) {
    if (!recipient.oct || recipient.oct->size() != kContentKeyBytes) {
      return invalidArgumentError("recipient: A256KW needs a 32-byte oct key");
    }
    return okStatus();
  }
  return invalidArgumentError("recipient: alg is not RSA-OAEP-256 or A256KW");
}

StatusOr<Bytes> encryptContentKey(const Recipient& recipient, const SecretBytes& cek) {
  if (recipient.alg == kAlgRsaOaep256) {
    return crypto::rsaOaepEncrypt(*recipient.rsa, crypto::HashAlg::Sha256,
                                  cek.view(grantSecretAccess()));
  }
  return crypto::aesKeyWrap(*recipient.oct, cek);
}

// A JWE compact serialization of `plaintext` (fresh content key and IV).
StatusOr<std::string> sealJwe(ByteView plaintext, const Recipient& recipient, bool chunked) {
  SKR_RETURN_IF_ERROR(checkRecipient(recipient));
  json::Writer writer;
  writer.beginObject().member("alg", recipient.alg);
  if (chunked) writer.member("cty", kChunkedContentType);
  writer.member("enc", kEncA256gcm).member("kid", recipient.kid).endObject();
  const std::string header_b64 = encoding::base64UrlEncode(asBytes(writer.text()));
  const SecretBytes cek = crypto::randomSecret(kContentKeyBytes);
  SKR_ASSIGN_OR_RETURN(Bytes encrypted_key, encryptContentKey(recipient, cek));
  SKR_ASSIGN_OR_RETURN(crypto::GcmSealed sealed,
                       crypto::aesGcmEncrypt(cek, plaintext, asBytes(header_b64)));
  std::string out = header_b64;
  out += '.';
  out += encoding::base64UrlEncode(encrypted_key);
  out += '.';
  out += encoding::base64UrlEncode(sealed.iv);
  out += '.';
  out += encoding::base64UrlEncode(sealed.ciphertext);
  out += '.';
  out += encoding::base64UrlEncode(sealed.tag);
  return out;
}

class ChunkedSealerImpl final : public ChunkedSealer {
 public:
  ChunkedSealerImpl(Output out, uint64_t chunk_size, SecretBytes dek)
      : out_(std::move(out)), chunk_size_(chunk_size), dek_(std::move(dek)) {}

  Status write(ByteView plaintext) override {
    if (spent_) return failedPreconditionError("chunked sealer: already finished or failed");
    while (!plaintext.empty()) {
      if (pending_.size() == chunk_size_) {
        // More data follows, so the held chunk is not the last one.
        SKR_RETURN_IF_ERROR(fail(emit(false)));
      }
      const std::size_t take = std::min<std::size_t>(
          plaintext.size(), static_cast<std::size_t>(chunk_size_) - pending_.size());
      pending_.append(plaintext.first(take));
      plaintext = plaintext.subspan(take);
    }
    return okStatus();
  }

  Status finish() override {
    if (spent_) return failedPreconditionError("chunked sealer: already finished or failed");
    spent_ = true;
    return emit(true);
  }

 private:
  Status fail(Status status) {
    if (!status.ok()) spent_ = true;
    return status;
  }

  Status emit(bool final) {
    SKR_ASSIGN_OR_RETURN(
        crypto::GcmSealed sealed,
        crypto::aesGcmEncryptWithIv(dek_, chunkIv(index_), pending_.view(grantSecretAccess()),
                                    chunkAad(index_, final)));
    pending_.clear();
    ++index_;
    sealed.ciphertext.insert(sealed.ciphertext.end(), sealed.tag.begin(), sealed.tag.end());
    return out_(sealed.ciphertext);
  }

  Output out_;
  uint64_t chunk_size_;
  SecretBytes dek_;
  SecretBytes pending_;
  uint64_t index_ = 0;
  bool spent_ = false;
};

bool namesKeyVersion(std::string_view kid) {
  // https://{host}/keys/{name}/{version}
  constexpr std::string_view kScheme = "https://";
  if (!kid.starts_with(kScheme)) return false;
  std::string_view rest = kid.substr(kScheme.size());
  const std::size_t slash = rest.find('/');
  if (slash == 0 || slash == std::string_view::npos) return false;
  rest = rest.substr(slash);
  if (!rest.starts_with("/keys/")) return false;
  rest = rest.substr(6);
  const std::size_t mid = rest.find('/');
  if (mid == 0 || mid == std::string_view::npos) return false;
  const std::string_view version = rest.substr(mid + 1);
  return !version.empty() && version.find('/') == std::string_view::npos;
}

}  // namespace

std::string_view envelopeFormName(EnvelopeForm form) {
  return form == EnvelopeForm::Chunked ? "chunked" : "compact";
}

StatusOr<EnvelopeHeader> readHeader(ObjectSource& source) {
  SKR_ASSIGN_OR_RETURN(uint64_t size, source.size());
  const std::size_t prefix_len =
      static_cast<std::size_t>(std::min<uint64_t>(size, kMaxHeaderLineBytes));
  SKR_ASSIGN_OR_RETURN(Bytes prefix, source.read(0, prefix_len));
  const std::string_view text = asText(prefix);
  const std::size_t dot = text.find('.');
  if (dot == std::string_view::npos) {
    return invalidArgumentError(source.describe() + ": no JWE protected header within the first " +
                                std::to_string(kMaxHeaderLineBytes) + " bytes");
  }
  auto header = parseHeader(text.substr(0, dot));
  if (!header.ok()) return header.status().withContext(source.describe());
  return header;
}

StatusOr<OpenedObject> openObject(ObjectSource& source, KeyResolver& keys, PlaintextSink& sink,
                                  const OpenLimits& limits) {
  SKR_ASSIGN_OR_RETURN(EnvelopeHeader first, readHeader(source));
  SKR_ASSIGN_OR_RETURN(uint64_t size, source.size());
  OpenedObject opened;
  auto header = first.form == EnvelopeForm::Chunked
                    ? openChunked(source, size, keys, sink, limits, opened)
                    : openCompact(source, size, keys, sink, limits, opened);
  if (!header.ok()) return header.status().withContext(source.describe());
  opened.header = std::move(*header);
  return opened;
}

StatusOr<Recipient> recipientFromJwk(const SecretBytes& jwk_text, std::string_view kid) {
  SKR_ASSIGN_OR_RETURN(jose::Jwk jwk, jose::Jwk::parseSecret(jwk_text));
  Recipient recipient;
  recipient.kid = kid.empty() ? jwk.kid() : std::string(kid);
  if (recipient.kid.empty()) {
    return invalidArgumentError(
        "the JWK has no kid: give the key version "
        "(https://{vault host}/keys/{name}/{version})");
  }
  if (!namesKeyVersion(recipient.kid) || recipient.kid.size() > kMaxKidBytes ||
      !isPrintableAscii(recipient.kid)) {
    return invalidArgumentError(
        "kid does not name a key version (https://{vault host}/keys/{name}/{version})");
  }
  switch (jwk.type()) {
    case jose::JwkType::Rsa: {
      SKR_ASSIGN_OR_RETURN(const crypto::PublicKey* key, jwk.publicKey());
      if (key->bits() < 2048) {
        return invalidArgumentError("RSA key of " + std::to_string(key->bits()) +
                                    " bits: RSA-OAEP-256 needs at least 2048");
      }
      SKR_ASSIGN_OR_RETURN(crypto::PublicKey copy,
                           crypto::PublicKey::fromSpkiDer(key->toSpkiDer()));
      recipient.alg = std::string(kAlgRsaOaep256);
      recipient.rsa = std::make_shared<const crypto::PublicKey>(std::move(copy));
      return recipient;
    }
    case jose::JwkType::Oct: {
      SKR_ASSIGN_OR_RETURN(const SecretBytes* key, jwk.octet());
      if (key->size() != kContentKeyBytes) {
        return invalidArgumentError("oct key is " + std::to_string(key->size()) +
                                    " bytes: A256KW needs 32");
      }
      recipient.alg = std::string(kAlgA256kw);
      recipient.oct = std::make_shared<const SecretBytes>(key->clone());
      return recipient;
    }
    case jose::JwkType::Ec: break;
  }
  return invalidArgumentError("an EC key cannot receive an envelope (RSA-OAEP-256 or A256KW)");
}

StatusOr<std::string> sealCompact(ByteView plaintext, const Recipient& recipient) {
  return sealJwe(plaintext, recipient, false);
}

StatusOr<std::unique_ptr<ChunkedSealer>> ChunkedSealer::create(const Recipient& recipient,
                                                               Output out, uint64_t chunk_size) {
  if (chunk_size < kMinChunkSize || chunk_size > kMaxChunkSize) {
    return invalidArgumentError("chunk size " + std::to_string(chunk_size) + " is outside [" +
                                std::to_string(kMinChunkSize) + ", " +
                                std::to_string(kMaxChunkSize) + "]");
  }
  SecretBytes dek = crypto::randomSecret(kContentKeyBytes);
  SecretBytes params;
  params.append(asBytes("{\"v\":1,\"cs\":" + std::to_string(chunk_size) + ",\"dek\":\""));
  params.append(encoding::base64UrlEncodeSecret(dek).view(grantSecretAccess()));
  params.append(asBytes("\"}"));
  SKR_ASSIGN_OR_RETURN(std::string line,
                       sealJwe(params.view(grantSecretAccess()), recipient, true));
  line += '\n';
  SKR_RETURN_IF_ERROR(out(asBytes(line)));
  return std::unique_ptr<ChunkedSealer>(
      new ChunkedSealerImpl(std::move(out), chunk_size, std::move(dek)));
}

}  // namespace skr::data
