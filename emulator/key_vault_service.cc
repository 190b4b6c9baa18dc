#include "emulator/key_vault_service.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <algorithm>
#include <set>

#include "common/azure/release_policy.h"
#include "common/encoding/base64.h"
#include "common/jose/jwk.h"
#include "common/log/logger.h"
#include "emulator/pattern.h"

namespace skr::emulator {
namespace {

const std::set<std::string>& allowedKeyOps() {
  static const std::set<std::string> ops = {"encrypt", "decrypt",   "sign",   "verify",
                                            "wrapKey", "unwrapKey", "import", "export"};
  return ops;
}

std::vector<std::string> defaultKeyOps(KeyFamily family) {
  switch (family) {
    case KeyFamily::Rsa: return {"encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"};
    case KeyFamily::Ec: return {"sign", "verify"};
    case KeyFamily::Oct: return {"encrypt", "decrypt", "wrapKey", "unwrapKey"};
  }
  return {};
}

std::string vaultDisplayName(EmulatorContext& context, const std::string& listener) {
  return listener == "mhsm" ? context.options().mhsm_name : context.options().vault_name;
}

// Parsed body members shared by create, import and update.
struct KeyRequestCommon {
  std::optional<std::vector<std::string>> key_ops;
  std::optional<bool> enabled;
  std::optional<bool> exportable;
  std::optional<int64_t> nbf;
  std::optional<int64_t> exp;
  std::optional<KeyReleasePolicy> release_policy;
  std::optional<std::map<std::string, std::string>> tags;
};

StatusOr<KeyReleasePolicy> parseReleasePolicy(const json::ObjectPtr& o) {
  KeyReleasePolicy p;
  SKR_ASSIGN_OR_RETURN(std::optional<std::string> ct, json::getOptionalString(o, "contentType"));
  if (ct) p.content_type = *ct;
  SKR_ASSIGN_OR_RETURN(std::optional<bool> immutable, json::getOptionalBool(o, "immutable"));
  p.immutable = immutable.value_or(false);
  SKR_ASSIGN_OR_RETURN(std::string data, json::getString(o, "data"));
  StatusOr<Bytes> decoded = encoding::base64DecodeLenient(data, 64 * 1024);
  if (!decoded.ok()) {
    return invalidArgumentError("release_policy.data is not base64url: " +
                                decoded.status().message());
  }
  // The full grammar (spec §3.1), so a policy the release operation could not evaluate is
  // refused when it is set, as AKV does, not when a release is attempted.
  StatusOr<azure::ReleasePolicy> policy = azure::ReleasePolicy::parse(toString(*decoded));
  if (!policy.ok()) {
    return invalidArgumentError("release_policy.data is not a valid release policy: " +
                                policy.status().message());
  }
  p.data = std::move(decoded).value();
  return p;
}

StatusOr<KeyRequestCommon> parseCommon(const json::ObjectPtr& body) {
  KeyRequestCommon c;
  if (body->has("key_ops") && !body->isNull("key_ops")) {
    SKR_ASSIGN_OR_RETURN(std::vector<std::string> ops, json::getStringArray(body, "key_ops"));
    for (const std::string& op : ops) {
      if (allowedKeyOps().count(op) == 0) {
        return invalidArgumentError("Invalid key operation '" + op + "'");
      }
    }
    c.key_ops = std::move(ops);
  }
  SKR_ASSIGN_OR_RETURN(std::optional<json::ObjectPtr> attrs,
                       json::getOptionalObject(body, "attributes"));
  if (attrs) {
    SKR_ASSIGN_OR_RETURN(c.enabled, json::getOptionalBool(*attrs, "enabled"));
    SKR_ASSIGN_OR_RETURN(c.exportable, json::getOptionalBool(*attrs, "exportable"));
    SKR_ASSIGN_OR_RETURN(c.nbf, json::getOptionalInt(*attrs, "nbf"));
    SKR_ASSIGN_OR_RETURN(c.exp, json::getOptionalInt(*attrs, "exp"));
  }
  SKR_ASSIGN_OR_RETURN(std::optional<json::ObjectPtr> policy,
                       json::getOptionalObject(body, "release_policy"));
  if (policy) {
    SKR_ASSIGN_OR_RETURN(KeyReleasePolicy p, parseReleasePolicy(*policy));
    c.release_policy = std::move(p);
  }
  SKR_ASSIGN_OR_RETURN(std::optional<json::ObjectPtr> tags, json::getOptionalObject(body, "tags"));
  if (tags) {
    std::map<std::string, std::string> t;
    for (const auto& [k, v] : **tags) {
      StatusOr<std::string> value = json::asString(v, "tag '" + k + "'");
      if (!value.ok()) return invalidArgumentError("tag '" + k + "' is not a string");
      if (t.size() >= 15) return invalidArgumentError("more than 15 tags");
      t[k] = std::move(value).value();
    }
    c.tags = std::move(t);
  }
  return c;
}

StatusOr<json::ObjectPtr> parseBody(const Request& request) {
  if (request.body.empty()) return invalidArgumentError("The request body is empty.");
  StatusOr<json::ObjectPtr> body = json::parseObject(request.body);
  if (!body.ok()) {
    return invalidArgumentError("The request body is not valid JSON: " + body.status().message());
  }
  return body;
}

Response keyBundleResponse(const KeyVersion& v, const Request& request) {
  return jsonResponse(200, keyBundleJson(v, request.base_url));
}

// Kty on this listener: vault takes RSA, RSA-HSM, EC, EC-HSM; mhsm takes the -HSM types (plain
// names are accepted and stored as -HSM) including oct-HSM.
StatusOr<std::pair<KeyFamily, std::string>> resolveKty(const std::string& listener,
                                                       const std::string& kty, bool hsm) {
  std::string base = kty;
  bool is_hsm = hsm;
  if (base.size() > 4 && base.compare(base.size() - 4, 4, "-HSM") == 0) {
    base = base.substr(0, base.size() - 4);
    is_hsm = true;
  }
  KeyFamily family;
  if (base == "RSA") {
    family = KeyFamily::Rsa;
  } else if (base == "EC") {
    family = KeyFamily::Ec;
  } else if (base == "oct") {
    family = KeyFamily::Oct;
  } else {
    return invalidArgumentError("The key type '" + kty +
                                "' is not supported (RSA-HSM, EC-HSM, "
                                "oct-HSM on Managed HSM)");
  }
  if (listener == "mhsm") is_hsm = true;
  if (family == KeyFamily::Oct && listener != "mhsm") {
    return invalidArgumentError("Key type '" + kty +
                                "' is not supported by Key Vault: symmetric "
                                "(oct-HSM) keys are only available in Managed HSM");
  }
  return std::make_pair(family, base + (is_hsm ? "-HSM" : ""));
}

// Applies the shared rules of create/import to a new version.
Status applyNewKeyRules(KeyVersion& v, const KeyRequestCommon& c, int64_t now) {
  v.key_ops = c.key_ops.value_or(defaultKeyOps(v.family));
  v.attributes.enabled = c.enabled.value_or(true);
  v.attributes.exportable = c.exportable.value_or(false);
  v.attributes.not_before = c.nbf;
  v.attributes.expires = c.exp;
  v.attributes.created = now;
  v.attributes.updated = now;
  v.release_policy = c.release_policy;
  if (c.tags) v.tags = *c.tags;
  if (v.attributes.exportable && !v.release_policy) {
    return invalidArgumentError("AKV.SKR.1004: Exportable keys must have release policy");
  }
  if (v.attributes.exportable && v.kty.find("-HSM") == std::string::npos) {
    return invalidArgumentError("AKV.SKR.1006: Exportable keys must be HSM-protected (kty " +
                                v.kty + "; use " + v.kty + "-HSM)");
  }
  return okStatus();
}

Response forbiddenByRbac(EmulatorContext& context, const Request& request,
                         const Principal& principal, KeyAction action,
                         const std::string& key_name) {
  const std::string vault = request.listener;
  std::string roles;
  for (const std::string& r : rolesFor(vault, action)) roles += (roles.empty() ? "" : ", ") + r;
  const std::string resource = (vault == "mhsm" ? "/managedHSMs/" : "/vaults/") +
                               vaultDisplayName(context, vault) +
                               (key_name.empty() ? std::string() : "/keys/" + key_name);
  const std::string message =
      "Caller is not authorized to perform action on resource.\r\nIf role assignments, deny "
      "assignments or role definitions were changed recently, please observe propagation "
      "time.\r\nCaller: appid=" +
      principal.client_id + ";oid=" + principal.object_id + ";iss=" + principal.issuer +
      "\r\nAction: '" + dataActionName(vault, action) + "'\r\nResource: '" + resource +
      "'\r\nAssignment: (not found)\r\nDenyAssignmentId: "
      "null\r\nDecisionReason: null \r\nVault: " +
      vaultDisplayName(context, vault) +
      ";location=emulated\r\n(Azure RBAC: no role assignment on '/', '/keys' or '/keys/" +
      key_name + "' grants this; roles that would: " + roles + ")";
  return cloudError(403, "Forbidden", message, "ForbiddenByRbac");
}

// ---- handlers ------------------------------------------------------------------------------

Response createKey(EmulatorContext& context, const Request& request) {
  const std::string name = request.captures.at("name");
  Principal principal;
  if (auto denied = authorizeKeyRequest(context, request, KeyAction::Write, name, &principal)) {
    return *denied;
  }
  if (!isValidKeyName(name)) return badParameter("The key name '" + name + "' is invalid.");
  StatusOr<json::ObjectPtr> body = parseBody(request);
  if (!body.ok()) return badParameter(body.status().message());
  StatusOr<std::string> kty = json::getString(*body, "kty");
  if (!kty.ok()) return badParameter("Property 'kty' is required: " + kty.status().message());
  auto resolved = resolveKty(request.listener, *kty, false);
  if (!resolved.ok()) return badParameter(resolved.status().message());
  StatusOr<KeyRequestCommon> common = parseCommon(*body);
  if (!common.ok()) return badParameter(common.status().message());

  KeySpec spec;
  spec.family = resolved->first;
  StatusOr<std::optional<int64_t>> size = json::getOptionalInt(*body, "key_size");
  if (!size.ok()) return badParameter(size.status().message());
  if (spec.family == KeyFamily::Rsa) {
    spec.key_size = static_cast<int>(size->value_or(2048));
    if (spec.key_size != 2048 && spec.key_size != 3072 && spec.key_size != 4096) {
      return badParameter("Invalid key size " + std::to_string(spec.key_size) +
                          " for RSA (2048, 3072 or 4096).");
    }
  } else if (spec.family == KeyFamily::Oct) {
    spec.key_size = static_cast<int>(size->value_or(256));
    if (spec.key_size != 128 && spec.key_size != 192 && spec.key_size != 256) {
      return badParameter("Invalid key size " + std::to_string(spec.key_size) +
                          " for oct-HSM (128, 192 or 256).");
    }
  } else {
    StatusOr<std::optional<std::string>> crv = json::getOptionalString(*body, "crv");
    if (!crv.ok()) return badParameter(crv.status().message());
    StatusOr<crypto::Curve> curve = crypto::curveFromName(crv->value_or("P-256"));
    if (!curve.ok()) {
      return badParameter("The curve '" + crv->value_or("") +
                          "' is not supported by skr-emulator (P-256, P-384, P-521).");
    }
    spec.curve = *curve;
  }
  KeyVersion v;
  v.vault = request.listener;
  v.name = name;
  v.version = newKeyVersionId();
  v.kty = resolved->second;
  Status generated = generateKeyMaterial(spec, v);
  if (!generated.ok()) {
    log::error("emulator.keyvault.generate_failed", {{"error", generated.toString()}});
    return cloudError(500, "InternalError", "key generation failed");
  }
  Status rules = applyNewKeyRules(v, *common, context.now());
  if (!rules.ok()) return badParameter(rules.message());
  StatusOr<KeyVersionPtr> stored = context.keys().addVersion(std::move(v));
  if (!stored.ok()) {
    log::error("emulator.keyvault.store_failed", {{"error", stored.status().toString()}});
    return cloudError(500, "InternalError", "storing the key failed");
  }
  log::info("emulator.keyvault.created", {{"vault", request.listener},
                                          {"key", name},
                                          {"version", (*stored)->version},
                                          {"kty", (*stored)->kty}});
  return keyBundleResponse(**stored, request);
}

Response importKey(EmulatorContext& context, const Request& request) {
  const std::string name = request.captures.at("name");
  Principal principal;
  if (auto denied = authorizeKeyRequest(context, request, KeyAction::Write, name, &principal)) {
    return *denied;
  }
  if (!isValidKeyName(name)) return badParameter("The key name '" + name + "' is invalid.");
  StatusOr<json::ObjectPtr> body = parseBody(request);
  if (!body.ok()) return badParameter(body.status().message());
  StatusOr<json::ObjectPtr> jwk_json = json::getObject(*body, "key");
  if (!jwk_json.ok()) return badParameter("Property 'key' (a JWK) is required.");
  StatusOr<std::string> kty = json::getString(*jwk_json, "kty");
  if (!kty.ok()) return badParameter("JSON Web Key: property 'kty' is required.");
  StatusOr<std::optional<bool>> hsm = json::getOptionalBool(*body, "hsm");
  if (!hsm.ok()) return badParameter(hsm.status().message());
  auto resolved = resolveKty(request.listener, *kty, hsm->value_or(false));
  if (!resolved.ok()) return badParameter(resolved.status().message());
  StatusOr<KeyRequestCommon> common = parseCommon(*body);
  if (!common.ok()) return badParameter(common.status().message());
  if (!common->key_ops && (*jwk_json)->has("key_ops")) {
    StatusOr<std::vector<std::string>> ops = json::getStringArray(*jwk_json, "key_ops");
    if (!ops.ok()) return badParameter("JSON Web Key: " + ops.status().message());
    for (const std::string& op : *ops) {
      if (allowedKeyOps().count(op) == 0) return badParameter("Invalid key operation '" + op + "'");
    }
    common->key_ops = *ops;
  }
  // The JOSE parser knows the plain JWK kty names only.
  json::ObjectPtr plain = new Poco::JSON::Object(**jwk_json);
  const std::string base_kty = resolved->second.substr(0, resolved->second.find('-'));
  plain->set("kty", base_kty);
  plain->remove("key_ops");
  StatusOr<jose::Jwk> jwk = jose::Jwk::fromJson(plain);
  if (!jwk.ok()) return badParameter("JSON Web Key: " + jwk.status().message());
  if (!jwk->hasPrivate()) {
    return badParameter("JSON Web Key: the key to import must contain its private members.");
  }
  KeyVersion v;
  v.vault = request.listener;
  v.name = name;
  v.version = newKeyVersionId();
  v.kty = resolved->second;
  v.family = resolved->first;
  if (v.family == KeyFamily::Oct) {
    const SecretBytes* k = jwk->octet().value();
    if (k->size() != 16 && k->size() != 24 && k->size() != 32) {
      return badParameter("JSON Web Key: k property of oct key is " + std::to_string(k->size()) +
                          " bytes; expected 16, 24 or 32.");
    }
    v.material = k->clone();
  } else {
    const crypto::PrivateKey* key = jwk->privateKey().value();
    if (v.family == KeyFamily::Rsa && key->bits() < 2048) {
      return badParameter("JSON Web Key: RSA keys must be at least 2048 bits.");
    }
    v.material = key->toPkcs8Der();
  }
  Status derived = derivePublicMembers(v);
  if (!derived.ok()) return badParameter("JSON Web Key: " + derived.message());
  Status rules = applyNewKeyRules(v, *common, context.now());
  if (!rules.ok()) return badParameter(rules.message());
  StatusOr<KeyVersionPtr> stored = context.keys().addVersion(std::move(v));
  if (!stored.ok()) return cloudError(500, "InternalError", "storing the key failed");
  log::info("emulator.keyvault.imported", {{"vault", request.listener},
                                           {"key", name},
                                           {"version", (*stored)->version},
                                           {"kty", (*stored)->kty}});
  return keyBundleResponse(**stored, request);
}

Response getKey(EmulatorContext& context, const Request& request) {
  const std::string name = request.captures.at("name");
  Principal principal;
  if (auto denied = authorizeKeyRequest(context, request, KeyAction::Read, name, &principal)) {
    return *denied;
  }
  auto found = findKeyVersion(context, request);
  if (auto* r = std::get_if<Response>(&found)) return *r;
  return keyBundleResponse(*std::get<KeyVersionPtr>(found), request);
}

Response listVersions(EmulatorContext& context, const Request& request) {
  const std::string name = request.captures.at("name");
  Principal principal;
  if (auto denied = authorizeKeyRequest(context, request, KeyAction::Read, name, &principal)) {
    return *denied;
  }
  const std::vector<KeyVersionPtr> versions = context.keys().versions(request.listener, name);
  if (versions.empty()) return keyNotFound(request, name);
  Poco::JSON::Array::Ptr value = new Poco::JSON::Array;
  for (const KeyVersionPtr& v : versions) {
    json::ObjectPtr item = new Poco::JSON::Object;
    item->set("kid", keyId(request.base_url, *v));
    item->set("attributes", keyAttributesJson(v->attributes));
    if (!v->tags.empty()) {
      json::ObjectPtr tags = new Poco::JSON::Object;
      for (const auto& [k, t] : v->tags) tags->set(k, t);
      item->set("tags", tags);
    }
    value->add(item);
  }
  json::ObjectPtr o = new Poco::JSON::Object;
  o->set("value", value);
  o->set("nextLink", Poco::Dynamic::Var());
  return jsonResponse(200, o);
}

Response listKeys(EmulatorContext& context, const Request& request) {
  Principal principal;
  if (auto denied = authorizeKeyRequest(context, request, KeyAction::Read, "", &principal)) {
    return *denied;
  }
  Poco::JSON::Array::Ptr value = new Poco::JSON::Array;
  for (const std::string& name : context.keys().names(request.listener)) {
    KeyVersionPtr latest = context.keys().latest(request.listener, name);
    if (!latest) continue;
    json::ObjectPtr item = new Poco::JSON::Object;
    item->set("kid", request.base_url + "/keys/" + name);
    item->set("attributes", keyAttributesJson(latest->attributes));
    value->add(item);
  }
  json::ObjectPtr o = new Poco::JSON::Object;
  o->set("value", value);
  o->set("nextLink", Poco::Dynamic::Var());
  return jsonResponse(200, o);
}

Response rotateKey(EmulatorContext& context, const Request& request) {
  const std::string name = request.captures.at("name");
  Principal principal;
  if (auto denied = authorizeKeyRequest(context, request, KeyAction::Write, name, &principal)) {
    return *denied;
  }
  KeyVersionPtr latest = context.keys().latest(request.listener, name);
  if (!latest) return keyNotFound(request, name);
  KeySpec spec;
  spec.family = latest->family;
  spec.key_size = latest->key_size;
  if (latest->family == KeyFamily::Ec) {
    StatusOr<crypto::Curve> curve = crypto::curveFromName(latest->curve);
    if (!curve.ok()) return cloudError(500, "InternalError", "stored key has an unknown curve");
    spec.curve = *curve;
  }
  KeyVersion v;
  v.vault = request.listener;
  v.name = name;
  v.version = newKeyVersionId();
  v.kty = latest->kty;
  Status generated = generateKeyMaterial(spec, v);
  if (!generated.ok()) return cloudError(500, "InternalError", "key generation failed");
  v.key_ops = latest->key_ops;
  v.attributes = latest->attributes;
  v.attributes.enabled = true;
  v.attributes.created = context.now();
  v.attributes.updated = v.attributes.created;
  v.release_policy = latest->release_policy;
  v.tags = latest->tags;
  StatusOr<KeyVersionPtr> stored = context.keys().addVersion(std::move(v));
  if (!stored.ok()) return cloudError(500, "InternalError", "storing the key failed");
  log::info("emulator.keyvault.rotated",
            {{"vault", request.listener}, {"key", name}, {"version", (*stored)->version}});
  return keyBundleResponse(**stored, request);
}

Response updateKey(EmulatorContext& context, const Request& request) {
  const std::string name = request.captures.at("name");
  Principal principal;
  if (auto denied = authorizeKeyRequest(context, request, KeyAction::Write, name, &principal)) {
    return *denied;
  }
  StatusOr<json::ObjectPtr> body = parseBody(request);
  if (!body.ok()) return badParameter(body.status().message());
  StatusOr<KeyRequestCommon> common = parseCommon(*body);
  if (!common.ok()) return badParameter(common.status().message());
  auto found = findKeyVersion(context, request);
  if (auto* r = std::get_if<Response>(&found)) return *r;
  const std::string version = std::get<KeyVersionPtr>(found)->version;
  const int64_t now = context.now();
  StatusOr<KeyVersionPtr> updated =
      context.keys().updateVersion(request.listener, name, version, [&](KeyVersion& v) -> Status {
        if (common->exportable && *common->exportable != v.attributes.exportable) {
          return invalidArgumentError("AKV.SKR.1014: Cannot modify the exportable state of a key");
        }
        if (common->release_policy) {
          if (v.release_policy && v.release_policy->immutable) {
            return invalidArgumentError(
                "AKV.SKR.1010: The release policy of this key is immutable and cannot be changed");
          }
          v.release_policy = common->release_policy;
        }
        if (common->enabled) v.attributes.enabled = *common->enabled;
        if (common->nbf) v.attributes.not_before = common->nbf;
        if (common->exp) v.attributes.expires = common->exp;
        if (common->key_ops) v.key_ops = *common->key_ops;
        if (common->tags) v.tags = *common->tags;
        v.attributes.updated = now;
        return okStatus();
      });
  if (!updated.ok()) {
    if (updated.status().code() == StatusCode::InvalidArgument) {
      return badParameter(updated.status().message());
    }
    if (updated.status().code() == StatusCode::NotFound) return keyNotFound(request, name);
    return cloudError(500, "InternalError", "updating the key failed");
  }
  log::info("emulator.keyvault.updated",
            {{"vault", request.listener}, {"key", name}, {"version", version}});
  return keyBundleResponse(**updated, request);
}

}  // namespace

bool isValidKeyName(const std::string& name) {
  static const Pattern re = Pattern::literal("[0-9A-Za-z-]{1,127}");
  return re.matches(name);
}

KeyVaultApiVersion keyVaultApiVersion(std::string_view v) {
  // The data-plane versions of azure-rest-api-specs (specification/keyvault/data-plane): the
  // numbered ones up to 7.6 with their previews, then the date-based ones the current SDKs send
  // by default (@azure/keyvault-keys 4.10: 2025-07-01). Key release exists from 7.3 on.
  static constexpr std::string_view kWithoutRelease[] = {"2016-10-01",  "7.0", "7.0-preview", "7.1",
                                                         "7.1-preview", "7.2", "7.2-preview"};
  static constexpr std::string_view kWithRelease[] = {"7.3",
                                                      "7.3-preview",
                                                      "7.4",
                                                      "7.4-preview.1",
                                                      "7.5",
                                                      "7.5-preview.1",
                                                      "7.6",
                                                      "7.6-preview.1",
                                                      "7.6-preview.2",
                                                      "2025-06-01",
                                                      "2025-06-01-preview",
                                                      "2025-07-01",
                                                      "2025-07-01-preview",
                                                      "2026-01-01-preview"};
  for (std::string_view known : kWithRelease) {
    if (v == known) return KeyVaultApiVersion::WithRelease;
  }
  for (std::string_view known : kWithoutRelease) {
    if (v == known) return KeyVaultApiVersion::WithoutRelease;
  }
  return KeyVaultApiVersion::Unknown;
}

std::optional<Response> checkApiVersion(const Request& request, bool release) {
  if (!request.hasQueryParam("api-version")) {
    return badParameter("The 'api-version' query parameter is required.");
  }
  const std::string v = request.queryParam("api-version");
  const KeyVaultApiVersion known = keyVaultApiVersion(v);
  if (known == KeyVaultApiVersion::Unknown) {
    return badParameter("The specified version (" + v +
                        ") is not recognized. Consider using the latest supported version "
                        "(2025-07-01).");
  }
  if (release && known != KeyVaultApiVersion::WithRelease) {
    return badParameter("The specified version (" + v +
                        ") does not support key release. Use version 7.3 or later.");
  }
  return std::nullopt;
}

std::optional<Response> authorizeKeyRequest(EmulatorContext& context, const Request& request,
                                            KeyAction action, const std::string& key_name,
                                            Principal* principal) {
  if (auto bad = checkApiVersion(request, action == KeyAction::Release)) return bad;
  StatusOr<Principal> p =
      context.validateBearer(request, EmulatorContext::resourceFor(request.listener));
  if (!p.ok()) return vaultUnauthorized(context, request.listener, p.status().message());
  if (!context.checkRole(*p, request.listener, action, key_name)) {
    log::info("emulator.keyvault.forbidden",
              {{"vault", request.listener},
               {"key", key_name},
               {"oid", p->object_id},
               {"action", dataActionName(request.listener, action)}});
    return forbiddenByRbac(context, request, *p, action, key_name);
  }
  *principal = std::move(p).value();
  return std::nullopt;
}

Response keyNotFound(const Request& request, const std::string& name_or_id) {
  return cloudError(404, "KeyNotFound",
                    "A key with (name/id) " + name_or_id + " was not found in this " +
                        (request.listener == "mhsm" ? "managed HSM." : "key vault."));
}

Response badParameter(const std::string& message) {
  return cloudError(400, "BadParameter", message);
}

std::variant<KeyVersionPtr, Response> findKeyVersion(EmulatorContext& context,
                                                     const Request& request) {
  const std::string name = request.captures.count("name") ? request.captures.at("name") : "";
  const std::string version =
      request.captures.count("version") ? request.captures.at("version") : "";
  KeyVersionPtr v = version.empty() ? context.keys().latest(request.listener, name)
                                    : context.keys().get(request.listener, name, version);
  if (!v) return keyNotFound(request, version.empty() ? name : name + "/" + version);
  return v;
}

std::string keyId(const std::string& base_url, const KeyVersion& v) {
  return base_url + "/keys/" + v.name + "/" + v.version;
}

json::ObjectPtr keyAttributesJson(const KeyAttributes& a) {
  json::ObjectPtr o = new Poco::JSON::Object;
  o->set("enabled", a.enabled);
  o->set("created", static_cast<Poco::Int64>(a.created));
  o->set("updated", static_cast<Poco::Int64>(a.updated));
  if (a.not_before) o->set("nbf", static_cast<Poco::Int64>(*a.not_before));
  if (a.expires) o->set("exp", static_cast<Poco::Int64>(*a.expires));
  o->set("recoveryLevel", "Recoverable+Purgeable");
  o->set("recoverableDays", 90);
  o->set("exportable", a.exportable);
  return o;
}

json::ObjectPtr keyBundleJson(const KeyVersion& v, const std::string& base_url) {
  json::ObjectPtr key = new Poco::JSON::Object;
  key->set("kid", keyId(base_url, v));
  key->set("kty", v.kty);
  Poco::JSON::Array::Ptr ops = new Poco::JSON::Array;
  for (const auto& op : v.key_ops) ops->add(op);
  key->set("key_ops", ops);
  if (v.family == KeyFamily::Rsa) {
    key->set("n", encoding::base64UrlEncode(v.n));
    key->set("e", encoding::base64UrlEncode(v.e));
  } else if (v.family == KeyFamily::Ec) {
    key->set("crv", v.curve);
    key->set("x", encoding::base64UrlEncode(v.x));
    key->set("y", encoding::base64UrlEncode(v.y));
  }
  json::ObjectPtr o = new Poco::JSON::Object;
  o->set("key", key);
  o->set("attributes", keyAttributesJson(v.attributes));
  if (v.release_policy) {
    json::ObjectPtr p = new Poco::JSON::Object;
    p->set("contentType", v.release_policy->content_type);
    p->set("data", encoding::base64UrlEncode(v.release_policy->data));
    p->set("immutable", v.release_policy->immutable);
    o->set("release_policy", p);
  }
  if (!v.tags.empty()) {
    json::ObjectPtr tags = new Poco::JSON::Object;
    for (const auto& [k, t] : v.tags) tags->set(k, t);
    o->set("tags", tags);
  }
  return o;
}

void KeyVaultService::registerRoutes(Router& router, EmulatorContext& context) {
  const std::vector<std::string> vaults = {"vault", "mhsm"};
  auto bind = [&context](Response (*fn)(EmulatorContext&, const Request&)) {
    return [&context, fn](const Request& r) { return fn(context, r); };
  };
  router.add(vaults, "GET", "/keys", bind(listKeys));
  router.add(vaults, "GET", "/keys/{name}/versions", bind(listVersions));
  router.add(vaults, "POST", "/keys/{name}/create", bind(createKey));
  router.add(vaults, "POST", "/keys/{name}/rotate", bind(rotateKey));
  router.add(vaults, "PUT", "/keys/{name}", bind(importKey));
  router.add(vaults, "GET", "/keys/{name}", bind(getKey));
  router.add(vaults, "GET", "/keys/{name}/", bind(getKey));
  router.add(vaults, "GET", "/keys/{name}/{version}", bind(getKey));
  router.add(vaults, "PATCH", "/keys/{name}", bind(updateKey));
  router.add(vaults, "PATCH", "/keys/{name}/", bind(updateKey));
  router.add(vaults, "PATCH", "/keys/{name}/{version}", bind(updateKey));
}

}  // namespace skr::emulator
