// Azure SKR sidecar compatibility (DESIGN.md §6, `agent.compat.azure_sidecar`): the routes of the
// public microsoft/confidential-sidecar-containers SKR sidecar (internal/httpginendpoints), with
// its request fields and response shapes, so an app migrates by changing the address (and adding
// the `X-SKR-Request: 1` header every skr request carries, unless the listener is configured with
// require_request_header: false):
//
//   GET  /status            200 {"message": "Status OK"} once every key is ready, else 200
//                           {"message": "Status NOT OK"} (as the sidecar). No caller rule needed.
//   POST /attest/raw        {"runtime_data": std base64} -> 200 {"report": lowercase hex of the
//                           1184-byte SNP report with REPORT_DATA = SHA-256(runtime_data) || 0^32}
//   POST /attest/combined   {"runtime_data"} -> 200 {"combined_report": "<JSON text of
//                           {endorsed_tcb, endorsements: std base64(VCEK PEM + chain PEM),
//                           evidence: std base64(report), uvm_endorsements: std base64 or ""}>"}
//   POST /attest/maa        {"maa_endpoint", "runtime_data"} -> 200 {"token": MAA JWT whose
//                           x-ms-runtime is the runtime data (a JSON object)}
//   POST /key/release       {"maa_endpoint", "akv_endpoint", "kid"[, "access_token"]} -> 200
//                           {"key": "<JSON text of the private JWK>"}
// Failures answer {"error": "<message>"}: 400 for a malformed request (missing field, bad base64),
// 403 when attestation or release fails (the sidecar's code for both), 500 when the platform
// cannot produce a report for /attest/combined. Exactly one response body per request (the
// sidecar writes two on some failures; we do not copy that).
//
// Where skr deliberately differs, for safety:
//   - maa_endpoint must name the configured MAA instance (attestation.maa_endpoint) and
//     akv_endpoint the vault of the released key: the agent does not fetch tokens from, or send
//     evidence to, hosts a caller picks. Otherwise 403 saying which endpoint was expected.
//   - /key/release answers from the keys the agent already released (the same attested UVM; no
//     new Key Vault request): kid is a configured key name, optionally "name/version" (an unknown
//     version is 403, never a fallback). access_token is accepted and ignored.
//   - Operations "attest" (the three /attest routes) and "release" must be granted explicitly by a
//     `clients:` rule ("*" does not grant them): a fresh MAA token bound to caller-chosen runtime
//     data, and a private key in a response, both hand out what the key operations never do.
// Thread-safe: serve() runs concurrently.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "agent/authorization.h"
#include "agent/http_message.h"
#include "agent/keyring.h"
#include "common/core/bytes.h"
#include "common/core/clock.h"
#include "common/core/status.h"
#include "common/release/release_services.h"
#include "common/snp/collateral.h"

namespace skr::agent {

// What the attestation routes need from the platform (the real one: ServicesSidecarPlatform;
// tests use fakes).
class SidecarPlatform {
 public:
  virtual ~SidecarPlatform() = default;
  // The raw SNP report carrying `report_data`.
  virtual StatusOr<Bytes> report(const std::array<uint8_t, 64>& report_data) = 0;
  // VCEK, chain, TCB and UVM endorsement for `report`.
  virtual StatusOr<snp::Collateral> collateral(ByteView report) = 0;
  // An MAA token (compact JWT) for a fresh report over `runtime_data` (REPORT_DATA =
  // SHA-256(runtime_data) || 0^32). Secret: the token is a bearer credential.
  virtual StatusOr<std::string> maaToken(std::string_view runtime_data) = 0;
};

// The platform of a running agent: the release services' SNP device, collateral provider and MAA
// client. Everything is borrowed and must outlive it.
class ServicesSidecarPlatform final : public SidecarPlatform {
 public:
  ServicesSidecarPlatform(release::ReleaseServices& services, const Clock& clock, uint32_t vmpl,
                          std::chrono::milliseconds deadline = std::chrono::seconds(60));
  StatusOr<Bytes> report(const std::array<uint8_t, 64>& report_data) override;
  StatusOr<snp::Collateral> collateral(ByteView report) override;
  StatusOr<std::string> maaToken(std::string_view runtime_data) override;

 private:
  release::ReleaseServices& services_;
  const Clock& clock_;
  uint32_t vmpl_;
  std::chrono::milliseconds deadline_;
};

// One route of the compat listener.
enum class CompatRouteKind { Status, AttestRaw, AttestCombined, AttestMaa, KeyRelease };
struct CompatRoute {
  CompatRouteKind kind;
  std::string method;      // "GET" or "POST"
  std::string label;       // metrics/audit op: "sidecar_status", "sidecar_attest_raw", ...
  bool needs_rule = true;  // false for /status
  Operation op = Operation::Attest;
};

// What serve() tells the audit line.
struct CompatAudit {
  std::string key;
  std::string version;
  std::string code;  // empty on success; else "BadRequest", "Forbidden", "Internal"
  std::optional<AuthFailure> auth_failure;  // set when the caller's rules refused the request
};

class SidecarCompat {
 public:
  // `maa_endpoint`: attestation.maa_endpoint ("https://host[:port]").
  SidecarCompat(std::shared_ptr<Keyring> keyring, std::shared_ptr<SidecarPlatform> platform,
                std::string maa_endpoint);

  // The route of a request path, or nullopt (the router answers 404).
  static std::optional<CompatRoute> resolve(std::string_view path);

  // Serves a request already authenticated (`caller` is null for routes without a rule). The
  // caller's grant of the route's operation (on the key, for /key/release) is checked here.
  HttpResponse serve(const CompatRoute& route, const HttpRequest& request, const Caller* caller,
                     bool ready, CompatAudit& audit) const;

  // {"error": message} with `status` (the sidecar's error shape).
  static HttpResponse error(int status, std::string_view message);

 private:
  HttpResponse attestRaw(const HttpRequest& request, bool combined, CompatAudit& audit) const;
  HttpResponse attestMaa(const HttpRequest& request, CompatAudit& audit) const;
  // PermissionDenied unless `maa` names the configured MAA instance.
  Status checkMaaEndpoint(const std::string& maa) const;
  HttpResponse keyRelease(const HttpRequest& request, const Caller& caller,
                          CompatAudit& audit) const;

  std::shared_ptr<Keyring> keyring_;
  std::shared_ptr<SidecarPlatform> platform_;
  std::string maa_endpoint_;
};

}  // namespace skr::agent
