#include "emulator/admin_service.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include "common/encoding/hex.h"
#include "common/log/logger.h"
#include "emulator/pattern.h"

namespace skr::emulator {
namespace {

Response adminError(const Status& status) {
  int http = 400;
  switch (status.code()) {
    case StatusCode::NotFound: http = 404; break;
    case StatusCode::ResourceExhausted: http = 429; break;
    case StatusCode::InvalidArgument: http = 400; break;
    default: http = 500; break;
  }
  return cloudError(http, std::string(statusCodeName(status.code())), status.message());
}

StatusOr<json::ObjectPtr> adminBody(const Request& request) {
  if (request.body.empty()) return json::ObjectPtr(new Poco::JSON::Object);
  return json::parseObject(request.body);
}

template <typename T, typename F>
Response listResponse(const char* member, const std::vector<T>& items, F&& to_json) {
  Poco::JSON::Array::Ptr arr = new Poco::JSON::Array;
  for (const T& item : items) arr->add(to_json(item));
  json::ObjectPtr o = new Poco::JSON::Object;
  o->set(member, arr);
  return jsonResponse(200, o);
}

Response health(EmulatorContext& context) {
  json::ObjectPtr o = new Poco::JSON::Object;
  o->set("status", "ok");
  o->set("emulated", true);
  o->set("version", SKR_VERSION);
  o->set("tenant_id", context.tenantId());
  o->set("k8s_issuer", context.k8sIssuer());
  json::ObjectPtr listeners = new Poco::JSON::Object;
  for (const auto& [name, url] : context.listenerUrls()) listeners->set(name, url);
  o->set("listeners", listeners);
  Poco::JSON::Array::Ptr trusted = new Poco::JSON::Array;
  for (const auto& l : context.trustedMaaListeners()) trusted->add(context.url(l));
  o->set("trusted_maa", trusted);
  o->set("chip_dir", context.chipDir());
  return jsonResponse(200, o);
}

Response addIdentity(EmulatorContext& context, const Request& request) {
  StatusOr<json::ObjectPtr> body = adminBody(request);
  if (!body.ok()) return adminError(body.status());
  StatusOr<Identity> identity = Identity::fromJson(*body);
  if (!identity.ok()) return adminError(identity.status());
  for (FederatedCredential& f : identity->federated_credentials) {
    if (f.issuer.empty()) f.issuer = context.k8sIssuer();
  }
  StatusOr<Identity> stored = context.identities().addIdentity(std::move(identity).value());
  if (!stored.ok()) return adminError(stored.status());
  log::info("emulator.admin.identity_added", {{"kind", std::string(identityKindName(stored->kind))},
                                              {"client_id", stored->client_id},
                                              {"object_id", stored->object_id}});
  return jsonResponse(201, stored->toJson());
}

Response addFederatedCredential(EmulatorContext& context, const Request& request) {
  StatusOr<json::ObjectPtr> body = adminBody(request);
  if (!body.ok()) return adminError(body.status());
  // Reuse the identity parser's rules for one credential.
  json::ObjectPtr wrapper = new Poco::JSON::Object;
  wrapper->set("kind", "app");
  Poco::JSON::Array::Ptr arr = new Poco::JSON::Array;
  arr->add(*body);
  wrapper->set("federated_credentials", arr);
  StatusOr<Identity> parsed = Identity::fromJson(wrapper);
  if (!parsed.ok()) return adminError(parsed.status());
  FederatedCredential cred = parsed->federated_credentials.front();
  if (cred.issuer.empty()) cred.issuer = context.k8sIssuer();
  StatusOr<Identity> stored =
      context.identities().addFederatedCredential(request.captures.at("id"), std::move(cred));
  if (!stored.ok()) return adminError(stored.status());
  return jsonResponse(201, stored->toJson());
}

Response addRoleAssignment(EmulatorContext& context, const Request& request) {
  StatusOr<json::ObjectPtr> body = adminBody(request);
  if (!body.ok()) return adminError(body.status());
  StatusOr<RoleAssignment> r = RoleAssignment::fromJson(*body);
  if (!r.ok()) return adminError(r.status());
  StatusOr<RoleAssignment> stored = context.identities().addRoleAssignment(std::move(r).value());
  if (!stored.ok()) return adminError(stored.status());
  log::info("emulator.admin.role_assigned", {{"principal_id", stored->principal_id},
                                             {"role", stored->role},
                                             {"vault", stored->vault},
                                             {"scope", stored->scope}});
  return jsonResponse(201, stored->toJson());
}

Response serviceAccountToken(EmulatorContext& context, const Request& request) {
  StatusOr<json::ObjectPtr> body = adminBody(request);
  if (!body.ok()) return adminError(body.status());
  StatusOr<std::string> ns = json::getString(*body, "namespace");
  StatusOr<std::string> sa = json::getString(*body, "service_account");
  if (!ns.ok()) return adminError(ns.status());
  if (!sa.ok()) return adminError(sa.status());
  static const Pattern name_re = Pattern::literal("[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?");
  if (!name_re.matches(*ns) || !name_re.matches(*sa)) {
    return adminError(invalidArgumentError("namespace and service_account must be DNS-1123 names"));
  }
  StatusOr<std::optional<std::string>> aud = json::getOptionalString(*body, "audience");
  StatusOr<std::optional<int64_t>> lifetime = json::getOptionalInt(*body, "lifetime_seconds");
  StatusOr<std::optional<bool>> wrong = json::getOptionalBool(*body, "wrong_key");
  if (!aud.ok() || !lifetime.ok() || !wrong.ok()) {
    return adminError(
        invalidArgumentError("audience (string), lifetime_seconds (int), wrong_key "
                             "(bool)"));
  }
  const int64_t life = lifetime->value_or(3600);
  if (life < -86400 || life > 86400 * 7) {
    return adminError(invalidArgumentError("lifetime_seconds not in -86400..604800"));
  }
  ServiceAccountTokenClaims c;
  c.issuer = context.k8sIssuer();
  c.subject = "system:serviceaccount:" + *ns + ":" + *sa;
  c.audience = aud->value_or(kTokenExchangeAudience);
  c.issued_at = context.now() + std::min<int64_t>(life, 0) - (life < 0 ? 60 : 0);
  c.expires_at = context.now() + life;
  if (c.issued_at >= c.expires_at) c.issued_at = c.expires_at - 3600;
  const SigningKey& key =
      wrong->value_or(false) ? context.signingKeys().wrong() : context.signingKeys().k8sIssuer();
  StatusOr<std::string> token = signServiceAccountToken(key, c);
  if (!token.ok()) return adminError(internalError(token.status().message()));
  json::ObjectPtr o = new Poco::JSON::Object;
  o->set("token", *token);
  o->set("issuer", c.issuer);
  o->set("subject", c.subject);
  o->set("audience", c.audience);
  o->set("expires_at", static_cast<Poco::Int64>(c.expires_at));
  return jsonResponse(200, o);
}

Response settings(EmulatorContext& context) {
  json::ObjectPtr o = new Poco::JSON::Object;
  o->set("token_lifetime_seconds",
         static_cast<Poco::Int64>(context.identities().tokenLifetimeSeconds()));
  o->set("maa_token_lifetime_seconds", static_cast<Poco::Int64>(context.maaTokenLifetimeSeconds()));
  o->set("tenant_id", context.tenantId());
  return jsonResponse(200, o);
}

Response putSettings(EmulatorContext& context, const Request& request) {
  StatusOr<json::ObjectPtr> body = adminBody(request);
  if (!body.ok()) return adminError(body.status());
  StatusOr<std::optional<int64_t>> life = json::getOptionalInt(*body, "token_lifetime_seconds");
  if (!life.ok()) return adminError(life.status());
  if (*life) {
    Status set = context.identities().setTokenLifetimeSeconds(**life);
    if (!set.ok()) return adminError(set);
  }
  StatusOr<std::optional<int64_t>> maa_life =
      json::getOptionalInt(*body, "maa_token_lifetime_seconds");
  if (!maa_life.ok()) return adminError(maa_life.status());
  if (*maa_life) {
    Status set = context.setMaaTokenLifetimeSeconds(**maa_life);
    if (!set.ok()) return adminError(set);
  }
  return settings(context);
}

Response chipJson(const snp::EmulatedChip& chip) {
  StatusOr<json::ObjectPtr> config = json::parseObject(chip.config().toJson());
  if (!config.ok()) return adminError(config.status());
  json::ObjectPtr o = new Poco::JSON::Object;
  o->set("dir", chip.dir());
  o->set("config", *config);
  o->set("debug", (chip.config().policy & (1ull << 19)) != 0);
  o->set("vcek_subject", chip.vcek().subjectOneLine());
  o->set("ark_subject", chip.ark().subjectOneLine());
  return jsonResponse(200, o);
}

Response getChip(EmulatorContext& context) {
  std::lock_guard lock(context.chipMutex());
  StatusOr<snp::EmulatedChip> chip = context.openChip();
  if (!chip.ok()) return adminError(chip.status());
  return chipJson(*chip);
}

template <std::size_t N>
Status setHex(const json::ObjectPtr& body, const char* member, std::array<uint8_t, N>& out) {
  SKR_ASSIGN_OR_RETURN(std::optional<std::string> text, json::getOptionalString(body, member));
  if (!text) return okStatus();
  SKR_ASSIGN_OR_RETURN(Bytes bytes, encoding::hexDecode(*text, N));
  if (bytes.size() != N) {
    return invalidArgumentError(std::string("chip member '") + member + "': expected " +
                                std::to_string(N) + " bytes of hex");
  }
  std::copy(bytes.begin(), bytes.end(), out.begin());
  return okStatus();
}

Status setByte(const json::ObjectPtr& body, const char* member, uint8_t& out) {
  SKR_ASSIGN_OR_RETURN(std::optional<int64_t> v, json::getOptionalInt(body, member));
  if (!v) return okStatus();
  if (*v < 0 || *v > 255) {
    return invalidArgumentError(std::string("chip member '") + member + "': not in 0..255");
  }
  out = static_cast<uint8_t>(*v);
  return okStatus();
}

Status applyChipChanges(const json::ObjectPtr& body, snp::ChipConfig& config) {
  SKR_RETURN_IF_ERROR(setByte(body, "bootloader", config.bootloader));
  SKR_RETURN_IF_ERROR(setByte(body, "tee", config.tee));
  SKR_RETURN_IF_ERROR(setByte(body, "snp", config.snp));
  SKR_RETURN_IF_ERROR(setByte(body, "microcode", config.microcode));
  SKR_ASSIGN_OR_RETURN(std::optional<int64_t> policy, json::getOptionalInt(body, "policy"));
  if (policy) {
    if (*policy < 0) return invalidArgumentError("chip member 'policy': negative");
    config.policy = static_cast<uint64_t>(*policy);
  }
  SKR_ASSIGN_OR_RETURN(std::optional<bool> debug, json::getOptionalBool(body, "debug"));
  if (debug) {
    constexpr uint64_t kDebugBit = 1ull << 19;  // SNP guest policy bit 19: DEBUG
    config.policy = *debug ? (config.policy | kDebugBit) : (config.policy & ~kDebugBit);
  }
  SKR_RETURN_IF_ERROR(setHex(body, "host_data", config.host_data));
  SKR_RETURN_IF_ERROR(setHex(body, "measurement", config.measurement));
  SKR_ASSIGN_OR_RETURN(std::optional<int64_t> svn, json::getOptionalInt(body, "guest_svn"));
  if (svn) {
    if (*svn < 0 || *svn > 0xffffffffLL) return invalidArgumentError("guest_svn out of range");
    config.guest_svn = static_cast<uint32_t>(*svn);
  }
  return okStatus();
}

Response putChip(EmulatorContext& context, const Request& request) {
  StatusOr<json::ObjectPtr> body = adminBody(request);
  if (!body.ok()) return adminError(body.status());
  std::lock_guard lock(context.chipMutex());
  StatusOr<snp::EmulatedChip> chip = context.openChip();
  if (!chip.ok()) return adminError(chip.status());
  snp::ChipConfig config = chip->config();
  Status applied = applyChipChanges(*body, config);
  if (!applied.ok()) return adminError(applied);
  Status updated = chip->updateConfig(config);
  if (!updated.ok()) return adminError(updated);
  log::warning("emulator.admin.chip_updated", {{"tcb", static_cast<int64_t>(config.tcbRaw())},
                                               {"policy", static_cast<int64_t>(config.policy)}});
  return chipJson(*chip);
}

Response addFault(EmulatorContext& context, const Request& request) {
  StatusOr<json::ObjectPtr> body = adminBody(request);
  if (!body.ok()) return adminError(body.status());
  StatusOr<FaultRule> rule = FaultRule::fromJson(*body);
  if (!rule.ok()) return adminError(rule.status());
  StatusOr<int64_t> id = context.faults().add(*rule);
  if (!id.ok()) return adminError(id.status());
  rule->id = *id;
  log::info("emulator.admin.fault_added",
            {{"id", *id}, {"action", std::string(faultKindName(rule->kind))}});
  return jsonResponse(201, rule->toJson());
}

Response requests(EmulatorContext& context, const Request& request) {
  return listResponse("requests", context.requestLog().entries(request.queryParam("listener")),
                      [](const RequestLogEntry& e) { return RequestLog::toJson(e); });
}

}  // namespace

void AdminService::registerRoutes(Router& router, EmulatorContext& context) {
  const std::vector<std::string> admin = {"admin"};
  EmulatorContext* ctx = &context;
  router.add(admin, "GET", "/_emulator/health", [ctx](const Request&) { return health(*ctx); });
  router.add(admin, "GET", "/_emulator/identities", [ctx](const Request&) {
    return listResponse("identities", ctx->identities().identities(),
                        [](const Identity& i) { return i.toJson(); });
  });
  router.add(admin, "POST", "/_emulator/identities",
             [ctx](const Request& r) { return addIdentity(*ctx, r); });
  router.add(admin, "DELETE", "/_emulator/identities/{id}", [ctx](const Request& r) {
    Status removed = ctx->identities().removeIdentity(r.captures.at("id"));
    if (!removed.ok()) return adminError(removed);
    Response ok;
    ok.status = 204;
    return ok;
  });
  router.add(admin, "POST", "/_emulator/identities/{id}/federated-credentials",
             [ctx](const Request& r) { return addFederatedCredential(*ctx, r); });
  router.add(admin, "GET", "/_emulator/role-assignments", [ctx](const Request&) {
    return listResponse("role_assignments", ctx->identities().roleAssignments(),
                        [](const RoleAssignment& r) { return r.toJson(); });
  });
  router.add(admin, "POST", "/_emulator/role-assignments",
             [ctx](const Request& r) { return addRoleAssignment(*ctx, r); });
  router.add(admin, "DELETE", "/_emulator/role-assignments/{id}", [ctx](const Request& r) {
    Status removed = ctx->identities().removeRoleAssignment(r.captures.at("id"));
    if (!removed.ok()) return adminError(removed);
    Response ok;
    ok.status = 204;
    return ok;
  });
  router.add(admin, "POST", "/_emulator/service-account-token",
             [ctx](const Request& r) { return serviceAccountToken(*ctx, r); });
  router.add(admin, "GET", "/_emulator/settings", [ctx](const Request&) { return settings(*ctx); });
  router.add(admin, "PUT", "/_emulator/settings",
             [ctx](const Request& r) { return putSettings(*ctx, r); });
  router.add(admin, "GET", "/_emulator/chip", [ctx](const Request&) { return getChip(*ctx); });
  router.add(admin, "PUT", "/_emulator/chip", [ctx](const Request& r) { return putChip(*ctx, r); });
  router.add(admin, "GET", "/_emulator/faults", [ctx](const Request&) {
    return listResponse("faults", ctx->faults().list(),
                        [](const FaultRule& f) { return f.toJson(); });
  });
  router.add(admin, "POST", "/_emulator/faults",
             [ctx](const Request& r) { return addFault(*ctx, r); });
  router.add(admin, "DELETE", "/_emulator/faults", [ctx](const Request&) {
    ctx->faults().clear();
    Response ok;
    ok.status = 204;
    return ok;
  });
  router.add(admin, "GET", "/_emulator/requests",
             [ctx](const Request& r) { return requests(*ctx, r); });
  router.add(admin, "POST", "/_emulator/reset", [ctx](const Request&) {
    ctx->faults().clear();
    ctx->requestLog().clear();
    Response ok;
    ok.status = 204;
    return ok;
  });
}

}  // namespace skr::emulator
