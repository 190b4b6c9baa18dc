// JSON string escaping shared by the canonical serializer, json::Writer and the secret writers (no
// Poco dependency).
#pragma once

#include <string>
#include <string_view>

#include "common/core/secret_bytes.h"

namespace skr::json {

// Appends `value` as a JSON string literal (with quotes) to `out`. Escapes '"', '\\' and control
// characters (short forms \b \f \n \r \t, otherwise \u00XX); well-formed UTF-8 is copied
// unchanged, as RFC 8785 and RFC 7638 require. A byte that is not part of well-formed UTF-8 is
// written as \u00XX (its Latin-1 reading), so the output is always valid JSON.
void appendQuoted(std::string& out, std::string_view value);
// The same, written into secret storage without an intermediate std::string (a private JWK, a
// bearer token in a request body).
void appendQuoted(SecretBytes& out, std::string_view value);
// As appendQuoted, and also escapes (\uXXXX) DEL, C1 controls, U+2028/9 and the bidirectional
// formatting characters (U+200E/F, U+202A..E, U+2066..9): for log lines, where such characters
// could hide or reorder what an operator reads.
void appendQuotedPrintable(std::string& out, std::string_view value);
// True when `value` is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, at most
// U+10FFFF) with none of the characters appendQuotedPrintable escapes above U+007F (C1 controls,
// U+2028/9, bidirectional formatting): text a caller cannot use to hide or reorder a log line.
bool isReadableUtf8(std::string_view value);

}  // namespace skr::json
