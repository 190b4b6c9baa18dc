#include "common/core/hardening.h"

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

namespace skr {
namespace {

// Hardening changes process-wide state, so it runs in a forked child that reports by exit code.
TEST_CASE("hardenProcess disables core dumps and makes the process non-dumpable") {
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    StatusOr<HardeningReport> report = hardenProcess();
    if (!report.ok() || !report->core_dumps_disabled) _exit(10);
    rlimit core{};
    if (getrlimit(RLIMIT_CORE, &core) != 0 || core.rlim_cur != 0 || core.rlim_max != 0) _exit(11);
    if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0) _exit(12);
    _exit(0);
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("hardenProcess reports whether secret pages can be locked") {
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    rlimit tiny{4096, 4096};
    if (setrlimit(RLIMIT_MEMLOCK, &tiny) != 0) _exit(20);
    StatusOr<HardeningReport> report = hardenProcess();
    if (!report.ok()) _exit(21);
    if (report->memlock_available) _exit(22);
    if (report->memlock_limit_bytes != 4096) _exit(23);
    _exit(0);
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

}  // namespace
}  // namespace skr
