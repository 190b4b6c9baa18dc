// KeyReleaseParameters.enc (spec/azure-wire.md §2.1, §2.4): how Key Vault wraps a released key.
// A header of its own so configuration (common/config) can name the algorithm without pulling in
// the Key Vault client and its HTTP, JOSE and X.509 dependencies.
#pragma once

#include <string_view>

#include "common/core/status.h"
#include "common/crypto/digest.h"

namespace skr::azure {

enum class KeyExportEnc { CkmRsaAesKeyWrap, RsaAesKeyWrap256, RsaAesKeyWrap384 };
// "CKM_RSA_AES_KEY_WRAP", "RSA_AES_KEY_WRAP_256", "RSA_AES_KEY_WRAP_384".
std::string_view keyExportEncName(KeyExportEnc enc);
// The inverse; InvalidArgument listing the accepted names.
StatusOr<KeyExportEnc> parseKeyExportEnc(std::string_view name);
// CKM_RSA_AES_KEY_WRAP uses SHA-1 OAEP (and MGF1); the _256 / _384 variants SHA-256 / SHA-384.
crypto::HashAlg oaepHashFor(KeyExportEnc enc);

}  // namespace skr::azure
