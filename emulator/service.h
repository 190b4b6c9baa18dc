// One emulated Azure service (IMDS, Entra ID, Key Vault, MAA, ...) = one Service that adds its
// routes to the shared Router. Services are created and registered in services.cc, the single
// place where new services (MAA, key release) plug in.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "emulator/emulator_context.h"
#include "emulator/router.h"

namespace skr::emulator {

class Service {
 public:
  virtual ~Service() = default;
  virtual std::string_view name() const = 0;
  // Adds this service's routes. `context` outlives the router and every handler call.
  virtual void registerRoutes(Router& router, EmulatorContext& context) = 0;
};

// Every service of the emulator, in registration order (services.cc).
std::vector<std::unique_ptr<Service>> makeServices();

// Creates all services and registers their routes (the services are owned by the caller's vector).
std::vector<std::unique_ptr<Service>> registerServices(Router& router, EmulatorContext& context);

}  // namespace skr::emulator
