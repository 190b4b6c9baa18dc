// The agent's keyring (DESIGN.md §6, §7): per key name, the released versions, which one is
// primary, the key's persisted generation ({state_dir}/{name}/generation), an in-memory change
// counter, and the last error seen for the key.
// Thread safety: all methods may be called concurrently. Readers take a shared lock just long
// enough to copy a shared_ptr to an immutable KeyEntry snapshot (copy-on-write), so readers never
// block each other and a writer never blocks a request that is already running a crypto operation.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "agent/key_version.h"
#include "common/core/status.h"
#include "common/seal/bundle.h"
#include "common/seal/sealing_key.h"
#include "common/seal/state_dir.h"

namespace skr::agent {

// An immutable snapshot of one key.
struct KeyEntry {
  std::string name;
  std::map<std::string, std::shared_ptr<const KeyVersion>> versions;  // by version name
  std::string primary;  // empty when no version is primary (e.g. `current` missing)
  // The number in {state_dir}/{name}/generation: bumped on every release that is committed (start,
  // rotation), so it matches the file apps may watch. Set by loadFromStateDir and setGeneration.
  uint64_t generation = 0;
  uint64_t changes = 0;    // in-memory: bumped on every add / set-primary / retire of this process
  std::string last_error;  // the last failure reported for this key (load, rotation); no secret

  // The primary version, or nullptr.
  std::shared_ptr<const KeyVersion> primaryVersion() const;
};

// One file that could not be loaded: "{key}/{version}.json" or "{key}/current", and why.
struct FileLoadError {
  std::string file;
  Status status;
};

// What loadFromStateDir found for one key directory.
struct KeyLoadResult {
  std::string name;
  std::vector<std::string> loaded_versions;  // sorted
  std::string primary;                       // empty when `current` is missing or did not load
  std::vector<FileLoadError> errors;
};

class Keyring {
 public:
  Keyring() = default;
  Keyring(const Keyring&) = delete;
  Keyring& operator=(const Keyring&) = delete;

  // Opens every {key}/{version}.json in the state dir with seal::openKey, and {key}/current.
  // A bundle that does not open (tampered, wrong stamp, wrong provider) or whose key name or kid
  // version differs from its path is reported in the result and not loaded; it does not stop the
  // others. {key}/generation is read into KeyEntry::generation (an unreadable one is reported and
  // leaves the value unchanged). Loaded versions are added (replacing a version of the same name)
  // and `current` made primary when it loaded; when it did not, a primary verified earlier (a
  // reload) stays, else the key has none. Fails only when the state dir itself cannot be listed.
  StatusOr<std::vector<KeyLoadResult>> loadFromStateDir(const seal::StateDir& state_dir,
                                                        const seal::SealingKeyProvider& provider,
                                                        const seal::OpenOptions& options);

  // Adds (or replaces) a version; makes it primary when `make_primary` or when the key had no
  // primary. InvalidArgument when the version is incomplete (no name/version/key, no private part).
  Status addVersion(KeyVersion version, bool make_primary);
  // NotFound for an unknown key or version.
  Status setPrimary(std::string_view name, std::string_view version);
  // Removes a version. FailedPrecondition for the primary version; NotFound for unknown ones.
  Status retire(std::string_view name, std::string_view version);
  // Makes `name` known without versions (no-op when it is): a configured key answers 503 NotReady,
  // not 404 KeyNotFound, from the agent's first request on.
  void declare(std::string_view name);
  // Records (or, with an empty message, clears) the last error of a key. Creates an entry without
  // versions for an unknown key, so a configured key that failed to load shows up in /status.
  void setLastError(std::string_view name, std::string message);
  // Records the persisted generation of a key (after the agent wrote {name}/generation). Creates an
  // entry without versions for an unknown key.
  void setGeneration(std::string_view name, uint64_t generation);

  // The named version, or the primary when `version` is nullopt. NotFound "key 'x' not found",
  // NotFound "version 'v' of key 'x' not found" (never a fallback to the primary),
  // FailedPrecondition when the key has no primary version.
  StatusOr<std::shared_ptr<const KeyVersion>> find(std::string_view name,
                                                   std::optional<std::string_view> version) const;
  // Snapshot of one key; nullptr when unknown.
  std::shared_ptr<const KeyEntry> entry(std::string_view name) const;
  // Snapshots of all keys, sorted by name.
  std::vector<std::shared_ptr<const KeyEntry>> entries() const;

 private:
  // Applies `change` to a copy of the key's entry (created when `create`) and publishes it.
  template <typename Change>
  Status update(std::string_view name, bool create, Change&& change);

  mutable std::shared_mutex mutex_;
  std::map<std::string, std::shared_ptr<const KeyEntry>, std::less<>> keys_;
};

}  // namespace skr::agent
