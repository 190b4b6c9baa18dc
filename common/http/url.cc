#include "common/http/url.h"

namespace skr::http {

std::string_view urlAuthority(std::string_view url) {
  const std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return {};
  const std::string_view rest = url.substr(scheme_end + 3);
  return rest.substr(0, rest.find_first_of("/?#"));
}

std::string_view authorityHost(std::string_view authority) {
  if (!authority.empty() && authority.front() == '[') {
    // Up to the closing bracket; a malformed authority ("[::1", "[a[b]") ends the host at the
    // first bracket after the opening one, so a host never holds one.
    const std::size_t end = authority.find_first_of("[]", 1);
    return authority.substr(1, end == std::string_view::npos ? authority.npos : end - 1);
  }
  const std::size_t colon = authority.rfind(':');
  if (colon != std::string_view::npos && authority.find(':') == colon) {
    return authority.substr(0, colon);
  }
  return authority;
}

}  // namespace skr::http
