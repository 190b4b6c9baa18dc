// skr-init's encrypted data (config data[], docs/encrypted-data.md, issue 18): after the key
// release, each object is read from its source, authenticated and decrypted with the key version
// just released, and its plaintext written to a file on tmpfs that has no name until the whole
// object authenticated (O_TMPFILE, linked and renamed into place by commit()). A failure at any
// point leaves no plaintext under any name.
// Secrets touched: the released keys (borrowed), content keys and plaintext (SecretBytes, then
// the tmpfs file).
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/azure/released_key.h"
#include "common/config/config.h"
#include "common/core/clock.h"
#include "common/core/status.h"
#include "common/data/envelope.h"
#include "common/data/object_source.h"
#include "common/http/retry.h"

namespace skr::release {

// Opens content keys with released keys (borrowed; they must outlive the resolver). A kid that is
// not one of them is NotFound naming both the object's kid and the released ones.
class ReleasedKeyResolver final : public data::KeyResolver {
 public:
  void add(const azure::ReleasedKey& key) { keys_.push_back(&key); }
  StatusOr<SecretBytes> decryptContentKey(const std::string& kid, const std::string& alg,
                                          ByteView encrypted_key) override;

 private:
  std::vector<const azure::ReleasedKey*> keys_;
};

// The content key of a JWE for one key: RSA-OAEP-256 with an RSA private key, A256KW with a
// 32-byte oct key. InvalidArgument when alg does not suit the key; DataLoss when it does not
// decrypt. Shared by skr-init (released keys) and skr-agent (its keyring).
StatusOr<SecretBytes> decryptContentKeyWith(const jose::Jwk& key, const std::string& alg,
                                            ByteView encrypted_key);

// Where `path`'s plaintext goes until it is complete. Checks, before anything is fetched: the
// directory exists and is a tmpfs (or ramfs), so plaintext never reaches a disk.
class PlaintextFile final : public data::PlaintextSink {
 public:
  // FailedPrecondition naming the directory when it is missing or not a tmpfs; the file is
  // created with `mode` before any byte is written.
  static StatusOr<std::unique_ptr<PlaintextFile>> create(const std::string& path, mode_t mode);
  ~PlaintextFile() override;
  PlaintextFile(const PlaintextFile&) = delete;
  PlaintextFile& operator=(const PlaintextFile&) = delete;

  Status write(const SecretBytes& plaintext) override;
  // fsync, then the file appears at `path` atomically (replacing an older one); the directory
  // is fsynced. After a failed commit nothing new is at `path`.
  Status commit();
  // Removes the file commit() put in place (rolling back a run that failed later).
  Status removeCommitted();
  uint64_t bytesWritten() const { return written_; }
  const std::string& path() const { return path_; }

 private:
  PlaintextFile(int fd, int dir_fd, std::string path, bool anonymous, std::string temp_path)
      : fd_(fd),
        dir_fd_(dir_fd),
        path_(std::move(path)),
        anonymous_(anonymous),
        temp_path_(std::move(temp_path)) {}
  int fd_;
  int dir_fd_;
  std::string path_;
  bool anonymous_;         // O_TMPFILE: no name until commit
  std::string temp_path_;  // else the named temporary (removed unless committed)
  uint64_t written_ = 0;
  bool committed_ = false;
};

// Makes the source of one data[] entry (production: the Blob Storage reader with the identity's
// token, a SAS from sas_file, or anonymous).
using DataSourceFactory = std::function<StatusOr<std::unique_ptr<data::ObjectSource>>(
    const config::DataConfig& entry, Clock& clock, http::JitterSource& jitter)>;

}  // namespace skr::release
