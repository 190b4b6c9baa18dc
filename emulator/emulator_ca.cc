#include "emulator/emulator_ca.h"

#include <arpa/inet.h>

#include "common/crypto/random.h"
#include "common/log/logger.h"
#include "emulator/state_files.h"

namespace skr::emulator {
namespace {

using crypto::Certificate;
using crypto::CertificateBuilder;
using crypto::DistinguishedName;
using crypto::PrivateKey;

constexpr const char* kOidSubjectAltName = "2.5.29.17";

DistinguishedName emulatedName(const std::string& cn) {
  DistinguishedName name;
  name.common_name = cn;
  name.organization = kEmulatedOrganization;
  return name;
}

Bytes randomSerial() {
  Bytes serial = crypto::randomBytes(16);
  serial[0] &= 0x7f;
  serial[0] |= 0x01;
  return serial;
}

// GeneralNames { dNSName "localhost", iPAddress 127.0.0.1 } (RFC 5280 §4.2.1.6), DER by hand:
// CertificateBuilder::dnsNames() has no iPAddress entries, and clients such as curl, Python and Go
// match an IP host only against iPAddress.
Bytes loopbackSubjectAltName() {
  static constexpr uint8_t kDer[] = {
      0x30, 0x11,                                               // SEQUENCE, 17 bytes
      0x82, 0x09, 'l', 'o', 'c', 'a', 'l', 'h', 'o', 's', 't',  // [2] dNSName "localhost"
      0x87, 0x04, 127, 0,   0,   1,                             // [7] iPAddress 127.0.0.1
  };
  return Bytes(std::begin(kDer), std::end(kDer));
}

// DER TLV with a definite length (short or long form, X.690 §8.1.3).
void appendTlv(Bytes& out, uint8_t tag, ByteView value) {
  out.push_back(tag);
  if (value.size() < 0x80) {
    out.push_back(static_cast<uint8_t>(value.size()));
  } else {
    Bytes len;
    for (std::size_t n = value.size(); n > 0; n >>= 8) len.insert(len.begin(), n & 0xff);
    out.push_back(static_cast<uint8_t>(0x80 | len.size()));
    out.insert(out.end(), len.begin(), len.end());
  }
  out.insert(out.end(), value.begin(), value.end());
}

// GeneralNames with dNSName [2] and iPAddress [7] entries (RFC 5280 §4.2.1.6).
StatusOr<Bytes> subjectAltName(const std::vector<std::string>& dns_names,
                               const std::vector<std::string>& ip_addresses) {
  Bytes names;
  for (const std::string& dns : dns_names) appendTlv(names, 0x82, asBytes(dns));
  for (const std::string& ip : ip_addresses) {
    uint8_t addr[16];
    if (::inet_pton(AF_INET, ip.c_str(), addr) == 1) {
      appendTlv(names, 0x87, ByteView(addr, 4));
    } else if (::inet_pton(AF_INET6, ip.c_str(), addr) == 1) {
      appendTlv(names, 0x87, ByteView(addr, 16));
    } else {
      return invalidArgumentError("certificate: '" + ip + "' is not an IP address");
    }
  }
  Bytes out;
  appendTlv(out, 0x30, names);
  return out;
}

StatusOr<std::pair<Certificate, PrivateKey>> loadPair(const std::string& cert_path,
                                                      const std::string& key_path) {
  SKR_ASSIGN_OR_RETURN(std::string cert_pem, readTextFile(cert_path, 64 * 1024));
  SKR_ASSIGN_OR_RETURN(Certificate cert, Certificate::fromPem(cert_pem));
  SKR_ASSIGN_OR_RETURN(SecretBytes key_pem, readSecretFile(key_path, 64 * 1024));
  SKR_ASSIGN_OR_RETURN(PrivateKey key, PrivateKey::fromPem(key_pem));
  if (!cert.publicKey().equals(key.publicKey())) {
    return dataLossError(cert_path + " does not match " + key_path);
  }
  return std::make_pair(std::move(cert), std::move(key));
}

Status savePair(const Certificate& cert, const PrivateKey& key, const std::string& cert_path,
                const std::string& key_path) {
  SKR_RETURN_IF_ERROR(writeSecretFileAtomic(key_path, key.toPkcs8Pem()));
  return writeFileAtomic(cert_path, asBytes(cert.toPem()), 0644);
}

}  // namespace

StatusOr<EmulatorCa> EmulatorCa::openOrCreate(const std::string& state_dir) {
  const std::string dir = state_dir + "/tls";
  SKR_RETURN_IF_ERROR(ensureDirectory(dir));
  const std::string ca_cert_path = dir + "/ca_cert.pem";
  const std::string ca_key_path = dir + "/ca_key.pem";
  const std::string server_cert_path = dir + "/server_cert.pem";
  const std::string server_key_path = dir + "/server_key.pem";
  const auto now = std::chrono::system_clock::now();

  std::optional<std::pair<Certificate, PrivateKey>> ca;
  if (fileExists(ca_key_path)) {
    StatusOr<std::pair<Certificate, PrivateKey>> loaded = loadPair(ca_cert_path, ca_key_path);
    if (!loaded.ok()) return loaded.status().withContext("emulator CA");
    ca = std::move(loaded).value();
  } else {
    SKR_ASSIGN_OR_RETURN(PrivateKey key, PrivateKey::generateEc(crypto::Curve::P256));
    CertificateBuilder b;
    b.subject(emulatedName(kEmulatorCaName))
        .serialNumber(randomSerial())
        .validity(now - std::chrono::hours(1), now + std::chrono::hours(24 * 3650))
        .publicKey(key.publicKey())
        .basicConstraints(true, 1)
        .keyUsage(crypto::kKeyUsageKeyCertSign | crypto::kKeyUsageCrlSign)
        .subjectKeyIdentifier();
    SKR_ASSIGN_OR_RETURN(Certificate cert,
                         b.sign(key, crypto::CertificateSignatureAlg::EcdsaSha256));
    SKR_RETURN_IF_ERROR(savePair(cert, key, ca_cert_path, ca_key_path));
    log::warning("emulator.ca.created", {{"subject", std::string(kEmulatorCaName)}, {"dir", dir}});
    ca = std::make_pair(std::move(cert), std::move(key));
  }
  EmulatorCa result(std::move(ca->first), std::move(ca->second), server_cert_path, server_key_path);

  bool need_server = true;
  if (fileExists(server_key_path)) {
    StatusOr<std::pair<Certificate, PrivateKey>> server =
        loadPair(server_cert_path, server_key_path);
    need_server = !server.ok() || server->first.notAfter() < now + std::chrono::hours(24 * 30) ||
                  !server->first.verifySignedBy(result.ca_cert_).ok();
  }
  if (need_server) {
    SKR_ASSIGN_OR_RETURN(PrivateKey key, PrivateKey::generateEc(crypto::Curve::P256));
    CertificateBuilder b;
    b.subject(emulatedName("localhost"))
        .issuer(result.ca_cert_)
        .serialNumber(randomSerial())
        .validity(now - std::chrono::hours(1), now + std::chrono::hours(24 * 398))
        .publicKey(key.publicKey())
        .basicConstraints(false)
        .keyUsage(crypto::kKeyUsageDigitalSignature)
        .extendedKeyUsage({crypto::kEkuServerAuth})
        .subjectKeyIdentifier()
        .authorityKeyIdentifier()
        .addExtension(kOidSubjectAltName, loopbackSubjectAltName());
    SKR_ASSIGN_OR_RETURN(Certificate cert,
                         b.sign(result.ca_key_, crypto::CertificateSignatureAlg::EcdsaSha256));
    SKR_RETURN_IF_ERROR(savePair(cert, key, server_cert_path, server_key_path));
  }
  return result;
}

StatusOr<crypto::Certificate> EmulatorCa::issue(const std::string& common_name,
                                                const crypto::PublicKey& key,
                                                const IssueOptions& options) const {
  const auto now = std::chrono::system_clock::now();
  CertificateBuilder b;
  b.subject(emulatedName(common_name))
      .issuer(ca_cert_)
      .serialNumber(randomSerial())
      .validity(now - std::chrono::hours(1), now + options.validity)
      .publicKey(key)
      .basicConstraints(options.ca)
      .keyUsage(options.key_usage)
      .subjectKeyIdentifier()
      .authorityKeyIdentifier();
  if (!options.extended_key_usage.empty()) b.extendedKeyUsage(options.extended_key_usage);
  if (!options.ip_addresses.empty()) {
    SKR_ASSIGN_OR_RETURN(Bytes san, subjectAltName(options.dns_names, options.ip_addresses));
    b.addExtension(kOidSubjectAltName, san);
  } else if (!options.dns_names.empty()) {
    b.dnsNames(options.dns_names);
  }
  return b.sign(ca_key_, crypto::CertificateSignatureAlg::EcdsaSha256);
}

}  // namespace skr::emulator
