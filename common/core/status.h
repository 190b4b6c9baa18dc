// Status and StatusOr<T>: the error currency of skr (STYLE.md "Errors").
// Anything that can fail for environmental reasons returns one of these. Messages name what failed
// (host, key name, sizes, expected vs actual) and never contain secret material.
#pragma once

#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace skr {

// A small fixed set of codes; the exit-code and HTTP mappings of later components key off these.
enum class StatusCode {
  Ok = 0,
  InvalidArgument,     // malformed input: bad encoding, bad JSON, wrong sizes, unsupported alg
  NotFound,            // a key, version, file or claim that does not exist
  PermissionDenied,    // policy or authorization refused
  Unauthenticated,     // missing or invalid credentials
  FailedPrecondition,  // system not in a state to do this (e.g. no SNP device)
  Unavailable,         // a dependency could not be reached (retryable)
  DeadlineExceeded,    // a deadline ran out
  DataLoss,            // integrity failure: signature, MAC, unwrap, chain
  ResourceExhausted,   // a size or count limit was hit
  Unimplemented,       // a recognised but unsupported feature
  Internal,            // an unexpected failure inside a library we call
};

// Stable, lower-case-free name of a code ("InvalidArgument", ...), for messages and logs.
std::string_view statusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  // OK status.
  Status() = default;
  Status(StatusCode code, std::string message);

  static Status ok() { return Status(); }

  bool isOk() const { return code_ == StatusCode::Ok; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Returns a copy whose message reads "<context>: <message>", so a final log line reads like a
  // trace: "release key 'data-kek': MAA attest: HTTP 400 ...". OK stays OK.
  Status withContext(std::string_view context) const&;
  Status withContext(std::string_view context) &&;

  // "InvalidArgument: <message>", or "OK".
  std::string toString() const;

  // Explicitly discards a status where ignoring it is deliberate.
  void ignoreError() const {}

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  StatusCode code_ = StatusCode::Ok;
  std::string message_;
};

// Constructors that read like the condition they report.
Status invalidArgumentError(std::string message);
Status notFoundError(std::string message);
Status permissionDeniedError(std::string message);
Status unauthenticatedError(std::string message);
Status failedPreconditionError(std::string message);
Status unavailableError(std::string message);
Status deadlineExceededError(std::string message);
Status dataLossError(std::string message);
Status resourceExhaustedError(std::string message);
Status unimplementedError(std::string message);
Status internalError(std::string message);

namespace internal {
[[noreturn]] void dieOnBadStatusAccess(const Status& status);
[[noreturn]] void dieOkStatusAsError();
}  // namespace internal

// Either a value or a non-OK Status. Accessing the value of an error aborts (a bug, not an
// environmental failure), as does constructing one from an OK Status.
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(Status status) : status_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    if (status_.isOk()) internal::dieOkStatusAsError();
  }
  StatusOr(T value) : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  template <typename U>
  requires(std::is_constructible_v<T, U&&> && !std::is_same_v<std::decay_t<U>, T> &&
           !std::is_same_v<std::decay_t<U>, Status> &&
           !std::is_same_v<std::decay_t<U>, StatusOr<T>>) StatusOr(U&& value)
      : value_(T(std::forward<U>(value))) {}  // NOLINT(google-explicit-constructor)

  StatusOr(StatusOr&&) noexcept = default;
  StatusOr& operator=(StatusOr&&) noexcept = default;
  StatusOr(const StatusOr&) = default;
  StatusOr& operator=(const StatusOr&) = default;

  bool ok() const { return status_.isOk(); }
  const Status& status() const& { return status_; }
  Status status() && { return std::move(status_); }

  const T& value() const& {
    check();
    return *value_;
  }
  T& value() & {
    check();
    return *value_;
  }
  T&& value() && {
    check();
    return std::move(*value_);
  }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

 private:
  void check() const {
    if (!status_.isOk()) internal::dieOnBadStatusAccess(status_);
  }

  Status status_;
  std::optional<T> value_;
};

}  // namespace skr

#define SKR_STATUS_CONCAT_INNER_(a, b) a##b
#define SKR_STATUS_CONCAT_(a, b) SKR_STATUS_CONCAT_INNER_(a, b)

// Returns the Status of `expr` from the enclosing function when it is not OK.
#define SKR_RETURN_IF_ERROR(expr)                                \
  do {                                                           \
    ::skr::Status skr_status_ = ::skr::internal::toStatus(expr); \
    if (!skr_status_.isOk()) return skr_status_;                 \
  } while (false)

// `SKR_ASSIGN_OR_RETURN(auto x, f());` declares/assigns the value or returns the error.
#define SKR_ASSIGN_OR_RETURN(lhs, expr) \
  SKR_ASSIGN_OR_RETURN_IMPL_(SKR_STATUS_CONCAT_(skr_statusor_, __LINE__), lhs, expr)
#define SKR_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp.ok()) return std::move(tmp).status();   \
  lhs = std::move(tmp).value()

namespace skr::internal {
inline const Status& toStatus(const Status& s) {
  return s;
}
template <typename T>
const Status& toStatus(const StatusOr<T>& s) {
  return s.status();
}
}  // namespace skr::internal
