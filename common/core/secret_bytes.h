// SecretBytes: the only container for key material, unwrapped DEKs, transfer private keys and
// sealing keys (STYLE.md "Secrets").
//  - move-only; an explicit clone() is the only copy;
//  - storage is page-aligned, mlock()ed where the RLIMIT_MEMLOCK allows (else one logged warning)
//    and excluded from core dumps (MADV_DONTDUMP); every buffer, including those freed by a
//    reallocation, is wiped with OPENSSL_cleanse before it is released; up to 64 released
//    one-page buffers stay locked and dump-excluded for reuse (no syscalls per small secret);
//  - operator== runs in time independent of the contents;
//  - no operator<<, no implicit conversion: raw access needs a visible token,
//    `secret.view(grantSecretAccess())`, so `grep grantSecretAccess` lists every export site.
// Thread safety: like std::vector (no internal locking).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "common/core/bytes.h"

namespace skr {

class SecretAccess;
SecretAccess grantSecretAccess();

// Proof, at the call site, that code deliberately reads or writes secret bytes.
class SecretAccess {
 private:
  SecretAccess() = default;
  friend SecretAccess grantSecretAccess();
};

inline SecretAccess grantSecretAccess() {
  return SecretAccess();
}

namespace internal {

// Page-granular, locked, dump-excluded allocation; wiped on release.
void* allocateSecretMemory(std::size_t bytes);
void releaseSecretMemory(void* p, std::size_t bytes) noexcept;

template <typename T>
struct SecretAllocator {
  using value_type = T;
  SecretAllocator() noexcept = default;
  template <typename U>
  SecretAllocator(const SecretAllocator<U>&) noexcept {}  // NOLINT(google-explicit-constructor)
  T* allocate(std::size_t n) { return static_cast<T*>(allocateSecretMemory(n * sizeof(T))); }
  void deallocate(T* p, std::size_t n) noexcept { releaseSecretMemory(p, n * sizeof(T)); }
  template <typename U>
  bool operator==(const SecretAllocator<U>&) const noexcept {
    return true;
  }
};

}  // namespace internal

// Counters of the secret allocator, for status output and tests.
struct SecretMemoryStats {
  std::size_t live_allocations = 0;  // buffers currently held
  std::size_t locked = 0;            // allocations that were mlock()ed (since start)
  std::size_t lock_failures = 0;     // allocations that could not be locked (since start)
};
SecretMemoryStats secretMemoryStats();

class SecretBytes {
 public:
  SecretBytes() = default;
  // `size` zero bytes.
  explicit SecretBytes(std::size_t size);
  // Copies `bytes` into secret storage. The caller remains responsible for the source.
  static SecretBytes copyOf(ByteView bytes);

  SecretBytes(SecretBytes&& other) noexcept = default;
  SecretBytes& operator=(SecretBytes&& other) noexcept = default;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  ~SecretBytes() = default;

  // An explicit deep copy (the storage of the copy is locked and wiped too).
  SecretBytes clone() const;

  std::size_t size() const { return data_.size(); }
  bool empty() const { return data_.empty(); }

  ByteView view(SecretAccess /*token*/) const { return {data_.data(), data_.size()}; }
  std::span<uint8_t> mutableView(SecretAccess /*token*/) { return {data_.data(), data_.size()}; }

  void resize(std::size_t size) { data_.resize(size); }
  void append(ByteView bytes) { data_.insert(data_.end(), bytes.begin(), bytes.end()); }
  // Wipes and empties.
  void clear();

  // Constant time in the contents (the lengths are compared first; a length is not secret).
  friend bool operator==(const SecretBytes& a, const SecretBytes& b);

 private:
  std::vector<uint8_t, internal::SecretAllocator<uint8_t>> data_;
};

}  // namespace skr
