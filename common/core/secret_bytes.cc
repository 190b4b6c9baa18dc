#include "common/core/secret_bytes.h"

#include <openssl/crypto.h>
#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <new>

#include "common/core/warnings.h"

namespace skr {
namespace {

std::atomic<std::size_t> g_live{0};
std::atomic<std::size_t> g_locked{0};
std::atomic<std::size_t> g_lock_failures{0};
std::atomic<bool> g_warned{false};

std::size_t pageSize() {
  static const std::size_t kPage = [] {
    long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? static_cast<std::size_t>(p) : std::size_t{4096};
  }();
  return kPage;
}

std::size_t roundToPages(std::size_t bytes) {
  const std::size_t page = pageSize();
  return (bytes + page - 1) / page * page;
}

// Released one-page buffers, already wiped and still locked and dump-excluded, kept for reuse:
// madvise + mlock + munlock + madvise per buffer each take the process's mmap lock for writing
// and split or merge a VMA, which serialized the agent's workers (scripts/bench agent: half of
// its CPU time under A256KW load). Only buffers known to be locked are kept (none once any mlock
// failed), so a reused buffer is as locked as a fresh one. At most 64 pages (256 KiB) are held.
class LockedPagePool {
 public:
  void* take() {
    std::lock_guard lock(mutex_);
    return count_ == 0 ? nullptr : pages_[--count_];
  }
  // False when full: the caller frees the page itself.
  bool give(void* page) {
    std::lock_guard lock(mutex_);
    if (count_ == pages_.size()) return false;
    pages_[count_++] = page;
    return true;
  }

 private:
  std::mutex mutex_;
  std::array<void*, 64> pages_{};
  std::size_t count_ = 0;
};

LockedPagePool& pagePool() {
  static LockedPagePool* pool = new LockedPagePool;  // never destroyed: used until exit
  return *pool;
}

}  // namespace

namespace internal {

void* allocateSecretMemory(std::size_t bytes) {
  if (bytes == 0) bytes = 1;
  const std::size_t len = roundToPages(bytes);
  if (len == pageSize()) {
    if (void* pooled = pagePool().take()) {
      ++g_locked;
      ++g_live;
      return pooled;
    }
  }
  void* p = std::aligned_alloc(pageSize(), len);
  if (p == nullptr) throw std::bad_alloc();
  // Keep secrets out of core dumps even if dumps get re-enabled, and out of swap where allowed.
  (void)madvise(p, len, MADV_DONTDUMP);
  if (mlock(p, len) == 0) {
    ++g_locked;
  } else {
    ++g_lock_failures;
    if (!g_warned.exchange(true)) {
      core::warn("secret_memory_not_locked",
                 "mlock failed (RLIMIT_MEMLOCK too low or not permitted); secrets may be swapped",
                 {"bytes", static_cast<int64_t>(len)});
    }
  }
  ++g_live;
  return p;
}

void releaseSecretMemory(void* p, std::size_t bytes) noexcept {
  if (p == nullptr) return;
  if (bytes == 0) bytes = 1;
  const std::size_t len = roundToPages(bytes);
  // Only the first `bytes` of the pages were ever handed out (an allocator is given back the size
  // it allocated), and the rest was wiped, or never written, before: wiping the whole page on
  // every release was a tenth of the agent's instructions per A256KW unwrap.
  OPENSSL_cleanse(p, bytes);
  if (len == pageSize() && g_lock_failures.load() == 0 && pagePool().give(p)) {
    --g_live;
    return;
  }
  (void)munlock(p, len);
  (void)madvise(p, len, MADV_DODUMP);
  std::free(p);
  --g_live;
}

}  // namespace internal

SecretMemoryStats secretMemoryStats() {
  return SecretMemoryStats{g_live.load(), g_locked.load(), g_lock_failures.load()};
}

SecretBytes::SecretBytes(std::size_t size) : data_(size, 0) {}

SecretBytes SecretBytes::copyOf(ByteView bytes) {
  SecretBytes out;
  out.data_.assign(bytes.begin(), bytes.end());
  return out;
}

SecretBytes SecretBytes::clone() const {
  SecretBytes out;
  out.data_.assign(data_.begin(), data_.end());
  return out;
}

void SecretBytes::clear() {
  OPENSSL_cleanse(data_.data(), data_.size());
  data_.clear();
}

bool operator==(const SecretBytes& a, const SecretBytes& b) {
  if (a.data_.size() != b.data_.size()) return false;
  if (a.data_.empty()) return true;
  return CRYPTO_memcmp(a.data_.data(), b.data_.data(), a.data_.size()) == 0;
}

}  // namespace skr
