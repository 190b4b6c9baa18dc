#include "common/core/secret_bytes.h"

#include <catch2/catch.hpp>
#include <string>
#include <type_traits>
#include <vector>

#include "common/log/logger.h"

namespace skr {
namespace {

static_assert(!std::is_copy_constructible_v<SecretBytes>, "secrets are move-only");
static_assert(!std::is_copy_assignable_v<SecretBytes>, "secrets are move-only");
static_assert(std::is_nothrow_move_constructible_v<SecretBytes>);
static_assert(!std::is_constructible_v<std::string, SecretBytes>, "no implicit string export");
static_assert(!std::is_default_constructible_v<SecretAccess>, "access needs grantSecretAccess()");

TEST_CASE("SecretBytes copies its input and exposes it only through the access token") {
  const Bytes input = {1, 2, 3, 4, 5};
  SecretBytes s = SecretBytes::copyOf(input);
  CHECK(s.size() == 5);
  CHECK_FALSE(s.empty());
  const ByteView view = s.view(grantSecretAccess());
  CHECK(Bytes(view.begin(), view.end()) == input);
}

TEST_CASE("SecretBytes of a size starts zeroed and can be written through the token") {
  SecretBytes s(4);
  const ByteView zero = s.view(grantSecretAccess());
  CHECK(Bytes(zero.begin(), zero.end()) == Bytes(4, 0));
  s.mutableView(grantSecretAccess())[2] = 0x7f;
  CHECK(s.view(grantSecretAccess())[2] == 0x7f);
}

TEST_CASE("moving SecretBytes leaves the source empty") {
  SecretBytes a = SecretBytes::copyOf(asBytes("key material"));
  SecretBytes b = std::move(a);
  CHECK(b.size() == 12);
  CHECK(a.empty());  // NOLINT(bugprone-use-after-move): documented moved-from state
}

TEST_CASE("clone is a deep, independent copy") {
  SecretBytes a = SecretBytes::copyOf(asBytes("abc"));
  SecretBytes b = a.clone();
  CHECK(a == b);
  b.mutableView(grantSecretAccess())[0] = 'x';
  CHECK_FALSE(a == b);
  CHECK(toString(a.view(grantSecretAccess())) == "abc");
}

TEST_CASE("equality compares length and every byte") {
  CHECK(SecretBytes::copyOf(asBytes("same")) == SecretBytes::copyOf(asBytes("same")));
  CHECK_FALSE(SecretBytes::copyOf(asBytes("same")) == SecretBytes::copyOf(asBytes("samf")));
  CHECK_FALSE(SecretBytes::copyOf(asBytes("same")) == SecretBytes::copyOf(asBytes("sam")));
  CHECK(SecretBytes() == SecretBytes());
  CHECK_FALSE(SecretBytes(1) == SecretBytes());
}

TEST_CASE("append and resize grow the secret, clear empties it") {
  SecretBytes s;
  for (int i = 0; i < 100; ++i) s.append(asBytes("0123456789"));  // forces reallocations
  CHECK(s.size() == 1000);
  CHECK(s.view(grantSecretAccess())[999] == '9');
  s.resize(10);
  CHECK(toString(s.view(grantSecretAccess())) == "0123456789");
  s.clear();
  CHECK(s.empty());
}

TEST_CASE("secret buffers are page-aligned and accounted as locked or as a lock failure") {
  const SecretMemoryStats before = secretMemoryStats();
  {
    SecretBytes s = SecretBytes::copyOf(asBytes("k"));
    const auto address = reinterpret_cast<std::uintptr_t>(s.view(grantSecretAccess()).data());
    CHECK(address % 4096 == 0);
    const SecretMemoryStats during = secretMemoryStats();
    CHECK(during.live_allocations == before.live_allocations + 1);
    CHECK(during.locked + during.lock_failures == before.locked + before.lock_failures + 1);
  }
  CHECK(secretMemoryStats().live_allocations == before.live_allocations);
}

TEST_CASE("a released one-page buffer is reused while mlock works, still counted as locked") {
  const SecretMemoryStats before = secretMemoryStats();
  const uint8_t* first = nullptr;
  {
    SecretBytes s = SecretBytes::copyOf(asBytes("first secret"));
    first = s.view(grantSecretAccess()).data();
  }
  SecretBytes again(16);
  const SecretMemoryStats after = secretMemoryStats();
  CHECK(after.live_allocations == before.live_allocations + 1);
  CHECK(after.locked + after.lock_failures == before.locked + before.lock_failures + 2);
  if (after.lock_failures == 0) {
    CHECK(again.view(grantSecretAccess()).data() == first);
  }
}

TEST_CASE("clear wipes the bytes in place") {
  // Reading freed memory is undefined, so the wipe is observed through clear(): it keeps the
  // capacity (the memory is still ours to read) and must leave zeros behind.
  SecretBytes s = SecretBytes::copyOf(asBytes("secret!!"));
  const uint8_t* p = s.view(grantSecretAccess()).data();
  s.clear();
  for (int i = 0; i < 8; ++i) CHECK(p[i] == 0);
}

}  // namespace
}  // namespace skr
