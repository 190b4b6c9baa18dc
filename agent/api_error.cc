#include "agent/api_error.h"

#include "common/azure/akv_error.h"

namespace skr::agent {

HttpResponse errorResponse(const ApiError& error) {
  HttpResponse response =
      jsonTextResponse(error.status, azure::akvErrorBody(error.code, error.message, error.inner));
  for (const auto& header : error.headers) response.headers.push_back(header);
  return response;
}

ApiError badParameter(std::string message) {
  return {400, "BadParameter", std::move(message), "", {}};
}

namespace {

// True when `s` is about what a dependency (Key Vault, MAA, identity, collateral) answered, not
// about the caller's request: an answer that failed its integrity checks or could not be read.
// A dependency's own 4xx stays the caller's problem (it named a version that does not parse...).
bool badDependencyAnswer(const Status& s) {
  const ErrorDetails& d = s.details();
  if (d.dependency == Dependency::None || d.dependency == Dependency::Agent) return false;
  return d.cause == ErrorCause::Integrity || d.http_status < 400;
}

}  // namespace

ApiError apiErrorOf(const Status& s, int retry_after) {
  switch (s.code()) {
    case StatusCode::InvalidArgument:
    case StatusCode::DataLoss:
      if (badDependencyAnswer(s)) return {502, "BadGateway", s.message(), "", {}};
      return badParameter(s.message());
    case StatusCode::PermissionDenied:
      return {403, "Forbidden", s.message(), "KeyOperationForbidden", {}};
    case StatusCode::NotFound: {
      const bool version = s.details().cause == ErrorCause::VersionNotFound;
      return {404, version ? "VersionNotFound" : "KeyNotFound", s.message(), "", {}};
    }
    case StatusCode::FailedPrecondition:
    case StatusCode::Unavailable:
    case StatusCode::DeadlineExceeded:
      return {503, "NotReady", s.message(), "", {{"Retry-After", std::to_string(retry_after)}}};
    case StatusCode::Unimplemented: return {501, "NotImplemented", s.message(), "", {}};
    case StatusCode::ResourceExhausted: return {429, "Throttled", s.message(), "", {}};
    default: return {500, "Internal", s.message(), "", {}};
  }
}

}  // namespace skr::agent
