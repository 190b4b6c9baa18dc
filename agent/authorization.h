// Caller authentication and authorization on every agent request (DESIGN.md §6).
// A request passes in two steps:
//   1. authenticate(): the header `X-SKR-Request: 1` must be present (blocks request forgery
//      through HTTP proxies that can reach the socket) -> else 401 MissingRequestHeader;
//      the SO_PEERCRED uid/gid must match at least one rule (a uid in `uids` or a gid in `gids`)
//      -> else 403 Forbidden; a bearer token, when presented, must match a matching rule's
//      token_sha256, and rules with a token apply only when it was presented -> else 401
//      Unauthorized with `WWW-Authenticate: Bearer` (missing or bad token).
//   2. Caller::allows(op, key): some applicable rule grants the operation and the key name
//      (or "*") -> else 403 Forbidden.
// "*" grants every client operation, not "admin", "attest" or "release": those need naming
// explicitly. The router serves admin operations only on the admin socket, attest and release
// only on the sidecar compatibility listener.
// Tokens are compared as SHA-256 digests with CRYPTO_memcmp (constant time); no token or digest is
// ever put in a message. Thread safety: immutable after create(); authorize concurrently.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "agent/http_message.h"
#include "common/core/status.h"

namespace skr::agent {

enum class Operation {
  Unwrap,
  Wrap,
  Decrypt,
  Encrypt,
  Rewrap,
  Keys,
  Events,
  Admin,
  Attest,
  Release,
  OpenData
};
// "unwrap", "wrap", "decrypt", "encrypt", "rewrap", "keys", "events", "admin", the Azure SKR
// sidecar compatibility operations "attest" (/attest/*) and "release" (/key/release), and
// "open-data" (POST /data/open; "*" grants it).
std::string_view operationName(Operation op);

// One `clients:` rule (the lead maps the configuration onto it).
struct AuthRule {
  std::string name;                         // for logs and /status
  std::vector<uid_t> uids;                  // the rule matches a caller whose uid is listed ...
  std::vector<gid_t> gids;                  // ... or whose gid is listed
  std::vector<std::string> operations;      // operationName()s or "*"
  std::vector<std::string> keys;            // key names or "*"
  std::optional<std::string> token_sha256;  // 64 hex digits of SHA-256(token); none = no token
};

// Why authentication or authorization failed; the metrics label skr_auth_failures_total{reason}.
enum class AuthFailure { MissingHeader, NoMatchingRule, MissingToken, BadToken, NotGranted };
// "missing_header", "no_matching_rule", "missing_token", "bad_token", "not_granted".
std::string_view authFailureName(AuthFailure reason);

// A refusal, ready to become an AKV-shaped error response.
struct AuthError {
  AuthFailure reason;
  int http_status;        // 401 or 403
  std::string code;       // "MissingRequestHeader", "Unauthorized", "Forbidden"
  std::string message;    // names the uid/gid, operation and key; never a token
  bool www_authenticate;  // answer with `WWW-Authenticate: Bearer`
};

class Authorizer;

// An authenticated caller: its credentials and the rules that apply to it.
class Caller {
 public:
  const PeerCredentials& peer() const { return peer_; }
  // Names of the applicable rules, comma-separated (for the audit line).
  std::string ruleNames() const;
  // Whether some applicable rule grants `op` on `key` ("*" rules included). An empty key asks
  // for the operation on any key (used for listings filtered afterwards).
  bool allows(Operation op, std::string_view key) const;
  // As allows(), as a 403 AuthError naming the caller, operation and key when refused.
  std::optional<AuthError> check(Operation op, std::string_view key) const;

 private:
  friend class Authorizer;
  PeerCredentials peer_;
  std::vector<const AuthRule*> rules_;
};

class Authorizer {
 public:
  // Validates the rules: a name, at least one uid or gid, known operations, key names valid or
  // "*", token_sha256 of 64 hex digits. InvalidArgument naming the rule and the field.
  static StatusOr<Authorizer> create(std::vector<AuthRule> rules);

  Authorizer(Authorizer&&) noexcept = default;
  Authorizer& operator=(Authorizer&&) noexcept = default;

  // Step 1 above. The returned Caller refers to this Authorizer's rules: it must not outlive it.
  // `require_header` false skips step 1's header check (the sidecar compatibility listener with
  // compat.azure_sidecar.require_request_header: false); the peer and token checks stay.
  std::variant<Caller, AuthError> authenticate(const HttpRequest& request,
                                               bool require_header = true) const;

  // Whether some rule matches this uid/gid at all (with `admin`: some rule that names the
  // "admin" operation). Decides at accept which connection budget a peer uses (http_server.h);
  // no request, token or operation is looked at.
  bool namesPeer(const PeerCredentials& peer, bool admin) const;

  const std::vector<AuthRule>& rules() const { return rules_; }

 private:
  explicit Authorizer(std::vector<AuthRule> rules);
  std::vector<AuthRule> rules_;
  std::vector<std::optional<std::array<uint8_t, 32>>> digests_;  // per rule
};

}  // namespace skr::agent
