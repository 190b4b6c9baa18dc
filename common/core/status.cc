#include "common/core/status.h"

#include <cstdio>

namespace skr {

std::string_view statusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "OK";
    case StatusCode::kInvalidArgument: return "InvalidArgument";
    case StatusCode::kNotFound: return "NotFound";
    case StatusCode::kPermissionDenied: return "PermissionDenied";
    case StatusCode::kUnauthenticated: return "Unauthenticated";
    case StatusCode::kFailedPrecondition: return "FailedPrecondition";
    case StatusCode::kUnavailable: return "Unavailable";
    case StatusCode::kDeadlineExceeded: return "DeadlineExceeded";
    case StatusCode::kDataLoss: return "DataLoss";
    case StatusCode::kResourceExhausted: return "ResourceExhausted";
    case StatusCode::kUnimplemented: return "Unimplemented";
    case StatusCode::kInternal: return "Internal";
  }
  return "Unknown";
}

Status::Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {
  if (code_ == StatusCode::kOk) message_.clear();
}

Status Status::withContext(std::string_view context) const& {
  if (isOk()) return *this;
  return Status(code_, std::string(context) + ": " + message_);
}

Status Status::withContext(std::string_view context) && {
  if (isOk()) return std::move(*this);
  message_.insert(0, std::string(context) + ": ");
  return std::move(*this);
}

std::string Status::toString() const {
  if (isOk()) return "OK";
  return std::string(statusCodeName(code_)) + ": " + message_;
}

Status invalidArgumentError(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
Status notFoundError(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
Status permissionDeniedError(std::string m) { return {StatusCode::kPermissionDenied, std::move(m)}; }
Status unauthenticatedError(std::string m) { return {StatusCode::kUnauthenticated, std::move(m)}; }
Status failedPreconditionError(std::string m) {
  return {StatusCode::kFailedPrecondition, std::move(m)};
}
Status unavailableError(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
Status deadlineExceededError(std::string m) { return {StatusCode::kDeadlineExceeded, std::move(m)}; }
Status dataLossError(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }
Status resourceExhaustedError(std::string m) {
  return {StatusCode::kResourceExhausted, std::move(m)};
}
Status unimplementedError(std::string m) { return {StatusCode::kUnimplemented, std::move(m)}; }
Status internalError(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

namespace internal {
void dieOnBadStatusAccess(const Status& status) {
  std::fprintf(stderr, "skr: fatal: value of an error StatusOr accessed: %s\n",
               status.toString().c_str());
  std::abort();
}
void dieOkStatusAsError() {
  std::fprintf(stderr, "skr: fatal: StatusOr constructed from an OK Status\n");
  std::abort();
}
}  // namespace internal

}  // namespace skr
