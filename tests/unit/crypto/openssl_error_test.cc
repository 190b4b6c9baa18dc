#include "common/crypto/openssl_error.h"

#include <openssl/err.h>
#include <openssl/evp.h>

#include <catch2/catch.hpp>

namespace skr::crypto {
namespace {

// Queues one error the way a failing OpenSSL call does.
void queueError(int reason) {
  ERR_raise(ERR_LIB_EVP, reason);
}

TEST_CASE("takeOpenSslErrors says so when nothing is queued") {
  ERR_clear_error();
  CHECK(takeOpenSslErrors() == "no OpenSSL error reported");
}

TEST_CASE("takeOpenSslErrors joins the queued reasons oldest first and empties the queue") {
  ERR_clear_error();
  queueError(EVP_R_BAD_DECRYPT);
  queueError(EVP_R_INVALID_KEY_LENGTH);
  CHECK(takeOpenSslErrors() == "bad decrypt; invalid key length");
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("takeOpenSslErrors keeps at most three reasons but drains them all") {
  ERR_clear_error();
  for (int i = 0; i < 5; ++i) queueError(EVP_R_BAD_DECRYPT);
  CHECK(takeOpenSslErrors() == "bad decrypt; bad decrypt; bad decrypt");
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("openSslInternalError is Internal with the call and the queued reason") {
  ERR_clear_error();
  queueError(EVP_R_BAD_DECRYPT);
  const Status status = openSslInternalError("EVP_DecryptFinal_ex");
  CHECK(status.code() == StatusCode::Internal);
  CHECK(status.message() == "EVP_DecryptFinal_ex: bad decrypt");
  CHECK(ERR_peek_error() == 0);
}

}  // namespace
}  // namespace skr::crypto
