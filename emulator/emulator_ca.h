// The emulator's own certificate authority ("skr-emulator CA (emulated, not Azure)", EC P-256) and
// the TLS server certificate of its HTTPS listeners (SAN DNS localhost, IP 127.0.0.1), kept in
// DIR/tls/ (private keys 0600) so a restart keeps the trust anchor. issue() signs further
// certificates (e.g. the MAA and AKV-release signing certificates). Immutable after open: const
// methods are thread-safe.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/core/status.h"
#include "common/crypto/certificate_builder.h"
#include "common/crypto/pkey.h"
#include "common/crypto/x509.h"

namespace skr::emulator {

inline constexpr const char* kEmulatorCaName = "skr-emulator CA (emulated, not Azure)";
inline constexpr const char* kEmulatedOrganization = "skr-emulator (emulated, not Microsoft Azure)";

struct IssueOptions {
  std::vector<std::string> dns_names;
  // subjectAltName iPAddress entries, textual IPv4 / IPv6 ("127.0.0.1", "::1"). With any, the SAN
  // extension holds the dns_names and these (clients match an IP host only against iPAddress).
  std::vector<std::string> ip_addresses;
  std::vector<std::string> extended_key_usage;  // e.g. crypto::kEkuServerAuth
  uint32_t key_usage = crypto::kKeyUsageDigitalSignature;
  std::chrono::hours validity{24 * 365};
  bool ca = false;
};

class EmulatorCa {
 public:
  // Loads DIR/tls/{ca_cert,ca_key,server_cert,server_key}.pem, creating what is missing; the
  // server certificate is re-issued when it expires within 30 days.
  static StatusOr<EmulatorCa> openOrCreate(const std::string& state_dir);

  const crypto::Certificate& certificate() const { return ca_cert_; }
  const crypto::PrivateKey& key() const { return ca_key_; }
  const std::string& serverCertificatePath() const { return server_cert_path_; }
  const std::string& serverKeyPath() const { return server_key_path_; }

  // A certificate for `key`, subject CN `common_name` (O names the emulator), signed by the CA.
  StatusOr<crypto::Certificate> issue(const std::string& common_name, const crypto::PublicKey& key,
                                      const IssueOptions& options = {}) const;

 private:
  EmulatorCa(crypto::Certificate cert, crypto::PrivateKey key, std::string server_cert_path,
             std::string server_key_path)
      : ca_cert_(std::move(cert)),
        ca_key_(std::move(key)),
        server_cert_path_(std::move(server_cert_path)),
        server_key_path_(std::move(server_key_path)) {}

  crypto::Certificate ca_cert_;
  crypto::PrivateKey ca_key_;
  std::string server_cert_path_;
  std::string server_key_path_;
};

}  // namespace skr::emulator
