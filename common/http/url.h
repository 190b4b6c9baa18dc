// The one reader of URL authorities: which host a URL names, for messages, metrics labels, TLS
// host names and the token resource map. Validation of configured URLs is config::checkUrl's.
#pragma once

#include <string_view>

namespace skr::http {

// The authority ("host[:port]", an IPv6 host in brackets) of "scheme://authority[/path][?query]
// [#fragment]": the text after "://" up to the first '/', '?' or '#'. Empty when `url` has no
// "://". The view points into `url`.
std::string_view urlAuthority(std::string_view url);

// The host of an authority, without the port and IPv6 brackets: "[::1]:8443" -> "::1",
// "kv.vault.azure.net:443" -> "kv.vault.azure.net". An unbracketed IPv6 address ("::1", more than
// one ':') is returned whole. The view points into `authority`.
std::string_view authorityHost(std::string_view authority);

}  // namespace skr::http
