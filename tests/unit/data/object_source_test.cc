#include "common/data/object_source.h"

#include <stdlib.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>

namespace skr::data {
namespace {

std::string writeTempFile(const std::string& content) {
  char path[] = "/tmp/skr-object-source-XXXXXX";
  const int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  REQUIRE(::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()));
  ::close(fd);
  return path;
}

TEST_CASE("MemoryObjectSource reads exact ranges and refuses reads past the end", "[data]") {
  MemoryObjectSource source(toBytes("0123456789"), "ten digits");
  REQUIRE(source.size().value() == 10);
  CHECK(toString(source.read(3, 4).value()) == "3456");
  CHECK(source.read(10, 0).value().empty());
  const auto past = source.read(8, 3);
  REQUIRE_FALSE(past.ok());
  CHECK(past.status().code() == StatusCode::InvalidArgument);
  CHECK(past.status().message().find("ten digits") != std::string::npos);
  // An offset near 2^64 must not wrap around the bound check.
  CHECK_FALSE(source.read(~uint64_t{0}, 2).ok());
}

TEST_CASE("FileObjectSource reads a file by offset and names it in errors", "[data]") {
  const std::string path = writeTempFile("hello, encrypted world");
  auto source = FileObjectSource::open(path);
  REQUIRE(source.ok());
  CHECK((*source)->size().value() == 22);
  CHECK(toString((*source)->read(7, 9).value()) == "encrypted");
  CHECK_FALSE((*source)->read(20, 5).ok());
  CHECK((*source)->describe() == "file " + path);
  std::filesystem::remove(path);

  const auto missing = FileObjectSource::open(path);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == StatusCode::NotFound);
  CHECK(missing.status().message().find(path) != std::string::npos);

  const auto dir = FileObjectSource::open("/tmp");
  REQUIRE_FALSE(dir.ok());
  CHECK(dir.status().code() == StatusCode::FailedPrecondition);
}

}  // namespace
}  // namespace skr::data
