#include "common/seal/state_dir.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/unit/seal/seal_test_util.h"

namespace skr::seal {
namespace {

namespace fs = std::filesystem;
using testing::take;

constexpr std::size_t kCap = 256 * 1024;

struct Tree {
  std::string root = testing::makeTempDir();
  std::string state = root + "/state";
};

StateDirOptions optionsFor(const std::string& path) {
  StateDirOptions o;
  o.path = path;
  return o;
}

struct stat statOf(const std::string& path) {
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st;
}

mode_t modeOf(const std::string& path) {
  return statOf(path).st_mode & 07777;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> entries(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

TEST_CASE("state dir writes bundles 0400 in 0700 directories and reads them back") {
  Tree t;
  StateDir dir = take(StateDir::open(optionsFor(t.state)));
  CHECK(modeOf(t.state) == 0700);
  REQUIRE(dir.writeVersion("data-kek", "v1", "one\n").ok());
  REQUIRE(dir.writeVersion("data-kek", "v2", "two\n").ok());
  REQUIRE(dir.setCurrent("data-kek", "v2").ok());
  CHECK(modeOf(t.state + "/data-kek") == 0700);
  CHECK(modeOf(t.state + "/data-kek/v1.json") == 0400);
  CHECK(modeOf(t.state + "/data-kek/current") == 0400);
  CHECK(slurp(t.state + "/data-kek/v2.json") == "two\n");
  CHECK(slurp(t.state + "/data-kek/current") == "v2\n");
  CHECK(take(dir.readVersion("data-kek", "v1", kCap)) == "one\n");
  CHECK(take(dir.current("data-kek")) == "v2");
  CHECK(take(dir.listVersions("data-kek")) == std::vector<std::string>{"v1", "v2"});
  CHECK(take(dir.listKeys()) == std::vector<std::string>{"data-kek"});
  // Overwrite replaces atomically and keeps the mode.
  REQUIRE(dir.writeVersion("data-kek", "v1", "uno\n").ok());
  CHECK(take(dir.readVersion("data-kek", "v1", kCap)) == "uno\n");
  CHECK(modeOf(t.state + "/data-kek/v1.json") == 0400);
  CHECK(entries(t.state + "/data-kek") ==
        std::vector<std::string>{"current", "v1.json", "v2.json"});
}

TEST_CASE("state dir generation is 0 without a file, written atomically, and refuses junk") {
  Tree t;
  StateDir dir = take(StateDir::open(optionsFor(t.state)));
  REQUIRE(dir.writeVersion("data-kek", "v1", "one\n").ok());
  CHECK(take(dir.generation("data-kek")) == 0);
  REQUIRE(dir.writeGeneration("data-kek", 7).ok());
  CHECK(slurp(t.state + "/data-kek/generation") == "7\n");
  CHECK(take(dir.generation("data-kek")) == 7);
  // Not a version: listings ignore it.
  CHECK(take(dir.listVersions("data-kek")) == std::vector<std::string>{"v1"});
  REQUIRE(::chmod((t.state + "/data-kek/generation").c_str(), 0600) == 0);
  { std::ofstream(t.state + "/data-kek/generation", std::ios::trunc) << "7x\n"; }
  CHECK(dir.generation("data-kek").status().code() == StatusCode::InvalidArgument);
  { std::ofstream(t.state + "/data-kek/generation", std::ios::trunc) << "99999999999999999999\n"; }
  CHECK(dir.generation("data-kek").status().code() == StatusCode::InvalidArgument);
}

TEST_CASE("state dir with a group writes 0440 files and 0750 directories owned by that group") {
  Tree t;
  StateDirOptions o = optionsFor(t.state);
  o.group = ::getegid();
  StateDir dir = take(StateDir::open(o));
  REQUIRE(dir.writeVersion("k", "v1", "x").ok());
  CHECK(modeOf(t.state) == 0750);
  CHECK(modeOf(t.state + "/k") == 0750);
  CHECK(modeOf(t.state + "/k/v1.json") == 0440);
  CHECK(statOf(t.state + "/k/v1.json").st_gid == ::getegid());
  REQUIRE(dir.writePending("k", "pending").ok());
  CHECK(modeOf(t.state + "/k/pending.json") == 0440);
  CHECK(take(dir.readPending("k", kCap)) == "pending");
  CHECK(take(dir.listVersions("k")) == std::vector<std::string>{"v1"});  // pending is not one
  REQUIRE(dir.removePending("k").ok());
  CHECK(dir.readPending("k", kCap).status().code() == StatusCode::NotFound);
}

TEST_CASE("state dir refuses a symlinked state dir, key dir or file") {
  Tree t;
  const std::string real = t.root + "/real";
  REQUIRE(::mkdir(real.c_str(), 0700) == 0);
  REQUIRE(::symlink(real.c_str(), t.state.c_str()) == 0);
  StatusOr<StateDir> linked = StateDir::open(optionsFor(t.state));
  REQUIRE_FALSE(linked.ok());
  CHECK(linked.status().code() == StatusCode::PermissionDenied);
  CHECK(linked.status().message() == "state dir " + t.state + " is a symlink; refusing it");

  StateDir dir = take(StateDir::open(optionsFor(real)));
  const std::string elsewhere = t.root + "/elsewhere";
  REQUIRE(::mkdir(elsewhere.c_str(), 0700) == 0);
  REQUIRE(::symlink(elsewhere.c_str(), (real + "/k").c_str()) == 0);
  Status s = dir.writeVersion("k", "v1", "x");
  CHECK(s.code() == StatusCode::PermissionDenied);
  CHECK(s.message().find("key dir " + real + "/k is a symlink") != std::string::npos);
  CHECK(entries(elsewhere).empty());

  REQUIRE(dir.writeVersion("j", "v1", "x").ok());
  const std::string secret = t.root + "/secret.txt";
  std::ofstream(secret) << "not a bundle";
  REQUIRE(::symlink(secret.c_str(), (real + "/j/v2.json").c_str()) == 0);
  StatusOr<std::string> read = dir.readVersion("j", "v2", kCap);
  REQUIRE_FALSE(read.ok());
  CHECK(read.status().message().find("is a symlink") != std::string::npos);
  // Listed, so that its reader reports the refusal (the agent's bundle_rejected line).
  CHECK(take(dir.listVersions("j")) == std::vector<std::string>{"v1", "v2"});
  // Writing over a symlink replaces the link; the file it pointed to is untouched.
  REQUIRE(dir.writeVersion("j", "v2", "bundle").ok());
  CHECK(slurp(secret) == "not a bundle");
  CHECK(S_ISREG(statOf(real + "/j/v2.json").st_mode));
  // A symlinked `current` is refused too.
  REQUIRE(::symlink((real + "/j/v1.json").c_str(), (real + "/j/current").c_str()) == 0);
  CHECK(dir.current("j").status().code() == StatusCode::PermissionDenied);
}

TEST_CASE("state dir refuses world- or group-writable directories and files") {
  Tree t;
  REQUIRE(::mkdir(t.state.c_str(), 0700) == 0);
  for (mode_t mode : {0777, 0702, 0720, 01777}) {
    REQUIRE(::chmod(t.state.c_str(), mode) == 0);
    StatusOr<StateDir> d = StateDir::open(optionsFor(t.state));
    INFO(mode);
    REQUIRE_FALSE(d.ok());
    CHECK(d.status().code() == StatusCode::PermissionDenied);
    CHECK(d.status().message().find("state dir " + t.state + " has mode " + octalMode(mode) +
                                    ": writable by") != std::string::npos);
  }
  REQUIRE(::chmod(t.state.c_str(), 0700) == 0);
  StateDir dir = take(StateDir::open(optionsFor(t.state)));
  REQUIRE(dir.writeVersion("k", "v1", "x").ok());
  REQUIRE(::chmod((t.state + "/k").c_str(), 0703) == 0);
  Status s = dir.writeVersion("k", "v2", "y");
  CHECK(s.code() == StatusCode::PermissionDenied);
  CHECK(s.message().find("key dir " + t.state + "/k has mode 0703: writable by others") !=
        std::string::npos);
  CHECK(dir.readVersion("k", "v1", kCap).status().code() == StatusCode::PermissionDenied);
  REQUIRE(::chmod((t.state + "/k").c_str(), 0700) == 0);
  REQUIRE(::chmod((t.state + "/k/v1.json").c_str(), 0666) == 0);
  StatusOr<std::string> r = dir.readVersion("k", "v1", kCap);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find("state file " + t.state + "/k/v1.json has mode 0666") !=
        std::string::npos);
}

TEST_CASE("state dir refuses a directory owned by another uid") {
  Tree t;
  REQUIRE(::mkdir(t.state.c_str(), 0700) == 0);
  StateDirOptions o = optionsFor(t.state);
  o.owner = OwnerPolicy{::geteuid() + 1, false};  // as if we ran as another user
  StatusOr<StateDir> d = StateDir::open(o);
  REQUIRE_FALSE(d.ok());
  CHECK(d.status().code() == StatusCode::PermissionDenied);
  CHECK(d.status().message() == "state dir " + t.state + " is owned by uid " +
                                    std::to_string(::geteuid()) + ", expected uid " +
                                    std::to_string(::geteuid() + 1));
  if (::geteuid() == 0) {  // root can hand a directory to someone else for real
    REQUIRE(::chown(t.state.c_str(), 4242, 4242) == 0);
    StatusOr<StateDir> foreign = StateDir::open(optionsFor(t.state));
    REQUIRE_FALSE(foreign.ok());
    CHECK(foreign.status().message().find("is owned by uid 4242") != std::string::npos);
  }
}

TEST_CASE("state dir validates key and version names") {
  Tree t;
  StateDir dir = take(StateDir::open(optionsFor(t.state)));
  for (const char* key : {"", ".", "..", "../x", ".hidden", "a/b", "a.b", "a\nb"}) {
    INFO(key);
    CHECK(dir.writeVersion(key, "v1", "x").code() == StatusCode::InvalidArgument);
    CHECK(dir.readVersion(key, "v1", kCap).status().code() == StatusCode::InvalidArgument);
  }
  CHECK(dir.writeVersion(std::string(128, 'k'), "v1", "x").code() == StatusCode::InvalidArgument);
  CHECK(dir.writeVersion(std::string(127, 'k'), "v1", "x").ok());
  for (const char* version : {"", "..", "pending", "v1.json", ".tmp-x", "a/b"}) {
    INFO(version);
    CHECK(dir.writeVersion("k", version, "x").code() == StatusCode::InvalidArgument);
  }
  CHECK(entries(t.state) == std::vector<std::string>{std::string(127, 'k')});
}

TEST_CASE("state dir caps reads and refuses non-regular files") {
  Tree t;
  StateDir dir = take(StateDir::open(optionsFor(t.state)));
  REQUIRE(dir.writeVersion("k", "big", std::string(1000, 'x')).ok());
  CHECK(take(dir.readVersion("k", "big", 1000)).size() == 1000);
  StatusOr<std::string> r = dir.readVersion("k", "big", 999);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == StatusCode::ResourceExhausted);
  CHECK(r.status().message() == "state file " + t.state + "/k/big.json is 1000 bytes, limit 999");
  REQUIRE(::mkfifo((t.state + "/k/fifo.json").c_str(), 0600) == 0);
  StatusOr<std::string> fifo = dir.readVersion("k", "fifo", kCap);  // must not block
  REQUIRE_FALSE(fifo.ok());
  CHECK(fifo.status().message().find("is not a regular file") != std::string::npos);
  CHECK(dir.readVersion("k", "missing", kCap).status().code() == StatusCode::NotFound);
  CHECK(dir.listVersions("nokey").status().code() == StatusCode::NotFound);
  // `current` must name a valid version followed by a newline.
  REQUIRE(::chmod((t.state + "/k").c_str(), 0700) == 0);
  std::ofstream(t.state + "/k/current") << "../etc";
  REQUIRE(::chmod((t.state + "/k/current").c_str(), 0400) == 0);
  CHECK(dir.current("k").status().code() == StatusCode::InvalidArgument);
}

TEST_CASE("current must name an existing version and the current version cannot be retired") {
  Tree t;
  StateDir dir = take(StateDir::open(optionsFor(t.state)));
  REQUIRE(dir.writeVersion("k", "v1", "1").ok());
  REQUIRE(dir.writeVersion("k", "v2", "2").ok());
  CHECK(dir.setCurrent("k", "v3").code() == StatusCode::NotFound);
  CHECK(dir.current("k").status().code() == StatusCode::NotFound);
  REQUIRE(dir.removeVersion("k", "v1").ok());  // no current yet: any version may go
  REQUIRE(dir.setCurrent("k", "v2").ok());
  Status s = dir.removeVersion("k", "v2");
  CHECK(s.code() == StatusCode::FailedPrecondition);
  CHECK(take(dir.listVersions("k")) == std::vector<std::string>{"v2"});
  CHECK(dir.removeVersion("k", "v1").code() == StatusCode::NotFound);
}

TEST_CASE("an atomic write runs create, write, fsync, rename, fsync(dir) in order") {
  Tree t;
  std::vector<std::string> steps;
  std::string old_content_at_sync;
  StateDirOptions o = optionsFor(t.state);
  o.on_write_step = [&](WriteStep step, std::string_view tmp) {
    steps.emplace_back(writeStepName(step));
    if (step == WriteStep::FileSynced && fs::exists(t.state + "/k/v1.json")) {
      old_content_at_sync = slurp(t.state + "/k/v1.json");
      CHECK(slurp(t.state + "/k/" + std::string(tmp)) == "new");
      CHECK(std::string(tmp).rfind(".tmp-v1.json-", 0) == 0);
    }
    return okStatus();
  };
  StateDir dir = take(StateDir::open(o));
  REQUIRE(dir.writeVersion("k", "v1", "old").ok());
  steps.clear();
  REQUIRE(dir.writeVersion("k", "v1", "new").ok());
  CHECK(steps ==
        std::vector<std::string>{"tmp-created", "written", "file-synced", "renamed", "dir-synced"});
  CHECK(old_content_at_sync == "old");  // the target is only replaced by the rename
  CHECK(slurp(t.state + "/k/v1.json") == "new");
}

TEST_CASE("a write that fails before the rename leaves the old file and no tmp file") {
  Tree t;
  StateDirOptions o = optionsFor(t.state);
  WriteStep fail_at = WriteStep::DirSynced;
  bool armed = false;
  o.on_write_step = [&](WriteStep step, std::string_view) {
    return armed && step == fail_at ? internalError("injected") : okStatus();
  };
  StateDir dir = take(StateDir::open(o));
  REQUIRE(dir.writeVersion("k", "v1", "old").ok());
  armed = true;
  for (WriteStep step : {WriteStep::TmpCreated, WriteStep::Written, WriteStep::FileSynced}) {
    fail_at = step;
    Status s = dir.writeVersion("k", "v1", "new");
    INFO(writeStepName(step));
    CHECK(s.code() == StatusCode::Internal);
    CHECK(s.message() == "write " + t.state + "/k/v1.json: injected");
    CHECK(entries(t.state + "/k") == std::vector<std::string>{"v1.json"});
    CHECK(slurp(t.state + "/k/v1.json") == "old");
  }
}

// The child writes with a hook that stops it after fsync and before rename; the parent kills it
// with SIGKILL there, as a crash would.
TEST_CASE("a writer killed between fsync and rename leaves the previous file intact") {
  Tree t;
  StateDir dir = take(StateDir::open(optionsFor(t.state)));
  REQUIRE(dir.writeVersion("k", "v1", "previous bundle").ok());
  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::close(ready[0]);
    StateDirOptions o = optionsFor(t.state);
    o.on_write_step = [&](WriteStep step, std::string_view) {
      if (step == WriteStep::FileSynced) {
        const char byte = 'r';
        if (::write(ready[1], &byte, 1) != 1) ::_exit(3);
        for (;;) ::pause();  // until SIGKILL
      }
      return okStatus();
    };
    StatusOr<StateDir> d = StateDir::open(o);
    if (!d.ok()) ::_exit(2);
    (void)d->writeVersion("k", "v1", std::string(100000, 'N'));
    ::_exit(1);  // never reached when the hook stops it
  }
  ::close(ready[1]);
  char byte = 0;
  const ssize_t n = ::read(ready[0], &byte, 1);
  ::close(ready[0]);
  REQUIRE(n == 1);
  // Mid-write: the new content exists only in a tmp file that no reader lists.
  std::vector<std::string> during = entries(t.state + "/k");
  REQUIRE(during.size() == 2);
  CHECK(during[0].rfind(".tmp-v1.json-", 0) == 0);
  CHECK(take(dir.listVersions("k")) == std::vector<std::string>{"v1"});  // locked: tmp kept
  CHECK(entries(t.state + "/k").size() == 2);
  REQUIRE(::kill(child, SIGKILL) == 0);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);

  CHECK(take(dir.readVersion("k", "v1", kCap)) == "previous bundle");
  // The next reader ignores the stale tmp file and, with the lock free, removes it.
  CHECK(take(dir.listVersions("k")) == std::vector<std::string>{"v1"});
  CHECK(entries(t.state + "/k") == std::vector<std::string>{"v1.json"});
  REQUIRE(dir.writeVersion("k", "v1", "next").ok());
  CHECK(take(dir.readVersion("k", "v1", kCap)) == "next");
}

TEST_CASE("the next writer removes stale tmp files") {
  Tree t;
  StateDir dir = take(StateDir::open(optionsFor(t.state)));
  REQUIRE(dir.writeVersion("k", "v1", "1").ok());
  std::ofstream(t.state + "/k/.tmp-v1.json-1-abcdef") << "partial";
  REQUIRE(dir.writeVersion("k", "v2", "2").ok());
  CHECK(entries(t.state + "/k") == std::vector<std::string>{"v1.json", "v2.json"});
}

TEST_CASE("state dir open does not create when asked not to, and trims a trailing slash") {
  Tree t;
  StateDirOptions o = optionsFor(t.state);
  o.create = false;
  CHECK(StateDir::open(o).status().code() == StatusCode::NotFound);
  o = optionsFor(t.state + "/");
  StateDir dir = take(StateDir::open(o));
  CHECK(dir.path() == t.state);
  CHECK(StateDir::open(optionsFor("")).status().code() == StatusCode::InvalidArgument);
}

}  // namespace
}  // namespace skr::seal

namespace skr::seal {
namespace {

TEST_CASE(
    "recheck refuses a state dir made group/world-writable, or removed and created again, after "
    "open") {
  Tree t;
  StateDir dir = take(StateDir::open(optionsFor(t.state)));
  CHECK(dir.recheck().ok());
  REQUIRE(::chmod(t.state.c_str(), 0777) == 0);
  Status writable = dir.recheck();
  CHECK(writable.code() == StatusCode::PermissionDenied);
  REQUIRE(::chmod(t.state.c_str(), 0700) == 0);
  CHECK(dir.recheck().ok());
  REQUIRE(::rmdir(t.state.c_str()) == 0);
  CHECK(dir.recheck().code() == StatusCode::NotFound);
  REQUIRE(::mkdir(t.state.c_str(), 0700) == 0);
  Status replaced = dir.recheck();
  CHECK(replaced.code() == StatusCode::FailedPrecondition);
  CHECK(replaced.message().find("removed and created again") != std::string::npos);
}

}  // namespace
}  // namespace skr::seal
