#include "common/azure/akv_error.h"

#include "common/encoding/json_writer.h"

namespace skr::azure {

std::string akvErrorBody(std::string_view code, std::string_view message,
                         std::string_view inner_code) {
  json::Writer body;
  body.beginObject().key("error").beginObject().member("code", code);
  if (!inner_code.empty())
    body.key("innererror").beginObject().member("code", inner_code).endObject();
  body.member("message", message).endObject().endObject();
  return body.take();
}

}  // namespace skr::azure
