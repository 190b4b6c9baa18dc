// The list of emulated services. To add one (MAA, AKV key release): write `class FooService final
// : public Service` in emulator/foo_service.{h,cc} and add one line to makeServices() below.
#include <memory>
#include <vector>

#include "emulator/admin_service.h"
#include "emulator/entra_service.h"
#include "emulator/imds_service.h"
#include "emulator/key_release_service.h"
#include "emulator/key_vault_service.h"
#include "emulator/maa_service.h"
#include "emulator/service.h"

namespace skr::emulator {

std::vector<std::unique_ptr<Service>> makeServices() {
  std::vector<std::unique_ptr<Service>> services;
  services.push_back(std::make_unique<ImdsService>());
  services.push_back(std::make_unique<EntraService>());
  services.push_back(std::make_unique<KeyVaultService>());
  // ---- plug-in point: MAA (/attest/SevSnpVm, /certs, /.well-known/openid-configuration on the
  // "maa*" listeners) and key release (POST /keys/{name}[/{version}]/release on "vault"/"mhsm"):
  services.push_back(std::make_unique<MaaService>());
  services.push_back(std::make_unique<KeyReleaseService>());
  services.push_back(std::make_unique<AdminService>());
  return services;
}

std::vector<std::unique_ptr<Service>> registerServices(Router& router, EmulatorContext& context) {
  std::vector<std::unique_ptr<Service>> services = makeServices();
  for (auto& s : services) s->registerRoutes(router, context);
  return services;
}

}  // namespace skr::emulator
