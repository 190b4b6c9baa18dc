#include "common/seal/sealing_key.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <utility>

#include "common/crypto/digest.h"
#include "common/encoding/hex.h"
#include "common/log/logger.h"
#include "common/seal/file_checks.h"
#include "common/snp/device_file.h"
#include "common/snp/report.h"

namespace skr::seal {
namespace {

constexpr std::string_view kLabelPrefix = "skr-sealed-key/1 sealing key ";

std::string hkdfLabel(SealProviderKind kind) {
  return std::string(kLabelPrefix) + std::string(sealProviderName(kind));
}

// HKDF-SHA-256(ikm = raw key, salt = empty, info = label) -> 32 bytes.
StatusOr<SecretBytes> expand(const SecretBytes& raw, const std::string& label) {
  return crypto::hkdf(crypto::HashAlg::Sha256, raw, {}, asBytes(label), kSealingKeySize);
}

class SnpDerivedProvider final : public SealingKeyProvider {
 public:
  SnpDerivedProvider(SealProviderKind kind, std::shared_ptr<const snp::SnpDevice> device,
                     SnpDerivedOptions options)
      : kind_(kind), device_(std::move(device)), options_(options) {}

  SealProviderKind kind() const override { return kind_; }
  bool emulated() const override {
    return kind_ == SealProviderKind::Emulated || device_->name() == "emulated";
  }

  json::ObjectPtr parameters() const override {
    json::ObjectPtr p = new Poco::JSON::Object();
    p->set("root_key", "vcek");
    p->set("guest_field_select", static_cast<int64_t>(kSnpDerivedFieldSelect));
    p->set("vmpl", static_cast<int64_t>(options_.vmpl));
    p->set("guest_svn", static_cast<int64_t>(options_.guest_svn));
    p->set("tcb_version", static_cast<int64_t>(0));
    p->set("kdf", "HKDF-SHA-256");
    p->set("kdf_salt", "HOST_DATA");
    p->set("kdf_info", hkdfLabel(kind_));
    return p;
  }

  StatusOr<SecretBytes> sealingKey() const override {
    const std::string ctx = "sealing key (" + std::string(sealProviderName(kind_)) + " via " +
                            std::string(device_->name()) + ")";
    // HOST_DATA (the CCE policy hash on ACI) has no guest_field_select bit, and on ACI every
    // container group runs the same UVM image (same measurement): mixing HOST_DATA from a fresh
    // firmware report into the HKDF salt binds the key to this group's policy as well.
    const std::array<uint8_t, 64> zero_report_data{};
    StatusOr<Bytes> report_bytes = device_->getReport(zero_report_data, options_.vmpl);
    if (!report_bytes.ok()) return report_bytes.status().withContext(ctx + ": HOST_DATA");
    StatusOr<snp::SnpReport> report = snp::SnpReport::parse(*report_bytes);
    if (!report.ok()) return report.status().withContext(ctx + ": HOST_DATA");

    snp::DerivedKeyRequest request;
    request.root_key_select = snp::RootKey::Vcek;
    request.guest_field_select = kSnpDerivedFieldSelect;
    request.vmpl = options_.vmpl;
    request.guest_svn = options_.guest_svn;
    request.tcb_version = 0;
    StatusOr<SecretBytes> raw = device_->getDerivedKey(request);
    if (!raw.ok()) return raw.status().withContext(ctx);
    if (raw->size() != kSealingKeySize) {
      return internalError(ctx + ": derived key is " + std::to_string(raw->size()) +
                           " bytes, expected 32");
    }
    const std::string label = hkdfLabel(kind_);
    return crypto::hkdf(crypto::HashAlg::Sha256, *raw, report->host_data, asBytes(label),
                        kSealingKeySize);
  }

 private:
  SealProviderKind kind_;
  std::shared_ptr<const snp::SnpDevice> device_;
  SnpDerivedOptions options_;
};

class KeyfileProvider final : public SealingKeyProvider {
 public:
  KeyfileProvider(SecretBytes key, std::string key_id)
      : key_(std::move(key)), key_id_(std::move(key_id)) {}

  SealProviderKind kind() const override { return SealProviderKind::Keyfile; }
  bool emulated() const override { return false; }
  json::ObjectPtr parameters() const override {
    json::ObjectPtr p = new Poco::JSON::Object();
    p->set("key_id", key_id_);
    p->set("kdf", "HKDF-SHA-256");
    p->set("kdf_info", hkdfLabel(SealProviderKind::Keyfile));
    return p;
  }
  StatusOr<SecretBytes> sealingKey() const override { return key_.clone(); }

 private:
  SecretBytes key_;  // already expanded
  std::string key_id_;
};

class NoneProvider final : public SealingKeyProvider {
 public:
  SealProviderKind kind() const override { return SealProviderKind::None; }
  bool emulated() const override { return false; }
  json::ObjectPtr parameters() const override { return new Poco::JSON::Object(); }
  StatusOr<SecretBytes> sealingKey() const override {
    return failedPreconditionError("seal provider 'none' has no sealing key");
  }
};

Status checkDevice(const std::shared_ptr<const snp::SnpDevice>& device, SealProviderKind kind) {
  if (device == nullptr) {
    return invalidArgumentError(std::string("seal provider '") +
                                std::string(sealProviderName(kind)) + "': no SNP device");
  }
  return okStatus();
}

}  // namespace

std::string_view sealProviderName(SealProviderKind kind) {
  switch (kind) {
    case SealProviderKind::SnpDerived: return "snp-derived";
    case SealProviderKind::Keyfile: return "keyfile";
    case SealProviderKind::Emulated: return "emulated";
    case SealProviderKind::None: return "none";
  }
  return "unknown";
}

StatusOr<SealProviderKind> parseSealProvider(std::string_view name) {
  for (SealProviderKind k : {SealProviderKind::SnpDerived, SealProviderKind::Keyfile,
                             SealProviderKind::Emulated, SealProviderKind::None}) {
    if (name == sealProviderName(k)) return k;
  }
  return invalidArgumentError("seal provider '" + std::string(name.substr(0, 64)) +
                              "' is unknown; expected snp-derived, keyfile, emulated or none");
}

StatusOr<std::unique_ptr<SealingKeyProvider>> makeSnpDerivedProvider(
    std::shared_ptr<const snp::SnpDevice> device, const SnpDerivedOptions& options) {
  SKR_RETURN_IF_ERROR(checkDevice(device, SealProviderKind::SnpDerived));
  if (options.vmpl > 3) {
    return invalidArgumentError("seal provider 'snp-derived': vmpl " +
                                std::to_string(options.vmpl) + " is out of range 0..3");
  }
  return std::unique_ptr<SealingKeyProvider>(
      new SnpDerivedProvider(SealProviderKind::SnpDerived, std::move(device), options));
}

StatusOr<std::unique_ptr<SealingKeyProvider>> makeEmulatedProvider(
    std::shared_ptr<const snp::SnpDevice> device, const SnpDerivedOptions& options) {
  SKR_RETURN_IF_ERROR(checkDevice(device, SealProviderKind::Emulated));
  if (device->name() != "emulated") {
    return invalidArgumentError("seal provider 'emulated' needs the emulated platform, got '" +
                                std::string(device->name()) + "'");
  }
  if (options.vmpl > 3) {
    return invalidArgumentError("seal provider 'emulated': vmpl " + std::to_string(options.vmpl) +
                                " is out of range 0..3");
  }
  log::warning("seal.emulated_provider",
               {{"message", "sealing keys come from the emulated chip: tests and demos only"}});
  return std::unique_ptr<SealingKeyProvider>(
      new SnpDerivedProvider(SealProviderKind::Emulated, std::move(device), options));
}

StatusOr<std::unique_ptr<SealingKeyProvider>> makeKeyfileProvider(const std::string& path,
                                                                  const OwnerPolicy& owner) {
  const std::string what = "seal keyfile " + path;
  // Symlinks are followed on purpose (Kubernetes secret volumes); the checks apply to the target.
  int fd = -1;
  do {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) return notFoundError(what + " does not exist");
    if (err == EACCES) return permissionDeniedError(what + ": " + snp::errnoText(err));
    return internalError(what + ": open: " + snp::errnoText(err));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return internalError(what + ": fstat: " + snp::errnoText(err));
  }
  auto fail = [&](Status s) {
    ::close(fd);
    return s;
  };
  if (!S_ISREG(st.st_mode)) return fail(invalidArgumentError(what + " is not a regular file"));
  {
    Status checked = checkOwnerAndMode(st, "seal keyfile", path, owner, 0027);
    if (!checked.ok()) {
      return fail(Status(checked.code(), checked.message() +
                                             " (use mode 0400 or 0440, e.g. a secret volume's "
                                             "defaultMode)"));
    }
  }
  if (st.st_size != static_cast<off_t>(kSealingKeySize)) {
    std::string hint;
    if (st.st_size == 64 || st.st_size == 65) hint = " (it looks like hex text: store raw bytes)";
    if (st.st_size == 44 || st.st_size == 45)
      hint = " (it looks like base64 text: store raw bytes)";
    return fail(invalidArgumentError(what + " is " + std::to_string(st.st_size) +
                                     " bytes, expected exactly 32 raw bytes" + hint));
  }
  SecretBytes raw(kSealingKeySize);
  std::size_t done = 0;
  while (done < raw.size()) {
    const ssize_t n =
        ::read(fd, raw.mutableView(grantSecretAccess()).data() + done, raw.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : 0;
      return fail(internalError(what + ": read " + std::to_string(done) + " of 32 bytes" +
                                (err != 0 ? ": " + snp::errnoText(err) : std::string())));
    }
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  SKR_ASSIGN_OR_RETURN(SecretBytes key, expand(raw, hkdfLabel(SealProviderKind::Keyfile)));
  // The key id identifies the key without revealing it: HKDF output under a different label, so it
  // is independent of the sealing key itself.
  SKR_ASSIGN_OR_RETURN(SecretBytes id, crypto::hkdf(crypto::HashAlg::Sha256, raw, {},
                                                    asBytes("skr-sealed-key/1 keyfile key id"), 8));
  std::string key_id = encoding::hexEncode(id.view(grantSecretAccess()));
  return std::unique_ptr<SealingKeyProvider>(
      new KeyfileProvider(std::move(key), std::move(key_id)));
}

std::unique_ptr<SealingKeyProvider> makeNoneProvider() {
  log::warning("seal.provider_none",
               {{"message", "seal provider 'none': key material is stored in plaintext"}});
  return std::make_unique<NoneProvider>();
}

}  // namespace skr::seal
