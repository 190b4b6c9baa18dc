#include "common/core/hardening.h"

#include <sys/prctl.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "common/core/warnings.h"

namespace skr {

StatusOr<HardeningReport> hardenProcess() {
  HardeningReport report;
  rlimit no_core{0, 0};
  if (setrlimit(RLIMIT_CORE, &no_core) != 0) {
    return internalError(std::string("setrlimit(RLIMIT_CORE, 0) failed: ") + std::strerror(errno));
  }
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    return internalError(std::string("prctl(PR_SET_DUMPABLE, 0) failed: ") + std::strerror(errno));
  }
  report.core_dumps_disabled = true;

  rlimit memlock{};
  if (getrlimit(RLIMIT_MEMLOCK, &memlock) == 0) {
    report.memlock_limit_bytes = memlock.rlim_cur == RLIM_INFINITY
                                     ? ~0ULL
                                     : static_cast<unsigned long long>(memlock.rlim_cur);
    // A handful of pages is all skr needs: transfer keys, KEKs, sealing keys.
    constexpr unsigned long long kNeeded = 64 * 1024;
    report.memlock_available = report.memlock_limit_bytes >= kNeeded;
  }
  if (!report.memlock_available) {
    core::warn("memlock_limited", "RLIMIT_MEMLOCK is below 64 KiB: secret pages may not be locked",
               {"limit_bytes", static_cast<int64_t>(report.memlock_limit_bytes)});
  }
  return report;
}

}  // namespace skr
