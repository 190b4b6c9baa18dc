#include "common/config/yaml_reader.h"

#include <yaml-cpp/anchor.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <unordered_set>

#include "common/encoding/printable.h"
#include "common/encoding/utf8.h"

namespace skr::config {
namespace {

std::string at(const YAML::Mark& mark) {
  return "line " + std::to_string(mark.line + 1) + ", column " + std::to_string(mark.column + 1);
}

// Builds the tree from parser events. Errors are recorded (the first one wins) and later events
// are ignored; yaml-cpp's own exceptions are caught by the caller.
class TreeBuilder : public YAML::EventHandler {
 public:
  explicit TreeBuilder(const YamlLimits& limits) : limits_(limits) {}

  const Status& status() const { return status_; }
  bool hasDocument() const { return has_root_; }
  YamlNode takeRoot() { return std::move(root_); }

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    YamlNode node;
    node.line = mark.line + 1;
    add(std::move(node), anchor, mark);
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    if (!status_.ok()) return;
    auto it = anchors_.find(anchor);
    if (it == anchors_.end()) {
      fail(invalidArgumentError(at(mark) + ": alias of an unknown or unfinished anchor"));
      return;
    }
    // Check the budget before copying: the copy is what an alias bomb multiplies.
    if (!reserve(it->second.node_count, mark)) return;
    YamlNode copy = it->second;
    nodes_ -= copy.node_count;  // add() counts it again
    add(std::move(copy), YAML::NullAnchor, mark);
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    YamlNode node;
    node.kind = YamlNode::Kind::Scalar;
    node.scalar = value;
    node.plain = (tag == "?");
    node.line = mark.line + 1;
    add(std::move(node), anchor, mark);
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open(YamlNode::Kind::Sequence, anchor, mark);
  }
  void OnSequenceEnd() override { close(); }

  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    open(YamlNode::Kind::Map, anchor, mark);
  }
  void OnMapEnd() override { close(); }

 private:
  struct Frame {
    YamlNode node;
    YAML::anchor_t anchor = YAML::NullAnchor;
    YAML::Mark mark;
    bool have_key = false;  // maps: the next value belongs to `key`
    std::string key;
    std::unordered_set<std::string> keys_seen;  // maps: duplicate keys in O(1)
  };

  void fail(Status status) {
    if (status_.ok()) status_ = std::move(status);
  }

  bool reserve(std::size_t count, const YAML::Mark& mark) {
    if (count > limits_.max_nodes || nodes_ > limits_.max_nodes - count) {
      fail(resourceExhaustedError(at(mark) + ": more than " + std::to_string(limits_.max_nodes) +
                                  " YAML nodes (after expanding aliases)"));
      return false;
    }
    nodes_ += count;
    return true;
  }

  void open(YamlNode::Kind kind, YAML::anchor_t anchor, const YAML::Mark& mark) {
    if (!status_.ok()) {
      ++ignored_depth_;
      return;
    }
    if (stack_.size() >= limits_.max_depth) {
      fail(resourceExhaustedError(at(mark) + ": YAML nested deeper than " +
                                  std::to_string(limits_.max_depth) + " levels"));
      ++ignored_depth_;
      return;
    }
    if (!stack_.empty() && stack_.back().node.kind == YamlNode::Kind::Map &&
        !stack_.back().have_key) {
      fail(invalidArgumentError(at(mark) + ": a mapping key must be a scalar"));
      ++ignored_depth_;
      return;
    }
    Frame frame;
    frame.node.kind = kind;
    frame.node.line = mark.line + 1;
    frame.anchor = anchor;
    frame.mark = mark;
    stack_.push_back(std::move(frame));
  }

  void close() {
    if (ignored_depth_ > 0) {
      --ignored_depth_;
      return;
    }
    if (stack_.empty()) return;
    Frame frame = std::move(stack_.back());
    stack_.pop_back();
    if (frame.node.kind == YamlNode::Kind::Map && frame.have_key) {
      fail(invalidArgumentError(at(frame.mark) + ": mapping ends after a key"));
      return;
    }
    std::size_t children = 0;
    for (const auto& item : frame.node.items) children += item.node_count;
    for (const auto& entry : frame.node.entries) children += entry.value.node_count;
    frame.node.node_count = 1 + children;
    nodes_ -= children;  // they were counted when added; add() counts the whole subtree again
    add(std::move(frame.node), frame.anchor, frame.mark);
  }

  void add(YamlNode node, YAML::anchor_t anchor, const YAML::Mark& mark) {
    if (!status_.ok()) return;
    if (!reserve(node.node_count, mark)) return;
    if (anchor != YAML::NullAnchor) {
      // Anchors are kept as copies; an anchor's size already counted once above.
      anchors_[anchor] = node;
    }
    if (stack_.empty()) {
      if (has_root_) {
        fail(invalidArgumentError(at(mark) + ": more than one YAML document"));
        return;
      }
      root_ = std::move(node);
      has_root_ = true;
      return;
    }
    Frame& parent = stack_.back();
    if (parent.node.kind == YamlNode::Kind::Sequence) {
      parent.node.items.push_back(std::move(node));
      return;
    }
    if (!parent.have_key) {
      if (node.kind == YamlNode::Kind::Null) {
        fail(invalidArgumentError(at(mark) + ": a mapping key is empty"));
        return;
      }
      if (node.kind != YamlNode::Kind::Scalar) {
        fail(invalidArgumentError(at(mark) + ": a mapping key must be a scalar"));
        return;
      }
      if (!parent.keys_seen.insert(node.scalar).second) {
        fail(invalidArgumentError(at(mark) + ": duplicate key \"" +
                                  encoding::printable(node.scalar, 64) + "\""));
        return;
      }
      parent.key = std::move(node.scalar);
      parent.have_key = true;
      --nodes_;  // keys are not nodes of the tree
      return;
    }
    parent.node.entries.push_back(YamlEntry{std::move(parent.key), std::move(node)});
    parent.key.clear();
    parent.have_key = false;
  }

  const YamlLimits& limits_;
  Status status_;
  std::vector<Frame> stack_;
  std::map<YAML::anchor_t, YamlNode> anchors_;
  std::size_t nodes_ = 0;
  std::size_t ignored_depth_ = 0;
  YamlNode root_;
  bool has_root_ = false;
};

}  // namespace

std::string_view yamlKindName(YamlNode::Kind kind) {
  switch (kind) {
    case YamlNode::Kind::Null: return "null";
    case YamlNode::Kind::Scalar: return "scalar";
    case YamlNode::Kind::Sequence: return "sequence";
    case YamlNode::Kind::Map: return "map";
  }
  return "null";
}

StatusOr<YamlNode> parseYamlDocument(std::string_view text, const YamlLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return resourceExhaustedError("YAML is " + std::to_string(text.size()) +
                                  " bytes, the limit is " + std::to_string(limits.max_bytes));
  }
  if (text.find('\0') != std::string_view::npos) {
    return invalidArgumentError("YAML contains a NUL byte");
  }
  // YAML text is Unicode (YAML 1.2 §5.2) and yaml-cpp does not check it: a stray byte would reach
  // names, paths and URLs and not survive being written back as JSON (describeConfig).
  if (const std::optional<std::size_t> bad = json::firstNonUtf8Byte(text)) {
    return invalidArgumentError("YAML is not valid UTF-8 (byte " + std::to_string(*bad) + ")");
  }
  try {
    std::istringstream in{std::string(text)};
    YAML::Parser parser(in);
    TreeBuilder builder(limits);
    while (parser.HandleNextDocument(builder)) {
      if (!builder.status().ok()) return builder.status();
    }
    if (!builder.status().ok()) return builder.status();
    if (!builder.hasDocument()) return YamlNode{};
    return builder.takeRoot();
  } catch (const YAML::Exception& e) {
    return invalidArgumentError("YAML " + at(e.mark) + ": " + e.msg);
  } catch (const std::bad_alloc&) {
    return resourceExhaustedError("YAML: out of memory");
  } catch (const std::exception& e) {
    return invalidArgumentError(std::string("YAML: ") + e.what());
  }
}

}  // namespace skr::config
