// skrctl token show / token verify / jws verify / policy check, the real binary on artifacts the
// emulator produced as Azure would: an MAA token from POST /attest/SevSnpVm for a report of the
// emulated chip, its /certs JWKS, and a key release response from the emulated Managed HSM.
#include <Poco/JSON/Object.h>

#include <array>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>

#include "common/core/rfc3339.h"
#include "common/crypto/digest.h"
#include "common/encoding/base64.h"
#include "common/snp/emulated_chip.h"
#include "tests/integration/emulator_process.h"
#include "tests/integration/maa_test_tokens.h"
#include "tests/integration/process.h"

namespace skr::testing {
namespace {

namespace fs = std::filesystem;

const std::string kSkrctl = SKR_SKRCTL_PATH;
const std::string kOtherHostData =
    "0000000000000000000000000000000000000000000000000000000000000001";

struct Files {
  Files() : path(makeTempDir("skr-ctl-art")) {}
  ~Files() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string write(const std::string& name, const std::string& data) const {
    const std::string p = path + "/" + name;
    std::ofstream(p, std::ios::binary) << data;
    return p;
  }
  std::string path;
};

ProcessResult skrctl(const std::vector<std::string>& args) {
  return runProcess(kSkrctl, args);
}

// A token from the emulated MAA for a report of the emulated chip binding `runtime`
// (as emulator_release_test.cc's attestedToken).
std::string attestedToken(const EmulatorProcess& emu, const std::string& runtime) {
  StatusOr<snp::EmulatedChip> chip =
      snp::EmulatedChip::openOrCreate(emu.env().at("SKR_EMULATOR_CHIP_DIR"));
  REQUIRE(chip.ok());
  std::array<uint8_t, 64> report_data{};
  const Bytes hash = crypto::sha256(asBytes(runtime));
  std::copy(hash.begin(), hash.end(), report_data.begin());
  StatusOr<Bytes> report = chip->signReport(report_data, 0);
  REQUIRE(report.ok());
  HttpResult thim =
      emu.get(emu.url("imds") + "/metadata/THIM/amd/certification", {{"Metadata", "true"}});
  REQUIRE(thim.status == 200);
  const std::string chain = thim.json()->getValue<std::string>("vcekCert") +
                            thim.json()->getValue<std::string>("certificateChain");
  const std::string inner = R"({"SnpReport":")" + encoding::base64UrlEncode(*report) +
                            R"(","VcekCertChain":")" + encoding::base64UrlEncode(asBytes(chain)) +
                            "\"}";
  HttpResult r =
      emu.post(emu.url("maa") + "/attest/SevSnpVm?api-version=2022-08-01",
               R"({"report":")" + encoding::base64UrlEncode(asBytes(inner)) +
                   R"(","runtimeData":{"data":")" + encoding::base64UrlEncode(asBytes(runtime)) +
                   R"(","dataType":"JSON"},"nonce":"ctl"})");
  INFO(r.body);
  REQUIRE(r.status == 200);
  return r.json()->getValue<std::string>("token");
}

// `compact` with one character of its signature changed.
std::string tamperSignature(std::string compact) {
  char& c = compact[compact.size() - 10];
  c = c == 'A' ? 'B' : 'A';
  return compact;
}

std::string inTwoDays() {
  return formatRfc3339(std::chrono::system_clock::now() + std::chrono::hours(48));
}

struct World {
  std::unique_ptr<EmulatorProcess> emu;
  Files files;
  std::string token;  // compact MAA token from the emulated MAA
  std::string runtime = json::serializeCanonical(testRuntimeJwks()).value();

  World() {
    emu = EmulatorProcess::start();
    emu->admin("PUT", "/_emulator/chip",
               R"({"host_data":")" + kTestHostData + R"(","debug":false})");
    token = attestedToken(*emu, runtime);
  }
};

TEST_CASE(
    "skrctl token verify accepts a token of the emulated MAA with its /certs or its issuer, and "
    "exits 9 when tampered, expired, alg none or of another issuer",
    "[emulator][skrctl]") {
  World w;
  const std::string token = w.files.write("token.jwt", w.token + "\n");
  HttpResult certs = w.emu->get(w.emu->url("maa") + "/certs");
  REQUIRE(certs.status == 200);
  const std::string jwks = w.files.write("certs.json", certs.body);
  const std::string maa = w.emu->url("maa");
  const std::string ca = w.emu->caFile();

  ProcessResult show = skrctl({"token", "show", token});
  CHECK(show.exit_code == 0);
  CHECK_THAT(show.out, Catch::Contains("x-ms-sevsnpvm-hostdata: " + kTestHostData));
  CHECK_THAT(show.out, Catch::Contains("chars)"));  // x-ms-runtime's n, shortened
  ProcessResult show_json = skrctl({"token", "show", token, "--json"});
  CHECK(show_json.exit_code == 0);
  CHECK_THAT(show_json.out, Catch::Contains("\"x-ms-sevsnpvm-hostdata\":\"" + kTestHostData));

  ProcessResult by_jwks = skrctl({"token", "verify", token, "--jwks", jwks});
  CHECK(by_jwks.exit_code == 0);
  CHECK(by_jwks.out.rfind("valid: RS256", 0) == 0);
  // MAA's answer body as captured works too.
  const std::string answer = w.files.write("answer.json", "{\"token\":\"" + w.token + "\"}");
  CHECK(skrctl({"token", "verify", answer, "--jwks", jwks}).exit_code == 0);
  ProcessResult by_issuer = skrctl({"token", "verify", token, "--issuer", maa, "--ca", ca});
  CHECK(by_issuer.exit_code == 0);
  CHECK_THAT(by_issuer.out, Catch::Contains("iss: " + maa));

  const std::string tampered = w.files.write("tampered.jwt", tamperSignature(w.token));
  ProcessResult bad_jwks = skrctl({"token", "verify", tampered, "--jwks", jwks});
  CHECK(bad_jwks.exit_code == 9);
  CHECK_THAT(bad_jwks.err, Catch::Contains("signature"));
  CHECK(skrctl({"token", "verify", tampered, "--issuer", maa, "--ca", ca}).exit_code == 9);

  const std::string later = inTwoDays();
  ProcessResult expired = skrctl({"token", "verify", token, "--jwks", jwks, "--at", later});
  CHECK(expired.exit_code == 9);
  CHECK_THAT(expired.err, Catch::Contains("expired"));
  CHECK(skrctl({"token", "verify", token, "--issuer", maa, "--ca", ca, "--at", later}).exit_code ==
        9);

  const std::string payload = w.token.substr(w.token.find('.') + 1);
  const std::string none = w.files.write(
      "none.jwt", encoding::base64UrlEncode(asBytes(std::string(R"({"alg":"none"})"))) + "." +
                      payload.substr(0, payload.find('.')) + ".");
  ProcessResult refused = skrctl({"token", "verify", none, "--jwks", jwks});
  CHECK(refused.exit_code == 9);
  CHECK_THAT(refused.err, Catch::Contains("alg 'none' is refused"));
  CHECK(skrctl({"token", "verify", none, "--issuer", maa, "--ca", ca}).exit_code == 9);

  // maa2 is another instance: its /certs lacks the key and its name is not the token's iss.
  ProcessResult other =
      skrctl({"token", "verify", token, "--issuer", w.emu->url("maa2"), "--ca", ca});
  CHECK(other.exit_code == 9);
  CHECK_THAT(other.err, Catch::Contains("iss"));
  // Without --ca the emulator's certificate is not trusted: a dependency failure, not a verdict.
  CHECK(skrctl({"token", "verify", token, "--issuer", maa}).exit_code == 8);
  CHECK(w.emu->stop() == 0);
}

TEST_CASE(
    "skrctl jws verify checks a release response of the emulated HSM, and policy check explains "
    "the policy that skrctl release-policy wrote",
    "[emulator][skrctl]") {
  World w;
  const std::string maa = w.emu->url("maa");
  ProcessResult policy_run = skrctl(
      {"release-policy", "--authority", maa, "--hostdata", kTestHostData, "--no-uvm-compliance"});
  REQUIRE(policy_run.exit_code == 0);
  const std::string policy = w.files.write("policy.json", policy_run.out);
  ProcessResult wire_run = skrctl({"release-policy", "--authority", maa, "--hostdata",
                                   kTestHostData, "--no-uvm-compliance", "--wire"});
  REQUIRE(wire_run.exit_code == 0);
  const std::string wire = w.files.write("wire.json", wire_run.out);
  const std::string token = w.files.write("token.jwt", w.token);

  // Policy check: allowed (plain and wire form), and a policy for other host data is denied.
  for (const std::string& p : {policy, wire}) {
    ProcessResult allowed = skrctl({"policy", "check", p, token});
    CHECK(allowed.exit_code == 0);
    CHECK(allowed.out.rfind("allowed: ", 0) == 0);
  }
  ProcessResult other_run = skrctl(
      {"release-policy", "--authority", maa, "--hostdata", kOtherHostData, "--no-uvm-compliance"});
  REQUIRE(other_run.exit_code == 0);
  ProcessResult denied =
      skrctl({"policy", "check", w.files.write("other.json", other_run.out), token});
  CHECK(denied.exit_code == 6);
  CHECK_THAT(denied.out, Catch::Contains("x-ms-sevsnpvm-hostdata"));
  // Both values, shortened by the policy's reason text.
  CHECK_THAT(denied.out, Catch::Contains(kOtherHostData.substr(0, 16)));
  CHECK_THAT(denied.out, Catch::Contains(kTestHostData.substr(0, 16)));
  CHECK_THAT(denied.out, Catch::Contains("(at anyOf[0].allOf[0])"));
  CHECK_THAT(denied.out, Catch::Contains("\n  x-ms-sevsnpvm-hostdata: " + kTestHostData + "\n"));
  // The UVM compliance condition fails for a report without a UVM endorsement.
  ProcessResult uvm_run =
      skrctl({"release-policy", "--authority", maa, "--hostdata", kTestHostData});
  ProcessResult uvm = skrctl({"policy", "check", w.files.write("uvm.json", uvm_run.out), token});
  CHECK(uvm.exit_code == 6);
  CHECK_THAT(uvm.out, Catch::Contains("x-ms-compliance-status"));
  // A policy for another MAA instance: the token's issuer is none of its authorities.
  ProcessResult maa2_run = skrctl({"release-policy", "--authority", w.emu->url("maa2"),
                                   "--hostdata", kTestHostData, "--no-uvm-compliance"});
  ProcessResult wrong_authority =
      skrctl({"policy", "check", w.files.write("maa2.json", maa2_run.out), token});
  CHECK(wrong_authority.exit_code == 6);
  CHECK_THAT(wrong_authority.out, Catch::Contains("no policy authority matches the token issuer"));
  // A debuggable guest: the same (allowing) policy denies its token, naming the claim.
  w.emu->admin("PUT", "/_emulator/chip",
               R"({"host_data":")" + kTestHostData + R"(","debug":true})");
  const std::string debug_token = w.files.write("debug.jwt", attestedToken(*w.emu, w.runtime));
  ProcessResult debuggable = skrctl({"policy", "check", policy, debug_token});
  CHECK(debuggable.exit_code == 6);
  CHECK_THAT(debuggable.out, Catch::Contains("x-ms-sevsnpvm-is-debuggable"));
  w.emu->admin("PUT", "/_emulator/chip",
               R"({"host_data":")" + kTestHostData + R"(","debug":false})");

  // A release response from the emulated Managed HSM with that policy.
  const std::string officer = tokenWithRole(*w.emu, "Managed HSM Crypto Officer", "mhsm");
  const std::string releaser =
      tokenWithRole(*w.emu, "Managed HSM Crypto Service Release User", "mhsm");
  auto send = [&](const std::string& bearer, const std::string& path, const std::string& body) {
    HttpCall c;
    c.method = "POST";
    c.url = w.emu->url("mhsm") + path + "?api-version=7.4";
    c.body = body;
    c.headers.push_back({"Authorization", "Bearer " + bearer});
    return w.emu->call(c);
  };
  HttpResult created =
      send(officer, "/keys/kek/create",
           R"({"kty":"RSA-HSM","attributes":{"exportable":true},"release_policy":)" + wire_run.out +
               "}");
  INFO(created.body);
  REQUIRE(created.status == 200);
  HttpResult released = send(releaser, "/keys/kek/release",
                             R"({"target":")" + w.token + R"(","enc":"RSA_AES_KEY_WRAP_256"})");
  INFO(released.body);
  REQUIRE(released.status == 200);
  const std::string body = w.files.write("release.json", released.body);
  const std::string compact = released.json()->getValue<std::string>("value");
  const std::string bare = w.files.write("release.jws", compact);
  const std::string ca = w.emu->caFile();
  // The vault's authority as its kids name it: 127.0.0.1:PORT.
  const std::string host = w.emu->url("mhsm").substr(std::string("https://").size());

  for (const std::string& file : {body, bare}) {
    ProcessResult ok = skrctl({"jws", "verify", file, "--host", host, "--ca", ca});
    INFO(ok.err);
    CHECK(ok.exit_code == 0);
    CHECK(ok.out.rfind("valid: RS256 signature by x5c[0]", 0) == 0);
    CHECK_THAT(ok.out, Catch::Contains("key_hsm: <elided: "));
    CHECK_THAT(ok.out, Catch::Contains("release policy (response.key.release_policy.data"));
    CHECK_THAT(ok.out, Catch::Contains("\"x-ms-sevsnpvm-hostdata\""));
    CHECK_THAT(ok.out, Catch::Contains(kTestHostData));
  }
  // The wrapped key itself is never printed.
  const std::string payload_part = compact.substr(compact.find('.') + 1);
  const json::ObjectPtr payload =
      json::parseObject(
          toString(*encoding::base64UrlDecode(payload_part.substr(0, payload_part.find('.')))))
          .value();
  const std::string key_hsm = payload->getObject("response")
                                  ->getObject("key")
                                  ->getObject("key")
                                  ->getValue<std::string>("key_hsm");
  REQUIRE(key_hsm.size() > 100);
  CHECK_THAT(skrctl({"jws", "verify", body, "--host", host, "--ca", ca}).out,
             !Catch::Contains(key_hsm.substr(0, 40)));
  ProcessResult wrong_host =
      skrctl({"jws", "verify", body, "--host", "myvault.vault.azure.net", "--ca", ca});
  CHECK(wrong_host.exit_code == 9);
  CHECK_THAT(wrong_host.err, Catch::Contains("myvault.vault.azure.net"));
  ProcessResult other_vault = skrctl({"jws", "verify", body, "--host", "127.0.0.1:1", "--ca", ca});
  CHECK(other_vault.exit_code == 9);
  CHECK_THAT(other_vault.err, Catch::Contains("another vault"));
  CHECK(skrctl({"jws", "verify", w.files.write("t.jws", tamperSignature(compact)), "--host", host,
                "--ca", ca})
            .exit_code == 9);
  // The emulator's CA is not in the system store.
  CHECK(skrctl({"jws", "verify", body, "--host", host}).exit_code == 9);
  // Its certificates are not valid in 2100.
  CHECK(skrctl({"jws", "verify", body, "--host", host, "--ca", ca, "--at", "2100-01-01T00:00:00Z"})
            .exit_code == 9);
  CHECK(skrctl({"jws", "verify", w.files.write("junk", "{\"x\":1}"), "--host", host}).exit_code ==
        2);
  CHECK(w.emu->stop() == 0);
}

}  // namespace
}  // namespace skr::testing
