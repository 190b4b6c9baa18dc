#include "common/core/status.h"

#include <cstdio>

namespace skr {

std::string_view statusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::Ok: return "OK";
    case StatusCode::InvalidArgument: return "InvalidArgument";
    case StatusCode::NotFound: return "NotFound";
    case StatusCode::PermissionDenied: return "PermissionDenied";
    case StatusCode::Unauthenticated: return "Unauthenticated";
    case StatusCode::FailedPrecondition: return "FailedPrecondition";
    case StatusCode::Unavailable: return "Unavailable";
    case StatusCode::DeadlineExceeded: return "DeadlineExceeded";
    case StatusCode::DataLoss: return "DataLoss";
    case StatusCode::ResourceExhausted: return "ResourceExhausted";
    case StatusCode::Unimplemented: return "Unimplemented";
    case StatusCode::Internal: return "Internal";
  }
  return "Unknown";
}

Status::Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {
  if (code_ == StatusCode::Ok) message_.clear();
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

Status invalidArgumentError(std::string m) {
  return {StatusCode::InvalidArgument, std::move(m)};
}
Status notFoundError(std::string m) {
  return {StatusCode::NotFound, std::move(m)};
}
Status permissionDeniedError(std::string m) {
  return {StatusCode::PermissionDenied, std::move(m)};
}
Status unauthenticatedError(std::string m) {
  return {StatusCode::Unauthenticated, std::move(m)};
}
Status failedPreconditionError(std::string m) {
  return {StatusCode::FailedPrecondition, std::move(m)};
}
Status unavailableError(std::string m) {
  return {StatusCode::Unavailable, std::move(m)};
}
Status deadlineExceededError(std::string m) {
  return {StatusCode::DeadlineExceeded, std::move(m)};
}
Status dataLossError(std::string m) {
  return {StatusCode::DataLoss, std::move(m)};
}
Status resourceExhaustedError(std::string m) {
  return {StatusCode::ResourceExhausted, std::move(m)};
}
Status unimplementedError(std::string m) {
  return {StatusCode::Unimplemented, std::move(m)};
}
Status internalError(std::string m) {
  return {StatusCode::Internal, std::move(m)};
}

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
