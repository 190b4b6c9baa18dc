// The error body Azure Key Vault, Managed HSM and Azure's other data planes answer with
// (KeyVaultError / CloudError): {"error":{"code":..,"innererror":{"code":..},"message":..}}.
// The one writer of that shape: the agent's router and HTTP server and the emulator use it.
#pragma once

#include <string>
#include <string_view>

namespace skr::azure {

// The body, members in canonical (byte) order, compact. "innererror" only when `inner_code` is
// non-empty. Strings are escaped as json::appendQuoted does, so the result is always valid JSON.
std::string akvErrorBody(std::string_view code, std::string_view message,
                         std::string_view inner_code = {});

}  // namespace skr::azure
