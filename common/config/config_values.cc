#include "common/config/config_values.h"

#include <grp.h>
#include <pwd.h>

#include <cctype>
#include <vector>

#include "common/encoding/printable.h"

namespace skr::config {
namespace {

constexpr int64_t kMaxDurationMs = int64_t{30} * 24 * 3600 * 1000;

bool allDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool validHostChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.' || c == '_';
}

}  // namespace

std::string quotedForMessage(std::string_view text) {
  return encoding::quoted(text, 80, '"');
}

StatusOr<int64_t> parseInteger(std::string_view label, std::string_view text) {
  if (!allDigits(text) || text.size() > 18) {
    return invalidArgumentError(std::string(label) + ": " + quotedForMessage(text) +
                                " is not a non-negative integer" +
                                (text.size() > 18 && allDigits(text) ? " (too large)" : ""));
  }
  int64_t value = 0;
  for (char c : text) value = value * 10 + (c - '0');
  return value;
}

StatusOr<std::chrono::milliseconds> parseDuration(std::string_view label, std::string_view text,
                                                  std::chrono::milliseconds bare_unit) {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  const std::string_view number = text.substr(0, digits);
  const std::string_view unit = text.substr(digits);
  int64_t scale = 0;
  if (unit.empty()) {
    scale = bare_unit.count();
  } else if (unit == "ms") {
    scale = 1;
  } else if (unit == "s") {
    scale = 1000;
  } else if (unit == "m") {
    scale = 60 * 1000;
  } else if (unit == "h") {
    scale = 3600 * 1000;
  } else if (unit == "d") {
    scale = 24 * 3600 * 1000;
  }
  if (number.empty() || scale == 0 || number.size() > 12) {
    return invalidArgumentError(std::string(label) + ": " + quotedForMessage(text) +
                                " is not a duration, expected e.g. 500ms, 30s, 5m, 1h or an "
                                "integer (" +
                                (bare_unit.count() == 1 ? "milliseconds" : "seconds") + ")");
  }
  SKR_ASSIGN_OR_RETURN(int64_t value, parseInteger(label, number));
  if (value > kMaxDurationMs / scale) {
    return invalidArgumentError(std::string(label) + ": " + quotedForMessage(text) +
                                " is longer than 30 days");
  }
  return std::chrono::milliseconds(value * scale);
}

std::string formatDuration(std::chrono::milliseconds value) {
  const int64_t ms = value.count();
  if (ms != 0 && ms % (3600 * 1000) == 0) return std::to_string(ms / (3600 * 1000)) + "h";
  if (ms != 0 && ms % (60 * 1000) == 0) return std::to_string(ms / (60 * 1000)) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

bool isLoopbackHost(std::string_view host) {
  const std::string h = lower(host);
  if (h == "localhost" || h == "::1" || h == "[::1]") return true;
  if (h.rfind("127.", 0) != 0) return false;
  // 127.a.b.c with decimal octets.
  int parts = 0;
  std::size_t start = 0;
  while (start <= h.size()) {
    std::size_t dot = h.find('.', start);
    if (dot == std::string::npos) dot = h.size();
    const std::string_view octet = std::string_view(h).substr(start, dot - start);
    if (!allDigits(octet) || octet.size() > 3 || std::stoi(std::string(octet)) > 255) return false;
    ++parts;
    start = dot + 1;
  }
  return parts == 4;
}

StatusOr<std::string> checkUrl(std::string_view label, std::string_view url, UrlPolicy policy) {
  const std::string where = std::string(label) + ": " + quotedForMessage(url);
  const std::size_t sep = url.find("://");
  if (sep == std::string_view::npos) {
    return invalidArgumentError(where + " is not a URL, expected https://host[:port]");
  }
  const std::string scheme = lower(url.substr(0, sep));
  std::string_view rest = url.substr(sep + 3);
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return invalidArgumentError(where + ": a query or fragment is not allowed");
  }
  const std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  if (!path.empty() && !policy.allow_path) {
    return invalidArgumentError(where + ": a path is not allowed, expected " + scheme +
                                "://host[:port]");
  }
  for (char c : path) {
    if (c <= 0x20 || c >= 0x7f) return invalidArgumentError(where + ": bad character in the path");
  }
  if (authority.find('@') != std::string_view::npos) {
    return invalidArgumentError(where + ": user information is not allowed");
  }
  std::string_view host = authority;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return invalidArgumentError(where + ": bad IPv6 host");
    host = authority.substr(0, close + 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return invalidArgumentError(where + ": bad IPv6 host");
      port = after.substr(1);
      if (port.empty()) return invalidArgumentError(where + ": empty port");
    }
    for (char c : host.substr(1, host.size() - 2)) {
      if (std::isxdigit(static_cast<unsigned char>(c)) == 0 && c != ':' && c != '.') {
        return invalidArgumentError(where + ": bad IPv6 host");
      }
    }
  } else {
    const std::size_t colon = authority.rfind(':');
    if (colon != std::string_view::npos) {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
      if (port.empty()) return invalidArgumentError(where + ": empty port");
    }
    for (char c : host) {
      if (!validHostChar(c)) return invalidArgumentError(where + ": bad character in the host");
    }
  }
  if (host.empty() || host == "[]") return invalidArgumentError(where + ": no host");
  if (!port.empty()) {
    if (!allDigits(port) || port.size() > 5 || std::stoi(std::string(port)) < 1 ||
        std::stoi(std::string(port)) > 65535) {
      return invalidArgumentError(where + ": port must be 1..65535");
    }
  }
  if (scheme == "http") {
    if (!policy.allow_http && !isLoopbackHost(host)) {
      return invalidArgumentError(where + ": must use https (http only to a loopback host)");
    }
  } else if (scheme != "https") {
    return invalidArgumentError(where + ": scheme must be https");
  }
  return scheme + "://" + std::string(authority) + std::string(path);
}

StatusOr<std::string> expandVaultUrl(std::string_view label, std::string_view value,
                                     bool managed_hsm) {
  if (value.find("://") != std::string_view::npos) {
    return checkUrl(label, value, UrlPolicy{});
  }
  // A bare name: Key Vault names are 3..24 of [0-9a-zA-Z-]; Managed HSM names likewise.
  bool ok = value.size() >= 3 && value.size() <= 24;
  for (char c : value) {
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-');
  }
  if (!ok) {
    return invalidArgumentError(std::string(label) + ": " + quotedForMessage(value) +
                                " is neither https://host[:port] nor a vault name (3..24 of "
                                "[0-9a-zA-Z-])");
  }
  return "https://" + lower(value) + (managed_hsm ? ".managedhsm.azure.net" : ".vault.azure.net");
}

StatusOr<uint32_t> parseFileMode(std::string_view label, std::string_view text) {
  std::string_view digits = text;
  if (digits.size() > 2 && (digits.substr(0, 2) == "0o" || digits.substr(0, 2) == "0O")) {
    digits.remove_prefix(2);
  }
  bool ok = !digits.empty() && digits.size() <= 6;
  uint32_t mode = 0;
  for (char c : digits) {
    ok = ok && c >= '0' && c <= '7';
    if (ok) mode = mode * 8 + static_cast<uint32_t>(c - '0');
  }
  if (!ok) {
    return invalidArgumentError(std::string(label) + ": " + quotedForMessage(text) +
                                " is not an octal file mode, expected e.g. 0660");
  }
  if (mode > 0777) {
    return invalidArgumentError(std::string(label) + ": " + quotedForMessage(text) +
                                " is above 0777");
  }
  return mode;
}

StatusOr<gid_t> parseGroup(std::string_view label, std::string_view text) {
  if (allDigits(text)) {
    SKR_ASSIGN_OR_RETURN(int64_t id, parseInteger(label, text));
    if (id > 0x7fffffff) {
      return invalidArgumentError(std::string(label) + ": group id " + std::string(text) +
                                  " is out of range");
    }
    return static_cast<gid_t>(id);
  }
  const std::string name(text);
  std::vector<char> buffer(16384);
  struct group entry {};
  struct group* result = nullptr;
  const int rc = getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &result);
  if (rc != 0 || result == nullptr) {
    return invalidArgumentError(std::string(label) + ": group " + quotedForMessage(text) +
                                " is not a number and not a known group name");
  }
  return result->gr_gid;
}

StatusOr<uid_t> parseUser(std::string_view label, std::string_view text) {
  if (allDigits(text)) {
    SKR_ASSIGN_OR_RETURN(int64_t id, parseInteger(label, text));
    if (id > 0x7fffffff) {
      return invalidArgumentError(std::string(label) + ": user id " + std::string(text) +
                                  " is out of range");
    }
    return static_cast<uid_t>(id);
  }
  const std::string name(text);
  std::vector<char> buffer(16384);
  struct passwd entry {};
  struct passwd* result = nullptr;
  const int rc = getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &result);
  if (rc != 0 || result == nullptr) {
    return invalidArgumentError(std::string(label) + ": user " + quotedForMessage(text) +
                                " is not a number and not a known user name");
  }
  return result->pw_uid;
}

}  // namespace skr::config
