// The encrypted-object envelope (docs/encrypted-data.md "Format", issue 18). Two forms, both
// starting with a JWE (RFC 7516) compact serialization whose protected header names
//   alg  "RSA-OAEP-256" (the content key encrypted to the RSA key's public part) or "A256KW"
//        (wrapped with a 256-bit oct key),
//   enc  "A256GCM",
//   kid  "https://{vault host}/keys/{name}/{version}": the key version that opens it.
// zip, crit, jku/jwk/x5u and any other alg or enc are refused; kid is required.
//
// Compact: the object is the JWE compact serialization (trailing ASCII whitespace allowed), the
// JWE plaintext is the data. Any JOSE library produces it. At most OpenLimits::max_compact_bytes.
//
// Chunked (large objects): the protected header also has cty "application/vnd.skr.chunked.v1+json".
// The object is that JWE, a line feed (the header line, at most kMaxHeaderLineBytes), then chunks.
// The JWE plaintext is {"v":1,"cs":<chunk size>,"dek":"<base64url of 32 random bytes>"}, exactly
// these members, cs in [kMinChunkSize, kMaxChunkSize]. Chunk i (from 0) is
//   AES-256-GCM(dek, iv = 00 00 00 00 || uint64be(i),
//               aad = "skr-chunked-v1" || uint64be(i) || final (01 for the last chunk, else 00))
// written as ciphertext || 16-byte tag. Every chunk but the last holds exactly cs plaintext
// bytes; the last holds 1..cs (0 only when it is the only chunk: the empty object). The index in
// the IV and the AAD detects reordering and substitution; the final flag detects truncation at a
// chunk boundary and appended chunks.
//
// Errors: InvalidArgument for a malformed envelope, NotFound when the resolver has no key for
// the kid, DataLoss when a tag or the content key does not verify (naming the chunk), and
// ResourceExhausted past a limit. Plaintext reaches the sink only after its tag verified; a
// caller that must not expose a prefix of a failed object (skr-init) writes to a temporary file
// and keeps it only when openObject succeeded.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/core/bytes.h"
#include "common/core/secret_bytes.h"
#include "common/core/status.h"
#include "common/crypto/pkey.h"
#include "common/data/object_source.h"

namespace skr::data {

inline constexpr std::string_view kChunkedContentType = "application/vnd.skr.chunked.v1+json";
inline constexpr std::string_view kChunkAadLabel = "skr-chunked-v1";
inline constexpr std::size_t kMaxHeaderLineBytes = 16 * 1024;
inline constexpr uint64_t kMinChunkSize = 4 * 1024;
inline constexpr uint64_t kMaxChunkSize = 16 * 1024 * 1024;
inline constexpr uint64_t kDefaultChunkSize = 1024 * 1024;

enum class EnvelopeForm { Compact, Chunked };
std::string_view envelopeFormName(EnvelopeForm form);  // "compact", "chunked"

// What the protected header says, before any key is used (for authorization and key lookup).
struct EnvelopeHeader {
  EnvelopeForm form = EnvelopeForm::Compact;
  std::string alg;  // "RSA-OAEP-256" or "A256KW"
  std::string enc;  // "A256GCM"
  std::string kid;
};

// Reads and checks the protected header from the object's first bytes (at most
// kMaxHeaderLineBytes are read).
StatusOr<EnvelopeHeader> readHeader(ObjectSource& source);

// Decrypts a JWE content-encryption key for a kid. The agent resolves the kid in its keyring
// (any version it holds), skr-init against the key it just released.
class KeyResolver {
 public:
  virtual ~KeyResolver() = default;
  // NotFound (naming the kid) when no such key version is held; DataLoss when the encrypted key
  // does not decrypt. `alg` is "RSA-OAEP-256" or "A256KW" and must suit the key's type
  // (InvalidArgument otherwise).
  virtual StatusOr<SecretBytes> decryptContentKey(const std::string& kid, const std::string& alg,
                                                  ByteView encrypted_key) = 0;
};

struct OpenLimits {
  uint64_t max_compact_bytes = 64ull * 1024 * 1024;  // the compact form is held in memory
  std::size_t read_bytes = 4 * 1024 * 1024;          // bytes per source read (whole chunks)
};

struct OpenedObject {
  EnvelopeHeader header;
  uint64_t plaintext_bytes = 0;
  uint64_t chunks = 0;  // 0 for the compact form
};

// Reads, authenticates and decrypts the whole object, handing plaintext to `sink` in order.
// Memory stays bounded by read_bytes plus one chunk for the chunked form.
StatusOr<OpenedObject> openObject(ObjectSource& source, KeyResolver& keys, PlaintextSink& sink,
                                  const OpenLimits& limits = {});

// Who an object is sealed to (skrctl seal-data, tests): the kid written into the header and the
// key: an RSA public key (alg RSA-OAEP-256) or a 32-byte oct key (alg A256KW).
struct Recipient {
  std::string kid;
  std::string alg;                               // "RSA-OAEP-256" or "A256KW"
  std::shared_ptr<const crypto::PublicKey> rsa;  // for RSA-OAEP-256
  std::shared_ptr<const SecretBytes> oct;        // for A256KW
};
// A recipient from JWK text: a public (or private) RSA JWK, or an oct JWK with a 32-byte "k".
// The JWK's kid is used unless `kid` is given; one of them must name a key version.
StatusOr<Recipient> recipientFromJwk(const SecretBytes& jwk_text, std::string_view kid = {});

// The compact form of `plaintext`.
StatusOr<std::string> sealCompact(ByteView plaintext, const Recipient& recipient);

// The chunked form, streamed: feed plaintext in any pieces, then finish(). Output goes to `out`
// as it is produced (header line first). Memory stays bounded by one chunk.
class ChunkedSealer {
 public:
  using Output = std::function<Status(ByteView)>;
  static StatusOr<std::unique_ptr<ChunkedSealer>> create(const Recipient& recipient, Output out,
                                                         uint64_t chunk_size = kDefaultChunkSize);
  virtual ~ChunkedSealer() = default;
  virtual Status write(ByteView plaintext) = 0;
  virtual Status finish() = 0;  // writes the final chunk; the sealer is spent afterwards
};

}  // namespace skr::data
