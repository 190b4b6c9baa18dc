#include "init/init_run.h"

#include <map>
#include <memory>
#include <utility>
#include <variant>
#include <vector>

#include "common/crypto/pkey.h"
#include "common/jose/jwk.h"
#include "common/log/logger.h"
#include "common/release/data_delivery.h"
#include "common/release/released_bundle.h"
#include "common/release/token_prefetch.h"
#include "common/seal/bundle.h"

namespace skr::init {
namespace {

using release::ExitCode;
using release::Step;
using release::StepFailure;

InitOutcome failed(const StepFailure& failure, std::string key) {
  InitOutcome outcome;
  outcome.code = release::exitCodeFor(failure);
  outcome.step = std::string(release::stepName(failure.step));
  outcome.key = std::move(key);
  outcome.host = failure.host;
  outcome.message = failure.status.toString();
  outcome.hint = hintFor(outcome.code, outcome.step, failure.status);
  return outcome;
}

InitOutcome failedLocal(ExitCode code, Step step, std::string key, const Status& status) {
  InitOutcome outcome;
  outcome.code = code;
  outcome.step = std::string(release::stepName(step));
  outcome.key = std::move(key);
  outcome.message = status.toString();
  outcome.hint = hintFor(code, outcome.step, status);
  return outcome;
}

// One key's bundle, sealed in memory, waiting to be written.
struct SealedOutput {
  std::string key;
  std::string version;  // empty for a pending bundle
  std::string content;
};

// Writes every output; on failure removes the version files this run created and restores
// nothing else (current is only switched after every version file is in place).
Status writeAll(seal::StateDir& state, const std::vector<SealedOutput>& outputs) {
  std::vector<std::pair<std::string, std::string>> created;  // key, version (or "" for pending)
  auto rollback = [&] {
    for (const auto& [key, version] : created) {
      Status removed =
          version.empty() ? state.removePending(key) : state.removeVersion(key, version);
      if (!removed.ok()) {
        log::warning("init.rollback_failed", {{"key", key}, {"message", removed.message()}});
      }
    }
  };
  for (const SealedOutput& output : outputs) {
    if (output.version.empty()) {
      StatusOr<std::string> existing = state.readPending(output.key, seal::kMaxBundleBytes);
      Status written = state.writePending(output.key, output.content);
      if (!written.ok()) {
        rollback();
        return written.withContext("write " + output.key + "/pending.json");
      }
      if (!existing.ok()) created.emplace_back(output.key, "");
      continue;
    }
    StatusOr<std::string> existing =
        state.readVersion(output.key, output.version, seal::kMaxBundleBytes);
    if (existing.ok()) continue;  // this version is already sealed here: keep that file
    Status written = state.writeVersion(output.key, output.version, output.content);
    if (!written.ok()) {
      rollback();
      return written.withContext("write " + output.key + "/" + output.version + ".json");
    }
    created.emplace_back(output.key, output.version);
  }
  for (const SealedOutput& output : outputs) {
    if (output.version.empty()) continue;
    Status current = state.setCurrent(output.key, output.version);
    if (!current.ok()) return current.withContext("set " + output.key + "/current");
    // A completed release supersedes an earlier attest-and-defer bundle.
    Status removed = state.removePending(output.key);
    if (!removed.ok() && removed.code() != StatusCode::NotFound) {
      log::warning("init.pending_not_removed",
                   {{"key", output.key}, {"message", removed.message()}});
    }
  }
  return Status();
}

// "host[:port]" of an https URL, for progress lines and the failure's host.
std::string hostOf(const std::string& url) {
  const std::size_t start = url.find("://");
  if (start == std::string::npos) return "";
  const std::size_t end = url.find('/', start + 3);
  return url.substr(start + 3, end == std::string::npos ? std::string::npos : end - start - 3);
}

// Checks that every data[] destination can take plaintext (its directory exists and is a tmpfs),
// before anything is asked of Azure.
Status checkDataDestinations(const config::Config& config) {
  for (const config::DataConfig& entry : config.data) {
    StatusOr<std::unique_ptr<release::PlaintextFile>> probe =
        release::PlaintextFile::create(entry.path, static_cast<mode_t>(entry.mode));
    if (!probe.ok()) return probe.status().withContext("data " + entry.name);
  }
  return Status();
}

}  // namespace

void logProgress(const release::ProgressEvent& event) {
  release::logProgress(event, log::Level::Error);
}

std::string hintFor(ExitCode code, std::string_view step, const Status& status) {
  if (step == "data") {
    switch (code) {
      case ExitCode::ReleaseDenied:
        return "Blob Storage refused the read: grant the identity Storage Blob Data Reader on the "
               "container, or check the SAS in data[].sas_file (expiry, permission r)";
      case ExitCode::KeyNotFound:
        return "the blob or the key version is missing: check data[].url, and that the object was "
               "sealed to the version skr-init released (its kid; see docs/encrypted-data.md)";
      case ExitCode::Integrity:
        return "the object does not authenticate: it is corrupted, truncated or not an skr "
               "envelope; produce it again with skrctl seal-data and upload it again";
      case ExitCode::Output:
        return "the plaintext cannot be written: data[].path must be in an existing tmpfs "
               "directory with room for the object";
      default: break;
    }
  }
  switch (code) {
    case ExitCode::Ok: return "";
    case ExitCode::Usage:
      return "fix the configuration key named in the message (see docs/config.md)";
    case ExitCode::Platform:
      return step == "collateral"
                 ? "the AMD certificates could not be obtained: check UVM_SECURITY_CONTEXT_DIR, "
                   "the "
                   "THIM endpoint (IMDS) or access to AMD KDS"
                 : "no usable SEV-SNP evidence source: run in a confidential container group "
                   "(sku Confidential), or set platform: emulated explicitly for tests";
    case ExitCode::Attestation:
      return "MAA rejected the evidence: check the MAA endpoint and that the report and AMD "
             "certificates belong to this platform";
    case ExitCode::Identity:
      return "no access token: check the identity section (managed identity assigned to the "
             "group, or AZURE_CLIENT_ID / AZURE_TENANT_ID / AZURE_FEDERATED_TOKEN_FILE)";
    case ExitCode::ReleaseDenied:
      return status.details().cause == ErrorCause::RoleMissing
                 ? "grant the identity the release role on the key (see the message)"
                 : "the key's release policy does not accept this attestation: compare the "
                   "policy's x-ms-sevsnpvm-hostdata and MAA authority with this platform's "
                   "(skrctl hostdata, az confcom acipolicygen)";
    case ExitCode::KeyNotFound:
      return "check the key name, version and vault in keys[] (the key must exist and be "
             "exportable)";
    case ExitCode::Unavailable:
      return "a dependency did not answer in time: check network, proxy (HTTPS_PROXY/NO_PROXY) "
             "and service health, or raise --timeout";
    case ExitCode::Integrity:
      return "a signature, certificate chain or unwrap check failed: check tls.ca_file and that "
             "the vault and MAA hosts are the real ones; do not retry blindly";
    case ExitCode::Output:
      return "the state directory or sealing failed: check state_dir (a tmpfs owned by this "
             "user, not group/world writable) and the seal section";
  }
  return "";
}

InitOutcome runInit(const config::Config& config, release::ReleaseServices& services, Clock& clock,
                    http::JitterSource& jitter, const InitRunOptions& options) {
  // The largest cost first, on its own thread (joined by the attestation, or on return).
  std::optional<release::TransferKeyGeneration> own_generation;
  release::TransferKeyGeneration* generation = options.transfer_key;
  if (generation == nullptr) {
    own_generation.emplace(config.attestation.transfer_key_bits, clock,
                           services.flowOptions(config).generate_transfer_key);
    generation = &*own_generation;
  }

  // Check the output first: a run that cannot write should fail before it asks Azure for keys.
  std::optional<seal::StateDir> state;
  {
    seal::StateDirOptions state_options;
    state_options.path = config.state_dir;
    state_options.group = config.seal.group;
    state_options.create = !options.dry_run;
    state_options.on_write_step = options.on_write_step;
    StatusOr<seal::StateDir> opened = seal::StateDir::open(std::move(state_options));
    if (!opened.ok() && !(options.dry_run && opened.status().code() == StatusCode::NotFound)) {
      return failedLocal(ExitCode::Output, Step::Write, "",
                         opened.status().withContext("state_dir"));
    }
    if (opened.ok()) state.emplace(std::move(opened).value());
  }
  if (services.sealing->kind() != seal::SealProviderKind::None) {
    StatusOr<SecretBytes> sealing_key = services.sealing->sealingKey();
    if (!sealing_key.ok()) {
      return failedLocal(ExitCode::Output, Step::Seal, "",
                         sealing_key.status().withContext("seal.provider"));
    }
  }

  const bool defer = !services.tokens;
  if (!config.data.empty()) {
    if (defer) {
      return failedLocal(
          ExitCode::Usage, Step::Data, config.data.front().name,
          failedPreconditionError(
              "data[] is opened with the key skr-init releases, but identity kind none defers "
              "the release to skr-agent: let apps open it through the agent (POST /data/open), "
              "or give skr-init an identity"));
    }
    if (!services.data_sources) {
      return failedLocal(ExitCode::Usage, Step::Data, config.data.front().name,
                         failedPreconditionError("no source for data[] entries is configured"));
    }
    if (Status ok = checkDataDestinations(config); !ok.ok()) {
      return failedLocal(ExitCode::Output, Step::Data, "", ok);
    }
  }
  // Every vault's access token, requested while the attestation runs; a failure is reported by
  // the release that needs the token, as before.
  std::optional<release::TokenPrefetch> tokens;
  if (!defer && !options.dry_run) {
    std::vector<std::string> resources;
    for (const config::KeyConfig& key : config.keys) {
      resources.push_back(services.tokenResourceFor(key));
    }
    tokens.emplace(*services.tokens, std::move(resources));
  }
  release::ReleaseFlow attest_flow(*services.device, *services.collateral, *services.maa, nullptr,
                                   clock, services.flowOptions(config), logProgress);
  release::StepResult<release::Attestation> attested =
      attest_flow.attest(*generation, options.deadline);
  if (auto* failure = std::get_if<StepFailure>(&attested)) return failed(*failure, "");
  release::Attestation& attestation = std::get<release::Attestation>(attested);
  log::info("attested", {{"platform", attestation.platform},
                         {"maa", attestation.maa.issuer},
                         {"hostdata", attestation.maa.hostdata},
                         {"emulated", attestation.maa.emulated}});

  std::vector<SealedOutput> outputs;
  std::vector<azure::ReleasedKey> released_keys;  // kept for data[]: reserve so pointers hold
  released_keys.reserve(config.keys.size());
  std::vector<std::string> released_names;
  for (const config::KeyConfig& key : config.keys) {
    if (defer) {
      auto start = clock.steadyNow();
      StatusOr<std::string> pending =
          release::sealPendingRelease(config, attestation, key, *services.sealing, clock.now());
      release::ProgressEvent event{
          Step::Seal,
          key.name,
          "",
          std::chrono::duration_cast<std::chrono::milliseconds>(clock.steadyNow() - start),
          1,
          pending.ok() ? Status() : pending.status()};
      logProgress(event);
      if (!pending.ok())
        return failedLocal(ExitCode::Output, Step::Seal, key.name, pending.status());
      outputs.push_back({key.name, "", std::move(pending).value()});
      continue;
    }
    if (options.dry_run) continue;
    StatusOr<std::unique_ptr<azure::KeyVaultClient>> client =
        services.vaultClientFor(key, clock, jitter, *tokens);
    if (!client.ok()) return failedLocal(ExitCode::Usage, Step::Release, key.name, client.status());
    release::ReleaseFlow flow(*services.device, *services.collateral, *services.maa, client->get(),
                              clock, services.flowOptions(config), logProgress);
    azure::VaultKeyRef ref{key.vault_url, key.name, key.version};
    release::StepResult<azure::ReleasedKey> released =
        flow.release(attestation, ref, options.deadline);
    if (auto* failure = std::get_if<StepFailure>(&released)) return failed(*failure, key.name);
    azure::ReleasedKey& key_released = std::get<azure::ReleasedKey>(released);

    auto start = clock.steadyNow();
    StatusOr<std::string> sealed = release::sealReleasedKey(config, attestation, key, key_released,
                                                            *services.sealing, clock.now());
    logProgress({Step::Seal, key.name, "",
                 std::chrono::duration_cast<std::chrono::milliseconds>(clock.steadyNow() - start),
                 1, sealed.ok() ? Status() : sealed.status()});
    if (!sealed.ok()) return failedLocal(ExitCode::Output, Step::Seal, key.name, sealed.status());
    outputs.push_back({key.name, key_released.version, std::move(sealed).value()});
    released_keys.push_back(std::move(key_released));
    released_names.push_back(key.name);
  }

  // Encrypted data: opened into unnamed files now, named only when everything succeeded.
  std::vector<std::unique_ptr<release::PlaintextFile>> data_files;
  uint64_t data_bytes = 0;
  for (const config::DataConfig& entry : config.data) {
    if (options.dry_run) break;
    const auto start = clock.steadyNow();
    auto report = [&](const Status& status) {
      logProgress({Step::Data, entry.name, hostOf(entry.url),
                   std::chrono::duration_cast<std::chrono::milliseconds>(clock.steadyNow() - start),
                   1, status});
    };
    release::ReleasedKeyResolver resolver;
    for (std::size_t i = 0; i < released_keys.size(); ++i) {
      if (released_names[i] == entry.key) resolver.add(released_keys[i]);
    }
    StatusOr<std::unique_ptr<release::PlaintextFile>> file =
        release::PlaintextFile::create(entry.path, static_cast<mode_t>(entry.mode));
    if (!file.ok()) {
      report(file.status());
      return failedLocal(ExitCode::Output, Step::Data, entry.name, file.status());
    }
    StatusOr<std::unique_ptr<data::ObjectSource>> source =
        services.data_sources(entry, clock, jitter);
    StatusOr<data::OpenedObject> opened = source.ok()
                                              ? data::openObject(**source, resolver, **file)
                                              : StatusOr<data::OpenedObject>(source.status());
    report(opened.ok() ? Status() : opened.status());
    if (!opened.ok()) {
      return failed(StepFailure{Step::Data, hostOf(entry.url),
                                opened.status().withContext("data " + entry.name)},
                    entry.key);
    }
    log::info("data.opened", {{"name", entry.name},
                              {"kid", opened->header.kid},
                              {"form", data::envelopeFormName(opened->header.form)},
                              {"bytes", static_cast<int64_t>(opened->plaintext_bytes)}});
    data_bytes += opened->plaintext_bytes;
    data_files.push_back(std::move(file).value());
  }

  InitOutcome outcome;
  if (options.dry_run) {
    outcome.message = "dry run: attested on " + attestation.platform + " (MAA " +
                      attestation.maa.issuer + ", hostdata " + attestation.maa.hostdata +
                      "); state directory and sealing checked; nothing released or written";
    return outcome;
  }
  auto start = clock.steadyNow();
  // Plaintext files get their names first: they are easy to take back if the bundles fail.
  Status written;
  for (std::size_t i = 0; i < data_files.size() && written.ok(); ++i) {
    written = data_files[i]->commit().withContext("data " + config.data[i].name);
  }
  if (written.ok()) written = writeAll(*state, outputs);
  if (!written.ok()) {
    for (auto& file : data_files) {
      if (Status removed = file->removeCommitted(); !removed.ok()) {
        log::warning("init.rollback_failed",
                     {{"path", file->path()}, {"message", removed.message()}});
      }
    }
  }
  logProgress({Step::Write, "", "",
               std::chrono::duration_cast<std::chrono::milliseconds>(clock.steadyNow() - start), 1,
               written});
  if (!written.ok()) return failedLocal(ExitCode::Output, Step::Write, "", written);

  outcome.message = defer ? "attest-and-defer: wrote " + std::to_string(outputs.size()) +
                                " pending bundle(s); skr-agent completes the release with the "
                                "group's identity"
                          : "released and sealed " + std::to_string(outputs.size()) +
                                " key(s) into " + config.state_dir;
  if (!data_files.empty()) {
    outcome.message += "; opened " + std::to_string(data_files.size()) + " encrypted object(s), " +
                       std::to_string(data_bytes) + " bytes of plaintext";
  }
  return outcome;
}

}  // namespace skr::init
