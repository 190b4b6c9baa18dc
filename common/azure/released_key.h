// Which key a release asks for, and what a verified release returns (DESIGN.md §3 "AKV release").
// Secrets touched: the released key material (SecretBytes inside ReleasedKey::key).
#pragma once

#include <string>

#include "common/azure/key_export_enc.h"
#include "common/jose/jwk.h"

namespace skr::azure {

// Which key to release. vault_url: "https://host[:port]" (no path, no trailing slash).
struct VaultKeyRef {
  std::string vault_url;
  std::string name;     // 1..127 of [0-9a-zA-Z-]
  std::string version;  // empty: the latest version
};

// A released, verified, unwrapped key.
struct ReleasedKey {
  jose::Jwk key;  // private RSA/EC key or oct key; kid = full kid with version, key_ops as released
  std::string kid;         // https://{host}/keys/{name}/{version}
  std::string version;     // the version part of kid
  std::string vault_host;  // host[:port] of the vault
  std::string kty;         // as on the wire: "RSA-HSM", "EC-HSM", "oct-HSM" (or without -HSM)
  KeyExportEnc enc = KeyExportEnc::RsaAesKeyWrap256;  // from the signed payload's request.enc
  int attempts = 0;                                   // HTTP attempts the release took
};

}  // namespace skr::azure
