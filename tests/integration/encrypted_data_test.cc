// Encrypted data end to end (issue 18): objects sealed with `skrctl seal-data` to a key in
// skr-emulator's vault, stored in Azurite (a real Blob Storage implementation), then
//  - fetched by the real skr-init (data[] entries) after the release, authenticated, decrypted
//    and written to a tmpfs directory only when whole: every failure leaves no plaintext;
//  - streamed by the real skr-agent (POST /data/open) to `skrctl open-data`, which keeps its
//    --out file only when the stream ended properly.
#include <sys/stat.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "common/json/json.h"
#include "tests/integration/agent_process.h"
#include "tests/integration/azurite_process.h"
#include "tests/integration/emulator_process.h"
#include "tests/integration/init_world.h"
#include "tests/integration/process.h"

namespace skr::testing {
namespace {

namespace fs = std::filesystem;

std::string readAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::set<std::string> entriesOf(const std::string& dir) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename().string());
  return names;
}

// The vault's public key of `name` (latest version) as a JWK with its versioned kid.
std::string publicJwk(InitWorld& world, const std::string& name) {
  HttpCall call;
  call.url = world.emulator().url("vault") + "/keys/" + name + "?api-version=7.4";
  call.headers.push_back({"Authorization", "Bearer " + world.officerToken("vault")});
  HttpResult got = world.emulator().call(call);
  REQUIRE(got.status == 200);
  StatusOr<json::ObjectPtr> body = json::parseObject(got.body);
  REQUIRE(body.ok());
  json::ObjectPtr key = (*body)->getObject("key");
  return R"({"kty":"RSA","n":")" + key->getValue<std::string>("n") + R"(","e":")" +
         key->getValue<std::string>("e") + R"(","kid":")" + key->getValue<std::string>("kid") +
         R"("})";
}

void sealData(const std::string& jwk_file, const std::string& in, const std::string& out,
              const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args = {"seal-data", "--to", jwk_file, "--in", in, "--out", out};
  args.insert(args.end(), extra.begin(), extra.end());
  ProcessResult r = runProcess(SKR_SKRCTL_PATH, args);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
}

struct DataWorld {
  InitWorld world;
  std::unique_ptr<AzuriteProcess> azurite = AzuriteProcess::start();
  std::string dest;     // a tmpfs directory for plaintext
  std::string ca_file;  // the emulator's CA and Azurite's
  std::string plaintext = randomData(3 * 1024 * 1024 + 123, 18);

  DataWorld() {
    if (!azurite) return;
    world.createKey("vault", "kek", R"("kty":"RSA-HSM","key_size":2048)");
    char tmpl[] = "/dev/shm/skr-init-data-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    dest = tmpl;
    ca_file = world.dir() + "/ca-both.pem";
    std::ofstream(ca_file) << readAll(world.emulator().caFile()) << readAll(azurite->caFile());
  }
  ~DataWorld() {
    std::error_code ignored;
    if (!dest.empty()) fs::remove_all(dest, ignored);
  }

  std::string url(const std::string& container, const std::string& blob) const {
    return azurite->endpoint() + "/" + container + "/" + blob;
  }

  // skr-init with the emulator's IMDS identity, key kek, and these data entries (YAML list items).
  ProcessResult run(const std::string& data_yaml, const std::string& version = "") {
    InitKey key{"kek", "vault"};
    key.version = version;
    std::string yaml = world.configYaml({key}, world.managedIdentityYaml(), "data:\n" + data_yaml);
    const std::string from = "ca_file: " + world.emulator().caFile() + "\n";
    const std::size_t at = yaml.find(from);
    REQUIRE(at != std::string::npos);
    yaml.replace(at, from.size(), "ca_file: " + ca_file + "\n");
    return world.runInit(yaml);
  }

  std::string entry(const std::string& name, const std::string& url,
                    const std::string& extra = "") const {
    return "  - name: " + name + "\n    url: " + url + "\n    key: kek\n    path: " + dest + "/" +
           name + ".bin\n" + extra;
  }
};

TEST_CASE("skr-init opens encrypted blobs from Blob Storage into tmpfs, all or nothing",
          "[init][data][azurite]") {
  DataWorld w;
  if (!w.azurite) return;
  AzuriteProcess& az = *w.azurite;
  const std::string dir = w.world.dir();
  std::ofstream(dir + "/kek.jwk") << publicJwk(w.world, "kek");
  std::ofstream(dir + "/plain.bin", std::ios::binary) << w.plaintext;

  // The objects: chunked (64 KiB chunks, so ~49 of them), one with a flipped byte in a middle
  // chunk, one cut at a chunk boundary (its final chunk gone), a compact one in a public
  // container.
  sealData(dir + "/kek.jwk", dir + "/plain.bin", dir + "/model.skr", {"--chunk-size", "65536"});
  std::string sealed = readAll(dir + "/model.skr");
  std::string corrupt = sealed;
  corrupt[sealed.size() / 2] ^= 0x01;
  std::ofstream(dir + "/corrupt.skr", std::ios::binary) << corrupt;
  const std::size_t record = 65536 + 16;
  const std::size_t header_line = sealed.find('\n') + 1;
  const std::size_t full_records = (sealed.size() - header_line) / record;
  std::ofstream(dir + "/truncated.skr", std::ios::binary)
      << sealed.substr(0, header_line + (full_records - 1) * record);
  // Chunks 3 and 4 swapped: each authenticates under its own index only.
  std::string swapped = sealed;
  std::copy_n(sealed.begin() + static_cast<std::ptrdiff_t>(header_line + 4 * record), record,
              swapped.begin() + static_cast<std::ptrdiff_t>(header_line + 3 * record));
  std::copy_n(sealed.begin() + static_cast<std::ptrdiff_t>(header_line + 3 * record), record,
              swapped.begin() + static_cast<std::ptrdiff_t>(header_line + 4 * record));
  REQUIRE(swapped != sealed);
  std::ofstream(dir + "/swapped.skr", std::ios::binary) << swapped;
  std::ofstream(dir + "/small.txt") << "a small secret config";
  sealData(dir + "/kek.jwk", dir + "/small.txt", dir + "/small.jwe", {"--form", "compact"});

  az.harness({"container", "models"});
  az.harness({"container", "public", "--public"});
  for (const char* name : {"model.skr", "corrupt.skr", "truncated.skr", "swapped.skr"}) {
    az.harness({"upload", "models", name, dir + "/" + name});
  }
  az.harness({"upload", "public", "small.jwe", dir + "/small.jwe"});

  SECTION("a chunked object with the identity's storage token, a compact one anonymously") {
    ProcessResult r =
        w.run(w.entry("model", w.url("models", "model.skr")) +
              w.entry("small", w.url("public", "small.jwe"), "    auth: anonymous\n"));
    REQUIRE(r.exit_code == 0);
    CHECK(readAll(w.dest + "/model.bin") == w.plaintext);
    CHECK(readAll(w.dest + "/small.bin") == "a small secret config");
    CHECK(entriesOf(w.dest) == std::set<std::string>{"model.bin", "small.bin"});
    struct stat st {};
    REQUIRE(::stat((w.dest + "/model.bin").c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0440);
    CHECK(r.err.find("\"event\":\"data.opened\"") != std::string::npos);
    CHECK(r.err.find(w.plaintext.substr(0, 64)) == std::string::npos);
  }
  SECTION("a SAS from sas_file, through storage throttling (503 twice, then the object)") {
    std::string sas_url = az.sas("models", "model.skr");
    const std::string sas = sas_url.substr(sas_url.find('?') + 1);
    std::ofstream(dir + "/model.sas") << sas << "\n";
    ::chmod((dir + "/model.sas").c_str(), 0600);
    http::HttpRequest control;
    control.method = "POST";
    control.url = az.proxyControl() + "/config?fail=2&retry_after=0";
    REQUIRE(transportTrusting(az.caFile())->send(control).ok());
    const std::string proxied = az.proxyEndpoint() + "/models/model.skr";
    ProcessResult r =
        w.run(w.entry("model", proxied, "    auth: sas\n    sas_file: " + dir + "/model.sas\n"));
    REQUIRE(r.exit_code == 0);
    CHECK(readAll(w.dest + "/model.bin") == w.plaintext);
    control.method = "GET";
    control.url = az.proxyControl() + "/stats";
    StatusOr<http::HttpResponse> stats = transportTrusting(az.caFile())->send(control);
    REQUIRE(stats.ok());
    CHECK(stats->body.find("\"throttled\": 2") != std::string::npos);
    CHECK(r.err.find(sas) == std::string::npos);  // the signature never reaches the log
  }
  const std::map<std::string, std::string> state_before = w.world.snapshotState();
  SECTION("a corrupted chunk: exit 9 and no plaintext, not even of the entry that opened") {
    ProcessResult r = w.run(w.entry("model", w.url("models", "model.skr")) +
                            w.entry("corrupt", w.url("models", "corrupt.skr")));
    CHECK(r.exit_code == 9);
    CHECK(r.err.find("does not authenticate") != std::string::npos);
    CHECK(entriesOf(w.dest).empty());
    CHECK(w.world.snapshotState() == state_before);  // no bundle written either
  }
  SECTION("a blob cut at a chunk boundary, or with two chunks swapped: exit 9, no plaintext") {
    ProcessResult truncated = w.run(w.entry("truncated", w.url("models", "truncated.skr")));
    CHECK(truncated.exit_code == 9);
    ProcessResult reordered = w.run(w.entry("swapped", w.url("models", "swapped.skr")));
    CHECK(reordered.exit_code == 9);
    CHECK(reordered.err.find("chunk 4 of") != std::string::npos);  // index 3, the first moved
    CHECK(entriesOf(w.dest).empty());
  }
  SECTION("storage 404 and 403: exit 7 and 6, no plaintext") {
    ProcessResult missing = w.run(w.entry("missing", w.url("models", "missing.skr")));
    CHECK(missing.exit_code == 7);
    CHECK(missing.err.find("BlobNotFound") != std::string::npos);
    ProcessResult anonymous =
        w.run(w.entry("model", w.url("models", "model.skr"), "    auth: anonymous\n"));
    CHECK(anonymous.exit_code == 6);
    CHECK(entriesOf(w.dest).empty());
  }
  SECTION("an object sealed to an earlier key version: exit 7 naming both kids") {
    HttpCall rotate;
    rotate.method = "POST";
    rotate.url = w.world.emulator().url("vault") + "/keys/kek/rotate?api-version=7.4";
    rotate.headers.push_back({"Authorization", "Bearer " + w.world.officerToken("vault")});
    REQUIRE(w.world.emulator().call(rotate).status == 200);
    ProcessResult r = w.run(w.entry("model", w.url("models", "model.skr")));
    CHECK(r.exit_code == 7);
    CHECK(r.err.find("this run released") != std::string::npos);
    CHECK(entriesOf(w.dest).empty());
  }
  SECTION("a destination that is not a tmpfs is refused before anything is released") {
    InitKey key{"kek", "vault"};
    std::string yaml =
        w.world.configYaml({key}, w.world.managedIdentityYaml(),
                           "data:\n  - name: model\n    url: " + w.url("models", "model.skr") +
                               "\n    key: kek\n    path: " + w.world.dir() + "/model.bin\n");
    ProcessResult r = w.world.runInit(yaml);
    CHECK(r.exit_code == 10);
    CHECK(r.err.find("is not a tmpfs") != std::string::npos);
    CHECK_FALSE(fs::exists(w.world.dir() + "/model.bin"));
  }
  w.world.expectNoSecretsInOutput();
}

// skrctl open-data through the agent's client socket; the process result.
ProcessResult openData(AgentProcess& agent, const std::string& url, const std::string& out,
                       const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args = {"open-data", "--socket", agent.client(), "--url", url,
                                   "--key",     "kek",      "--out",        out};
  args.insert(args.end(), extra.begin(), extra.end());
  ProcessOptions options;
  options.timeout = std::chrono::seconds(120);
  return runProcess(SKR_SKRCTL_PATH, args, options);
}

// The error code of an AKV-shaped answer.
std::string errorCode(const UdsResponse& r) {
  StatusOr<json::ObjectPtr> body = json::parseObject(r.body);
  if (!body.ok() || !(*body)->has("error")) return "";
  return (*body)->getObject("error")->optValue<std::string>("code", "");
}

TEST_CASE("skr-agent streams encrypted blobs to skrctl open-data, by kid across a rotation",
          "[agent][data][azurite]") {
  DataWorld w;
  if (!w.azurite) return;
  AzuriteProcess& az = *w.azurite;
  const std::string dir = w.world.dir();
  InitKey key{"kek", "vault"};
  std::string yaml = w.world.configYaml({key}, w.world.managedIdentityYaml());
  const std::string from = "ca_file: " + w.world.emulator().caFile() + "\n";
  yaml.replace(yaml.find(from), from.size(), "ca_file: " + w.ca_file + "\n");
  AgentOptions options;
  options.extra_agent_yaml =
      "  data:\n    sources: [\"" + az.endpoint() + "/\", \"" + az.proxyEndpoint() + "/\"]\n";
  AgentProcess agent(w.world, yaml, options);
  agent.waitReady();

  // Sealed to the version the agent serves now (its GET /keys answer is the JWK).
  {
    json::ObjectPtr jwk = parsed(udsRequest(agent.client(), "GET", "/keys/kek"))->getObject("key");
    std::ostringstream text;
    jwk->stringify(text);
    std::ofstream(dir + "/kek.jwk") << text.str();
  }
  std::ofstream(dir + "/plain.bin", std::ios::binary) << w.plaintext;
  sealData(dir + "/kek.jwk", dir + "/plain.bin", dir + "/model.skr", {"--chunk-size", "65536"});
  std::string corrupt = readAll(dir + "/model.skr");
  corrupt[corrupt.size() / 2] ^= 0x01;
  std::ofstream(dir + "/corrupt.skr", std::ios::binary) << corrupt;
  az.harness({"container", "models"});
  az.harness({"upload", "models", "model.skr", dir + "/model.skr"});
  az.harness({"upload", "models", "corrupt.skr", dir + "/corrupt.skr"});
  // Cut at a chunk boundary: found only at the end, after most plaintext was streamed.
  const std::string sealed = readAll(dir + "/model.skr");
  const std::size_t header_line = sealed.find('\n') + 1;
  const std::size_t record = 65536 + 16;
  std::ofstream(dir + "/truncated.skr", std::ios::binary)
      << sealed.substr(0, header_line + ((sealed.size() - header_line) / record - 1) * record);
  az.harness({"upload", "models", "truncated.skr", dir + "/truncated.skr"});
  const std::string out = w.dest + "/model.bin";

  // With the agent's storage token (the emulator's IMDS identity).
  ProcessResult opened = openData(agent, w.url("models", "model.skr"), out);
  INFO(opened.err);
  REQUIRE(opened.exit_code == 0);
  CHECK(readAll(out) == w.plaintext);

  // A new version becomes primary; the object names the old one by kid and still opens.
  HttpCall rotate;
  rotate.method = "POST";
  rotate.url = w.world.emulator().url("vault") + "/keys/kek/rotate?api-version=7.4";
  rotate.headers.push_back({"Authorization", "Bearer " + w.world.officerToken("vault")});
  REQUIRE(w.world.emulator().call(rotate).status == 200);
  REQUIRE(udsRequest(agent.admin(), "POST", "/keys/kek/rotate", "{}").status == 200);
  fs::remove(out);
  ProcessResult after = openData(agent, w.url("models", "model.skr"), out);
  INFO(after.err);
  REQUIRE(after.exit_code == 0);
  CHECK(readAll(out) == w.plaintext);

  // A SAS URL through storage throttling (503 twice, then the object).
  http::HttpRequest control;
  control.method = "POST";
  control.url = az.proxyControl() + "/config?fail=2&retry_after=0";
  REQUIRE(transportTrusting(az.caFile())->send(control).ok());
  std::string sas_url = az.sas("models", "model.skr");
  sas_url.replace(0, az.endpoint().size(), az.proxyEndpoint());
  fs::remove(out);
  ProcessResult throttled = openData(agent, sas_url, out);
  REQUIRE(throttled.exit_code == 0);
  CHECK(readAll(out) == w.plaintext);
  CHECK(agent.stderrText().find(sas_url.substr(sas_url.find('?'))) == std::string::npos);

  // Failures: skrctl keeps no --out file; the agent answers with the documented codes.
  fs::remove(out);
  ProcessResult corrupted = openData(agent, w.url("models", "corrupt.skr"), out);
  CHECK(corrupted.exit_code == 9);
  CHECK_FALSE(fs::exists(out));
  ProcessResult cut = openData(agent, w.url("models", "truncated.skr"), out);
  CHECK(cut.exit_code == 9);
  CHECK_FALSE(fs::exists(out));
  const std::string body_of = R"({"key":"kek","url":")";
  UdsResponse missing = udsRequest(agent.client(), "POST", "/data/open",
                                   body_of + w.url("models", "missing.skr") + R"("})");
  CHECK(missing.status == 404);
  CHECK(errorCode(missing) == "BlobNotFound");
  UdsResponse anonymous =
      udsRequest(agent.client(), "POST", "/data/open",
                 body_of + w.url("models", "model.skr") + R"(","auth":"anonymous"})");
  CHECK(anonymous.status == 502);
  CHECK(errorCode(anonymous) == "StorageForbidden");
  UdsResponse elsewhere = udsRequest(agent.client(), "POST", "/data/open",
                                     body_of + "https://elsewhere.example/c/b.skr\"}");
  CHECK(elsewhere.status == 403);
  CHECK(errorCode(elsewhere) == "DataSourceNotAllowed");
  CHECK(entriesOf(w.dest).empty());
  CHECK(agent.terminate() == 0);
}

}  // namespace
}  // namespace skr::testing
