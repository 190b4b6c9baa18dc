// One released version of a key as the agent holds it (DESIGN.md §5, §6): the private (RSA/EC) or
// symmetric (oct) JWK opened from its sealed bundle, plus the bundle's non-secret metadata.
// Immutable once built and shared between readers (std::shared_ptr<const KeyVersion>).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/rfc3339.h"
#include "common/jose/jwk.h"

namespace skr::agent {

struct KeyVersion {
  std::string name;     // key name, e.g. "data-kek"
  std::string version;  // last path segment of kid
  std::string kid;      // https://{vault}/keys/{name}/{version}, as in the bundle
  jose::JwkType kty = jose::JwkType::Rsa;
  std::vector<std::string> key_ops;  // AKV names: "wrapKey", "unwrapKey", "encrypt", "decrypt"...
  SystemTime released_at;
  bool emulated = false;
  // Holds secret material (private members or k); never serialized except by publicJson().
  std::shared_ptr<const jose::Jwk> key;
};

// The version of a kid "https://host/keys/{name}/{version}" (its last path segment) and the name;
// InvalidArgument when the kid does not have that shape.
struct KidParts {
  std::string name;
  std::string version;
};
StatusOr<KidParts> parseKid(std::string_view kid);

}  // namespace skr::agent
