// Shared helpers of the seal tests: temp dirs, one emulated chip per binary, test keys, bundle
// info.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "common/core/rfc3339.h"
#include "common/crypto/pkey.h"
#include "common/crypto/random.h"
#include "common/jose/jwk.h"
#include "common/seal/bundle.h"
#include "common/seal/sealing_key.h"
#include "common/snp/emulated_chip.h"

namespace skr::seal::testing {

namespace fs = std::filesystem;

template <typename T>
T take(StatusOr<T> s) {
  INFO(s.status().toString());
  REQUIRE(s.ok());
  return std::move(s).value();
}

// Temp dirs are removed when the test binary exits (forked children leave with _exit and do not).
class TempDirs {
 public:
  static TempDirs& instance() {
    static TempDirs dirs;
    return dirs;
  }
  void add(std::string dir) { dirs_.push_back(std::move(dir)); }
  ~TempDirs() {
    for (const std::string& d : dirs_) {
      std::error_code ec;
      fs::remove_all(d, ec);
    }
  }

 private:
  std::vector<std::string> dirs_;
};

inline std::string makeTempDir() {
  std::string templ = (fs::temp_directory_path() / "skr-seal-test-XXXXXX").string();
  REQUIRE(::mkdtemp(templ.data()) != nullptr);
  TempDirs::instance().add(templ);
  return templ;
}

// RSA-4096 chip generation is slow: one chip per test binary; tests that change it use a copy.
inline const std::string& pristineChipDir() {
  static const std::string dir = [] {
    const std::string d = makeTempDir() + "/chip";
    take(snp::EmulatedChip::openOrCreate(d));
    return d;
  }();
  return dir;
}

inline std::string copyOfChip() {
  const std::string d = makeTempDir() + "/chip";
  fs::copy(pristineChipDir(), d, fs::copy_options::recursive);
  return d;
}

inline std::shared_ptr<const snp::SnpDevice> emulatedDevice(const std::string& dir) {
  return std::shared_ptr<const snp::SnpDevice>(take(snp::EmulatedDevice::open(dir)));
}

inline std::shared_ptr<const snp::SnpDevice> pristineDevice() {
  static const std::shared_ptr<const snp::SnpDevice> device = emulatedDevice(pristineChipDir());
  return device;
}

// Writes `bytes` to a new file `name` in a new temp dir with `mode`; returns its path.
inline std::string writeFile(const std::string& name, const Bytes& bytes, mode_t mode) {
  const std::string path = makeTempDir() + "/" + name;
  {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
  }
  REQUIRE(::chmod(path.c_str(), mode) == 0);
  return path;
}

inline const jose::Jwk& rsaKey() {
  static const jose::Jwk key =
      jose::Jwk::fromPrivateKey(take(crypto::PrivateKey::generateRsa(2048)));
  return key;
}
inline const jose::Jwk& rsaKey2() {
  static const jose::Jwk key =
      jose::Jwk::fromPrivateKey(take(crypto::PrivateKey::generateRsa(2048)));
  return key;
}
inline jose::Jwk ecKey() {
  return jose::Jwk::fromPrivateKey(take(crypto::PrivateKey::generateEc(crypto::Curve::P256)));
}
inline jose::Jwk octKey() {
  return take(jose::Jwk::fromOctet(crypto::randomSecret(32)));
}

inline BundleInfo sampleInfo(bool emulated = true, BundleKind kind = BundleKind::Key) {
  BundleInfo info;
  info.kind = kind;
  info.key_name = "data-kek";
  info.vault = "myvault.vault.azure.net";
  info.kid = kind == BundleKind::Key
                 ? "https://myvault.vault.azure.net/keys/data-kek/0123456789abcdef0123456789abcdef"
                 : "";
  info.key_ops = {"wrapKey", "unwrapKey"};
  info.released_at = take(parseRfc3339("2026-11-28T10:00:00Z"));
  info.maa = MaaTokenInfo::describe("https://sharedeus.eus.attest.azure.net", "header.claims.sig",
                                    take(parseRfc3339("2026-11-28T18:00:00Z")));
  info.hostdata = std::string(64, 'a');
  info.platform = emulated ? "emulated" : "sev-guest";
  info.emulated = emulated;
  return info;
}

}  // namespace skr::seal::testing
