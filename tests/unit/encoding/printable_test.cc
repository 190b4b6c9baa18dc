#include "common/encoding/printable.h"

#include <catch2/catch.hpp>
#include <string>

namespace skr::encoding {
namespace {

TEST_CASE("printable keeps printable ASCII and shows other bytes as '?'") {
  CHECK(printable("key-1 ok", 48) == "key-1 ok");
  CHECK(printable(std::string("a\nb\0c\x7f\xc3\xa9", 8), 48) == "a?b?c???");
  CHECK(printable("", 48).empty());
}

TEST_CASE("printable cuts at the byte limit and says so") {
  CHECK(printable("abcdef", 6) == "abcdef");
  CHECK(printable("abcdefg", 6) == "abcdef...");
  CHECK(printable("abc", 0) == "...");
}

TEST_CASE("quoted wraps printable text in the quote mark and hides the mark inside") {
  CHECK(quoted("data-kek", 128) == "'data-kek'");
  CHECK(quoted("it's", 128) == "'it?s'");
  CHECK(quoted("say \"hi\"\n", 80, '"') == "\"say ?hi??\"");
  CHECK(quoted("abcdef", 3, '"') == "\"abc...\"");
}

}  // namespace
}  // namespace skr::encoding
