// Envelope encryption through skr-agent in C++, with skr::AgentClient (client/agent_client.h) and
// OpenSSL 3 for the local AES-256-GCM.
//
// Run:  SKR_AGENT_SOCKET=/path/agent.sock [SKR_AGENT_TOKEN=...] [SKR_KEY=app-kek]
//       [SKR_READY_TIMEOUT=30] skr-client-cpp seal FILE TEXT | open FILE | rewrap FILE
// seal: a fresh 32-byte DEK, wrapped under the key by the agent (A256KW); TEXT encrypted locally
//       with AES-256-GCM under the DEK; FILE keeps the wrapped DEK, its kid, iv, tag, ciphertext.
// open: unwraps the DEK by the stored kid (that exact version), decrypts, prints the plaintext.
// rewrap: after a rotation, moves the wrapped DEK to the primary version and stores the new kid.
// AgentClient waits for readiness, retries 503/429 honouring Retry-After (5 attempts) and turns
// other answers into a Status naming the HTTP status and AKV code. The DEK lives in SecretBytes
// (locked, wiped) from the agent's answer to the cipher.
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

#include "client/agent_client.h"
#include "common/encoding/base64.h"
#include "common/encoding/json_writer.h"
#include "common/json/json.h"

namespace {

using skr::Bytes;
using skr::SecretBytes;
using skr::Status;
using skr::StatusOr;

constexpr const char* kAlg = "A256KW";  // RSA-OAEP-256 for an RSA key

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

struct Sealed {
  Bytes iv, tag, ciphertext;
};

// AES-256-GCM with a 96-bit random IV and a 128-bit tag.
StatusOr<Sealed> gcmSeal(const SecretBytes& dek, std::string_view text) {
  Sealed out{Bytes(12), Bytes(16), Bytes(text.size())};
  if (RAND_bytes(out.iv.data(), 12) != 1) return skr::internalError("RAND_bytes failed");
  const CipherCtx owner(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  EVP_CIPHER_CTX* ctx = owner.get();
  int n = 0;
  const bool ok =
      ctx != nullptr &&
      EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, dek.view(skr::grantSecretAccess()).data(),
                         out.iv.data()) == 1 &&
      EVP_EncryptUpdate(ctx, out.ciphertext.data(), &n,
                        reinterpret_cast<const unsigned char*>(text.data()),
                        static_cast<int>(text.size())) == 1 &&
      EVP_EncryptFinal_ex(ctx, out.ciphertext.data() + n, &n) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, out.tag.data()) == 1;
  if (!ok) return skr::internalError("AES-256-GCM encryption failed");
  return out;
}

StatusOr<std::string> gcmOpen(const SecretBytes& dek, Sealed sealed) {
  std::string plain(sealed.ciphertext.size(), '\0');
  const CipherCtx owner(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  EVP_CIPHER_CTX* ctx = owner.get();
  int n = 0;
  const bool ok =
      ctx != nullptr && sealed.iv.size() == 12 && sealed.tag.size() == 16 &&
      EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, dek.view(skr::grantSecretAccess()).data(),
                         sealed.iv.data()) == 1 &&
      EVP_DecryptUpdate(ctx, reinterpret_cast<unsigned char*>(plain.data()), &n,
                        sealed.ciphertext.data(),
                        static_cast<int>(sealed.ciphertext.size())) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, sealed.tag.data()) == 1 &&
      EVP_DecryptFinal_ex(ctx, reinterpret_cast<unsigned char*>(plain.data()) + n, &n) == 1;
  if (!ok) return skr::dataLossError("the data does not decrypt under this DEK (tampered?)");
  return plain;
}

// The envelope file: {"kid","alg","wrapped_dek","iv","tag","ciphertext"}, binary as base64url.
Status writeEnvelope(const std::string& file, const skr::KeyResult& wrapped, const Sealed& s) {
  using skr::encoding::base64UrlEncode;
  std::ofstream out(file, std::ios::trunc);
  out << skr::json::Writer()
             .beginObject()
             .member("kid", wrapped.kid)
             .member("alg", kAlg)
             .member("wrapped_dek", base64UrlEncode(wrapped.value))
             .member("iv", base64UrlEncode(s.iv))
             .member("tag", base64UrlEncode(s.tag))
             .member("ciphertext", base64UrlEncode(s.ciphertext))
             .endObject()
             .take();
  return out.flush() ? skr::okStatus() : skr::unavailableError("cannot write " + file);
}

struct Envelope {
  skr::KeyResult wrapped;
  Sealed sealed;
};
StatusOr<Envelope> readEnvelope(const std::string& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) return skr::notFoundError("cannot read " + file);
  SKR_ASSIGN_OR_RETURN(skr::json::ObjectPtr o, skr::json::parseObject(text.str()));
  const auto bytes = [&](const char* name) -> StatusOr<Bytes> {
    SKR_ASSIGN_OR_RETURN(std::string b64, skr::json::getString(o, name));
    return skr::encoding::base64UrlDecode(b64);
  };
  Envelope e;
  SKR_ASSIGN_OR_RETURN(e.wrapped.kid, skr::json::getString(o, "kid"));
  SKR_ASSIGN_OR_RETURN(e.wrapped.value, bytes("wrapped_dek"));
  SKR_ASSIGN_OR_RETURN(e.sealed.iv, bytes("iv"));
  SKR_ASSIGN_OR_RETURN(e.sealed.tag, bytes("tag"));
  SKR_ASSIGN_OR_RETURN(e.sealed.ciphertext, bytes("ciphertext"));
  return e;
}

Status run(skr::AgentClient& agent, const std::string& key, const std::string& command,
           const std::string& file, const std::string& text) {
  if (command == "seal") {
    SecretBytes dek(32);
    if (RAND_bytes(dek.mutableView(skr::grantSecretAccess()).data(), 32) != 1) {
      return skr::internalError("RAND_bytes failed");
    }
    SKR_ASSIGN_OR_RETURN(skr::KeyResult wrapped, agent.wrapKey(key, kAlg, dek));
    SKR_ASSIGN_OR_RETURN(Sealed sealed, gcmSeal(dek, text));
    SKR_RETURN_IF_ERROR(writeEnvelope(file, wrapped, sealed));
    std::cout << "sealed under " << wrapped.kid << "\n";
    return skr::okStatus();
  }
  SKR_ASSIGN_OR_RETURN(Envelope e, readEnvelope(file));
  if (command == "open") {  // at start-up: the stored kid names the version that wrapped the DEK
    SKR_ASSIGN_OR_RETURN(SecretBytes dek, agent.unwrapKey(e.wrapped.kid, kAlg, e.wrapped.value));
    SKR_ASSIGN_OR_RETURN(std::string plain, gcmOpen(dek, e.sealed));
    std::cout << "plaintext: " << plain << "\n";
    return skr::okStatus();
  }
  SKR_ASSIGN_OR_RETURN(skr::KeyResult moved,
                       agent.rewrap(key, e.wrapped.kid, kAlg, e.wrapped.value));
  SKR_RETURN_IF_ERROR(writeEnvelope(file, moved, e.sealed));
  std::cout << "rewrapped: " << e.wrapped.kid << " -> " << moved.kid << "\n";
  return skr::okStatus();
}

}  // namespace

int main(int argc, char** argv) {
  const std::string command = argc > 1 ? argv[1] : "";
  const int arity = command == "seal" ? 4 : (command == "open" || command == "rewrap") ? 3 : 0;
  StatusOr<skr::AgentClient> agent = skr::AgentClient::fromEnvironment();
  if (!agent.ok() || argc != arity) {
    std::cerr << "usage: SKR_AGENT_SOCKET=PATH skr-client-cpp seal FILE TEXT | open FILE | "
                 "rewrap FILE\n";
    return 2;
  }
  const char* key = std::getenv("SKR_KEY");
  const char* ready = std::getenv("SKR_READY_TIMEOUT");
  const int ready_seconds = ready != nullptr ? std::atoi(ready) : 30;
  Status status =
      agent->waitUntilReady(std::chrono::seconds(ready_seconds > 0 ? ready_seconds : 30));
  if (status.ok()) {
    status = run(*agent, key != nullptr && *key != '\0' ? key : "app-kek", command, argv[2],
                 arity == 4 ? argv[3] : "");
  }
  if (!status.ok()) {
    std::cerr << status.message() << "\n";
    return 1;
  }
  return 0;
}
