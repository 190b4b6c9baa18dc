#include "agent/key_operations.h"

#include <algorithm>
#include <array>
#include <string>

#include "common/crypto/aes_gcm.h"
#include "common/crypto/aes_key_wrap.h"
#include "common/crypto/rsa_oaep.h"
#include "common/encoding/printable.h"

namespace skr::agent {
namespace {

constexpr std::array<KeyAlgorithm, 7> kAllAlgorithms = {
    KeyAlgorithm::RsaOaep, KeyAlgorithm::RsaOaep256, KeyAlgorithm::A128Kw, KeyAlgorithm::A192Kw,
    KeyAlgorithm::A256Kw,  KeyAlgorithm::A256KwPad,  KeyAlgorithm::A256Gcm};

bool isRsa(KeyAlgorithm alg) {
  return alg == KeyAlgorithm::RsaOaep || alg == KeyAlgorithm::RsaOaep256;
}

// Key size in bytes an oct algorithm needs.
std::size_t octKeySize(KeyAlgorithm alg) {
  switch (alg) {
    case KeyAlgorithm::A128Kw: return 16;
    case KeyAlgorithm::A192Kw: return 24;
    default: return 32;
  }
}

// AKV "RSA-OAEP" is SHA-1 OAEP (with MGF1-SHA-1); "RSA-OAEP-256" SHA-256 for both.
crypto::HashAlg oaepHash(KeyAlgorithm alg) {
  return alg == KeyAlgorithm::RsaOaep ? crypto::HashAlg::Sha1 : crypto::HashAlg::Sha256;
}

std::string where(const KeyVersion& key) {
  return "key '" + key.name + "' version '" + key.version + "'";
}

StatusOr<const SecretBytes*> octKey(const KeyVersion& key) {
  return key.key->octet();
}

}  // namespace

std::string_view keyOperationName(KeyOperation op) {
  switch (op) {
    case KeyOperation::WrapKey: return "wrapKey";
    case KeyOperation::UnwrapKey: return "unwrapKey";
    case KeyOperation::Encrypt: return "encrypt";
    case KeyOperation::Decrypt: return "decrypt";
  }
  return "?";
}

std::string_view keyAlgorithmName(KeyAlgorithm alg) {
  switch (alg) {
    case KeyAlgorithm::RsaOaep: return "RSA-OAEP";
    case KeyAlgorithm::RsaOaep256: return "RSA-OAEP-256";
    case KeyAlgorithm::A128Kw: return "A128KW";
    case KeyAlgorithm::A192Kw: return "A192KW";
    case KeyAlgorithm::A256Kw: return "A256KW";
    case KeyAlgorithm::A256KwPad: return "A256KWPAD";
    case KeyAlgorithm::A256Gcm: return "A256GCM";
  }
  return "?";
}

StatusOr<KeyAlgorithm> parseKeyAlgorithm(std::string_view name) {
  std::string accepted;
  for (KeyAlgorithm alg : kAllAlgorithms) {
    if (keyAlgorithmName(alg) == name) return alg;
    if (!accepted.empty()) accepted += ", ";
    accepted += keyAlgorithmName(alg);
  }
  return invalidArgumentError("unsupported algorithm " + encoding::quoted(name, 32) +
                              "; supported: " + accepted);
}

Status checkOperation(const KeyVersion& key, KeyOperation op, KeyAlgorithm alg) {
  const std::string_view op_name = keyOperationName(op);
  if (!key.key_ops.empty() &&
      std::find(key.key_ops.begin(), key.key_ops.end(), op_name) == key.key_ops.end()) {
    return permissionDeniedError("Operation " + std::string(op_name) + " is not permitted on " +
                                 where(key));
  }
  const bool wrap_op = op == KeyOperation::WrapKey || op == KeyOperation::UnwrapKey;
  if (wrap_op && alg == KeyAlgorithm::A256Gcm) {
    return invalidArgumentError("algorithm A256GCM is for encrypt/decrypt, not " +
                                std::string(op_name) + "; use A256KW or A256KWPAD");
  }
  if (!wrap_op && !isRsa(alg) && alg != KeyAlgorithm::A256Gcm) {
    return invalidArgumentError("algorithm " + std::string(keyAlgorithmName(alg)) + " is for " +
                                "wrapKey/unwrapKey, not " + std::string(op_name) +
                                "; use A256GCM, RSA-OAEP or RSA-OAEP-256");
  }
  switch (key.kty) {
    case jose::JwkType::Ec:
      return invalidArgumentError(where(key) + " is an EC key: " + std::string(op_name) +
                                  " is not supported for EC keys");
    case jose::JwkType::Rsa:
      if (!isRsa(alg)) {
        return invalidArgumentError("algorithm " + std::string(keyAlgorithmName(alg)) +
                                    " needs an oct key, but " + where(key) + " is RSA");
      }
      return okStatus();
    case jose::JwkType::Oct: {
      if (isRsa(alg)) {
        return invalidArgumentError("algorithm " + std::string(keyAlgorithmName(alg)) +
                                    " needs an RSA key, but " + where(key) + " is oct");
      }
      SKR_ASSIGN_OR_RETURN(const SecretBytes* k, octKey(key));
      if (k->size() != octKeySize(alg)) {
        return invalidArgumentError("algorithm " + std::string(keyAlgorithmName(alg)) +
                                    " needs a " + std::to_string(octKeySize(alg) * 8) +
                                    "-bit key, but " + where(key) + " is " +
                                    std::to_string(k->size() * 8) + "-bit");
      }
      return okStatus();
    }
  }
  return internalError("unknown key type");
}

StatusOr<Bytes> wrapKey(const KeyVersion& key, KeyAlgorithm alg, const SecretBytes& plaintext_key) {
  SKR_RETURN_IF_ERROR(checkOperation(key, KeyOperation::WrapKey, alg));
  if (plaintext_key.empty()) return invalidArgumentError("wrapKey: the key to wrap is empty");
  if (isRsa(alg)) {
    SKR_ASSIGN_OR_RETURN(const crypto::PublicKey* pub, key.key->publicKey());
    return crypto::rsaOaepEncrypt(*pub, oaepHash(alg), plaintext_key.view(grantSecretAccess()));
  }
  SKR_ASSIGN_OR_RETURN(const SecretBytes* kek, octKey(key));
  if (alg == KeyAlgorithm::A256KwPad) return crypto::aesKeyWrapPad(*kek, plaintext_key);
  if (plaintext_key.size() % 8 != 0 || plaintext_key.size() < 16) {
    return invalidArgumentError(std::string(keyAlgorithmName(alg)) + ": the key to wrap is " +
                                std::to_string(plaintext_key.size()) +
                                " bytes, expected a multiple of 8 and >= 16 (use A256KWPAD for "
                                "other sizes)");
  }
  return crypto::aesKeyWrap(*kek, plaintext_key);
}

StatusOr<SecretBytes> unwrapKey(const KeyVersion& key, KeyAlgorithm alg, ByteView wrapped) {
  SKR_RETURN_IF_ERROR(checkOperation(key, KeyOperation::UnwrapKey, alg));
  if (isRsa(alg)) {
    SKR_ASSIGN_OR_RETURN(const crypto::PrivateKey* priv, key.key->privateKey());
    const std::size_t modulus = static_cast<std::size_t>((priv->bits() + 7) / 8);
    if (wrapped.size() != modulus) {
      return invalidArgumentError(std::string(keyAlgorithmName(alg)) + ": value is " +
                                  std::to_string(wrapped.size()) + " bytes, expected " +
                                  std::to_string(modulus) + " (the modulus size)");
    }
    return crypto::rsaOaepDecrypt(*priv, oaepHash(alg), wrapped);
  }
  SKR_ASSIGN_OR_RETURN(const SecretBytes* kek, octKey(key));
  if (wrapped.size() % 8 != 0 || wrapped.size() < 16) {
    return invalidArgumentError(std::string(keyAlgorithmName(alg)) + ": value is " +
                                std::to_string(wrapped.size()) +
                                " bytes, expected a multiple of 8 and >= 16");
  }
  if (alg == KeyAlgorithm::A256KwPad) return crypto::aesKeyUnwrapPad(*kek, wrapped);
  if (wrapped.size() < 24) {
    return invalidArgumentError(std::string(keyAlgorithmName(alg)) + ": value is " +
                                std::to_string(wrapped.size()) + " bytes, expected >= 24");
  }
  return crypto::aesKeyUnwrap(*kek, wrapped);
}

StatusOr<EncryptResult> encrypt(const KeyVersion& key, KeyAlgorithm alg,
                                const SecretBytes& plaintext, ByteView aad) {
  SKR_RETURN_IF_ERROR(checkOperation(key, KeyOperation::Encrypt, alg));
  EncryptResult out;
  if (isRsa(alg)) {
    if (!aad.empty()) return invalidArgumentError("aad is only supported with A256GCM");
    if (plaintext.empty()) return invalidArgumentError("encrypt: value is empty");
    SKR_ASSIGN_OR_RETURN(const crypto::PublicKey* pub, key.key->publicKey());
    SKR_ASSIGN_OR_RETURN(
        out.ciphertext,
        crypto::rsaOaepEncrypt(*pub, oaepHash(alg), plaintext.view(grantSecretAccess())));
    return out;
  }
  SKR_ASSIGN_OR_RETURN(const SecretBytes* k, octKey(key));
  SKR_ASSIGN_OR_RETURN(crypto::GcmSealed sealed,
                       crypto::aesGcmEncrypt(*k, plaintext.view(grantSecretAccess()), aad));
  out.ciphertext = std::move(sealed.ciphertext);
  out.iv = std::move(sealed.iv);
  out.tag = std::move(sealed.tag);
  return out;
}

StatusOr<SecretBytes> decrypt(const KeyVersion& key, KeyAlgorithm alg, ByteView ciphertext,
                              ByteView iv, ByteView tag, ByteView aad) {
  SKR_RETURN_IF_ERROR(checkOperation(key, KeyOperation::Decrypt, alg));
  if (isRsa(alg)) {
    if (!iv.empty() || !tag.empty() || !aad.empty()) {
      return invalidArgumentError("iv, tag and aad are only supported with A256GCM");
    }
    SKR_ASSIGN_OR_RETURN(const crypto::PrivateKey* priv, key.key->privateKey());
    const std::size_t modulus = static_cast<std::size_t>((priv->bits() + 7) / 8);
    if (ciphertext.size() != modulus) {
      return invalidArgumentError(std::string(keyAlgorithmName(alg)) + ": value is " +
                                  std::to_string(ciphertext.size()) + " bytes, expected " +
                                  std::to_string(modulus) + " (the modulus size)");
    }
    return crypto::rsaOaepDecrypt(*priv, oaepHash(alg), ciphertext);
  }
  if (iv.size() != crypto::kGcmIvSize) {
    return invalidArgumentError("A256GCM: iv is " + std::to_string(iv.size()) +
                                " bytes, expected 12");
  }
  if (tag.size() != crypto::kGcmTagSize) {
    return invalidArgumentError("A256GCM: tag is " + std::to_string(tag.size()) +
                                " bytes, expected 16");
  }
  SKR_ASSIGN_OR_RETURN(const SecretBytes* k, octKey(key));
  return crypto::aesGcmDecrypt(*k, iv, ciphertext, tag, aad);
}

}  // namespace skr::agent
