#include "common/release/data_delivery.h"

#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/crypto/aes_key_wrap.h"
#include "common/crypto/random.h"
#include "common/crypto/rsa_oaep.h"

namespace skr::release {
namespace {

// A fresh directory on /dev/shm (a tmpfs on Linux), removed at scope exit.
class ShmDir {
 public:
  ShmDir() {
    std::string templ = "/dev/shm/skr-data-test-XXXXXX";
    REQUIRE(::mkdtemp(templ.data()) != nullptr);
    path_ = templ;
  }
  ~ShmDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(path_)) {
      names.push_back(e.path().filename().string());
    }
    return names;
  }

 private:
  std::string path_;
};

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

SecretBytes secret(std::string_view text) {
  return SecretBytes::copyOf(asBytes(text));
}

TEST_CASE("a plaintext file has no name until commit, and dropping it leaves nothing", "[data]") {
  ShmDir dir;
  const std::string path = dir.path() + "/model.bin";
  {
    auto file = PlaintextFile::create(path, 0440);
    REQUIRE(file.ok());
    REQUIRE((*file)->write(secret("first part, ")).ok());
    REQUIRE((*file)->write(secret("second part")).ok());
    CHECK((*file)->bytesWritten() == 23);
    CHECK(dir.entries().empty());  // nothing visible while it is being written
  }
  CHECK(dir.entries().empty());  // never committed: gone

  auto file = PlaintextFile::create(path, 0440);
  REQUIRE(file.ok());
  REQUIRE((*file)->write(secret("all of it")).ok());
  REQUIRE((*file)->commit().ok());
  CHECK(dir.entries() == std::vector<std::string>{"model.bin"});
  CHECK(readFile(path) == "all of it");
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0440);

  // A second run replaces the file atomically; rolling back removes what it put there.
  auto again = PlaintextFile::create(path, 0400);
  REQUIRE(again.ok());
  REQUIRE((*again)->write(secret("newer")).ok());
  CHECK(readFile(path) == "all of it");
  REQUIRE((*again)->commit().ok());
  CHECK(readFile(path) == "newer");
  REQUIRE((*again)->removeCommitted().ok());
  CHECK(dir.entries().empty());
}

TEST_CASE("plaintext is refused on a directory that is not a tmpfs, or missing", "[data]") {
  // The build tree is on a disk file system here (the test checks that assumption first).
  const std::string disk_dir = std::filesystem::current_path().string();
  auto on_disk = PlaintextFile::create(disk_dir + "/plain.bin", 0400);
  if (on_disk.ok()) {
    WARN("the working directory is a tmpfs here: the disk case is not exercised");
  } else {
    CHECK(on_disk.status().code() == StatusCode::FailedPrecondition);
    CHECK(on_disk.status().message().find("is not a tmpfs") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(disk_dir + "/plain.bin"));
  }
  auto missing = PlaintextFile::create("/dev/shm/skr-no-such-dir-4711/plain.bin", 0400);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == StatusCode::FailedPrecondition);
  CHECK(missing.status().message().find("skr-no-such-dir-4711") != std::string::npos);
}

TEST_CASE("released keys open content keys by exact kid, RSA-OAEP-256 and A256KW", "[data]") {
  auto rsa = crypto::PrivateKey::generateRsa(2048);
  REQUIRE(rsa.ok());
  const crypto::PublicKey rsa_public = rsa->publicKey();
  azure::ReleasedKey rsa_key{jose::Jwk::fromPrivateKey(std::move(rsa).value()),
                             "https://v.vault.azure.net/keys/data-kek/v1",
                             "v1",
                             "v.vault.azure.net",
                             "RSA-HSM",
                             azure::KeyExportEnc::RsaAesKeyWrap256,
                             1};
  const SecretBytes kek = SecretBytes::copyOf(crypto::randomBytes(32));
  auto oct_jwk = jose::Jwk::fromOctet(kek.clone());
  REQUIRE(oct_jwk.ok());
  azure::ReleasedKey oct_key{std::move(oct_jwk).value(),
                             "https://h.managedhsm.azure.net/keys/aes/v7",
                             "v7",
                             "h.managedhsm.azure.net",
                             "oct-HSM",
                             azure::KeyExportEnc::RsaAesKeyWrap256,
                             1};
  ReleasedKeyResolver resolver;
  resolver.add(rsa_key);
  resolver.add(oct_key);

  const SecretBytes cek = SecretBytes::copyOf(crypto::randomBytes(32));
  auto rsa_wrapped =
      crypto::rsaOaepEncrypt(rsa_public, crypto::HashAlg::Sha256, cek.view(grantSecretAccess()));
  REQUIRE(rsa_wrapped.ok());
  auto opened = resolver.decryptContentKey(rsa_key.kid, "RSA-OAEP-256", *rsa_wrapped);
  REQUIRE(opened.ok());
  CHECK(*opened == cek);

  auto kw = crypto::aesKeyWrap(kek, cek);
  REQUIRE(kw.ok());
  auto unwrapped = resolver.decryptContentKey(oct_key.kid, "A256KW", *kw);
  REQUIRE(unwrapped.ok());
  CHECK(*unwrapped == cek);

  // Another version of the same key: NotFound naming both kids.
  auto other = resolver.decryptContentKey("https://v.vault.azure.net/keys/data-kek/v2",
                                          "RSA-OAEP-256", *rsa_wrapped);
  REQUIRE_FALSE(other.ok());
  CHECK(other.status().code() == StatusCode::NotFound);
  CHECK(other.status().message().find("data-kek/v2") != std::string::npos);
  CHECK(other.status().message().find("data-kek/v1") != std::string::npos);

  // The algorithm must suit the key; a wrong ciphertext is an integrity failure.
  CHECK(resolver.decryptContentKey(rsa_key.kid, "A256KW", *kw).status().code() ==
        StatusCode::InvalidArgument);
  CHECK(resolver.decryptContentKey(oct_key.kid, "RSA-OAEP-256", *rsa_wrapped).status().code() ==
        StatusCode::InvalidArgument);
  Bytes tampered = *kw;
  tampered[5] ^= 1;
  CHECK(resolver.decryptContentKey(oct_key.kid, "A256KW", tampered).status().code() ==
        StatusCode::DataLoss);
  CHECK(resolver.decryptContentKey(oct_key.kid, "dir", *kw).status().code() ==
        StatusCode::InvalidArgument);
}

}  // namespace
}  // namespace skr::release
