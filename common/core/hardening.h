// Process hardening applied by every executable's main() before it touches a secret
// (DESIGN.md §10): no core dumps, not ptrace-attachable by other users' processes.
#pragma once

#include "common/core/status.h"

namespace skr {

struct HardeningReport {
  bool core_dumps_disabled = false;  // RLIMIT_CORE = 0 and PR_SET_DUMPABLE = 0
  bool memlock_available = false;    // RLIMIT_MEMLOCK leaves room to lock secret pages
  unsigned long long memlock_limit_bytes = 0;
};

// Disables core dumps (RLIMIT_CORE 0, PR_SET_DUMPABLE 0) and checks whether secret pages can be
// locked; logs a warning when they cannot (SecretBytes then still wipes but may be swapped).
// Fails only when core dumps cannot be disabled.
StatusOr<HardeningReport> hardenProcess();

}  // namespace skr
