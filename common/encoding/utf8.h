// Checking that untrusted text is UTF-8 (implemented with the JSON string escaper, which reads
// the same sequences).
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace skr::json {

// nullopt when `value` is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, at most
// U+10FFFF); otherwise the offset of the first byte that starts no well-formed sequence.
std::optional<std::size_t> firstNonUtf8Byte(std::string_view value);

}  // namespace skr::json
