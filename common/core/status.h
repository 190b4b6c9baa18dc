// Status and StatusOr<T>: the error currency of skr (STYLE.md "Errors").
// Anything that can fail for environmental reasons returns one of these. Messages name what failed
// (host, key name, sizes, expected vs actual) and never contain secret material.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>
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

// The outside party an error came from. Exit codes, skrctl hints, metrics labels and the agent's
// HTTP answers read this (never the message text, whose wording may change).
enum class Dependency : uint8_t {
  None = 0,    // local: configuration, files, crypto, the SNP device
  Identity,    // Entra ID, IMDS managed identity, a token file
  Maa,         // Microsoft Azure Attestation
  KeyVault,    // Azure Key Vault / Managed HSM
  Collateral,  // THIM, AMD KDS or the security-context directory
  Agent,       // skr-agent, as seen by skrctl and clients
};

// What kind of failure this is, independent of the code's wording and the dependency.
enum class ErrorCause : uint8_t {
  Unspecified = 0,
  Identity,             // no access token could be obtained, whatever the reason
  AttestationRejected,  // MAA refused the evidence
  PolicyDenied,         // the key's release policy did not accept the attestation token
  RoleMissing,          // the identity lacks the release role or access-policy permission
  Transport,            // the dependency could not be reached or answered 5xx/429 to the end
  Integrity,            // a signature, certificate chain, MAC or unwrap check failed
  VersionNotFound,      // the key exists but the requested version does not
};

std::string_view dependencyName(Dependency dependency);  // "none", "identity", "maa", ...
std::string_view errorCauseName(ErrorCause cause);       // "unspecified", "identity", ...

// Machine-readable facts about an error, filled where it arises (transport, retry loop, clients)
// and carried unchanged through withContext().
struct ErrorDetails {
  Dependency dependency = Dependency::None;
  ErrorCause cause = ErrorCause::Unspecified;
  std::string host;          // "host[:port]" of the dependency; "" when none
  int http_status = 0;       // the dependency's last HTTP status; 0 when no answer arrived
  std::string service_code;  // the dependency's own error code(s), e.g. "Forbidden/AccessDenied"
  int attempts = 0;          // requests sent, retries included; 0 when not counted

  friend bool operator==(const ErrorDetails&, const ErrorDetails&) = default;
};

class [[nodiscard]] Status {
 public:
  // OK status.
  Status() = default;
  Status(StatusCode code, std::string message);

  // True when this is OK. (Making an OK status is okStatus(): a query and a factory with one name
  // let `return s.ok();` turn an error into success without a warning.)
  bool ok() const { return code_ == StatusCode::Ok; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // The typed details (all defaults when none were attached).
  const ErrorDetails& details() const;
  bool hasDetails() const { return details_ != nullptr; }
  // A copy carrying `details` (replacing any before). OK stays OK and carries none.
  Status withDetails(ErrorDetails details) const&;
  Status withDetails(ErrorDetails details) &&;

  // Returns a copy whose message reads "<context>: <message>", so a final log line reads like a
  // trace: "release key 'data-kek': MAA attest: HTTP 400 ...". OK stays OK.
  Status withContext(std::string_view context) const&;
  Status withContext(std::string_view context) &&;

  // "InvalidArgument: <message>", or "OK".
  std::string toString() const;

  // Explicitly discards a status where ignoring it is deliberate.
  void ignoreError() const {}

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_ && a.details() == b.details();
  }

 private:
  StatusCode code_ = StatusCode::Ok;
  std::string message_;
  std::shared_ptr<const ErrorDetails> details_;  // immutable once attached; shared by copies
};

// The OK status.
inline Status okStatus() {
  return Status();
}

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

namespace testing {
// Test-only: every Status message made after this call (constructor and withContext) is replaced
// by rewrite(message), so a test can show that no exit code, hint, HTTP status or metric label
// depends on wording. nullptr restores the default. Not thread-safe against concurrent errors.
using MessageRewriter = std::string (*)(std::string_view message);
void setMessageRewriterForTest(MessageRewriter rewrite);
}  // namespace testing

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
    if (status_.ok()) internal::dieOkStatusAsError();
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

  bool ok() const { return status_.ok(); }
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
    if (!status_.ok()) internal::dieOnBadStatusAccess(status_);
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
    if (!skr_status_.ok()) return skr_status_;                   \
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
