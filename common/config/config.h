// The one configuration schema of skr-init, skr-agent and skrctl (DESIGN.md §8; every key, type,
// default and environment override is documented in docs/config.md).
// Sources, in order: `--config FILE` or `SKR_CONFIG_YAML` (inline YAML; both at once is an error),
// else the defaults; then the individual SKR_* overrides; then validateConfig(). Every error is
// InvalidArgument and names the key path (`keys[1].enc: ...`) or the environment variable.
// A Config holds the optional literal identity token as SecretBytes, so it is move-only; nothing in
// this module writes that token to a message or to describeConfig().
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/azure/key_export_enc.h"
#include "common/core/secret_bytes.h"
#include "common/core/status.h"
#include "common/log/logger.h"
#include "common/seal/seal_provider_kind.h"
#include "common/snp/platform.h"

namespace skr::config {

// Bounds on untrusted configuration input.
inline constexpr std::size_t kMaxConfigBytes = 256 * 1024;  // file or SKR_CONFIG_YAML
inline constexpr std::size_t kMaxKeys = 64;
inline constexpr std::size_t kMaxYamlNodes = 100000;  // after alias expansion (alias bombs)

// Where evidence comes from (DESIGN.md §4). YAML `platform:` is a scalar kind or this map.
struct PlatformConfig {
  snp::PlatformKind kind = snp::PlatformKind::Auto;
  std::string chip_dir;  // emulated chip state directory; required for `emulated`
  uint32_t vmpl = 0;     // VMPL for reports and derived keys (0..3)
  std::string sev_guest_path = "/dev/sev-guest";
  std::string sev_legacy_path = "/dev/sev";
  std::string tsm_report_dir = "/sys/kernel/config/tsm/report";
};

// AMD certificate sources, tried in this order (DESIGN.md §3 "collateral").
// YAML: `sources: [security-context, thim, kds]` (any non-empty subset).
struct CollateralConfig {
  bool security_context = true;
  bool thim = true;
  bool kds = true;
  std::optional<std::string> security_context_dir;  // default: $UVM_SECURITY_CONTEXT_DIR, else auto
  std::string thim_url = "http://169.254.169.254/metadata/THIM/amd/certification";
  std::string kds_url = "https://kdsintf.amd.com";
};

struct AttestationConfig {
  std::string maa_endpoint;  // "https://host[:port]"; required when keys are configured
  std::string api_version = "2022-08-01";
  int transfer_key_bits = 2048;  // 2048 | 3072 | 4096
  CollateralConfig collateral;
};

// YAML names: "managed", "workload", "token-file", "token", "none".
enum class IdentityKind { Managed, Workload, TokenFile, Token, None };
std::string_view identityKindName(IdentityKind kind);
StatusOr<IdentityKind> parseIdentityKind(std::string_view name);

// How the Entra ID token for Key Vault is obtained.
struct IdentityConfig {
  IdentityKind kind = IdentityKind::Managed;
  std::string imds_endpoint = "http://169.254.169.254";
  std::string client_id, object_id, msi_res_id;  // managed: at most one
  std::string token_file;                        // token-file
  SecretBytes token;  // token: a literal bearer token (discouraged: prefer token-file). Secret.
  // workload: defaults from AZURE_CLIENT_ID / AZURE_TENANT_ID / AZURE_FEDERATED_TOKEN_FILE /
  // AZURE_AUTHORITY_HOST (client_id above is shared with managed).
  std::string tenant_id;
  std::string authority_host = "https://login.microsoftonline.com";
  std::string federated_token_file;
  // "host[:port]" of a vault -> token resource ("https://vault.azure.net" or
  // "https://managedhsm.azure.net"), for emulators and sovereign clouds.
  std::map<std::string, std::string> resource_overrides;
};

// One key to release. YAML: exactly one of `vault:` or `mhsm:`, each "https://host[:port]" or a
// bare name ("myvault" -> https://myvault.vault.azure.net, mhsm ->
// https://NAME.managedhsm.azure.net).
struct KeyConfig {
  std::string name;       // seal::validateKeyName; unique
  std::string vault_url;  // normalized "https://host[:port]"
  bool managed_hsm = false;
  std::string version;  // empty: latest
  azure::KeyExportEnc enc = azure::KeyExportEnc::RsaAesKeyWrap256;
  std::string api_version = "7.4";
};

// How an encrypted object is read from Blob Storage (docs/encrypted-data.md "Fetching").
enum class DataAuth { Entra, Sas, Anonymous };  // YAML: entra | sas | anonymous
std::string_view dataAuthName(DataAuth auth);

// One `data:` entry: an encrypted object that skr-init fetches after the key release, opens with
// the released key and writes, as plaintext, to a file on tmpfs (issue 18). YAML:
//   data:
//     - name: model                    # unique; [0-9a-zA-Z-] like key names
//       url: https://acct.blob.core.windows.net/models/model.skr   # no query: a SAS goes in
//       sas_file key: data-kek                  # a keys[] name; the object's kid must name a
//       version of it path: /run/skr/data/model.bin  # absolute; its directory must exist and be a
//       tmpfs mode: "0440"                   # of the plaintext file; never writable by
//       group/others auth: entra                    # entra (default: the identity's token) | sas |
//       anonymous sas_file: /run/secrets/model-sas   # sas: a file holding the SAS token (a secret)
struct DataConfig {
  std::string name;
  std::string url;  // https://host[:port]/path, no query or fragment
  std::string key;
  std::string path;
  uint32_t mode = 0440;
  DataAuth auth = DataAuth::Entra;
  std::string sas_file;  // required for auth sas, refused otherwise
};
inline constexpr std::size_t kMaxDataEntries = 64;

struct SealConfig {
  seal::SealProviderKind provider = seal::SealProviderKind::SnpDerived;
  std::string keyfile;         // required for `keyfile`
  std::optional<gid_t> group;  // YAML: a group name or number; bundles become 0440 with it
};

struct TlsConfig {
  std::string ca_file;  // PEM trust for HTTPS and the AKV release JWS chain; empty: system store
  // PEM trust for the AKV release JWS chain only (pins the signing CA); empty: as ca_file.
  std::string jws_ca_file;
};

struct RetryConfig {
  int max_attempts = 4;
  std::chrono::milliseconds base{500}, cap{10000};
  std::chrono::milliseconds overall{60000};
};

// One `agent.clients` rule: a peer matching any uid or gid (SO_PEERCRED) may run `operations` on
// `keys`; with token_sha256 it must also present that bearer token.
struct ClientRule {
  std::string name;
  std::vector<uid_t> uids;
  std::vector<gid_t> gids;
  // unwrap wrap decrypt encrypt rewrap keys events, or "*"
  std::vector<std::string> operations;
  std::vector<std::string> keys;            // key names or "*"
  std::optional<std::string> token_sha256;  // 64 lower-case hex (normalized)
};

struct AgentLimits {
  size_t max_body_bytes = 1 << 20;
  size_t max_header_bytes = 16384;
  int max_connections = 256;           // client (and compat) sockets
  int admin_connections = 16;          // the admin socket, its own budget
  int unknown_peer_connections = 8;    // peers that no rule names, any socket
  int max_connections_per_uid = 64;    // one uid, outside the admin socket
  size_t max_buffered_body_bytes = 0;  // all request bodies at once; 0 = 4 x max_body_bytes
  std::chrono::milliseconds idle_timeout{30000}, read_timeout{5000};
  std::chrono::milliseconds header_timeout{2000};  // request line + headers; capped at read_timeout
};

enum class ReleaseOnStart { IfMissing, Always, Never };  // "if-missing", "always", "never"
std::string_view releaseOnStartName(ReleaseOnStart value);

struct AzureSidecarCompat {
  bool enabled = false;
  std::string socket;  // a Unix socket path, or
  int tcp_port = 0;    // a loopback TCP port (exactly one when enabled)
  // `X-SKR-Request: 1` on this listener. Off only for apps that cannot add a header: the uid rule
  // still applies, but a request forged through the app (SSRF) is then no longer refused.
  bool require_request_header = true;
};

// agent.data: POST /data/open streams the plaintext of encrypted blobs (docs/agent.md "Opening
// encrypted data").
struct AgentDataConfig {
  // https URL prefixes, each ending in "/", that a blob URL must start with: the agent sends its
  // storage token only there (SSRF guard). Empty: the route answers 403 DataSourceNotAllowed.
  std::vector<std::string> sources;
  int max_concurrent = 4;  // opens streaming at once (1..64); more answer 429 TooManyRequests
};

struct AgentConfig {
  std::string client_socket = "/run/skr/sock/agent.sock";
  std::string admin_socket = "/run/skr/admin/agent.sock";
  uint32_t socket_mode = 0660;
  std::optional<gid_t> socket_group;
  std::vector<ClientRule> clients;
  std::vector<uid_t> admin_uids;
  AgentLimits limits;
  ReleaseOnStart release_on_start = ReleaseOnStart::IfMissing;
  std::chrono::seconds rotation_interval{0} /* 0 = off */, rotation_jitter{60};
  int workers = 4;
  AzureSidecarCompat azure_sidecar;  // YAML: agent.compat.azure_sidecar
  AgentDataConfig data;              // YAML: agent.data
};

struct LogConfig {
  log::Level level = log::Level::Info;
  std::string format = "json";  // json | text
};

struct Config {
  PlatformConfig platform;
  AttestationConfig attestation;
  IdentityConfig identity;
  std::vector<KeyConfig> keys;
  std::vector<DataConfig> data;  // YAML: data
  std::string state_dir = "/run/skr/keys";
  SealConfig seal;
  TlsConfig tls;
  RetryConfig retry;
  AgentConfig agent;
  LogConfig log;

  // True when the platform or the seal provider is emulated (everything is then stamped).
  bool emulated() const;
};

struct LoadOptions {
  std::optional<std::string> file;  // --config FILE
  // Environment lookup, injected for tests; empty: ::getenv.
  std::function<std::optional<std::string>(const std::string&)> getenv;
};

// --config file, else SKR_CONFIG_YAML, else defaults; then SKR_* overrides; then validateConfig.
// InvalidArgument naming the key path / variable; NotFound / PermissionDenied when the file cannot
// be read; ResourceExhausted when the input exceeds kMaxConfigBytes.
StatusOr<Config> loadConfig(const LoadOptions& options);
// Parses YAML text and validates it (no environment).
StatusOr<Config> parseConfigYaml(std::string_view yaml);
// Cross-field checks (also run by the two functions above).
Status validateConfig(const Config& config);
// A JSON summary in the YAML schema (JSON is YAML, so it parses back), for logs and --dry-run.
// The literal token is replaced by "<redacted sha256:XXXXXXXX len=N>".
std::string describeConfig(const Config& config);

}  // namespace skr::config
