#include "common/crypto/random.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <set>
#include <vector>

namespace skr::crypto {
namespace {

TEST_CASE("randomBytes returns the requested number of bytes") {
  CHECK(randomBytes(0).empty());
  CHECK(randomBytes(1).size() == 1);
  CHECK(randomBytes(12).size() == 12);
  CHECK(randomBytes(4096).size() == 4096);
}

TEST_CASE("randomBytes does not repeat across calls") {
  std::set<Bytes> seen;
  for (int i = 0; i < 64; ++i) seen.insert(randomBytes(16));
  CHECK(seen.size() == 64);  // a 128-bit collision here would mean a broken DRBG
}

TEST_CASE("randomBytes output is not constant and uses the whole byte range") {
  const Bytes bytes = randomBytes(4096);
  std::set<uint8_t> distinct(bytes.begin(), bytes.end());
  // 4096 uniform bytes cover all 256 values except with probability < 2^-20.
  CHECK(distinct.size() == 256);
}

TEST_CASE("fillRandom overwrites the whole span and nothing outside it") {
  std::vector<uint8_t> buffer(64, 0);
  fillRandom(std::span<uint8_t>(buffer).subspan(8, 48));
  CHECK(std::all_of(buffer.begin(), buffer.begin() + 8, [](uint8_t b) { return b == 0; }));
  CHECK(std::all_of(buffer.end() - 8, buffer.end(), [](uint8_t b) { return b == 0; }));
  // 48 random bytes are all zero with probability 2^-384.
  CHECK_FALSE(std::all_of(buffer.begin() + 8, buffer.end() - 8, [](uint8_t b) { return b == 0; }));
  fillRandom({});  // an empty span is a no-op
}

TEST_CASE("randomSecret returns distinct secrets of the requested size") {
  const SecretBytes a = randomSecret(32);
  const SecretBytes b = randomSecret(32);
  CHECK(a.size() == 32);
  CHECK(b.size() == 32);
  CHECK_FALSE(a == b);
  CHECK_FALSE(a == SecretBytes(32));
  CHECK(randomSecret(0).empty());
}

}  // namespace
}  // namespace skr::crypto
