#include "common/http/http_transport.h"

#include <catch2/catch.hpp>

#include "common/http/retry.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_http_transport.h"

namespace skr::http {
namespace {

TEST_CASE("wipeRequest zeroes every header value and the body in place") {
  HttpRequest r;
  r.url = "https://v.vault.azure.net/keys/k/release";
  r.headers = {{"Authorization", "Bearer eyJ.secret.sig"}, {"Accept", "application/json"}};
  r.body = R"({"target":"eyJ.maa.sig"})";
  const std::size_t auth_size = r.headers[0].value.size();
  const std::size_t body_size = r.body.size();
  wipeRequest(r);
  CHECK(r.headers[0].name == "Authorization");  // names are not secret
  CHECK(r.headers[0].value == std::string(auth_size, '\0'));
  CHECK(r.headers[1].value == std::string(16, '\0'));
  CHECK(r.body == std::string(body_size, '\0'));
  CHECK(r.url == "https://v.vault.azure.net/keys/k/release");
  std::string empty;
  wipeString(empty);
  CHECK(empty.empty());
}

class NoJitter : public JitterSource {
 public:
  double next() override { return 0.0; }
};

TEST_CASE(
    "sendWithRetry wipes only its own copy: the caller's request and each attempt are intact") {
  testing::FakeHttpTransport transport;
  const std::string url = "https://dep.example/op";
  transport.queueResponse(url, 503, "busy");
  transport.setResponse(url, 200, "done");
  HttpRequest request;
  request.method = "POST";
  request.url = url;
  request.headers = {{"Authorization", "Bearer tok-123"}};
  request.body = "assertion=abc";
  RetryPolicy policy;
  policy.dependency = "test";
  policy.max_attempts = 3;
  testing::FakeClock clock;
  NoJitter jitter;
  StatusOr<RetriedResponse> sent = sendWithRetry(transport, request, policy, clock, jitter);
  REQUIRE(sent.ok());
  CHECK(sent->attempts == 2);
  CHECK(sent->response.body == "done");
  // Both attempts carried the credentials (the wipe happens after the last one).
  for (const HttpRequest& seen : transport.requests()) {
    CHECK(seen.headers.at(0).value == "Bearer tok-123");
    CHECK(seen.body == "assertion=abc");
  }
  CHECK(request.headers.at(0).value == "Bearer tok-123");
  CHECK(request.body == "assertion=abc");
}

}  // namespace
}  // namespace skr::http
