#include "common/snp/emulated_chip.h"

#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <optional>

#include "common/core/ssl_ptr.h"
#include "common/crypto/certificate_builder.h"
#include "common/crypto/digest.h"
#include "common/crypto/random.h"
#include "common/crypto/signature.h"
#include "common/encoding/hex.h"
#include "common/json/json.h"
#include "common/log/logger.h"
#include "common/snp/device_file.h"
#include "common/snp/ghcb_cert_table.h"
#include "common/snp/report.h"

namespace skr::snp {
namespace {

using crypto::Certificate;
using crypto::CertificateBuilder;
using crypto::CertificateSignatureAlg;
using crypto::DistinguishedName;
using crypto::PrivateKey;

constexpr const char* kConfigFormat = "skr-emulated-chip/1";
constexpr const char* kDerivedKeySalt = "skr-emulated-snp-derived-key/1";
constexpr const char* kProductName = "Milan-B0";
constexpr uint32_t kFwSuccess = 0x00;
constexpr uint32_t kFwInvalidParam = 0x16;
constexpr std::size_t kSecretSize = 32;
constexpr std::size_t kMaxStateFile = 1 << 20;
// Firmware version reported in CURRENT/COMMITTED_VERSION (as in the ACI fixture: 1.52 build 4).
constexpr FirmwareVersion kFirmwareVersion{4, 52, 1};

// AMD VCEK extension OIDs (AMD KDS spec #57230; spec/azure-wire.md §5.4).
constexpr const char* kOidStructVersion = "1.3.6.1.4.1.3704.1.1";
constexpr const char* kOidProductName = "1.3.6.1.4.1.3704.1.2";
constexpr const char* kOidBlSpl = "1.3.6.1.4.1.3704.1.3.1";
constexpr const char* kOidTeeSpl = "1.3.6.1.4.1.3704.1.3.2";
constexpr const char* kOidSnpSpl = "1.3.6.1.4.1.3704.1.3.3";
constexpr const char* kOidUcodeSpl = "1.3.6.1.4.1.3704.1.3.8";
constexpr const char* kOidHwid = "1.3.6.1.4.1.3704.1.4";

DistinguishedName emulatedName(std::string common_name) {
  DistinguishedName name;
  name.common_name = std::move(common_name);
  name.organization = "skr emulator - not AMD";
  name.organizational_unit = "Emulated SEV-SNP";
  return name;
}

Bytes derInteger(uint32_t value) {
  Bytes be;
  for (uint32_t v = value; v != 0; v >>= 8) be.insert(be.begin(), static_cast<uint8_t>(v));
  if (be.empty() || (be.front() & 0x80) != 0) be.insert(be.begin(), 0);
  Bytes out;
  out.reserve(2 + be.size());
  out.push_back(0x02);
  out.push_back(static_cast<uint8_t>(be.size()));
  for (uint8_t b : be) out.push_back(b);
  return out;
}

Bytes derIa5String(std::string_view text) {
  Bytes out;
  out.reserve(2 + text.size());
  out.push_back(0x16);
  out.push_back(static_cast<uint8_t>(text.size()));  // short names only (< 128)
  for (char c : text) out.push_back(static_cast<uint8_t>(c));
  return out;
}

// --- state files ---

std::string join(const std::string& dir, const char* name) {
  return dir + "/" + name;
}

Status fsyncDirectory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return internalError("emulated chip: open " + dir + ": " + errnoText(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return internalError("emulated chip: fsync " + dir + ": " + errnoText(err));
  return okStatus();
}

// tmp file (O_CREAT|O_EXCL|O_NOFOLLOW, `mode`) + write + fsync + rename over `name`.
Status writeStateFile(const std::string& dir, const char* name, ByteView data, mode_t mode) {
  const std::string final_path = join(dir, name);
  const Bytes nonce = crypto::randomBytes(6);
  const std::string tmp_path =
      final_path + ".tmp-" + std::to_string(::getpid()) + "-" + encoding::hexEncode(nonce);
  const int fd =
      ::open(tmp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) return internalError("emulated chip: create " + tmp_path + ": " + errnoText(errno));
  std::size_t done = 0;
  int err = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      err = errno;
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  if (err == 0 && ::fchmod(fd, mode) != 0) err = errno;  // umask must not widen or narrow it
  if (err == 0 && ::fsync(fd) != 0) err = errno;
  ::close(fd);
  if (err == 0 && ::rename(tmp_path.c_str(), final_path.c_str()) != 0) err = errno;
  if (err != 0) {
    ::unlink(tmp_path.c_str());
    return internalError("emulated chip: write " + final_path + ": " + errnoText(err));
  }
  return okStatus();
}

Status writeSecretFile(const std::string& dir, const char* name, const SecretBytes& secret) {
  return writeStateFile(dir, name, secret.view(grantSecretAccess()), 0600);
}

// Whole file into `out` (a SecretBytes or Bytes), refusing symlinks and files over 1 MiB.
template <typename Buffer, typename DataFn>
Status readStateFile(const std::string& dir, const char* name, Buffer& out, DataFn data) {
  const std::string path = join(dir, name);
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    return err == ENOENT ? notFoundError("emulated chip: " + path + " does not exist")
                         : internalError("emulated chip: open " + path + ": " + errnoText(err));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
      static_cast<std::size_t>(st.st_size) > kMaxStateFile) {
    ::close(fd);
    return invalidArgumentError("emulated chip: " + path +
                                " is not a regular file of at most 1 MiB");
  }
  out.resize(static_cast<std::size_t>(st.st_size));
  std::size_t done = 0;
  int err = 0;
  while (done < out.size()) {
    const ssize_t n = ::read(fd, data(out) + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      err = n < 0 ? errno : EIO;
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  if (err != 0) return internalError("emulated chip: read " + path + ": " + errnoText(err));
  return okStatus();
}

StatusOr<Bytes> readPublicFile(const std::string& dir, const char* name) {
  Bytes out;
  SKR_RETURN_IF_ERROR(readStateFile(dir, name, out, [](Bytes& b) { return b.data(); }));
  return out;
}

StatusOr<SecretBytes> readSecretFile(const std::string& dir, const char* name) {
  SecretBytes out;
  SKR_RETURN_IF_ERROR(readStateFile(
      dir, name, out, [](SecretBytes& b) { return b.mutableView(grantSecretAccess()).data(); }));
  return out;
}

bool exists(const std::string& dir, const char* name) {
  struct stat st {};
  return ::lstat(join(dir, name).c_str(), &st) == 0;
}

// An exclusive flock on <dir>/.lock for the life of the object.
class DirectoryLock {
 public:
  static StatusOr<std::unique_ptr<DirectoryLock>> acquire(const std::string& dir) {
    const std::string path = join(dir, ".lock");
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return internalError("emulated chip: open " + path + ": " + errnoText(errno));
    int rc = 0;
    do {
      rc = ::flock(fd, LOCK_EX);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) {
      const int err = errno;
      ::close(fd);
      return internalError("emulated chip: flock " + path + ": " + errnoText(err));
    }
    return std::unique_ptr<DirectoryLock>(new DirectoryLock(fd));
  }
  DirectoryLock(const DirectoryLock&) = delete;
  DirectoryLock& operator=(const DirectoryLock&) = delete;
  ~DirectoryLock() { ::close(fd_); }  // releases the flock

 private:
  explicit DirectoryLock(int fd) : fd_(fd) {}
  int fd_;
};

// --- PKI ---

crypto::TimePoint now() {
  return std::chrono::system_clock::now();
}

StatusOr<Certificate> issueVcek(const ChipConfig& config, const std::array<uint8_t, 64>& chip_id,
                                const PrivateKey& vcek_key, const Certificate& ask,
                                const PrivateKey& ask_key) {
  const auto not_before = now() - std::chrono::hours(24);
  CertificateBuilder b;
  b.subject(emulatedName("SEV-VCEK"))
      .issuer(ask)
      .serialNumber(uint64_t{0})
      .validity(not_before, not_before + std::chrono::hours(24 * 365 * 7))
      .publicKey(vcek_key.publicKey())
      // The order and encodings of AMD's VCEK (shared/fixtures/snp/aci-milan-v2/vcek.pem).
      .addExtension(kOidStructVersion, derInteger(0))
      .addExtension(kOidProductName, derIa5String(kProductName))
      .addExtension(kOidBlSpl, derInteger(config.bootloader))
      .addExtension(kOidTeeSpl, derInteger(config.tee))
      .addExtension("1.3.6.1.4.1.3704.1.3.4", derInteger(0))
      .addExtension("1.3.6.1.4.1.3704.1.3.5", derInteger(0))
      .addExtension("1.3.6.1.4.1.3704.1.3.6", derInteger(0))
      .addExtension("1.3.6.1.4.1.3704.1.3.7", derInteger(0))
      .addExtension(kOidSnpSpl, derInteger(config.snp))
      .addExtension(kOidUcodeSpl, derInteger(config.microcode))
      .addExtension(kOidHwid, Bytes(chip_id.begin(), chip_id.end()));
  return b.sign(ask_key, CertificateSignatureAlg::RsaPssSha384);
}

// The TCB the VCEK was issued for, from its SPL extensions (Milan layout).
StatusOr<uint64_t> vcekTcb(const Certificate& vcek) {
  uint8_t spl[4] = {};
  const char* oids[4] = {kOidBlSpl, kOidTeeSpl, kOidSnpSpl, kOidUcodeSpl};
  for (int i = 0; i < 4; ++i) {
    SKR_ASSIGN_OR_RETURN(std::optional<Bytes> v, vcek.extensionValue(oids[i]));
    if (!v || v->size() < 3 || v->size() > 4 || (*v)[0] != 0x02 || (*v)[1] != v->size() - 2 ||
        (v->size() == 4 && (*v)[2] != 0)) {
      return invalidArgumentError(std::string("emulated chip: vcek.pem extension ") + oids[i] +
                                  " is missing or not a small INTEGER");
    }
    spl[i] = v->back();
  }
  return TcbVersion::compose(Generation::Milan, spl[0], spl[1], spl[2], spl[3]).raw;
}

Status createChip(const std::string& dir, const ChipConfig& initial) {
  SKR_ASSIGN_OR_RETURN(PrivateKey ark_key, PrivateKey::generateRsa(4096));
  SKR_ASSIGN_OR_RETURN(PrivateKey ask_key, PrivateKey::generateRsa(4096));
  SKR_ASSIGN_OR_RETURN(PrivateKey vcek_key, PrivateKey::generateEc(crypto::Curve::P384));
  const auto not_before = now() - std::chrono::hours(24);
  const auto not_after = not_before + std::chrono::hours(24 * 365 * 25);

  CertificateBuilder ark_builder;
  ark_builder.subject(emulatedName("ARK-Emulated (skr emulator - not AMD)"))
      .serialNumber(uint64_t{0x10000})
      .validity(not_before, not_after)
      .publicKey(ark_key.publicKey())
      .basicConstraints(true)
      .keyUsage(crypto::kKeyUsageKeyCertSign | crypto::kKeyUsageCrlSign)
      .subjectKeyIdentifier();
  SKR_ASSIGN_OR_RETURN(Certificate ark,
                       ark_builder.sign(ark_key, CertificateSignatureAlg::RsaPssSha384));
  CertificateBuilder ask_builder;
  ask_builder.subject(emulatedName("SEV-Emulated"))
      .issuer(ark)
      .serialNumber(uint64_t{0x10001})
      .validity(not_before, not_after)
      .publicKey(ask_key.publicKey())
      .basicConstraints(true, 0)
      .keyUsage(crypto::kKeyUsageKeyCertSign)
      .subjectKeyIdentifier()
      .authorityKeyIdentifier();
  SKR_ASSIGN_OR_RETURN(Certificate ask,
                       ask_builder.sign(ark_key, CertificateSignatureAlg::RsaPssSha384));

  std::array<uint8_t, 64> chip_id{};
  crypto::fillRandom(chip_id);
  ChipConfig config = initial;
  if (std::all_of(config.report_id.begin(), config.report_id.end(),
                  [](uint8_t b) { return b == 0; })) {
    crypto::fillRandom(config.report_id);
  }
  SKR_ASSIGN_OR_RETURN(Certificate vcek, issueVcek(config, chip_id, vcek_key, ask, ask_key));

  // ark_key.pem last: its presence marks a complete chip (see openOrCreate).
  SKR_RETURN_IF_ERROR(writeSecretFile(dir, "chip_secret.bin", crypto::randomSecret(kSecretSize)));
  SKR_RETURN_IF_ERROR(writeSecretFile(dir, "vmrk_secret.bin", crypto::randomSecret(kSecretSize)));
  SKR_RETURN_IF_ERROR(writeStateFile(dir, "chip_id.bin", chip_id, 0644));
  SKR_RETURN_IF_ERROR(writeSecretFile(dir, "ask_key.pem", ask_key.toPkcs8Pem()));
  SKR_RETURN_IF_ERROR(writeStateFile(dir, "ask.pem", asBytes(ask.toPem()), 0644));
  SKR_RETURN_IF_ERROR(writeSecretFile(dir, "vcek_key.pem", vcek_key.toPkcs8Pem()));
  SKR_RETURN_IF_ERROR(writeStateFile(dir, "vcek.pem", asBytes(vcek.toPem()), 0644));
  SKR_RETURN_IF_ERROR(writeStateFile(dir, "chip.json", asBytes(config.toJson()), 0644));
  SKR_RETURN_IF_ERROR(writeStateFile(dir, "ark.pem", asBytes(ark.toPem()), 0644));
  SKR_RETURN_IF_ERROR(writeSecretFile(dir, "ark_key.pem", ark_key.toPkcs8Pem()));
  return fsyncDirectory(dir);
}

StatusOr<Certificate> loadCertificate(const std::string& dir, const char* name) {
  SKR_ASSIGN_OR_RETURN(Bytes pem, readPublicFile(dir, name));
  StatusOr<Certificate> cert = Certificate::fromPem(toString(pem));
  if (!cert.ok()) return cert.status().withContext("emulated chip: " + join(dir, name));
  return cert;
}

StatusOr<PrivateKey> loadKey(const std::string& dir, const char* name) {
  SKR_ASSIGN_OR_RETURN(SecretBytes pem, readSecretFile(dir, name));
  StatusOr<PrivateKey> key = PrivateKey::fromPem(pem);
  if (!key.ok()) return key.status().withContext("emulated chip: " + join(dir, name));
  return key;
}

// --- chip.json ---

template <std::size_t N>
Status hexField(const json::ObjectPtr& obj, const char* key, std::array<uint8_t, N>& out) {
  SKR_ASSIGN_OR_RETURN(std::optional<std::string> text, json::getOptionalString(obj, key));
  if (!text) return okStatus();
  StatusOr<Bytes> bytes = encoding::hexDecode(*text);
  if (!bytes.ok() || bytes->size() != N) {
    return invalidArgumentError(std::string("chip.json: member '") + key + "' must be " +
                                std::to_string(2 * N) + " hex digits");
  }
  std::copy(bytes->begin(), bytes->end(), out.begin());
  return okStatus();
}

Status u64HexField(const json::ObjectPtr& obj, const char* key, uint64_t& out) {
  SKR_ASSIGN_OR_RETURN(std::optional<std::string> text, json::getOptionalString(obj, key));
  if (!text) return okStatus();
  unsigned long long v = 0;
  int consumed = 0;
  if (text->size() < 3 || text->substr(0, 2) != "0x" ||
      std::sscanf(text->c_str() + 2, "%llx%n", &v, &consumed) != 1 ||
      static_cast<std::size_t>(consumed) != text->size() - 2 || text->size() > 18) {
    return invalidArgumentError(std::string("chip.json: member '") + key + "' is '" + *text +
                                "', expected a 0x-prefixed hex number of at most 64 bits");
  }
  out = v;
  return okStatus();
}

template <typename T>
Status intField(const json::ObjectPtr& obj, const char* key, T& out, int64_t max) {
  SKR_ASSIGN_OR_RETURN(std::optional<int64_t> v, json::getOptionalInt(obj, key));
  if (!v) return okStatus();
  if (*v < 0 || *v > max) {
    return invalidArgumentError(std::string("chip.json: member '") + key + "' is " +
                                std::to_string(*v) + ", expected 0.." + std::to_string(max));
  }
  out = static_cast<T>(*v);
  return okStatus();
}

std::string tcbText(const ChipConfig& c) {
  return "bl=" + std::to_string(c.bootloader) + " tee=" + std::to_string(c.tee) +
         " snp=" + std::to_string(c.snp) + " ucode=" + std::to_string(c.microcode);
}

std::string hexU64(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

uint64_t ChipConfig::tcbRaw() const {
  return TcbVersion::compose(Generation::Milan, bootloader, tee, snp, microcode).raw;
}

std::string ChipConfig::toJson() const {
  auto hex = [](auto const& a) { return "\"" + encoding::hexEncode(ByteView(a)) + "\""; };
  std::string out = "{\n";
  out += "  \"format\": \"" + std::string(kConfigFormat) + "\",\n";
  out += "  \"product\": \"" + std::string(kProductName) + "\",\n";
  out += "  \"report_version\": " + std::to_string(report_version) + ",\n";
  out += "  \"tcb\": {\"bootloader\": " + std::to_string(bootloader) +
         ", \"tee\": " + std::to_string(tee) + ", \"snp\": " + std::to_string(snp) +
         ", \"microcode\": " + std::to_string(microcode) + "},\n";
  out += "  \"policy\": \"" + hexU64(policy) + "\",\n";
  out += "  \"platform_info\": \"" + hexU64(platform_info) + "\",\n";
  out += "  \"guest_svn\": " + std::to_string(guest_svn) + ",\n";
  out += "  \"vmpl\": " + std::to_string(vmpl) + ",\n";
  out += "  \"measurement\": " + hex(measurement) + ",\n";
  out += "  \"host_data\": " + hex(host_data) + ",\n";
  out += "  \"family_id\": " + hex(family_id) + ",\n";
  out += "  \"image_id\": " + hex(image_id) + ",\n";
  out += "  \"id_key_digest\": " + hex(id_key_digest) + ",\n";
  out += "  \"report_id\": " + hex(report_id) + "\n";
  out += "}\n";
  return out;
}

StatusOr<ChipConfig> ChipConfig::fromJson(std::string_view text) {
  StatusOr<json::ObjectPtr> parsed = json::parseObject(text);
  if (!parsed.ok()) return parsed.status().withContext("chip.json");
  const json::ObjectPtr& obj = *parsed;
  SKR_ASSIGN_OR_RETURN(std::string format, json::getString(obj, "format"));
  if (format != kConfigFormat) {
    return invalidArgumentError("chip.json: format is '" + format + "', expected '" +
                                kConfigFormat + "'");
  }
  SKR_ASSIGN_OR_RETURN(std::optional<std::string> product, json::getOptionalString(obj, "product"));
  if (product && *product != kProductName) {
    return invalidArgumentError("chip.json: product is '" + *product +
                                "', the emulated chip supports only '" + kProductName + "'");
  }
  ChipConfig c;
  SKR_RETURN_IF_ERROR(intField(obj, "report_version", c.report_version, 3));
  if (c.report_version != 2 && c.report_version != 3) {
    return invalidArgumentError("chip.json: report_version is " + std::to_string(c.report_version) +
                                ", expected 2 or 3");
  }
  SKR_ASSIGN_OR_RETURN(std::optional<json::ObjectPtr> tcb, json::getOptionalObject(obj, "tcb"));
  if (tcb) {
    SKR_RETURN_IF_ERROR(intField(*tcb, "bootloader", c.bootloader, 255));
    SKR_RETURN_IF_ERROR(intField(*tcb, "tee", c.tee, 255));
    SKR_RETURN_IF_ERROR(intField(*tcb, "snp", c.snp, 255));
    SKR_RETURN_IF_ERROR(intField(*tcb, "microcode", c.microcode, 255));
  }
  SKR_RETURN_IF_ERROR(u64HexField(obj, "policy", c.policy));
  SKR_RETURN_IF_ERROR(u64HexField(obj, "platform_info", c.platform_info));
  SKR_RETURN_IF_ERROR(intField(obj, "guest_svn", c.guest_svn, 0xffffffffLL));
  SKR_RETURN_IF_ERROR(intField(obj, "vmpl", c.vmpl, 3));
  SKR_RETURN_IF_ERROR(hexField(obj, "measurement", c.measurement));
  SKR_RETURN_IF_ERROR(hexField(obj, "host_data", c.host_data));
  SKR_RETURN_IF_ERROR(hexField(obj, "family_id", c.family_id));
  SKR_RETURN_IF_ERROR(hexField(obj, "image_id", c.image_id));
  SKR_RETURN_IF_ERROR(hexField(obj, "id_key_digest", c.id_key_digest));
  SKR_RETURN_IF_ERROR(hexField(obj, "report_id", c.report_id));
  if (((c.policy >> 17) & 1) == 0) {
    return invalidArgumentError("chip.json: policy " + hexU64(c.policy) +
                                " has reserved bit 17 clear; the firmware requires it set");
  }
  return c;
}

StatusOr<SnpSignature> ecdsaSnpFromDer(ByteView der) {
  const unsigned char* p = der.data();
  SslPtr<ECDSA_SIG> sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig || p != der.data() + der.size()) {
    return invalidArgumentError("ECDSA signature: " + std::to_string(der.size()) +
                                " bytes are not one DER ECDSA-Sig-Value");
  }
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  SnpSignature out;
  if (BN_bn2lebinpad(r, out.r.data(), static_cast<int>(out.r.size())) < 0 ||
      BN_bn2lebinpad(s, out.s.data(), static_cast<int>(out.s.size())) < 0) {
    return invalidArgumentError("ECDSA signature: r or s is longer than 72 bytes");
  }
  return out;
}

StatusOr<EmulatedChip> EmulatedChip::openOrCreate(const std::string& dir,
                                                  const ChipConfig& initial_config) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    const int err = errno;
    return (err == ENOENT
                ? failedPreconditionError("emulated chip: the parent of " + dir + " does not exist")
                : internalError("emulated chip: mkdir " + dir + ": " + errnoText(err)));
  }
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return failedPreconditionError("emulated chip: " + dir + " is not a directory");
  }
  SKR_ASSIGN_OR_RETURN(std::unique_ptr<DirectoryLock> lock, DirectoryLock::acquire(dir));
  if (!exists(dir, "ark_key.pem")) {
    log::warning("snp.emulated_chip.create", {{"dir", dir}});
    SKR_RETURN_IF_ERROR(createChip(dir, initial_config));
  }
  SKR_ASSIGN_OR_RETURN(Bytes config_text, readPublicFile(dir, "chip.json"));
  SKR_ASSIGN_OR_RETURN(ChipConfig config, ChipConfig::fromJson(toString(config_text)));
  SKR_ASSIGN_OR_RETURN(Certificate ark, loadCertificate(dir, "ark.pem"));
  SKR_ASSIGN_OR_RETURN(Certificate ask, loadCertificate(dir, "ask.pem"));
  SKR_ASSIGN_OR_RETURN(Bytes chip_id_bytes, readPublicFile(dir, "chip_id.bin"));
  if (chip_id_bytes.size() != 64) {
    return invalidArgumentError("emulated chip: " + join(dir, "chip_id.bin") + " is " +
                                std::to_string(chip_id_bytes.size()) + " bytes, expected 64");
  }
  std::array<uint8_t, 64> chip_id{};
  std::copy(chip_id_bytes.begin(), chip_id_bytes.end(), chip_id.begin());
  SKR_ASSIGN_OR_RETURN(SecretBytes chip_secret, readSecretFile(dir, "chip_secret.bin"));
  SKR_ASSIGN_OR_RETURN(SecretBytes vmrk_secret, readSecretFile(dir, "vmrk_secret.bin"));
  if (chip_secret.size() != kSecretSize || vmrk_secret.size() != kSecretSize) {
    return invalidArgumentError("emulated chip: the chip secrets in " + dir +
                                " are not 32 bytes each");
  }
  SKR_ASSIGN_OR_RETURN(Certificate vcek, loadCertificate(dir, "vcek.pem"));
  SKR_ASSIGN_OR_RETURN(PrivateKey vcek_key, loadKey(dir, "vcek_key.pem"));

  EmulatedChip chip(dir, config, std::move(ark), std::move(ask), std::nullopt, std::move(vcek),
                    std::move(vcek_key), chip_id, std::move(chip_secret), std::move(vmrk_secret));
  SKR_ASSIGN_OR_RETURN(uint64_t issued_tcb, vcekTcb(chip.vcek_));
  if (issued_tcb != config.tcbRaw()) SKR_RETURN_IF_ERROR(chip.updateConfig(config));
  log::warning("snp.emulated_chip.opened",
               {{"dir", dir},
                {"tcb", tcbText(config)},
                {"note",
                 "EMULATED SEV-SNP chip: not AMD hardware; its reports satisfy no "
                 "production policy"}});
  return chip;
}

Status EmulatedChip::updateConfig(const ChipConfig& config) {
  SKR_ASSIGN_OR_RETURN(uint64_t issued_tcb, vcekTcb(vcek_));
  if (issued_tcb != config.tcbRaw()) {
    // A new TCB means a new VCEK (the real one is derived from the chip key and the TCB).
    SKR_ASSIGN_OR_RETURN(PrivateKey key, PrivateKey::generateEc(crypto::Curve::P384));
    if (!ask_key_) {
      SKR_ASSIGN_OR_RETURN(PrivateKey ask_key, loadKey(dir_, "ask_key.pem"));
      ask_key_ = std::move(ask_key);
    }
    SKR_ASSIGN_OR_RETURN(Certificate vcek, issueVcek(config, chip_id_, key, ask_, *ask_key_));
    SKR_RETURN_IF_ERROR(writeSecretFile(dir_, "vcek_key.pem", key.toPkcs8Pem()));
    SKR_RETURN_IF_ERROR(writeStateFile(dir_, "vcek.pem", asBytes(vcek.toPem()), 0644));
    log::warning("snp.emulated_chip.vcek_reissued", {{"dir", dir_}, {"tcb", tcbText(config)}});
    vcek_ = std::move(vcek);
    vcek_key_ = std::move(key);
  }
  SKR_RETURN_IF_ERROR(writeStateFile(dir_, "chip.json", asBytes(config.toJson()), 0644));
  SKR_RETURN_IF_ERROR(fsyncDirectory(dir_));
  config_ = config;
  return okStatus();
}

uint32_t EmulatedChip::checkReportRequest(uint32_t vmpl, std::string* why) const {
  if (vmpl > 3 || vmpl < config_.vmpl) {
    *why = "vmpl " + std::to_string(vmpl) + " is not in " + std::to_string(config_.vmpl) + "..3";
    return kFwInvalidParam;
  }
  return kFwSuccess;
}

uint32_t EmulatedChip::checkKeyRequest(const DerivedKeyRequest& request, std::string* why) const {
  const auto root = static_cast<uint32_t>(request.root_key_select);
  if (root > 1) {
    *why = "root_key_select " + std::to_string(root) + " is reserved";
    return kFwInvalidParam;
  }
  if ((request.guest_field_select & ~kGuestFieldSelectMask) != 0) {
    *why = "guest_field_select " + hexU64(request.guest_field_select) + " has reserved bits set";
    return kFwInvalidParam;
  }
  if (checkReportRequest(request.vmpl, why) != kFwSuccess) return kFwInvalidParam;
  if (request.guest_svn > config_.guest_svn) {
    *why = "guest_svn " + std::to_string(request.guest_svn) + " is above the launch GUEST_SVN " +
           std::to_string(config_.guest_svn);
    return kFwInvalidParam;
  }
  const TcbVersion asked = TcbVersion::decode(request.tcb_version, Generation::Milan);
  const TcbVersion committed = TcbVersion::decode(config_.tcbRaw(), Generation::Milan);
  if (asked.bootloader > committed.bootloader || asked.tee > committed.tee ||
      asked.snp > committed.snp || asked.microcode > committed.microcode ||
      (request.tcb_version & 0x0000ffffffff0000ULL) != 0) {
    *why = "tcb_version " + hexU64(request.tcb_version) + " is above the COMMITTED_TCB " +
           hexU64(committed.raw);
    return kFwInvalidParam;
  }
  return kFwSuccess;
}

StatusOr<Bytes> EmulatedChip::signReport(const std::array<uint8_t, 64>& report_data,
                                         uint32_t vmpl) const {
  std::string why;
  if (const uint32_t status = checkReportRequest(vmpl, &why); status != kFwSuccess) {
    return failedPreconditionError("emulated chip: MSG_REPORT_REQ rejected with " +
                                   describeFirmwareStatus(status) + ": " + why);
  }
  SnpReport r;
  r.version = config_.report_version;
  r.guest_svn = config_.guest_svn;
  r.policy.raw = config_.policy;
  r.family_id = config_.family_id;
  r.image_id = config_.image_id;
  r.vmpl = vmpl;
  r.signature_algo = 1;  // ECDSA P-384 with SHA-384
  r.current_tcb = config_.tcbRaw();
  r.platform_info.raw = config_.platform_info;
  r.signer_info = 0;  // VCEK, chip key not masked
  r.report_data = report_data;
  r.measurement = config_.measurement;
  r.host_data = config_.host_data;
  r.id_key_digest = config_.id_key_digest;
  r.report_id = config_.report_id;
  r.report_id_ma.fill(0xff);  // no migration agent
  r.reported_tcb = config_.tcbRaw();
  if (config_.report_version >= 3) {
    r.cpuid_fam_id = 0x19;  // Milan
    r.cpuid_mod_id = 0x01;
    r.cpuid_step = 0x01;
  }
  r.chip_id = chip_id_;
  r.committed_tcb = config_.tcbRaw();
  r.current_version = kFirmwareVersion;
  r.committed_version = kFirmwareVersion;
  r.launch_tcb = config_.tcbRaw();
  Bytes bytes = r.serialize();
  SKR_ASSIGN_OR_RETURN(Bytes der, crypto::sign(vcek_key_, crypto::SignatureScheme::EcdsaSha384,
                                               ByteView(bytes).first(kSignedRegionSize)));
  SKR_ASSIGN_OR_RETURN(SnpSignature sig, ecdsaSnpFromDer(der));
  std::copy(sig.r.begin(), sig.r.end(), bytes.begin() + kSignatureOffset);
  std::copy(sig.s.begin(), sig.s.end(), bytes.begin() + kSignatureOffset + kSignatureComponentSize);
  return bytes;
}

StatusOr<SecretBytes> EmulatedChip::deriveKey(const DerivedKeyRequest& request) const {
  std::string why;
  if (const uint32_t status = checkKeyRequest(request, &why); status != kFwSuccess) {
    return failedPreconditionError("emulated chip: MSG_KEY_REQ rejected with " +
                                   describeFirmwareStatus(status) + ": " + why);
  }
  // Fixed layout: the header always, then exactly the selected fields in bit order.
  Bytes info;
  auto put = [&info](ByteView b) { info.insert(info.end(), b.begin(), b.end()); };
  auto putLe = [&info](uint64_t v, int n) {
    for (int i = 0; i < n; ++i) info.push_back(static_cast<uint8_t>(v >> (8 * i)));
  };
  put(asBytes("skr-emulated-snp-derived-key-info/1"));
  putLe(static_cast<uint32_t>(request.root_key_select), 4);
  putLe(request.guest_field_select, 8);
  putLe(request.vmpl, 4);
  const uint64_t select = request.guest_field_select;
  if (select & kFieldGuestPolicy) putLe(config_.policy, 8);
  if (select & kFieldImageId) put(config_.image_id);
  if (select & kFieldFamilyId) put(config_.family_id);
  if (select & kFieldMeasurement) put(config_.measurement);
  if (select & kFieldGuestSvn) putLe(request.guest_svn, 4);
  if (select & kFieldTcbVersion) putLe(request.tcb_version, 8);
  if (select & kFieldLaunchMitVector) putLe(0, 8);
  const SecretBytes& ikm = request.root_key_select == RootKey::Vmrk ? vmrk_secret_ : chip_secret_;
  return crypto::hkdf(crypto::HashAlg::Sha256, ikm, asBytes(kDerivedKeySalt), info, 32);
}

StatusOr<std::unique_ptr<EmulatedDevice>> EmulatedDevice::open(const std::string& dir) {
  SKR_ASSIGN_OR_RETURN(EmulatedChip chip, EmulatedChip::openOrCreate(dir));
  return std::unique_ptr<EmulatedDevice>(new EmulatedDevice(std::move(chip)));
}

StatusOr<Bytes> EmulatedDevice::getReport(const std::array<uint8_t, 64>& report_data,
                                          uint32_t vmpl) const {
  return chip_.signReport(report_data, vmpl);
}

StatusOr<SecretBytes> EmulatedDevice::getDerivedKey(const DerivedKeyRequest& request) const {
  return chip_.deriveKey(request);
}

StatusOr<ExtendedReport> EmulatedDevice::getExtendedReport(
    const std::array<uint8_t, 64>& report_data, uint32_t vmpl) const {
  ExtendedReport out;
  SKR_ASSIGN_OR_RETURN(out.report, chip_.signReport(report_data, vmpl));
  const std::pair<std::string_view, const crypto::Certificate*> certs[] = {
      {kVcekGuid, &chip_.vcek()}, {kAskGuid, &chip_.ask()}, {kArkGuid, &chip_.ark()}};
  for (const auto& [guid, cert] : certs) {
    SKR_ASSIGN_OR_RETURN(Guid g, guidFromString(guid));
    out.certificates.push_back(CertTableEntry{g, cert->der()});
  }
  return out;
}

}  // namespace skr::snp
