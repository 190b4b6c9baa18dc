#include "emulator/pattern.h"

#include <Poco/Exception.h>
#include <Poco/RegularExpression.h>

#include <cstdlib>

#include "common/log/logger.h"

namespace skr::emulator {

StatusOr<Pattern> Pattern::compile(std::string_view pattern) {
  try {
    // Anchored at both ends (\z: the very end, not before a final newline).
    auto re =
        std::make_shared<const Poco::RegularExpression>("^(?:" + std::string(pattern) + ")\\z");
    return Pattern(std::move(re));
  } catch (const Poco::Exception& e) {
    return invalidArgumentError("regular expression '" + std::string(pattern) +
                                "': " + e.displayText());
  }
}

Pattern Pattern::literal(std::string_view pattern) {
  StatusOr<Pattern> p = compile(pattern);
  if (!p.ok()) {
    log::error("emulator.pattern.invalid", {{"error", p.status().toString()}});
    std::abort();
  }
  return std::move(p).value();
}

bool Pattern::matches(const std::string& text) const {
  try {
    Poco::RegularExpression::Match m;
    return re_->match(text, 0, m) > 0;
  } catch (const Poco::Exception&) {
    return false;  // e.g. PCRE's match limit: treat as no match
  }
}

}  // namespace skr::emulator
