// loadConfig: where the YAML comes from (--config FILE or SKR_CONFIG_YAML), the SKR_* overrides
// and the AZURE_* workload-identity defaults (docs/config.md "Environment").
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "common/config/config.h"
#include "common/config/config_values.h"
#include "common/config/config_yaml.h"
#include "common/http/url.h"
#include "common/seal/bundle.h"

namespace skr::config {
namespace {

using Getenv = std::function<std::optional<std::string>(const std::string&)>;

std::optional<std::string> systemGetenv(const std::string& name) {
  const char* value = std::getenv(name.c_str());  // NOLINT(concurrency-mt-unsafe): start-up only
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

StatusOr<std::string> readConfigFile(const std::string& path) {
  const std::string what = "--config " + quotedForMessage(path);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    const int err = errno;
    const std::string message = what + ": " + std::strerror(err);
    if (err == ENOENT) return notFoundError(message);
    if (err == EACCES || err == EPERM) return permissionDeniedError(message);
    return invalidArgumentError(message);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return invalidArgumentError(what + ": not a regular file");
  }
  std::string text;
  char buffer[8192];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return invalidArgumentError(what + ": read: " + std::strerror(err));
    }
    if (n == 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
    if (text.size() > kMaxConfigBytes) {
      ::close(fd);
      return resourceExhaustedError(what + ": larger than " + std::to_string(kMaxConfigBytes) +
                                    " bytes");
    }
  }
  ::close(fd);
  return text;
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

Status checkAbsolute(const std::string& label, const std::string& value) {
  if (value.front() != '/') {
    return invalidArgumentError(label + ": " + quotedForMessage(value) +
                                " is not an absolute path");
  }
  return okStatus();
}

// One SKR_KEYS item: name@vault[/version], vault = https://host[:port], a vault name, or
// mhsm:(https://host[:port] | name).
StatusOr<KeyConfig> parseKeyItem(const std::string& label, std::string_view item) {
  const std::size_t at = item.find('@');
  if (at == std::string_view::npos || at == 0) {
    return invalidArgumentError(label + ": " + quotedForMessage(item) +
                                " is not name@vault[/version]");
  }
  KeyConfig key;
  key.name = std::string(item.substr(0, at));
  Status name_ok = seal::validateKeyName(key.name);
  if (!name_ok.ok()) return invalidArgumentError(label + ": " + name_ok.message());
  std::string_view rest = item.substr(at + 1);
  if (rest.substr(0, 5) == "mhsm:") {
    key.managed_hsm = true;
    rest.remove_prefix(5);
  }
  const std::size_t scheme = rest.find("://");
  const std::size_t search_from = scheme == std::string_view::npos ? 0 : scheme + 3;
  const std::size_t slash = rest.find('/', search_from);
  std::string_view vault = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    key.version = std::string(rest.substr(slash + 1));
    Status version_ok = seal::validateKeyName(key.version);
    if (!version_ok.ok()) {
      return invalidArgumentError(label + ": key " + quotedForMessage(key.name) + ": version " +
                                  quotedForMessage(key.version) + " is not [0-9a-zA-Z-]{1,127}");
    }
  }
  SKR_ASSIGN_OR_RETURN(key.vault_url, expandVaultUrl(label, vault, key.managed_hsm));
  const std::string_view suffix = ".managedhsm.azure.net";
  const std::string_view host = http::authorityHost(http::urlAuthority(key.vault_url));
  if (host.size() > suffix.size() && host.substr(host.size() - suffix.size()) == suffix) {
    key.managed_hsm = true;
  }
  return key;
}

StatusOr<std::vector<KeyConfig>> parseKeyList(const std::string& label, std::string_view text) {
  std::vector<KeyConfig> keys;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    const std::string item = trim(text.substr(start, comma - start));
    start = comma + 1;
    if (item.empty()) continue;
    if (keys.size() == kMaxKeys) {
      return invalidArgumentError(label + ": more than " + std::to_string(kMaxKeys) + " keys");
    }
    SKR_ASSIGN_OR_RETURN(KeyConfig key, parseKeyItem(label, item));
    for (const KeyConfig& other : keys) {
      if (other.name == key.name) {
        return invalidArgumentError(label + ": duplicate key name " + quotedForMessage(key.name));
      }
    }
    keys.push_back(std::move(key));
  }
  return keys;
}

// SKR_* overrides, each checked with the variable's name in the message.
Status applyOverrides(const Getenv& getenv, Config& c) {
  auto get = [&](const char* name) -> std::optional<std::string> {
    std::optional<std::string> value = getenv(name);
    if (value && value->empty()) return std::nullopt;  // empty = unset
    return value;
  };
  if (auto v = get("SKR_PLATFORM")) {
    SKR_ASSIGN_OR_RETURN(c.platform.kind, parseEnum("SKR_PLATFORM", *v, kPlatformNames));
  }
  if (auto v = get("SKR_CHIP_DIR")) {
    SKR_RETURN_IF_ERROR(checkAbsolute("SKR_CHIP_DIR", *v));
    c.platform.chip_dir = *v;
  }
  if (auto v = get("SKR_MAA_ENDPOINT")) {
    SKR_ASSIGN_OR_RETURN(c.attestation.maa_endpoint, checkUrl("SKR_MAA_ENDPOINT", *v, UrlPolicy{}));
  }
  if (auto v = get("SKR_IDENTITY")) {
    SKR_ASSIGN_OR_RETURN(c.identity.kind, parseEnum("SKR_IDENTITY", *v, kIdentityKindNames));
  }
  if (auto v = get("SKR_CLIENT_ID")) c.identity.client_id = *v;
  if (auto v = get("SKR_IMDS_ENDPOINT")) {
    SKR_ASSIGN_OR_RETURN(c.identity.imds_endpoint,
                         checkUrl("SKR_IMDS_ENDPOINT", *v, UrlPolicy{.allow_http = true}));
  }
  if (auto v = get("SKR_TOKEN_FILE")) {
    SKR_RETURN_IF_ERROR(checkAbsolute("SKR_TOKEN_FILE", *v));
    c.identity.token_file = *v;
  }
  if (auto v = get("SKR_STATE_DIR")) {
    SKR_RETURN_IF_ERROR(checkAbsolute("SKR_STATE_DIR", *v));
    c.state_dir = *v;
  }
  if (auto v = get("SKR_SEAL_PROVIDER")) {
    SKR_ASSIGN_OR_RETURN(c.seal.provider, parseEnum("SKR_SEAL_PROVIDER", *v, kSealProviderNames));
  }
  if (auto v = get("SKR_SEAL_KEYFILE")) {
    SKR_RETURN_IF_ERROR(checkAbsolute("SKR_SEAL_KEYFILE", *v));
    c.seal.keyfile = *v;
  }
  if (auto v = get("SKR_CA_FILE")) {
    SKR_RETURN_IF_ERROR(checkAbsolute("SKR_CA_FILE", *v));
    c.tls.ca_file = *v;
  }
  if (auto v = get("SKR_LOG_LEVEL")) {
    SKR_ASSIGN_OR_RETURN(c.log.level, parseEnum("SKR_LOG_LEVEL", *v, kLogLevelNames));
  }
  if (auto v = get("SKR_LOG_FORMAT")) {
    if (*v != "json" && *v != "text") {
      return invalidArgumentError("SKR_LOG_FORMAT: unknown value " + quotedForMessage(*v) +
                                  ", expected json | text");
    }
    c.log.format = *v;
  }
  if (auto v = get("SKR_KEYS")) {
    SKR_ASSIGN_OR_RETURN(c.keys, parseKeyList("SKR_KEYS", *v));
  }
  if (auto v = get("SKR_AGENT_SOCKET")) {
    SKR_RETURN_IF_ERROR(checkAbsolute("SKR_AGENT_SOCKET", *v));
    c.agent.client_socket = *v;
  }
  if (auto v = get("SKR_ADMIN_SOCKET")) {
    SKR_RETURN_IF_ERROR(checkAbsolute("SKR_ADMIN_SOCKET", *v));
    c.agent.admin_socket = *v;
  }
  return okStatus();
}

// Workload identity fills what the configuration leaves empty from the variables the Azure
// workload identity webhook injects.
void applyWorkloadDefaults(const Getenv& getenv, IdentityConfig& id) {
  if (id.kind != IdentityKind::Workload) return;
  auto fill = [&](const char* name, std::string& field) {
    if (!field.empty()) return;
    if (auto v = getenv(name)) field = *v;
  };
  fill("AZURE_CLIENT_ID", id.client_id);
  fill("AZURE_TENANT_ID", id.tenant_id);
  fill("AZURE_FEDERATED_TOKEN_FILE", id.federated_token_file);
  if (id.authority_host == IdentityConfig{}.authority_host) {
    if (auto v = getenv("AZURE_AUTHORITY_HOST"); v && !v->empty()) {
      std::string host = *v;
      while (!host.empty() && host.back() == '/') host.pop_back();
      id.authority_host = host;
    }
  }
}

}  // namespace

StatusOr<Config> loadConfig(const LoadOptions& options) {
  const Getenv getenv = options.getenv ? options.getenv : Getenv(systemGetenv);
  const std::optional<std::string> inline_yaml = getenv("SKR_CONFIG_YAML");
  const bool have_inline = inline_yaml && !inline_yaml->empty();
  if (options.file && have_inline) {
    return invalidArgumentError("both --config and SKR_CONFIG_YAML are set; use one");
  }
  Config config;
  std::string text;
  std::string source;
  if (options.file) {
    SKR_ASSIGN_OR_RETURN(text, readConfigFile(*options.file));
    source = "--config " + *options.file;
  } else if (have_inline) {
    if (inline_yaml->size() > kMaxConfigBytes) {
      return resourceExhaustedError("SKR_CONFIG_YAML: " + std::to_string(inline_yaml->size()) +
                                    " bytes, the limit is " + std::to_string(kMaxConfigBytes));
    }
    text = *inline_yaml;
    source = "SKR_CONFIG_YAML";
  }
  if (!source.empty()) {
    YamlLimits limits;
    limits.max_bytes = kMaxConfigBytes;
    limits.max_nodes = kMaxYamlNodes;
    auto root = parseYamlDocument(text, limits);
    if (!root.ok()) return root.status().withContext(source);
    Status applied = applyYamlDocument(*root, config);
    if (!applied.ok()) return applied.withContext(source);
  }
  SKR_RETURN_IF_ERROR(applyOverrides(getenv, config));
  applyWorkloadDefaults(getenv, config.identity);
  Status valid = validateConfig(config);
  if (!valid.ok()) {
    return source.empty() ? valid : valid.withContext(source);
  }
  if (config.identity.kind == IdentityKind::Token) {
    log::warning("config_literal_token",
                 {{"hint",
                   "identity.token holds a bearer token in the configuration; prefer "
                   "identity.token_file"}});
  }
  return config;
}

}  // namespace skr::config
