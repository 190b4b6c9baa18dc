// The state directory (DESIGN.md §5): where sealed bundles live on tmpfs.
//   {state_dir}/{key}/{version}.json   one sealed bundle per key version (mode 0400, or 0440 with
//                                      the agent's group)
//   {state_dir}/{key}/current          the primary version's name and a newline
//   {state_dir}/{key}/pending.json     the attest-and-defer bundle (bundle.h, kind "pending")
//   {state_dir}/{key}/generation       a decimal counter and a newline, bumped by the agent on
//                                      every rotation (DESIGN.md §7)
// Writes are atomic: a ".tmp-*" file in the same directory (O_CREAT|O_EXCL|O_NOFOLLOW), write all,
// fsync, rename over the target, fsync the directory, under an flock on the key directory. A crash
// leaves at most a ".tmp-*" file, which readers ignore and the next writer removes.
// Every directory and file is opened relative to the state directory's descriptor with
// O_NOFOLLOW and checked with fstat: a symlink, a group/world-writable directory, or an owner
// other than us (or root) is refused. Files read back are untrusted: size-capped, regular files.
// Thread safety: concurrent readers are fine; writers serialise on the per-key flock (also across
// processes).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/status.h"
#include "common/seal/file_checks.h"

namespace skr::seal {

// Steps of an atomic write, reported to StateDirOptions::on_write_step after each one succeeded.
enum class WriteStep {
  TmpCreated,  // tmp file created (mode and group set)
  Written,     // every byte written
  FileSynced,  // fsync(tmp file)
  Renamed,     // rename(tmp, target)
  DirSynced,   // fsync(directory)
};
std::string_view writeStepName(WriteStep step);

struct StateDirOptions {
  std::string path;
  // When set, files are 0440 and directories 0750 with this group (fchown); otherwise 0400 / 0700.
  std::optional<gid_t> group;
  OwnerPolicy owner;
  // Creates the state directory (the last component only) when it does not exist.
  bool create = true;
  // Test seam: called after each step of a write with the tmp file's name; a non-OK status makes
  // the write fail at that point (the tmp file is removed, like any other failure).
  std::function<Status(WriteStep, std::string_view tmp_name)> on_write_step;
};

// Names accepted as versions: 1..127 of [0-9a-zA-Z-] (AKV versions are 32 hex digits), and not
// "pending" (reserved for pending.json).
Status validateVersionName(std::string_view version);

class StateDir {
 public:
  // Opens (and creates, if allowed) the state directory and checks it. PermissionDenied naming the
  // path for a symlink, a foreign owner or group/world write permission; NotFound when missing
  // and !create.
  static StatusOr<StateDir> open(StateDirOptions options);

  StateDir(StateDir&& other) noexcept;
  StateDir& operator=(StateDir&& other) noexcept;
  StateDir(const StateDir&) = delete;
  StateDir& operator=(const StateDir&) = delete;
  ~StateDir();

  const std::string& path() const { return options_.path; }
  // Checks again what open() checked (a directory, no symlink, owner and mode) on the path, and
  // that the path still names the directory this object holds open. FailedPrecondition when the
  // directory was removed and created again; PermissionDenied / NotFound as open().
  Status recheck() const;

  // {key}/{version}.json, atomically (creates {key}/ when missing).
  Status writeVersion(std::string_view key, std::string_view version, std::string_view content);
  // {key}/current = version; the version file must exist.
  Status setCurrent(std::string_view key, std::string_view version);
  // {key}/pending.json, atomically.
  Status writePending(std::string_view key, std::string_view content);

  // {key}/generation = `generation`, atomically.
  Status writeGeneration(std::string_view key, uint64_t generation);
  // The number in {key}/generation; 0 when the file does not exist. InvalidArgument when it is
  // not a decimal number and a newline.
  StatusOr<uint64_t> generation(std::string_view key) const;

  // Content of {key}/{version}.json (at most `max_bytes`; ResourceExhausted beyond, NotFound when
  // missing).
  StatusOr<std::string> readVersion(std::string_view key, std::string_view version,
                                    std::size_t max_bytes) const;
  StatusOr<std::string> readPending(std::string_view key, std::size_t max_bytes) const;
  // The version named by {key}/current (validated); NotFound when there is none.
  StatusOr<std::string> current(std::string_view key) const;

  // Key directories (valid key names only), sorted; other entries are ignored.
  StatusOr<std::vector<std::string>> listKeys() const;
  // Versions with a {version}.json entry of any type (readVersion() refuses one that is not a
  // regular file, so a FIFO or symlink there is reported, not skipped), sorted; tmp files and
  // other names are ignored (and stale tmp files removed when no writer holds the key's lock).
  // NotFound when the key has no directory.
  StatusOr<std::vector<std::string>> listVersions(std::string_view key) const;

  // Retires a version: removes {version}.json. FailedPrecondition when it is the current one.
  Status removeVersion(std::string_view key, std::string_view version);
  Status removePending(std::string_view key);

 private:
  StateDir(StateDirOptions options, int fd) : options_(std::move(options)), fd_(fd) {}
  class KeyDir;
  StatusOr<KeyDir> openKeyDir(std::string_view key, bool create) const;
  Status atomicWrite(std::string_view key, const std::string& name, std::string_view content);
  StatusOr<std::string> readFile(std::string_view key, const std::string& name,
                                 std::size_t max_bytes) const;
  Status removeFile(std::string_view key, const std::string& name);

  StateDirOptions options_;
  int fd_ = -1;
};

}  // namespace skr::seal
