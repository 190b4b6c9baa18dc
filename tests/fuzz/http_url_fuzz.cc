// Fuzz target for the URL authority reader of common/http/url.h. Properties:
//  - urlAuthority returns a view inside its input that holds no '/', '?' or '#', and is empty
//    exactly when the input has no "://" or nothing follows it up to the first of those;
//  - it starts right after the first "://";
//  - authorityHost returns a view inside the authority, holding no '[' or ']' when the authority
//    is bracketed, and the whole authority when it has no ':' and no '['.
// A violated property traps, so libFuzzer (and the corpus replay) reports it as a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/http/url.h"

namespace {

void require(bool condition) {
  if (!condition) __builtin_trap();
}

bool inside(std::string_view part, std::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string_view url(reinterpret_cast<const char*>(data), size);
  const std::string_view authority = skr::http::urlAuthority(url);
  require(inside(authority, url));
  require(authority.find_first_of("/?#") == std::string_view::npos);
  const std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    require(authority.empty());
  } else if (!authority.empty()) {
    require(authority.data() == url.data() + scheme_end + 3);
  }

  const std::string_view host = skr::http::authorityHost(authority);
  require(inside(host, authority));
  if (!authority.empty() && authority.front() == '[') {
    require(host.find_first_of("[]") == std::string_view::npos);
  }
  if (authority.find_first_of(":[") == std::string_view::npos) require(host == authority);
  return 0;
}
