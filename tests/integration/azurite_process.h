// Azurite (the Azure Storage emulator, npm, pinned by tests/node/package-lock.json) for the
// integration tests: tests/lib/azurite.py serve starts it on 127.0.0.1 over HTTPS with a CA of its
// own and --oauth basic, with a throttling proxy in front. Shared by the BlobReader tests and the
// encrypted-data tests of skr-init and skr-agent.
// Without node or Azurite, start() returns nullptr (the test passes with a warning), unless
// SKR_REQUIRE_AZURITE is set (.ci/run sets it after scripts/setup): then it fails.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/http/poco_http_transport.h"
#include "tests/integration/process.h"

namespace skr::testing {

namespace azurite_fs = std::filesystem;

inline const std::string kHarness = SKR_AZURITE_HARNESS;
inline const std::string kNodeDir = SKR_NODE_DIR;

inline bool azuriteInstalled() {
  if (!azurite_fs::exists(kNodeDir + "/node_modules/azurite/dist/src/blob/main.js")) return false;
  ProcessResult r = runProcess("/usr/bin/env", {"node", "--version"});
  return r.exit_code == 0;
}

// Azurite + proxy through `azurite.py serve` in a temp dir; SIGTERM on destruction.
class AzuriteProcess {
 public:
  // nullptr when Azurite is absent and not required (the test then returns early).
  static std::unique_ptr<AzuriteProcess> start() {
    if (!azuriteInstalled()) {
      if (std::getenv("SKR_REQUIRE_AZURITE") != nullptr) {
        FAIL("Azurite is required (SKR_REQUIRE_AZURITE) but node or " << kNodeDir
                                                                      << "/node_modules/azurite is "
                                                                         "missing: scripts/setup");
      }
      WARN("skipped: node or Azurite not installed (scripts/setup installs them)");
      return nullptr;
    }
    auto p = std::unique_ptr<AzuriteProcess>(new AzuriteProcess);
    char tmpl[] = "/tmp/skr-azurite-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    p->dir_ = tmpl;
    const std::string log = p->dir_ + "/serve.log";
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      std::vector<std::string> args = {"/usr/bin/env", "python3", kHarness,     "serve",
                                       "--node-dir",   kNodeDir,  "--work-dir", p->dir_ + "/w"};
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    p->pid_ = pid;
    const std::string env_file = p->dir_ + "/w/azurite.env";
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
    while (!azurite_fs::exists(env_file)) {
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        p->pid_ = -1;
        std::ifstream in(log);
        std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        FAIL("azurite.py serve exited: " << text);
      }
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::ifstream in(env_file);
    for (std::string line; std::getline(in, line);) {
      const std::size_t eq = line.find('=');
      if (eq != std::string::npos) p->env_[line.substr(0, eq)] = line.substr(eq + 1);
    }
    REQUIRE(p->env_.count("AZURITE_BLOB_ENDPOINT") == 1);
    return p;
  }

  ~AzuriteProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      for (int i = 0; i < 300 && ::waitpid(pid_, &status, WNOHANG) == 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      if (::waitpid(pid_, &status, WNOHANG) == 0) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
      }
    }
    std::error_code ec;
    if (!dir_.empty()) azurite_fs::remove_all(dir_, ec);
  }

  std::string endpoint() const { return env_.at("AZURITE_BLOB_ENDPOINT"); }
  std::string proxyEndpoint() const { return env_.at("AZURITE_PROXY_ENDPOINT"); }
  std::string proxyControl() const { return env_.at("AZURITE_PROXY_CONTROL"); }
  std::string caFile() const { return env_.at("AZURITE_CA_FILE"); }
  std::string dir() const { return dir_; }

  // A service SAS URL for container/blob (read from a file: it is a credential, and stdout is
  // kept as test output). `extra`: more options of `azurite.py sas`.
  std::string sas(const std::string& container, const std::string& blob,
                  const std::vector<std::string>& extra = {}) const {
    const std::string out = dir_ + "/sas.url";
    std::vector<std::string> args = {"sas", container, blob, "--out", out};
    args.insert(args.end(), extra.begin(), extra.end());
    harness(args);
    std::ifstream in(out);
    std::string url;
    std::getline(in, url);
    REQUIRE(!url.empty());
    return url;
  }

  // Runs an azurite.py subcommand against this instance; its trimmed stdout.
  std::string harness(const std::vector<std::string>& args) const {
    std::vector<std::string> full = {"python3", kHarness, args.at(0), "--env",
                                     dir_ + "/w/azurite.env"};
    full.insert(full.end(), args.begin() + 1, args.end());
    ProcessOptions options;
    options.timeout = std::chrono::seconds(300);
    ProcessResult r = runProcess("/usr/bin/env", full, options);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    std::string out = r.out;
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    return out;
  }

 private:
  AzuriteProcess() = default;
  std::string dir_;
  pid_t pid_ = -1;
  std::map<std::string, std::string> env_;
};

inline std::string randomData(std::size_t size, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string data(size, '\0');
  for (char& c : data) c = static_cast<char>(rng() & 0xff);
  return data;
}

inline std::string randomFile(const std::string& path, std::size_t size, uint64_t seed) {
  std::string data = randomData(size, seed);
  std::ofstream(path, std::ios::binary).write(data.data(), static_cast<std::streamsize>(size));
  return data;
}

inline std::shared_ptr<http::HttpTransport> transportTrusting(const std::string& ca_file) {
  http::PocoHttpTransportOptions options;
  options.ca_file = ca_file;
  options.proxy = http::ProxySettings{};
  auto t = http::PocoHttpTransport::create(options);
  REQUIRE(t.ok());
  return std::shared_ptr<http::HttpTransport>(std::move(t).value());
}

}  // namespace skr::testing
