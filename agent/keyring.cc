#include "agent/keyring.h"

#include <algorithm>
#include <mutex>
#include <utility>

namespace skr::agent {
namespace {

// The router answers 404 VersionNotFound (not KeyNotFound) for this cause.
Status versionNotFound(std::string_view version, std::string_view key) {
  ErrorDetails details;
  details.cause = ErrorCause::VersionNotFound;
  return notFoundError("version '" + std::string(version) + "' of key '" + std::string(key) +
                       "' not found")
      .withDetails(std::move(details));
}

}  // namespace

std::shared_ptr<const KeyVersion> KeyEntry::primaryVersion() const {
  if (primary.empty()) return nullptr;
  auto it = versions.find(primary);
  return it == versions.end() ? nullptr : it->second;
}

template <typename Change>
Status Keyring::update(std::string_view name, bool create, Change&& change) {
  std::unique_lock lock(mutex_);
  auto it = keys_.find(name);
  KeyEntry copy;
  if (it != keys_.end()) {
    copy = *it->second;
  } else if (create) {
    copy.name = std::string(name);
  } else {
    return notFoundError("key '" + std::string(name) + "' not found");
  }
  SKR_RETURN_IF_ERROR(change(copy));
  auto published = std::make_shared<const KeyEntry>(std::move(copy));
  if (it != keys_.end()) {
    it->second = std::move(published);
  } else {
    keys_.emplace(std::string(name), std::move(published));
  }
  return okStatus();
}

Status Keyring::addVersion(KeyVersion version, bool make_primary) {
  if (version.name.empty() || version.version.empty() || version.key == nullptr) {
    return invalidArgumentError("key version needs a name, a version and key material");
  }
  if (!version.key->hasPrivate()) {
    return invalidArgumentError("version '" + version.version + "' of key '" + version.name +
                                "' has no private or symmetric part");
  }
  const std::string name = version.name;
  auto shared = std::make_shared<const KeyVersion>(std::move(version));
  return update(name, /*create=*/true, [&](KeyEntry& entry) {
    entry.versions[shared->version] = shared;
    if (make_primary || entry.primaryVersion() == nullptr) entry.primary = shared->version;
    ++entry.changes;
    return okStatus();
  });
}

Status Keyring::setPrimary(std::string_view name, std::string_view version) {
  return update(name, /*create=*/false, [&](KeyEntry& entry) {
    if (entry.versions.count(std::string(version)) == 0) {
      return versionNotFound(version, entry.name);
    }
    if (entry.primary != version) {
      entry.primary = std::string(version);
      ++entry.changes;
    }
    return okStatus();
  });
}

Status Keyring::retire(std::string_view name, std::string_view version) {
  return update(name, /*create=*/false, [&](KeyEntry& entry) {
    auto it = entry.versions.find(std::string(version));
    if (it == entry.versions.end()) {
      return versionNotFound(version, entry.name);
    }
    if (entry.primary == version) {
      return failedPreconditionError("version '" + std::string(version) +
                                     "' is the primary of key '" + entry.name +
                                     "'; rotate to another version before retiring it");
    }
    entry.versions.erase(it);
    ++entry.changes;
    return okStatus();
  });
}

void Keyring::setLastError(std::string_view name, std::string message) {
  update(name, /*create=*/true, [&](KeyEntry& entry) {
    entry.last_error = std::move(message);
    return okStatus();
  }).ignoreError();
}

void Keyring::declare(std::string_view name) {
  update(name, /*create=*/true, [](KeyEntry&) { return okStatus(); }).ignoreError();
}

void Keyring::setGeneration(std::string_view name, uint64_t generation) {
  update(name, /*create=*/true, [&](KeyEntry& entry) {
    entry.generation = generation;
    return okStatus();
  }).ignoreError();
}

StatusOr<std::shared_ptr<const KeyVersion>> Keyring::find(
    std::string_view name, std::optional<std::string_view> version) const {
  std::shared_ptr<const KeyEntry> snapshot = entry(name);
  if (snapshot == nullptr) return notFoundError("key '" + std::string(name) + "' not found");
  if (!version) {
    std::shared_ptr<const KeyVersion> primary = snapshot->primaryVersion();
    if (primary == nullptr) {
      return failedPreconditionError("key '" + std::string(name) + "' has no primary version" +
                                     (snapshot->last_error.empty()
                                          ? std::string()
                                          : " (last error: " + snapshot->last_error + ")"));
    }
    return primary;
  }
  auto it = snapshot->versions.find(std::string(*version));
  if (it == snapshot->versions.end()) {
    return versionNotFound(*version, name);
  }
  return it->second;
}

std::shared_ptr<const KeyEntry> Keyring::entry(std::string_view name) const {
  std::shared_lock lock(mutex_);
  auto it = keys_.find(name);
  return it == keys_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<const KeyEntry>> Keyring::entries() const {
  std::shared_lock lock(mutex_);
  std::vector<std::shared_ptr<const KeyEntry>> out;
  out.reserve(keys_.size());
  for (const auto& [name, entry] : keys_) out.push_back(entry);
  return out;
}

namespace {

// Opens one {key}/{version}.json and checks that it belongs where it lies.
StatusOr<KeyVersion> openVersion(const seal::StateDir& state_dir, const std::string& key,
                                 const std::string& version,
                                 const seal::SealingKeyProvider& provider,
                                 const seal::OpenOptions& options) {
  SKR_ASSIGN_OR_RETURN(std::string text,
                       state_dir.readVersion(key, version, seal::kMaxBundleBytes));
  SKR_ASSIGN_OR_RETURN(seal::SealedBundle bundle, seal::SealedBundle::parse(text));
  const seal::BundleInfo& info = bundle.info();
  if (info.kind != seal::BundleKind::Key) {
    return invalidArgumentError("bundle is of kind '" +
                                std::string(seal::bundleKindName(info.kind)) + "', not 'key'");
  }
  if (info.key_name != key) {
    return dataLossError("bundle names key '" + info.key_name + "' but lies in directory '" + key +
                         "'");
  }
  SKR_ASSIGN_OR_RETURN(KidParts kid, parseKid(info.kid));
  if (kid.name != key || kid.version != version) {
    return dataLossError("bundle kid names " + kid.name + "/" + kid.version + " but the file is " +
                         key + "/" + version + ".json");
  }
  SKR_ASSIGN_OR_RETURN(jose::Jwk jwk, seal::openKey(bundle, provider, options));
  KeyVersion out;
  out.name = key;
  out.version = version;
  out.kid = info.kid;
  out.kty = bundle.kty();
  out.key_ops = info.key_ops;
  out.released_at = info.released_at;
  out.emulated = info.emulated;
  out.key = std::make_shared<const jose::Jwk>(std::move(jwk));
  return out;
}

}  // namespace

StatusOr<std::vector<KeyLoadResult>> Keyring::loadFromStateDir(
    const seal::StateDir& state_dir, const seal::SealingKeyProvider& provider,
    const seal::OpenOptions& options) {
  SKR_ASSIGN_OR_RETURN(std::vector<std::string> keys, state_dir.listKeys());
  std::vector<KeyLoadResult> results;
  for (const std::string& key : keys) {
    KeyLoadResult result;
    result.name = key;
    // On a reload, the primary this process verified before (at start or by a rotation).
    const std::shared_ptr<const KeyEntry> before = entry(key);
    const std::string previous_primary = before != nullptr ? before->primary : std::string();
    StatusOr<std::vector<std::string>> versions = state_dir.listVersions(key);
    if (!versions.ok()) {
      result.errors.push_back({key + "/", versions.status()});
    } else {
      for (const std::string& version : *versions) {
        const std::string file = key + "/" + version + ".json";
        StatusOr<KeyVersion> opened = openVersion(state_dir, key, version, provider, options);
        if (!opened.ok()) {
          result.errors.push_back({file, opened.status()});
          continue;
        }
        Status added = addVersion(std::move(opened).value(), /*make_primary=*/false);
        if (!added.ok()) {
          result.errors.push_back({file, added});
          continue;
        }
        result.loaded_versions.push_back(version);
      }
    }
    StatusOr<std::string> current = state_dir.current(key);
    if (!current.ok()) {
      result.errors.push_back({key + "/current", current.status()});
    } else if (std::find(result.loaded_versions.begin(), result.loaded_versions.end(), *current) ==
               result.loaded_versions.end()) {
      result.errors.push_back(
          {key + "/current",
           notFoundError("current names version '" + *current + "', which did not load")});
    } else if (Status s = setPrimary(key, *current); !s.ok()) {
      result.errors.push_back({key + "/current", s});
    } else {
      result.primary = *current;
    }
    if (result.primary.empty()) {
      // Without a verified `current` no version is primary: never guess one. A reload that
      // cannot verify `current` changes nothing: the primary verified earlier keeps serving.
      update(key, /*create=*/true, [&](KeyEntry& entry) {
        if (entry.versions.count(previous_primary) != 0) {
          entry.primary = previous_primary;
        } else {
          entry.primary.clear();
        }
        return okStatus();
      }).ignoreError();
    }
    if (StatusOr<uint64_t> generation = state_dir.generation(key); generation.ok()) {
      setGeneration(key, *generation);
    } else {
      result.errors.push_back({key + "/generation", generation.status()});
    }
    std::string last_error;
    for (const FileLoadError& e : result.errors) {
      if (!last_error.empty()) last_error += "; ";
      last_error += e.file + ": " + e.status.toString();
    }
    setLastError(key, std::move(last_error));
    results.push_back(std::move(result));
  }
  return results;
}

}  // namespace skr::agent
