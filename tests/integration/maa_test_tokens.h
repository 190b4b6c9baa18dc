// MAA tokens minted by the integration tests with the emulated MAA instances' persisted signing
// keys (DIR/signing/{maa}_key.pem), the keys the emulated MAA itself signs with, so a test can vary
// each claim; and the ACI release policy in its wire form. Shared by emulator_release_test.cc and
// key_vault_client_test.cc.
#pragma once

#include <cstdint>
#include <string>

#include "common/crypto/pkey.h"
#include "common/json/json.h"
#include "tests/integration/emulator_process.h"

namespace skr::testing {

// The host data the tests' release policies require (and aciMaaClaims puts in tokens by default).
inline const std::string kTestHostData =
    "532eaabd9574880dbf76b9b8cc00832c20a6ec113d682299550d7a6e0f345e25";

int64_t unixNow();

// An RSA-2048 transfer key, generated once per test binary.
const crypto::PrivateKey& testTransferKey();

// The signing key of MAA instance `maa` ("maa", "maa2") from the emulator's state directory.
crypto::PrivateKey maaSigningKey(const EmulatorProcess& emu, const std::string& maa = "maa");

// The runtime data of an ACI UVM: {"keys": [testTransferKey() as a public JWK, kid "transfer",
// key_ops ["encrypt"]]}.
json::ObjectPtr testRuntimeJwks();

// The claims an emulated MAA would issue for an ACI UVM (azure-wire.md §1.5): issuer `maa`, valid
// from a minute ago for 8 hours, the given host data, x-ms-runtime holding testTransferKey().
json::ObjectPtr aciMaaClaims(const EmulatorProcess& emu,
                             const std::string& host_data = kTestHostData,
                             const std::string& maa = "maa");

// `claims` as a JWT signed RS256 with `signer` (default: MAA instance `maa`'s key), kid = that
// instance's key thumbprint, jku = its /certs.
std::string signMaaToken(const EmulatorProcess& emu, const json::ObjectPtr& claims,
                         const std::string& maa = "maa",
                         const crypto::PrivateKey* signer = nullptr);

// The ACI release policy for `authority` and `host_data` as the create/import body wants it:
// {"contentType": ..., "data": base64url(policy)}.
std::string aciReleasePolicyWire(const std::string& authority,
                                 const std::string& host_data = kTestHostData,
                                 bool require_uvm = true);

}  // namespace skr::testing
