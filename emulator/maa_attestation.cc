#include "emulator/maa_attestation.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <algorithm>

#include "common/crypto/digest.h"
#include "common/encoding/base64.h"
#include "common/encoding/hex.h"

namespace skr::emulator {
namespace {

Status requestError(const std::string& message) {
  return invalidArgumentError("request: " + message);
}

StatusOr<Bytes> decodeMember(const json::ObjectPtr& object, std::string_view where,
                             std::string_view key, std::size_t max_bytes) {
  StatusOr<std::string> text = json::getString(object, key);
  if (!text.ok()) return requestError(std::string(where) + text.status().message());
  if (text->empty())
    return requestError(std::string(where) + "member '" + std::string(key) + "' is empty");
  StatusOr<Bytes> bytes = encoding::base64DecodeLenient(*text, max_bytes);
  if (!bytes.ok()) {
    return requestError(std::string(where) + "member '" + std::string(key) +
                        "' is not base64url: " + bytes.status().message());
  }
  return bytes;
}

StatusOr<MaaData> parseData(const json::ObjectPtr& body, std::string_view key) {
  StatusOr<json::ObjectPtr> object = json::getObject(body, key);
  if (!object.ok()) return requestError(object.status().message());
  const std::string where = std::string(key) + ": ";
  MaaData out;
  SKR_ASSIGN_OR_RETURN(out.bytes, decodeMember(*object, where, "data", kMaxMaaDataBytes));
  StatusOr<std::string> type = json::getString(*object, "dataType");
  if (!type.ok()) return requestError(where + type.status().message());
  std::string lower = *type;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "json") {
    out.type = MaaData::Type::Json;
    json::ParseLimits limits;
    limits.max_bytes = kMaxMaaDataBytes;
    StatusOr<json::ObjectPtr> parsed = json::parseObject(toString(out.bytes), limits);
    if (!parsed.ok()) {
      return requestError(
          where + "dataType is JSON but data is not a JSON object: " + parsed.status().message());
    }
    out.json = std::move(parsed).value();
  } else if (lower == "binary") {
    out.type = MaaData::Type::Binary;
  } else {
    return requestError(where + "dataType '" + *type + "' is not one of JSON, Binary");
  }
  return out;
}

StatusOr<std::optional<std::string>> parseNonce(const json::ObjectPtr& body) {
  if (!body->has("nonce")) return std::optional<std::string>();
  const Poco::Dynamic::Var v = body->get("nonce");
  if (v.isEmpty()) return std::optional<std::string>();
  std::string nonce;
  // Swagger says string; the confidential-sidecar sends a JSON number and MAA accepts it (§1.2).
  int64_t signed_nonce = 0;
  uint64_t unsigned_nonce = 0;
  if (StatusOr<std::string> text = json::asString(v, "member 'nonce'"); text.ok()) {
    nonce = std::move(text).value();
  } else if (json::asSigned(v, signed_nonce)) {
    nonce = std::to_string(signed_nonce);
  } else if (json::asUnsigned(v, unsigned_nonce)) {
    nonce = std::to_string(unsigned_nonce);
  } else {
    return requestError("member 'nonce': expected a string or an integer");
  }
  if (nonce.size() > kMaxMaaNonceBytes) {
    return requestError("member 'nonce' is " + std::to_string(nonce.size()) + " bytes, at most " +
                        std::to_string(kMaxMaaNonceBytes));
  }
  return std::optional<std::string>(std::move(nonce));
}

Status parseEndorsements(const json::ObjectPtr& report, AttestSevSnpVmRequest& out) {
  StatusOr<std::optional<std::string>> text = json::getOptionalString(report, "Endorsements");
  if (!text.ok()) return requestError("report: " + text.status().message());
  if (!*text || (*text)->empty()) return okStatus();
  StatusOr<Bytes> decoded = encoding::base64DecodeLenient(**text, kMaxMaaReportJsonBytes);
  if (!decoded.ok()) {
    return requestError("report: member 'Endorsements' is not base64url: " +
                        decoded.status().message());
  }
  json::ParseLimits limits;
  limits.max_bytes = kMaxMaaReportJsonBytes;
  limits.max_depth = 4;
  StatusOr<json::ObjectPtr> endorsements = json::parseObject(toString(*decoded), limits);
  if (!endorsements.ok()) {
    return requestError("report: Endorsements is not a JSON object: " +
                        endorsements.status().message());
  }
  StatusOr<std::optional<json::ArrayPtr>> uvm = [&]() -> StatusOr<std::optional<json::ArrayPtr>> {
    if (!endorsements.value()->has("Uvm")) return std::optional<json::ArrayPtr>();
    SKR_ASSIGN_OR_RETURN(json::ArrayPtr a, json::getArray(*endorsements, "Uvm"));
    return std::optional<json::ArrayPtr>(a);
  }();
  if (!uvm.ok()) return requestError("report: Endorsements: " + uvm.status().message());
  if (!*uvm) return okStatus();
  const json::ArrayPtr& entries = **uvm;
  if (entries->size() > kMaxUvmEndorsements) {
    return requestError("report: Endorsements.Uvm has " + std::to_string(entries->size()) +
                        " entries, at most " + std::to_string(kMaxUvmEndorsements));
  }
  for (std::size_t i = 0; i < entries->size(); ++i) {
    StatusOr<std::string> entry = json::getString(entries, i, "Endorsements.Uvm");
    if (!entry.ok()) {
      return requestError("report: Endorsements.Uvm[" + std::to_string(i) + "] is not a string");
    }
    StatusOr<Bytes> cose = encoding::base64DecodeLenient(*entry, kMaxUvmEndorsementBytes);
    if (!cose.ok()) {
      return requestError("report: Endorsements.Uvm[" + std::to_string(i) +
                          "] is not base64url: " + cose.status().message());
    }
    out.uvm_endorsements.push_back(std::move(cose).value());
  }
  return okStatus();
}

Status parseReportDocument(const json::ObjectPtr& body, AttestSevSnpVmRequest& out) {
  SKR_ASSIGN_OR_RETURN(Bytes document, decodeMember(body, "", "report", kMaxMaaReportJsonBytes));
  json::ParseLimits limits;
  limits.max_bytes = kMaxMaaReportJsonBytes;
  limits.max_depth = 4;
  StatusOr<json::ObjectPtr> report = json::parseObject(toString(document), limits);
  if (!report.ok()) {
    return requestError("member 'report' is not base64url of a JSON object: " +
                        report.status().message());
  }
  SKR_ASSIGN_OR_RETURN(out.report, decodeMember(*report, "report: ", "SnpReport", 4096));
  SKR_ASSIGN_OR_RETURN(Bytes pem, decodeMember(*report, "report: ", "VcekCertChain", 64 * 1024));
  StatusOr<std::vector<crypto::Certificate>> certs =
      crypto::Certificate::parsePemBundle(toString(pem));
  if (!certs.ok()) {
    return requestError("report: VcekCertChain is not PEM certificates: " +
                        certs.status().message());
  }
  if (certs->empty() || certs->size() > 3) {
    return requestError("report: VcekCertChain has " + std::to_string(certs->size()) +
                        " certificates, expected VCEK, ASK, ARK");
  }
  out.vcek_cert_chain = std::move(certs).value();
  return parseEndorsements(*report, out);
}

bool allZero(ByteView bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; });
}

Status checkUvmEndorsement(ByteView cose, const snp::SnpReport& report,
                           std::optional<UvmEndorsement>& accepted) {
  StatusOr<UvmEndorsement> uvm = UvmEndorsement::parse(cose);
  if (!uvm.ok()) return invalidArgumentError("uvm-endorsement: " + uvm.status().message());
  const std::string measurement = encoding::hexEncode(report.measurement);
  if (uvm->launch_measurement_hex != measurement) {
    return permissionDeniedError("uvm-endorsement: endorsed launch measurement " +
                                 uvm->launch_measurement_hex + " != report MEASUREMENT " +
                                 measurement);
  }
  Status signature = uvm->verifySignature();
  if (!signature.ok()) {
    return Status(signature.code(), "uvm-endorsement: " + signature.message());
  }
  accepted = std::move(uvm).value();
  return okStatus();
}

}  // namespace

StatusOr<AttestSevSnpVmRequest> AttestSevSnpVmRequest::parse(std::string_view body) {
  StatusOr<json::ObjectPtr> object = json::parseObject(body);
  if (!object.ok()) return requestError("body is not a JSON object: " + object.status().message());
  AttestSevSnpVmRequest out;
  SKR_RETURN_IF_ERROR(parseReportDocument(*object, out));
  SKR_ASSIGN_OR_RETURN(out.runtime_data, parseData(*object, "runtimeData"));
  if (object.value()->has("initTimeData") && !object.value()->get("initTimeData").isEmpty()) {
    SKR_ASSIGN_OR_RETURN(MaaData init, parseData(*object, "initTimeData"));
    out.init_time_data = std::move(init);
  }
  SKR_ASSIGN_OR_RETURN(out.nonce, parseNonce(*object));
  return out;
}

StatusOr<MaaEvidence> verifyAttestation(const AttestSevSnpVmRequest& request,
                                        const MaaVerifyOptions& options) {
  StatusOr<snp::SnpReport> report = snp::SnpReport::parse(request.report);
  if (!report.ok()) return invalidArgumentError("report: " + report.status().message());
  snp::VerifyOptions verify;
  verify.at = options.at;
  verify.extra_trusted_arks = options.trusted_arks;
  if (request.vcek_cert_chain.empty()) return invalidArgumentError("report: no VCEK certificate");
  const std::vector<crypto::Certificate> chain(request.vcek_cert_chain.begin() + 1,
                                               request.vcek_cert_chain.end());
  StatusOr<snp::VerificationResult> verified =
      snp::verifyReport(request.report, request.vcek_cert_chain.front(), chain, verify);
  if (!verified.ok()) return verified.status();

  const Bytes runtime_hash = crypto::sha256(request.runtime_data.bytes);
  const ByteView report_data(report->report_data);
  if (!std::equal(runtime_hash.begin(), runtime_hash.end(), report_data.begin())) {
    return permissionDeniedError("runtime-data: SHA-256 of runtimeData " +
                                 encoding::hexEncode(runtime_hash) + " != REPORT_DATA[0:32] " +
                                 encoding::hexEncode(report_data.first(32)));
  }
  if (!allZero(report_data.subspan(32))) {
    return permissionDeniedError("runtime-data: REPORT_DATA[32:64] is not zero (" +
                                 encoding::hexEncode(report_data.subspan(32)) + ")");
  }
  if (request.init_time_data) {
    const Bytes init_hash = crypto::sha256(request.init_time_data->bytes);
    if (!std::equal(init_hash.begin(), init_hash.end(), report->host_data.begin())) {
      return permissionDeniedError("init-time-data: SHA-256 of initTimeData " +
                                   encoding::hexEncode(init_hash) + " != HOST_DATA " +
                                   encoding::hexEncode(report->host_data));
    }
  }
  MaaEvidence evidence{*report, *verified, std::nullopt};
  for (const Bytes& cose : request.uvm_endorsements) {
    std::optional<UvmEndorsement> accepted;
    SKR_RETURN_IF_ERROR(checkUvmEndorsement(cose, *report, accepted));
    if (!evidence.uvm) evidence.uvm = std::move(accepted);
  }
  return evidence;
}

json::ObjectPtr sevSnpReportClaims(const snp::SnpReport& report,
                                   const snp::TcbVersion& reported_tcb) {
  json::ObjectPtr c = new Poco::JSON::Object;
  c->set("x-ms-sevsnpvm-authorkeydigest", encoding::hexEncode(report.author_key_digest));
  c->set("x-ms-sevsnpvm-bootloader-svn", static_cast<Poco::Int64>(reported_tcb.bootloader));
  c->set("x-ms-sevsnpvm-familyId", encoding::hexEncode(report.family_id));
  c->set("x-ms-sevsnpvm-guestsvn", static_cast<Poco::Int64>(report.guest_svn));
  c->set("x-ms-sevsnpvm-hostdata", encoding::hexEncode(report.host_data));
  c->set("x-ms-sevsnpvm-idkeydigest", encoding::hexEncode(report.id_key_digest));
  c->set("x-ms-sevsnpvm-imageId", encoding::hexEncode(report.image_id));
  c->set("x-ms-sevsnpvm-is-debuggable", report.policy.debug());
  c->set("x-ms-sevsnpvm-launchmeasurement", encoding::hexEncode(report.measurement));
  c->set("x-ms-sevsnpvm-microcode-svn", static_cast<Poco::Int64>(reported_tcb.microcode));
  c->set("x-ms-sevsnpvm-migration-allowed", report.policy.migrateMa());
  c->set("x-ms-sevsnpvm-reportdata", encoding::hexEncode(report.report_data));
  c->set("x-ms-sevsnpvm-reportid", encoding::hexEncode(report.report_id));
  c->set("x-ms-sevsnpvm-smt-allowed", report.policy.smt());
  c->set("x-ms-sevsnpvm-snpfw-svn", static_cast<Poco::Int64>(reported_tcb.snp));
  c->set("x-ms-sevsnpvm-tee-svn", static_cast<Poco::Int64>(reported_tcb.tee));
  c->set("x-ms-sevsnpvm-vmpl", static_cast<Poco::Int64>(report.vmpl));
  return c;
}

json::ObjectPtr maaTokenClaims(const AttestSevSnpVmRequest& request, const MaaEvidence& evidence,
                               const std::string& issuer, const MaaTokenTimes& times,
                               const std::string& jti) {
  json::ObjectPtr c = sevSnpReportClaims(evidence.report, evidence.verification.reported_tcb);
  c->set("iss", issuer);
  c->set("iat", static_cast<Poco::Int64>(times.issued_at));
  c->set("nbf", static_cast<Poco::Int64>(times.issued_at));
  c->set("exp", static_cast<Poco::Int64>(times.issued_at + times.lifetime_seconds));
  c->set("jti", jti);
  if (request.nonce) c->set("nonce", *request.nonce);
  c->set("x-ms-ver", "1.0");
  c->set("x-ms-attestation-type", "sevsnpvm");
  // ACI's value; only a verified UVM endorsement over this MEASUREMENT earns it (§1.5, §9).
  if (evidence.uvm) c->set("x-ms-compliance-status", "azure-compliant-uvm");
  c->set("x-ms-policy-hash",
         encoding::base64UrlEncode(crypto::sha256(asBytes(kEmulatedMaaPolicy))));
  if (request.runtime_data.type == MaaData::Type::Json) {
    c->set("x-ms-runtime", request.runtime_data.json);
  }
  if (request.init_time_data && request.init_time_data->type == MaaData::Type::Json) {
    c->set("x-ms-inittime", request.init_time_data->json);
  }
  c->set("x-ms-emulated", true);
  return c;
}

}  // namespace skr::emulator
