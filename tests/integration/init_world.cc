#include "tests/integration/init_world.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/azure/aci_policy.h"
#include "common/azure/release_policy.h"
#include "common/crypto/pkey.h"
#include "common/encoding/base64.h"
#include "common/encoding/hex.h"
#include "common/json/json.h"
#include "common/seal/bundle.h"
#include "common/seal/sealing_key.h"
#include "common/seal/state_dir.h"
#include "common/snp/platform.h"

namespace skr::testing {
namespace {

std::string resourceOf(const std::string& listener) {
  return listener == "mhsm" ? "https://managedhsm.azure.net" : "https://vault.azure.net";
}

}  // namespace

InitWorld::InitWorld() {
  emu_ = EmulatorProcess::start();
  emu_->admin("PUT", "/_emulator/chip",
              R"({"host_data":")" + kInitHostData + R"(","debug":false})");
  identity_ = addUserIdentity(*emu_, "skr-init");
  assignRole(*emu_, identity_.object_id, "Key Vault Crypto Officer", "vault");
  assignRole(*emu_, identity_.object_id, "Managed HSM Crypto Officer", "mhsm");
  assignRole(*emu_, identity_.object_id, "Managed HSM Crypto Service Release User", "mhsm");
  dir_ = makeTempDir("skr-init");
}

InitWorld::~InitWorld() {
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::string InitWorld::officerToken(const std::string& listener) {
  return imdsToken(*emu_, resourceOf(listener), identity_.client_id);
}

std::string InitWorld::createKey(const std::string& listener, const std::string& name,
                                 const std::string& spec) {
  StatusOr<std::string> policy =
      azure::makeAciReleasePolicy(emu_->url("maa"), kInitHostData, /*require_uvm=*/false);
  REQUIRE(policy.ok());
  HttpCall call;
  call.method = "POST";
  call.url = emu_->url(listener) + "/keys/" + name + "/create?api-version=7.4";
  call.headers.push_back({"Authorization", "Bearer " + officerToken(listener)});
  call.body = "{" + spec +
              R"(,"attributes":{"exportable":true},"release_policy":{"contentType":)"
              R"("application/json; charset=utf-8","data":")" +
              azure::toWireBase64Url(*policy) + "\"}}";
  HttpResult r = emu_->call(call);
  INFO(r.body);
  REQUIRE(r.status == 200);
  return r.json()->getObject("key")->getValue<std::string>("kid");
}

std::string InitWorld::managedIdentityYaml() const {
  return "  kind: managed\n  imds_endpoint: " + emu_->url("imds") +
         "\n  client_id: " + identity_.client_id + "\n";
}

std::string InitWorld::configYaml(const std::vector<InitKey>& keys,
                                  const std::string& identity_yaml,
                                  const std::string& extra) const {
  std::ostringstream y;
  y << "platform:\n  kind: emulated\n  chip_dir: " << emu_->env().at("SKR_EMULATOR_CHIP_DIR")
    << "\n";
  y << "attestation:\n  maa_endpoint: " << emu_->url("maa") << "\n";
  y << "  collateral:\n    sources: [thim]\n    thim_url: " << emu_->url("imds")
    << "/metadata/THIM/amd/certification\n";
  y << "identity:\n" << identity_yaml;
  y << "keys:\n";
  for (const InitKey& key : keys) {
    y << "  - name: " << key.name << "\n";
    y << "    " << (key.listener == "mhsm" ? "mhsm" : "vault") << ": "
      << (key.vault_url.empty() ? emu_->url(key.listener) : key.vault_url) << "\n";
    if (!key.enc.empty()) y << "    enc: " << key.enc << "\n";
    if (!key.version.empty()) y << "    version: " << key.version << "\n";
  }
  y << "state_dir: " << stateDir() << "\n";
  y << "seal:\n  provider: emulated\n";
  y << "tls:\n  ca_file: " << emu_->caFile() << "\n";
  y << "retry:\n  base: 100ms\n  cap: 2s\n";
  y << extra;
  return y.str();
}

ProcessResult InitWorld::runInit(const std::string& yaml, std::vector<std::string> args,
                                 std::map<std::string, std::string> env) {
  ProcessOptions options;
  options.env = std::move(env);
  options.env["SKR_CONFIG_YAML"] = yaml;
  options.timeout = std::chrono::seconds(180);
  ProcessResult result = runProcess(SKR_INIT_PATH, args, options);
  outputs_.push_back(result.out);
  outputs_.push_back(result.err);
  UNSCOPED_INFO("skr-init exit " << result.exit_code << "\n" << result.err);
  return result;
}

std::map<std::string, std::string> InitWorld::snapshotState() const {
  std::map<std::string, std::string> files;
  if (!std::filesystem::exists(stateDir())) return files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(stateDir())) {
    const std::string relative = std::filesystem::relative(entry.path(), stateDir()).string();
    if (entry.is_directory()) {
      files[relative + "/"] = "";
    } else {
      files[relative] = readFileText(entry.path().string());
    }
  }
  return files;
}

jose::Jwk InitWorld::openBundle(const std::string& name) const {
  seal::StateDirOptions options;
  options.path = stateDir();
  options.create = false;
  StatusOr<seal::StateDir> state = seal::StateDir::open(options);
  REQUIRE(state.ok());
  StatusOr<std::string> version = state->current(name);
  INFO(name);
  REQUIRE(version.ok());
  StatusOr<std::string> text = state->readVersion(name, *version, seal::kMaxBundleBytes);
  REQUIRE(text.ok());
  StatusOr<seal::SealedBundle> bundle = seal::SealedBundle::parse(*text);
  REQUIRE(bundle.ok());
  CHECK(bundle->info().emulated);
  CHECK(bundle->info().hostdata == kInitHostData);
  snp::PlatformOptions platform;
  platform.emulated_chip_dir = emu_->env().at("SKR_EMULATOR_CHIP_DIR");
  StatusOr<std::unique_ptr<snp::SnpDevice>> device =
      snp::openPlatform(snp::PlatformKind::Emulated, platform);
  REQUIRE(device.ok());
  StatusOr<std::unique_ptr<seal::SealingKeyProvider>> provider =
      seal::makeEmulatedProvider(std::shared_ptr<snp::SnpDevice>(std::move(device).value()));
  REQUIRE(provider.ok());
  seal::OpenOptions open;
  open.emulated = true;
  StatusOr<jose::Jwk> key = seal::openKey(*bundle, **provider, open);
  INFO(key.status().toString());
  REQUIRE(key.ok());
  return std::move(key).value();
}

SecretBytes InitWorld::emulatorMaterial(const std::string& listener, const std::string& name,
                                        const std::string& version) const {
  const std::string text =
      readFileText(emu_->stateDir() + "/keys/" + listener + "/" + name + "/" + version + ".json");
  REQUIRE(!text.empty());
  StatusOr<json::ObjectPtr> object = json::parseObject(text);
  REQUIRE(object.ok());
  StatusOr<SecretBytes> material =
      encoding::base64UrlDecodeSecret((*object)->getValue<std::string>("material"));
  REQUIRE(material.ok());
  return std::move(material).value();
}

void InitWorld::expectSameMaterial(const std::string& listener, const std::string& name) const {
  jose::Jwk key = openBundle(name);
  const std::string version = key.kid().substr(key.kid().rfind('/') + 1);
  CHECK(key.kid() == emu_->url(listener) + "/keys/" + name + "/" + version);
  SecretBytes material = emulatorMaterial(listener, name, version);
  INFO(name << " " << version);
  if (key.type() == jose::JwkType::Oct) {
    StatusOr<const SecretBytes*> octet = key.octet();
    REQUIRE(octet.ok());
    CHECK(**octet == material);
  } else {
    StatusOr<const crypto::PrivateKey*> bundled = key.privateKey();
    REQUIRE(bundled.ok());
    StatusOr<crypto::PrivateKey> held = crypto::PrivateKey::fromPkcs8Der(material);
    REQUIRE(held.ok());
    CHECK((*bundled)->toPkcs8Der() == held->toPkcs8Der());
  }
}

void InitWorld::expectNoSecretsInOutput() const {
  std::vector<std::string> texts = outputs_;
  texts.push_back(emu_->stderrText());
  // Every key the emulator holds: base64url of the material and, for short keys, its hex.
  std::vector<std::string> secrets;
  const std::string keys_dir = emu_->stateDir() + "/keys";
  if (std::filesystem::exists(keys_dir)) {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(keys_dir)) {
      if (!entry.is_regular_file()) continue;
      StatusOr<json::ObjectPtr> object = json::parseObject(readFileText(entry.path().string()));
      if (!object.ok()) continue;
      const std::string b64 = (*object)->optValue<std::string>("material", "");
      if (b64.size() < 40) continue;
      secrets.push_back(b64.substr(b64.size() / 2 - 12, 24));
      StatusOr<SecretBytes> raw = encoding::base64UrlDecodeSecret(b64);
      if (raw.ok() && raw->size() <= 64) {
        secrets.push_back(encoding::hexEncode(raw->view(grantSecretAccess())));
      }
    }
  }
  for (const std::string& text : texts) {
    std::string lower = text;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    // Blob Storage's error codes (AuthorizationFailure, AuthorizationPermissionMismatch, ...)
    // name no credential: only an Authorization header or member is a leak.
    for (std::size_t at = lower.find("authorizationfailure"); at != std::string::npos;
         at = lower.find("authorizationfailure")) {
      lower.replace(at, 13, "storage-error");
    }
    for (std::size_t at = lower.find("authorizationpermissionmismatch"); at != std::string::npos;
         at = lower.find("authorizationpermissionmismatch")) {
      lower.replace(at, 13, "storage-error");
    }
    const std::size_t authorization = lower.find("authorization");
    INFO((authorization == std::string::npos
              ? std::string()
              : lower.substr(authorization < 160 ? 0 : authorization - 160, 240)));
    CHECK(authorization == std::string::npos);
    CHECK(lower.find("bearer ") == std::string::npos);
    // A compact JWT: base64url JSON header, payload and signature ("eyJ...eyJ...").
    const std::size_t jwt = text.find("eyJ");
    if (jwt != std::string::npos) {
      const std::size_t dot = text.find('.', jwt);
      CHECK_FALSE((dot != std::string::npos && text.compare(dot + 1, 3, "eyJ") == 0));
    }
    for (const std::string& secret : secrets) CHECK(text.find(secret) == std::string::npos);
  }
}

std::vector<json::ObjectPtr> jsonLines(const std::string& text) {
  std::vector<json::ObjectPtr> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    StatusOr<json::ObjectPtr> object = json::parseObject(line);
    if (object.ok()) lines.push_back(*object);
  }
  return lines;
}

json::ObjectPtr lastEvent(const std::string& text, const std::string& event) {
  json::ObjectPtr found;
  for (const json::ObjectPtr& line : jsonLines(text)) {
    if (line->optValue<std::string>("event", "") == event) found = line;
  }
  INFO("no '" << event << "' line in:\n" << text);
  REQUIRE(found);
  return found;
}

}  // namespace skr::testing
