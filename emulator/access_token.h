// Tokens the emulator issues and checks: Entra-style access tokens (RS256 JWT, spec/azure-wire.md
// §4) and Kubernetes-style service-account tokens (the workload-identity client assertion). Every
// token carries "x-ms-emulated": true. Pure functions over keys and an injected time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/core/status.h"
#include "common/crypto/pkey.h"
#include "emulator/signing_keys.h"

namespace skr::emulator {

struct AccessTokenClaims {
  std::string issuer;  // "{entra_url}/{tenant}/v2.0" (storage: "https://sts.windows.net/{tenant}/")
  std::string audience;  // resource without trailing slash: "https://vault.azure.net"
  std::string tenant_id;
  std::string object_id;        // "oid" and "sub"
  std::string client_id;        // "appid" and "azp"
  std::string msi_res_id;       // "xms_mirid" for user-assigned identities
  std::string version = "2.0";  // "ver": "1.0" for storage tokens, as Azure's
  int64_t issued_at = 0;
  int64_t expires_at = 0;
};

StatusOr<std::string> signAccessToken(const SigningKey& key, const AccessTokenClaims& claims);

// Who a verified access token names.
struct Principal {
  std::string object_id;
  std::string client_id;
  std::string tenant_id;
  std::string issuer;
  int64_t expires_at = 0;
};

// Verifies signature (with `key`), "iss" == issuer, "aud" == audience (a trailing slash on either
// side is ignored), exp/nbf at `now` (60 s leeway). Unauthenticated with an AKV-like message.
StatusOr<Principal> verifyAccessToken(std::string_view token, const crypto::PublicKey& key,
                                      const std::string& issuer, const std::string& audience,
                                      int64_t now);

struct ServiceAccountTokenClaims {
  std::string issuer;    // "{entra_url}/k8s-issuer"
  std::string subject;   // "system:serviceaccount:<ns>:<sa>"
  std::string audience;  // "api://AzureADTokenExchange"
  int64_t issued_at = 0;
  int64_t expires_at = 0;
};

StatusOr<std::string> signServiceAccountToken(const SigningKey& key,
                                              const ServiceAccountTokenClaims& claims);

// "https://vault.azure.net/" -> "https://vault.azure.net".
std::string withoutTrailingSlash(std::string s);

}  // namespace skr::emulator
