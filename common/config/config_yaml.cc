// parseConfigYaml: the YAML schema (docs/config.md) read from the tree of yaml_reader.h into a
// Config. Every error names the key path: `keys[1].enc: unknown value "RSA_AES", expected ...`.
#include "common/config/config_yaml.h"

#include <functional>
#include <set>

#include "common/config/config_values.h"

namespace skr::config {
namespace {

using Kind = YamlNode::Kind;

Status typeError(const std::string& path, std::string_view expected, const YamlNode& node) {
  return invalidArgumentError(path + ": expected " + std::string(expected) + ", got " +
                              std::string(yamlKindName(node.kind)));
}

// The entries of one mapping; take() marks a key as known, finish() rejects the others.
class MapReader {
 public:
  MapReader(const YamlNode& node, std::string path) : node_(node), path_(std::move(path)) {}

  static StatusOr<MapReader> open(const YamlNode& node, const std::string& path) {
    if (node.kind != Kind::Map && node.kind != Kind::Null) return typeError(path, "a map", node);
    return MapReader(node, path);
  }

  const YamlNode* take(std::string_view key) {
    known_.emplace_back(key);
    for (const auto& [name, value] : node_.entries) {
      if (name == key) return &value;
    }
    return nullptr;
  }

  std::string child(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }

  Status finish() const {
    for (const auto& entry : node_.entries) {
      bool found = false;
      for (const auto& k : known_) found = found || k == entry.key;
      if (!found) {
        std::string expected;
        for (const auto& k : known_) expected += (expected.empty() ? "" : ", ") + k;
        const std::string where = path_.empty() ? quotedForMessage(entry.key) : child(entry.key);
        return invalidArgumentError(where + ": unknown key, expected one of " + expected);
      }
    }
    return okStatus();
  }

 private:
  const YamlNode& node_;
  std::string path_;
  std::vector<std::string> known_;
};

StatusOr<std::string_view> scalarOf(const YamlNode& node, const std::string& path,
                                    std::string_view expected) {
  if (node.kind != Kind::Scalar) return typeError(path, expected, node);
  return std::string_view(node.scalar);
}

Status readString(const YamlNode* node, const std::string& path, std::string& out) {
  if (node == nullptr) return okStatus();
  SKR_ASSIGN_OR_RETURN(std::string_view text, scalarOf(*node, path, "a string"));
  if (text.size() > 4096) return invalidArgumentError(path + ": longer than 4096 bytes");
  out = std::string(text);
  return okStatus();
}

Status readBool(const YamlNode* node, const std::string& path, bool& out) {
  if (node == nullptr) return okStatus();
  SKR_ASSIGN_OR_RETURN(std::string_view text, scalarOf(*node, path, "a boolean"));
  if (node->plain && (text == "true" || text == "True" || text == "TRUE")) {
    out = true;
  } else if (node->plain && (text == "false" || text == "False" || text == "FALSE")) {
    out = false;
  } else {
    return invalidArgumentError(path + ": expected true or false, got " + quotedForMessage(text));
  }
  return okStatus();
}

Status readInt(const YamlNode* node, const std::string& path, int64_t min, int64_t max,
               int64_t& out) {
  if (node == nullptr) return okStatus();
  SKR_ASSIGN_OR_RETURN(std::string_view text, scalarOf(*node, path, "an integer"));
  if (!node->plain) {
    return invalidArgumentError(path + ": expected an integer, got the string " +
                                quotedForMessage(text));
  }
  SKR_ASSIGN_OR_RETURN(int64_t value, parseInteger(path, text));
  if (value < min || value > max) {
    return invalidArgumentError(path + ": " + std::to_string(value) + " is not " +
                                std::to_string(min) + ".." + std::to_string(max));
  }
  out = value;
  return okStatus();
}

template <typename T>
Status readNumber(const YamlNode* node, const std::string& path, int64_t min, int64_t max, T& out) {
  int64_t value = static_cast<int64_t>(out);
  SKR_RETURN_IF_ERROR(readInt(node, path, min, max, value));
  out = static_cast<T>(value);
  return okStatus();
}

template <typename Rep, typename Period>
Status readDuration(const YamlNode* node, const std::string& path,
                    std::chrono::milliseconds bare_unit, std::chrono::duration<Rep, Period>& out) {
  if (node == nullptr) return okStatus();
  SKR_ASSIGN_OR_RETURN(std::string_view text, scalarOf(*node, path, "a duration"));
  SKR_ASSIGN_OR_RETURN(std::chrono::milliseconds value, parseDuration(path, text, bare_unit));
  const auto converted = std::chrono::duration_cast<std::chrono::duration<Rep, Period>>(value);
  if (std::chrono::duration_cast<std::chrono::milliseconds>(converted) != value) {
    return invalidArgumentError(path + ": " + quotedForMessage(text) +
                                " is not a whole number of seconds");
  }
  out = converted;
  return okStatus();
}

template <typename E, std::size_t N>
Status readEnum(const YamlNode* node, const std::string& path, const EnumName<E> (&names)[N],
                E& out) {
  if (node == nullptr) return okStatus();
  SKR_ASSIGN_OR_RETURN(std::string_view text, scalarOf(*node, path, "a string"));
  SKR_ASSIGN_OR_RETURN(out, parseEnum(path, text, names));
  return okStatus();
}

// A sequence of scalars (a single scalar is not accepted: lists stay lists).
Status readList(const YamlNode* node, const std::string& path,
                const std::function<Status(const std::string&, std::string_view)>& each) {
  if (node == nullptr) return okStatus();
  if (node->kind != Kind::Sequence) return typeError(path, "a list", *node);
  for (std::size_t i = 0; i < node->items.size(); ++i) {
    const std::string item_path = path + "[" + std::to_string(i) + "]";
    SKR_ASSIGN_OR_RETURN(std::string_view text, scalarOf(node->items[i], item_path, "a string"));
    SKR_RETURN_IF_ERROR(each(item_path, text));
  }
  return okStatus();
}

Status readStringList(const YamlNode* node, const std::string& path,
                      std::vector<std::string>& out) {
  if (node == nullptr) return okStatus();
  out.clear();
  return readList(node, path, [&](const std::string&, std::string_view text) {
    out.emplace_back(text);
    return okStatus();
  });
}

Status readUserList(const YamlNode* node, const std::string& path, std::vector<uid_t>& out) {
  if (node == nullptr) return okStatus();
  out.clear();
  return readList(node, path, [&](const std::string& item_path, std::string_view text) {
    SKR_ASSIGN_OR_RETURN(uid_t uid, parseUser(item_path, text));
    out.push_back(uid);
    return okStatus();
  });
}

Status readGroupList(const YamlNode* node, const std::string& path, std::vector<gid_t>& out) {
  if (node == nullptr) return okStatus();
  out.clear();
  return readList(node, path, [&](const std::string& item_path, std::string_view text) {
    SKR_ASSIGN_OR_RETURN(gid_t gid, parseGroup(item_path, text));
    out.push_back(gid);
    return okStatus();
  });
}

Status readGroup(const YamlNode* node, const std::string& path, std::optional<gid_t>& out) {
  if (node == nullptr) return okStatus();
  SKR_ASSIGN_OR_RETURN(std::string_view text, scalarOf(*node, path, "a group name or number"));
  SKR_ASSIGN_OR_RETURN(gid_t gid, parseGroup(path, text));
  out = gid;
  return okStatus();
}

Status readPlatform(const YamlNode& node, PlatformConfig& p) {
  if (node.kind == Kind::Scalar) return readEnum(&node, "platform", kPlatformNames, p.kind);
  SKR_ASSIGN_OR_RETURN(MapReader m, MapReader::open(node, "platform"));
  SKR_RETURN_IF_ERROR(readEnum(m.take("kind"), m.child("kind"), kPlatformNames, p.kind));
  SKR_RETURN_IF_ERROR(readString(m.take("chip_dir"), m.child("chip_dir"), p.chip_dir));
  SKR_RETURN_IF_ERROR(readNumber(m.take("vmpl"), m.child("vmpl"), 0, 3, p.vmpl));
  SKR_RETURN_IF_ERROR(
      readString(m.take("sev_guest_path"), m.child("sev_guest_path"), p.sev_guest_path));
  SKR_RETURN_IF_ERROR(
      readString(m.take("sev_legacy_path"), m.child("sev_legacy_path"), p.sev_legacy_path));
  SKR_RETURN_IF_ERROR(
      readString(m.take("tsm_report_dir"), m.child("tsm_report_dir"), p.tsm_report_dir));
  return m.finish();
}

Status readCollateral(const YamlNode& node, const std::string& path, CollateralConfig& c) {
  SKR_ASSIGN_OR_RETURN(MapReader m, MapReader::open(node, path));
  if (const YamlNode* sources = m.take("sources")) {
    c.security_context = c.thim = c.kds = false;
    std::set<std::string> seen;
    SKR_RETURN_IF_ERROR(
        readList(sources, m.child("sources"), [&](const std::string& item, std::string_view s) {
          if (!seen.insert(std::string(s)).second) {
            return invalidArgumentError(item + ": duplicate source " + quotedForMessage(s));
          }
          if (s == "security-context") {
            c.security_context = true;
          } else if (s == "thim") {
            c.thim = true;
          } else if (s == "kds") {
            c.kds = true;
          } else {
            return invalidArgumentError(item + ": unknown value " + quotedForMessage(s) +
                                        ", expected security-context | thim | kds");
          }
          return okStatus();
        }));
  }
  if (const YamlNode* dir = m.take("security_context_dir")) {
    std::string value;
    SKR_RETURN_IF_ERROR(readString(dir, m.child("security_context_dir"), value));
    c.security_context_dir = value;
  }
  SKR_RETURN_IF_ERROR(readString(m.take("thim_url"), m.child("thim_url"), c.thim_url));
  SKR_RETURN_IF_ERROR(readString(m.take("kds_url"), m.child("kds_url"), c.kds_url));
  return m.finish();
}

Status readAttestation(const YamlNode& node, AttestationConfig& a) {
  SKR_ASSIGN_OR_RETURN(MapReader m, MapReader::open(node, "attestation"));
  if (const YamlNode* maa = m.take("maa_endpoint")) {
    std::string value;
    SKR_RETURN_IF_ERROR(readString(maa, m.child("maa_endpoint"), value));
    SKR_ASSIGN_OR_RETURN(a.maa_endpoint, checkUrl(m.child("maa_endpoint"), value, UrlPolicy{}));
  }
  SKR_RETURN_IF_ERROR(readString(m.take("api_version"), m.child("api_version"), a.api_version));
  SKR_RETURN_IF_ERROR(readNumber(m.take("transfer_key_bits"), m.child("transfer_key_bits"), 0,
                                 65536, a.transfer_key_bits));
  if (const YamlNode* c = m.take("collateral")) {
    SKR_RETURN_IF_ERROR(readCollateral(*c, m.child("collateral"), a.collateral));
  }
  return m.finish();
}

Status readIdentity(const YamlNode& node, IdentityConfig& id) {
  SKR_ASSIGN_OR_RETURN(MapReader m, MapReader::open(node, "identity"));
  SKR_RETURN_IF_ERROR(readEnum(m.take("kind"), m.child("kind"), kIdentityKindNames, id.kind));
  SKR_RETURN_IF_ERROR(
      readString(m.take("imds_endpoint"), m.child("imds_endpoint"), id.imds_endpoint));
  SKR_RETURN_IF_ERROR(readString(m.take("client_id"), m.child("client_id"), id.client_id));
  SKR_RETURN_IF_ERROR(readString(m.take("object_id"), m.child("object_id"), id.object_id));
  SKR_RETURN_IF_ERROR(readString(m.take("msi_res_id"), m.child("msi_res_id"), id.msi_res_id));
  SKR_RETURN_IF_ERROR(readString(m.take("token_file"), m.child("token_file"), id.token_file));
  if (const YamlNode* token = m.take("token")) {
    if (token->kind != Kind::Scalar || token->scalar.empty()) {
      return invalidArgumentError(m.child("token") + ": expected a non-empty string");
    }
    id.token = SecretBytes::copyOf(asBytes(token->scalar));
  }
  SKR_RETURN_IF_ERROR(readString(m.take("tenant_id"), m.child("tenant_id"), id.tenant_id));
  SKR_RETURN_IF_ERROR(
      readString(m.take("authority_host"), m.child("authority_host"), id.authority_host));
  SKR_RETURN_IF_ERROR(readString(m.take("federated_token_file"), m.child("federated_token_file"),
                                 id.federated_token_file));
  if (const YamlNode* overrides = m.take("resource_overrides")) {
    const std::string path = m.child("resource_overrides");
    if (overrides->kind != Kind::Map && overrides->kind != Kind::Null) {
      return typeError(path, "a map", *overrides);
    }
    for (const auto& [host, value] : overrides->entries) {
      std::string resource;
      SKR_RETURN_IF_ERROR(readString(&value, path + "." + host, resource));
      id.resource_overrides[host] = resource;
    }
  }
  return m.finish();
}

Status readKey(const YamlNode& node, const std::string& path, KeyConfig& k) {
  SKR_ASSIGN_OR_RETURN(MapReader m, MapReader::open(node, path));
  SKR_RETURN_IF_ERROR(readString(m.take("name"), m.child("name"), k.name));
  if (k.name.empty()) return invalidArgumentError(m.child("name") + ": required");
  const YamlNode* vault = m.take("vault");
  const YamlNode* mhsm = m.take("mhsm");
  if (vault != nullptr && mhsm != nullptr) {
    return invalidArgumentError(path + ": both vault and mhsm are set, expected exactly one");
  }
  if (vault == nullptr && mhsm == nullptr) {
    return invalidArgumentError(path + ": one of vault or mhsm is required");
  }
  k.managed_hsm = mhsm != nullptr;
  const std::string where = m.child(k.managed_hsm ? "mhsm" : "vault");
  std::string value;
  SKR_RETURN_IF_ERROR(readString(k.managed_hsm ? mhsm : vault, where, value));
  SKR_ASSIGN_OR_RETURN(k.vault_url, expandVaultUrl(where, value, k.managed_hsm));
  SKR_RETURN_IF_ERROR(readString(m.take("version"), m.child("version"), k.version));
  SKR_RETURN_IF_ERROR(readEnum(m.take("enc"), m.child("enc"), kKeyExportEncNames, k.enc));
  SKR_RETURN_IF_ERROR(readString(m.take("api_version"), m.child("api_version"), k.api_version));
  return m.finish();
}

Status readKeys(const YamlNode& node, std::vector<KeyConfig>& keys) {
  if (node.kind == Kind::Null) return okStatus();
  if (node.kind != Kind::Sequence) return typeError("keys", "a list", node);
  if (node.items.size() > kMaxKeys) {
    return invalidArgumentError("keys: " + std::to_string(node.items.size()) + " keys, at most " +
                                std::to_string(kMaxKeys));
  }
  keys.clear();
  for (std::size_t i = 0; i < node.items.size(); ++i) {
    KeyConfig key;
    SKR_RETURN_IF_ERROR(readKey(node.items[i], "keys[" + std::to_string(i) + "]", key));
    keys.push_back(std::move(key));
  }
  return okStatus();
}

Status readDataEntry(const YamlNode& node, const std::string& path, DataConfig& d) {
  SKR_ASSIGN_OR_RETURN(MapReader m, MapReader::open(node, path));
  SKR_RETURN_IF_ERROR(readString(m.take("name"), m.child("name"), d.name));
  SKR_RETURN_IF_ERROR(readString(m.take("url"), m.child("url"), d.url));
  SKR_RETURN_IF_ERROR(readString(m.take("key"), m.child("key"), d.key));
  SKR_RETURN_IF_ERROR(readString(m.take("path"), m.child("path"), d.path));
  if (const YamlNode* mode = m.take("mode")) {
    SKR_ASSIGN_OR_RETURN(std::string_view text, scalarOf(*mode, m.child("mode"), "an octal mode"));
    SKR_ASSIGN_OR_RETURN(d.mode, parseFileMode(m.child("mode"), text));
  }
  SKR_RETURN_IF_ERROR(readEnum(m.take("auth"), m.child("auth"), kDataAuthNames, d.auth));
  SKR_RETURN_IF_ERROR(readString(m.take("sas_file"), m.child("sas_file"), d.sas_file));
  return m.finish();
}

Status readData(const YamlNode& node, std::vector<DataConfig>& data) {
  if (node.kind == Kind::Null) return okStatus();
  if (node.kind != Kind::Sequence) return typeError("data", "a list", node);
  if (node.items.size() > kMaxDataEntries) {
    return invalidArgumentError("data: " + std::to_string(node.items.size()) +
                                " entries, at most " + std::to_string(kMaxDataEntries));
  }
  data.clear();
  for (std::size_t i = 0; i < node.items.size(); ++i) {
    DataConfig entry;
    SKR_RETURN_IF_ERROR(readDataEntry(node.items[i], "data[" + std::to_string(i) + "]", entry));
    data.push_back(std::move(entry));
  }
  return okStatus();
}

Status readSeal(const YamlNode& node, SealConfig& s) {
  SKR_ASSIGN_OR_RETURN(MapReader m, MapReader::open(node, "seal"));
  SKR_RETURN_IF_ERROR(
      readEnum(m.take("provider"), m.child("provider"), kSealProviderNames, s.provider));
  SKR_RETURN_IF_ERROR(readString(m.take("keyfile"), m.child("keyfile"), s.keyfile));
  SKR_RETURN_IF_ERROR(readGroup(m.take("group"), m.child("group"), s.group));
  return m.finish();
}

Status readTls(const YamlNode& node, TlsConfig& t) {
  SKR_ASSIGN_OR_RETURN(MapReader m, MapReader::open(node, "tls"));
  SKR_RETURN_IF_ERROR(readString(m.take("ca_file"), m.child("ca_file"), t.ca_file));
  SKR_RETURN_IF_ERROR(readString(m.take("jws_ca_file"), m.child("jws_ca_file"), t.jws_ca_file));
  return m.finish();
}

Status readRetry(const YamlNode& node, RetryConfig& r) {
  using std::chrono::milliseconds;
  SKR_ASSIGN_OR_RETURN(MapReader m, MapReader::open(node, "retry"));
  SKR_RETURN_IF_ERROR(
      readNumber(m.take("max_attempts"), m.child("max_attempts"), 1, 100, r.max_attempts));
  SKR_RETURN_IF_ERROR(readDuration(m.take("base"), m.child("base"), milliseconds(1), r.base));
  SKR_RETURN_IF_ERROR(readDuration(m.take("cap"), m.child("cap"), milliseconds(1), r.cap));
  SKR_RETURN_IF_ERROR(
      readDuration(m.take("overall"), m.child("overall"), milliseconds(1), r.overall));
  return m.finish();
}

Status readClient(const YamlNode& node, const std::string& path, ClientRule& c) {
  SKR_ASSIGN_OR_RETURN(MapReader m, MapReader::open(node, path));
  SKR_RETURN_IF_ERROR(readString(m.take("name"), m.child("name"), c.name));
  SKR_RETURN_IF_ERROR(readUserList(m.take("uids"), m.child("uids"), c.uids));
  SKR_RETURN_IF_ERROR(readGroupList(m.take("gids"), m.child("gids"), c.gids));
  SKR_RETURN_IF_ERROR(readStringList(m.take("operations"), m.child("operations"), c.operations));
  SKR_RETURN_IF_ERROR(readStringList(m.take("keys"), m.child("keys"), c.keys));
  if (const YamlNode* token = m.take("token_sha256")) {
    std::string value;
    SKR_RETURN_IF_ERROR(readString(token, m.child("token_sha256"), value));
    for (char& ch : value) {
      if (ch >= 'A' && ch <= 'F') ch = static_cast<char>(ch - 'A' + 'a');
    }
    c.token_sha256 = value;
  }
  return m.finish();
}

Status readLimits(const YamlNode& node, const std::string& path, AgentLimits& l) {
  using std::chrono::milliseconds;
  SKR_ASSIGN_OR_RETURN(MapReader m, MapReader::open(node, path));
  SKR_RETURN_IF_ERROR(readNumber(m.take("max_body_bytes"), m.child("max_body_bytes"), 0,
                                 int64_t{1} << 40, l.max_body_bytes));
  SKR_RETURN_IF_ERROR(readNumber(m.take("max_header_bytes"), m.child("max_header_bytes"), 0,
                                 int64_t{1} << 40, l.max_header_bytes));
  SKR_RETURN_IF_ERROR(readNumber(m.take("max_connections"), m.child("max_connections"), 0,
                                 int64_t{1} << 30, l.max_connections));
  SKR_RETURN_IF_ERROR(readNumber(m.take("admin_connections"), m.child("admin_connections"), 0,
                                 int64_t{1} << 30, l.admin_connections));
  SKR_RETURN_IF_ERROR(readNumber(m.take("unknown_peer_connections"),
                                 m.child("unknown_peer_connections"), 0, int64_t{1} << 30,
                                 l.unknown_peer_connections));
  SKR_RETURN_IF_ERROR(readNumber(m.take("max_connections_per_uid"),
                                 m.child("max_connections_per_uid"), 0, int64_t{1} << 30,
                                 l.max_connections_per_uid));
  SKR_RETURN_IF_ERROR(readNumber(m.take("max_buffered_body_bytes"),
                                 m.child("max_buffered_body_bytes"), 0, int64_t{1} << 40,
                                 l.max_buffered_body_bytes));
  SKR_RETURN_IF_ERROR(readDuration(m.take("header_timeout"), m.child("header_timeout"),
                                   milliseconds(1), l.header_timeout));
  SKR_RETURN_IF_ERROR(readDuration(m.take("idle_timeout"), m.child("idle_timeout"), milliseconds(1),
                                   l.idle_timeout));
  SKR_RETURN_IF_ERROR(readDuration(m.take("read_timeout"), m.child("read_timeout"), milliseconds(1),
                                   l.read_timeout));
  return m.finish();
}

Status readCompat(const YamlNode& node, const std::string& path, AzureSidecarCompat& s) {
  SKR_ASSIGN_OR_RETURN(MapReader m, MapReader::open(node, path));
  if (const YamlNode* sidecar = m.take("azure_sidecar")) {
    SKR_ASSIGN_OR_RETURN(MapReader sm, MapReader::open(*sidecar, m.child("azure_sidecar")));
    SKR_RETURN_IF_ERROR(readBool(sm.take("enabled"), sm.child("enabled"), s.enabled));
    SKR_RETURN_IF_ERROR(readString(sm.take("socket"), sm.child("socket"), s.socket));
    SKR_RETURN_IF_ERROR(
        readNumber(sm.take("tcp_port"), sm.child("tcp_port"), 1, 65535, s.tcp_port));
    SKR_RETURN_IF_ERROR(readBool(sm.take("require_request_header"),
                                 sm.child("require_request_header"), s.require_request_header));
    SKR_RETURN_IF_ERROR(sm.finish());
  }
  return m.finish();
}

Status readAgentData(const YamlNode& node, const std::string& path, AgentDataConfig& d) {
  SKR_ASSIGN_OR_RETURN(MapReader m, MapReader::open(node, path));
  SKR_RETURN_IF_ERROR(readStringList(m.take("sources"), m.child("sources"), d.sources));
  SKR_RETURN_IF_ERROR(
      readNumber(m.take("max_concurrent"), m.child("max_concurrent"), 1, 64, d.max_concurrent));
  return m.finish();
}

Status readAgent(const YamlNode& node, AgentConfig& a) {
  using std::chrono::milliseconds;
  SKR_ASSIGN_OR_RETURN(MapReader m, MapReader::open(node, "agent"));
  SKR_RETURN_IF_ERROR(
      readString(m.take("client_socket"), m.child("client_socket"), a.client_socket));
  SKR_RETURN_IF_ERROR(readString(m.take("admin_socket"), m.child("admin_socket"), a.admin_socket));
  if (const YamlNode* mode = m.take("socket_mode")) {
    SKR_ASSIGN_OR_RETURN(std::string_view text,
                         scalarOf(*mode, m.child("socket_mode"), "an octal mode"));
    SKR_ASSIGN_OR_RETURN(a.socket_mode, parseFileMode(m.child("socket_mode"), text));
  }
  SKR_RETURN_IF_ERROR(readGroup(m.take("socket_group"), m.child("socket_group"), a.socket_group));
  if (const YamlNode* clients = m.take("clients")) {
    const std::string path = m.child("clients");
    if (clients->kind != Kind::Sequence && clients->kind != Kind::Null) {
      return typeError(path, "a list", *clients);
    }
    a.clients.clear();
    for (std::size_t i = 0; i < clients->items.size(); ++i) {
      ClientRule rule;
      SKR_RETURN_IF_ERROR(
          readClient(clients->items[i], path + "[" + std::to_string(i) + "]", rule));
      a.clients.push_back(std::move(rule));
    }
  }
  SKR_RETURN_IF_ERROR(readUserList(m.take("admin_uids"), m.child("admin_uids"), a.admin_uids));
  if (const YamlNode* limits = m.take("limits")) {
    SKR_RETURN_IF_ERROR(readLimits(*limits, m.child("limits"), a.limits));
  }
  SKR_RETURN_IF_ERROR(readEnum(m.take("release_on_start"), m.child("release_on_start"),
                               kReleaseOnStartNames, a.release_on_start));
  SKR_RETURN_IF_ERROR(readDuration(m.take("rotation_interval"), m.child("rotation_interval"),
                                   milliseconds(1000), a.rotation_interval));
  SKR_RETURN_IF_ERROR(readDuration(m.take("rotation_jitter"), m.child("rotation_jitter"),
                                   milliseconds(1000), a.rotation_jitter));
  SKR_RETURN_IF_ERROR(readNumber(m.take("workers"), m.child("workers"), 1, 256, a.workers));
  if (const YamlNode* compat = m.take("compat")) {
    SKR_RETURN_IF_ERROR(readCompat(*compat, m.child("compat"), a.azure_sidecar));
  }
  if (const YamlNode* data = m.take("data")) {
    SKR_RETURN_IF_ERROR(readAgentData(*data, m.child("data"), a.data));
  }
  return m.finish();
}

Status readLog(const YamlNode& node, LogConfig& l) {
  SKR_ASSIGN_OR_RETURN(MapReader m, MapReader::open(node, "log"));
  SKR_RETURN_IF_ERROR(readEnum(m.take("level"), m.child("level"), kLogLevelNames, l.level));
  if (const YamlNode* format = m.take("format")) {
    SKR_ASSIGN_OR_RETURN(std::string_view text, scalarOf(*format, m.child("format"), "a string"));
    if (text != "json" && text != "text") {
      return invalidArgumentError(m.child("format") + ": unknown value " + quotedForMessage(text) +
                                  ", expected json | text");
    }
    l.format = std::string(text);
  }
  return m.finish();
}

}  // namespace

// Reads a parsed document into `config` (fields not present keep their values).
Status applyYamlDocument(const YamlNode& root, Config& config) {
  if (root.kind != Kind::Map && root.kind != Kind::Null) {
    return invalidArgumentError("configuration: expected a map of sections, got " +
                                std::string(yamlKindName(root.kind)));
  }
  MapReader m(root, "");
  if (const YamlNode* n = m.take("platform"))
    SKR_RETURN_IF_ERROR(readPlatform(*n, config.platform));
  if (const YamlNode* n = m.take("attestation")) {
    SKR_RETURN_IF_ERROR(readAttestation(*n, config.attestation));
  }
  if (const YamlNode* n = m.take("identity"))
    SKR_RETURN_IF_ERROR(readIdentity(*n, config.identity));
  if (const YamlNode* n = m.take("keys")) SKR_RETURN_IF_ERROR(readKeys(*n, config.keys));
  if (const YamlNode* n = m.take("data")) SKR_RETURN_IF_ERROR(readData(*n, config.data));
  SKR_RETURN_IF_ERROR(readString(m.take("state_dir"), "state_dir", config.state_dir));
  if (const YamlNode* n = m.take("seal")) SKR_RETURN_IF_ERROR(readSeal(*n, config.seal));
  if (const YamlNode* n = m.take("tls")) SKR_RETURN_IF_ERROR(readTls(*n, config.tls));
  if (const YamlNode* n = m.take("retry")) SKR_RETURN_IF_ERROR(readRetry(*n, config.retry));
  if (const YamlNode* n = m.take("agent")) SKR_RETURN_IF_ERROR(readAgent(*n, config.agent));
  if (const YamlNode* n = m.take("log")) SKR_RETURN_IF_ERROR(readLog(*n, config.log));
  return m.finish();
}

StatusOr<Config> parseConfigYaml(std::string_view yaml) {
  YamlLimits limits;
  limits.max_bytes = kMaxConfigBytes;
  limits.max_nodes = kMaxYamlNodes;
  SKR_ASSIGN_OR_RETURN(YamlNode root, parseYamlDocument(yaml, limits));
  Config config;
  SKR_RETURN_IF_ERROR(applyYamlDocument(root, config));
  SKR_RETURN_IF_ERROR(validateConfig(config));
  return config;
}

}  // namespace skr::config
