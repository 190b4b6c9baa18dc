// The emulator's admin API under /_emulator/ on the admin listener (plain HTTP, loopback): the
// directory (identities, federated credentials, role assignments), service-account tokens,
// settings, the emulated chip, fault injection, the request log, reset and health. See
// usageText() and docs/emulator.md for the shapes.
#pragma once

#include "emulator/service.h"

namespace skr::emulator {

class AdminService final : public Service {
 public:
  std::string_view name() const override { return "admin"; }
  void registerRoutes(Router& router, EmulatorContext& context) override;
};

}  // namespace skr::emulator
