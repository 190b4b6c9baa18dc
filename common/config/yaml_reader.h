// The yaml-cpp adapter of the configuration module: parses one YAML document into a small owned
// tree (YamlNode) with bounds, so the schema code never sees yaml-cpp or its exceptions.
// Bounds: input size, nesting depth and node count *after* alias expansion (a "billion laughs"
// alias bomb is refused when its expansion would exceed the node budget, before any copy is made).
// Mapping keys must be scalars and unique; merge keys (`<<`) are ordinary keys (the schema rejects
// them as unknown). Thread-safe: no shared state.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/status.h"

namespace skr::config {

struct YamlEntry;

struct YamlNode {
  enum class Kind { Null, Scalar, Sequence, Map };
  Kind kind = Kind::Null;
  std::string scalar;  // Kind::Scalar
  bool plain = false;  // an unquoted, untagged scalar (the only kind read as a number or boolean)
  std::vector<YamlNode> items;     // Kind::Sequence
  std::vector<YamlEntry> entries;  // Kind::Map, document order, unique keys
  int line = 0;                    // 1-based line of the node's start
  std::size_t node_count = 1;      // this node and all descendants
};

struct YamlEntry {
  std::string key;
  YamlNode value;
};

// "null", "scalar", "sequence", "map".
std::string_view yamlKindName(YamlNode::Kind kind);

struct YamlLimits {
  std::size_t max_bytes = 256 * 1024;
  std::size_t max_nodes = 100000;
  std::size_t max_depth = 64;
};

// Parses `text` (exactly one document; empty text is a Null node). InvalidArgument with
// "line L, column C" for syntax errors, duplicate keys, non-scalar keys, more than one document,
// unknown aliases; ResourceExhausted when a limit is exceeded. Never throws.
StatusOr<YamlNode> parseYamlDocument(std::string_view text, const YamlLimits& limits = {});

}  // namespace skr::config
