// Fuzz target for the decoders of common/encoding (base64 in all modes, hex). Properties:
//  - a strict decode that succeeds re-encodes to exactly the input (canonical decoding);
//  - a lenient decode that succeeds equals the input re-encoded in one alphabet, padded or not,
//    and agrees with the strict decoders wherever they succeed;
//  - secret variants agree with the public ones, byte for byte and status for status;
//  - no decode returns more than its bound, and errors are InvalidArgument or ResourceExhausted;
//  - encoding the input as bytes round-trips through every decoder.
// A violated property traps, so libFuzzer (and the corpus replay) reports it as a crash.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/encoding/base64.h"
#include "common/encoding/hex.h"

namespace {

using skr::Bytes;
using skr::ByteView;
using skr::SecretBytes;
using skr::StatusCode;
using skr::StatusOr;

void require(bool condition) {
  if (!condition) __builtin_trap();
}

bool expectedError(const skr::Status& status) {
  return status.code() == StatusCode::InvalidArgument ||
         status.code() == StatusCode::ResourceExhausted;
}

Bytes secretToBytes(const SecretBytes& secret) {
  const ByteView view = secret.view(skr::grantSecretAccess());
  return Bytes(view.begin(), view.end());
}

std::string padded(std::string s) {
  while (s.size() % 4 != 0) s.push_back('=');
  return s;
}

std::string unpadded(std::string s) {
  while (!s.empty() && s.back() == '=') s.pop_back();
  return s;
}

void checkSecretAgrees(const StatusOr<Bytes>& plain, const StatusOr<SecretBytes>& secret) {
  require(plain.ok() == secret.ok());
  if (plain.ok()) {
    require(secretToBytes(*secret) == *plain);
  } else {
    require(plain.status() == secret.status());
  }
}

void checkDecoders(std::string_view text, std::size_t bound) {
  using namespace skr::encoding;
  const auto standard = base64Decode(text, bound);
  const auto url = base64UrlDecode(text, bound);
  const auto lenient = base64DecodeLenient(text, bound);

  for (const auto* result : {&standard, &url, &lenient}) {
    if (result->ok()) {
      require((*result)->size() <= bound);
    } else {
      require(expectedError(result->status()));
    }
  }
  if (standard.ok()) {
    require(base64Encode(*standard) == text);
    require(lenient.ok() && *lenient == *standard);
  }
  if (url.ok()) {
    require(base64UrlEncode(*url) == text);
    require(lenient.ok() && *lenient == *url);
  }
  if (lenient.ok()) {
    const std::string s = base64Encode(*lenient);
    const std::string u = base64UrlEncode(*lenient);
    require(text == s || text == unpadded(s) || text == u || text == padded(u));
  }
  checkSecretAgrees(url, base64UrlDecodeSecret(text, bound));
  checkSecretAgrees(lenient, base64DecodeLenientSecret(text, bound));

  const auto hex = hexDecode(text, bound);
  if (hex.ok()) {
    require(hex->size() <= bound);
    // Canonical up to case: the lower-case re-encoding matches ignoring ASCII case.
    const std::string again = hexEncode(*hex);
    require(again.size() == text.size());
    for (std::size_t i = 0; i < again.size(); ++i) {
      require(again[i] == (text[i] | 0x20));
    }
  } else {
    require(expectedError(hex.status()));
  }
  checkSecretAgrees(hex, hexDecodeSecret(text, bound));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace skr::encoding;
  const std::string_view text(reinterpret_cast<const char*>(data), size);  // NOLINT

  checkDecoders(text, kDefaultMaxDecoded);
  // A bound taken from the input exercises the ResourceExhausted path.
  if (size > 0) checkDecoders(text, data[0] % 64);

  // The input as bytes round-trips through every encoder and decoder.
  const ByteView bytes(data, size);
  const Bytes original(bytes.begin(), bytes.end());
  const std::string standard = base64Encode(bytes);
  const std::string url = base64UrlEncode(bytes);
  require(base64Decode(standard).value() == original);
  require(base64UrlDecode(url).value() == original);
  require(base64DecodeLenient(standard).value() == original);
  require(base64DecodeLenient(url).value() == original);
  require(secretToBytes(base64UrlDecodeSecret(url).value()) == original);
  const SecretBytes encoded_secret = base64UrlEncodeSecret(SecretBytes::copyOf(bytes));
  require(secretToBytes(encoded_secret) == Bytes(url.begin(), url.end()));
  require(hexDecode(hexEncode(bytes)).value() == original);
  return 0;
}
