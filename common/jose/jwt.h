// JWT claim checks (RFC 7519 §4.1) with an injectable clock and leeway, applied after the JWS
// signature verified.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "common/core/status.h"
#include "common/json/json.h"

namespace skr::jose {

struct ClaimCheck {
  std::chrono::system_clock::time_point now;  // injected clock
  std::chrono::seconds leeway{60};
  std::optional<std::string> issuer;    // exact match when set
  std::optional<std::string> audience;  // "aud" string or array must contain it when set
  bool require_exp = true;
  bool require_iat = false;
  bool require_nbf = false;
};

// PermissionDenied-free: the codes are Unauthenticated for expired / not yet valid / wrong issuer /
// wrong audience (a token that is well-formed but not acceptable), InvalidArgument for claims of
// the wrong type. Messages give the claim, its value and the clock ("token expired at
// 2026-01-01T00:00:00Z, now 2026-01-02T00:00:00Z, leeway 60 s").
Status checkClaims(const json::ObjectPtr& claims, const ClaimCheck& check);

}  // namespace skr::jose
