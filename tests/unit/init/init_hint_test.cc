#include <catch2/catch.hpp>
#include <string>

#include "init/init_run.h"

namespace skr::init {
namespace {

using release::ExitCode;

Status deniedBecause(ErrorCause cause, std::string message) {
  ErrorDetails details;
  details.dependency = Dependency::KeyVault;
  details.cause = cause;
  details.http_status = 403;
  return permissionDeniedError(std::move(message)).withDetails(details);
}

TEST_CASE("the release-denied hint follows the cause, not the message's wording", "[init]") {
  const std::string role_hint =
      hintFor(ExitCode::ReleaseDenied, "release",
              deniedBecause(ErrorCause::RoleMissing, "reworded: no r-word here"));
  const std::string policy_hint =
      hintFor(ExitCode::ReleaseDenied, "release",
              deniedBecause(ErrorCause::PolicyDenied, "key 'role-key': the role of the policy"));
  CHECK_THAT(role_hint, Catch::StartsWith("grant the identity the release role"));
  CHECK_THAT(policy_hint, Catch::StartsWith("the key's release policy does not accept"));
  CHECK(hintFor(ExitCode::ReleaseDenied, "release", permissionDeniedError("role")) == policy_hint);
}

}  // namespace
}  // namespace skr::init
