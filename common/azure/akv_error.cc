#include "common/azure/akv_error.h"

#include "common/encoding/json_string.h"

namespace skr::azure {

std::string akvErrorBody(std::string_view code, std::string_view message,
                         std::string_view inner_code) {
  std::string body = "{\"error\":{\"code\":";
  json::appendQuoted(body, code);
  if (!inner_code.empty()) {
    body += ",\"innererror\":{\"code\":";
    json::appendQuoted(body, inner_code);
    body += '}';
  }
  body += ",\"message\":";
  json::appendQuoted(body, message);
  body += "}}";
  return body;
}

}  // namespace skr::azure
