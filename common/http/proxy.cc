#include "common/http/proxy.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace skr::http {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string envFirst(const char* a, const char* b) {
  for (const char* name : {a, b}) {
    const char* value = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): read at start-up
    if (value != nullptr && *value != '\0') return value;
  }
  return {};
}

// Decodes %XX in proxy credentials; false on a malformed escape.
bool percentDecode(std::string_view in, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    const int hi = hex(in[i + 1]);
    const int lo = hex(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

// Splits "host[:port]" / "[v6][:port]" / bare "v6"; port 0 when absent. False when malformed.
bool splitHostPort(std::string_view text, std::string& host, uint32_t& port) {
  port = 0;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos) return false;
    host = std::string(text.substr(1, close - 1));
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      port_text = rest.substr(1);
      if (port_text.empty()) return false;
    }
  } else if (std::count(text.begin(), text.end(), ':') > 1) {
    host = std::string(text);  // a bare IPv6 literal
  } else {
    const std::size_t colon = text.find(':');
    host = std::string(text.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = text.substr(colon + 1);
      if (port_text.empty()) return false;
    }
  }
  if (!port_text.empty()) {
    if (port_text.size() > 5) return false;
    for (char c : port_text) {
      if (c < '0' || c > '9') return false;
      port = port * 10 + static_cast<uint32_t>(c - '0');
    }
    if (port == 0 || port > 65535) return false;
  }
  return !host.empty();
}

bool hostMatches(const std::string& entry_host, const std::string& host) {
  if (entry_host == host) return true;
  std::string suffix = entry_host;
  if (suffix.front() != '.') suffix.insert(suffix.begin(), '.');
  return host.size() > suffix.size() &&
         host.compare(host.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

ProxySettings ProxySettings::fromEnvironment() {
  ProxySettings settings;
  settings.https_proxy = envFirst("https_proxy", "HTTPS_PROXY");
  settings.http_proxy = envFirst("http_proxy", "HTTP_PROXY");
  settings.no_proxy = envFirst("no_proxy", "NO_PROXY");
  return settings;
}

StatusOr<ProxyEndpoint> parseProxyUrl(std::string_view url) {
  constexpr std::size_t kMaxUrl = 2048;
  if (url.size() > kMaxUrl) {
    return invalidArgumentError("proxy URL is " + std::to_string(url.size()) + " bytes, limit " +
                                std::to_string(kMaxUrl));
  }
  std::string_view rest = url;
  const std::size_t scheme_end = rest.find("://");
  if (scheme_end != std::string_view::npos) {
    const std::string scheme = lower(rest.substr(0, scheme_end));
    if (scheme != "http") {
      return invalidArgumentError("proxy URL scheme '" + scheme +
                                  "' is not supported (only http:// proxies)");
    }
    rest = rest.substr(scheme_end + 3);
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find_first_of("/?#") != std::string_view::npos) {
    return invalidArgumentError("proxy URL must be http://[user:password@]host[:port]");
  }
  ProxyEndpoint endpoint;
  const std::size_t at = rest.rfind('@');
  if (at != std::string_view::npos) {
    const std::string_view userinfo = rest.substr(0, at);
    const std::size_t colon = userinfo.find(':');
    if (!percentDecode(userinfo.substr(0, colon), endpoint.username) ||
        (colon != std::string_view::npos &&
         !percentDecode(userinfo.substr(colon + 1), endpoint.password))) {
      return invalidArgumentError("proxy URL credentials are not valid percent-encoding");
    }
    rest = rest.substr(at + 1);
  }
  uint32_t port = 0;
  if (!splitHostPort(rest, endpoint.host, port)) {
    return invalidArgumentError("proxy URL must be http://[user:password@]host[:port]");
  }
  for (char c : endpoint.host) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' ||
          c == '_')) {
      return invalidArgumentError("proxy host '" + endpoint.host + "' has invalid characters");
    }
  }
  endpoint.port = port == 0 ? 80 : static_cast<uint16_t>(port);
  return endpoint;
}

bool bypassesProxy(std::string_view no_proxy, std::string_view host_in, uint16_t port) {
  std::string host = lower(host_in);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host == kImdsHost) return true;
  std::size_t pos = 0;
  while (pos <= no_proxy.size()) {
    std::size_t end = no_proxy.find_first_of(", ", pos);
    if (end == std::string_view::npos) end = no_proxy.size();
    const std::string entry = lower(no_proxy.substr(pos, end - pos));
    pos = end + 1;
    if (entry.empty()) continue;
    if (entry == "*") return true;
    std::string entry_host;
    uint32_t entry_port = 0;
    if (!splitHostPort(entry, entry_host, entry_port)) continue;
    if (entry_port != 0 && entry_port != port) continue;
    if (hostMatches(entry_host, host)) return true;
  }
  return false;
}

StatusOr<std::optional<ProxyEndpoint>> proxyFor(const ProxySettings& settings,
                                                std::string_view scheme, std::string_view host,
                                                uint16_t port) {
  const bool https = lower(scheme) == "https";
  const std::string& url = https ? settings.https_proxy : settings.http_proxy;
  if (url.empty() || bypassesProxy(settings.no_proxy, host, port)) {
    return std::optional<ProxyEndpoint>();
  }
  StatusOr<ProxyEndpoint> endpoint = parseProxyUrl(url);
  if (!endpoint.ok()) {
    return endpoint.status().withContext(https ? "HTTPS_PROXY" : "HTTP_PROXY");
  }
  return std::optional<ProxyEndpoint>(std::move(endpoint).value());
}

}  // namespace skr::http
