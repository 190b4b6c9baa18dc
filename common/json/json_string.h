// JSON string escaping shared by the canonical serializer and the logger (no Poco dependency).
#pragma once

#include <string>
#include <string_view>

namespace skr::json {

// Appends `value` as a JSON string literal (with quotes) to `out`. Escapes '"', '\\' and control
// characters (short forms \b \f \n \r \t, otherwise \u00XX); other bytes, including UTF-8, are
// copied unchanged, as RFC 8785 and RFC 7638 require.
void appendQuoted(std::string& out, std::string_view value);

}  // namespace skr::json
