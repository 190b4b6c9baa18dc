#include "common/http/http_transport.h"

#include <strings.h>

namespace skr::http {

std::string HttpResponse::header(std::string_view name) const {
  for (const Header& h : headers) {
    if (h.name.size() == name.size() && strncasecmp(h.name.data(), name.data(), name.size()) == 0) {
      return h.value;
    }
  }
  return {};
}

}  // namespace skr::http
