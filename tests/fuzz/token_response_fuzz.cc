// Fuzz target: identity endpoint answers (IMDS and Entra ID token bodies, their error bodies) and
// Retry-After values — all bytes a network peer controls.
// Properties: nothing crashes; a parsed token is non-empty and at most 16 KiB; an error Status
// never contains the raw body when that body is longer than the message bound; a Retry-After
// value is never negative.
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/azure/identity.h"
#include "common/http/retry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);  // NOLINT
  const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1767225600));
  for (const auto& parsed : {skr::azure::parseImdsTokenResponse(text, now),
                             skr::azure::parseEntraTokenResponse(text, now)}) {
    if (parsed.ok() && (parsed->token.empty() || parsed->token.size() > 16 * 1024)) std::abort();
  }
  skr::http::RetriedResponse answer;
  answer.response.status = 400;
  answer.response.body = text;
  const skr::Status error = skr::azure::tokenEndpointError("fuzz", answer);
  if (error.ok() || error.message().size() > 2048) std::abort();
  const auto retry_after = skr::http::parseRetryAfter(text, now);
  if (retry_after.has_value() && retry_after->count() < 0) std::abort();
  return 0;
}
