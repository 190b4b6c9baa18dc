// The one way to put untrusted text into a message: bounded, printable ASCII only. Text that may
// carry a peer's token or a secret the caller sent goes through log::quoteUntrusted instead, which
// also redacts (common/log/redaction.h).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace skr::encoding {

// At most `max_bytes` bytes of `untrusted`, each byte outside printable ASCII (0x20..0x7e) shown
// as '?', with "..." appended when it was cut.
std::string printable(std::string_view untrusted, std::size_t max_bytes);

// printable() between two `quote_mark`s; a quote mark inside is shown as '?' too, so the quoted
// text cannot seem to end early.
std::string quoted(std::string_view untrusted, std::size_t max_bytes, char quote_mark = '\'');

}  // namespace skr::encoding
