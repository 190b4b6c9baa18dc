#include "common/encoding/printable.h"

namespace skr::encoding {
namespace {

std::string shown(std::string_view untrusted, std::size_t max_bytes, int also_hidden) {
  const std::size_t n = untrusted.size() < max_bytes ? untrusted.size() : max_bytes;
  std::string out;
  out.reserve(n + 3);
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(untrusted[i]);
    const bool visible = c >= 0x20 && c < 0x7f && c != also_hidden;
    out.push_back(visible ? static_cast<char>(c) : '?');
  }
  if (untrusted.size() > max_bytes) out += "...";
  return out;
}

}  // namespace

std::string printable(std::string_view untrusted, std::size_t max_bytes) {
  return shown(untrusted, max_bytes, -1);
}

std::string quoted(std::string_view untrusted, std::size_t max_bytes, char quote_mark) {
  return quote_mark + shown(untrusted, max_bytes, static_cast<unsigned char>(quote_mark)) +
         quote_mark;
}

}  // namespace skr::encoding
