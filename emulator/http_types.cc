#include "emulator/http_types.h"

#include <Poco/JSON/Object.h>

#include <algorithm>
#include <cctype>

#include "common/azure/akv_error.h"

namespace skr::emulator {
namespace {

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

std::string Headers::get(std::string_view name) const {
  for (const auto& [k, v] : entries_) {
    if (equalsIgnoreCase(k, name)) return v;
  }
  return {};
}

bool Headers::has(std::string_view name) const {
  return std::any_of(entries_.begin(), entries_.end(),
                     [&](const auto& e) { return equalsIgnoreCase(e.first, name); });
}

void Headers::set(std::string name, std::string value) {
  entries_.erase(std::remove_if(entries_.begin(), entries_.end(),
                                [&](const auto& e) { return equalsIgnoreCase(e.first, name); }),
                 entries_.end());
  add(std::move(name), std::move(value));
}

std::string Request::queryParam(std::string_view name) const {
  auto it = query.find(std::string(name));
  return it == query.end() ? std::string() : it->second;
}

bool Request::hasQueryParam(std::string_view name) const {
  return query.count(std::string(name)) > 0;
}

Response jsonResponse(int status, const json::ObjectPtr& object) {
  Response r;
  r.status = status;
  StatusOr<std::string> text = json::serializeCanonical(object);
  if (!text.ok()) {
    r.status = 500;
    r.body =
        R"({"error":{"code":"InternalError","message":"skr-emulator: response serialization failed"}})";
    return r;
  }
  r.body = std::move(text).value();
  return r;
}

Response cloudError(int status, std::string_view code, std::string_view message,
                    std::string_view inner_code) {
  Response r;
  r.status = status;
  r.body = azure::akvErrorBody(code, message, inner_code);
  return r;
}

}  // namespace skr::emulator
