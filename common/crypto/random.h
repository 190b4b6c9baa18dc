// Cryptographically secure randomness (RAND_bytes from OpenSSL's DRBG, seeded by getrandom()).
// A failing DRBG aborts the process: continuing without randomness is never safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "common/core/bytes.h"
#include "common/core/secret_bytes.h"

namespace skr::crypto {

void fillRandom(std::span<uint8_t> out);
Bytes randomBytes(std::size_t n);         // nonces, IVs, identifiers
SecretBytes randomSecret(std::size_t n);  // keys

}  // namespace skr::crypto
