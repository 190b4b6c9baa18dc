#include "common/jose/jose_util.h"

#include <cstdio>
#include <ctime>

namespace skr::jose::internal {

std::string printable(std::string_view untrusted, std::size_t max) {
  std::string out;
  const std::size_t n = untrusted.size() < max ? untrusted.size() : max;
  out.reserve(n + 3);
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(untrusted[i]);
    out.push_back(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?');
  }
  if (untrusted.size() > max) out += "...";
  return out;
}

std::string formatTime(std::chrono::system_clock::time_point t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

}  // namespace skr::jose::internal
