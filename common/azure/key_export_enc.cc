#include "common/azure/key_export_enc.h"

#include <string>

#include "common/log/redaction.h"

namespace skr::azure {

std::string_view keyExportEncName(KeyExportEnc enc) {
  switch (enc) {
    case KeyExportEnc::CkmRsaAesKeyWrap: return "CKM_RSA_AES_KEY_WRAP";
    case KeyExportEnc::RsaAesKeyWrap256: return "RSA_AES_KEY_WRAP_256";
    case KeyExportEnc::RsaAesKeyWrap384: return "RSA_AES_KEY_WRAP_384";
  }
  return "CKM_RSA_AES_KEY_WRAP";
}

StatusOr<KeyExportEnc> parseKeyExportEnc(std::string_view name) {
  for (KeyExportEnc enc : {KeyExportEnc::CkmRsaAesKeyWrap, KeyExportEnc::RsaAesKeyWrap256,
                           KeyExportEnc::RsaAesKeyWrap384}) {
    if (name == keyExportEncName(enc)) return enc;
  }
  return invalidArgumentError("'" + log::quoteUntrusted(name, 48) +
                              "' is not a key export algorithm (accepted: CKM_RSA_AES_KEY_WRAP, "
                              "RSA_AES_KEY_WRAP_256, RSA_AES_KEY_WRAP_384)");
}

crypto::HashAlg oaepHashFor(KeyExportEnc enc) {
  switch (enc) {
    case KeyExportEnc::CkmRsaAesKeyWrap: return crypto::HashAlg::Sha1;
    case KeyExportEnc::RsaAesKeyWrap256: return crypto::HashAlg::Sha256;
    case KeyExportEnc::RsaAesKeyWrap384: return crypto::HashAlg::Sha384;
  }
  return crypto::HashAlg::Sha1;
}

}  // namespace skr::azure
