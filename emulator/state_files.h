// File helpers for the emulator's state directory: atomic writes (tmp + fsync + rename + directory
// fsync) with an explicit mode, bounded reads, directory creation. Status instead of exceptions.
#pragma once

#include <sys/types.h>

#include <string>

#include "common/core/bytes.h"
#include "common/core/secret_bytes.h"
#include "common/core/status.h"

namespace skr::emulator {

// Creates `dir` (one level; parents must exist) with `mode` unless it exists as a directory.
Status ensureDirectory(const std::string& dir, mode_t mode = 0700);
// Writes `data` to `path` atomically with `mode` (the tmp file is created with that mode).
Status writeFileAtomic(const std::string& path, ByteView data, mode_t mode);
Status writeSecretFileAtomic(const std::string& path, const SecretBytes& data);  // mode 0600
// Reads a whole regular file of at most `max_bytes`. NotFound when it does not exist.
StatusOr<std::string> readTextFile(const std::string& path, std::size_t max_bytes = 4 << 20);
StatusOr<SecretBytes> readSecretFile(const std::string& path, std::size_t max_bytes = 1 << 20);
bool fileExists(const std::string& path);
// Names of the entries of `dir` (no "." / ".."); empty when it does not exist.
std::vector<std::string> listDirectory(const std::string& dir);

}  // namespace skr::emulator
