// Whole-string regular expressions over Poco::RegularExpression (PCRE): fault rules' path_regex
// and the emulator's input validation. (std::regex trips GCC 12's -Wmaybe-uninitialized in
// sanitizer builds.) Immutable after compile(); matches() is thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/core/status.h"

namespace Poco {
class RegularExpression;
}

namespace skr::emulator {

class Pattern {
 public:
  // InvalidArgument naming the pattern and PCRE's complaint.
  static StatusOr<Pattern> compile(std::string_view pattern);
  // For patterns written in the source: a bad one is a programming error (aborts).
  static Pattern literal(std::string_view pattern);

  // True when the whole of `text` matches.
  bool matches(const std::string& text) const;

 private:
  explicit Pattern(std::shared_ptr<const Poco::RegularExpression> re) : re_(std::move(re)) {}
  std::shared_ptr<const Poco::RegularExpression> re_;
};

}  // namespace skr::emulator
