// Runs a real binary as a child process with arguments, environment additions and optional stdin,
// capturing stdout, stderr and the exit code (integration tests use real processes).
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace skr::testing {

struct ProcessResult {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;
  std::string out;
  std::string err;
};

struct ProcessOptions {
  std::map<std::string, std::string> env;  // added to / overriding the current environment
  std::vector<std::string> unset_env;
  std::string stdin_data;
  std::chrono::seconds timeout{60};
};

// Keeps a child process's output for the suite-wide secret scan (tests/scan-test-logs): appends
// `text` to a new file under SKR_TEST_OUTPUT_DIR (the build's test-output/ directory).
void keepTestOutput(const std::string& what, const std::string& text);

ProcessResult runProcess(const std::string& path, const std::vector<std::string>& args,
                         const ProcessOptions& options = {});

}  // namespace skr::testing
