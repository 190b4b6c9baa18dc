// Takes the one secret member of a request body (the plaintext of wrapkey / encrypt, `value`) out
// of the JSON text before any general JSON parser sees it (DESIGN.md §10: secrets in locked,
// wiped memory). Poco's parser copies every string into ordinary heap buffers it frees without
// wiping; with the secret's content cut out first, what Poco parses holds no secret, and the
// secret itself goes from the (secret) request body straight into SecretBytes.
//
// The scan follows JSON's structure (strings with escapes, nesting) only far enough to find the
// top-level member: it does not validate the rest, which the caller parses from `redacted` and
// which fails there with the usual messages when malformed.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/core/secret_bytes.h"
#include "common/core/status.h"

namespace skr::agent {

struct SecretMemberSplit {
  // The body with the member's string content removed (`"value":""`); not secret.
  std::string redacted;
  // The member's string content, unescaped; nullopt when the member is absent at the top level
  // or its value is not a string (the caller's parser then reports that).
  std::optional<SecretBytes> value;
};

// InvalidArgument when the member appears twice at the top level, or its string holds an escape
// other than \/ \\ \" (base64 text needs none) or a control character; messages never quote
// the body. Bodies that are not JSON objects come back unchanged with no value.
StatusOr<SecretMemberSplit> splitSecretMember(const SecretBytes& body, std::string_view member);

}  // namespace skr::agent
