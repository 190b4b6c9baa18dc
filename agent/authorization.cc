#include "agent/authorization.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <array>
#include <cctype>

#include "common/crypto/digest.h"
#include "common/encoding/hex.h"
#include "common/seal/bundle.h"

namespace skr::agent {
namespace {

constexpr std::array<Operation, 11> kAllOperations = {
    Operation::Unwrap, Operation::Wrap,    Operation::Decrypt, Operation::Encrypt,
    Operation::Rewrap, Operation::Keys,    Operation::Events,  Operation::Admin,
    Operation::Attest, Operation::Release, Operation::OpenData};

// Operations "*" does not grant: they must be named (admin; the sidecar-compat attest and
// release, which hand out tokens and private keys).
bool explicitOnly(Operation op) {
  return op == Operation::Admin || op == Operation::Attest || op == Operation::Release;
}

bool knownOperation(std::string_view name) {
  if (name == "*") return true;
  return std::any_of(kAllOperations.begin(), kAllOperations.end(),
                     [&](Operation op) { return operationName(op) == name; });
}

template <typename T>
bool contains(const std::vector<T>& v, const T& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

bool matches(const AuthRule& rule, const PeerCredentials& peer) {
  return contains(rule.uids, peer.uid) || contains(rule.gids, peer.gid);
}

bool grants(const AuthRule& rule, Operation op, std::string_view key) {
  const std::string_view name = operationName(op);
  const bool op_ok = std::any_of(
      rule.operations.begin(), rule.operations.end(),
      [&](const std::string& o) { return o == name || (o == "*" && !explicitOnly(op)); });
  if (!op_ok) return false;
  if (key.empty()) return true;
  return std::any_of(rule.keys.begin(), rule.keys.end(),
                     [&](const std::string& k) { return k == "*" || k == key; });
}

std::string describe(const PeerCredentials& peer) {
  // TCP peers (the sidecar-compat port) have no gid: it is not printed as 4294967295.
  return "uid " + std::to_string(peer.uid) +
         (peer.gid != static_cast<gid_t>(-1) ? " gid " + std::to_string(peer.gid) : std::string()) +
         (peer.pid != 0 ? " pid " + std::to_string(peer.pid) : std::string());
}

// The token of "Authorization: Bearer <token>"; nullopt when absent, "" when malformed.
std::optional<std::string> bearerToken(const HttpRequest& request) {
  const std::string value = request.header("authorization");
  if (value.empty()) return std::nullopt;
  constexpr std::string_view kScheme = "bearer ";
  if (value.size() <= kScheme.size()) return std::string();
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(value[i])) != kScheme[i]) return std::string();
  }
  std::string token = value.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.erase(token.begin());
  while (!token.empty() && token.back() == ' ') token.pop_back();
  return token;
}

}  // namespace

std::string_view operationName(Operation op) {
  switch (op) {
    case Operation::Unwrap: return "unwrap";
    case Operation::Wrap: return "wrap";
    case Operation::Decrypt: return "decrypt";
    case Operation::Encrypt: return "encrypt";
    case Operation::Rewrap: return "rewrap";
    case Operation::Keys: return "keys";
    case Operation::Events: return "events";
    case Operation::Admin: return "admin";
    case Operation::Attest: return "attest";
    case Operation::Release: return "release";
    case Operation::OpenData: return "open-data";
  }
  return "?";
}

std::string_view authFailureName(AuthFailure reason) {
  switch (reason) {
    case AuthFailure::MissingHeader: return "missing_header";
    case AuthFailure::NoMatchingRule: return "no_matching_rule";
    case AuthFailure::MissingToken: return "missing_token";
    case AuthFailure::BadToken: return "bad_token";
    case AuthFailure::NotGranted: return "not_granted";
  }
  return "?";
}

std::string Caller::ruleNames() const {
  std::string out;
  for (const AuthRule* rule : rules_) {
    if (!out.empty()) out += ",";
    out += rule->name;
  }
  return out;
}

bool Caller::allows(Operation op, std::string_view key) const {
  return std::any_of(rules_.begin(), rules_.end(),
                     [&](const AuthRule* rule) { return grants(*rule, op, key); });
}

std::optional<AuthError> Caller::check(Operation op, std::string_view key) const {
  if (allows(op, key)) return std::nullopt;
  std::string message = "caller " + describe(peer_) + " (rules: " + ruleNames() +
                        ") is not granted operation '" + std::string(operationName(op)) + "'";
  if (!key.empty()) message += " on key '" + std::string(key) + "'";
  return AuthError{AuthFailure::NotGranted, 403, "Forbidden", std::move(message), false};
}

Authorizer::Authorizer(std::vector<AuthRule> rules) : rules_(std::move(rules)) {}

StatusOr<Authorizer> Authorizer::create(std::vector<AuthRule> rules) {
  std::vector<std::optional<std::array<uint8_t, 32>>> digests;
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const AuthRule& rule = rules[i];
    const std::string where = "client rule " + std::to_string(i) +
                              (rule.name.empty() ? std::string() : " '" + rule.name + "'");
    if (rule.name.empty()) return invalidArgumentError(where + ": name is empty");
    if (rule.uids.empty() && rule.gids.empty()) {
      return invalidArgumentError(where + ": needs at least one uid or gid");
    }
    if (rule.operations.empty()) return invalidArgumentError(where + ": operations is empty");
    for (const std::string& op : rule.operations) {
      if (!knownOperation(op)) {
        return invalidArgumentError(where + ": unknown operation '" + op +
                                    "'; expected unwrap, wrap, decrypt, encrypt, rewrap, keys, "
                                    "events, open-data, admin or *");
      }
    }
    if (rule.keys.empty()) return invalidArgumentError(where + ": keys is empty");
    for (const std::string& key : rule.keys) {
      if (key == "*") continue;
      SKR_RETURN_IF_ERROR(seal::validateKeyName(key).withContext(where + ": keys"));
    }
    if (!rule.token_sha256) {
      digests.emplace_back();
      continue;
    }
    StatusOr<Bytes> digest = encoding::hexDecode(*rule.token_sha256, 32);
    if (!digest.ok() || digest->size() != 32) {
      return invalidArgumentError(where +
                                  ": token_sha256 must be 64 hex digits (SHA-256 of the "
                                  "token)");
    }
    std::array<uint8_t, 32> d{};
    std::copy(digest->begin(), digest->end(), d.begin());
    digests.emplace_back(d);
  }
  Authorizer authorizer(std::move(rules));
  authorizer.digests_ = std::move(digests);
  return authorizer;
}

std::variant<Caller, AuthError> Authorizer::authenticate(const HttpRequest& request,
                                                         bool require_header) const {
  if (require_header && request.header("x-skr-request") != "1") {
    return AuthError{AuthFailure::MissingHeader, 401, "MissingRequestHeader",
                     "the request header 'X-SKR-Request: 1' is required", false};
  }
  const PeerCredentials& peer = request.peer;
  const std::optional<std::string> token = bearerToken(request);
  std::optional<std::array<uint8_t, 32>> presented;
  if (token && !token->empty()) {
    const Bytes d = crypto::sha256(asBytes(*token));
    presented.emplace();
    std::copy(d.begin(), d.end(), presented->begin());
  }

  Caller caller;
  caller.peer_ = peer;
  bool any_match = false;
  bool token_required = false;  // a matching rule wants a token the caller did not present
  bool token_matched = false;
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    if (!matches(rules_[i], peer)) continue;
    any_match = true;
    if (!digests_[i]) {
      caller.rules_.push_back(&rules_[i]);
      continue;
    }
    if (!presented) {
      token_required = true;
      continue;
    }
    if (CRYPTO_memcmp(presented->data(), digests_[i]->data(), 32) == 0) {
      token_matched = true;
      caller.rules_.push_back(&rules_[i]);
    }
  }
  if (!any_match) {
    return AuthError{AuthFailure::NoMatchingRule, 403, "Forbidden",
                     "caller " + describe(peer) + " matches no client rule", false};
  }
  if (token && !token_matched) {
    // A presented token that matches nothing is refused even where a tokenless rule would apply:
    // a wrong credential is never silently ignored.
    return AuthError{AuthFailure::BadToken, 401, "Unauthorized",
                     "the bearer token is not valid for caller " + describe(peer), true};
  }
  if (caller.rules_.empty() && token_required) {
    return AuthError{AuthFailure::MissingToken, 401, "Unauthorized",
                     "a bearer token is required for caller " + describe(peer), true};
  }
  return caller;
}

bool Authorizer::namesPeer(const PeerCredentials& peer, bool admin) const {
  return std::any_of(rules_.begin(), rules_.end(), [&](const AuthRule& rule) {
    if (!matches(rule, peer)) return false;
    return !admin || std::find(rule.operations.begin(), rule.operations.end(), "admin") !=
                         rule.operations.end();
  });
}

}  // namespace skr::agent
