// The pure parts of skrctl doctor (ctl/doctor.h): the hostdata a release policy demands, the clock
// skew from an HTTP Date header, the socket-directory verdict, and the report's exit code and
// formats. The checks against live services are in tests/integration/skrctl_doctor_test.cc.
#include "ctl/doctor.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "common/azure/release_policy.h"
#include "common/json/json.h"

namespace skr::ctl {
namespace {

const std::string kHostA = "532eaabd9574880dbf76b9b8cc00832c20a6ec113d682299550d7a6e0f345e25";
const std::string kHostB = "0000000000000000000000000000000000000000000000000000000000000001";

json::ObjectPtr wirePolicy(const std::string& policy_json) {
  json::ObjectPtr wire = json::parseObject(R"({"contentType":"application/json; charset=utf-8",)"
                                           R"("immutable":false,"data":")" +
                                           azure::toWireBase64Url(policy_json) + R"("})")
                             .value();
  return wire;
}

std::string statement(const std::string& authority, const std::string& hostdata) {
  return R"({"authority":")" + authority +
         R"(","allOf":[{"claim":"x-ms-compliance-status","equals":"azure-compliant-uvm"},)"
         R"({"claim":"x-ms-sevsnpvm-hostdata","equals":")" +
         hostdata + R"("}]})";
}

TEST_CASE("policyHostData finds the hostdata of every statement of a release policy") {
  const std::string one =
      R"({"version":"1.0.0","anyOf":[)" + statement("https://a.attest.example", kHostA) + "]}";
  CHECK(policyHostData(wirePolicy(one)).value() == std::vector<std::string>{kHostA});

  const std::string two = R"({"version":"1.0.0","anyOf":[)" +
                          statement("https://a.attest.example", kHostA) + "," +
                          statement("https://b.attest.example", kHostB) + "]}";
  CHECK(policyHostData(wirePolicy(two)).value() == std::vector<std::string>{kHostA, kHostB});
}

TEST_CASE("policyHostData is empty for a policy that does not constrain the hostdata") {
  const std::string none =
      R"({"version":"1.0.0","anyOf":[{"authority":"https://a.attest.example","allOf":[)"
      R"({"claim":"x-ms-compliance-status","equals":"azure-compliant-uvm"}]}]})";
  CHECK(policyHostData(wirePolicy(none)).value().empty());
}

TEST_CASE("policyHostData refuses a release policy that does not parse") {
  StatusOr<std::vector<std::string>> bad = policyHostData(wirePolicy(R"({"anyOf":[]})"));
  CHECK(bad.status().code() == StatusCode::InvalidArgument);
  StatusOr<std::vector<std::string>> no_data =
      policyHostData(json::parseObject(R"({"contentType":"x"})").value());
  CHECK(!no_data.ok());
}

TEST_CASE("clockSkewFromDate: positive when the local clock is ahead of the server's") {
  // Sun, 06 Nov 1994 08:49:37 GMT (RFC 9110's example) = 784111777.
  const auto server = std::chrono::system_clock::time_point(std::chrono::seconds(784111777));
  const std::string date = "Sun, 06 Nov 1994 08:49:37 GMT";
  CHECK(clockSkewFromDate(date, server + std::chrono::seconds(90)) == std::chrono::seconds(90));
  CHECK(clockSkewFromDate(date, server - std::chrono::seconds(30)) == std::chrono::seconds(-30));
  CHECK(clockSkewFromDate(date, server) == std::chrono::seconds(0));
  CHECK_FALSE(clockSkewFromDate("", server).has_value());
  CHECK_FALSE(clockSkewFromDate("yesterday-ish", server).has_value());
}

struct TempDir {
  std::string path;
  TempDir() {
    std::string pattern = std::filesystem::temp_directory_path().string() + "/skr-doctor-XXXXXX";
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
};

TEST_CASE(
    "checkSocketDirectoryOf refuses a group/other-writable directory and accepts a private one") {
  TempDir tmp;
  const std::string dir = tmp.path + "/sock";
  REQUIRE(::mkdir(dir.c_str(), 0700) == 0);
  CHECK(checkSocketDirectoryOf(dir + "/agent.sock").ok());
  REQUIRE(::chmod(dir.c_str(), 0777) == 0);
  Status open = checkSocketDirectoryOf(dir + "/agent.sock");
  CHECK(open.code() == StatusCode::PermissionDenied);
  CHECK(open.message().find("0777") != std::string::npos);
}

TEST_CASE(
    "checkSocketDirectoryOf accepts a missing directory skr-agent can create, not one without a "
    "parent") {
  TempDir tmp;
  CHECK(checkSocketDirectoryOf(tmp.path + "/new/agent.sock").ok());
  CHECK(checkSocketDirectoryOf(tmp.path + "/no/parent/agent.sock").code() ==
        StatusCode::FailedPrecondition);
}

TEST_CASE("a doctor report exits with the code of its first failure, ignoring skipped checks") {
  DoctorReport report;
  report.pass("config", "ok");
  report.skip("collateral", "snp-device");
  CHECK(report.exitCode() == kExitOk);
  report.fail("maa-tls", kExitDependency, "refused", "check the URL");
  report.fail("socket-dirs", kExitUsage, "mode 0777", "chmod go-w");
  CHECK(report.exitCode() == kExitDependency);

  CHECK(report.text() ==
        "\u2713 config: ok\n"
        "\u2717 collateral: skipped: needs snp-device\n  fix: fix 'snp-device' first\n"
        "\u2717 maa-tls: refused\n  fix: check the URL\n"
        "\u2717 socket-dirs: mode 0777\n  fix: chmod go-w\n");
  json::ArrayPtr array = json::asArray(json::parse(report.json()).value(), "report").value();
  REQUIRE(array->size() == 4);
  json::ObjectPtr first = json::getObject(array, 0, "check").value();
  CHECK(json::getString(first, "check").value() == "config");
  CHECK(json::getBool(first, "ok").value());
  CHECK(json::getString(first, "fix").value().empty());
  json::ObjectPtr skipped = json::getObject(array, 1, "check").value();
  CHECK_FALSE(json::getBool(skipped, "ok").value());
}

TEST_CASE("doctor with an unconfigured --key is a usage error") {
  DoctorOptions options;
  options.key = "nope";
  options.getenv = [](const std::string& name) -> std::optional<std::string> {
    if (name == "SKR_CONFIG_YAML") return std::string("log:\n  level: error\n");
    return std::nullopt;
  };
  CHECK(runDoctor(options).status().code() == StatusCode::InvalidArgument);
}

}  // namespace
}  // namespace skr::ctl
