#include "common/release/data_delivery.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/crypto/aes_key_wrap.h"
#include "common/crypto/random.h"
#include "common/crypto/rsa_oaep.h"
#include "common/encoding/hex.h"

namespace skr::release {
namespace {

std::string errnoText(int err) {
  return std::strerror(err);
}

std::string directoryOf(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string baseName(const std::string& path) {
  return path.substr(path.rfind('/') + 1);
}

}  // namespace

StatusOr<SecretBytes> decryptContentKeyWith(const jose::Jwk& key, const std::string& alg,
                                            ByteView encrypted_key) {
  if (alg == "RSA-OAEP-256") {
    StatusOr<const crypto::PrivateKey*> private_key = key.privateKey();
    if (!private_key.ok() || key.type() != jose::JwkType::Rsa) {
      return invalidArgumentError("alg RSA-OAEP-256 needs an RSA key; " + key.kid() + " is " +
                                  std::string(jose::jwkTypeName(key.type())));
    }
    StatusOr<SecretBytes> cek =
        crypto::rsaOaepDecrypt(**private_key, crypto::HashAlg::Sha256, encrypted_key);
    if (!cek.ok()) {
      return dataLossError("the content key does not decrypt with " + key.kid() +
                           " (RSA-OAEP-256): the object was sealed to another key");
    }
    return cek;
  }
  if (alg == "A256KW") {
    StatusOr<const SecretBytes*> octet = key.octet();
    if (!octet.ok() || (*octet)->size() != 32) {
      return invalidArgumentError("alg A256KW needs a 256-bit oct key; " + key.kid() + " is not");
    }
    StatusOr<SecretBytes> cek = crypto::aesKeyUnwrap(**octet, encrypted_key);
    if (!cek.ok()) {
      return dataLossError("the content key does not unwrap with " + key.kid() +
                           " (A256KW): the object was sealed to another key");
    }
    return cek;
  }
  return invalidArgumentError("unsupported content key algorithm " + alg +
                              " (expected RSA-OAEP-256 or A256KW)");
}

StatusOr<SecretBytes> ReleasedKeyResolver::decryptContentKey(const std::string& kid,
                                                             const std::string& alg,
                                                             ByteView encrypted_key) {
  std::string held;
  for (const azure::ReleasedKey* key : keys_) {
    if (key->kid == kid) return decryptContentKeyWith(key->key, alg, encrypted_key);
    held += (held.empty() ? "" : ", ") + key->kid;
  }
  return notFoundError("the object is sealed to " + kid + ", but this run released " +
                       (held.empty() ? std::string("no version of that key") : held) +
                       ": seal it to the released version, or pin keys[].version");
}

StatusOr<std::unique_ptr<PlaintextFile>> PlaintextFile::create(const std::string& path,
                                                               mode_t mode) {
  const std::string dir = directoryOf(path);
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) {
    return failedPreconditionError("cannot open the directory " + dir + " of " + path + ": " +
                                   errnoText(errno) + " (mount a tmpfs volume there)");
  }
  struct statfs fs {};
  if (::fstatfs(dir_fd, &fs) != 0) {
    const int err = errno;
    ::close(dir_fd);
    return failedPreconditionError("statfs " + dir + ": " + errnoText(err));
  }
  if (fs.f_type != TMPFS_MAGIC && fs.f_type != RAMFS_MAGIC) {
    ::close(dir_fd);
    return failedPreconditionError(dir +
                                   " is not a tmpfs: plaintext would reach a disk (mount a "
                                   "tmpfs / emptyDir medium Memory there)");
  }
  // O_TMPFILE: the file has no name until commit(), so a crash leaves nothing behind.
  int fd = ::openat(dir_fd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, mode);
  bool anonymous = true;
  std::string temp_path;
  if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
    anonymous = false;
    temp_path = "." + baseName(path) + ".tmp-" + encoding::hexEncode(crypto::randomBytes(8));
    fd = ::openat(dir_fd, temp_path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW,
                  mode);
  }
  if (fd < 0) {
    const int err = errno;
    ::close(dir_fd);
    return failedPreconditionError("cannot create a file in " + dir + ": " + errnoText(err));
  }
  if (::fchmod(fd, mode) != 0) {  // the umask must not widen or narrow what the config says
    const int err = errno;
    ::close(fd);
    if (!anonymous) ::unlinkat(dir_fd, temp_path.c_str(), 0);
    ::close(dir_fd);
    return failedPreconditionError("chmod in " + dir + ": " + errnoText(err));
  }
  return std::unique_ptr<PlaintextFile>(
      new PlaintextFile(fd, dir_fd, path, anonymous, std::move(temp_path)));
}

PlaintextFile::~PlaintextFile() {
  if (fd_ >= 0) {
    // Drop the pages of a file that never got a name (truncate first: cheap, immediate).
    if (!committed_) [[maybe_unused]]
      const int truncated = ::ftruncate(fd_, 0);
    ::close(fd_);
  }
  if (!committed_ && !anonymous_) ::unlinkat(dir_fd_, temp_path_.c_str(), 0);
  ::close(dir_fd_);
}

Status PlaintextFile::write(const SecretBytes& plaintext) {
  const ByteView bytes = plaintext.view(grantSecretAccess());
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      return resourceExhaustedError(
          "cannot write " + path_ + ": " + errnoText(err) +
          (err == ENOSPC ? " (the tmpfs is too small for the object)" : ""));
    }
    done += static_cast<std::size_t>(n);
  }
  written_ += bytes.size();
  return okStatus();
}

Status PlaintextFile::commit() {
  if (committed_) return okStatus();
  if (::fsync(fd_) != 0) return internalError("fsync " + path_ + ": " + errnoText(errno));
  std::string temp = temp_path_;
  if (anonymous_) {
    temp = "." + baseName(path_) + ".tmp-" + encoding::hexEncode(crypto::randomBytes(8));
    const std::string proc = "/proc/self/fd/" + std::to_string(fd_);
    if (::linkat(AT_FDCWD, proc.c_str(), dir_fd_, temp.c_str(), AT_SYMLINK_FOLLOW) != 0) {
      return internalError("cannot give " + path_ + " a name: " + errnoText(errno));
    }
  }
  if (::renameat(dir_fd_, temp.c_str(), dir_fd_, baseName(path_).c_str()) != 0) {
    const int err = errno;
    ::unlinkat(dir_fd_, temp.c_str(), 0);
    return internalError("cannot rename into " + path_ + ": " + errnoText(err));
  }
  committed_ = true;
  if (::fsync(dir_fd_) != 0)
    return internalError("fsync " + directoryOf(path_) + ": " + errnoText(errno));
  return okStatus();
}

Status PlaintextFile::removeCommitted() {
  if (!committed_) return okStatus();
  if (::unlinkat(dir_fd_, baseName(path_).c_str(), 0) != 0 && errno != ENOENT) {
    return internalError("cannot remove " + path_ + ": " + errnoText(errno));
  }
  committed_ = false;
  return okStatus();
}

}  // namespace skr::release
