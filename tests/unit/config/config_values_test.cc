#include "common/config/config_values.h"

#include <catch2/catch.hpp>

namespace skr::config {
namespace {

using std::chrono::milliseconds;

TEST_CASE("parseDuration reads units and the bare unit") {
  CHECK(*parseDuration("d", "500ms", milliseconds(1)) == milliseconds(500));
  CHECK(*parseDuration("d", "30s", milliseconds(1)) == milliseconds(30000));
  CHECK(*parseDuration("d", "5m", milliseconds(1)) == milliseconds(300000));
  CHECK(*parseDuration("d", "1h", milliseconds(1)) == milliseconds(3600000));
  CHECK(*parseDuration("d", "2d", milliseconds(1)) == milliseconds(172800000));
  CHECK(*parseDuration("d", "42", milliseconds(1)) == milliseconds(42));
  CHECK(*parseDuration("d", "42", milliseconds(1000)) == milliseconds(42000));
  CHECK(*parseDuration("d", "0", milliseconds(1000)) == milliseconds(0));
  for (const char* bad : {"", "s", "1.5s", "5 m", "1w", "-1", "99999999999999s"}) {
    INFO(bad);
    CHECK_FALSE(parseDuration("d", bad, milliseconds(1)).ok());
  }
  CHECK(parseDuration("x.y", "1w", milliseconds(1000)).status().message() ==
        "x.y: \"1w\" is not a duration, expected e.g. 500ms, 30s, 5m, 1h or an integer (seconds)");
}

TEST_CASE("formatDuration picks the largest exact unit") {
  CHECK(formatDuration(milliseconds(0)) == "0s");
  CHECK(formatDuration(milliseconds(1500)) == "1500ms");
  CHECK(formatDuration(milliseconds(30000)) == "30s");
  CHECK(formatDuration(milliseconds(600000)) == "10m");
  CHECK(formatDuration(milliseconds(7200000)) == "2h");
}

TEST_CASE("checkUrl allows https, and http only to loopback unless allowed") {
  CHECK(*checkUrl("u", "https://Host.example:8443/", UrlPolicy{}) == "https://Host.example:8443");
  CHECK(*checkUrl("u", "HTTP://127.0.0.1:80", UrlPolicy{}) == "http://127.0.0.1:80");
  CHECK(*checkUrl("u", "http://[::1]:9", UrlPolicy{}) == "http://[::1]:9");
  CHECK(*checkUrl("u", "http://localhost", UrlPolicy{}) == "http://localhost");
  CHECK(*checkUrl("u", "http://169.254.169.254", UrlPolicy{.allow_http = true}) ==
        "http://169.254.169.254");
  CHECK(*checkUrl("u", "http://h/metadata/THIM/",
                  UrlPolicy{.allow_path = true, .allow_http = true}) == "http://h/metadata/THIM");
  CHECK(checkUrl("u", "http://169.254.169.254", UrlPolicy{}).status().message() ==
        "u: \"http://169.254.169.254\": must use https (http only to a loopback host)");
  CHECK(checkUrl("u", "http://127.0.0.1.evil.com", UrlPolicy{}).status().message() ==
        "u: \"http://127.0.0.1.evil.com\": must use https (http only to a loopback host)");
  CHECK(checkUrl("u", "https://user@host", UrlPolicy{}).status().message() ==
        "u: \"https://user@host\": user information is not allowed");
  CHECK(checkUrl("u", "https://host:0", UrlPolicy{}).status().message() ==
        "u: \"https://host:0\": port must be 1..65535");
  CHECK(checkUrl("u", "https://host:99999", UrlPolicy{}).status().message() ==
        "u: \"https://host:99999\": port must be 1..65535");
  CHECK(checkUrl("u", "https://host?x=1", UrlPolicy{}).status().message() ==
        "u: \"https://host?x=1\": a query or fragment is not allowed");
  CHECK(checkUrl("u", "https://", UrlPolicy{}).status().message() == "u: \"https://\": no host");
  CHECK(checkUrl("u", "https://ho st", UrlPolicy{}).status().message() ==
        "u: \"https://ho st\": bad character in the host");
}

TEST_CASE("parseFileMode reads octal up to 0777") {
  CHECK(*parseFileMode("m", "0660") == 0660u);
  CHECK(*parseFileMode("m", "0o600") == 0600u);
  CHECK(*parseFileMode("m", "777") == 0777u);
  CHECK(parseFileMode("m", "1777").status().message() == "m: \"1777\" is above 0777");
  CHECK_FALSE(parseFileMode("m", "").ok());
  CHECK_FALSE(parseFileMode("m", "0o").ok());
  CHECK_FALSE(parseFileMode("m", "rw-").ok());
}

TEST_CASE("groups and users are numbers or names") {
  CHECK(*parseGroup("g", "2000") == gid_t{2000});
  CHECK(*parseGroup("g", "root") == gid_t{0});
  CHECK(*parseUser("u", "root") == uid_t{0});
  CHECK(parseGroup("g", "99999999999").status().message() ==
        "g: group id 99999999999 is out of range");
}

TEST_CASE("expandVaultUrl expands bare names") {
  CHECK(*expandVaultUrl("k", "MyVault", false) == "https://myvault.vault.azure.net");
  CHECK(*expandVaultUrl("k", "myhsm", true) == "https://myhsm.managedhsm.azure.net");
  CHECK(*expandVaultUrl("k", "https://127.0.0.1:1/", false) == "https://127.0.0.1:1");
  CHECK_FALSE(expandVaultUrl("k", "my.vault", false).ok());
  CHECK_FALSE(expandVaultUrl("k", "https://v.vault.azure.net/keys", false).ok());
}

}  // namespace
}  // namespace skr::config
