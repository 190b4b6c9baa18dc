#include "emulator/maa_service.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>

#include "common/crypto/certificate_builder.h"
#include "common/crypto/random.h"
#include "common/encoding/base64.h"
#include "common/encoding/hex.h"
#include "common/jose/jws.h"
#include "common/log/logger.h"
#include "emulator/maa_attestation.h"

namespace skr::emulator {
namespace {

// MAA's CloudError (§1.4); "InvalidParameter" is the code MAA's troubleshooting guide lists for
// rejected evidence.
Response maaError(int status, std::string_view code, const std::string& message) {
  return cloudError(status, code, message);
}

crypto::TimePoint timePoint(int64_t unix_seconds) {
  return crypto::TimePoint(std::chrono::seconds(unix_seconds));
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string randomHex(std::size_t bytes) {
  Bytes b(bytes);
  crypto::fillRandom(b);
  return encoding::hexEncode(b);
}

StatusOr<crypto::Certificate> issueSigningCertificate(const EmulatorContext& context,
                                                      const std::string& listener,
                                                      const SigningKey& key) {
  crypto::DistinguishedName subject;
  subject.common_name = context.url(listener);
  subject.organization = "skr-emulator MAA instance " + listener + " (emulated, not Azure)";
  Bytes serial(16);
  crypto::fillRandom(serial);
  serial[0] &= 0x7f;
  const int64_t now = context.now();
  crypto::CertificateBuilder builder;
  builder.subject(subject)
      .serialNumber(serial)
      .validity(timePoint(now - 24 * 3600), timePoint(now + int64_t{10} * 365 * 24 * 3600))
      .publicKey(key.key.publicKey())
      .basicConstraints(false)
      .keyUsage(crypto::kKeyUsageDigitalSignature)
      .subjectKeyIdentifier();
  return builder.sign(key.key, crypto::CertificateSignatureAlg::RsaPkcs1Sha256);
}

Response attest(EmulatorContext& context, const Request& request) {
  const std::string api_version = request.queryParam("api-version");
  if (!request.hasQueryParam("api-version")) {
    return maaError(400, "InvalidParameter", "The api-version query parameter is required.");
  }
  if (!isSupportedMaaApiVersion(api_version)) {
    return maaError(400, "InvalidParameter",
                    "The api-version '" + api_version +
                        "' is not supported (2020-10-01, 2022-08-01, 2018-09-01-preview, "
                        "2022-09-01-preview).");
  }
  auto tee = request.captures.find("tee");
  if (tee == request.captures.end() || !equalsIgnoreCase(tee->second, "SevSnpVm")) {
    return maaError(404, "NotFound",
                    "Attestation type '" + (tee == request.captures.end() ? "" : tee->second) +
                        "' is not emulated; skr-emulator attests SevSnpVm only.");
  }
  const SigningKey* key = context.signingKeys().maa(request.listener);
  if (key == nullptr) {
    return maaError(500, "InternalServerError", "no signing key for " + request.listener);
  }

  if (request.body.size() > kMaxMaaRequestBytes) {
    return maaError(413, "RequestEntityTooLarge",
                    "The request body is " + std::to_string(request.body.size()) +
                        " bytes; the emulated MAA accepts at most " +
                        std::to_string(kMaxMaaRequestBytes));
  }
  StatusOr<AttestSevSnpVmRequest> parsed = AttestSevSnpVmRequest::parse(request.body);
  if (!parsed.ok()) {
    log::info("emulator.maa.rejected",
              {{"listener", request.listener}, {"error", parsed.status().message()}});
    return maaError(400, "InvalidParameter", parsed.status().message());
  }

  MaaVerifyOptions options;
  options.at = timePoint(context.now());
  {
    std::lock_guard lock(context.chipMutex());
    StatusOr<snp::EmulatedChip> chip = context.openChip();
    if (!chip.ok()) {
      log::error("emulator.maa.chip_failed", {{"error", chip.status().toString()}});
      return maaError(500, "InternalServerError",
                      "emulated chip unavailable: " + chip.status().message());
    }
    options.trusted_arks.push_back(chip->ark());
  }
  StatusOr<MaaEvidence> evidence = verifyAttestation(*parsed, options);
  if (!evidence.ok()) {
    log::info("emulator.maa.rejected",
              {{"listener", request.listener}, {"error", evidence.status().message()}});
    return maaError(400, "InvalidParameter",
                    "SEV-SNP attestation failed: " + evidence.status().message());
  }

  MaaTokenTimes times;
  times.issued_at = context.now();
  times.lifetime_seconds = context.maaTokenLifetimeSeconds();
  json::ObjectPtr claims =
      maaTokenClaims(*parsed, *evidence, context.url(request.listener), times, randomHex(32));
  StatusOr<std::string> payload = json::serializeCanonical(claims);
  if (!payload.ok()) {
    return maaError(500, "InternalServerError", "token claims: " + payload.status().message());
  }
  json::ObjectPtr header = new Poco::JSON::Object;
  header->set("jku", context.url(request.listener) + "/certs");
  header->set("kid", key->kid);
  header->set("typ", "JWT");
  // The "wrong_key" fault keeps this instance's kid and jku but signs with a key nobody trusts,
  // so a verifier's signature check (not its key lookup) has to catch it.
  const crypto::PrivateKey& signer =
      request.sign_with_wrong_key ? context.signingKeys().wrong().key : key->key;
  StatusOr<std::string> token =
      jose::signJws(signer, jose::JwsAlgorithm::RS256, asBytes(*payload), header);
  if (!token.ok()) {
    log::error("emulator.maa.sign_failed", {{"error", token.status().toString()}});
    return maaError(500, "InternalServerError", "token signing failed");
  }
  log::info("emulator.maa.attested",
            {{"listener", request.listener},
             {"measurement", encoding::hexEncode(evidence->report.measurement)},
             {"uvm_endorsement", evidence->uvm ? "accepted" : "absent"},
             {"ark", evidence->verification.ark_pinned ? "amd" : "emulated"}});
  json::ObjectPtr body = new Poco::JSON::Object;
  body->set("token", *token);
  return jsonResponse(200, body);
}

Response certs(const EmulatorContext& context,
               const std::map<std::string, crypto::Certificate>& certificates,
               const Request& request) {
  const SigningKey* key = context.signingKeys().maa(request.listener);
  auto cert = certificates.find(request.listener);
  if (key == nullptr || cert == certificates.end()) {
    return maaError(500, "InternalServerError", "no signing certificate for " + request.listener);
  }
  Poco::JSON::Array::Ptr x5c = new Poco::JSON::Array;
  x5c->add(encoding::base64Encode(cert->second.der()));
  json::ObjectPtr jwk = new Poco::JSON::Object;
  jwk->set("kid", key->kid);
  jwk->set("kty", "RSA");
  jwk->set("x5c", x5c);
  Poco::JSON::Array::Ptr keys = new Poco::JSON::Array;
  keys->add(jwk);
  json::ObjectPtr body = new Poco::JSON::Object;
  body->set("keys", keys);
  return jsonResponse(200, body);
}

Poco::JSON::Array::Ptr stringArray(std::initializer_list<const char*> values) {
  Poco::JSON::Array::Ptr a = new Poco::JSON::Array;
  for (const char* v : values) a->add(std::string(v));
  return a;
}

Response openidConfiguration(const EmulatorContext& context, const Request& request) {
  const std::string issuer = context.url(request.listener);
  json::ObjectPtr body = new Poco::JSON::Object;
  body->set("issuer", issuer);
  body->set("jwks_uri", issuer + "/certs");
  body->set("response_types_supported", stringArray({"token", "none"}));
  body->set("id_token_signing_alg_values_supported", stringArray({"RS256"}));
  body->set("claims_supported", stringArray({"iss",
                                             "iat",
                                             "nbf",
                                             "exp",
                                             "jti",
                                             "nonce",
                                             "x-ms-ver",
                                             "x-ms-attestation-type",
                                             "x-ms-compliance-status",
                                             "x-ms-policy-hash",
                                             "x-ms-runtime",
                                             "x-ms-inittime",
                                             "x-ms-sevsnpvm-authorkeydigest",
                                             "x-ms-sevsnpvm-bootloader-svn",
                                             "x-ms-sevsnpvm-familyId",
                                             "x-ms-sevsnpvm-guestsvn",
                                             "x-ms-sevsnpvm-hostdata",
                                             "x-ms-sevsnpvm-idkeydigest",
                                             "x-ms-sevsnpvm-imageId",
                                             "x-ms-sevsnpvm-is-debuggable",
                                             "x-ms-sevsnpvm-launchmeasurement",
                                             "x-ms-sevsnpvm-microcode-svn",
                                             "x-ms-sevsnpvm-migration-allowed",
                                             "x-ms-sevsnpvm-reportdata",
                                             "x-ms-sevsnpvm-reportid",
                                             "x-ms-sevsnpvm-smt-allowed",
                                             "x-ms-sevsnpvm-snpfw-svn",
                                             "x-ms-sevsnpvm-tee-svn",
                                             "x-ms-sevsnpvm-vmpl",
                                             "x-ms-emulated"}));
  body->set("x-ms-emulated", true);
  return jsonResponse(200, body);
}

}  // namespace

bool isSupportedMaaApiVersion(const std::string& api_version) {
  // The attestation data-plane versions of azure-rest-api-specs that have attest/SevSnpVm or
  // older versions clients still send.
  return api_version == "2020-10-01" || api_version == "2022-08-01" ||
         api_version == "2025-06-01" || api_version == "2018-09-01-preview" ||
         api_version == "2022-09-01-preview";
}

void MaaService::registerRoutes(Router& router, EmulatorContext& context) {
  const std::vector<std::string> listeners = context.maaListeners();
  for (const std::string& listener : listeners) {
    const SigningKey* key = context.signingKeys().maa(listener);
    if (key == nullptr) {
      log::error("emulator.maa.no_key", {{"listener", listener}});
      continue;
    }
    StatusOr<crypto::Certificate> cert = issueSigningCertificate(context, listener, *key);
    if (!cert.ok()) {
      log::error("emulator.maa.certificate_failed",
                 {{"listener", listener}, {"error", cert.status().toString()}});
      continue;
    }
    certificates_.emplace(listener, std::move(cert).value());
  }
  EmulatorContext* ctx = &context;
  // The path segment is case-insensitive on MAA (the confidential-sidecar sends "SevSnpVM").
  router.add(listeners, "POST", "/attest/{tee}",
             [ctx](const Request& r) { return attest(*ctx, r); });
  router.add(listeners, "GET", "/certs",
             [this, ctx](const Request& r) { return certs(*ctx, certificates_, r); });
  router.add(listeners, "GET", "/.well-known/openid-configuration",
             [ctx](const Request& r) { return openidConfiguration(*ctx, r); });
}

}  // namespace skr::emulator
