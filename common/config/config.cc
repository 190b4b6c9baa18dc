// Names, cross-field validation and the description of a Config (the YAML reading is in
// config_yaml.cc, the environment in config_load.cc).
#include "common/config/config.h"

#include <set>

#include "common/config/config_values.h"
#include "common/crypto/digest.h"
#include "common/encoding/hex.h"
#include "common/encoding/json_writer.h"
#include "common/seal/bundle.h"

namespace skr::config {
namespace {

constexpr std::size_t kMaxSocketPath = 107;  // sun_path is 108 bytes with the NUL
constexpr const char* kOperations[] = {"unwrap", "wrap",   "decrypt", "encrypt",   "rewrap", "keys",
                                       "events", "attest", "release", "open-data", "*"};

std::string octal(uint32_t mode) {
  std::string out;
  do {
    out.insert(out.begin(), static_cast<char>('0' + (mode & 7)));
    mode >>= 3;
  } while (mode != 0);
  return "0" + out;
}

Status fail(const std::string& path, const std::string& message) {
  return invalidArgumentError(path + ": " + message);
}

Status checkAbsolutePath(const std::string& path, const std::string& value) {
  if (value.empty()) return fail(path, "must not be empty");
  if (value.front() != '/') return fail(path, quotedForMessage(value) + " is not an absolute path");
  if (value.size() > 4096) return fail(path, "longer than 4096 bytes");
  return okStatus();
}

Status checkOptionalPath(const std::string& path, const std::string& value) {
  if (value.empty()) return okStatus();
  return checkAbsolutePath(path, value);
}

Status checkSocketPath(const std::string& path, const std::string& value) {
  SKR_RETURN_IF_ERROR(checkAbsolutePath(path, value));
  if (value.size() > kMaxSocketPath) {
    return fail(path, std::to_string(value.size()) + " bytes, a Unix socket path holds at most " +
                          std::to_string(kMaxSocketPath));
  }
  return okStatus();
}

Status checkUrlField(const std::string& path, const std::string& value, UrlPolicy policy) {
  auto checked = checkUrl(path, value, policy);
  return checked.ok() ? okStatus() : checked.status();
}

bool isHex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!hex) return false;
  }
  return true;
}

// agent.data: https prefixes ending in "/" (so "https://acct.blob.core.windows.net/" cannot be
// extended to another host), without query or fragment.
Status validateAgentData(const AgentDataConfig& d) {
  constexpr std::size_t kMaxSources = 64;
  constexpr std::size_t kMaxSourceBytes = 2048;
  if (d.sources.size() > kMaxSources) {
    return fail("agent.data.sources", std::to_string(d.sources.size()) + " entries; at most " +
                                          std::to_string(kMaxSources));
  }
  for (std::size_t i = 0; i < d.sources.size(); ++i) {
    const std::string path = "agent.data.sources[" + std::to_string(i) + "]";
    const std::string& source = d.sources[i];
    if (source.size() > kMaxSourceBytes) {
      return fail(path, "longer than " + std::to_string(kMaxSourceBytes) + " bytes");
    }
    if (source.rfind("https://", 0) != 0 || source.back() != '/') {
      return fail(path, quotedForMessage(source) +
                            " is not an https URL prefix ending in \"/\" (e.g. "
                            "https://myaccount.blob.core.windows.net/models/)");
    }
    const std::size_t host_end = source.find('/', 8);
    if (host_end == 8) return fail(path, quotedForMessage(source) + " has no host");
    SKR_RETURN_IF_ERROR(checkUrlField(path, source, UrlPolicy{true, false}));
  }
  if (d.max_concurrent < 1 || d.max_concurrent > 64) {
    return fail("agent.data.max_concurrent", std::to_string(d.max_concurrent) + " is not 1..64");
  }
  return okStatus();
}

Status validatePlatform(const PlatformConfig& p) {
  if (p.kind == snp::PlatformKind::Emulated && p.chip_dir.empty()) {
    return fail("platform.chip_dir",
                "required for platform emulated (the emulator's chip directory)");
  }
  if (p.vmpl > 3) return fail("platform.vmpl", std::to_string(p.vmpl) + " is not 0..3");
  SKR_RETURN_IF_ERROR(checkAbsolutePath("platform.sev_guest_path", p.sev_guest_path));
  SKR_RETURN_IF_ERROR(checkAbsolutePath("platform.sev_legacy_path", p.sev_legacy_path));
  SKR_RETURN_IF_ERROR(checkAbsolutePath("platform.tsm_report_dir", p.tsm_report_dir));
  return okStatus();
}

Status validateAttestation(const AttestationConfig& a, bool have_keys) {
  if (a.maa_endpoint.empty()) {
    if (have_keys) return fail("attestation.maa_endpoint", "required when keys are configured");
  } else {
    SKR_RETURN_IF_ERROR(checkUrlField("attestation.maa_endpoint", a.maa_endpoint, UrlPolicy{}));
  }
  if (a.api_version.empty()) return fail("attestation.api_version", "must not be empty");
  if (a.transfer_key_bits != 2048 && a.transfer_key_bits != 3072 && a.transfer_key_bits != 4096) {
    return fail("attestation.transfer_key_bits",
                std::to_string(a.transfer_key_bits) + " is not one of 2048 | 3072 | 4096");
  }
  const CollateralConfig& c = a.collateral;
  if (!c.security_context && !c.thim && !c.kds) {
    return fail("attestation.collateral.sources", "at least one source is required");
  }
  if (c.security_context_dir) {
    SKR_RETURN_IF_ERROR(
        checkAbsolutePath("attestation.collateral.security_context_dir", *c.security_context_dir));
  }
  SKR_RETURN_IF_ERROR(checkUrlField("attestation.collateral.thim_url", c.thim_url,
                                    UrlPolicy{.allow_path = true, .allow_http = true}));
  SKR_RETURN_IF_ERROR(checkUrlField("attestation.collateral.kds_url", c.kds_url, UrlPolicy{}));
  return okStatus();
}

Status validateIdentity(const IdentityConfig& id) {
  const std::string kind(identityKindName(id.kind));
  // Fields that belong to one kind only.
  struct Field {
    const char* name;
    bool set;
    bool allowed;
  };
  const bool managed = id.kind == IdentityKind::Managed;
  const bool workload = id.kind == IdentityKind::Workload;
  const Field fields[] = {
      {"client_id", !id.client_id.empty(), managed || workload},
      {"object_id", !id.object_id.empty(), managed},
      {"msi_res_id", !id.msi_res_id.empty(), managed},
      {"tenant_id", !id.tenant_id.empty(), workload},
      {"federated_token_file", !id.federated_token_file.empty(), workload},
      {"token_file", !id.token_file.empty(), id.kind == IdentityKind::TokenFile},
  };
  if (!id.token.empty() && id.kind != IdentityKind::Token) {
    return fail("identity.token",
                "a literal token is only allowed with kind token (kind is " + kind + ")");
  }
  for (const Field& f : fields) {
    if (f.set && !f.allowed) {
      return fail(std::string("identity.") + f.name, "not used with kind " + kind);
    }
  }
  if (managed) {
    const int selectors =
        int{!id.client_id.empty()} + int{!id.object_id.empty()} + int{!id.msi_res_id.empty()};
    if (selectors > 1) {
      return fail("identity",
                  "at most one of client_id, object_id, msi_res_id selects the managed identity");
    }
  }
  if (workload) {
    if (id.client_id.empty()) {
      return fail("identity.client_id", "required for kind workload (or set AZURE_CLIENT_ID)");
    }
    if (id.tenant_id.empty()) {
      return fail("identity.tenant_id", "required for kind workload (or set AZURE_TENANT_ID)");
    }
    if (id.federated_token_file.empty()) {
      return fail("identity.federated_token_file",
                  "required for kind workload (or set AZURE_FEDERATED_TOKEN_FILE)");
    }
  }
  if (id.kind == IdentityKind::TokenFile && id.token_file.empty()) {
    return fail("identity.token_file", "required for kind token-file");
  }
  if (id.kind == IdentityKind::Token && id.token.empty()) {
    return fail("identity.token", "required for kind token");
  }
  SKR_RETURN_IF_ERROR(checkUrlField("identity.imds_endpoint", id.imds_endpoint,
                                    UrlPolicy{.allow_path = false, .allow_http = true}));
  SKR_RETURN_IF_ERROR(checkUrlField("identity.authority_host", id.authority_host, UrlPolicy{}));
  for (const auto& [host, resource] : id.resource_overrides) {
    const std::string path = "identity.resource_overrides." + host;
    // The same host[:port] syntax as the authority of an endpoint URL (DNS name characters or a
    // bracketed IPv6 literal, port 1..65535): a key of arbitrary bytes (control characters,
    // invalid UTF-8) could never match a vault's authority and would not survive describeConfig().
    if (host.empty() || host.find_first_of("/?#@") != std::string::npos ||
        !checkUrl("identity.resource_overrides", "https://" + host, UrlPolicy{}).ok()) {
      return fail("identity.resource_overrides", quotedForMessage(host) + " is not host[:port]");
    }
    if (resource != "https://vault.azure.net" && resource != "https://managedhsm.azure.net") {
      return fail(path,
                  quotedForMessage(resource) +
                      " is not one of https://vault.azure.net | https://managedhsm.azure.net");
    }
  }
  return okStatus();
}

Status validateKeys(const std::vector<KeyConfig>& keys) {
  if (keys.size() > kMaxKeys) {
    return fail("keys", std::to_string(keys.size()) + " keys, at most " + std::to_string(kMaxKeys));
  }
  std::set<std::string> names;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const KeyConfig& k = keys[i];
    const std::string path = "keys[" + std::to_string(i) + "]";
    Status name_ok = seal::validateKeyName(k.name);
    if (!name_ok.ok()) return fail(path + ".name", name_ok.message());
    if (!names.insert(k.name).second) {
      return fail(path + ".name", "duplicate key name " + quotedForMessage(k.name));
    }
    if (k.vault_url.empty()) return fail(path, "one of vault or mhsm is required");
    SKR_RETURN_IF_ERROR(
        checkUrlField(path + (k.managed_hsm ? ".mhsm" : ".vault"), k.vault_url, UrlPolicy{}));
    if (!k.version.empty()) {
      Status version_ok = seal::validateKeyName(k.version);
      if (!version_ok.ok()) {
        return fail(path + ".version", quotedForMessage(k.version) + " is not [0-9a-zA-Z-]{1,127}");
      }
    }
    if (k.api_version.empty()) return fail(path + ".api_version", "must not be empty");
  }
  return okStatus();
}

// data[]: each entry names a configured key, a blob URL without a query (a SAS is a secret: it
// goes in sas_file, never in the measured configuration), and a destination nobody else may
// write; names and destinations are unique.
Status validateData(const Config& config) {
  if (config.data.size() > kMaxDataEntries) {
    return fail("data", std::to_string(config.data.size()) + " entries, at most " +
                            std::to_string(kMaxDataEntries));
  }
  std::set<std::string> names, paths;
  for (std::size_t i = 0; i < config.data.size(); ++i) {
    const DataConfig& d = config.data[i];
    const std::string path = "data[" + std::to_string(i) + "]";
    Status name_ok = seal::validateKeyName(d.name);
    if (!name_ok.ok()) return fail(path + ".name", name_ok.message());
    if (!names.insert(d.name).second) {
      return fail(path + ".name", "duplicate data name " + quotedForMessage(d.name));
    }
    if (d.url.empty()) return fail(path + ".url", "required");
    if (d.url.find_first_of("?#") != std::string::npos) {
      return fail(path + ".url",
                  "must not carry a query or fragment: put a SAS token in sas_file (a secret "
                  "volume), not in the configuration");
    }
    StatusOr<std::string> url = checkUrl(path + ".url", d.url, UrlPolicy{true, false});
    if (!url.ok()) return url.status();
    const std::size_t authority_end = d.url.find('/', d.url.find("://") + 3);
    if (authority_end == std::string::npos || authority_end + 1 >= d.url.size()) {
      return fail(path + ".url", quotedForMessage(d.url) +
                                     " names no blob (expected "
                                     "https://ACCOUNT.blob.core.windows.net/CONTAINER/BLOB)");
    }
    if (d.key.empty()) return fail(path + ".key", "required (a keys[] name)");
    bool configured = false;
    for (const KeyConfig& k : config.keys) configured = configured || k.name == d.key;
    if (!configured) {
      return fail(path + ".key", quotedForMessage(d.key) + " is not a name in keys[]");
    }
    SKR_RETURN_IF_ERROR(checkAbsolutePath(path + ".path", d.path));
    if (d.path.back() == '/' || d.path.find("/../") != std::string::npos ||
        d.path.ends_with("/..") || d.path.find("/./") != std::string::npos ||
        d.path.ends_with("/.")) {
      return fail(path + ".path", quotedForMessage(d.path) + " must name a file, without . or ..");
    }
    if (!paths.insert(d.path).second) {
      return fail(path + ".path", "another data entry writes " + quotedForMessage(d.path));
    }
    if ((d.mode & 0022) != 0 || d.mode > 0777) {
      return fail(path + ".mode", octal(d.mode) +
                                      " lets group or others write the plaintext; "
                                      "use 0400, 0440 or 0444");
    }
    if (d.auth == DataAuth::Sas) {
      if (d.sas_file.empty()) return fail(path + ".sas_file", "required for auth sas");
      SKR_RETURN_IF_ERROR(checkAbsolutePath(path + ".sas_file", d.sas_file));
    } else if (!d.sas_file.empty()) {
      return fail(path + ".sas_file", "only used with auth sas");
    }
  }
  return okStatus();
}

Status validateSeal(const Config& config) {
  const SealConfig& s = config.seal;
  if (s.provider == seal::SealProviderKind::Keyfile) {
    if (s.keyfile.empty()) return fail("seal.keyfile", "required for provider keyfile");
    SKR_RETURN_IF_ERROR(checkAbsolutePath("seal.keyfile", s.keyfile));
  } else if (!s.keyfile.empty()) {
    return fail("seal.keyfile", std::string("only used with provider keyfile (provider is ") +
                                    std::string(seal::sealProviderName(s.provider)) + ")");
  }
  if (s.provider == seal::SealProviderKind::Emulated && config.platform.chip_dir.empty()) {
    return fail("seal.provider", "emulated needs platform.chip_dir (the emulated chip)");
  }
  return okStatus();
}

Status validateRetry(const RetryConfig& r) {
  if (r.max_attempts < 1 || r.max_attempts > 100) {
    return fail("retry.max_attempts", std::to_string(r.max_attempts) + " is not 1..100");
  }
  if (r.base.count() <= 0) return fail("retry.base", "must be positive");
  if (r.cap < r.base) return fail("retry.cap", "must not be below retry.base");
  if (r.overall.count() <= 0) return fail("retry.overall", "must be positive");
  return okStatus();
}

Status validateClients(const AgentConfig& agent, const std::vector<KeyConfig>& keys) {
  std::set<std::string> names;
  for (std::size_t i = 0; i < agent.clients.size(); ++i) {
    const ClientRule& c = agent.clients[i];
    const std::string path = "agent.clients[" + std::to_string(i) + "]";
    if (c.name.empty()) return fail(path + ".name", "required");
    if (!names.insert(c.name).second) {
      return fail(path + ".name", "duplicate client name " + quotedForMessage(c.name));
    }
    if (c.uids.empty() && c.gids.empty()) {
      return fail(path, "needs uids or gids (a rule without them matches nobody)");
    }
    if (c.operations.empty()) return fail(path + ".operations", "must not be empty");
    for (std::size_t j = 0; j < c.operations.size(); ++j) {
      bool known = false;
      for (const char* op : kOperations) known = known || c.operations[j] == op;
      if (!known) {
        return fail(path + ".operations[" + std::to_string(j) + "]",
                    "unknown operation " + quotedForMessage(c.operations[j]) +
                        ", expected unwrap | wrap | decrypt | encrypt | rewrap | keys | events | "
                        "attest | release | *");
      }
    }
    if (c.keys.empty()) return fail(path + ".keys", "must not be empty (use \"*\" for all keys)");
    for (std::size_t j = 0; j < c.keys.size(); ++j) {
      const std::string& name = c.keys[j];
      if (name == "*") continue;
      const std::string key_path = path + ".keys[" + std::to_string(j) + "]";
      Status name_ok = seal::validateKeyName(name);
      if (!name_ok.ok()) return fail(key_path, name_ok.message());
      bool configured = false;
      for (const KeyConfig& k : keys) configured = configured || k.name == name;
      if (!configured) {
        return fail(key_path, quotedForMessage(name) + " is not a configured key");
      }
    }
    if (c.token_sha256 && !isHex64(*c.token_sha256)) {
      return fail(path + ".token_sha256", "expected 64 hex digits (the SHA-256 of the token)");
    }
  }
  return okStatus();
}

Status validateAgent(const Config& config) {
  const AgentConfig& a = config.agent;
  SKR_RETURN_IF_ERROR(checkSocketPath("agent.client_socket", a.client_socket));
  SKR_RETURN_IF_ERROR(checkSocketPath("agent.admin_socket", a.admin_socket));
  if (a.client_socket == a.admin_socket) {
    return fail("agent.admin_socket", "must differ from agent.client_socket");
  }
  if (a.socket_mode > 0777) return fail("agent.socket_mode", "is above 0777");
  SKR_RETURN_IF_ERROR(validateClients(a, config.keys));
  const AgentLimits& l = a.limits;
  if (l.max_body_bytes < 1024 || l.max_body_bytes > (64u << 20)) {
    return fail("agent.limits.max_body_bytes",
                std::to_string(l.max_body_bytes) + " is not 1024..67108864");
  }
  if (l.max_header_bytes < 1024 || l.max_header_bytes > (1u << 20)) {
    return fail("agent.limits.max_header_bytes",
                std::to_string(l.max_header_bytes) + " is not 1024..1048576");
  }
  if (l.max_connections < 1 || l.max_connections > 65536) {
    return fail("agent.limits.max_connections",
                std::to_string(l.max_connections) + " is not 1..65536");
  }
  for (const auto& [name, value] :
       {std::pair<const char*, int>{"agent.limits.admin_connections", l.admin_connections},
        {"agent.limits.unknown_peer_connections", l.unknown_peer_connections},
        {"agent.limits.max_connections_per_uid", l.max_connections_per_uid}}) {
    if (value < 1 || value > 65536) return fail(name, std::to_string(value) + " is not 1..65536");
  }
  if (l.max_buffered_body_bytes != 0 &&
      (l.max_buffered_body_bytes < l.max_body_bytes || l.max_buffered_body_bytes > (1u << 30))) {
    return fail("agent.limits.max_buffered_body_bytes",
                std::to_string(l.max_buffered_body_bytes) +
                    " is not 0 (4 x max_body_bytes) or max_body_bytes (" +
                    std::to_string(l.max_body_bytes) + ")..1073741824");
  }
  if (l.header_timeout.count() <= 0) {
    return fail("agent.limits.header_timeout", "must be positive");
  }
  if (l.idle_timeout.count() <= 0) return fail("agent.limits.idle_timeout", "must be positive");
  if (l.read_timeout.count() <= 0) return fail("agent.limits.read_timeout", "must be positive");
  if (a.rotation_interval.count() < 0) return fail("agent.rotation_interval", "is negative");
  if (a.rotation_jitter.count() < 0) return fail("agent.rotation_jitter", "is negative");
  if (a.rotation_interval.count() > 0 && a.rotation_jitter > a.rotation_interval) {
    return fail("agent.rotation_jitter", "must not exceed agent.rotation_interval");
  }
  if (a.workers < 1 || a.workers > 256) {
    return fail("agent.workers", std::to_string(a.workers) + " is not 1..256");
  }
  const AzureSidecarCompat& s = a.azure_sidecar;
  const std::string sp = "agent.compat.azure_sidecar";
  if (s.tcp_port < 0 || s.tcp_port > 65535) {
    return fail(sp + ".tcp_port", std::to_string(s.tcp_port) + " is not 1..65535");
  }
  if (s.enabled && s.socket.empty() == (s.tcp_port == 0)) {
    return fail(sp, "when enabled, exactly one of socket or tcp_port is required");
  }
  if (!s.socket.empty()) SKR_RETURN_IF_ERROR(checkSocketPath(sp + ".socket", s.socket));
  return validateAgentData(a.data);
}

}  // namespace

std::string_view identityKindName(IdentityKind kind) {
  switch (kind) {
    case IdentityKind::Managed: return "managed";
    case IdentityKind::Workload: return "workload";
    case IdentityKind::TokenFile: return "token-file";
    case IdentityKind::Token: return "token";
    case IdentityKind::None: return "none";
  }
  return "managed";
}

StatusOr<IdentityKind> parseIdentityKind(std::string_view name) {
  for (IdentityKind kind : {IdentityKind::Managed, IdentityKind::Workload, IdentityKind::TokenFile,
                            IdentityKind::Token, IdentityKind::None}) {
    if (identityKindName(kind) == name) return kind;
  }
  return invalidArgumentError("unknown value " + quotedForMessage(name) +
                              ", expected managed | workload | token-file | token | none");
}

std::string_view releaseOnStartName(ReleaseOnStart value) {
  switch (value) {
    case ReleaseOnStart::IfMissing: return "if-missing";
    case ReleaseOnStart::Always: return "always";
    case ReleaseOnStart::Never: return "never";
  }
  return "if-missing";
}

std::string_view dataAuthName(DataAuth auth) {
  switch (auth) {
    case DataAuth::Entra: return "entra";
    case DataAuth::Sas: return "sas";
    case DataAuth::Anonymous: return "anonymous";
  }
  return "entra";
}

bool Config::emulated() const {
  return platform.kind == snp::PlatformKind::Emulated ||
         seal.provider == seal::SealProviderKind::Emulated;
}

Status validateConfig(const Config& config) {
  SKR_RETURN_IF_ERROR(validatePlatform(config.platform));
  SKR_RETURN_IF_ERROR(validateAttestation(config.attestation, !config.keys.empty()));
  SKR_RETURN_IF_ERROR(validateIdentity(config.identity));
  SKR_RETURN_IF_ERROR(validateKeys(config.keys));
  SKR_RETURN_IF_ERROR(checkAbsolutePath("state_dir", config.state_dir));
  SKR_RETURN_IF_ERROR(validateData(config));
  SKR_RETURN_IF_ERROR(validateSeal(config));
  SKR_RETURN_IF_ERROR(checkOptionalPath("tls.ca_file", config.tls.ca_file));
  SKR_RETURN_IF_ERROR(checkOptionalPath("tls.jws_ca_file", config.tls.jws_ca_file));
  SKR_RETURN_IF_ERROR(validateRetry(config.retry));
  SKR_RETURN_IF_ERROR(validateAgent(config));
  if (config.log.format != "json" && config.log.format != "text") {
    return fail("log.format",
                "unknown value " + quotedForMessage(config.log.format) + ", expected json | text");
  }
  return okStatus();
}

std::string describeConfig(const Config& c) {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  json::Writer j;
  j.beginObject();
  j.key("platform").beginObject();
  j.member("kind", snp::platformName(c.platform.kind));
  if (!c.platform.chip_dir.empty()) j.member("chip_dir", c.platform.chip_dir);
  j.key("vmpl").number(static_cast<int64_t>(c.platform.vmpl));
  j.member("sev_guest_path", c.platform.sev_guest_path);
  j.member("sev_legacy_path", c.platform.sev_legacy_path);
  j.member("tsm_report_dir", c.platform.tsm_report_dir);
  j.endObject();

  const AttestationConfig& a = c.attestation;
  j.key("attestation").beginObject();
  if (!a.maa_endpoint.empty()) j.member("maa_endpoint", a.maa_endpoint);
  j.member("api_version", a.api_version);
  j.key("transfer_key_bits").number(static_cast<int64_t>(a.transfer_key_bits));
  j.key("collateral").beginObject();
  j.key("sources").beginArray();
  if (a.collateral.security_context) j.string("security-context");
  if (a.collateral.thim) j.string("thim");
  if (a.collateral.kds) j.string("kds");
  j.endArray();
  if (a.collateral.security_context_dir) {
    j.member("security_context_dir", *a.collateral.security_context_dir);
  }
  j.member("thim_url", a.collateral.thim_url);
  j.member("kds_url", a.collateral.kds_url);
  j.endObject();
  j.endObject();

  const IdentityConfig& id = c.identity;
  j.key("identity").beginObject();
  j.member("kind", identityKindName(id.kind));
  j.member("imds_endpoint", id.imds_endpoint);
  if (!id.client_id.empty()) j.member("client_id", id.client_id);
  if (!id.object_id.empty()) j.member("object_id", id.object_id);
  if (!id.msi_res_id.empty()) j.member("msi_res_id", id.msi_res_id);
  if (!id.token_file.empty()) j.member("token_file", id.token_file);
  if (!id.token.empty()) {
    const ByteView token = id.token.view(grantSecretAccess());
    j.member("token",
             "<redacted sha256:" + encoding::hexEncode(crypto::sha256(token)).substr(0, 8) +
                 " len=" + std::to_string(token.size()) + ">");
  }
  if (!id.tenant_id.empty()) j.member("tenant_id", id.tenant_id);
  j.member("authority_host", id.authority_host);
  if (!id.federated_token_file.empty()) j.member("federated_token_file", id.federated_token_file);
  if (!id.resource_overrides.empty()) {
    j.key("resource_overrides").beginObject();
    for (const auto& [host, resource] : id.resource_overrides) j.member(host, resource);
    j.endObject();
  }
  j.endObject();

  j.key("keys").beginArray();
  for (const KeyConfig& k : c.keys) {
    j.beginObject();
    j.member("name", k.name);
    j.member(k.managed_hsm ? "mhsm" : "vault", k.vault_url);
    if (!k.version.empty()) j.member("version", k.version);
    j.member("enc", enumName(k.enc, kKeyExportEncNames));
    j.member("api_version", k.api_version);
    j.endObject();
  }
  j.endArray();

  if (!c.data.empty()) {
    j.key("data").beginArray();
    for (const DataConfig& d : c.data) {
      j.beginObject();
      j.member("name", d.name);
      j.member("url", d.url);
      j.member("key", d.key);
      j.member("path", d.path);
      j.member("mode", octal(d.mode));
      j.member("auth", dataAuthName(d.auth));
      if (!d.sas_file.empty()) j.member("sas_file", d.sas_file);
      j.endObject();
    }
    j.endArray();
  }
  j.member("state_dir", c.state_dir);
  j.key("seal").beginObject();
  j.member("provider", seal::sealProviderName(c.seal.provider));
  if (!c.seal.keyfile.empty()) j.member("keyfile", c.seal.keyfile);
  if (c.seal.group) j.key("group").number(static_cast<int64_t>(*c.seal.group));
  j.endObject();
  j.key("tls").beginObject();
  j.member("ca_file", c.tls.ca_file);
  j.member("jws_ca_file", c.tls.jws_ca_file);
  j.endObject();
  j.key("retry").beginObject();
  j.key("max_attempts").number(static_cast<int64_t>(c.retry.max_attempts));
  j.member("base", formatDuration(c.retry.base));
  j.member("cap", formatDuration(c.retry.cap));
  j.member("overall", formatDuration(c.retry.overall));
  j.endObject();

  const AgentConfig& ag = c.agent;
  j.key("agent").beginObject();
  j.member("client_socket", ag.client_socket);
  j.member("admin_socket", ag.admin_socket);
  j.member("socket_mode", octal(ag.socket_mode));
  if (ag.socket_group) j.key("socket_group").number(static_cast<int64_t>(*ag.socket_group));
  j.key("clients").beginArray();
  for (const ClientRule& rule : ag.clients) {
    j.beginObject();
    j.member("name", rule.name);
    j.key("uids").beginArray();
    for (uid_t uid : rule.uids) j.number(static_cast<int64_t>(uid));
    j.endArray();
    j.key("gids").beginArray();
    for (gid_t gid : rule.gids) j.number(static_cast<int64_t>(gid));
    j.endArray();
    j.key("operations").beginArray();
    for (const auto& op : rule.operations) j.string(op);
    j.endArray();
    j.key("keys").beginArray();
    for (const auto& key : rule.keys) j.string(key);
    j.endArray();
    if (rule.token_sha256) j.member("token_sha256", *rule.token_sha256);
    j.endObject();
  }
  j.endArray();
  j.key("admin_uids").beginArray();
  for (uid_t uid : ag.admin_uids) j.number(static_cast<int64_t>(uid));
  j.endArray();
  j.key("limits").beginObject();
  j.key("max_body_bytes").number(static_cast<int64_t>(ag.limits.max_body_bytes));
  j.key("max_header_bytes").number(static_cast<int64_t>(ag.limits.max_header_bytes));
  j.key("max_connections").number(static_cast<int64_t>(ag.limits.max_connections));
  j.key("admin_connections").number(static_cast<int64_t>(ag.limits.admin_connections));
  j.key("unknown_peer_connections")
      .number(static_cast<int64_t>(ag.limits.unknown_peer_connections));
  j.key("max_connections_per_uid").number(static_cast<int64_t>(ag.limits.max_connections_per_uid));
  j.key("max_buffered_body_bytes").number(static_cast<int64_t>(ag.limits.max_buffered_body_bytes));
  j.member("idle_timeout", formatDuration(ag.limits.idle_timeout));
  j.member("read_timeout", formatDuration(ag.limits.read_timeout));
  j.member("header_timeout", formatDuration(ag.limits.header_timeout));
  j.endObject();
  j.member("release_on_start", releaseOnStartName(ag.release_on_start));
  j.member("rotation_interval", formatDuration(duration_cast<milliseconds>(ag.rotation_interval)));
  j.member("rotation_jitter", formatDuration(duration_cast<milliseconds>(ag.rotation_jitter)));
  j.key("workers").number(static_cast<int64_t>(ag.workers));
  j.key("compat").beginObject();
  j.key("azure_sidecar").beginObject();
  j.member("enabled", ag.azure_sidecar.enabled);
  if (!ag.azure_sidecar.socket.empty()) j.member("socket", ag.azure_sidecar.socket);
  if (ag.azure_sidecar.tcp_port != 0)
    j.key("tcp_port").number(static_cast<int64_t>(ag.azure_sidecar.tcp_port));
  j.member("require_request_header", ag.azure_sidecar.require_request_header);
  j.endObject();
  j.endObject();
  j.key("data").beginObject();
  j.key("sources").beginArray();
  for (const auto& source : ag.data.sources) j.string(source);
  j.endArray();
  j.key("max_concurrent").number(static_cast<int64_t>(ag.data.max_concurrent));
  j.endObject();
  j.endObject();

  j.key("log").beginObject();
  j.member("level", log::levelName(c.log.level));
  j.member("format", c.log.format);
  j.endObject();
  j.endObject();
  return j.take();
}

}  // namespace skr::config
