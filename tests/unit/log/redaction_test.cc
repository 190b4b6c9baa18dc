#include "common/log/redaction.h"

#include <catch2/catch.hpp>
#include <string>

namespace skr::log {
namespace {

const std::string kJwt =
    "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJodHRwczovL3gifQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ";

TEST_CASE("looksLikeJwt recognises compact JWS and leaves ordinary words alone") {
  CHECK(looksLikeJwt(kJwt));
  CHECK(looksLikeJwt("aGVsbG8td29ybGQtaGVsbG8.d29ybGQtaGVsbG8td29ybGQ"));  // two long parts
  CHECK_FALSE(looksLikeJwt("eyJ"));
  CHECK_FALSE(looksLikeJwt("AKV.SKR.1004"));
  CHECK_FALSE(looksLikeJwt("x-ms-sevsnpvm-hostdata"));
  CHECK_FALSE(looksLikeJwt("0123456789abcdef0123456789abcdef"));  // one long part, no dot
}

TEST_CASE("quoteUntrusted removes tokens and sent secrets and bounds the text") {
  CHECK(quoteUntrusted("bad token " + kJwt + " here", 200) == "bad token <redacted token> here");
  CHECK(quoteUntrusted("echo: s3cr3t-value!", 200, {"s3cr3t-value"}) == "echo: <redacted>!");
  CHECK(quoteUntrusted("line1\nline2\x01\x7f", 200) == "line1 line2  ");
  CHECK(quoteUntrusted(std::string(50, 'a'), 10) == "aaaaaaaaaa...");
  CHECK(quoteUntrusted("", 10).empty());
  // A secret that appears twice, and an empty secret (ignored).
  CHECK(quoteUntrusted("k k", 100, {"k", ""}) == "<redacted> <redacted>");
  // A secret that occurs inside the replacement mark does not loop.
  CHECK(quoteUntrusted("e", 100, {"e"}) == "<redacted>");
  // Only the first 16 KiB are looked at: the rest is never copied out.
  const std::string huge = std::string(16 * 1024, 'x') + "TAIL";
  const std::string quoted = quoteUntrusted(huge, 1 << 20);
  CHECK(quoted.find("TAIL") == std::string::npos);
  CHECK(quoted.size() == 16 * 1024 + 3);
}

}  // namespace
}  // namespace skr::log
