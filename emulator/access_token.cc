#include "emulator/access_token.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <chrono>

#include "common/jose/jws.h"
#include "common/jose/jwt.h"

namespace skr::emulator {
namespace {

StatusOr<std::string> signClaims(const SigningKey& key, const json::ObjectPtr& claims) {
  SKR_ASSIGN_OR_RETURN(std::string payload, json::serializeCanonical(claims));
  json::ObjectPtr header = new Poco::JSON::Object;
  header->set("typ", "JWT");
  header->set("kid", key.kid);
  return jose::signJws(key.key, jose::JwsAlgorithm::RS256, asBytes(payload), header);
}

}  // namespace

std::string withoutTrailingSlash(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

StatusOr<std::string> signAccessToken(const SigningKey& key, const AccessTokenClaims& c) {
  json::ObjectPtr o = new Poco::JSON::Object;
  o->set("aud", c.audience);
  o->set("iss", c.issuer);
  o->set("tid", c.tenant_id);
  o->set("oid", c.object_id);
  o->set("sub", c.object_id);
  o->set("appid", c.client_id);
  o->set("azp", c.client_id);
  o->set("appidacr", "2");
  o->set("idtyp", "app");
  o->set("ver", c.version);
  if (!c.msi_res_id.empty()) o->set("xms_mirid", c.msi_res_id);
  o->set("iat", static_cast<Poco::Int64>(c.issued_at));
  o->set("nbf", static_cast<Poco::Int64>(c.issued_at));
  o->set("exp", static_cast<Poco::Int64>(c.expires_at));
  o->set("x-ms-emulated", true);
  return signClaims(key, o);
}

StatusOr<Principal> verifyAccessToken(std::string_view token, const crypto::PublicKey& key,
                                      const std::string& issuer, const std::string& audience,
                                      int64_t now) {
  StatusOr<jose::Jws> jws = jose::Jws::parse(token, jose::JwsLimits{64 * 1024, 16 * 1024});
  if (!jws.ok()) {
    return unauthenticatedError(
        "AKV10000: Request is missing a Bearer or PoP token (malformed "
        "token: " +
        jws.status().message() + ")");
  }
  if (jws->algorithm() != jose::JwsAlgorithm::RS256 || !jws->verify(key).ok()) {
    return unauthenticatedError(
        "AKV10031: Invalid token signature (not signed by the emulated "
        "Entra ID)");
  }
  StatusOr<json::ObjectPtr> claims = jws->payloadJson();
  if (!claims.ok()) return unauthenticatedError("access token claims are not a JSON object");
  jose::ClaimCheck check;
  check.now = std::chrono::system_clock::time_point(std::chrono::seconds(now));
  check.require_exp = true;
  Status checked = jose::checkClaims(*claims, check);
  if (!checked.ok()) {
    return unauthenticatedError("AKV10032: Token validation failed: " + checked.message());
  }
  StatusOr<std::string> iss = json::getString(*claims, "iss");
  if (!iss.ok() || *iss != issuer) {
    return unauthenticatedError("AKV10032: Invalid issuer. Expected " + issuer + ", found " +
                                (iss.ok() ? *iss : std::string("(none)")) + ".");
  }
  StatusOr<std::string> aud = json::getString(*claims, "aud");
  if (!aud.ok() || withoutTrailingSlash(*aud) != withoutTrailingSlash(audience)) {
    return unauthenticatedError("AKV10022: Invalid audience. Expected " + audience +
                                ", found: " + (aud.ok() ? *aud : std::string("(none)")) + ".");
  }
  Principal p;
  StatusOr<std::string> oid = json::getString(*claims, "oid");
  StatusOr<std::string> appid = json::getString(*claims, "appid");
  StatusOr<std::string> tid = json::getString(*claims, "tid");
  StatusOr<int64_t> exp = json::getInt(*claims, "exp");
  if (!oid.ok() || !appid.ok() || !tid.ok() || !exp.ok()) {
    return unauthenticatedError("access token lacks oid/appid/tid/exp");
  }
  p.object_id = *oid;
  p.client_id = *appid;
  p.tenant_id = *tid;
  p.issuer = *iss;
  p.expires_at = *exp;
  return p;
}

StatusOr<std::string> signServiceAccountToken(const SigningKey& key,
                                              const ServiceAccountTokenClaims& c) {
  json::ObjectPtr o = new Poco::JSON::Object;
  Poco::JSON::Array::Ptr aud = new Poco::JSON::Array;
  aud->add(c.audience);
  o->set("aud", aud);
  o->set("iss", c.issuer);
  o->set("sub", c.subject);
  o->set("iat", static_cast<Poco::Int64>(c.issued_at));
  o->set("nbf", static_cast<Poco::Int64>(c.issued_at));
  o->set("exp", static_cast<Poco::Int64>(c.expires_at));
  o->set("x-ms-emulated", true);
  return signClaims(key, o);
}

}  // namespace skr::emulator
