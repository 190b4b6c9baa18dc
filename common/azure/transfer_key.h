// The transfer key and the runtime data that carries it to MAA (DESIGN.md §3 "runtime data",
// "REPORT_DATA"): AKV wraps the released key to this RSA key, which MAA binds into its token.
// Secrets touched: the transfer private key.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/core/status.h"
#include "common/crypto/pkey.h"
#include "common/jose/jwk.h"

namespace skr::azure {

// A fresh RSA key pair whose public half goes to MAA in the runtime data (DESIGN.md §3).
struct TransferKey {
  crypto::PrivateKey private_key;
  jose::Jwk public_jwk;  // kty RSA, n, e, kid = RFC 7638 thumbprint, key_ops ["encrypt"]

  // bits: 2048 (default) or 3072 (4096 accepted).
  static StatusOr<TransferKey> generate(int bits = 2048);
  // Wraps an existing private key (a pending bundle's transfer key).
  static StatusOr<TransferKey> fromPrivateKey(crypto::PrivateKey key);
};

// The runtime data bytes: {"keys":[{"e":..,"key_ops":["encrypt"],"kid":..,"kty":"RSA","n":..}]}
// — canonical JSON (members sorted, no whitespace), exactly what is hashed into REPORT_DATA.
std::string runtimeDataJson(const jose::Jwk& transfer_public);
// REPORT_DATA = SHA-256(runtime data) || 32 zero bytes.
std::array<uint8_t, 64> reportDataFor(std::string_view runtime_data);

}  // namespace skr::azure
