// Where an encrypted object's bytes come from, and where its plaintext goes
// (docs/encrypted-data.md). The envelope reader (common/data/envelope.h) reads through
// ObjectSource, so the same code opens a local file (FileObjectSource, below), an Azure blob read
// by ranges (common/azure/blob_reader.h) or bytes in memory (tests, fuzzing), and writes through
// PlaintextSink, so the plaintext goes to a temporary file (skr-init) or to a caller's socket (the
// agent) without a second copy in memory.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/core/bytes.h"
#include "common/core/secret_bytes.h"
#include "common/core/status.h"

namespace skr::data {

// Random access to an object whose size is known once it is opened. Not thread-safe: one reader.
class ObjectSource {
 public:
  virtual ~ObjectSource() = default;
  // The object's size in bytes (a blob source learns it from its first read; it may read then).
  virtual StatusOr<uint64_t> size() = 0;
  // Exactly `length` bytes at `offset` (offset + length <= size()); InvalidArgument past the end.
  // A source that notices the object changed between reads (a blob's ETag) answers
  // FailedPrecondition.
  virtual StatusOr<Bytes> read(uint64_t offset, std::size_t length) = 0;
  // For messages: "file model.skr", "blob https://acct.blob.core.windows.net/c/model.skr" (never
  // a SAS signature or a token).
  virtual std::string describe() const = 0;
};

// Receives authenticated plaintext in order. A failed write stops the reader (its Status is
// returned). The reader never hands over plaintext it has not authenticated.
class PlaintextSink {
 public:
  virtual ~PlaintextSink() = default;
  virtual Status write(const SecretBytes& plaintext) = 0;
};

// An object in memory (tests, fuzzing, small objects already fetched).
class MemoryObjectSource final : public ObjectSource {
 public:
  explicit MemoryObjectSource(Bytes bytes, std::string name = "object in memory")
      : bytes_(std::move(bytes)), name_(std::move(name)) {}
  StatusOr<uint64_t> size() override { return static_cast<uint64_t>(bytes_.size()); }
  StatusOr<Bytes> read(uint64_t offset, std::size_t length) override;
  std::string describe() const override { return name_; }

 private:
  Bytes bytes_;
  std::string name_;
};

// A regular file read with pread; the size is taken once when opened.
class FileObjectSource final : public ObjectSource {
 public:
  // NotFound / PermissionDenied / FailedPrecondition (not a regular file) naming the path.
  static StatusOr<std::unique_ptr<FileObjectSource>> open(const std::string& path);
  ~FileObjectSource() override;
  FileObjectSource(const FileObjectSource&) = delete;
  FileObjectSource& operator=(const FileObjectSource&) = delete;
  StatusOr<uint64_t> size() override { return size_; }
  StatusOr<Bytes> read(uint64_t offset, std::size_t length) override;
  std::string describe() const override { return "file " + path_; }

 private:
  FileObjectSource(int fd, uint64_t size, std::string path)
      : fd_(fd), size_(size), path_(std::move(path)) {}
  int fd_;
  uint64_t size_;
  std::string path_;
};

}  // namespace skr::data
