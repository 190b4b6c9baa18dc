#include "common/jose/jose_util.h"

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

}  // namespace skr::jose::internal
