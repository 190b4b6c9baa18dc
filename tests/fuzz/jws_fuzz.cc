// Fuzz target: compact JWS parsing, header/x5c decoding and verification with fixed keys.
// Property: nothing crashes, and nothing the fuzzer makes verifies under a key it cannot know.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/crypto/pkey.h"
#include "common/jose/jws.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const skr::crypto::PrivateKey rsa = *skr::crypto::PrivateKey::generateRsa(2048);
  static const skr::crypto::PrivateKey ec =
      *skr::crypto::PrivateKey::generateEc(skr::crypto::Curve::P256);
  const std::string_view text(reinterpret_cast<const char*>(data), size);  // NOLINT
  skr::StatusOr<skr::jose::Jws> jws = skr::jose::Jws::parse(text);
  if (!jws.ok()) return 0;
  (void)jws->kid();
  (void)jws->payloadJson();
  (void)jws->x5c();
  if (jws->verify(rsa.publicKey()).ok() || jws->verify(ec.publicKey()).ok()) std::abort();
  return 0;
}
