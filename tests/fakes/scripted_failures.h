// The failures the real clients return in the scenarios skr-init meets, as status code and typed
// ErrorDetails; the message is a placeholder that nothing may read. The MaaClient and
// KeyVaultClient unit tests check that the clients produce exactly these from wire answers; the
// release-flow unit test scripts its fakes with them. Together: wire -> details -> exit code.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/core/status.h"

namespace skr::testing {

// MAA refuses the evidence (HTTP 400 InvalidParameter).
Status scriptedMaaRejection(const std::string& maa_host);

enum class VaultFailure {
  Identity,           // the token provider cannot get a token (IMDS answers 400)
  PolicyDenied,       // 403 Forbidden/AccessDenied
  RoleMissing,        // 403 Forbidden/ForbiddenByRbac
  KeyNotFound,        // 404 KeyNotFound
  TransportDeadline,  // 503 with Retry-After beyond the deadline: one attempt
  RetriesExhausted,   // the transport fails on every attempt of the default retry policy
  Integrity,          // 200 whose body is no verifiable JWS
};
std::vector<VaultFailure> allVaultFailures();
std::string_view vaultFailureName(VaultFailure failure);
// What KeyVaultClient::release returns for `failure` against the vault at `vault_host`.
Status scriptedVaultFailure(VaultFailure failure, const std::string& vault_host);

// While alive, every Status message made is replaced by "reworded#<hash of the message>"
// (setMessageRewriterForTest), so a test can show that nothing depends on wording. Not nestable.
class ScopedRewording {
 public:
  ScopedRewording();
  ~ScopedRewording();
  ScopedRewording(const ScopedRewording&) = delete;
  ScopedRewording& operator=(const ScopedRewording&) = delete;
};
inline constexpr std::string_view kRewordedPrefix = "reworded#";

}  // namespace skr::testing
