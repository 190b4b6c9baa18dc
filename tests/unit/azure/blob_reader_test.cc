#include "common/azure/blob_reader.h"

#include <catch2/catch.hpp>

#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_http_transport.h"

namespace skr::azure {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::FakeClock;
using testing::FakeHttpTransport;

const std::string kBlob = "https://acct.blob.core.windows.net/data/model.skr";
const std::string kSasQuery =
    "sv=2023-11-03&sr=b&sp=r&se=2030-01-01T00%3A00%3A00Z&sig=c2VjcmV0LXNhcy1zaWduYXR1cmU%3D";
const std::string kSasUrl = kBlob + "?" + kSasQuery;
const std::string kSasSignature = "c2VjcmV0LXNhcy1zaWduYXR1cmU";
const std::string kEtag = "\"0x8DC0FFEE\"";

class ZeroJitter : public http::JitterSource {
 public:
  double next() override { return 0.0; }
};

// Hands out "secret-storage-token-N" (N = call number).
class CountingTokenProvider : public TokenProvider {
 public:
  StatusOr<AccessToken> token(const std::string& resource) override {
    resources.push_back(resource);
    if (!failure.ok()) return failure;
    ++calls;
    const std::string t = "secret-storage-token-" + std::to_string(calls);
    return AccessToken{SecretBytes::copyOf(asBytes(t)),
                       std::chrono::system_clock::time_point(seconds(1767225600 + 3600))};
  }
  std::string describe() const override { return "counting test provider"; }
  void invalidate() override { ++invalidations; }

  int calls = 0;
  int invalidations = 0;
  Status failure;
  std::vector<std::string> resources;
};

std::string header(const http::HttpRequest& request, std::string_view name) {
  for (const http::Header& h : request.headers) {
    if (h.name == name) return h.value;
  }
  return "";
}

std::string pattern(std::size_t n) {
  std::string out(n, '\0');
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<char>((i * 31 + 7) & 0xff);
  return out;
}

struct Fixture {
  std::shared_ptr<FakeHttpTransport> transport = std::make_shared<FakeHttpTransport>();
  CountingTokenProvider tokens;
  FakeClock clock;
  ZeroJitter jitter;

  std::unique_ptr<BlobReader> reader(const std::string& url, BlobAuth auth) {
    BlobReaderOptions options;
    options.url = url;
    options.auth = auth;
    StatusOr<std::unique_ptr<BlobReader>> r =
        BlobReader::create(transport, &tokens, clock, jitter, options);
    REQUIRE(r.ok());
    return std::move(r).value();
  }
  void properties(const std::string& url, uint64_t size, const std::string& etag = kEtag) {
    transport->queueResponse(url, 200, "",
                             {{"Content-Length", std::to_string(size)}, {"ETag", etag}});
  }
  // A correct 206 for `data`[first..last].
  void partial(const std::string& url, const std::string& data, uint64_t first, uint64_t last) {
    transport->queueResponse(
        url, 206, data.substr(first, last - first + 1),
        {{"Content-Range", "bytes " + std::to_string(first) + "-" + std::to_string(last) + "/" +
                               std::to_string(data.size())},
         {"ETag", kEtag}});
  }
};

std::string asText(const Bytes& b) {
  return std::string(b.begin(), b.end());
}

TEST_CASE("BlobReader learns size and ETag with one HEAD, then reads ranges pinned to the ETag",
          "[blob]") {
  Fixture f;
  const std::string data = pattern(3 * 1024 * 1024 + 17);
  auto reader = f.reader(kSasUrl, BlobAuth::Sas);
  f.properties(kSasUrl, data.size());
  f.partial(kSasUrl, data, 0, 0);
  f.partial(kSasUrl, data, 1, 1024 * 1024 + 4);
  f.partial(kSasUrl, data, data.size() - 13, data.size() - 1);

  REQUIRE(reader->size().value() == data.size());
  REQUIRE(reader->size().value() == data.size());  // from memory
  CHECK(reader->etag() == kEtag);
  CHECK(asText(reader->read(0, 1).value()) == data.substr(0, 1));
  CHECK(asText(reader->read(1, 1024 * 1024 + 4).value()) == data.substr(1, 1024 * 1024 + 4));
  CHECK(asText(reader->read(data.size() - 13, 13).value()) == data.substr(data.size() - 13));
  CHECK(reader->read(0, 0).value().empty());  // nothing to fetch: no request

  const std::vector<http::HttpRequest> sent = f.transport->requests();
  REQUIRE(sent.size() == 4);
  CHECK(sent[0].method == "HEAD");
  for (const http::HttpRequest& r : sent) {
    CHECK(r.url == kSasUrl);  // the SAS travels on the wire
    CHECK(header(r, "x-ms-version") == "2023-11-03");
    CHECK(header(r, "x-ms-date") == "Thu, 01 Jan 2026 00:00:00 GMT");
    CHECK(header(r, "Authorization").empty());
  }
  CHECK(sent[1].method == "GET");
  CHECK(header(sent[1], "x-ms-range") == "bytes=0-0");
  CHECK(header(sent[2], "x-ms-range") == "bytes=1-1048580");
  CHECK(header(sent[3], "x-ms-range") ==
        "bytes=" + std::to_string(data.size() - 13) + "-" + std::to_string(data.size() - 1));
  for (std::size_t i = 1; i < sent.size(); ++i) CHECK(header(sent[i], "If-Match") == kEtag);
  CHECK(sent[2].max_response_bytes >= 1024 * 1024 + 4);
  CHECK(reader->requestsSent() == 4);
  CHECK(reader->describe() == "blob " + kBlob);
  CHECK(f.tokens.calls == 0);
}

TEST_CASE("BlobReader reads the size before the first range when read() comes first", "[blob]") {
  Fixture f;
  const std::string data = pattern(100);
  auto reader = f.reader(kBlob, BlobAuth::Anonymous);
  f.properties(kBlob, data.size());
  f.partial(kBlob, data, 10, 19);
  CHECK(asText(reader->read(10, 10).value()) == data.substr(10, 10));
  CHECK(f.transport->requests().at(0).method == "HEAD");
}

TEST_CASE("BlobReader refuses reads past the end and larger than its bound without a GET",
          "[blob]") {
  Fixture f;
  auto reader = f.reader(kBlob, BlobAuth::Anonymous);
  f.properties(kBlob, 1000);
  StatusOr<Bytes> past = reader->read(990, 11);
  CHECK(past.status().code() == StatusCode::InvalidArgument);
  CHECK_THAT(past.status().message(), Catch::Contains("past its end (1000 bytes)"));
  CHECK(reader->read(1001, 0).status().code() == StatusCode::InvalidArgument);
  CHECK(reader->read(0, kMaxBlobReadBytes + 1).status().code() == StatusCode::InvalidArgument);
  CHECK(f.transport->requestCount() == 1);  // the HEAD only
}

TEST_CASE("BlobReader sends a storage bearer token and never shows it", "[blob]") {
  Fixture f;
  auto reader = f.reader(kBlob, BlobAuth::Entra);
  f.properties(kBlob, 10);
  f.transport->queueResponse(kBlob, 403, "",
                             {{"x-ms-error-code", "AuthorizationPermissionMismatch"}});
  REQUIRE(reader->size().ok());
  StatusOr<Bytes> denied = reader->read(0, 10);
  CHECK(denied.status().code() == StatusCode::PermissionDenied);
  CHECK_THAT(denied.status().message(), Catch::Contains("AuthorizationPermissionMismatch"));
  CHECK_THAT(denied.status().message(), Catch::Contains("Storage Blob Data Reader"));
  CHECK_THAT(denied.status().message(), !Catch::Contains("secret-storage-token"));
  CHECK(denied.status().details().http_status == 403);
  CHECK(denied.status().details().service_code == "AuthorizationPermissionMismatch");
  const std::vector<http::HttpRequest> sent = f.transport->requests();
  REQUIRE(sent.size() == 2);
  CHECK(header(sent[0], "Authorization") == "Bearer secret-storage-token-1");
  CHECK(header(sent[1], "Authorization") == "Bearer secret-storage-token-2");
  CHECK(f.tokens.resources == std::vector<std::string>{kStorageResource, kStorageResource});
  CHECK(f.tokens.invalidations == 0);  // 403 is not a stale token
}

TEST_CASE("BlobReader drops a bearer token storage answers 401 to and retries once", "[blob]") {
  Fixture f;
  auto reader = f.reader(kBlob, BlobAuth::Entra);
  SECTION("the fresh token works") {
    f.transport->queueResponse(kBlob, 401, "", {{"x-ms-error-code", "InvalidAuthenticationInfo"}});
    f.properties(kBlob, 5);
    CHECK(reader->size().value() == 5);
    CHECK(f.tokens.invalidations == 1);
    CHECK(f.transport->requestCount() == 2);
    CHECK(header(f.transport->requests().at(1), "Authorization") ==
          "Bearer secret-storage-token-2");
  }
  SECTION("403 AuthenticationFailed (Azurite's answer to a bad token) is retried the same way") {
    f.transport->queueResponse(kBlob, 403, "", {{"x-ms-error-code", "AuthenticationFailed"}});
    f.properties(kBlob, 5);
    CHECK(reader->size().value() == 5);
    CHECK(f.tokens.invalidations == 1);
    CHECK(f.transport->requestCount() == 2);
  }
  SECTION("twice 401 is PermissionDenied, after one retry only") {
    f.transport->setResponse(kBlob, 401, "", {{"x-ms-error-code", "InvalidAuthenticationInfo"}});
    StatusOr<uint64_t> size = reader->size();
    CHECK(size.status().code() == StatusCode::PermissionDenied);
    CHECK_THAT(size.status().message(), Catch::Contains("InvalidAuthenticationInfo"));
    CHECK(f.tokens.invalidations == 1);
    CHECK(f.transport->requestCount() == 2);
    CHECK(size.status().details().attempts == 2);
  }
  SECTION("401, then the fresh token meets a dead network: every request counted") {
    f.transport->queueResponse(kBlob, 401, "", {{"x-ms-error-code", "InvalidAuthenticationInfo"}});
    for (int i = 0; i < 4; ++i) f.transport->queueError(kBlob, unavailableError("reset"));
    StatusOr<uint64_t> size = reader->size();
    CHECK(size.status().code() == StatusCode::Unavailable);
    CHECK(size.status().details().attempts == 5);
    CHECK(reader->requestsSent() == 5);
  }
  SECTION("no token at all") {
    f.tokens.failure = unavailableError("IMDS down");
    StatusOr<uint64_t> size = reader->size();
    CHECK(size.status().code() == StatusCode::Unavailable);
    CHECK_THAT(size.status().message(),
               Catch::Contains("no access token for https://storage.azure.com/"));
    CHECK(size.status().details().cause == ErrorCause::Identity);
    CHECK(f.transport->requestCount() == 0);
  }
}

TEST_CASE("BlobReader maps storage answers to statuses naming the blob without its SAS", "[blob]") {
  Fixture f;
  auto reader = f.reader(kSasUrl, BlobAuth::Sas);
  auto check_message = [](const Status& s) {
    INFO(s.message());
    CHECK_THAT(s.message(), Catch::Contains(kBlob));
    CHECK_THAT(s.message(), !Catch::Contains(kSasSignature));
    CHECK_THAT(s.message(), !Catch::Contains("sig="));
  };
  SECTION("404 with the code in the XML body") {
    f.transport->queueResponse(
        kSasUrl, 404,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>BlobNotFound</Code><Message>The "
        "specified blob does not exist.</Message></Error>");
    StatusOr<uint64_t> size = reader->size();
    CHECK(size.status().code() == StatusCode::NotFound);
    CHECK_THAT(size.status().message(), Catch::Contains("HTTP 404 BlobNotFound"));
    check_message(size.status());
  }
  SECTION("403 to a bad SAS") {
    f.transport->queueResponse(kSasUrl, 403, "", {{"x-ms-error-code", "AuthenticationFailed"}});
    StatusOr<uint64_t> size = reader->size();
    CHECK(size.status().code() == StatusCode::PermissionDenied);
    CHECK_THAT(size.status().message(), Catch::Contains("AuthenticationFailed"));
    CHECK_THAT(size.status().message(), Catch::Contains("the SAS is invalid"));
    check_message(size.status());
  }
  SECTION("412: the blob changed between reads") {
    f.properties(kSasUrl, 100);
    f.transport->queueResponse(kSasUrl, 412, "", {{"x-ms-error-code", "ConditionNotMet"}});
    StatusOr<Bytes> got = reader->read(0, 10);
    CHECK(got.status().code() == StatusCode::FailedPrecondition);
    CHECK_THAT(got.status().message(), Catch::Contains("the blob changed while it was read"));
    check_message(got.status());
  }
  SECTION("a different size or ETag in the 206") {
    f.properties(kSasUrl, 100);
    f.transport->queueResponse(kSasUrl, 206, std::string(10, 'x'),
                               {{"Content-Range", "bytes 0-9/200"}, {"ETag", kEtag}});
    f.transport->queueResponse(kSasUrl, 206, std::string(10, 'x'),
                               {{"Content-Range", "bytes 0-9/100"}, {"ETag", "\"0xOTHER\""}});
    CHECK(reader->read(0, 10).status().code() == StatusCode::FailedPrecondition);
    CHECK(reader->read(0, 10).status().code() == StatusCode::FailedPrecondition);
  }
  SECTION("a wrong range, length or status is DataLoss") {
    f.properties(kSasUrl, 100);
    f.transport->queueResponse(kSasUrl, 206, std::string(10, 'x'),
                               {{"Content-Range", "bytes 1-10/100"}});
    f.transport->queueResponse(kSasUrl, 206, std::string(9, 'x'),
                               {{"Content-Range", "bytes 0-9/100"}});
    f.transport->queueResponse(kSasUrl, 206, std::string(10, 'x'), {});
    f.transport->queueResponse(kSasUrl, 200, std::string(100, 'x'), {});
    for (int i = 0; i < 4; ++i) {
      StatusOr<Bytes> got = reader->read(0, 10);
      CHECK(got.status().code() == StatusCode::DataLoss);
      check_message(got.status());
    }
  }
  SECTION("HEAD without an ETag or length is DataLoss") {
    f.transport->queueResponse(kSasUrl, 200, "", {{"Content-Length", "100"}});
    CHECK(reader->size().status().code() == StatusCode::DataLoss);
    f.transport->queueResponse(kSasUrl, 200, "", {{"ETag", kEtag}, {"Content-Length", "-1"}});
    CHECK(reader->size().status().code() == StatusCode::DataLoss);
  }
  SECTION("another 4xx is FailedPrecondition") {
    f.transport->queueResponse(kSasUrl, 409, "", {{"x-ms-error-code", "BlobArchived"}});
    StatusOr<uint64_t> size = reader->size();
    CHECK(size.status().code() == StatusCode::FailedPrecondition);
    CHECK_THAT(size.status().message(), Catch::Contains("HTTP 409 BlobArchived"));
  }
  SECTION("transport failures whose text carries the URL are redacted") {
    f.transport->setError(kSasUrl, unavailableError("connect to " + kSasUrl + " refused"));
    StatusOr<uint64_t> size = reader->size();
    CHECK(size.status().code() == StatusCode::Unavailable);
    check_message(size.status());
    CHECK(reader->requestsSent() == 4);
  }
}

TEST_CASE("BlobReader retries 503 honouring Retry-After, then gives up as Unavailable", "[blob]") {
  Fixture f;
  auto reader = f.reader(kBlob, BlobAuth::Anonymous);
  SECTION("503 twice, then an answer") {
    f.transport->queueResponse(kBlob, 503, "",
                               {{"Retry-After", "2"}, {"x-ms-error-code", "ServerBusy"}});
    f.transport->queueResponse(kBlob, 503, "", {{"Retry-After", "3"}});
    f.properties(kBlob, 42);
    CHECK(reader->size().value() == 42);
    CHECK(f.clock.sleeps() == std::vector<milliseconds>{milliseconds(2000), milliseconds(3000)});
    CHECK(reader->requestsSent() == 3);
  }
  SECTION("503 always") {
    f.transport->setResponse(kBlob, 503, "",
                             {{"Retry-After", "1"}, {"x-ms-error-code", "ServerBusy"}});
    StatusOr<uint64_t> size = reader->size();
    CHECK(size.status().code() == StatusCode::Unavailable);
    CHECK_THAT(size.status().message(), Catch::Contains("HTTP 503 ServerBusy"));
    CHECK_THAT(size.status().message(), Catch::Contains("gave up after 4 attempts"));
    CHECK(size.status().details().attempts == 4);
    CHECK(size.status().details().cause == ErrorCause::Transport);
    CHECK(f.transport->requestCount() == 4);
  }
  SECTION("a 404 is final: no retry") {
    f.transport->setResponse(kBlob, 404, "", {{"x-ms-error-code", "ContainerNotFound"}});
    CHECK(reader->size().status().code() == StatusCode::NotFound);
    CHECK(f.transport->requestCount() == 1);
  }
}

TEST_CASE("BlobReader::create checks the URL and the authorization mode", "[blob]") {
  Fixture f;
  auto create = [&f](const std::string& url, BlobAuth auth, TokenProvider* tokens) {
    BlobReaderOptions options;
    options.url = url;
    options.auth = auth;
    return BlobReader::create(f.transport, tokens, f.clock, f.jitter, options).status();
  };
  CHECK(create(kBlob, BlobAuth::Entra, &f.tokens).ok());
  CHECK(create("https://127.0.0.1:10000/devstoreaccount1/c/b", BlobAuth::Anonymous, nullptr).ok());
  CHECK(
      create("https://acct.blob.core.windows.net/c/dir/b.skr", BlobAuth::Anonymous, nullptr).ok());
  for (const std::string bad :
       {"http://acct.blob.core.windows.net/c/b", "https://acct.blob.core.windows.net/c",
        "https://acct.blob.core.windows.net/", "https://acct.blob.core.windows.net//b",
        "https://acct.blob.core.windows.net/c/../b",
        "https://user:pw@acct.blob.core.windows.net/c/b",
        "https://acct.blob.core.windows.net/c/b#frag", "https://acct.blob.core.windows.net/c/b c",
        "https:///c/b"}) {
    INFO(bad);
    CHECK(create(bad, BlobAuth::Anonymous, nullptr).code() == StatusCode::InvalidArgument);
  }
  CHECK(create(std::string("https://a.test/c/") + std::string(kMaxBlobUrlBytes, 'b'),
               BlobAuth::Anonymous, nullptr)
            .code() == StatusCode::InvalidArgument);
  CHECK(create(kBlob, BlobAuth::Entra, nullptr).code() == StatusCode::InvalidArgument);
  const Status no_sig = create(kBlob + "?sv=2023-11-03", BlobAuth::Sas, nullptr);
  CHECK(no_sig.code() == StatusCode::InvalidArgument);
  const Status sas_as_entra = create(kSasUrl, BlobAuth::Entra, &f.tokens);
  CHECK(sas_as_entra.code() == StatusCode::InvalidArgument);
  CHECK_THAT(sas_as_entra.message(), !Catch::Contains(kSasSignature));
  const Status bad_sas_url = create("http://a.test/c/b?" + kSasQuery, BlobAuth::Sas, nullptr);
  CHECK_THAT(bad_sas_url.message(), !Catch::Contains(kSasSignature));
}

TEST_CASE("blob auth names, defaults and URLs for messages", "[blob]") {
  CHECK(defaultBlobAuth(kSasUrl) == BlobAuth::Sas);
  CHECK(defaultBlobAuth(kBlob) == BlobAuth::Entra);
  CHECK(defaultBlobAuth(kBlob + "?snapshot=x&design=sig") == BlobAuth::Entra);
  CHECK(parseBlobAuth("anonymous").value() == BlobAuth::Anonymous);
  CHECK(parseBlobAuth("sas").value() == BlobAuth::Sas);
  CHECK(parseBlobAuth("entra").value() == BlobAuth::Entra);
  CHECK(parseBlobAuth("Bearer").status().code() == StatusCode::InvalidArgument);
  CHECK(blobAuthName(BlobAuth::Entra) == "entra");
  CHECK(blobUrlForMessages(kSasUrl) == kBlob);
  CHECK(blobUrlForMessages(kBlob) == kBlob);
}

}  // namespace
}  // namespace skr::azure
