// Fuzz target: JWK parsing (public and private). Property: a key that parses re-serializes, and the
// re-serialized form parses to a key with the same thumbprint.
#include <cstdint>
#include <cstdlib>

#include "common/core/secret_bytes.h"
#include "common/jose/jwk.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using skr::grantSecretAccess;
  skr::StatusOr<skr::jose::Jwk> jwk =
      skr::jose::Jwk::parseSecret(skr::SecretBytes::copyOf(skr::ByteView(data, size)));
  if (!jwk.ok()) return 0;
  skr::StatusOr<skr::SecretBytes> again = jwk->privateJson(grantSecretAccess());
  if (!again.ok()) std::abort();
  skr::StatusOr<skr::jose::Jwk> reparsed = skr::jose::Jwk::parseSecret(*again);
  if (!reparsed.ok() || reparsed->thumbprint() != jwk->thumbprint()) std::abort();
  return 0;
}
