// Entra ID access tokens for Key Vault / Managed HSM (DESIGN.md §3 "Entra token",
// spec/azure-wire.md §4): IMDS managed identity, AKS workload identity (federated token
// exchange), a token file and a literal token, plus a caching wrapper.
//
// Tokens live in SecretBytes (AccessToken) from the moment they are parsed; they are never logged
// and never appear in Status messages. Error bodies from IMDS / Entra ID are reduced to their
// `error` and `error_description` members (JWT-looking substrings redacted).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "common/core/clock.h"
#include "common/core/secret_bytes.h"
#include "common/core/status.h"
#include "common/http/http_transport.h"
#include "common/http/retry.h"

namespace skr::azure {

inline constexpr const char* kVaultResource = "https://vault.azure.net";
inline constexpr const char* kManagedHsmResource = "https://managedhsm.azure.net";

struct AccessToken {
  SecretBytes token;  // the bearer token (ASCII)
  std::chrono::system_clock::time_point expires_on;

  AccessToken clone() const { return {token.clone(), expires_on}; }
};

// Source of access tokens for a resource ("https://vault.azure.net", no "/.default").
// Implementations are thread-safe.
class TokenProvider {
 public:
  virtual ~TokenProvider() = default;
  virtual StatusOr<AccessToken> token(const std::string& resource) = 0;
  // What this provider is, for messages: "IMDS managed identity (client_id 1234...)".
  virtual std::string describe() const = 0;
  // Forgets any token it keeps (after a 401 from the vault, say). No-op for providers that keep
  // none.
  virtual void invalidate() {}
  // The earliest expiry of the tokens it keeps (none kept: nullopt), for metrics. Never waits.
  virtual std::optional<std::chrono::system_clock::time_point> earliestExpiry() const {
    return std::nullopt;
  }
};

// The token audience for a vault host: "*.managedhsm.azure.net" (any port) → Managed HSM, anything
// else → Key Vault. `overrides` maps "host:port" or "host" (case-insensitive, "host:port" first)
// to a resource, for hosts that do not say what they are (the emulator serves both kinds on
// 127.0.0.1, telling them apart by port; see EmulatorContext::resourceFor).
std::string resourceForHost(std::string_view host_and_port,
                            const std::map<std::string, std::string>& overrides = {});

// ---- IMDS managed identity (spec §4.1) ----

enum class ImdsIdentity { Default, ClientId, ObjectId, MsiResId };

struct ImdsOptions {
  std::string endpoint = "http://169.254.169.254";  // scheme://host[:port]; the emulator's IMDS URL
  ImdsIdentity identity = ImdsIdentity::Default;    // which user-assigned identity, if any
  std::string identity_id;                          // the client_id / object_id / msi_res_id
  std::chrono::milliseconds attempt_timeout{10'000};
  http::RetryPolicy retry = imdsRetryPolicy();

  // IMDS guidance: retry 404 (identity not yet assigned), 410, 429 and 5xx with backoff.
  static http::RetryPolicy imdsRetryPolicy();
};

class ImdsTokenProvider : public TokenProvider {
 public:
  // `clock` and `jitter` must outlive the provider.
  static StatusOr<std::unique_ptr<ImdsTokenProvider>> create(
      std::shared_ptr<http::HttpTransport> transport, ImdsOptions options, Clock& clock,
      http::JitterSource& jitter);
  StatusOr<AccessToken> token(const std::string& resource) override;
  std::string describe() const override;

 private:
  ImdsTokenProvider(std::shared_ptr<http::HttpTransport> transport, ImdsOptions options,
                    Clock& clock, http::JitterSource& jitter);
  std::shared_ptr<http::HttpTransport> transport_;
  ImdsOptions options_;
  Clock& clock_;
  http::JitterSource& jitter_;
};

// ---- Workload identity: client credentials with a federated client assertion ----

struct WorkloadIdentityOptions {
  std::string client_id;
  std::string tenant_id;
  std::string federated_token_file;  // re-read on every exchange (kubelet rotates it)
  std::string authority_host = "https://login.microsoftonline.com";
  std::chrono::milliseconds attempt_timeout{15'000};
  http::RetryPolicy retry = defaultRetryPolicy();

  static http::RetryPolicy defaultRetryPolicy();
  // AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE (all required: NotFound naming
  // the missing ones), AZURE_AUTHORITY_HOST (optional).
  static StatusOr<WorkloadIdentityOptions> fromEnvironment();
};

class WorkloadIdentityTokenProvider : public TokenProvider {
 public:
  // Validates ids (GUID-like characters), tenant, https authority. `clock`/`jitter` outlive it.
  static StatusOr<std::unique_ptr<WorkloadIdentityTokenProvider>> create(
      std::shared_ptr<http::HttpTransport> transport, WorkloadIdentityOptions options, Clock& clock,
      http::JitterSource& jitter);
  StatusOr<AccessToken> token(const std::string& resource) override;
  std::string describe() const override;

 private:
  WorkloadIdentityTokenProvider(std::shared_ptr<http::HttpTransport> transport,
                                WorkloadIdentityOptions options, Clock& clock,
                                http::JitterSource& jitter);
  std::shared_ptr<http::HttpTransport> transport_;
  WorkloadIdentityOptions options_;
  Clock& clock_;
  http::JitterSource& jitter_;
};

// ---- Static tokens ----

// A file holding an access token (JWT); read on every call (wrap in CachingTokenProvider, which
// re-reads it when the cached copy expires). Expiry: the JWT's `exp`, else now + 5 minutes. A JWT
// whose `aud` names another resource is InvalidArgument.
class TokenFileProvider : public TokenProvider {
 public:
  TokenFileProvider(std::string path, Clock& clock);
  StatusOr<AccessToken> token(const std::string& resource) override;
  std::string describe() const override;

 private:
  std::string path_;
  Clock& clock_;
};

// A token given literally (configuration, tests). Expiry as for TokenFileProvider, except that a
// token without `exp` never expires.
class LiteralTokenProvider : public TokenProvider {
 public:
  explicit LiteralTokenProvider(SecretBytes token);
  StatusOr<AccessToken> token(const std::string& resource) override;
  std::string describe() const override;

 private:
  const SecretBytes token_;  // never modified: concurrent reads are safe
};

// ---- Cache ----

// Caches tokens per resource until `expires_on - margin`; one fetch at a time (callers for the
// same cache wait rather than stampede the identity endpoint). Thread-safe.
class CachingTokenProvider : public TokenProvider {
 public:
  CachingTokenProvider(std::unique_ptr<TokenProvider> inner, Clock& clock,
                       std::chrono::seconds margin = std::chrono::minutes(5));
  StatusOr<AccessToken> token(const std::string& resource) override;
  std::string describe() const override { return inner_->describe(); }
  // Drops every cached token.
  void invalidate() override;
  // Never waits for a fetch in progress.
  std::optional<std::chrono::system_clock::time_point> earliestExpiry() const override;

 private:
  void noteExpiries();  // mutex_ held

  std::unique_ptr<TokenProvider> inner_;
  Clock& clock_;
  std::chrono::seconds margin_;
  std::mutex mutex_;
  std::map<std::string, AccessToken> cache_;
  mutable std::mutex expiry_mutex_;  // guards earliest_
  std::optional<std::chrono::system_clock::time_point> earliest_;
};

// ---- Parsers (exposed for tests and fuzzing) ----

// IMDS 200 body: access_token, expires_on (unix seconds) else expires_in, both string-typed per
// spec §4.1 (integers accepted too), token_type "Bearer" when present.
StatusOr<AccessToken> parseImdsTokenResponse(std::string_view body,
                                             std::chrono::system_clock::time_point now);
// Entra ID v2.0 200 body: access_token, expires_in (integer, or a string), token_type.
StatusOr<AccessToken> parseEntraTokenResponse(std::string_view body,
                                              std::chrono::system_clock::time_point now);
// A non-200 answer of a token endpoint as a Status: "<what>: HTTP 400 invalid_resource: <desc>"
// (+ retry note). Codes: 401/invalid_client/unauthorized_client/invalid_grant → Unauthenticated,
// 403 → PermissionDenied, 404 → NotFound, 408/429/5xx → Unavailable, other 4xx →
// InvalidArgument.
Status tokenEndpointError(std::string_view what, const http::RetriedResponse& answer);

}  // namespace skr::azure
