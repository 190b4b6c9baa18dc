#include "common/log/redaction.h"

#include <algorithm>
#include <cctype>

namespace skr::log {
namespace {

constexpr std::size_t kMaxInspectedBytes = 16 * 1024;

bool isTokenChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_' || c == '.' ||
         c == '=';
}

}  // namespace

bool looksLikeJwt(std::string_view run) {
  if (run.size() >= 16 && run.substr(0, 3) == "eyJ" && run.find('.') != std::string_view::npos) {
    return true;
  }
  int long_parts = 0;
  std::size_t start = 0;
  while (start <= run.size()) {
    const std::size_t dot = std::min(run.find('.', start), run.size());
    if (dot - start >= 16) ++long_parts;
    start = dot + 1;
  }
  return long_parts >= 2;
}

std::string redactJwts(std::string_view text) {
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    if (!isTokenChar(text[i])) {
      out += text[i];
      ++i;
      continue;
    }
    std::size_t end = i;
    while (end < text.size() && isTokenChar(text[end])) ++end;
    const std::string_view run = text.substr(i, end - i);
    out += looksLikeJwt(run) ? std::string_view("<redacted token>") : run;
    i = end;
  }
  return out;
}

std::string quoteUntrusted(std::string_view text, std::size_t max_chars,
                           const std::vector<std::string>& secrets) {
  std::string work(text.substr(0, kMaxInspectedBytes));
  for (const std::string& secret : secrets) {
    if (secret.empty()) continue;
    constexpr std::string_view kMark = "<redacted>";
    for (std::size_t at = work.find(secret); at != std::string::npos;
         at = work.find(secret, at + kMark.size())) {
      work.replace(at, secret.size(), kMark);
    }
  }
  const std::string redacted = redactJwts(work);
  std::string out;
  for (std::size_t i = 0; i < redacted.size() && i < max_chars; ++i) {
    const auto c = static_cast<unsigned char>(redacted[i]);
    out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : ' ';
  }
  if (redacted.size() > max_chars || text.size() > kMaxInspectedBytes) out += "...";
  return out;
}

}  // namespace skr::log
