#include "common/log/logger.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace skr::log {
namespace {

struct CapturedLog {
  CapturedLog() {
    previous = setSink([this](Level, std::string_view line) { lines.emplace_back(line); });
  }
  ~CapturedLog() {
    setSink(previous);
    setMinLevel(Level::Info);
  }
  std::vector<std::string> lines;
  Sink previous;
};

TEST_CASE("a log line is one JSON object with ts, level, event and typed fields") {
  CapturedLog log;
  warning("token_refresh",
          {{"host", "vault.azure.net"}, {"attempt", 2}, {"cached", true}, {"seconds", 1.5}});
  REQUIRE(log.lines.size() == 1);
  const std::string& line = log.lines[0];
  CHECK(line.rfind("{\"ts\":\"", 0) == 0);
  CHECK(
      line.find("\",\"level\":\"warning\",\"event\":\"token_refresh\",\"host\":\"vault.azure.net\","
                "\"attempt\":2,\"cached\":true,\"seconds\":1.5}") != std::string::npos);
  CHECK(line.find('\n') == std::string::npos);
}

TEST_CASE("log fields are escaped so a value cannot break the line") {
  CapturedLog log;
  info("e", {{"path", "a\"b\\c\nd\x01"}});
  REQUIRE(log.lines.size() == 1);
  CHECK(log.lines[0].find(R"("path":"a\"b\\c\nd\u0001")") != std::string::npos);
}

TEST_CASE("lines below the minimum level are dropped") {
  CapturedLog log;
  setMinLevel(Level::Warning);
  info("quiet");
  debug("quieter");
  error("loud");
  REQUIRE(log.lines.size() == 1);
  CHECK(log.lines[0].find("\"event\":\"loud\"") != std::string::npos);
}

}  // namespace
}  // namespace skr::log
