// Shared helpers of the agent unit tests: test keys as KeyVersions, requests, response parsing.
#pragma once

#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/http_message.h"
#include "agent/key_version.h"
#include "common/crypto/pkey.h"
#include "common/crypto/random.h"
#include "common/encoding/base64.h"
#include "common/encoding/hex.h"
#include "common/jose/jwk.h"
#include "common/json/json.h"

namespace skr::agent::testing {

template <typename T>
T take(StatusOr<T> s) {
  INFO(s.status().toString());
  REQUIRE(s.ok());
  return std::move(s).value();
}

inline SecretBytes secretHex(std::string_view hex) {
  return take(encoding::hexDecodeSecret(hex));
}
inline Bytes hexBytes(std::string_view hex) {
  return take(encoding::hexDecode(hex));
}
inline std::string b64(ByteView bytes) {
  return encoding::base64UrlEncode(bytes);
}
inline std::string b64Hex(std::string_view hex) {
  return b64(hexBytes(hex));
}

inline std::string kidOf(std::string_view name, std::string_view version) {
  return "https://myvault.vault.azure.net/keys/" + std::string(name) + "/" + std::string(version);
}

inline KeyVersion versionOf(std::string name, std::string version, jose::Jwk jwk,
                            std::vector<std::string> key_ops = {}) {
  KeyVersion v;
  v.name = std::move(name);
  v.version = std::move(version);
  v.kid = kidOf(v.name, v.version);
  v.kty = jwk.type();
  v.key_ops = std::move(key_ops);
  jwk.setKid(v.kid);
  jwk.setKeyOps(v.key_ops);
  v.key = std::make_shared<const jose::Jwk>(std::move(jwk));
  return v;
}

// RSA generation is slow: one key per size per binary.
inline const crypto::PrivateKey& rsaPrivate2048() {
  static const crypto::PrivateKey key = take(crypto::PrivateKey::generateRsa(2048));
  return key;
}
inline const crypto::PrivateKey& rsaPrivate2048b() {
  static const crypto::PrivateKey key = take(crypto::PrivateKey::generateRsa(2048));
  return key;
}
inline jose::Jwk rsaJwk(const crypto::PrivateKey& key) {
  return jose::Jwk::fromPrivateKey(take(crypto::PrivateKey::fromPkcs8Der(key.toPkcs8Der())));
}
inline jose::Jwk octJwk(std::string_view hex) {
  return take(jose::Jwk::fromOctet(secretHex(hex)));
}
inline jose::Jwk octJwk(std::size_t bytes) {
  return take(jose::Jwk::fromOctet(crypto::randomSecret(bytes)));
}

inline HttpRequest request(std::string method, std::string path, std::string_view body = {},
                           uid_t uid = 1000, gid_t gid = 1000) {
  HttpRequest r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.headers.emplace_back("x-skr-request", "1");
  r.body = SecretBytes::copyOf(asBytes(body));
  r.peer.uid = uid;
  r.peer.gid = gid;
  r.peer.pid = 4242;
  return r;
}

inline std::string bodyText(const HttpResponse& r) {
  return toString(r.body.view(grantSecretAccess()));
}

inline json::ObjectPtr bodyJson(const HttpResponse& r) {
  INFO(bodyText(r));
  return take(json::parseObject(bodyText(r)));
}

inline std::string errorCode(const HttpResponse& r) {
  json::ObjectPtr o = bodyJson(r);
  json::ObjectPtr e = take(json::getObject(o, "error"));
  return take(json::getString(e, "code"));
}
inline std::string errorMessage(const HttpResponse& r) {
  json::ObjectPtr e = take(json::getObject(bodyJson(r), "error"));
  return take(json::getString(e, "message"));
}

inline std::string header(const HttpResponse& r, std::string_view name) {
  for (const auto& [n, v] : r.headers) {
    if (n == name) return v;
  }
  return {};
}

}  // namespace skr::agent::testing
