#include "emulator/imds_service.h"

#include <Poco/JSON/Object.h>

#include <cinttypes>
#include <cstdio>

#include "common/log/logger.h"

namespace skr::emulator {
namespace {

Response imdsError(int status, const std::string& error, const std::string& description) {
  json::ObjectPtr o = new Poco::JSON::Object;
  o->set("error", error);
  o->set("error_description", description);
  return jsonResponse(status, o);
}

bool hasMetadataHeader(const Request& request) {
  return request.headers.get("Metadata") == "true";
}

Response metadataHeaderMissing() {
  // IMDS docs list this as 400 bad_request_102; the service answers with invalid_request.
  return imdsError(400, "invalid_request", "Required metadata header not specified");
}

StatusOr<Identity> selectIdentity(EmulatorContext& context, const Request& request) {
  const int selectors = static_cast<int>(request.hasQueryParam("client_id")) +
                        static_cast<int>(request.hasQueryParam("object_id")) +
                        static_cast<int>(request.hasQueryParam("msi_res_id")) +
                        static_cast<int>(request.hasQueryParam("mi_res_id"));
  if (selectors > 1) {
    return invalidArgumentError("Only one of client_id, object_id, msi_res_id can be specified");
  }
  std::optional<Identity> found;
  if (request.hasQueryParam("client_id")) {
    found = context.identities().findByClientId(request.queryParam("client_id"));
  } else if (request.hasQueryParam("object_id")) {
    found = context.identities().findByObjectId(request.queryParam("object_id"));
  } else if (request.hasQueryParam("msi_res_id") || request.hasQueryParam("mi_res_id")) {
    const std::string id = request.hasQueryParam("msi_res_id") ? request.queryParam("msi_res_id")
                                                               : request.queryParam("mi_res_id");
    found = context.identities().findByMsiResId(id);
  } else {
    const std::vector<Identity> managed = context.identities().managedIdentities();
    for (const Identity& i : managed) {
      if (i.kind == IdentityKind::SystemAssigned) return i;
    }
    if (managed.size() == 1) return managed.front();
    if (managed.size() > 1) {
      return invalidArgumentError(
          "Multiple user assigned identities exist, please specify the clientId / resourceId of "
          "the identity in the token request");
    }
    return notFoundError("Identity not found");
  }
  if (!found || found->kind == IdentityKind::Application) {
    return notFoundError("Identity not found");
  }
  return *found;
}

Response tokenHandler(EmulatorContext& context, const Request& request) {
  if (!hasMetadataHeader(request)) return metadataHeaderMissing();
  if (!request.hasQueryParam("api-version")) {
    return imdsError(400, "invalid_request", "Required query variable 'api-version' is missing");
  }
  const std::string resource = request.queryParam("resource");
  if (resource.empty()) {
    return imdsError(400, "invalid_request", "Required audience parameter not specified");
  }
  if (!isKnownResource(resource)) {
    return imdsError(400, "invalid_resource",
                     "AADSTS500011: The resource principal named " + resource +
                         " was not found in the tenant named " + context.tenantId() +
                         " (skr-emulator issues tokens for https://vault.azure.net, "
                         "https://managedhsm.azure.net, https://management.azure.com, "
                         "https://storage.azure.com).");
  }
  StatusOr<Identity> identity = selectIdentity(context, request);
  if (!identity.ok()) return imdsError(400, "invalid_request", identity.status().message());
  int64_t expires_on = 0;
  StatusOr<std::string> token =
      context.issueAccessToken(*identity, resource, request.sign_with_wrong_key, &expires_on);
  if (!token.ok()) {
    log::error("emulator.imds.token_failed", {{"error", token.status().toString()}});
    return imdsError(500, "unknown", "Failed to retrieve token from the Active directory");
  }
  const int64_t now = context.now();
  json::ObjectPtr o = new Poco::JSON::Object;
  o->set("access_token", *token);
  o->set("refresh_token", "");
  o->set("expires_in", std::to_string(expires_on - now));
  o->set("expires_on", std::to_string(expires_on));
  o->set("ext_expires_in", std::to_string(expires_on - now));
  o->set("not_before", std::to_string(now));
  o->set("resource", resource);
  o->set("token_type", "Bearer");
  o->set("client_id", identity->client_id);
  log::info("emulator.imds.token", {{"client_id", identity->client_id},
                                    {"resource", resource},
                                    {"kind", std::string(identityKindName(identity->kind))}});
  return jsonResponse(200, o);
}

Response thimHandler(EmulatorContext& context, const Request& request) {
  if (!hasMetadataHeader(request)) return metadataHeaderMissing();
  std::lock_guard lock(context.chipMutex());
  StatusOr<snp::EmulatedChip> chip = context.openChip();
  if (!chip.ok()) {
    log::error("emulator.imds.thim_failed", {{"error", chip.status().toString()}});
    return imdsError(500, "unknown", "emulated chip unavailable: " + chip.status().message());
  }
  char tcbm[17];
  std::snprintf(tcbm, sizeof tcbm, "%016" PRIX64, chip->config().tcbRaw());
  json::ObjectPtr o = new Poco::JSON::Object;
  o->set("vcekCert", chip->vcek().toPem());
  o->set("tcbm", std::string(tcbm));
  o->set("certificateChain", chip->ask().toPem() + chip->ark().toPem());
  o->set("cacheControl", "86400");
  return jsonResponse(200, o);
}

}  // namespace

bool isKnownResource(const std::string& resource) {
  const std::string r = withoutTrailingSlash(resource);
  return r == kVaultResource || r == kManagedHsmResource || r == "https://management.azure.com" ||
         r == "https://management.core.windows.net" || r == "https://attest.azure.net" ||
         r == kStorageResource;
}

void ImdsService::registerRoutes(Router& router, EmulatorContext& context) {
  router.add({"imds"}, "GET", "/metadata/identity/oauth2/token",
             [&context](const Request& r) { return tokenHandler(context, r); });
  // @azure/identity (MSAL's IMDS source) asks with a trailing slash; IMDS answers both.
  router.add({"imds"}, "GET", "/metadata/identity/oauth2/token/",
             [&context](const Request& r) { return tokenHandler(context, r); });
  router.add({"imds"}, "GET", "/metadata/THIM/amd/certification",
             [&context](const Request& r) { return thimHandler(context, r); });
}

}  // namespace skr::emulator
