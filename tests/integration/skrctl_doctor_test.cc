// skrctl doctor (issue 16) against skr-emulator: a healthy world passes every check and exits 0;
// each deliberately broken world (wrong hostdata, identity without the release role, unreachable
// MAA, socket directory mode 0777) exits non-zero with the ✗ line naming the failure and its fix,
// while the other checks are still reported.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/encoding/base64.h"
#include "common/json/json.h"
#include "tests/integration/init_world.h"
#include "tests/integration/process.h"

namespace skr::testing {
namespace {

const std::string kPass = "\u2713 ";
const std::string kFail = "\u2717 ";

struct DoctorWorld {
  InitWorld world;
  std::string sockets;

  DoctorWorld() : sockets(world.dir() + "/s") {
    world.createKey("vault", "kek", R"("kty":"RSA-HSM","key_size":2048)");
    std::filesystem::create_directories(sockets + "/client");
    std::filesystem::create_directories(sockets + "/admin");
    REQUIRE(::chmod(sockets.c_str(), 0700) == 0);
    REQUIRE(::chmod((sockets + "/client").c_str(), 0750) == 0);
    REQUIRE(::chmod((sockets + "/admin").c_str(), 0700) == 0);
  }

  std::string agentYaml() const {
    return "agent:\n  client_socket: " + sockets + "/client/c.sock\n  admin_socket: " + sockets +
           "/admin/a.sock\n";
  }
  std::string yaml(const std::string& identity) const {
    return world.configYaml({{"kek", "vault"}}, identity, agentYaml());
  }
  std::string yaml() const { return yaml(world.managedIdentityYaml()); }

  ProcessResult doctor(const std::string& config, std::vector<std::string> args = {},
                       std::map<std::string, std::string> env = {}) {
    ProcessOptions options;
    options.env = std::move(env);
    options.env["SKR_CONFIG_YAML"] = config;
    options.timeout = std::chrono::seconds(150);
    args.insert(args.begin(), "doctor");
    ProcessResult r = runProcess(SKR_SKRCTL_PATH, args, options);
    UNSCOPED_INFO("skrctl doctor exit " << r.exit_code << "\n" << r.out << r.err);
    return r;
  }
};

// The line of `out` that starts with `mark` + `check` + ":" (and the fix line after it).
std::string lineOf(const std::string& out, const std::string& mark, const std::string& check) {
  const std::string prefix = mark + check + ":";
  std::size_t at = out.rfind("\n" + prefix);
  if (at == std::string::npos) {
    if (out.rfind(prefix, 0) != 0) return {};
    at = 0;
  } else {
    ++at;
  }
  std::size_t end = out.find('\n', at);
  if (end != std::string::npos && out.compare(end + 1, 7, "  fix: ") == 0) {
    end = out.find('\n', end + 1);
  }
  return out.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

const std::vector<std::string> kChecks = {
    "config",  "snp-device",  "security-context",    "collateral",
    "maa-tls", "attestation", "clock-skew",          "identity",
    "key kek", "release kek", "policy-hostdata kek", "socket-dirs"};

void expectPassed(const std::string& out, const std::vector<std::string>& checks) {
  for (const std::string& check : checks) {
    INFO(check);
    CHECK(!lineOf(out, kPass, check).empty());
  }
}

TEST_CASE("skrctl doctor passes every check against a healthy emulator world and exits 0",
          "[skrctl][doctor]") {
  DoctorWorld f;
  ProcessResult r = f.doctor(f.yaml());
  CHECK(r.exit_code == 0);
  expectPassed(r.out, kChecks);
  CHECK(r.out.find(kFail) == std::string::npos);
  CHECK(lineOf(r.out, kPass, "policy-hostdata kek").find(kInitHostData) != std::string::npos);

  ProcessResult json_run = f.doctor(f.yaml(), {"--json"});
  CHECK(json_run.exit_code == 0);
  StatusOr<Poco::Dynamic::Var> parsed = json::parse(json_run.out);
  REQUIRE(parsed.ok());
  StatusOr<json::ArrayPtr> array = json::asArray(*parsed, "doctor");
  REQUIRE(array.ok());
  CHECK((*array)->size() == kChecks.size());
  for (std::size_t i = 0; i < (*array)->size(); ++i) {
    json::ObjectPtr check = json::getObject(*array, i, "check").value();
    INFO(json::getString(check, "check").value());
    CHECK(json::getBool(check, "ok").value());
    CHECK(json::getString(check, "fix").value().empty());
  }
}

TEST_CASE("skrctl doctor names a key policy for another platform's hostdata and exits 6",
          "[skrctl][doctor]") {
  DoctorWorld f;
  const std::string other = "0000000000000000000000000000000000000000000000000000000000000001";
  f.world.emulator().admin("PUT", "/_emulator/chip", R"({"host_data":")" + other + R"("})");
  ProcessResult r = f.doctor(f.yaml());
  CHECK(r.exit_code == 6);
  const std::string policy = lineOf(r.out, kFail, "policy-hostdata kek");
  CHECK(policy.find(kInitHostData) != std::string::npos);
  CHECK(policy.find(other) != std::string::npos);
  CHECK(policy.find("  fix: ") != std::string::npos);
  CHECK(lineOf(r.out, kFail, "release kek").find("x-ms-sevsnpvm-hostdata") != std::string::npos);
  expectPassed(r.out, {"config", "snp-device", "collateral", "maa-tls", "attestation", "clock-skew",
                       "identity", "key kek", "socket-dirs"});
}

TEST_CASE("skrctl doctor names an identity without the release role and exits 6",
          "[skrctl][doctor]") {
  DoctorWorld f;
  TestIdentity reader = addUserIdentity(f.world.emulator(), "reader");
  assignRole(f.world.emulator(), reader.object_id, "Key Vault Crypto User", "vault");
  const std::string identity =
      "  kind: managed\n  imds_endpoint: " + f.world.emulator().url("imds") +
      "\n  client_id: " + reader.client_id + "\n";
  ProcessResult r = f.doctor(f.yaml(identity));
  CHECK(r.exit_code == 6);
  const std::string release = lineOf(r.out, kFail, "release kek");
  CHECK(release.find("Release User") != std::string::npos);
  CHECK(release.find("  fix: grant the identity the release role") != std::string::npos);
  // Crypto User may read keys: the policy is still compared.
  expectPassed(r.out, {"config", "snp-device", "collateral", "maa-tls", "attestation", "clock-skew",
                       "identity", "key kek", "policy-hostdata kek", "socket-dirs"});
}

TEST_CASE("skrctl doctor names an unreachable MAA, skips what needs it, and exits 8",
          "[skrctl][doctor]") {
  DoctorWorld f;
  ProcessResult r = f.doctor(f.yaml(), {}, {{"SKR_MAA_ENDPOINT", "https://127.0.0.1:9"}});
  CHECK(r.exit_code == 8);
  const std::string maa = lineOf(r.out, kFail, "maa-tls");
  CHECK(maa.find("127.0.0.1:9") != std::string::npos);
  CHECK(maa.find("  fix: ") != std::string::npos);
  CHECK(!lineOf(r.out, kFail, "attestation").empty());
  CHECK(lineOf(r.out, kFail, "release kek").find("skipped: needs attestation") !=
        std::string::npos);
  expectPassed(r.out, {"config", "snp-device", "collateral", "identity", "key kek",
                       "policy-hostdata kek", "socket-dirs"});
}

TEST_CASE("skrctl doctor names a group/other-writable socket directory and exits 2",
          "[skrctl][doctor]") {
  DoctorWorld f;
  REQUIRE(::chmod((f.sockets + "/client").c_str(), 0777) == 0);
  ProcessResult r = f.doctor(f.yaml());
  CHECK(r.exit_code == 2);
  const std::string sockets = lineOf(r.out, kFail, "socket-dirs");
  CHECK(sockets.find(f.sockets + "/client") != std::string::npos);
  CHECK(sockets.find("0777") != std::string::npos);
  CHECK(sockets.find("  fix: chmod go-w") != std::string::npos);
  std::vector<std::string> others(kChecks.begin(), kChecks.end() - 1);
  expectPassed(r.out, others);

  ProcessResult json_run = f.doctor(f.yaml(), {"--json"});
  CHECK(json_run.exit_code == 2);
  json::ArrayPtr array = json::asArray(json::parse(json_run.out).value(), "doctor").value();
  REQUIRE(array->size() == kChecks.size());
  json::ObjectPtr last = json::getObject(array, array->size() - 1, "check").value();
  CHECK(json::getString(last, "check").value() == "socket-dirs");
  CHECK_FALSE(json::getBool(last, "ok").value());
  CHECK(json::getString(last, "detail").value().find("0777") != std::string::npos);
  CHECK(json::getString(last, "fix").value().find("chmod go-w") != std::string::npos);
}

TEST_CASE(
    "skrctl doctor reads the security-context files, and names a corrupt host-amd-cert-base64 "
    "with exit 3",
    "[skrctl][doctor]") {
  DoctorWorld f;
  // An ACI-style security-context directory: the emulator's THIM answer, base64, and a policy.
  const std::string dir = f.world.dir() + "/security-context-doctor";
  std::filesystem::create_directories(dir);
  HttpResult thim = f.world.emulator().get(
      f.world.emulator().url("imds") + "/metadata/THIM/amd/certification", {{"Metadata", "true"}});
  REQUIRE(thim.status == 200);
  auto write = [&](const std::string& name, const std::string& content) {
    std::ofstream(dir + "/" + name, std::ios::binary | std::ios::trunc) << content;
  };
  write("host-amd-cert-base64",
        encoding::base64Encode(
            ByteView(reinterpret_cast<const uint8_t*>(thim.body.data()), thim.body.size())));
  write("security-policy-base64",
        encoding::base64Encode(ByteView(reinterpret_cast<const uint8_t*>("package policy\n"), 15)));
  std::string config = f.yaml();
  const std::string thim_only = "    sources: [thim]\n";
  const std::size_t at = config.find(thim_only);
  REQUIRE(at != std::string::npos);
  config.replace(at, thim_only.size(),
                 "    sources: [security-context]\n    security_context_dir: " + dir + "\n");

  ProcessResult r = f.doctor(config);
  CHECK(r.exit_code == 0);
  CHECK(lineOf(r.out, kPass, "security-context").find(dir) != std::string::npos);
  CHECK(lineOf(r.out, kPass, "collateral").find("security-context:") != std::string::npos);
  expectPassed(r.out, kChecks);

  write("host-amd-cert-base64", "this is not base64 %%%\n");
  ProcessResult broken = f.doctor(config);
  CHECK(broken.exit_code == 3);
  const std::string line = lineOf(broken.out, kFail, "security-context");
  CHECK(line.find("host-amd-cert-base64") != std::string::npos);
  CHECK(line.find("  fix: ") != std::string::npos);
  expectPassed(broken.out, {"config", "snp-device", "maa-tls", "identity", "key kek",
                            "policy-hostdata kek", "socket-dirs"});
}

TEST_CASE("skrctl doctor: an invalid configuration fails the config check and skips the rest",
          "[skrctl][doctor]") {
  ProcessOptions options;
  options.env["SKR_CONFIG_YAML"] = "attestation:\n  maa_endpoint: http://plain.example\n";
  ProcessResult r = runProcess(SKR_SKRCTL_PATH, {"doctor"}, options);
  CHECK(r.exit_code == 2);
  CHECK(r.out.rfind(kFail + "config:", 0) == 0);
  CHECK(r.out.find(kFail + "snp-device: skipped: needs config") != std::string::npos);
}

}  // namespace
}  // namespace skr::testing
