#include "agent/api_error.h"

#include <catch2/catch.hpp>

#include "common/core/status.h"

namespace skr::agent {
namespace {

Status withDependency(Status s, Dependency dependency, ErrorCause cause, int http_status) {
  ErrorDetails details;
  details.dependency = dependency;
  details.cause = cause;
  details.http_status = http_status;
  details.host = "vault.example.test";
  details.attempts = 1;
  return s.withDetails(details);
}

TEST_CASE("a caller's malformed input is 400 BadParameter", "[agent][api_error]") {
  const ApiError e = apiErrorOf(invalidArgumentError("value: not base64url"), 2);
  CHECK(e.status == 400);
  CHECK(e.code == "BadParameter");
}

TEST_CASE(
    "a dependency's unreadable or unverifiable answer is 502 BadGateway, not the caller's 400",
    "[agent][api_error]") {
  const ApiError bad_signature =
      apiErrorOf(withDependency(dataLossError("release response: signature does not verify"),
                                Dependency::KeyVault, ErrorCause::Integrity, 200),
                 2);
  CHECK(bad_signature.status == 502);
  CHECK(bad_signature.code == "BadGateway");
  const ApiError malformed =
      apiErrorOf(withDependency(invalidArgumentError("release response: not JSON"),
                                Dependency::KeyVault, ErrorCause::Unspecified, 200),
                 2);
  CHECK(malformed.status == 502);
  // The vault refusing what the caller named (its own 400) stays the caller's problem.
  const ApiError vault_400 =
      apiErrorOf(withDependency(invalidArgumentError("Key Vault: HTTP 400 BadParameter"),
                                Dependency::KeyVault, ErrorCause::Unspecified, 400),
                 2);
  CHECK(vault_400.status == 400);
  CHECK(vault_400.code == "BadParameter");
  // Unreachable dependencies stay 503 with Retry-After.
  const ApiError down = apiErrorOf(withDependency(unavailableError("Key Vault: refused"),
                                                  Dependency::KeyVault, ErrorCause::Transport, 0),
                                   7);
  CHECK(down.status == 503);
  REQUIRE(down.headers.size() == 1);
  CHECK(down.headers[0].second == "7");
}

}  // namespace
}  // namespace skr::agent
