// azure::BlobReader against a real Blob Storage implementation: Azurite (npm, pinned by
// tests/node/package-lock.json), started by tests/lib/azurite.py on 127.0.0.1 over HTTPS with a CA
// of its own and --oauth basic, with a throttling proxy in front of it for the 503 cases. Blobs
// are uploaded with the REST API (Shared Key), read back by ranges with a SAS, anonymously from a
// public container and with a storage token from skr-emulator's IMDS.
//
// Without node or Azurite the tests pass with a warning, unless SKR_REQUIRE_AZURITE is set
// (.ci/run sets it after scripts/setup): then they fail.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "common/azure/blob_reader.h"
#include "common/azure/identity.h"
#include "common/core/clock.h"
#include "common/http/poco_http_transport.h"
#include "tests/integration/azurite_process.h"
#include "tests/integration/emulator_process.h"
#include "tests/integration/process.h"

namespace skr::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

struct Readers {
  std::shared_ptr<http::HttpTransport> transport;
  http::RandomJitter jitter;

  std::unique_ptr<azure::BlobReader> make(const std::string& url, azure::BlobAuth auth,
                                          azure::TokenProvider* tokens = nullptr,
                                          int max_attempts = 4) {
    azure::BlobReaderOptions options;
    options.url = url;
    options.auth = auth;
    options.attempt_timeout = std::chrono::milliseconds(30'000);
    options.retry.max_attempts = max_attempts;
    auto r = azure::BlobReader::create(transport, tokens, systemClock(), jitter, options);
    REQUIRE(r.ok());
    return std::move(r).value();
  }
};

std::string text(const Bytes& b) {
  return std::string(b.begin(), b.end());
}

// Reads the whole blob in `step`-byte ranges (the last one shorter).
std::string readAll(azure::BlobReader& reader, std::size_t step) {
  const uint64_t size = reader.size().value();
  std::string out;
  for (uint64_t at = 0; at < size; at += step) {
    const std::size_t n = static_cast<std::size_t>(std::min<uint64_t>(step, size - at));
    StatusOr<Bytes> got = reader.read(at, n);
    INFO(got.status().message());
    REQUIRE(got.ok());
    out += text(*got);
  }
  return out;
}

// Asks for `resource`'s token as if it were the storage resource (a token Azurite must refuse).
class WrongAudienceProvider : public azure::TokenProvider {
 public:
  WrongAudienceProvider(azure::TokenProvider& inner, std::string resource)
      : inner_(inner), resource_(std::move(resource)) {}
  StatusOr<azure::AccessToken> token(const std::string&) override {
    return inner_.token(resource_);
  }
  std::string describe() const override { return "wrong-audience test provider"; }

 private:
  azure::TokenProvider& inner_;
  std::string resource_;
};

TEST_CASE(
    "BlobReader reads Azurite blobs by ranges with a SAS, anonymously and with an "
    "emulator storage token",
    "[azurite]") {
  // Once per process: every SECTION enters the test case again.
  static const std::unique_ptr<AzuriteProcess> azurite = AzuriteProcess::start();
  if (!azurite) return;
  const std::size_t size = 3 * 1024 * 1024 + 12345;
  const std::string data = randomData(size, 18);
  static std::string etag;  // uploaded once
  if (etag.empty()) {
    const std::string file = azurite->dir() + "/data.bin";
    randomFile(file, size, 18);
    azurite->harness({"container", "private"});
    azurite->harness({"container", "public", "--public"});
    // 1 MiB blocks: Put Block x4 + Put Block List.
    etag = azurite->harness({"upload", "private", "dir/data.bin", file, "--block-size", "1048576"});
    azurite->harness({"upload", "public", "data.bin", file});
  }
  Readers readers{transportTrusting(azurite->caFile()), {}};

  SECTION("SAS: size, ETag and odd ranges equal the upload") {
    const std::string url = azurite->sas("private", "dir/data.bin");
    auto reader = readers.make(url, azure::BlobAuth::Sas);
    REQUIRE(reader->size().value() == size);
    CHECK(reader->etag() == etag);
    CHECK(text(reader->read(0, 1).value()) == data.substr(0, 1));
    CHECK(text(reader->read(1, 1024 * 1024 + 3).value()) == data.substr(1, 1024 * 1024 + 3));
    CHECK(text(reader->read(size - 7, 7).value()) == data.substr(size - 7));
    CHECK(text(reader->read(1024 * 1024 - 5, 10).value()) == data.substr(1024 * 1024 - 5, 10));
    CHECK(readAll(*reader, 1024 * 1024 + 7) == data);
    CHECK(reader->describe() == "blob " + azurite->endpoint() + "/private/dir/data.bin");
    StatusOr<Bytes> past = reader->read(size - 1, 2);
    CHECK(past.status().code() == StatusCode::InvalidArgument);
  }
  SECTION("anonymous read of a public container") {
    auto reader =
        readers.make(azurite->endpoint() + "/public/data.bin", azure::BlobAuth::Anonymous);
    CHECK(readAll(*reader, 2 * 1024 * 1024) == data);
  }
  SECTION("bearer token from skr-emulator's IMDS for https://storage.azure.com/") {
    auto emu = EmulatorProcess::start();
    http::RandomJitter jitter;
    azure::ImdsOptions imds;
    imds.endpoint = emu->url("imds");
    auto provider =
        azure::ImdsTokenProvider::create(readers.transport, imds, systemClock(), jitter);
    REQUIRE(provider.ok());
    azure::CachingTokenProvider tokens(std::move(provider).value(), systemClock());
    const std::string url = azurite->endpoint() + "/private/dir/data.bin";
    auto reader = readers.make(url, azure::BlobAuth::Entra, &tokens);
    CHECK(readAll(*reader, 1536 * 1024) == data);

    // A vault token (aud https://vault.azure.net, iss the emulated Entra ID) is refused by
    // Azurite's OAuth check: the reader drops it once, then reports storage's code.
    WrongAudienceProvider wrong(tokens, azure::kVaultResource);
    auto refused = readers.make(url, azure::BlobAuth::Entra, &wrong);
    StatusOr<uint64_t> s = refused->size();
    INFO(s.status().message());
    CHECK(s.status().code() == StatusCode::PermissionDenied);
    CHECK(refused->requestsSent() == 2);
    CHECK(emu->stop() == 0);
  }
}

TEST_CASE(
    "BlobReader against Azurite: missing blob, refused SAS, private container and a blob "
    "overwritten between reads",
    "[azurite]") {
  // Once per process: every SECTION enters the test case again.
  static const std::unique_ptr<AzuriteProcess> azurite = AzuriteProcess::start();
  if (!azurite) return;
  const std::string file = azurite->dir() + "/a.bin";
  static bool uploaded = false;
  if (!uploaded) {
    randomFile(file, 200'000, 1);
    azurite->harness({"container", "private"});
    azurite->harness({"upload", "private", "a.bin", file});
    uploaded = true;
  }
  Readers readers{transportTrusting(azurite->caFile()), {}};

  SECTION("404") {
    auto reader = readers.make(azurite->sas("private", "missing.bin"), azure::BlobAuth::Sas);
    StatusOr<uint64_t> s = reader->size();
    INFO(s.status().message());
    CHECK(s.status().code() == StatusCode::NotFound);
    CHECK(s.status().details().http_status == 404);
    CHECK_THAT(s.status().message(), Catch::Contains("/private/missing.bin"));
  }
  SECTION("403: a SAS signed with another key") {
    const std::string url = azurite->sas("private", "a.bin", {"--wrong-key"});
    const std::string sig = url.substr(url.find("sig=") + 4);
    auto reader = readers.make(url, azure::BlobAuth::Sas);
    StatusOr<uint64_t> s = reader->size();
    INFO(s.status().message());
    CHECK(s.status().code() == StatusCode::PermissionDenied);
    CHECK(s.status().details().http_status == 403);
    CHECK_THAT(s.status().message(), !Catch::Contains(sig));
    CHECK_THAT(s.status().message(), !Catch::Contains("sig="));
  }
  SECTION("403: a private container read anonymously") {
    auto reader = readers.make(azurite->endpoint() + "/private/a.bin", azure::BlobAuth::Anonymous);
    StatusOr<uint64_t> s = reader->size();
    INFO(s.status().message());
    CHECK(s.status().code() == StatusCode::PermissionDenied);
  }
  SECTION("the blob overwritten between two reads") {
    const std::string data = randomFile(file, 200'000, 2);
    azurite->harness({"upload", "private", "b.bin", file});
    auto reader = readers.make(azurite->sas("private", "b.bin"), azure::BlobAuth::Sas);
    CHECK(text(reader->read(0, 1000).value()) == data.substr(0, 1000));
    randomFile(file, 200'000, 3);
    azurite->harness({"upload", "private", "b.bin", file});
    StatusOr<Bytes> after = reader->read(1000, 1000);
    INFO(after.status().message());
    CHECK(after.status().code() == StatusCode::FailedPrecondition);
    CHECK_THAT(after.status().message(), Catch::Contains("changed while it was read"));
  }
}

TEST_CASE("BlobReader through a throttling proxy: 503 twice then the blob, 503 always Unavailable",
          "[azurite]") {
  // Once per process: every SECTION enters the test case again.
  static const std::unique_ptr<AzuriteProcess> azurite = AzuriteProcess::start();
  if (!azurite) return;
  const std::string data = randomData(70'000, 3);
  static std::string url;  // uploaded once
  if (url.empty()) {
    const std::string file = azurite->dir() + "/t.bin";
    randomFile(file, 70'000, 3);
    azurite->harness({"container", "throttled"});
    azurite->harness({"upload", "throttled", "t.bin", file});
    // The SAS signs the resource path, not the host: valid through the proxy too.
    url = azurite->sas("throttled", "t.bin");
    url.replace(0, azurite->endpoint().size(), azurite->proxyEndpoint());
  }
  Readers readers{transportTrusting(azurite->caFile()), {}};
  auto control = [&](const std::string& method, const std::string& path) {
    http::HttpRequest r;
    r.method = method;
    r.url = azurite->proxyControl() + path;
    StatusOr<http::HttpResponse> got = readers.transport->send(r);
    REQUIRE(got.ok());
    return got->body;
  };

  SECTION("503 with Retry-After: 1 twice, then success") {
    control("POST", "/config?fail=2&retry_after=1");
    auto reader = readers.make(url, azure::BlobAuth::Sas);
    const auto start = std::chrono::steady_clock::now();
    REQUIRE(reader->size().value() == data.size());
    const auto waited = std::chrono::steady_clock::now() - start;
    CHECK(waited >= seconds(2));  // Retry-After honoured twice
    CHECK(reader->requestsSent() == 3);
    CHECK(control("GET", "/stats") == R"({"requests": 3, "throttled": 2})");
    CHECK(text(reader->read(100, 5000).value()) == data.substr(100, 5000));
  }
  SECTION("503 always: Unavailable after the attempt budget") {
    control("POST", "/config?fail=-1&retry_after=0");
    auto reader = readers.make(url, azure::BlobAuth::Sas, nullptr, 3);
    StatusOr<uint64_t> s = reader->size();
    INFO(s.status().message());
    CHECK(s.status().code() == StatusCode::Unavailable);
    CHECK_THAT(s.status().message(), Catch::Contains("HTTP 503 ServerBusy"));
    CHECK(reader->requestsSent() == 3);
    CHECK(control("GET", "/stats") == R"({"requests": 3, "throttled": 3})");
  }
}

}  // namespace
}  // namespace skr::testing
