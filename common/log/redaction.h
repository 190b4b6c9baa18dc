// Makes peer text that may carry a secret safe to quote (STYLE.md "Secrets"; plain names use
// encoding/printable.h): error messages of IMDS, Entra ID, MAA and Key Vault end up in Status
// messages and log lines, and a peer may echo a token back. Quoted text is bounded, printable
// ASCII, and carries no JWT-looking run and none of the secrets the caller just sent.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace skr::log {

// Whether a run of base64url characters and dots looks like a compact JWS/JWT: it starts with
// "eyJ" (base64url of '{"') and has a dot, or it has at least two dot-separated parts of 16+
// characters.
bool looksLikeJwt(std::string_view run);

// `text` with every JWT-looking run (see looksLikeJwt) replaced by "<redacted token>".
std::string redactJwts(std::string_view text);

// `text` made safe to quote: each string in `secrets` (non-empty ones) replaced by "<redacted>",
// JWT-looking runs redacted, bytes outside printable ASCII turned into spaces, and cut to
// `max_chars` with "..." appended when longer. Only the first 16 KiB of `text` are looked at.
std::string quoteUntrusted(std::string_view text, std::size_t max_chars,
                           const std::vector<std::string>& secrets = {});

}  // namespace skr::log
