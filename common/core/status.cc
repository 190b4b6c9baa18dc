#include "common/core/status.h"

#include <atomic>
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

namespace {
std::atomic<testing::MessageRewriter> g_rewriter{nullptr};

std::string rewritten(std::string message) {
  const testing::MessageRewriter rewrite = g_rewriter.load(std::memory_order_relaxed);
  return rewrite == nullptr ? message : rewrite(message);
}
}  // namespace

std::string_view dependencyName(Dependency dependency) {
  switch (dependency) {
    case Dependency::None: return "none";
    case Dependency::Identity: return "identity";
    case Dependency::Maa: return "maa";
    case Dependency::KeyVault: return "keyvault";
    case Dependency::Collateral: return "collateral";
    case Dependency::Agent: return "agent";
  }
  return "unknown";
}

std::string_view errorCauseName(ErrorCause cause) {
  switch (cause) {
    case ErrorCause::Unspecified: return "unspecified";
    case ErrorCause::Identity: return "identity";
    case ErrorCause::AttestationRejected: return "attestation_rejected";
    case ErrorCause::PolicyDenied: return "policy_denied";
    case ErrorCause::RoleMissing: return "role_missing";
    case ErrorCause::Transport: return "transport";
    case ErrorCause::Integrity: return "integrity";
    case ErrorCause::VersionNotFound: return "version_not_found";
  }
  return "unknown";
}

Status::Status(StatusCode code, std::string message)
    : code_(code), message_(rewritten(std::move(message))) {
  if (code_ == StatusCode::Ok) message_.clear();
}

const ErrorDetails& Status::details() const {
  static const ErrorDetails kNone;
  return details_ != nullptr ? *details_ : kNone;
}

Status Status::withDetails(ErrorDetails details) const& {
  Status copy = *this;
  return std::move(copy).withDetails(std::move(details));
}

Status Status::withDetails(ErrorDetails details) && {
  if (!ok()) details_ = std::make_shared<const ErrorDetails>(std::move(details));
  return std::move(*this);
}

Status Status::withContext(std::string_view context) const& {
  Status copy = *this;
  return std::move(copy).withContext(context);
}

Status Status::withContext(std::string_view context) && {
  if (ok()) return std::move(*this);
  message_ = rewritten(std::string(context) + ": " + message_);
  return std::move(*this);
}

std::string Status::toString() const {
  if (ok()) return "OK";
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

namespace testing {
void setMessageRewriterForTest(MessageRewriter rewrite) {
  g_rewriter.store(rewrite, std::memory_order_relaxed);
}
}  // namespace testing

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
