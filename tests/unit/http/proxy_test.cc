#include "common/http/proxy.h"

#include <catch2/catch.hpp>

namespace skr::http {
namespace {

TEST_CASE("proxy URL parses host, port and percent-encoded credentials") {
  StatusOr<ProxyEndpoint> p = parseProxyUrl("http://us%40er:p%3Ass@proxy.corp:3128/");
  REQUIRE(p.ok());
  CHECK(p->host == "proxy.corp");
  CHECK(p->port == 3128);
  CHECK(p->username == "us@er");
  CHECK(p->password == "p:ss");

  StatusOr<ProxyEndpoint> bare = parseProxyUrl("10.0.0.1:8080");
  REQUIRE(bare.ok());
  CHECK(bare->host == "10.0.0.1");
  CHECK(bare->port == 8080);
  CHECK(parseProxyUrl("http://proxy")->port == 80);
  CHECK(parseProxyUrl("http://[::1]:3128")->host == "::1");
}

TEST_CASE("proxy URL rejects https proxies, paths, bad ports and bad escapes") {
  CHECK(parseProxyUrl("https://proxy:3128").status().code() == StatusCode::InvalidArgument);
  CHECK(parseProxyUrl("socks5://proxy:1080").status().code() == StatusCode::InvalidArgument);
  CHECK(parseProxyUrl("http://proxy:3128/path").status().code() == StatusCode::InvalidArgument);
  CHECK(parseProxyUrl("http://proxy:0").status().code() == StatusCode::InvalidArgument);
  CHECK(parseProxyUrl("http://proxy:65536").status().code() == StatusCode::InvalidArgument);
  CHECK(parseProxyUrl("http://proxy:").status().code() == StatusCode::InvalidArgument);
  CHECK(parseProxyUrl("http://u:%zz@proxy").status().code() == StatusCode::InvalidArgument);
  CHECK(parseProxyUrl("http://u:%4@proxy").status().code() == StatusCode::InvalidArgument);
  CHECK(parseProxyUrl("").status().code() == StatusCode::InvalidArgument);
  CHECK(parseProxyUrl("http://pro xy:1").status().code() == StatusCode::InvalidArgument);
}

TEST_CASE("proxy error messages do not echo credentials") {
  StatusOr<ProxyEndpoint> p = parseProxyUrl("http://user:hunter2@proxy:3128/x");
  REQUIRE_FALSE(p.ok());
  CHECK(p.status().message().find("hunter2") == std::string::npos);
}

TEST_CASE("NO_PROXY matches hosts, subdomains, IPs, ports and star") {
  CHECK(bypassesProxy("example.com", "example.com", 443));
  CHECK(bypassesProxy("example.com", "a.b.example.com", 443));
  CHECK(bypassesProxy(".example.com", "a.example.com", 443));
  CHECK_FALSE(bypassesProxy("example.com", "badexample.com", 443));
  CHECK_FALSE(bypassesProxy("a.example.com", "example.com", 443));
  CHECK(bypassesProxy("Vault.Azure.NET", "myvault.vault.azure.net", 443));
  CHECK(bypassesProxy("10.1.2.3", "10.1.2.3", 80));
  CHECK_FALSE(bypassesProxy("10.1.2.3", "10.1.2.30", 80));
  CHECK(bypassesProxy("localhost:8080", "localhost", 8080));
  CHECK_FALSE(bypassesProxy("localhost:8080", "localhost", 8081));
  CHECK(bypassesProxy("[::1]:443, foo", "::1", 443));
  CHECK(bypassesProxy("::1", "[::1]", 80));
  CHECK(bypassesProxy("foo, *", "anything.example", 1));
  CHECK_FALSE(bypassesProxy("", "example.com", 443));
  CHECK_FALSE(bypassesProxy(" , ,", "example.com", 443));
}

TEST_CASE("IMDS always goes direct, even with a proxy and no NO_PROXY") {
  ProxySettings settings;
  settings.http_proxy = "http://proxy:3128";
  settings.https_proxy = "http://proxy:3129";
  StatusOr<std::optional<ProxyEndpoint>> imds = proxyFor(settings, "http", kImdsHost, 80);
  REQUIRE(imds.ok());
  CHECK_FALSE(imds->has_value());
  CHECK(bypassesProxy("", "169.254.169.254", 80));
}

TEST_CASE("proxyFor picks the proxy by scheme and honours NO_PROXY") {
  ProxySettings settings;
  settings.http_proxy = "http://plain:3128";
  settings.https_proxy = "http://tunnel:3129";
  settings.no_proxy = "internal.corp";

  auto https = proxyFor(settings, "https", "myvault.vault.azure.net", 443);
  REQUIRE(https.ok());
  REQUIRE(https->has_value());
  CHECK((*https)->host == "tunnel");
  CHECK((*https)->port == 3129);

  auto http = proxyFor(settings, "http", "example.com", 80);
  REQUIRE(http.ok());
  REQUIRE(http->has_value());
  CHECK((*http)->host == "plain");

  auto excluded = proxyFor(settings, "https", "svc.internal.corp", 443);
  REQUIRE(excluded.ok());
  CHECK_FALSE(excluded->has_value());

  settings.https_proxy.clear();
  auto none = proxyFor(settings, "https", "example.com", 443);
  REQUIRE(none.ok());
  CHECK_FALSE(none->has_value());

  settings.https_proxy = "ftp://x";
  auto bad = proxyFor(settings, "https", "example.com", 443);
  CHECK(bad.status().code() == StatusCode::InvalidArgument);
  CHECK(bad.status().message().find("HTTPS_PROXY") != std::string::npos);
}

TEST_CASE("proxy settings come from the environment, lower case first") {
  setenv("https_proxy", "http://lower:1", 1);
  setenv("HTTPS_PROXY", "http://upper:2", 1);
  unsetenv("http_proxy");
  setenv("HTTP_PROXY", "http://plain:3", 1);
  setenv("NO_PROXY", "a.b", 1);
  unsetenv("no_proxy");
  const ProxySettings settings = ProxySettings::fromEnvironment();
  unsetenv("https_proxy");
  unsetenv("HTTPS_PROXY");
  unsetenv("HTTP_PROXY");
  unsetenv("NO_PROXY");
  CHECK(settings.https_proxy == "http://lower:1");
  CHECK(settings.http_proxy == "http://plain:3");
  CHECK(settings.no_proxy == "a.b");
}

}  // namespace
}  // namespace skr::http
