// How a release policy shows policy and token values in its errors and reasons (spec/azure-wire.md
// §3.2): JSON literals, long values shortened to head…tail on code point boundaries. Internal to
// common/azure/release_policy*.cc.
#pragma once

#include <string>
#include <string_view>

#include "common/azure/policy_value.h"

namespace skr::azure::policy {

// Whether `c` continues a UTF-8 sequence (10xxxxxx).
bool isContinuationByte(char c);

// A string value as a JSON literal ("..."), shortened, control characters escaped.
std::string quoted(std::string_view s);

// A name (member, claim, authority, issuer) as a JSON literal, shortened only when very long.
std::string quotedName(std::string_view s);

// As quotedName() without the surrounding quotes: for claim names and authorities written inside
// single quotes or bare.
std::string escaped(std::string_view s);

// A policy or claim scalar as shown in reasons: strings quoted, numbers and booleans bare.
std::string display(const Scalar& scalar);

}  // namespace skr::azure::policy
