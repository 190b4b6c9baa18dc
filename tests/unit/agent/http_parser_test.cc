#include "agent/http_parser.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace skr::agent {
namespace {

std::string bodyText(const HttpRequest& request) {
  return toString(request.body.view(grantSecretAccess()));
}

struct Parsed {
  HttpRequestParser::State state;
  std::size_t used = 0;
  HttpParseError error;
  std::optional<HttpRequest> request;
  bool keep_alive = false;
};

// Feeds `input` in chunks of `chunk` bytes (0: all at once).
Parsed parse(std::string_view input, std::size_t chunk = 0, HttpParserLimits limits = {}) {
  HttpRequestParser parser(limits);
  Parsed result;
  std::size_t offset = 0;
  while (offset < input.size() && parser.state() == HttpRequestParser::State::Incomplete) {
    const std::size_t n =
        chunk == 0 ? input.size() - offset : std::min(chunk, input.size() - offset);
    const std::size_t used = parser.feed(input.substr(offset, n));
    offset += used;
    if (used < n) break;
  }
  result.state = parser.state();
  result.used = offset;
  if (result.state == HttpRequestParser::State::Failed) result.error = parser.error();
  if (result.state == HttpRequestParser::State::Complete) {
    result.keep_alive = parser.keepAlive();
    result.request = parser.takeRequest();
  }
  return result;
}

const std::string kPost =
    "POST /keys/data-kek/unwrapkey?api-version=7.4&x=a%20b+c HTTP/1.1\r\n"
    "Host: localhost\r\n"
    "Content-Type: application/json\r\n"
    "X-SKR-Request:  1 \r\n"
    "Content-Length: 11\r\n"
    "\r\n"
    "{\"a\":\"xyz\"}";

TEST_CASE("parser reads method, decoded path, query, lower-cased headers and body") {
  for (std::size_t chunk : {std::size_t{0}, std::size_t{1}, std::size_t{7}}) {
    const Parsed parsed = parse(kPost, chunk);
    REQUIRE(parsed.state == HttpRequestParser::State::Complete);
    CHECK(parsed.used == kPost.size());
    const HttpRequest& request = *parsed.request;
    CHECK(request.method == "POST");
    CHECK(request.path == "/keys/data-kek/unwrapkey");
    REQUIRE(request.query.size() == 2);
    CHECK(request.query[0] == std::make_pair(std::string("api-version"), std::string("7.4")));
    CHECK(request.query[1] == std::make_pair(std::string("x"), std::string("a b c")));
    CHECK(request.header("x-skr-request") == "1");
    CHECK(request.header("content-type") == "application/json");
    CHECK(request.headers.size() == 4);
    CHECK(bodyText(request) == "{\"a\":\"xyz\"}");
    CHECK(parsed.keep_alive);
  }
}

TEST_CASE("parser stops at the end of one request and parses pipelined ones in order") {
  const std::string two = "GET /healthz HTTP/1.1\r\n\r\n" + kPost + "GET /readyz HTTP/1.1\r\n\r\n";
  HttpRequestParser parser;
  std::string_view rest = two;
  std::vector<std::string> paths;
  while (!rest.empty()) {
    const std::size_t used = parser.feed(rest);
    rest.remove_prefix(used);
    REQUIRE(parser.state() == HttpRequestParser::State::Complete);
    paths.push_back(parser.takeRequest().path);
  }
  CHECK(paths == std::vector<std::string>{"/healthz", "/keys/data-kek/unwrapkey", "/readyz"});
}

TEST_CASE("parser fed byte by byte stays incomplete until the last body byte") {
  HttpRequestParser parser;
  CHECK_FALSE(parser.started());
  for (std::size_t i = 0; i + 1 < kPost.size(); ++i) {
    REQUIRE(parser.feed(std::string_view(kPost).substr(i, 1)) == 1);
    REQUIRE(parser.state() == HttpRequestParser::State::Incomplete);
    CHECK(parser.started());
  }
  CHECK(parser.feed(std::string_view(kPost).substr(kPost.size() - 1)) == 1);
  CHECK(parser.state() == HttpRequestParser::State::Complete);
}

TEST_CASE("parser keep-alive follows HTTP version and Connection header") {
  CHECK(parse("GET / HTTP/1.1\r\n\r\n").keep_alive);
  CHECK_FALSE(parse("GET / HTTP/1.1\r\nConnection: close\r\n\r\n").keep_alive);
  CHECK_FALSE(parse("GET / HTTP/1.1\r\nConnection: foo, Close\r\n\r\n").keep_alive);
  CHECK_FALSE(parse("GET / HTTP/1.0\r\n\r\n").keep_alive);
  CHECK(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").keep_alive);
}

TEST_CASE("parser answers 413 from Content-Length before any body byte arrives") {
  HttpParserLimits limits;
  limits.max_body_bytes = 100;
  const Parsed parsed = parse("POST /k HTTP/1.1\r\nContent-Length: 101\r\n\r\n", 0, limits);
  REQUIRE(parsed.state == HttpRequestParser::State::Failed);
  CHECK(parsed.error.status == 413);
  CHECK(parsed.error.code == "PayloadTooLarge");
  CHECK(parsed.error.message == "body of 101 bytes exceeds the limit of 100 bytes");
  CHECK(parse("POST /k HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n").error.status ==
        413);
  const Parsed exact =
      parse("POST /k HTTP/1.1\r\nContent-Length: 100\r\n\r\n" + std::string(100, 'x'), 1, limits);
  CHECK(exact.state == HttpRequestParser::State::Complete);
  CHECK(exact.request->body.size() == 100);
}

TEST_CASE("parser answers 431 when the header block or the header count is too large") {
  HttpParserLimits limits;
  limits.max_header_bytes = 64;
  const std::string big = "GET / HTTP/1.1\r\nX-A: " + std::string(60, 'a') + "\r\n\r\n";
  for (std::size_t chunk : {std::size_t{0}, std::size_t{1}}) {
    const Parsed parsed = parse(big, chunk, limits);
    REQUIRE(parsed.state == HttpRequestParser::State::Failed);
    CHECK(parsed.error.status == 431);
    CHECK(parsed.error.code == "HeaderTooLarge");
  }
  // A header block of exactly the limit passes: "X-A: " + 57 + CRLF = 64.
  const std::string fits = "GET / HTTP/1.1\r\nX-A: " + std::string(57, 'a') + "\r\n\r\n";
  CHECK(parse(fits, 1, limits).state == HttpRequestParser::State::Complete);

  std::string many = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 101; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  many += "\r\n";
  const Parsed count = parse(many);
  CHECK(count.error.status == 431);
  CHECK(count.error.message == "more than 100 header fields");
}

TEST_CASE("parser answers 414 for a request line over the limit, even without a line end") {
  const std::string line = "GET /" + std::string(std::size_t{8} * 1024, 'a') + " HTTP/1.1";
  const Parsed parsed = parse(line, 1);
  REQUIRE(parsed.state == HttpRequestParser::State::Failed);
  CHECK(parsed.error.status == 414);
  CHECK(parsed.used <= 8 * 1024 + 3);
}

TEST_CASE("parser rejects malformed requests with 400 and a clear message") {
  struct Case {
    std::string input;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"GET / HTTP/1.1\n\r\n", "a line of the request head does not end in CRLF"},
      {"GET / HTTP/1.1\r\nA: b\n\r\n\r\n", "a line of the request head does not end in CRLF"},
      {"GET /a\rb HTTP/1.1\r\n\r\n", "bare CR in the request head"},
      {"GET  / HTTP/1.1\r\n\r\n", "request line is not 'METHOD target HTTP/1.x'"},
      {"G(T / HTTP/1.1\r\n\r\n", "invalid method"},
      {"GET http://x/ HTTP/1.1\r\n\r\n",
       "request target must be an absolute path ('/...') of visible ASCII"},
      {"GET / HTTX/1.1\r\n\r\n", "invalid HTTP version"},
      {"GET /a%00 HTTP/1.1\r\n\r\n", "path: %00 is not allowed in a request target"},
      {"GET /a%zz HTTP/1.1\r\n\r\n", "path: invalid percent escape at offset 1"},
      {"GET /a% HTTP/1.1\r\n\r\n", "path: truncated percent escape at offset 1"},
      {"GET /keys/a%2Fb HTTP/1.1\r\n\r\n", "path: an encoded '/' (%2F) is not accepted"},
      {"GET /keys/../admin HTTP/1.1\r\n\r\n", "path: '.' and '..' segments are not accepted"},
      {"GET /a%0a HTTP/1.1\r\n\r\n", "path: control characters are not accepted"},
      {"GET /?a=%0 HTTP/1.1\r\n\r\n", "query: truncated percent escape at offset 0"},
      {"GET / HTTP/1.1\r\n folded\r\n\r\n", "obsolete line folding in header fields"},
      {"GET / HTTP/1.1\r\nName : v\r\n\r\n", "malformed header field on line 2"},
      {"GET / HTTP/1.1\r\nNoColon\r\n\r\n", "malformed header field on line 2"},
      {std::string("GET / HTTP/1.1\r\nA: x\0y\r\n\r\n", 26),
       "control character in header field on line 2"},
      {"POST / HTTP/1.1\r\nContent-Length: 1a\r\n\r\n", "Content-Length is not a decimal number"},
      {"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx",
       "conflicting Content-Length header fields"},
      {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "more than one Host header field"},
  };
  for (const Case& c : cases) {
    INFO(c.input);
    const Parsed parsed = parse(c.input);
    REQUIRE(parsed.state == HttpRequestParser::State::Failed);
    CHECK(parsed.error.status == 400);
    CHECK(parsed.error.code == "BadRequest");
    CHECK(parsed.error.message == c.message);
  }
}

TEST_CASE("parser refuses Transfer-Encoding with 501, other versions with 505, Expect with 417") {
  const Parsed chunked =
      parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
  CHECK(chunked.error.status == 501);
  CHECK(chunked.error.code == "NotImplemented");
  CHECK(parse("GET / HTTP/2.0\r\n\r\n").error.status == 505);
  CHECK(parse("GET / HTTP/1.1\r\nExpect: something\r\n\r\n").error.status == 417);
}

TEST_CASE("parser reports Expect 100-continue once the head is in and the body is awaited") {
  HttpRequestParser parser;
  parser.feed("POST /k HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
  CHECK(parser.state() == HttpRequestParser::State::Incomplete);
  CHECK(parser.awaitingBodyWithContinue());
  parser.feed("a");
  CHECK_FALSE(parser.awaitingBodyWithContinue());
  parser.feed("bc");
  CHECK(parser.state() == HttpRequestParser::State::Complete);
}

TEST_CASE("parser ignores a few empty lines before the request line") {
  const Parsed parsed = parse("\r\n\r\nGET /healthz HTTP/1.1\r\n\r\n", 1);
  REQUIRE(parsed.state == HttpRequestParser::State::Complete);
  CHECK(parsed.request->path == "/healthz");
  CHECK(parse(std::string(40, '\n')).error.message ==
        "too many empty lines before the request line");
}

TEST_CASE("parser consumes nothing more once complete until the request is taken") {
  HttpRequestParser parser;
  CHECK(parser.feed("GET / HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n") == 18);
  CHECK(parser.feed("GET /c HTTP/1.1\r\n\r\n") == 0);
  CHECK(parser.takeRequest().path == "/");
  CHECK_FALSE(parser.started());
  CHECK(parser.feed("GET /b HTTP/1.1\r\n\r\n") == 19);
  CHECK(parser.takeRequest().path == "/b");
}

TEST_CASE("percentDecode decodes escapes and plus only in query mode") {
  CHECK(percentDecode("a%41%7e+b", false).value() == "aA~+b");
  CHECK(percentDecode("a%41%7e+b", true).value() == "aA~ b");
  CHECK(percentDecode("%4", false).status().code() == StatusCode::InvalidArgument);
  CHECK(percentDecode("%00", true).status().message() == "%00 is not allowed in a request target");
}

}  // namespace
}  // namespace skr::agent

namespace skr::agent {
namespace {

TEST_CASE(
    "with pause_before_body the parser stops after a head that announces a body and takes no "
    "body byte until admit()") {
  HttpParserLimits limits;
  limits.pause_before_body = true;
  HttpRequestParser parser(limits);
  const std::size_t head_size = kPost.find("\r\n\r\n") + 4;
  const std::size_t used = parser.feed(kPost);
  CHECK(used == head_size);
  CHECK(parser.state() == HttpRequestParser::State::Incomplete);
  REQUIRE(parser.awaitingAdmission());
  CHECK(parser.head().path == "/keys/data-kek/unwrapkey");
  CHECK(parser.head().body.empty());
  CHECK(parser.contentLength() == 11);
  CHECK(parser.feed(std::string_view(kPost).substr(used)) == 0);  // still paused
  parser.admit();
  CHECK(parser.feed(std::string_view(kPost).substr(used)) == 11);
  REQUIRE(parser.state() == HttpRequestParser::State::Complete);
  CHECK(bodyText(parser.takeRequest()) == "{\"a\":\"xyz\"}");
  // A request without a body completes with its head, no admission step.
  HttpRequestParser get(limits);
  get.feed("GET /keys HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK_FALSE(get.awaitingAdmission());
  CHECK(get.state() == HttpRequestParser::State::Complete);
}

TEST_CASE("path segments that are not UTF-8 text are 400 BadRequest") {
  for (const std::string target :
       {"/keys/%ff", "/keys/%80", "/keys/%c0%af", "/keys/%ed%a0%80", "/keys/%f5%80%80%80",
        "/keys/a%e2%80%aeb", "/keys/%c2%85", "/keys/%e2%81%a6x"}) {
    const Parsed parsed = parse("GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n");
    INFO(target);
    REQUIRE(parsed.state == HttpRequestParser::State::Failed);
    CHECK(parsed.error.status == 400);
    CHECK(parsed.error.message == "path: a segment is not valid UTF-8 text");
  }
  const Parsed ok = parse("GET /keys/caf%c3%a9/%f0%9f%94%91 HTTP/1.1\r\nHost: x\r\n\r\n");
  REQUIRE(ok.state == HttpRequestParser::State::Complete);
  CHECK(ok.request->path == "/keys/caf\xc3\xa9/\xf0\x9f\x94\x91");
}

}  // namespace
}  // namespace skr::agent
