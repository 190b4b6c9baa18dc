// Offline reading of the artifacts a user captured (skrctl token / jws / policy check): a JWT
// decoded WITHOUT verifying it, a JWKS file turned into keys, and JSON shown as indented text
// with long values shortened. Everything read here is untrusted input.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/core/status.h"
#include "common/crypto/pkey.h"
#include "common/json/json.h"

namespace skr::ctl {

// Strings longer than this are shown as their first kShortPrefix characters + "…(N chars)".
inline constexpr std::size_t kShortenAbove = 128;
inline constexpr std::size_t kShortPrefix = 24;

// `value` for a terminal: printable ASCII only, shortened when longer than kShortenAbove.
std::string shortenForDisplay(std::string_view value);

// A compact JWS split and decoded, nothing verified.
struct UnverifiedJwt {
  std::string compact;     // the compact serialization (surrounding whitespace removed)
  json::ObjectPtr header;  // decoded protected header
  json::ObjectPtr claims;  // decoded payload (a JSON object)
};

// Accepts the compact JWS, or a JSON object holding it in "token" (MAA's attest answer) or
// "value" (AKV's release answer). InvalidArgument naming the part that does not decode.
StatusOr<UnverifiedJwt> decodeUnverifiedJwt(std::string_view text);

// The compact JWS of `text` as decodeUnverifiedJwt() finds it, not decoded.
StatusOr<std::string> compactJwsOf(std::string_view text);

// Why `alg` can never be verified with public keys ("none", HS*), or empty when it is not one of
// those.
std::string refusedAlgorithmReason(std::string_view alg);

// The keys of a JWKS file ({"keys":[...]}, as MAA's /certs) or of a single JWK: each key from
// x5c[0]'s certificate when present, else from n/e (RSA) or crv/x/y (EC). Pairs of (kid, key);
// kid may be empty. Entries that are not usable keys are skipped; InvalidArgument when none is.
StatusOr<std::vector<std::pair<std::string, crypto::PublicKey>>> parseJwksKeys(
    std::string_view text);

// `object` as indented "name: value" lines (members sorted, arrays as [i]), strings shortened by
// shortenForDisplay(); exp / nbf / iat integers get their RFC 3339 time appended.
std::string jsonToText(const json::ObjectPtr& object, int indent = 0);

}  // namespace skr::ctl
