#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "common/json/json.h"
#include "common/log/logger.h"

namespace skr::log {
namespace {

// Captures the lines written while it lives, in the given format; restores sink and format.
struct Capture {
  explicit Capture(Format f) : previous_format(format()) {
    previous_sink = setSink([this](Level, std::string_view line) { lines.emplace_back(line); });
    setFormat(f);
  }
  ~Capture() {
    setSink(previous_sink);
    setFormat(previous_format);
  }
  std::vector<std::string> lines;
  Sink previous_sink;
  Format previous_format;
};

TEST_CASE("log.format text writes one readable line: time, level, event, key=value") {
  Capture capture(Format::Text);
  info("step", {{"step", "report"},
                {"key", ""},
                {"attempts", 2},
                {"ok", true},
                {"message", "gave up after 3 attempts"}});
  REQUIRE(capture.lines.size() == 1);
  const std::string& line = capture.lines[0];
  // 2026-12-06T23:51:38.775Z info    step step=report key="" attempts=2 ok=true message="gave..."
  REQUIRE(line.size() > 25);
  CHECK(line[10] == 'T');
  CHECK(
      line.substr(24) ==
      " info    step step=report key=\"\" attempts=2 ok=true message=\"gave up after 3 attempts\"");
}

TEST_CASE("log.format text quotes and escapes values that could forge a line or a field") {
  Capture capture(Format::Text);
  warning("audit", {{"peer", "x\nlevel=error event=forged"},
                    {"path", "/a=b"},
                    {"rlo",
                     "a\xe2\x80\xae"
                     "b"},
                    {"quote", "say \"hi\""}});
  REQUIRE(capture.lines.size() == 1);
  const std::string& line = capture.lines[0];
  CHECK(line.find('\n') == std::string::npos);
  CHECK(line.find(R"(peer="x\nlevel=error event=forged")") != std::string::npos);
  CHECK(line.find(R"(path="/a=b")") != std::string::npos);
  CHECK(line.find(R"(rlo="a\u202eb")") != std::string::npos);
  CHECK(line.find(R"(quote="say \"hi\"")") != std::string::npos);
}

TEST_CASE("log.format json (the default) writes one JSON object per line") {
  CHECK(format() == Format::Json);
  Capture capture(Format::Json);
  error("failed", {{"exit_code", 6}, {"step", "release"}});
  REQUIRE(capture.lines.size() == 1);
  StatusOr<json::ObjectPtr> o = json::parseObject(capture.lines[0]);
  REQUIRE(o.ok());
  CHECK(json::getString(*o, "event").value() == "failed");
  CHECK(json::getInt(*o, "exit_code").value() == 6);
}

TEST_CASE("parseFormat takes json and text only") {
  CHECK(parseFormat("json").value() == Format::Json);
  CHECK(parseFormat("text").value() == Format::Text);
  CHECK_FALSE(parseFormat("xml").ok());
}

}  // namespace
}  // namespace skr::log
