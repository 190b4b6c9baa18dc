// Proxy selection for outgoing HTTP(S): the conventional environment variables (HTTPS_PROXY,
// HTTP_PROXY, NO_PROXY and their lower-case forms) turned into a per-destination decision.
// Pure functions except ProxySettings::fromEnvironment(); no Poco types, so they are unit-tested.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/core/status.h"

namespace skr::http {

// IMDS is link-local and "isn't intended to be used behind a proxy" (spec/azure-wire.md §4.1):
// requests to it always go direct, whatever NO_PROXY says.
inline constexpr const char* kImdsHost = "169.254.169.254";

struct ProxySettings {
  std::string http_proxy;   // for http:// URLs; "" = direct
  std::string https_proxy;  // for https:// URLs (tunnelled with CONNECT); "" = direct
  std::string no_proxy;     // comma-separated exclusions, see bypassesProxy()

  // Lower-case variables win over upper-case ones (curl's order): https_proxy, HTTPS_PROXY,
  // http_proxy, HTTP_PROXY, no_proxy, NO_PROXY.
  static ProxySettings fromEnvironment();
};

// A parsed proxy URL: "http://[user:password@]host[:port][/]" or "host:port". Credentials are
// secrets of the deployment: never logged.
struct ProxyEndpoint {
  std::string host;
  uint16_t port = 80;
  std::string username;
  std::string password;
};

// Parses one proxy URL. Only http:// proxies are supported (an https:// proxy URL, i.e. TLS to
// the proxy itself, is InvalidArgument, as is anything with a path, query or bad port).
StatusOr<ProxyEndpoint> parseProxyUrl(std::string_view url);

// Whether `host`:`port` is excluded by a NO_PROXY list. Entries (comma or space separated,
// case-insensitive): "*" (everything), a host name matching itself and its subdomains
// ("example.com" and ".example.com" both match "a.example.com"), an IP literal (IPv6 with or
// without brackets), each optionally with ":port" restricting the match to that port. kImdsHost
// always bypasses.
bool bypassesProxy(std::string_view no_proxy, std::string_view host, uint16_t port);

// The proxy to use for a request to scheme://host:port, or nullopt for a direct connection.
// Errors: a configured proxy URL that does not parse (InvalidArgument naming the variable).
StatusOr<std::optional<ProxyEndpoint>> proxyFor(const ProxySettings& settings,
                                                std::string_view scheme, std::string_view host,
                                                uint16_t port);

}  // namespace skr::http
