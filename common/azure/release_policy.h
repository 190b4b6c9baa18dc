// Azure Key Vault / Managed HSM secure key release policy (spec/azure-wire.md §3): parsing with
// path-naming errors and evaluation against the claims of a verified MAA token with an actionable
// reason. The ACI policy skrctl generates is in aci_policy.h.
//
// Choices where AKV's behaviour is not documented (spec §3.2, marked [inferred] there):
//  - authority vs token `iss`: equal after lower-casing scheme and host and dropping one trailing
//    '/' (path case is kept; no default-port folding);
//  - equals / notEquals compare the canonical string forms of two scalars: strings as-is,
//    booleans "true"/"false", integers in decimal, other numbers in shortest round-trip form. So
//    "false" == false and "0" == 0, but "1.0" != 1 and "00" != 0. Hex claims (hostdata,
//    measurement) compare exactly, case-sensitively: MAA emits lower case and a policy in upper
//    case is an authoring error the reason text makes visible, not something to paper over;
//  - less / lessOrEquals / greater / greaterOrEquals compare numerically when both sides are JSON
//    numbers or numeric strings ("-12", "3.5", "1e3"), and are false otherwise;
//  - a missing or null claim, or one holding an object or array, makes every operator false except
//    `exists`: `"exists": true` holds iff the claim is present and not null, `"exists": false`
//    (Azure Policy semantics) iff it is absent or null;
//  - empty anyOf / allOf lists are rejected (the grammar requires one condition; an empty allOf
//    would release to any token of the authority).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/status.h"
#include "common/json/json.h"

namespace skr::azure {

// Bounds on untrusted policies (a release policy is at most a few KiB in practice).
inline constexpr std::size_t kMaxReleasePolicyBytes = 64 * 1024;
inline constexpr int kMaxReleasePolicyDepth = 16;  // nested anyOf/allOf lists, authority's = 1
inline constexpr std::size_t kMaxReleasePolicyConditions = 1024;  // claim conditions + groups

// The contentType AKV uses for release_policy (spec §3.1 "Encoding on the wire").
inline constexpr std::string_view kReleasePolicyContentType = "application/json; charset=utf-8";

// Outcome of evaluating a policy against one token. `reason` is meant for operators (the emulator's
// 403 message, skr-init's log): it names the failing claim, the token's and the policy's values
// (long values shortened) and the condition's JSON path; it never contains the whole token.
struct PolicyDecision {
  bool allowed = false;
  std::string reason;
};

struct ReleasePolicyTree;  // the validated condition tree (release_policy_tree.h)

// A validated release policy. Immutable and cheap to copy (the tree is shared); evaluate() may be
// called concurrently from several threads.
class ReleasePolicy {
 public:
  // Parses and validates the policy JSON (spec §3.1, legacy {"condition","value"} form included).
  // Every failure is InvalidArgument with a message "release policy: <path>: <problem>", e.g.
  // "release policy: anyOf[0].allOf[2]: condition has both 'equals' and 'greater'".
  static StatusOr<ReleasePolicy> parse(std::string_view json_text);

  // From the AKV wire object {"contentType": ..., "data": base64url(policy json), "immutable": b}
  // as sent in create/import requests and returned in key bundles. `data` may use either base64
  // alphabet, padded or not (tests/skr/key.py sends standard base64).
  static StatusOr<ReleasePolicy> fromWire(const json::ObjectPtr& release_policy);

  // The policy as parsed, serialized canonically (json::serializeCanonical): sorted members, no
  // whitespace. parse(canonicalJson()) yields the same policy.
  const std::string& canonicalJson() const { return canonical_json_; }

  // The `authority` of each statement, in policy order.
  std::vector<std::string> authorities() const;

  // Evaluates against the claims of a token whose signature and lifetime were already verified;
  // `issuer` is its `iss`. Top-level anyOf: some statement whose authority matches `issuer` must
  // hold; top-level allOf: every statement must match and hold (with several distinct authorities
  // no single token can pass; that is a policy-authoring error the reason names).
  PolicyDecision evaluate(const json::ObjectPtr& claims, std::string_view issuer) const;

 private:
  ReleasePolicy(std::shared_ptr<const ReleasePolicyTree> tree, std::string canonical_json)
      : tree_(std::move(tree)), canonical_json_(std::move(canonical_json)) {}

  std::shared_ptr<const ReleasePolicyTree> tree_;
  std::string canonical_json_;
};

// Authority normal form used for matching: scheme and host lower-cased, one trailing '/' removed,
// path kept ("HTTPS://Shared.EUS.attest.azure.net/" -> "https://shared.eus.attest.azure.net").
std::string normalizeAuthority(std::string_view authority);

// The `release_policy.data` value AKV expects: base64url (no padding) of the policy JSON bytes.
std::string toWireBase64Url(std::string_view policy_json);

}  // namespace skr::azure
