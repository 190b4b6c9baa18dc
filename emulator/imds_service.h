// Azure Instance Metadata Service, plain HTTP as on Azure (spec/azure-wire.md §4.1, §5.2):
//   GET
//   /metadata/identity/oauth2/token?api-version=..&resource=..[&client_id=|&object_id=|&msi_res_id=]
//   GET /metadata/THIM/amd/certification   (THIM JSON of the emulated chip)
// Both require "Metadata: true". Token responses have string-typed fields only.
#pragma once

#include "emulator/service.h"

namespace skr::emulator {

class ImdsService final : public Service {
 public:
  std::string_view name() const override { return "imds"; }
  void registerRoutes(Router& router, EmulatorContext& context) override;
};

// Resources the emulated Entra ID issues tokens for (audience without trailing slash).
bool isKnownResource(const std::string& resource);

}  // namespace skr::emulator
