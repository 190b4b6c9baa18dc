#include "common/crypto/random.h"

#include <openssl/rand.h>

#include <algorithm>
#include <climits>

#include "common/crypto/openssl_error.h"

namespace skr::crypto {

void fillRandom(std::span<uint8_t> out) {
  // RAND_bytes takes an int length: fill in chunks so any span size works.
  constexpr std::size_t kChunk = INT_MAX;
  std::size_t offset = 0;
  while (offset < out.size()) {
    const std::size_t n = std::min(kChunk, out.size() - offset);
    if (RAND_bytes(out.data() + offset, static_cast<int>(n)) != 1) {
      // Continuing without randomness is never safe.
      abortOnOpenSslFailure("RAND_bytes");
    }
    offset += n;
  }
}

Bytes randomBytes(std::size_t n) {
  Bytes out(n);
  fillRandom(out);
  return out;
}

SecretBytes randomSecret(std::size_t n) {
  SecretBytes out(n);
  fillRandom(out.mutableView(grantSecretAccess()));
  return out;
}

}  // namespace skr::crypto
