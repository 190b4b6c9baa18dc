#include "common/http/url.h"

#include <catch2/catch.hpp>

namespace skr::http {
namespace {

TEST_CASE("urlAuthority is the text between :// and the path, query or fragment") {
  CHECK(urlAuthority("https://kv.vault.azure.net") == "kv.vault.azure.net");
  CHECK(urlAuthority("https://kv.vault.azure.net/keys/k/1") == "kv.vault.azure.net");
  CHECK(urlAuthority("https://127.0.0.1:8443?x=1") == "127.0.0.1:8443");
  CHECK(urlAuthority("http://[::1]:8080#top") == "[::1]:8080");
  CHECK(urlAuthority("https://") == "");
}

TEST_CASE("urlAuthority is empty for text without a scheme") {
  CHECK(urlAuthority("kv.vault.azure.net/keys").empty());
  CHECK(urlAuthority("").empty());
  CHECK(urlAuthority("/var/lib/skr/vcek.pem").empty());
}

TEST_CASE("authorityHost drops the port and IPv6 brackets") {
  CHECK(authorityHost("kv.vault.azure.net") == "kv.vault.azure.net");
  CHECK(authorityHost("kv.vault.azure.net:443") == "kv.vault.azure.net");
  CHECK(authorityHost("[::1]:8443") == "::1");
  CHECK(authorityHost("[fe80::1]") == "fe80::1");
  CHECK(authorityHost("::1") == "::1");  // unbracketed IPv6: no port to drop
  CHECK(authorityHost("") == "");
  // Malformed brackets: the host never holds one (the http_url fuzz target found "[\0\n[:").
  CHECK(authorityHost("[::1") == "::1");
  CHECK(authorityHost("[a[b]:1") == "a");
  CHECK(authorityHost(std::string_view("[\0\n[:", 5)) == std::string_view("\0\n", 2));
}

}  // namespace
}  // namespace skr::http
