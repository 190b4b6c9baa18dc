// Microsoft Azure Attestation, one instance per MAA listener ("maa", "maa2", ...), HTTPS
// (spec/azure-wire.md §1):
//   POST /attest/SevSnpVm?api-version=2020-10-01|2022-08-01   evidence -> {"token": RS256 JWT}
//   GET  /certs                                               JWKS, x5c only (no n/e), like MAA
//   GET  /.well-known/openid-configuration                    issuer, jwks_uri, ...
// Each instance signs with its own persisted key (SigningKeys::maa) and names itself
// (iss = its listener URL); verification is maa_attestation.h. Errors are CloudError JSON.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "common/crypto/x509.h"
#include "emulator/service.h"

namespace skr::emulator {

// api-version values accepted by /attest/SevSnpVm (the stable ones and the previews).
bool isSupportedMaaApiVersion(const std::string& api_version);

class MaaService final : public Service {
 public:
  std::string_view name() const override { return "maa"; }
  // Also issues each instance's self-signed signing certificate (served in /certs).
  void registerRoutes(Router& router, EmulatorContext& context) override;

 private:
  // Listener -> the self-signed certificate over its signing key; absent if issuing it failed.
  std::map<std::string, crypto::Certificate> certificates_;
};

}  // namespace skr::emulator
