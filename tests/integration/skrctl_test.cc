// skrctl as a user runs it: the real binary, real files, exit codes and output.
#include <catch2/catch.hpp>
#include <fstream>
#include <iterator>
#include <string>

#include "common/encoding/base64.h"
#include "common/json/json.h"
#include "tests/integration/process.h"

namespace skr::testing {
namespace {

const std::string kSkrctl = SKR_SKRCTL_PATH;
const std::string kData = SKR_TEST_DATA_DIR;

ProcessResult skrctl(const std::vector<std::string>& args) {
  return runProcess(kSkrctl, args);
}

std::string readText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST_CASE("skrctl report show --json prints exactly the fixture's expected fields") {
  for (const std::string dir : {"aci-milan-v2", "gosevguest-milan-v2"}) {
    INFO(dir);
    ProcessResult r = skrctl({"report", "show", kData + "/snp/" + dir + "/report.bin", "--json"});
    REQUIRE(r.exit_code == 0);
    CHECK(r.err.empty());
    StatusOr<json::ObjectPtr> shown = json::parseObject(r.out);
    REQUIRE(shown.ok());
    StatusOr<json::ObjectPtr> expected =
        json::parseObject(readText(kData + "/snp/" + dir + "/expected.json"));
    REQUIRE(expected.ok());
    const json::ObjectPtr fields = (*expected)->getObject("fields");
    for (const char* k : {"policy", "platform_info", "family_id", "image_id", "report_data",
                          "measurement", "host_data", "id_key_digest", "author_key_digest",
                          "report_id", "report_id_ma", "chip_id"}) {
      INFO(k);
      CHECK((*shown)->getValue<std::string>(k) == fields->getValue<std::string>(k));
    }
    for (const char* k : {"version", "guest_svn", "vmpl", "signature_algo"}) {
      INFO(k);
      CHECK((*shown)->getValue<int64_t>(k) == fields->getValue<int64_t>(k));
    }
    for (const char* k : {"current_tcb", "reported_tcb", "committed_tcb", "launch_tcb"}) {
      INFO(k);
      const auto got = (*shown)->getObject(k);
      const auto want = fields->getObject(k);
      for (const char* f : {"bootloader", "tee", "snp", "microcode"}) {
        CHECK(got->getValue<int>(f) == want->getValue<int>(f));
      }
      CHECK(got->getValue<std::string>("raw") == want->getValue<std::string>("raw"));
    }
    CHECK((*shown)->getValue<std::string>("signing_key") == "vcek");
  }
}

TEST_CASE("skrctl report show prints text by default") {
  ProcessResult r = skrctl({"report", "show", kData + "/snp/aci-milan-v2/report.bin"});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("reported_tcb         bl=3 tee=0 snp=8 ucode=115 (0x7308000000000003)") !=
        std::string::npos);
}

TEST_CASE("skrctl usage errors exit 2 with one clear line") {
  ProcessResult none = skrctl({});
  CHECK(none.exit_code == 2);
  CHECK(none.err.find("usage: skrctl COMMAND") != std::string::npos);

  ProcessResult unknown = skrctl({"frobnicate"});
  CHECK(unknown.exit_code == 2);
  CHECK(unknown.err == "skrctl: unknown command 'frobnicate' (see 'skrctl --help')\n");

  ProcessResult bad_option = skrctl({"report", "show", "--bogus"});
  CHECK(bad_option.exit_code == 2);
  CHECK(bad_option.err.rfind("skrctl report show: unknown option '--bogus'\n", 0) == 0);

  ProcessResult missing = skrctl({"report", "show", "/nonexistent/report.bin"});
  CHECK(missing.exit_code == 2);
  CHECK(missing.err ==
        "skrctl: cannot read '/nonexistent/report.bin': No such file or directory\n");

  ProcessResult not_report = skrctl({"report", "show", kData + "/snp/aci-milan-v2/thim.json"});
  CHECK(not_report.exit_code == 2);
  CHECK(not_report.err.find("bytes, expected 1184") != std::string::npos);
}

TEST_CASE("skrctl --help lists the commands and every command has --help") {
  ProcessResult help = skrctl({"--help"});
  CHECK(help.exit_code == 0);
  CHECK(help.out.find("report show") != std::string::npos);
  ProcessResult show_help = skrctl({"report", "show", "--help"});
  CHECK(show_help.exit_code == 0);
  CHECK(show_help.out.rfind("usage: skrctl report show FILE [--json]", 0) == 0);
  ProcessResult version = skrctl({"--version"});
  CHECK(version.exit_code == 0);
  CHECK(version.out.rfind("skrctl ", 0) == 0);
}

}  // namespace
}  // namespace skr::testing

namespace skr::testing {
namespace {

TEST_CASE("skrctl release-policy prints the ACI policy and its AKV wire form") {
  const std::string hostdata(64, 'a');
  ProcessResult policy = runProcess(
      SKR_SKRCTL_PATH, {"release-policy", "--authority", "https://sharedeus.eus.attest.azure.net",
                        "--hostdata", hostdata});
  REQUIRE(policy.exit_code == 0);
  StatusOr<json::ObjectPtr> parsed = json::parseObject(policy.out);
  REQUIRE(parsed.ok());
  CHECK((*parsed)->getValue<std::string>("version") == "1.0.0");
  CHECK(policy.out.find(R"({"claim":"x-ms-sevsnpvm-hostdata","equals":")" + hostdata + "\"}") !=
        std::string::npos);
  CHECK(policy.out.find("azure-compliant-uvm") != std::string::npos);
  CHECK(policy.out.find(R"("authority":"https://sharedeus.eus.attest.azure.net")") !=
        std::string::npos);

  ProcessResult wire = runProcess(
      SKR_SKRCTL_PATH, {"release-policy", "--authority", "https://sharedeus.eus.attest.azure.net",
                        "--hostdata", hostdata, "--no-uvm-compliance", "--wire"});
  REQUIRE(wire.exit_code == 0);
  StatusOr<json::ObjectPtr> member = json::parseObject(wire.out);
  REQUIRE(member.ok());
  CHECK((*member)->getValue<std::string>("contentType") == "application/json; charset=utf-8");
  StatusOr<Bytes> data = encoding::base64UrlDecode((*member)->getValue<std::string>("data"));
  REQUIRE(data.ok());
  const std::string decoded(data->begin(), data->end());
  CHECK(decoded.find(hostdata) != std::string::npos);
  CHECK(decoded.find("azure-compliant-uvm") == std::string::npos);

  ProcessResult bad = runProcess(
      SKR_SKRCTL_PATH,
      {"release-policy", "--authority", "https://x.attest.azure.net", "--hostdata", "12"});
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("64 hex") != std::string::npos);
}

}  // namespace
}  // namespace skr::testing
