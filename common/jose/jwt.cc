#include "common/jose/jwt.h"

#include <cmath>

#include "common/core/rfc3339.h"
#include "common/core/time_limits.h"
#include "common/encoding/printable.h"

namespace skr::jose {
namespace {

using Clock = std::chrono::system_clock;

// A NumericDate claim (RFC 7519 §2): a JSON number of seconds since the epoch, possibly
// fractional. Absent or null -> nullopt.
StatusOr<std::optional<double>> numericDate(const json::ObjectPtr& claims, const char* name) {
  if (!claims->has(name) || claims->isNull(name)) return std::optional<double>();
  const Poco::Dynamic::Var value = claims->get(name);
  if (value.isBoolean() || !value.isNumeric()) {
    return invalidArgumentError(std::string("claim '") + name + "' is not a number");
  }
  StatusOr<double> number = json::asNumber(value, name);
  if (!number.ok())
    return invalidArgumentError(std::string("claim '") + name + "' is not a number");
  const double seconds = *number;
  // At most kLatestEpochSeconds: a later date (plus the leeway) would overflow system_clock.
  if (!std::isfinite(seconds) || seconds < 0 ||
      seconds > static_cast<double>(kLatestEpochSeconds)) {
    return invalidArgumentError(std::string("claim '") + name + "' is out of range");
  }
  return std::optional<double>(seconds);
}

Clock::time_point toTime(double seconds) {
  return Clock::time_point(std::chrono::seconds(static_cast<int64_t>(std::floor(seconds))));
}

std::string clockText(const ClaimCheck& check) {
  return "now " + formatRfc3339(check.now) + ", leeway " + std::to_string(check.leeway.count()) +
         " s";
}

}  // namespace

Status checkClaims(const json::ObjectPtr& claims, const ClaimCheck& check) {
  if (claims.isNull()) return invalidArgumentError("JWT claims are not a JSON object");
  const auto now = check.now;

  SKR_ASSIGN_OR_RETURN(std::optional<double> exp, numericDate(claims, "exp"));
  SKR_ASSIGN_OR_RETURN(std::optional<double> nbf, numericDate(claims, "nbf"));
  SKR_ASSIGN_OR_RETURN(std::optional<double> iat, numericDate(claims, "iat"));

  if (!exp && check.require_exp) return unauthenticatedError("token has no 'exp' claim");
  if (!nbf && check.require_nbf) return unauthenticatedError("token has no 'nbf' claim");
  if (!iat && check.require_iat) return unauthenticatedError("token has no 'iat' claim");

  if (exp && now >= toTime(*exp) + check.leeway) {
    return unauthenticatedError("token expired at " + formatRfc3339(toTime(*exp)) + ", " +
                                clockText(check));
  }
  if (nbf && now + check.leeway < toTime(*nbf)) {
    return unauthenticatedError("token not valid before " + formatRfc3339(toTime(*nbf)) + ", " +
                                clockText(check));
  }
  if (iat && now + check.leeway < toTime(*iat)) {
    return unauthenticatedError("token issued in the future at " + formatRfc3339(toTime(*iat)) +
                                ", " + clockText(check));
  }

  if (check.issuer) {
    StatusOr<std::string> iss = json::getString(claims, "iss");
    if (!iss.ok()) {
      if (iss.status().code() == StatusCode::NotFound) {
        return unauthenticatedError("token has no 'iss' claim, expected \"" + *check.issuer + "\"");
      }
      return iss.status();
    }
    if (*iss != *check.issuer) {
      return unauthenticatedError("token issuer \"" + encoding::printable(*iss, 128) +
                                  "\" is not the expected \"" + *check.issuer + "\"");
    }
  }

  if (check.audience) {
    if (!claims->has("aud")) {
      return unauthenticatedError("token has no 'aud' claim, expected \"" + *check.audience + "\"");
    }
    bool found = false;
    if (claims->isArray("aud")) {
      SKR_ASSIGN_OR_RETURN(std::vector<std::string> auds, json::getStringArray(claims, "aud"));
      for (const auto& a : auds) found = found || a == *check.audience;
    } else {
      SKR_ASSIGN_OR_RETURN(std::string aud, json::getString(claims, "aud"));
      found = aud == *check.audience;
    }
    if (!found) {
      return unauthenticatedError("token audience does not include \"" + *check.audience + "\"");
    }
  }
  return okStatus();
}

}  // namespace skr::jose
