// Secure key release on the emulated Key Vault and Managed HSM (spec/azure-wire.md §2, §3):
//   POST /keys/{name}/release            POST /keys/{name}/{version}/release
// on the "vault" and "mhsm" listeners. Checks, in order: api-version, Bearer token (401), RBAC
// release role (403 ForbiddenByRbac), the body (400), the key (404; exportable with a release
// policy, enabled), the MAA token in `target` (issued and signed by a MAA instance the vaults
// trust, RS256, within its lifetime: else 403), the key's release policy against the token's
// claims (403 naming the failing claim), then wraps the key material to the first RSA encryption
// key in the token's x-ms-runtime.keys and answers {"value": <JWS>} signed by the vault's
// release certificate (issued by the emulator CA; its RSA key persisted in
// DIR/signing/release_<listener>_key.pem).
#pragma once

#include <memory>

#include "emulator/service.h"

namespace skr::emulator {

class KeyReleaseService final : public Service {
 public:
  std::string_view name() const override { return "keyrelease"; }
  void registerRoutes(Router& router, EmulatorContext& context) override;
};

}  // namespace skr::emulator
