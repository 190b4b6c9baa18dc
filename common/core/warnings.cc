#include "common/core/warnings.h"

#include <atomic>

namespace skr::core {
namespace {
constinit std::atomic<WarningSink> g_sink{nullptr};
}  // namespace

WarningSink setWarningSink(WarningSink sink) {
  return g_sink.exchange(sink);
}

void warn(std::string_view event, std::string_view reason, WarningNumber number) {
  if (const WarningSink sink = g_sink.load(); sink != nullptr) sink(event, reason, number);
}

}  // namespace skr::core
