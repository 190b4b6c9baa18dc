#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/json/json.h"
#include "common/log/logger.h"

namespace skr::log {
namespace {

// Captures the lines written while it lives, in the given format; restores sink and format.
struct Capture {
  explicit Capture(Format f) : previous_format(format()) {
    previous_sink = setSink([this](Level, std::string_view line) {
      std::lock_guard<std::mutex> lock(mutex);
      lines.emplace_back(line);
    });
    setFormat(f);
  }
  ~Capture() {
    setSink(previous_sink);
    setFormat(previous_format);
  }
  std::vector<std::string> taken() {
    std::lock_guard<std::mutex> lock(mutex);
    return lines;
  }
  std::mutex mutex;
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

TEST_CASE("a Batch holds this thread's lines until it ends or flushes, in order, whole") {
  Capture capture(Format::Text);
  {
    Batch batch;
    info("one", {{"n", 1}});
    warning("two", {{"n", 2}});
    CHECK(capture.taken().empty());
    std::thread other([] { info("other-thread"); });  // not held: another thread
    other.join();
    REQUIRE(capture.taken().size() == 1);
    CHECK(capture.taken()[0].find("other-thread") != std::string::npos);
    {
      Batch inner;  // nested: the outer one keeps the lines
      info("three");
    }
    CHECK(capture.taken().size() == 1);
    batch.flush();
    REQUIRE(capture.taken().size() == 4);
    info("four");
    CHECK(capture.taken().size() == 4);
  }
  const std::vector<std::string> lines = capture.taken();
  REQUIRE(lines.size() == 5);
  CHECK(lines[1].substr(24) == " info    one n=1");
  CHECK(lines[2].substr(24) == " warning two n=2");
  CHECK(lines[3].substr(24) == " info    three");
  CHECK(lines[4].substr(24) == " info    four");
  info("after");  // no Batch: at once
  CHECK(capture.taken().size() == 6);
}

TEST_CASE("a Batch writes its lines to stderr (the default sink) newline-terminated") {
  char path[] = "/tmp/skr-log-batch-XXXXXX";
  const int file = ::mkstemp(path);
  REQUIRE(file >= 0);
  std::fflush(stderr);
  const int saved = ::dup(2);
  REQUIRE(saved >= 0);
  REQUIRE(::dup2(file, 2) == 2);
  {
    Batch batch;
    info("batched-one", {{"n", 1}});
    info("batched-two", {{"n", 2}});
  }
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  ::close(file);
  std::ifstream in(path);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ::unlink(path);
  const std::size_t newline = text.find('\n');
  REQUIRE(newline != std::string::npos);
  CHECK(json::parseObject(text.substr(0, newline)).ok());
  CHECK(text.substr(0, newline).find("\"event\":\"batched-one\"") != std::string::npos);
  CHECK(text.find("\"event\":\"batched-two\"", newline) != std::string::npos);
  CHECK(text.back() == '\n');
  CHECK(std::count(text.begin(), text.end(), '\n') == 2);
}

}  // namespace
}  // namespace skr::log
