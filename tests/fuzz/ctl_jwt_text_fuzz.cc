// Fuzz target for skrctl's readers of captured artifacts (ctl/jwt_text.h): the unverified JWT
// decoder, the JWKS key reader and the text display. Properties:
//  - decodeUnverifiedJwt() succeeds only with a header and claims object and a three-part compact
//    form that compactJwsOf() also finds;
//  - parseJwksKeys() succeeds only with at least one key;
//  - jsonToText() and shortenForDisplay() print only printable ASCII, newlines and the '…' mark.
// A violated property traps, so libFuzzer (and the corpus replay) reports it as a crash.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "ctl/jwt_text.h"

namespace {

void require(bool condition) {
  if (!condition) __builtin_trap();
}

void requireDisplayable(std::string text) {
  const std::string mark = "\xE2\x80\xA6";
  for (std::size_t at = text.find(mark); at != std::string::npos; at = text.find(mark)) {
    text.erase(at, mark.size());
  }
  require(std::all_of(text.begin(), text.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return c == '\n' || (u >= 0x20 && u <= 0x7e);
  }));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);  // NOLINT
  skr::StatusOr<skr::ctl::UnverifiedJwt> jwt = skr::ctl::decodeUnverifiedJwt(input);
  if (jwt.ok()) {
    require(!jwt->header.isNull() && !jwt->claims.isNull());
    require(std::count(jwt->compact.begin(), jwt->compact.end(), '.') == 2);
    skr::StatusOr<std::string> compact = skr::ctl::compactJwsOf(input);
    require(compact.ok() && *compact == jwt->compact);
    requireDisplayable(skr::ctl::jsonToText(jwt->header, 1));
    requireDisplayable(skr::ctl::jsonToText(jwt->claims, 1));
  }
  auto keys = skr::ctl::parseJwksKeys(input);
  if (keys.ok()) require(!keys->empty());
  const std::string shown = skr::ctl::shortenForDisplay(input);
  requireDisplayable(shown);
  require(shown.size() <= skr::ctl::kShortenAbove + 3 + 32);
  return 0;
}
