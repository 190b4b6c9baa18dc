#include "common/crypto/openssl_error.h"

#include <openssl/err.h>

#include <cstdio>
#include <cstdlib>

namespace skr::crypto {

std::string takeOpenSslErrors() {
  constexpr int kMaxReasons = 3;
  std::string out;
  int count = 0;
  for (unsigned long e = ERR_get_error(); e != 0; e = ERR_get_error()) {
    if (++count > kMaxReasons) continue;
    const char* reason = ERR_reason_error_string(e);
    if (!out.empty()) out += "; ";
    out += reason != nullptr ? reason : "OpenSSL error " + std::to_string(ERR_GET_REASON(e));
  }
  return out.empty() ? std::string("no OpenSSL error reported") : out;
}

Status openSslInternalError(std::string_view what) {
  return internalError(std::string(what) + ": " + takeOpenSslErrors());
}

void abortOnOpenSslFailure(std::string_view what) {
  const std::string reasons = takeOpenSslErrors();
  std::fprintf(stderr, "skr: fatal: %.*s failed: %s\n", static_cast<int>(what.size()), what.data(),
               reasons.c_str());
  std::abort();
}

}  // namespace skr::crypto
