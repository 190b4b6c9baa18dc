#include "common/crypto/random.h"

#include <openssl/err.h>
#include <openssl/rand.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>

namespace skr::crypto {

void fillRandom(std::span<uint8_t> out) {
  // RAND_bytes takes an int length: fill in chunks so any span size works.
  constexpr std::size_t kChunk = INT_MAX;
  std::size_t offset = 0;
  while (offset < out.size()) {
    const std::size_t n = std::min(kChunk, out.size() - offset);
    if (RAND_bytes(out.data() + offset, static_cast<int>(n)) != 1) {
      char reason[256] = "no OpenSSL error";
      const unsigned long err = ERR_peek_last_error();
      if (err != 0) ERR_error_string_n(err, reason, sizeof(reason));
      std::fprintf(stderr,
                   "skr: fatal: RAND_bytes failed (%s); refusing to continue without "
                   "randomness\n",
                   reason);
      std::abort();
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
