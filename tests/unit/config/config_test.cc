#include "common/config/config.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

namespace skr::config {
namespace {

using Env = std::map<std::string, std::string>;

LoadOptions withEnv(const Env& env, std::optional<std::string> file = std::nullopt) {
  LoadOptions options;
  options.file = std::move(file);
  options.getenv = [env](const std::string& name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  return options;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// The first ```yaml block after `heading` in docs/config.md.
std::string docExample(const std::string& heading) {
  const std::string doc = readFile(std::string(SKR_TEST_DATA_DIR) + "/../../docs/config.md");
  const std::size_t at = doc.find(heading);
  REQUIRE(at != std::string::npos);
  const std::size_t start = doc.find("```yaml\n", at);
  REQUIRE(start != std::string::npos);
  const std::size_t end = doc.find("```", start + 8);
  REQUIRE(end != std::string::npos);
  return doc.substr(start + 8, end - start - 8);
}

// A temporary file removed at scope exit.
class TempFile {
 public:
  explicit TempFile(const std::string& content) {
    std::string templ = "/tmp/skr-config-test-XXXXXX";
    const int fd = ::mkstemp(templ.data());
    REQUIRE(fd >= 0);
    REQUIRE(::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()));
    ::close(fd);
    path_ = templ;
  }
  ~TempFile() { ::unlink(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string errorOf(std::string_view yaml) {
  auto config = parseConfigYaml(yaml);
  REQUIRE_FALSE(config.ok());
  return config.status().message();
}

constexpr const char* kMinimal = R"(
attestation:
  maa_endpoint: https://maa.example.net
keys:
  - name: data-kek
    vault: myvault
)";

TEST_CASE("an empty document gives the documented defaults") {
  auto config = parseConfigYaml("");
  REQUIRE(config.ok());
  const Config& c = *config;
  CHECK(c.platform.kind == snp::PlatformKind::Auto);
  CHECK(c.platform.sev_guest_path == "/dev/sev-guest");
  CHECK(c.attestation.maa_endpoint.empty());
  CHECK(c.attestation.api_version == "2022-08-01");
  CHECK(c.attestation.transfer_key_bits == 2048);
  CHECK(c.attestation.collateral.security_context);
  CHECK(c.attestation.collateral.thim);
  CHECK(c.attestation.collateral.kds);
  CHECK(c.identity.kind == IdentityKind::Managed);
  CHECK(c.identity.imds_endpoint == "http://169.254.169.254");
  CHECK(c.keys.empty());
  CHECK(c.state_dir == "/run/skr/keys");
  CHECK(c.seal.provider == seal::SealProviderKind::SnpDerived);
  CHECK(c.retry.max_attempts == 4);
  CHECK(c.retry.base == std::chrono::milliseconds(500));
  CHECK(c.agent.client_socket == "/run/skr/sock/agent.sock");
  CHECK(c.agent.admin_socket == "/run/skr/admin/agent.sock");
  CHECK(c.agent.socket_mode == 0660);
  CHECK(c.agent.limits.max_body_bytes == 1u << 20);
  CHECK(c.agent.release_on_start == ReleaseOnStart::IfMissing);
  CHECK(c.agent.rotation_interval == std::chrono::seconds(0));
  CHECK_FALSE(c.agent.azure_sidecar.enabled);
  CHECK(c.agent.azure_sidecar.require_request_header);
  CHECK(c.log.level == log::Level::Info);
  CHECK(c.log.format == "json");
  CHECK_FALSE(c.emulated());
}

TEST_CASE("the sidecar listener's header requirement can be turned off, and only there") {
  auto config = parseConfigYaml(
      "agent: {compat: {azure_sidecar: {enabled: true, tcp_port: 8080, "
      "require_request_header: false}}}");
  REQUIRE(config.ok());
  CHECK_FALSE(config->agent.azure_sidecar.require_request_header);
  CHECK(config->agent.azure_sidecar.tcp_port == 8080);
  auto bad = parseConfigYaml("agent: {require_request_header: false}");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find("agent.require_request_header: unknown key") !=
        std::string::npos);
}

TEST_CASE("agent.data: blob URL prefixes for POST /data/open and its concurrency") {
  auto config = parseConfigYaml(
      "agent:\n"
      "  clients: [{name: app, uids: [1000], operations: [open-data], keys: [\"*\"]}]\n"
      "  data:\n"
      "    sources: [\"https://acct.blob.core.windows.net/models/\", "
      "\"https://127.0.0.1:10000/devstoreaccount1/enc/\"]\n"
      "    max_concurrent: 2\n");
  INFO(config.status().toString());
  REQUIRE(config.ok());
  CHECK(config->agent.data.sources ==
        std::vector<std::string>{"https://acct.blob.core.windows.net/models/",
                                 "https://127.0.0.1:10000/devstoreaccount1/enc/"});
  CHECK(config->agent.data.max_concurrent == 2);
  CHECK(config->agent.clients.at(0).operations == std::vector<std::string>{"open-data"});
  auto again = parseConfigYaml(describeConfig(*config));
  REQUIRE(again.ok());
  CHECK(again->agent.data.sources == config->agent.data.sources);
  CHECK(again->agent.data.max_concurrent == 2);
  auto defaults = parseConfigYaml("{}");
  REQUIRE(defaults.ok());
  CHECK(defaults->agent.data.sources.empty());
  CHECK(defaults->agent.data.max_concurrent == 4);
}

TEST_CASE("loadConfig without file or environment gives the defaults") {
  auto config = loadConfig(withEnv({}));
  REQUIRE(config.ok());
  CHECK(config->state_dir == "/run/skr/keys");
  CHECK(config->keys.empty());
}

TEST_CASE("a bare vault or mhsm name expands to the Azure host") {
  auto config = parseConfigYaml(R"(
attestation: {maa_endpoint: "https://maa.example.net/"}
keys:
  - {name: a, vault: myvault}
  - {name: b, mhsm: MyHsm, version: 0123abcd, enc: RSA_AES_KEY_WRAP_384}
  - {name: c, vault: "https://127.0.0.1:8443/"}
)");
  REQUIRE(config.ok());
  CHECK(config->attestation.maa_endpoint == "https://maa.example.net");
  REQUIRE(config->keys.size() == 3);
  CHECK(config->keys[0].vault_url == "https://myvault.vault.azure.net");
  CHECK_FALSE(config->keys[0].managed_hsm);
  CHECK(config->keys[0].enc == azure::KeyExportEnc::RsaAesKeyWrap256);
  CHECK(config->keys[1].vault_url == "https://myhsm.managedhsm.azure.net");
  CHECK(config->keys[1].managed_hsm);
  CHECK(config->keys[1].version == "0123abcd");
  CHECK(config->keys[1].enc == azure::KeyExportEnc::RsaAesKeyWrap384);
  CHECK(config->keys[2].vault_url == "https://127.0.0.1:8443");
}

TEST_CASE("data entries are read, checked against keys[] and described without secrets") {
  const std::string yaml = std::string(kMinimal) + R"(data:
  - name: model
    url: https://acct.blob.core.windows.net/models/model.skr
    key: data-kek
    path: /run/skr/data/model.bin
  - name: weights
    url: https://acct.blob.core.windows.net/models/weights.skr
    key: data-kek
    path: /run/skr/data/weights.bin
    mode: "0400"
    auth: sas
    sas_file: /run/secrets/weights-sas
)";
  auto config = parseConfigYaml(yaml);
  REQUIRE(config.ok());
  REQUIRE(config->data.size() == 2);
  const DataConfig& model = config->data[0];
  CHECK(model.name == "model");
  CHECK(model.url == "https://acct.blob.core.windows.net/models/model.skr");
  CHECK(model.key == "data-kek");
  CHECK(model.path == "/run/skr/data/model.bin");
  CHECK(model.mode == 0440);
  CHECK(model.auth == DataAuth::Entra);
  CHECK(config->data[1].mode == 0400);
  CHECK(config->data[1].auth == DataAuth::Sas);
  CHECK(config->data[1].sas_file == "/run/secrets/weights-sas");
  const std::string described = describeConfig(*config);
  CHECK(described.find("\"sas_file\":\"/run/secrets/weights-sas\"") != std::string::npos);
  CHECK(described.find("\"mode\":\"0400\"") != std::string::npos);
  // The description parses back to the same entries.
  auto again = parseConfigYaml(described);
  REQUIRE(again.ok());
  CHECK(again->data.size() == 2);
  CHECK(again->data[1].path == "/run/skr/data/weights.bin");
}

TEST_CASE("bad data entries are refused with the key path and the fix") {
  const std::string head = std::string(kMinimal) + "data:\n";
  const std::string ok_entry =
      "url: https://a.blob.core.windows.net/c/b, key: data-kek, path: /run/d/b";
  const std::map<std::string, std::string> cases = {
      {"  - {name: m, url: \"https://a.blob.core.windows.net/c/b?sv=1&sig=abc\", key: data-kek, "
       "path: /run/d/b}",
       "data[0].url: must not carry a query or fragment: put a SAS token in sas_file"},
      {"  - {name: m, url: http://a.blob.core.windows.net/c/b, key: data-kek, path: /run/d/b}",
       "data[0].url: \"http://a.blob.core.windows.net/c/b\": must use https"},
      {"  - {name: m, url: https://a.blob.core.windows.net, key: data-kek, path: /run/d/b}",
       "names no blob"},
      {"  - {name: m, url: https://a.blob.core.windows.net/c/b, key: other, path: /run/d/b}",
       "data[0].key: \"other\" is not a name in keys[]"},
      {"  - {name: m, url: https://a.blob.core.windows.net/c/b, key: data-kek, path: d/b}",
       "data[0].path: \"d/b\" is not an absolute path"},
      {"  - {name: m, url: https://a.blob.core.windows.net/c/b, key: data-kek, path: /run/../b}",
       "data[0].path: \"/run/../b\" must name a file"},
      {"  - {name: m, " + ok_entry + ", mode: \"0664\"}",
       "data[0].mode: 0664 lets group or others write the plaintext"},
      {"  - {name: m, " + ok_entry + ", auth: sas}", "data[0].sas_file: required for auth sas"},
      {"  - {name: m, " + ok_entry + ", sas_file: /s}", "data[0].sas_file: only used with auth sas"},
      {"  - {name: m, " + ok_entry + ", auth: key}",
       "data[0].auth: unknown value \"key\", expected entra | sas | anonymous"},
      {"  - {name: m, " + ok_entry + "}\n  - {name: m, " + ok_entry + "}",
       "data[1].name: duplicate data name \"m\""},
      {"  - {name: m, " + ok_entry + "}\n  - {name: n, " + ok_entry + "}",
       "data[1].path: another data entry writes \"/run/d/b\""},
      {"  - {name: m, " + ok_entry + ", owner: root}", "data[0].owner: unknown key"},
  };
  for (const auto& [entries, expected] : cases) {
    INFO(entries);
    const std::string message = errorOf(head + entries + "\n");
    CHECK(message.find(expected) != std::string::npos);
  }
}

TEST_CASE("validation errors name the key path") {
  const std::map<std::string, std::string> cases = {
      {"bogus: 1",
       "\"bogus\": unknown key, expected one of platform, attestation, identity, "
       "keys, data, state_dir, seal, tls, retry, agent, log"},
      {"agent: {workerz: 4}",
       "agent.workerz: unknown key, expected one of client_socket, "
       "admin_socket, socket_mode, socket_group, clients, admin_uids, "
       "limits, release_on_start, rotation_interval, rotation_jitter, "
       "workers, compat, data"},
      {"agent: {data: {sources: [http://acct.blob.core.windows.net/c/]}}",
       "agent.data.sources[0]: \"http://acct.blob.core.windows.net/c/\" is not an https URL "
       "prefix ending in \"/\" (e.g. https://myaccount.blob.core.windows.net/models/)"},
      {"agent: {data: {sources: [\"https://acct.blob.core.windows.net\"]}}",
       "agent.data.sources[0]: \"https://acct.blob.core.windows.net\" is not an https URL "
       "prefix ending in \"/\" (e.g. https://myaccount.blob.core.windows.net/models/)"},
      {"agent: {data: {sources: [\"https://a.example/c/?sig=x/\"]}}",
       "agent.data.sources[0]: \"https://a.example/c/?sig=x/\": a query or fragment is not "
       "allowed"},
      {"agent: {data: {max_concurrent: 0}}", "agent.data.max_concurrent: 0 is not 1..64"},
      {"agent: {data: {sourcez: []}}",
       "agent.data.sourcez: unknown key, expected one of sources, max_concurrent"},
      {"agent: {workers: \"4\"}", "agent.workers: expected an integer, got the string \"4\""},
      {"agent: {workers: [4]}", "agent.workers: expected an integer, got sequence"},
      {"agent: {workers: 0}", "agent.workers: 0 is not 1..256"},
      {"agent: {socket_mode: 01777}", "agent.socket_mode: \"01777\" is above 0777"},
      {"agent: {socket_mode: 0680}",
       "agent.socket_mode: \"0680\" is not an octal file mode, expected e.g. 0660"},
      {"agent: {compat: {azure_sidecar: {enabled: yes}}}",
       "agent.compat.azure_sidecar.enabled: expected true or false, got \"yes\""},
      {"agent: {compat: {azure_sidecar: {enabled: true}}}",
       "agent.compat.azure_sidecar: when enabled, exactly one of socket or tcp_port is required"},
      {"agent: {client_socket: relative.sock}",
       "agent.client_socket: \"relative.sock\" is not an absolute path"},
      {"agent: {admin_socket: /run/skr/sock/agent.sock}",
       "agent.admin_socket: must differ from agent.client_socket"},
      {"agent: {rotation_interval: 1h, rotation_jitter: 2h}",
       "agent.rotation_jitter: must not exceed agent.rotation_interval"},
      {"agent: {rotation_interval: 1500ms}",
       "agent.rotation_interval: \"1500ms\" is not a whole number of seconds"},
      {"agent: {limits: {read_timeout: 5 s}}",
       "agent.limits.read_timeout: \"5 s\" is not a duration, expected e.g. 500ms, 30s, 5m, 1h "
       "or an integer (milliseconds)"},
      {"agent: {release_on_start: sometimes}",
       "agent.release_on_start: unknown value \"sometimes\", expected if-missing | always | "
       "never"},
      {"platform: emulated",
       "platform.chip_dir: required for platform emulated (the emulator's "
       "chip directory)"},
      {"platform: sev",
       "platform: unknown value \"sev\", expected auto | sev-guest | sev-legacy "
       "| tsm | emulated"},
      {"platform: {kind: tsm, vmpl: 4}", "platform.vmpl: 4 is not 0..3"},
      {"keys: [{name: a, vault: v1}]",
       "keys[0].vault: \"v1\" is neither https://host[:port] nor a vault name (3..24 of "
       "[0-9a-zA-Z-])"},
      {"keys: [{name: a, vault: myvault}]",
       "attestation.maa_endpoint: required when keys are configured"},
      {"attestation: {maa_endpoint: http://maa.example.net}",
       "attestation.maa_endpoint: \"http://maa.example.net\": must use https (http only to a "
       "loopback host)"},
      {"attestation: {maa_endpoint: https://maa.example.net/attest}",
       "attestation.maa_endpoint: \"https://maa.example.net/attest\": a path is not allowed, "
       "expected https://host[:port]"},
      {"attestation: {transfer_key_bits: 1024}",
       "attestation.transfer_key_bits: 1024 is not one of 2048 | 3072 | 4096"},
      {"attestation: {collateral: {sources: []}}",
       "attestation.collateral.sources: at least one source is required"},
      {"attestation: {collateral: {sources: [thim, vcek]}}",
       "attestation.collateral.sources[1]: unknown value \"vcek\", expected security-context | "
       "thim | kds"},
      {"attestation: {collateral: {kds_url: ftp://kds}}",
       "attestation.collateral.kds_url: \"ftp://kds\": scheme must be https"},
      {"identity: {kind: msi}",
       "identity.kind: unknown value \"msi\", expected managed | "
       "workload | token-file | token | none"},
      {"identity: {client_id: a, object_id: b}",
       "identity: at most one of client_id, object_id, msi_res_id selects the managed identity"},
      {"identity: {kind: token-file}", "identity.token_file: required for kind token-file"},
      {"identity: {kind: managed, token: abc}",
       "identity.token: a literal token is only allowed with kind token (kind is managed)"},
      {"identity: {kind: token, token: abc, token_file: /t}",
       "identity.token_file: not used with kind token"},
      {"identity: {kind: none, client_id: x}", "identity.client_id: not used with kind none"},
      {"identity: {kind: workload, client_id: c, tenant_id: t}",
       "identity.federated_token_file: required for kind workload (or set "
       "AZURE_FEDERATED_TOKEN_FILE)"},
      {"identity: {resource_overrides: {\"127.0.0.1:1\": https://example.net}}",
       "identity.resource_overrides.127.0.0.1:1: \"https://example.net\" is not one of "
       "https://vault.azure.net | https://managedhsm.azure.net"},
      {"identity: {resource_overrides: {\"vault\\xdc.example:1\": https://vault.azure.net}}",
       "identity.resource_overrides: \"vault??.example:1\" is not host[:port]"},
      {"identity: {resource_overrides: {\"vault.example:0\": https://vault.azure.net}}",
       "identity.resource_overrides: \"vault.example:0\" is not host[:port]"},
      {"identity: {resource_overrides: {\"a b\": https://vault.azure.net}}",
       "identity.resource_overrides: \"a b\" is not host[:port]"},
      {"seal: {provider: keyfile}", "seal.keyfile: required for provider keyfile"},
      {"seal: {keyfile: /k}",
       "seal.keyfile: only used with provider keyfile (provider is "
       "snp-derived)"},
      {"seal: {provider: tpm}",
       "seal.provider: unknown value \"tpm\", expected snp-derived | "
       "keyfile | emulated | none"},
      {"seal: {group: no-such-group-skr}",
       "seal.group: group \"no-such-group-skr\" is not a number and not a known group name"},
      {"state_dir: run/skr", "state_dir: \"run/skr\" is not an absolute path"},
      {"retry: {base: 2s, cap: 1s}", "retry.cap: must not be below retry.base"},
      {"log: {level: verbose}",
       "log.level: unknown value \"verbose\", expected debug | info | warning | error"},
      {"log: {format: xml}", "log.format: unknown value \"xml\", expected json | text"},
      {"log: [debug]", "log: expected a map, got sequence"},
      {"- a", "configuration: expected a map of sections, got sequence"},
  };
  for (const auto& [yaml, expected] : cases) {
    INFO(yaml);
    CHECK(errorOf(yaml) == expected);
  }
}

TEST_CASE("key errors name the key index") {
  const std::string head = "attestation: {maa_endpoint: https://maa.example.net}\nkeys:\n";
  CHECK(errorOf(head + "  - {name: a, vault: myvault}\n  - {name: b, vault: myvault, enc: "
                       "RSA_AES}\n") ==
        "keys[1].enc: unknown value \"RSA_AES\", expected CKM_RSA_AES_KEY_WRAP | "
        "RSA_AES_KEY_WRAP_256 | RSA_AES_KEY_WRAP_384");
  CHECK(errorOf(head + "  - {name: a, vault: myvault}\n  - {name: a, vault: other1}\n") ==
        "keys[1].name: duplicate key name \"a\"");
  CHECK(errorOf(head + "  - {name: a_b, vault: myvault}\n") ==
        "keys[0].name: key name 'a_b': character 1 is not one of [0-9a-zA-Z-]");
  CHECK(errorOf(head + "  - {name: a, vault: myvault, mhsm: myhsm}\n") ==
        "keys[0]: both vault and mhsm are set, expected exactly one");
  CHECK(errorOf(head + "  - {name: a}\n") == "keys[0]: one of vault or mhsm is required");
  CHECK(errorOf(head + "  - {vault: myvault}\n") == "keys[0].name: required");
  CHECK(errorOf(head + "  - {name: a, vault: myvault, version: \"1/2\"}\n") ==
        "keys[0].version: \"1/2\" is not [0-9a-zA-Z-]{1,127}");
  CHECK(errorOf(head + "  - {name: a, vault: myvault, tags: x}\n") ==
        "keys[0].tags: unknown key, expected one of name, vault, mhsm, version, enc, "
        "api_version");
  CHECK(errorOf("keys: {name: a}") == "keys: expected a list, got map");
}

TEST_CASE("more than 64 keys is refused") {
  std::string yaml = "attestation: {maa_endpoint: https://maa.example.net}\nkeys:\n";
  for (int i = 0; i < 65; ++i) yaml += "  - {name: k" + std::to_string(i) + ", vault: myvault}\n";
  CHECK(errorOf(yaml) == "keys: 65 keys, at most 64");
}

TEST_CASE("client rules are checked against operations and configured keys") {
  const std::string head = std::string(kMinimal) + "agent:\n  clients:\n";
  CHECK(
      errorOf(head + "    - {name: app, uids: [1000], operations: [unwrap, sign], keys: ['*']}") ==
      "agent.clients[0].operations[1]: unknown operation \"sign\", expected unwrap | wrap | "
      "decrypt | encrypt | rewrap | keys | events | attest | release | *");
  CHECK(errorOf(head + "    - {name: app, uids: [1000], operations: [unwrap], keys: [other]}") ==
        "agent.clients[0].keys[0]: \"other\" is not a configured key");
  CHECK(errorOf(head + "    - {name: app, operations: [unwrap], keys: ['*']}") ==
        "agent.clients[0]: needs uids or gids (a rule without them matches nobody)");
  CHECK(errorOf(head + "    - {name: app, uids: [1000], operations: [unwrap], keys: ['*'], "
                       "token_sha256: abcd}") ==
        "agent.clients[0].token_sha256: expected 64 hex digits (the SHA-256 of the token)");
  CHECK(errorOf(head + "    - {name: app, uids: [1000], operations: [], keys: ['*']}") ==
        "agent.clients[0].operations: must not be empty");
  CHECK(errorOf(head + "    - {name: app, uids: [x-no-such-user], operations: [unwrap], keys: "
                       "['*']}") ==
        "agent.clients[0].uids[0]: user \"x-no-such-user\" is not a number and not a known user "
        "name");

  auto config = parseConfigYaml(head +
                                "    - name: app\n      uids: [1000, root]\n      gids: [root]\n"
                                "      operations: [unwrap, wrap]\n      keys: [data-kek]\n"
                                "      token_sha256: " +
                                std::string(64, 'A') + "\n");
  REQUIRE(config.ok());
  REQUIRE(config->agent.clients.size() == 1);
  const ClientRule& rule = config->agent.clients[0];
  CHECK(rule.uids == std::vector<uid_t>{1000, 0});
  CHECK(rule.gids == std::vector<gid_t>{0});
  CHECK(rule.keys == std::vector<std::string>{"data-kek"});
  CHECK(rule.token_sha256 == std::string(64, 'a'));  // normalized to lower case
}

TEST_CASE("durations accept units and bare integers in the key's unit") {
  auto config = parseConfigYaml(R"(
retry: {base: 250, cap: 2s, overall: 5m}
agent:
  limits: {idle_timeout: 1h, read_timeout: 1500}
  rotation_interval: 3600
  rotation_jitter: 2m
)");
  REQUIRE(config.ok());
  CHECK(config->retry.base == std::chrono::milliseconds(250));
  CHECK(config->retry.cap == std::chrono::milliseconds(2000));
  CHECK(config->retry.overall == std::chrono::milliseconds(300000));
  CHECK(config->agent.limits.idle_timeout == std::chrono::milliseconds(3600000));
  CHECK(config->agent.limits.read_timeout == std::chrono::milliseconds(1500));
  CHECK(config->agent.rotation_interval == std::chrono::seconds(3600));
  CHECK(config->agent.rotation_jitter == std::chrono::seconds(120));
  CHECK(errorOf("retry: {overall: 31d}") == "retry.overall: \"31d\" is longer than 30 days");
  CHECK(errorOf("retry: {base: -5}") ==
        "retry.base: \"-5\" is not a duration, expected e.g. 500ms, 30s, 5m, 1h or an integer "
        "(milliseconds)");
}

TEST_CASE("the Azure ACI example of docs/config.md round-trips through describeConfig") {
  auto config = parseConfigYaml(docExample("## Example: Azure Container Instances"));
  REQUIRE(config.ok());
  CHECK(config->attestation.maa_endpoint == "https://sharedeus2.eus2.attest.azure.net");
  CHECK(config->identity.client_id == "6f9a3c2e-1b7d-4e8f-9a0b-2c3d4e5f6a7b");
  REQUIRE(config->keys.size() == 2);
  CHECK(config->keys[1].vault_url == "https://contoso-hsm.managedhsm.azure.net");
  CHECK(config->keys[1].enc == azure::KeyExportEnc::CkmRsaAesKeyWrap);
  CHECK(config->agent.socket_group == gid_t{2000});
  CHECK(config->agent.rotation_interval == std::chrono::hours(24));
  CHECK_FALSE(config->emulated());

  const std::string described = describeConfig(*config);
  auto again = parseConfigYaml(described);
  REQUIRE(again.ok());
  CHECK(describeConfig(*again) == described);
  CHECK(described.find("\"vault\":\"https://contoso-skr.vault.azure.net\"") != std::string::npos);
  CHECK(described.find("\"socket_mode\":\"0660\"") != std::string::npos);
  CHECK(described.find("\"rotation_interval\":\"24h\"") != std::string::npos);
}

TEST_CASE("the emulator example of docs/config.md parses") {
  auto config = parseConfigYaml(docExample("## Example: the local emulator"));
  REQUIRE(config.ok());
  CHECK(config->emulated());
  CHECK(config->platform.kind == snp::PlatformKind::Emulated);
  CHECK(config->platform.chip_dir == "/tmp/skr-emu/chip");
  CHECK(config->seal.provider == seal::SealProviderKind::Emulated);
  CHECK(config->identity.imds_endpoint == "http://127.0.0.1:40101");
  CHECK(config->identity.resource_overrides.at("127.0.0.1:40104") ==
        "https://managedhsm.azure.net");
  CHECK(config->attestation.collateral.thim);
  CHECK_FALSE(config->attestation.collateral.kds);
  REQUIRE(config->keys.size() == 2);
  CHECK(config->keys[1].managed_hsm);
  CHECK(config->keys[1].vault_url == "https://127.0.0.1:40104");
  CHECK(config->tls.ca_file == "/tmp/skr-emu/ca.pem");
  CHECK(config->log.format == "text");
  CHECK(config->agent.clients[0].operations == std::vector<std::string>{"*"});
}

TEST_CASE("describeConfig never contains a literal token") {
  auto config = parseConfigYaml("identity: {kind: token, token: eyJhbGciOiJSUzI1NiJ9.secret.sig}");
  REQUIRE(config.ok());
  const std::string described = describeConfig(*config);
  CHECK(described.find("secret") == std::string::npos);
  CHECK(described.find("eyJ") == std::string::npos);
  CHECK(described.find("\"token\":\"<redacted sha256:") != std::string::npos);
  CHECK(described.find("len=31>") != std::string::npos);
}

TEST_CASE("giving both --config and SKR_CONFIG_YAML is an error") {
  TempFile file(kMinimal);
  auto config = loadConfig(withEnv({{"SKR_CONFIG_YAML", "log: {level: debug}"}}, file.path()));
  REQUIRE_FALSE(config.ok());
  CHECK(config.status().code() == StatusCode::InvalidArgument);
  CHECK(config.status().message() == "both --config and SKR_CONFIG_YAML are set; use one");
}

TEST_CASE("loadConfig reads --config and SKR_* overrides win over it") {
  TempFile file(std::string(kMinimal) + "log: {level: debug}\nstate_dir: /var/skr\n");
  auto config = loadConfig(withEnv({{"SKR_LOG_LEVEL", "error"},
                                    {"SKR_MAA_ENDPOINT", "https://other.attest.azure.net/"},
                                    {"SKR_STATE_DIR", ""}},  // empty = unset
                                   file.path()));
  REQUIRE(config.ok());
  CHECK(config->log.level == log::Level::Error);
  CHECK(config->attestation.maa_endpoint == "https://other.attest.azure.net");
  CHECK(config->state_dir == "/var/skr");
  CHECK(config->keys.size() == 1);
}

TEST_CASE("loadConfig reads SKR_CONFIG_YAML and SKR_* overrides win over it") {
  auto config = loadConfig(
      withEnv({{"SKR_CONFIG_YAML", std::string(kMinimal) + "platform: {kind: emulated, chip_dir: "
                                                           "/chip}\n"},
               {"SKR_PLATFORM", "tsm"},
               {"SKR_SEAL_PROVIDER", "keyfile"},
               {"SKR_SEAL_KEYFILE", "/secrets/seal.key"},
               {"SKR_AGENT_SOCKET", "/tmp/a.sock"},
               {"SKR_ADMIN_SOCKET", "/tmp/b.sock"},
               {"SKR_IDENTITY", "token-file"},
               {"SKR_TOKEN_FILE", "/var/run/token"},
               {"SKR_CA_FILE", "/etc/ca.pem"},
               {"SKR_LOG_FORMAT", "text"},
               {"SKR_IMDS_ENDPOINT", "http://127.0.0.1:9"}}));
  REQUIRE(config.ok());
  CHECK(config->platform.kind == snp::PlatformKind::Tsm);
  CHECK(config->platform.chip_dir == "/chip");
  CHECK(config->seal.provider == seal::SealProviderKind::Keyfile);
  CHECK(config->seal.keyfile == "/secrets/seal.key");
  CHECK(config->agent.client_socket == "/tmp/a.sock");
  CHECK(config->agent.admin_socket == "/tmp/b.sock");
  CHECK(config->identity.kind == IdentityKind::TokenFile);
  CHECK(config->identity.token_file == "/var/run/token");
  CHECK(config->tls.ca_file == "/etc/ca.pem");
  CHECK(config->log.format == "text");
  CHECK(config->identity.imds_endpoint == "http://127.0.0.1:9");
}

TEST_CASE("SKR_* errors name the variable") {
  const std::map<std::string, std::pair<std::string, std::string>> cases = {
      {"SKR_PLATFORM",
       {"sev",
        "SKR_PLATFORM: unknown value \"sev\", expected auto | sev-guest | sev-legacy | tsm "
        "| emulated"}},
      {"SKR_MAA_ENDPOINT",
       {"http://maa.example.net",
        "SKR_MAA_ENDPOINT: \"http://maa.example.net\": must use https "
        "(http only to a loopback host)"}},
      {"SKR_IDENTITY",
       {"msi",
        "SKR_IDENTITY: unknown value \"msi\", expected managed | workload "
        "| token-file | token | none"}},
      {"SKR_STATE_DIR", {"keys", "SKR_STATE_DIR: \"keys\" is not an absolute path"}},
      {"SKR_LOG_LEVEL",
       {"loud",
        "SKR_LOG_LEVEL: unknown value \"loud\", expected debug | info | "
        "warning | error"}},
      {"SKR_LOG_FORMAT", {"xml", "SKR_LOG_FORMAT: unknown value \"xml\", expected json | text"}},
      {"SKR_KEYS", {"data-kek", "SKR_KEYS: \"data-kek\" is not name@vault[/version]"}},
      {"SKR_IMDS_ENDPOINT",
       {"169.254.169.254",
        "SKR_IMDS_ENDPOINT: \"169.254.169.254\" is not a "
        "URL, expected https://host[:port]"}},
      {"SKR_AGENT_SOCKET",
       {"agent.sock",
        "SKR_AGENT_SOCKET: \"agent.sock\" is not an absolute "
        "path"}},
  };
  for (const auto& [name, value_and_message] : cases) {
    INFO(name);
    auto config = loadConfig(withEnv({{name, value_and_message.first}}));
    REQUIRE_FALSE(config.ok());
    CHECK(config.status().code() == StatusCode::InvalidArgument);
    CHECK(config.status().message() == value_and_message.second);
  }
}

TEST_CASE("SKR_KEYS replaces the configured keys") {
  auto config =
      loadConfig(withEnv({{"SKR_CONFIG_YAML", kMinimal},
                          {"SKR_KEYS",
                           " a@myvault , b@https://127.0.0.1:8443/0123abcd,c@mhsm:myhsm/v2,"
                           "d@https://x.managedhsm.azure.net"}}));
  REQUIRE(config.ok());
  REQUIRE(config->keys.size() == 4);
  CHECK(config->keys[0].name == "a");
  CHECK(config->keys[0].vault_url == "https://myvault.vault.azure.net");
  CHECK(config->keys[0].version.empty());
  CHECK(config->keys[1].vault_url == "https://127.0.0.1:8443");
  CHECK(config->keys[1].version == "0123abcd");
  CHECK_FALSE(config->keys[1].managed_hsm);
  CHECK(config->keys[2].vault_url == "https://myhsm.managedhsm.azure.net");
  CHECK(config->keys[2].managed_hsm);
  CHECK(config->keys[2].version == "v2");
  CHECK(config->keys[3].managed_hsm);

  auto duplicate = loadConfig(withEnv({{"SKR_KEYS", "a@myvault,a@other1"}}));
  REQUIRE_FALSE(duplicate.ok());
  CHECK(duplicate.status().message() == "SKR_KEYS: duplicate key name \"a\"");
}

TEST_CASE("a vault URL whose host is under managedhsm.azure.net is a Managed HSM, port or not") {
  auto config = loadConfig(
      withEnv({{"SKR_CONFIG_YAML", kMinimal},
               {"SKR_KEYS",
                "a@https://x.managedhsm.azure.net:443,b@https://managedhsm.azure.net,"
                "c@https://x.managedhsm.azure.net.example:443,d@https://127.0.0.1:8443"}}));
  REQUIRE(config.ok());
  REQUIRE(config->keys.size() == 4);
  CHECK(config->keys[0].managed_hsm);
  CHECK_FALSE(config->keys[1].managed_hsm);  // the bare suffix names no HSM
  CHECK_FALSE(config->keys[2].managed_hsm);
  CHECK_FALSE(config->keys[3].managed_hsm);
}

TEST_CASE("workload identity fields default from the AZURE_* variables") {
  auto config = loadConfig(withEnv({{"SKR_CONFIG_YAML",
                                     "identity: {kind: workload, tenant_id: "
                                     "from-yaml}"},
                                    {"AZURE_CLIENT_ID", "client-from-env"},
                                    {"AZURE_TENANT_ID", "tenant-from-env"},
                                    {"AZURE_FEDERATED_TOKEN_FILE", "/var/run/azure/token"},
                                    {"AZURE_AUTHORITY_HOST", "https://login.example.net/"}}));
  REQUIRE(config.ok());
  CHECK(config->identity.client_id == "client-from-env");
  CHECK(config->identity.tenant_id == "from-yaml");
  CHECK(config->identity.federated_token_file == "/var/run/azure/token");
  CHECK(config->identity.authority_host == "https://login.example.net");

  auto managed = loadConfig(withEnv({{"AZURE_CLIENT_ID", "ignored"}}));
  REQUIRE(managed.ok());
  CHECK(managed->identity.client_id.empty());
}

TEST_CASE("errors from a config source say which source") {
  auto config = loadConfig(withEnv({{"SKR_CONFIG_YAML", "agent: {workers: 0}"}}));
  REQUIRE_FALSE(config.ok());
  CHECK(config.status().message() == "SKR_CONFIG_YAML: agent.workers: 0 is not 1..256");

  auto missing = loadConfig(withEnv({}, std::string("/nonexistent/skr.yaml")));
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == StatusCode::NotFound);
  CHECK(missing.status().message() ==
        "--config \"/nonexistent/skr.yaml\": No such file or directory");
}

TEST_CASE("configuration input above 256 KiB is refused") {
  const std::string big = "# " + std::string(256 * 1024, 'x') + "\n";
  auto inline_config = loadConfig(withEnv({{"SKR_CONFIG_YAML", big}}));
  REQUIRE_FALSE(inline_config.ok());
  CHECK(inline_config.status().code() == StatusCode::ResourceExhausted);
  CHECK(inline_config.status().message() == "SKR_CONFIG_YAML: 262147 bytes, the limit is 262144");

  TempFile file(big);
  auto file_config = loadConfig(withEnv({}, file.path()));
  REQUIRE_FALSE(file_config.ok());
  CHECK(file_config.status().code() == StatusCode::ResourceExhausted);
}

TEST_CASE("a literal token is kept as a secret and needs kind token") {
  auto config = parseConfigYaml("identity: {kind: token, token: abc.def.ghi}");
  REQUIRE(config.ok());
  CHECK(config->identity.token.size() == 11);
  auto token_with_env_kind = loadConfig(withEnv(
      {{"SKR_CONFIG_YAML", "identity: {kind: token, token: abc}"}, {"SKR_IDENTITY", "managed"}}));
  REQUIRE_FALSE(token_with_env_kind.ok());
  CHECK(token_with_env_kind.status().message() ==
        "SKR_CONFIG_YAML: identity.token: a literal token is only allowed with kind token (kind "
        "is managed)");
}

}  // namespace
}  // namespace skr::config
