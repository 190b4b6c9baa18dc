#include "tests/fakes/scripted_failures.h"

#include <functional>

#include "common/azure/key_vault_client.h"

namespace skr::testing {
namespace {

std::string reworded(std::string_view message) {
  return std::string(kRewordedPrefix) + std::to_string(std::hash<std::string_view>{}(message));
}

}  // namespace

ScopedRewording::ScopedRewording() {
  setMessageRewriterForTest(&reworded);
}
ScopedRewording::~ScopedRewording() {
  setMessageRewriterForTest(nullptr);
}

Status scriptedMaaRejection(const std::string& maa_host) {
  ErrorDetails d;
  d.dependency = Dependency::Maa;
  d.cause = ErrorCause::AttestationRejected;
  d.host = maa_host;
  d.http_status = 400;
  d.attempts = 1;
  return permissionDeniedError("scripted: MAA rejected the evidence").withDetails(d);
}

std::vector<VaultFailure> allVaultFailures() {
  return {VaultFailure::Identity,          VaultFailure::PolicyDenied,
          VaultFailure::RoleMissing,       VaultFailure::KeyNotFound,
          VaultFailure::TransportDeadline, VaultFailure::RetriesExhausted,
          VaultFailure::Integrity};
}

std::string_view vaultFailureName(VaultFailure failure) {
  switch (failure) {
    case VaultFailure::Identity: return "identity failure";
    case VaultFailure::PolicyDenied: return "policy denied";
    case VaultFailure::RoleMissing: return "role missing";
    case VaultFailure::KeyNotFound: return "key not found";
    case VaultFailure::TransportDeadline: return "transport deadline";
    case VaultFailure::RetriesExhausted: return "retries exhausted";
    case VaultFailure::Integrity: return "integrity";
  }
  return "unknown";
}

Status scriptedVaultFailure(VaultFailure failure, const std::string& vault_host) {
  ErrorDetails d;
  d.dependency = Dependency::KeyVault;
  d.host = vault_host;
  d.attempts = 1;
  switch (failure) {
    case VaultFailure::Identity: {
      ErrorDetails identity;
      identity.dependency = Dependency::Identity;
      identity.cause = ErrorCause::Identity;
      return unauthenticatedError("scripted: identity: no token").withDetails(identity);
    }
    case VaultFailure::PolicyDenied:
      d.cause = ErrorCause::PolicyDenied;
      d.http_status = 403;
      d.service_code = "Forbidden/AccessDenied";
      return permissionDeniedError("scripted: release policy not satisfied").withDetails(d);
    case VaultFailure::RoleMissing:
      d.cause = ErrorCause::RoleMissing;
      d.http_status = 403;
      d.service_code = "Forbidden/ForbiddenByRbac";
      return permissionDeniedError("scripted: release role missing").withDetails(d);
    case VaultFailure::KeyNotFound:
      d.http_status = 404;
      d.service_code = "KeyNotFound";
      return notFoundError("scripted: key not found").withDetails(d);
    case VaultFailure::TransportDeadline:
      d.cause = ErrorCause::Transport;
      d.http_status = 503;
      return deadlineExceededError("scripted: deadline").withDetails(d);
    case VaultFailure::RetriesExhausted:
      d.cause = ErrorCause::Transport;
      d.attempts = azure::KeyVaultOptions{}.retry.max_attempts;
      return unavailableError("scripted: retries exhausted").withDetails(d);
    case VaultFailure::Integrity:
      d.cause = ErrorCause::Integrity;
      d.http_status = 200;
      return dataLossError("scripted: no verifiable JWS").withDetails(d);
  }
  return internalError("scripted: unknown vault failure");
}

}  // namespace skr::testing
