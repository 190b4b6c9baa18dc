// skrctl report verify / hostdata on the real fixtures, as an operator runs them.
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
const std::string kData = SKR_TEST_DATA_DIR;
const std::string kAci = kData + "/snp/aci-milan-v2";
const std::string kGo = kData + "/snp/gosevguest-milan-v2";
// Inside both VCEKs' validity (2022-11-29 .. 2029-09-24) and the AMD roots'.
const std::string kAt = "2026-06-01T00:00:00Z";

std::string readAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/skr-ctl-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
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

ProcessResult verify(const std::string& report, const std::string& cert, const std::string& chain,
                     std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"report", "verify", "--report", report,
                                   "--cert", cert,     "--chain",  chain};
  args.insert(args.end(), extra.begin(), extra.end());
  return runProcess(kSkrctl, args);
}

TEST_CASE("skrctl report verify accepts both real fixture reports at a pinned time") {
  ProcessResult aci =
      verify(kAci + "/report.bin", kAci + "/vcek.pem", kAci + "/ask_ark.pem", {"--at", kAt});
  CHECK(aci.exit_code == 0);
  CHECK(aci.err.empty());
  CHECK(aci.out.rfind("verified: AMD Milan root", 0) == 0);
  // go-sev-guest's VCEK is DER.
  ProcessResult go =
      verify(kGo + "/report.bin", kGo + "/vcek.der", kGo + "/ask_ark.pem", {"--at", kAt, "--json"});
  CHECK(go.exit_code == 0);
  CHECK(go.out.find("\"verified\":true") != std::string::npos);
  CHECK(go.out.find("\"ark_pinned\":true") != std::string::npos);
}

TEST_CASE("skrctl report verify takes a bundle of ARK, ASVK and ASK in one file, in any order") {
  // As an operator builds one from AMD KDS's VCEK and VLEK cert_chain files.
  const std::string ask_ark = readAll(kAci + "/ask_ark.pem");
  const std::string::size_type split = ask_ark.find("-----BEGIN CERTIFICATE-----", 1);
  REQUIRE(split != std::string::npos);
  const std::string ask = ask_ark.substr(0, split);
  const std::string ark = ask_ark.substr(split);
  const std::string asvk = readAll(kData + "/amd/milan_asvk.pem");
  TempDir dir;
  for (const std::string& bundle : {ark + asvk + ask, asvk + ask + ark, ark + ask}) {
    ProcessResult r = verify(kAci + "/report.bin", kAci + "/vcek.pem",
                             dir.write("bundle.pem", bundle), {"--at", kAt});
    INFO(r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.out.rfind("verified: AMD Milan root", 0) == 0);
  }
  // Two roots in one bundle are refused, naming the check (exit 9).
  ProcessResult two_roots = verify(
      kAci + "/report.bin", kAci + "/vcek.pem",
      dir.write("bundle.pem", ask + ark + readAll(kData + "/amd/genoa_ark.pem")), {"--at", kAt});
  CHECK(two_roots.exit_code == 9);
  CHECK(two_roots.err.find("ark: chain has 3 certificates (2 self-signed)") != std::string::npos);
}

TEST_CASE("skrctl report verify fails with exit 9 after any flipped byte of the signed region") {
  const std::string original = readAll(kAci + "/report.bin");
  TempDir dir;
  // One offset inside every field of the signed region 0x000..0x29F, reserved ones included.
  const std::size_t offsets[] = {0x000, 0x004, 0x008, 0x010, 0x020, 0x030, 0x034, 0x038,
                                 0x040, 0x048, 0x04C, 0x050, 0x08F, 0x090, 0x0C0, 0x0E0,
                                 0x110, 0x140, 0x160, 0x180, 0x188, 0x18B, 0x1A0, 0x1E0,
                                 0x1E8, 0x1EC, 0x1F0, 0x1F8, 0x200, 0x208, 0x29F};
  for (std::size_t off : offsets) {
    INFO("offset 0x" << std::hex << off);
    std::string flipped = original;
    flipped[off] = static_cast<char>(flipped[off] ^ 0x01);
    const std::string path = dir.write("flipped.bin", flipped);
    ProcessResult r = verify(path, kAci + "/vcek.pem", kAci + "/ask_ark.pem", {"--at", kAt});
    CHECK(r.exit_code == 9);
    // Exactly one line naming the first failed check.
    REQUIRE_FALSE(r.err.empty());
    CHECK(r.err.find('\n') == r.err.size() - 1);
    CHECK(r.err.rfind("skrctl: ", 0) == 0);
  }
  // A flip in a field only the signature protects is reported as the signature check.
  std::string flipped = original;
  flipped[0x0C0] ^= 0x01;  // HOST_DATA
  ProcessResult r = verify(dir.write("hostdata.bin", flipped), kAci + "/vcek.pem",
                           kAci + "/ask_ark.pem", {"--at", kAt});
  CHECK(r.exit_code == 9);
  CHECK(r.err.rfind("skrctl: report-signature: ", 0) == 0);
}

TEST_CASE(
    "skrctl report verify rejects a truncated report, a wrong VCEK and a time outside validity") {
  TempDir dir;
  const std::string truncated = dir.write("t.bin", readAll(kAci + "/report.bin").substr(0, 1000));
  ProcessResult t = verify(truncated, kAci + "/vcek.pem", kAci + "/ask_ark.pem", {"--at", kAt});
  CHECK(t.exit_code == 9);
  CHECK(t.err.rfind("skrctl: report: ", 0) == 0);
  CHECK(t.err.find("1000 bytes, expected 1184") != std::string::npos);

  ProcessResult other =
      verify(kAci + "/report.bin", kGo + "/vcek.der", kAci + "/ask_ark.pem", {"--at", kAt});
  CHECK(other.exit_code == 9);

  ProcessResult early = verify(kAci + "/report.bin", kAci + "/vcek.pem", kAci + "/ask_ark.pem",
                               {"--at", "2021-01-01T00:00:00Z"});
  CHECK(early.exit_code == 9);
  CHECK(early.err.find("not valid") != std::string::npos);
}

TEST_CASE("skrctl report verify usage errors exit 2") {
  ProcessResult missing =
      runProcess(kSkrctl, {"report", "verify", "--report", kAci + "/report.bin"});
  CHECK(missing.exit_code == 2);
  CHECK(missing.err.find("missing required option '--cert'") != std::string::npos);
  ProcessResult bad_time = verify(kAci + "/report.bin", kAci + "/vcek.pem", kAci + "/ask_ark.pem",
                                  {"--at", "yesterday"});
  CHECK(bad_time.exit_code == 2);
  CHECK(bad_time.err.find("--at: 'yesterday' is not an RFC 3339 time") != std::string::npos);
  ProcessResult bad_cert =
      verify(kAci + "/report.bin", kAci + "/report.bin", kAci + "/ask_ark.pem");
  CHECK(bad_cert.exit_code == 2);
}

TEST_CASE("skrctl hostdata of the fixture policy is the report's host_data") {
  ProcessResult r = runProcess(kSkrctl, {"hostdata", "--policy", kAci + "/security_policy.base64"});
  CHECK(r.exit_code == 0);
  CHECK(r.out == "cadd74f71ebb8fbf9782baab649612520f3c416bc5ce9ac768808ddc8d9b031c\n");
  ProcessResult arm =
      runProcess(kSkrctl, {"hostdata", "--template", kData + "/arm/aci_cce_policy.json"});
  CHECK(arm.exit_code == 0);
  CHECK(arm.out == "cadd74f71ebb8fbf9782baab649612520f3c416bc5ce9ac768808ddc8d9b031c\n");
  ProcessResult as_json =
      runProcess(kSkrctl, {"hostdata", "--json", "--policy", kAci + "/security_policy.base64"});
  CHECK(as_json.exit_code == 0);
  CHECK(as_json.out ==
        R"({"hostdata":"cadd74f71ebb8fbf9782baab649612520f3c416bc5ce9ac768808ddc8d9b031c",)"
        R"("policy":")" +
            kAci + "/security_policy.base64\"}\n");
  ProcessResult both = runProcess(kSkrctl, {"hostdata"});
  CHECK(both.exit_code == 2);
  ProcessResult param =
      runProcess(kSkrctl, {"hostdata", "--template", kData + "/arm/aci_cce_policy_parameter.json"});
  CHECK(param.exit_code == 2);
  CHECK(param.err.find("parameters") != std::string::npos);
}

}  // namespace
}  // namespace skr::testing
