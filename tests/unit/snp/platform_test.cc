#include "common/snp/platform.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "common/log/logger.h"

namespace skr::snp {
namespace {

namespace fs = std::filesystem;

std::string makeTempDir() {
  std::string templ = (fs::temp_directory_path() / "skr-platform-test-XXXXXX").string();
  REQUIRE(::mkdtemp(templ.data()) != nullptr);
  return templ;
}

// Captures log lines for the life of the object.
class LogCapture {
 public:
  LogCapture() {
    previous_ = log::setSink([this](log::Level, std::string_view line) {
      std::lock_guard<std::mutex> lock(mu_);
      lines_.emplace_back(line);
    });
  }
  ~LogCapture() { log::setSink(previous_); }
  std::vector<std::string> lines() {
    std::lock_guard<std::mutex> lock(mu_);
    return lines_;
  }
  bool contains(std::string_view needle) {
    for (const std::string& l : lines()) {
      if (l.find(needle) != std::string::npos) return true;
    }
    return false;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> lines_;
  log::Sink previous_;
};

PlatformOptions optionsIn(const std::string& dir) {
  PlatformOptions o;
  o.sev_guest_path = dir + "/sev-guest";
  o.sev_legacy_path = dir + "/sev";
  o.tsm_report_dir = dir + "/tsm/report";
  return o;
}

void touch(const std::string& path) {
  const int fd = ::open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  REQUIRE(fd >= 0);
  ::close(fd);
}

TEST_CASE("platform names parse and print", "[snp-device]") {
  for (const char* name : {"auto", "sev-guest", "sev-legacy", "tsm", "emulated"}) {
    StatusOr<PlatformKind> kind = parsePlatformKind(name);
    REQUIRE(kind.ok());
    CHECK(platformName(*kind) == name);
  }
  CHECK(parsePlatformKind("sev").status().toString() ==
        "InvalidArgument: platform 'sev' is not one of auto, sev-guest, sev-legacy, tsm, "
        "emulated");
}

TEST_CASE("auto fails listing every path it looked for when no interface exists", "[snp-device]") {
  const std::string dir = makeTempDir();
  LogCapture capture;
  StatusOr<std::unique_ptr<SnpDevice>> device = openPlatform(PlatformKind::Auto, optionsIn(dir));
  REQUIRE_FALSE(device.ok());
  CHECK(device.status().toString() ==
        "FailedPrecondition: platform auto: no SEV-SNP guest interface found; looked for " + dir +
            "/sev-guest (sev-guest: No such file or directory (errno 2)), " + dir +
            "/tsm/report (tsm: No such file or directory (errno 2)), " + dir +
            "/sev (sev-legacy: No such file or directory (errno 2)). Not an SEV-SNP guest? For "
            "tests and demos set platform: emulated explicitly");
  CHECK(capture.contains(R"("event":"snp.platform.probe","platform":"sev-guest")"));
  CHECK(capture.contains(R"("event":"snp.platform.probe","platform":"tsm")"));
  CHECK(capture.contains(R"("event":"snp.platform.probe","platform":"sev-legacy")"));
  CHECK(capture.contains(R"("event":"snp.platform.none")"));
}

TEST_CASE("auto never selects the emulated chip", "[snp-device]") {
  const std::string dir = makeTempDir();
  PlatformOptions options = optionsIn(dir);
  options.emulated_chip_dir = dir + "/chip";
  StatusOr<std::unique_ptr<SnpDevice>> device = openPlatform(PlatformKind::Auto, options);
  REQUIRE_FALSE(device.ok());
  CHECK(device.status().code() == StatusCode::FailedPrecondition);
  CHECK_FALSE(fs::exists(dir + "/chip"));
}

TEST_CASE("auto probes sev-guest, then tsm, then the legacy /dev/sev", "[snp-device]") {
  const std::string dir = makeTempDir();
  const PlatformOptions options = optionsIn(dir);
  touch(options.sev_legacy_path);
  {
    LogCapture capture;
    std::unique_ptr<SnpDevice> d = std::move(openPlatform(PlatformKind::Auto, options)).value();
    CHECK(d->name() == "sev-legacy");
    CHECK(capture.contains(R"("event":"snp.platform.chosen","platform":"sev-legacy")"));
  }
  fs::create_directories(options.tsm_report_dir);
  CHECK(std::move(openPlatform(PlatformKind::Auto, options)).value()->name() == "tsm");
  touch(options.sev_guest_path);
  CHECK(std::move(openPlatform(PlatformKind::Auto, options)).value()->name() == "sev-guest");
}

TEST_CASE("explicit platforms report a missing interface by path", "[snp-device]") {
  const std::string dir = makeTempDir();
  const PlatformOptions options = optionsIn(dir);
  CHECK(openPlatform(PlatformKind::SevGuest, options).status().toString() ==
        "FailedPrecondition: /dev/sev-guest (SNP guest driver): " + dir +
            "/sev-guest does not exist (No such file or directory (errno 2))");
  CHECK(openPlatform(PlatformKind::SevLegacy, options).status().toString() ==
        "FailedPrecondition: /dev/sev (legacy SNP guest driver, ACI Linux 5.15): " + dir +
            "/sev does not exist (No such file or directory (errno 2))");
  CHECK(openPlatform(PlatformKind::Tsm, options).status().toString() ==
        "FailedPrecondition: configfs-tsm: " + dir +
            "/tsm/report is not a directory (configfs not mounted at /sys/kernel/config, or a "
            "kernel before 6.7)");
  CHECK(openPlatform(PlatformKind::Emulated, options).status().toString() ==
        "InvalidArgument: platform 'emulated' needs the emulated chip's state directory");
}

TEST_CASE("a device node that cannot be opened is PermissionDenied", "[snp-device]") {
  if (::geteuid() == 0)
    SUCCEED("root bypasses file modes");
  else {
    const std::string dir = makeTempDir();
    const PlatformOptions options = optionsIn(dir);
    touch(options.sev_guest_path);
    REQUIRE(::chmod(options.sev_guest_path.c_str(), 0) == 0);
    CHECK(openPlatform(PlatformKind::Auto, options).status().toString() ==
          "PermissionDenied: /dev/sev-guest (SNP guest driver): " + dir +
              "/sev-guest cannot be opened for reading and writing (Permission denied (errno "
              "13))");
  }
}

}  // namespace
}  // namespace skr::snp
