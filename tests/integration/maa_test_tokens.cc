#include "tests/integration/maa_test_tokens.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <utility>

#include "common/azure/aci_policy.h"
#include "common/azure/release_policy.h"
#include "common/jose/jwk.h"
#include "common/jose/jws.h"
#include "tests/integration/process.h"

namespace skr::testing {

int64_t unixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

const crypto::PrivateKey& testTransferKey() {
  static const crypto::PrivateKey key = crypto::PrivateKey::generateRsa(2048).value();
  return key;
}

crypto::PrivateKey maaSigningKey(const EmulatorProcess& emu, const std::string& maa) {
  const std::string pem = readFileText(emu.stateDir() + "/signing/" + maa + "_key.pem");
  REQUIRE(!pem.empty());
  StatusOr<crypto::PrivateKey> key = crypto::PrivateKey::fromPem(SecretBytes::copyOf(asBytes(pem)));
  REQUIRE(key.ok());
  return std::move(key).value();
}

json::ObjectPtr testRuntimeJwks() {
  jose::Jwk jwk = jose::Jwk::fromPublicKey(testTransferKey().publicKey());
  jwk.setKid("transfer");
  jwk.setKeyOps({"encrypt"});
  Poco::JSON::Array::Ptr keys = new Poco::JSON::Array;
  keys->add(jwk.publicJson().value());
  json::ObjectPtr runtime = new Poco::JSON::Object;
  runtime->set("keys", keys);
  return runtime;
}

json::ObjectPtr aciMaaClaims(const EmulatorProcess& emu, const std::string& host_data,
                             const std::string& maa) {
  json::ObjectPtr c = new Poco::JSON::Object;
  const int64_t now = unixNow();
  c->set("iss", emu.url(maa));
  c->set("iat", now - 60);
  c->set("nbf", now - 60);
  c->set("exp", now + 8 * 3600);
  c->set("x-ms-attestation-type", "sevsnpvm");
  c->set("x-ms-compliance-status", "azure-compliant-uvm");
  c->set("x-ms-sevsnpvm-hostdata", host_data);
  c->set("x-ms-sevsnpvm-is-debuggable", false);
  c->set("x-ms-sevsnpvm-vmpl", 0);
  c->set("x-ms-runtime", testRuntimeJwks());
  return c;
}

std::string signMaaToken(const EmulatorProcess& emu, const json::ObjectPtr& claims,
                         const std::string& maa, const crypto::PrivateKey* signer) {
  const crypto::PrivateKey key = maaSigningKey(emu, maa);
  json::ObjectPtr header = new Poco::JSON::Object;
  header->set("kid", jose::Jwk::fromPublicKey(key.publicKey()).thumbprint());
  header->set("typ", "JWT");
  header->set("jku", emu.url(maa) + "/certs");
  StatusOr<std::string> jws =
      jose::signJws(signer ? *signer : key, jose::JwsAlgorithm::RS256,
                    asBytes(json::serializeCanonical(claims).value()), header);
  REQUIRE(jws.ok());
  return *jws;
}

std::string aciReleasePolicyWire(const std::string& authority, const std::string& host_data,
                                 bool require_uvm) {
  StatusOr<std::string> policy = azure::makeAciReleasePolicy(authority, host_data, require_uvm);
  REQUIRE(policy.ok());
  return R"({"contentType":"application/json; charset=utf-8","data":")" +
         azure::toWireBase64Url(*policy) + "\"}";
}

}  // namespace skr::testing
