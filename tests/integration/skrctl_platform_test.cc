// skrctl report get on the emulated chip, verified through the same verifier as real reports.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "tests/integration/process.h"

namespace skr::testing {
namespace {

namespace fs = std::filesystem;
const std::string kSkrctl = SKR_SKRCTL_PATH;

struct ChipDir {
  ChipDir() {
    char tmpl[] = "/tmp/skr-chip-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    root = tmpl;
    chip = root + "/chip";
  }
  ~ChipDir() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
  std::string chain() const {
    const std::string path = root + "/ask_ark.pem";
    std::ofstream out(path);
    for (const char* name : {"/ask.pem", "/ark.pem"}) {
      std::ifstream in(chip + name);
      out << in.rdbuf();
    }
    return path;
  }
  std::string root;
  std::string chip;
};

TEST_CASE("a report from the emulated chip verifies with --trust-ark and is rejected without it") {
  ChipDir dir;
  const std::string report = dir.root + "/report.bin";
  ProcessResult get = runProcess(kSkrctl, {"report", "get", "--platform", "emulated", "--chip-dir",
                                           dir.chip, "--report-data", "c0ffee", "--out", report});
  REQUIRE(get.exit_code == 0);
  CHECK(fs::file_size(report) == 1184);

  ProcessResult shown = runProcess(kSkrctl, {"report", "show", report, "--json"});
  REQUIRE(shown.exit_code == 0);
  CHECK(shown.out.find("\"report_data\":\"c0ffee00") != std::string::npos);

  ProcessResult trusted =
      runProcess(kSkrctl, {"report", "verify", "--report", report, "--cert", dir.chip + "/vcek.pem",
                           "--chain", dir.chain(), "--trust-ark", dir.chip + "/ark.pem"});
  CHECK(trusted.exit_code == 0);
  CHECK(trusted.out.rfind("verified: explicitly trusted", 0) == 0);

  ProcessResult untrusted = runProcess(kSkrctl, {"report", "verify", "--report", report, "--cert",
                                                 dir.chip + "/vcek.pem", "--chain", dir.chain()});
  CHECK(untrusted.exit_code == 9);
  CHECK(untrusted.err.rfind("skrctl: ark: presented ARK ARK-Emulated", 0) == 0);
  CHECK(untrusted.err.find("no --trust-ark was given") != std::string::npos);
}

TEST_CASE("report get without any SEV-SNP interface exits 3 and lists what it looked for") {
  // Runs on a machine without SEV-SNP (CI): auto must fail, never fabricate a report.
  if (fs::exists("/dev/sev-guest") || fs::exists("/dev/sev") ||
      fs::exists("/sys/kernel/config/tsm/report")) {
    SUCCEED("this machine has an SEV-SNP interface; the negative case does not apply");
    return;
  }
  ProcessResult r = runProcess(kSkrctl, {"report", "get", "--json"});
  CHECK(r.exit_code == 3);
  CHECK(r.out.empty());
  CHECK(r.err.find("/dev/sev-guest") != std::string::npos);
  CHECK(r.err.find("/sys/kernel/config/tsm/report") != std::string::npos);
  CHECK(r.err.find("/dev/sev ") != std::string::npos);
}

TEST_CASE("report get usage errors exit 2") {
  CHECK(runProcess(kSkrctl, {"report", "get", "--platform", "emulated", "--json"}).exit_code == 2);
  CHECK(runProcess(kSkrctl, {"report", "get", "--platform", "bogus", "--json"}).exit_code == 2);
  CHECK(runProcess(kSkrctl, {"report", "get", "--report-data", "zz", "--json"}).exit_code == 2);
  CHECK(runProcess(kSkrctl, {"report", "get", "--vmpl", "4", "--json"}).exit_code == 2);
  CHECK(runProcess(kSkrctl, {"report", "get", "--platform", "emulated", "--chip-dir", "/tmp/x"})
            .exit_code == 2);
}

}  // namespace
}  // namespace skr::testing
