// Fuzz target: the encrypted-object envelope reader (common/data/envelope.h). The object comes
// from Blob Storage or a file that whoever can write the container or the blob controls, so
// readHeader() and openObject() must fail cleanly on anything. Content keys open with a fixed oct
// key (32 bytes of 0x5a) for kid "https://vault.example/keys/fuzz/v1"; the seeds are sealed to it
// (`skrctl seal-data --to` that JWK), so mutations reach the chunk parameters, the chunk layout
// and every chunk's tag; any other kid is NotFound. Small limits (compact 1 MiB, reads of three
// 4 KiB chunks) exercise the bounds and the read batching.
// Properties: no crash; errors are InvalidArgument, NotFound, DataLoss or ResourceExhausted with a
// bounded message; a success delivered exactly plaintext_bytes in pieces of at most one chunk, and
// readHeader() agrees with it; the reader never reads past the object or more than the limit.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/crypto/aes_key_wrap.h"
#include "common/data/envelope.h"

namespace {

using skr::ByteView;
using skr::SecretBytes;
using skr::Status;
using skr::StatusCode;
using skr::StatusOr;

constexpr const char* kKid = "https://vault.example/keys/fuzz/v1";

class FixedKeys final : public skr::data::KeyResolver {
 public:
  StatusOr<SecretBytes> decryptContentKey(const std::string& kid, const std::string& alg,
                                          ByteView encrypted_key) override {
    if (kid != kKid) return skr::notFoundError("no key version " + kid);
    if (alg != "A256KW") return skr::invalidArgumentError("alg does not suit an oct key");
    SecretBytes key = SecretBytes::copyOf(skr::asBytes(std::string(32, '\x5a')));
    return skr::crypto::aesKeyUnwrap(key, encrypted_key);
  }
};

class CheckedSource final : public skr::data::ObjectSource {
 public:
  CheckedSource(const uint8_t* data, size_t size, std::size_t max_read)
      : inner_(skr::Bytes(data, data + size)), size_(size), max_read_(max_read) {}
  StatusOr<uint64_t> size() override { return size_; }
  StatusOr<skr::Bytes> read(uint64_t offset, std::size_t length) override {
    if (offset > size_ || length > size_ - offset) std::abort();  // past the object
    if (length > max_read_) std::abort();                         // past the read bound
    return inner_.read(offset, length);
  }
  std::string describe() const override { return "fuzz object"; }

 private:
  skr::data::MemoryObjectSource inner_;
  uint64_t size_;
  std::size_t max_read_;
};

class CountingSink final : public skr::data::PlaintextSink {
 public:
  Status write(const SecretBytes& plaintext) override {
    if (plaintext.empty() || plaintext.size() > skr::data::kMaxChunkSize) std::abort();
    total += plaintext.size();
    return skr::okStatus();
  }
  uint64_t total = 0;
};

bool expectedError(const Status& s) {
  const StatusCode c = s.code();
  return (c == StatusCode::InvalidArgument || c == StatusCode::NotFound ||
          c == StatusCode::DataLoss || c == StatusCode::ResourceExhausted) &&
         s.message().size() < 4096;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  skr::data::OpenLimits limits;
  limits.max_compact_bytes = 1024 * 1024;
  limits.read_bytes = 3 * (4096 + 16);
  // The reader reads at most: the compact object whole, the header prefix, or read_bytes plus
  // one chunk.
  const std::size_t max_read =
      std::max<std::size_t>({limits.max_compact_bytes, skr::data::kMaxHeaderLineBytes,
                             limits.read_bytes + skr::data::kMaxChunkSize + 16});
  FixedKeys keys;
  CheckedSource header_source(data, size, max_read);
  StatusOr<skr::data::EnvelopeHeader> header = skr::data::readHeader(header_source);
  if (!header.ok() && !expectedError(header.status())) std::abort();

  CheckedSource source(data, size, max_read);
  CountingSink sink;
  StatusOr<skr::data::OpenedObject> opened = skr::data::openObject(source, keys, sink, limits);
  if (!opened.ok()) {
    if (!expectedError(opened.status())) std::abort();
    return 0;
  }
  if (!header.ok()) std::abort();  // opened, but its header did not read
  if (sink.total != opened->plaintext_bytes) std::abort();
  if (opened->header.kid != kKid || opened->header.form != header->form) std::abort();
  if (opened->header.form == skr::data::EnvelopeForm::Chunked) {
    if (opened->chunks == 0 || opened->plaintext_bytes + 16 * opened->chunks > size) std::abort();
  } else if (opened->chunks != 0 || opened->plaintext_bytes > size) {
    std::abort();
  }
  return 0;
}
