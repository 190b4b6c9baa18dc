#include "common/config/yaml_reader.h"

#include <catch2/catch.hpp>
#include <string>

namespace skr::config {
namespace {

TEST_CASE("yaml reader builds a tree and tells plain from quoted scalars") {
  auto root = parseYamlDocument("a: 1\nb: \"1\"\nc: [x, 'y']\nd:\ne: {f: g}\n");
  REQUIRE(root.ok());
  REQUIRE(root->kind == YamlNode::Kind::Map);
  REQUIRE(root->entries.size() == 5);
  CHECK(root->entries[0].key == "a");
  CHECK(root->entries[0].value.scalar == "1");
  CHECK(root->entries[0].value.plain);
  CHECK_FALSE(root->entries[1].value.plain);
  CHECK(root->entries[2].value.kind == YamlNode::Kind::Sequence);
  CHECK(root->entries[2].value.items.size() == 2);
  CHECK(root->entries[3].value.kind == YamlNode::Kind::Null);
  CHECK(root->entries[4].value.entries[0].value.scalar == "g");
  CHECK(root->entries[4].value.line == 5);
  CHECK(root->node_count == 9);
}

TEST_CASE("yaml reader expands aliases") {
  auto root = parseYamlDocument("base: &b {x: 1}\ncopy: *b\n");
  REQUIRE(root.ok());
  REQUIRE(root->entries.size() == 2);
  CHECK(root->entries[1].value.entries[0].key == "x");
  CHECK(root->entries[1].value.entries[0].value.scalar == "1");
}

TEST_CASE("yaml reader refuses an alias bomb by node count") {
  std::string bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 10; ++i) {
    const std::string prev = "*a" + std::to_string(i - 1);
    bomb += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j) bomb += (j ? ", " : "") + prev;
    bomb += "]\n";
  }
  auto root = parseYamlDocument(bomb);
  REQUIRE_FALSE(root.ok());
  CHECK(root.status().code() == StatusCode::ResourceExhausted);
  CHECK(root.status().message().find("more than 100000 YAML nodes (after expanding aliases)") !=
        std::string::npos);
}

TEST_CASE("yaml reader errors carry line and column") {
  auto duplicate = parseYamlDocument("a: 1\na: 2\n");
  REQUIRE_FALSE(duplicate.ok());
  CHECK(duplicate.status().message() == "line 2, column 1: duplicate key \"a\"");

  auto syntax = parseYamlDocument("a: [1, 2\n");
  REQUIRE_FALSE(syntax.ok());
  CHECK(syntax.status().code() == StatusCode::InvalidArgument);
  CHECK(syntax.status().message().rfind("YAML line ", 0) == 0);

  auto two = parseYamlDocument("a: 1\n---\nb: 2\n");
  REQUIRE_FALSE(two.ok());
  CHECK(two.status().message().find("more than one YAML document") != std::string::npos);

  auto complex_key = parseYamlDocument("? [a]\n: 1\n");
  REQUIRE_FALSE(complex_key.ok());
  CHECK(complex_key.status().message().find("a mapping key must be a scalar") != std::string::npos);

  auto unknown_alias = parseYamlDocument("a: *nope\n");
  REQUIRE_FALSE(unknown_alias.ok());
}

TEST_CASE("yaml reader bounds depth and size") {
  auto deep = parseYamlDocument(std::string(100, '[') + std::string(100, ']'));
  REQUIRE_FALSE(deep.ok());
  CHECK(deep.status().code() == StatusCode::ResourceExhausted);
  CHECK(deep.status().message() == "line 1, column 65: YAML nested deeper than 64 levels");

  YamlLimits small;
  small.max_bytes = 10;
  auto big = parseYamlDocument("a: 12345678901", small);
  REQUIRE_FALSE(big.ok());
  CHECK(big.status().message() == "YAML is 14 bytes, the limit is 10");

  auto nul = parseYamlDocument(std::string("a: 1\0", 5));
  REQUIRE_FALSE(nul.ok());
  CHECK(nul.status().message() == "YAML contains a NUL byte");
}

TEST_CASE("yaml reader refuses text that is not UTF-8 and keeps what is") {
  // A lone lead byte in a value (found by the config fuzz target: it broke describeConfig's
  // round trip), an overlong '/', a surrogate.
  for (const std::string& text : {std::string("state_dir: \"/s\xdcu0041\"\n"),
                                  std::string("a: \xc0\xaf\n"), std::string("a: \xed\xa0\x80\n")}) {
    auto parsed = parseYamlDocument(text);
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.status().code() == StatusCode::InvalidArgument);
    CHECK(parsed.status().message().rfind("YAML is not valid UTF-8 (byte ", 0) == 0);
  }
  auto bad = parseYamlDocument("a: \"x\xdc\"");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message() == "YAML is not valid UTF-8 (byte 5)");
  // Well-formed multi-byte text, and YAML's own escapes, still read.
  auto good = parseYamlDocument("a: \"K\xc3\xb6ln \\xdc\"\n");
  REQUIRE(good.ok());
  CHECK(good->entries.at(0).value.scalar == "K\xc3\xb6ln \xc3\x9c");
}

TEST_CASE("yaml reader returns a null node for an empty document") {
  auto root = parseYamlDocument("# only a comment\n");
  REQUIRE(root.ok());
  CHECK(root->kind == YamlNode::Kind::Null);
}

}  // namespace
}  // namespace skr::config

namespace skr::config {
namespace {

TEST_CASE("yaml reader handles a map with tens of thousands of keys") {
  std::string yaml;
  for (int i = 0; i < 24000; ++i) yaml += "k" + std::to_string(i) + ": 1\n";
  auto root = parseYamlDocument(yaml);
  REQUIRE(root.ok());
  CHECK(root->entries.size() == 24000);
  CHECK(root->node_count == 24001);
  CHECK(root->entries[23999].key == "k23999");
}

}  // namespace
}  // namespace skr::config
