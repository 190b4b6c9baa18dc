// A world for skr-init integration tests: a running skr-emulator with the emulated chip set to a
// known HOST_DATA, an identity holding the officer and release roles on both vaults, exportable
// keys created with the ACI release policy for the trusted MAA, a config YAML pointing skr-init
// at all of it, and helpers to run the real binary, open the bundles it wrote and compare them
// with the key material the emulator holds.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/jose/jwk.h"
#include "tests/integration/emulator_process.h"
#include "tests/integration/process.h"

namespace skr::testing {

inline const std::string kInitHostData =
    "532eaabd9574880dbf76b9b8cc00832c20a6ec113d682299550d7a6e0f345e25";

struct InitKey {
  InitKey(std::string name_, std::string listener_ = "vault", std::string enc_ = {},
          std::string version_ = {}, std::string vault_url_ = {})
      : name(std::move(name_)),
        listener(std::move(listener_)),
        enc(std::move(enc_)),
        version(std::move(version_)),
        vault_url(std::move(vault_url_)) {}

  std::string name;
  std::string listener;   // "vault" or "mhsm"
  std::string enc;        // "" = skr's default
  std::string version;    // "" = latest
  std::string vault_url;  // "" = the listener's URL
};

class InitWorld {
 public:
  InitWorld();
  ~InitWorld();

  EmulatorProcess& emulator() { return *emu_; }
  const TestIdentity& identity() const { return identity_; }
  const std::string& dir() const { return dir_; }  // scratch dir of this world
  std::string stateDir() const { return dir_ + "/state"; }

  // Creates an exportable key (spec: `"kty":"RSA-HSM","key_size":2048` etc.) with the ACI release
  // policy for the trusted MAA and kInitHostData; returns its kid.
  std::string createKey(const std::string& listener, const std::string& name,
                        const std::string& spec);
  // A token for the officer identity on `listener`.
  std::string officerToken(const std::string& listener);

  // The config YAML for `keys` with `identity_yaml` (the identity section's members, indented
  // two spaces) and extra top-level YAML appended.
  std::string configYaml(const std::vector<InitKey>& keys, const std::string& identity_yaml,
                         const std::string& extra = {}) const;
  std::string managedIdentityYaml() const;

  // Runs skr-init with SKR_CONFIG_YAML = yaml and `args`; adds its output to the secret scan.
  ProcessResult runInit(const std::string& yaml, std::vector<std::string> args = {},
                        std::map<std::string, std::string> env = {});

  // Every file under stateDir() (relative path -> content); empty when it does not exist.
  std::map<std::string, std::string> snapshotState() const;

  // Opens {state}/{name}/current's bundle with the emulated sealing provider of the emulator's
  // chip and returns the key; REQUIREs success.
  jose::Jwk openBundle(const std::string& name) const;
  // The material the emulator holds for listener/name/version (PKCS#8 DER or raw), from its
  // state files.
  SecretBytes emulatorMaterial(const std::string& listener, const std::string& name,
                               const std::string& version) const;
  // Checks that the bundled key equals the emulator's material (PKCS#8 re-encoded / raw bytes).
  void expectSameMaterial(const std::string& listener, const std::string& name) const;

  // Fails the test when any captured output of skr-init or the emulator contains a JWT, an
  // Authorization header, a bearer token or any key material the emulator holds.
  void expectNoSecretsInOutput() const;

 private:
  std::unique_ptr<EmulatorProcess> emu_;
  TestIdentity identity_;
  std::string dir_;
  std::vector<std::string> outputs_;
};

// The JSON lines of `text` that parse, as objects.
std::vector<json::ObjectPtr> jsonLines(const std::string& text);
// The last line with "event" == event; REQUIREs one.
json::ObjectPtr lastEvent(const std::string& text, const std::string& event);

}  // namespace skr::testing
