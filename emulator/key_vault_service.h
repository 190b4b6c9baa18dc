// Key Vault and Managed HSM data plane for keys (spec/azure-wire.md §2.6, §2.7), served on the
// "vault" and "mhsm" listeners (mhsm additionally allows oct-HSM keys):
//   POST  /keys/{name}/create       PUT /keys/{name}            (import)
//   GET   /keys                     GET /keys/{name}[/]         GET /keys/{name}/{version}
//   GET   /keys/{name}/versions     POST /keys/{name}/rotate
//   PATCH /keys/{name}[/{version}]  (attributes.enabled, key_ops, tags, release_policy)
// Every call: api-version 7.3..7.6, Bearer token for the vault's resource (401 + WWW-Authenticate),
// an RBAC role on the key (403 ForbiddenByRbac). The helpers below are the same checks the key
// release operation (POST /keys/{name}[/{version}]/release) must make.
#pragma once

#include <optional>
#include <string>
#include <variant>

#include "emulator/service.h"

namespace skr::emulator {

class KeyVaultService final : public Service {
 public:
  std::string_view name() const override { return "keyvault"; }
  void registerRoutes(Router& router, EmulatorContext& context) override;
};

inline constexpr const char* kVaultListeners[] = {"vault", "mhsm"};

// Key Vault data-plane api-versions (docs/emulator.md has the table).
enum class KeyVaultApiVersion { Unknown, WithoutRelease, WithRelease };
KeyVaultApiVersion keyVaultApiVersion(std::string_view api_version);
// 400 BadParameter unless the request has an api-version Key Vault accepts (and, for `release`,
// one that has the release operation: 7.3 and later).
std::optional<Response> checkApiVersion(const Request& request, bool release);

// api-version, then Bearer (401 + challenge), then RBAC for `action` on `key_name` (403). Returns
// the error response to send, or nullopt after filling *principal.
std::optional<Response> authorizeKeyRequest(EmulatorContext& context, const Request& request,
                                            KeyAction action, const std::string& key_name,
                                            Principal* principal);

// 404 {"error":{"code":"KeyNotFound","message":"A key with (name/id) X was not found in this key
// vault. ..."}} (Managed HSM says "managed HSM").
Response keyNotFound(const Request& request, const std::string& name_or_id);
Response badParameter(const std::string& message);

// The key version for captures "name" and optional "version" (empty/absent = latest), or the 404.
std::variant<KeyVersionPtr, Response> findKeyVersion(EmulatorContext& context,
                                                     const Request& request);

// "https://127.0.0.1:PORT/keys/NAME/VERSION".
std::string keyId(const std::string& base_url, const KeyVersion& version);
// AKV KeyBundle: {"key":{kid,kty,key_ops,n,e|crv,x,y},"attributes":{..},"release_policy":{..},
// "tags":{..}}. Never private material.
json::ObjectPtr keyBundleJson(const KeyVersion& version, const std::string& base_url);
json::ObjectPtr keyAttributesJson(const KeyAttributes& attributes);

bool isValidKeyName(const std::string& name);

}  // namespace skr::emulator
