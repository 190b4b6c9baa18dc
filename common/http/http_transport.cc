#include "common/http/http_transport.h"

#include <openssl/crypto.h>
#include <strings.h>

namespace skr::http {

void wipeString(std::string& s) {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
}

void wipeRequest(HttpRequest& request) {
  for (Header& h : request.headers) wipeString(h.value);
  wipeString(request.body);
}

std::string hostOfUrl(std::string_view url) {
  const std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return "";
  std::string_view rest = url.substr(scheme_end + 3);
  const std::size_t end = rest.find_first_of("/?#");
  return std::string(end == std::string_view::npos ? rest : rest.substr(0, end));
}

std::string HttpResponse::header(std::string_view name) const {
  for (const Header& h : headers) {
    if (h.name.size() == name.size() && strncasecmp(h.name.data(), name.data(), name.size()) == 0) {
      return h.value;
    }
  }
  return {};
}

}  // namespace skr::http
