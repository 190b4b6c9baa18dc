// Emulated Entra ID (HTTPS): the client-credentials grant with a federated client assertion
// (workload identity), plus discovery documents for the tenant and for the emulated Kubernetes
// service-account issuer:
//   POST /{tenant}/oauth2/v2.0/token                       form-encoded, AADSTS-style errors
//   GET  /{tenant}/discovery/v2.0/keys                     JWKS of the access-token key
//   GET  /{tenant}/v2.0/.well-known/openid-configuration
//   GET  /k8s-issuer/.well-known/openid-configuration      the service-account token issuer
//   GET  /k8s-issuer/openid/v1/jwks
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "common/core/status.h"
#include "emulator/service.h"

namespace skr::emulator {

class EntraService final : public Service {
 public:
  std::string_view name() const override { return "entra"; }
  void registerRoutes(Router& router, EmulatorContext& context) override;
};

// application/x-www-form-urlencoded -> name/value (first occurrence wins; '+' is a space).
// InvalidArgument on bad percent-encoding or more than 64 fields.
StatusOr<std::map<std::string, std::string>> parseFormBody(std::string_view body);

}  // namespace skr::emulator
