// POST /data/open through the real router and HTTP server on a Unix socket, with a real Keyring
// (RSA and oct key versions) and objects sealed by the envelope writer; the blob source factory
// serves them from memory (the Blob Storage reader is tested on its own against Azurite).
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/data_handlers.h"
#include "agent/http_server.h"
#include "agent/router.h"
#include "agent/unix_socket.h"
#include "common/data/envelope.h"
#include "common/log/logger.h"
#include "tests/unit/agent/agent_test_util.h"
#include "tests/unit/agent/http_test_client.h"
#include "tests/unit/agent/socket_test_dir.h"

namespace skr::agent {
namespace {

using namespace std::chrono_literals;
using namespace skr::agent::testing;  // NOLINT(google-build-using-namespace)

constexpr std::string_view kOct =
    "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F";
constexpr std::string_view kSource = "https://acct.blob.core.windows.net/enc/";
constexpr uint64_t kChunk = data::kMinChunkSize;  // 4096

Bytes pattern(std::size_t n, unsigned seed = 0) {
  Bytes out(n);
  for (std::size_t i = 0; i < n; ++i)
    out[i] = static_cast<uint8_t>((i * 131 + seed * 7 + 3) & 0xff);
  return out;
}

std::string asText(const Bytes& bytes) {
  return std::string(bytes.begin(), bytes.end());
}

data::Recipient rsaRecipient(const crypto::PrivateKey& key, const std::string& kid) {
  data::Recipient r;
  r.kid = kid;
  r.alg = "RSA-OAEP-256";
  r.rsa = std::make_shared<const crypto::PublicKey>(key.publicKey());
  return r;
}

data::Recipient octRecipient(const std::string& kid) {
  data::Recipient r;
  r.kid = kid;
  r.alg = "A256KW";
  r.oct = std::make_shared<const SecretBytes>(secretHex(kOct));
  return r;
}

Bytes sealCompact(const Bytes& plaintext, const data::Recipient& recipient) {
  const std::string text = take(data::sealCompact(plaintext, recipient));
  return Bytes(text.begin(), text.end());
}

Bytes sealChunked(const Bytes& plaintext, const data::Recipient& recipient, uint64_t cs = kChunk) {
  Bytes out;
  auto sealer = take(data::ChunkedSealer::create(
      recipient,
      [&out](ByteView piece) {
        out.insert(out.end(), piece.begin(), piece.end());
        return okStatus();
      },
      cs));
  REQUIRE(sealer->write(plaintext).ok());
  REQUIRE(sealer->finish().ok());
  return out;
}

// Flips a byte of chunk `index` of a chunked object sealed with chunk size `cs`.
Bytes corruptChunk(Bytes object, std::size_t index, uint64_t cs = kChunk) {
  const std::size_t header_end =
      static_cast<std::size_t>(std::find(object.begin(), object.end(), '\n') - object.begin()) + 1;
  object.at(header_end + index * (cs + 16) + 10) ^= 0x01;
  return object;
}

// A source that answers storage errors: `size_status` for size(), or reads from `failing_from`
// on with `read_status` (a blob whose later ranges fail).
class FailingSource final : public data::ObjectSource {
 public:
  FailingSource(Bytes bytes, Status size_status, uint64_t failing_from, Status read_status)
      : inner_(std::move(bytes)),
        size_status_(std::move(size_status)),
        failing_from_(failing_from),
        read_status_(std::move(read_status)) {}
  StatusOr<uint64_t> size() override {
    if (!size_status_.ok()) return size_status_;
    return inner_.size();
  }
  StatusOr<Bytes> read(uint64_t offset, std::size_t length) override {
    if (offset + length > failing_from_) return read_status_;
    return inner_.read(offset, length);
  }
  std::string describe() const override { return "failing test blob"; }

 private:
  data::MemoryObjectSource inner_;
  Status size_status_;
  uint64_t failing_from_;
  Status read_status_;
};

class LogCapture {
 public:
  LogCapture() {
    previous_ = log::setSink([this](log::Level, std::string_view line) {
      std::lock_guard lock(mutex_);
      lines_.emplace_back(line);
    });
  }
  ~LogCapture() { log::setSink(previous_); }
  std::vector<std::string> lines() const {
    std::lock_guard lock(mutex_);
    return lines_;
  }

 private:
  log::Sink previous_;
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;
};

// The agent's router and server on a client socket; blobs by URL (without query) in memory.
struct DataServer {
  SocketTestDir dir;
  std::shared_ptr<Keyring> keyring = std::make_shared<Keyring>();
  std::unique_ptr<Router> router;
  std::optional<UnixListeningSocket> socket;
  std::unique_ptr<HttpServer> server;
  std::mutex mutex;
  std::map<std::string, Bytes> blobs;
  std::map<std::string, Status> storage_errors;  // size() answers this
  std::map<std::string, std::pair<uint64_t, Status>> failing_reads;
  std::map<std::string, std::string> files;  // url -> a file holding the blob
  std::vector<DataOpenRequest> requests;

  explicit DataServer(std::vector<std::string> operations = {"open-data", "keys", "wrap", "unwrap"},
                      std::vector<std::string> sources = {std::string(kSource)}) {
    // data-kek: v1 released first, v2 after a rotation (primary); other-kek; aes-kek (oct).
    REQUIRE(keyring->addVersion(versionOf("data-kek", "v1", rsaJwk(rsaPrivate2048())), true).ok());
    REQUIRE(keyring->addVersion(versionOf("data-kek", "v2", rsaJwk(rsaPrivate2048b())), true).ok());
    REQUIRE(keyring->addVersion(versionOf("other-kek", "o1", rsaJwk(rsaPrivate2048())), true).ok());
    REQUIRE(keyring->addVersion(versionOf("aes-kek", "a1", octJwk(kOct)), true).ok());
    std::vector<AuthRule> rules;
    rules.push_back({"reader",
                     {::getuid()},
                     {},
                     std::move(operations),
                     {"data-kek", "aes-kek", "other-kek"},
                     std::nullopt});
    router = std::make_unique<Router>(
        keyring, std::make_shared<const Authorizer>(take(Authorizer::create(std::move(rules)))),
        systemClock());
    router->setReady(true);
    DataOpenOptions options;
    options.sources = std::move(sources);
    options.max_concurrent = 4;
    options.limits.read_bytes = 16 * 1024;  // several storage reads per test object
    router->setDataOpen(
        options,
        [this](const DataOpenRequest& request) -> StatusOr<std::unique_ptr<data::ObjectSource>> {
          std::lock_guard lock(mutex);
          requests.push_back(request);
          const std::string name = dataUrlForLogs(request.url);
          if (auto e = storage_errors.find(name); e != storage_errors.end()) {
            return std::unique_ptr<data::ObjectSource>(
                std::make_unique<FailingSource>(Bytes(), e->second, 0, okStatus()));
          }
          if (auto file = files.find(name); file != files.end()) {
            auto opened = data::FileObjectSource::open(file->second);
            if (!opened.ok()) return opened.status();
            return std::unique_ptr<data::ObjectSource>(std::move(*opened));
          }
          const auto blob = blobs.find(name);
          if (blob == blobs.end()) return notFoundError("BlobNotFound: " + name);
          if (auto f = failing_reads.find(name); f != failing_reads.end()) {
            return std::unique_ptr<data::ObjectSource>(std::make_unique<FailingSource>(
                blob->second, okStatus(), f->second.first, f->second.second));
          }
          return std::unique_ptr<data::ObjectSource>(
              std::make_unique<data::MemoryObjectSource>(blob->second, "test blob"));
        });
    UnixSocketOptions socket_options;
    socket_options.path = dir.file("c.sock");
    socket.emplace(take(UnixListeningSocket::create(socket_options)));
    HttpServerOptions server_options;
    server_options.max_streams = 4;
    server = take(HttpServer::start(server_options, *router, {{socket->fd(), Listener::Client}},
                                    systemClock()));
  }
  ~DataServer() { server->stop(); }

  void put(const std::string& name, Bytes object) {
    std::lock_guard lock(mutex);
    blobs[std::string(kSource) + name] = std::move(object);
  }
  std::string path() const { return socket->path(); }
};

std::string openRequest(const std::string& body, const std::string& extra = "") {
  return "POST /data/open HTTP/1.1\r\nHost: skr-agent\r\nX-SKR-Request: 1\r\n"
         "Content-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n" + extra + "\r\n" + body;
}

std::string openBody(const std::string& url, const std::string& key) {
  return R"({"url":")" + url + R"(","key":")" + key + R"("})";
}

// One open on a fresh connection, read to its end.
TestResponse open(DataServer& test, const std::string& url, const std::string& key) {
  HttpTestClient client(test.path());
  REQUIRE(client.send(openRequest(openBody(url, key))));
  std::optional<TestResponse> response = client.read();
  REQUIRE(response);
  return *response;
}

std::string codeOf(const TestResponse& response) {
  const std::size_t at = response.body.find(R"("code":")");
  if (at == std::string::npos) return {};
  const std::size_t start = at + 8;
  return response.body.substr(start, response.body.find('"', start) - start);
}

template <typename Predicate>
bool eventually(Predicate predicate, std::chrono::milliseconds timeout = 3000ms) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!predicate()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

TEST_CASE("POST /data/open streams the plaintext of a compact and a chunked object",
          "[agent][data]") {
  DataServer test;
  const Bytes small = pattern(5000);
  const Bytes large = pattern(300 * 1024 + 17, 1);
  test.put("small.jwe",
           sealCompact(small, rsaRecipient(rsaPrivate2048b(), kidOf("data-kek", "v2"))));
  test.put("large.skr", sealChunked(large, octRecipient(kidOf("aes-kek", "a1"))));

  HttpTestClient client(test.path());
  // Two opens on one keep-alive connection, the second pipelined behind the first.
  REQUIRE(client.send(
      openRequest(openBody(std::string(kSource) + "small.jwe?sv=1&sig=SECRETSIG", "data-kek")) +
      openRequest(openBody(std::string(kSource) + "large.skr", "aes-kek"))));
  std::optional<TestResponse> compact = client.read();
  REQUIRE(compact);
  CHECK(compact->status == 200);
  CHECK(compact->chunked);
  CHECK(compact->complete);
  CHECK(compact->header("content-type") == "application/octet-stream");
  CHECK(compact->header("x-skr-kid") == kidOf("data-kek", "v2"));
  CHECK(compact->header("x-skr-envelope") == "compact");
  CHECK(compact->body == asText(small));
  std::optional<TestResponse> chunked = client.read();
  REQUIRE(chunked);
  CHECK(chunked->status == 200);
  CHECK(chunked->complete);
  CHECK(chunked->header("x-skr-kid") == kidOf("aes-kek", "a1"));
  CHECK(chunked->header("x-skr-envelope") == "chunked");
  CHECK(chunked->body == asText(large));

  std::lock_guard lock(test.mutex);
  REQUIRE(test.requests.size() == 2);
  CHECK(test.requests[0].auth == "sas");  // sig= in the query
  CHECK(test.requests[0].url == std::string(kSource) + "small.jwe?sv=1&sig=SECRETSIG");
  CHECK(test.requests[1].auth == "entra");
}

TEST_CASE("POST /data/open opens an object sealed to an older version after a rotation",
          "[agent][data]") {
  DataServer test;
  const Bytes plaintext = pattern(20000, 2);
  test.put("old.skr",
           sealChunked(plaintext, rsaRecipient(rsaPrivate2048(), kidOf("data-kek", "v1"))));
  const TestResponse response = open(test, std::string(kSource) + "old.skr", "data-kek");
  CHECK(response.status == 200);
  CHECK(response.complete);
  CHECK(response.header("x-skr-kid") == kidOf("data-kek", "v1"));
  CHECK(response.body == asText(plaintext));
}

TEST_CASE("POST /data/open refuses objects of another key or of a version it does not hold",
          "[agent][data]") {
  DataServer test;
  test.put("other.skr",
           sealChunked(pattern(100), rsaRecipient(rsaPrivate2048(), kidOf("other-kek", "o1"))));
  test.put("v9.skr",
           sealChunked(pattern(100), rsaRecipient(rsaPrivate2048b(), kidOf("data-kek", "v9"))));
  const TestResponse mismatch = open(test, std::string(kSource) + "other.skr", "data-kek");
  CHECK(mismatch.status == 403);
  CHECK(codeOf(mismatch) == "KeyMismatch");
  CHECK_FALSE(mismatch.chunked);
  const TestResponse unknown = open(test, std::string(kSource) + "v9.skr", "data-kek");
  CHECK(unknown.status == 404);
  CHECK(codeOf(unknown) == "KeyNotFound");
  CHECK(unknown.body.find("v9") != std::string::npos);
}

TEST_CASE("POST /data/open: a bad first chunk is a 422, a bad later chunk cuts the body",
          "[agent][data]") {
  DataServer test;
  const Bytes plaintext = pattern(20 * kChunk + 5, 3);
  const Bytes sealed = sealChunked(plaintext, octRecipient(kidOf("aes-kek", "a1")));
  test.put("bad0.skr", corruptChunk(sealed, 0));
  test.put("bad5.skr", corruptChunk(sealed, 5));
  test.put("compact.jwe", [&] {
    Bytes c = sealCompact(pattern(3000), octRecipient(kidOf("aes-kek", "a1")));
    c[c.size() - 30] = c[c.size() - 30] == 'A' ? 'B' : 'A';  // inside the tag or ciphertext
    return c;
  }());
  Bytes truncated = sealed;
  truncated.resize(truncated.size() - (kChunk + 16 + 5));  // the final chunk is gone
  test.put("truncated.skr", truncated);

  HttpTestClient client(test.path());
  REQUIRE(client.send(openRequest(openBody(std::string(kSource) + "bad0.skr", "aes-kek"))));
  std::optional<TestResponse> first = client.read();
  REQUIRE(first);
  CHECK(first->status == 422);
  CHECK(codeOf(*first) == "DataIntegrity");
  CHECK_FALSE(first->chunked);
  // The connection stays usable after an error answered before the body.
  REQUIRE(client.send(openRequest(openBody(std::string(kSource) + "compact.jwe", "aes-kek"))));
  std::optional<TestResponse> compact = client.read();
  REQUIRE(compact);
  CHECK(compact->status == 422);
  CHECK(codeOf(*compact) == "DataIntegrity");

  for (const char* name : {"bad5.skr", "truncated.skr"}) {
    INFO(name);
    HttpTestClient cut_client(test.path());
    REQUIRE(cut_client.send(openRequest(openBody(std::string(kSource) + name, "aes-kek"))));
    std::optional<TestResponse> cut = cut_client.read();
    REQUIRE(cut);
    CHECK(cut->status == 200);
    CHECK_FALSE(cut->complete);  // no terminating chunk
    CHECK(cut->body.size() < plaintext.size());
    CHECK(cut->body == asText(plaintext).substr(0, cut->body.size()));
    if (std::string(name) == "bad5.skr") CHECK(cut->body.size() == 5 * kChunk);
    CHECK(cut_client.closedByServer());
  }
  const std::string metrics = test.router->metrics().render(*test.keyring, true, false);
  CHECK(metrics.find("skr_data_opens_total{result=\"DataIntegrity\"} 2") != std::string::npos);
  CHECK(metrics.find("skr_data_opens_total{result=\"cut\"} 2") != std::string::npos);
}

TEST_CASE("POST /data/open answers storage failures in the documented shapes", "[agent][data]") {
  DataServer test;
  const Bytes plaintext = pattern(10 * kChunk, 4);
  const Bytes sealed = sealChunked(plaintext, octRecipient(kidOf("aes-kek", "a1")));
  {
    std::lock_guard lock(test.mutex);
    test.storage_errors[std::string(kSource) + "forbidden"] =
        permissionDeniedError("AuthorizationPermissionMismatch");
    test.storage_errors[std::string(kSource) + "throttled"] =
        unavailableError("HTTP 503 ServerBusy after 4 attempts");
    test.failing_reads[std::string(kSource) + "late"] = {
        sealed.size() / 2, unavailableError("HTTP 503 after 4 attempts")};
  }
  test.put("late", sealed);
  const TestResponse missing = open(test, std::string(kSource) + "missing", "aes-kek");
  CHECK(missing.status == 404);
  CHECK(codeOf(missing) == "BlobNotFound");
  const TestResponse forbidden = open(test, std::string(kSource) + "forbidden", "aes-kek");
  CHECK(forbidden.status == 502);
  CHECK(codeOf(forbidden) == "StorageForbidden");
  const TestResponse throttled = open(test, std::string(kSource) + "throttled", "aes-kek");
  CHECK(throttled.status == 503);
  CHECK(codeOf(throttled) == "StorageUnavailable");
  CHECK(throttled.header("retry-after") == "1");
  const TestResponse late = open(test, std::string(kSource) + "late", "aes-kek");
  CHECK(late.status == 200);
  CHECK_FALSE(late.complete);
}

TEST_CASE("POST /data/open refuses URLs outside agent.data.sources and bad requests",
          "[agent][data]") {
  DataServer test;
  test.put("x.skr", sealChunked(pattern(10), octRecipient(kidOf("aes-kek", "a1"))));
  const TestResponse outside = open(test, "https://evil.example/enc/x.skr", "aes-kek");
  CHECK(outside.status == 403);
  CHECK(codeOf(outside) == "DataSourceNotAllowed");
  // A prefix is compared as text, so it must not be escaped with dot segments.
  const TestResponse dots = open(test, std::string(kSource) + "../other/x.skr", "aes-kek");
  CHECK(dots.status == 400);
  CHECK(codeOf(dots) == "BadParameter");
  const TestResponse http = open(test, "http://acct.blob.core.windows.net/enc/x.skr", "aes-kek");
  CHECK(http.status == 400);
  HttpTestClient client(test.path());
  REQUIRE(client.send(
      openRequest(R"({"url":")" + std::string(kSource) + R"(x.skr","key":"aes-kek","extra":1})")));
  std::optional<TestResponse> extra = client.read();
  REQUIRE(extra);
  CHECK(extra->status == 400);
  CHECK(codeOf(*extra) == "BadParameter");
  std::lock_guard lock(test.mutex);
  CHECK(test.requests.empty());  // no storage request for any of them

  DataServer closed({"open-data"}, {});
  const TestResponse none = open(closed, std::string(kSource) + "x.skr", "aes-kek");
  CHECK(none.status == 403);
  CHECK(codeOf(none) == "DataSourceNotAllowed");
}

TEST_CASE("POST /data/open needs the open-data operation", "[agent][data]") {
  DataServer test({"unwrap", "keys"});
  test.put("x.skr", sealChunked(pattern(10), octRecipient(kidOf("aes-kek", "a1"))));
  const TestResponse refused = open(test, std::string(kSource) + "x.skr", "aes-kek");
  CHECK(refused.status == 403);
  CHECK(codeOf(refused) == "Forbidden");
  std::lock_guard lock(test.mutex);
  CHECK(test.requests.empty());
}

TEST_CASE("POST /data/open answers 429 beyond max_concurrent opens and frees slots",
          "[agent][data]") {
  DataServer test;
  // Large enough that an unread stream blocks on backpressure and stays open.
  const Bytes plaintext = pattern(std::size_t{8} * 1024 * 1024, 5);
  test.put("big.skr", sealChunked(plaintext, octRecipient(kidOf("aes-kek", "a1")), 64 * 1024));
  const std::string url = std::string(kSource) + "big.skr";
  std::vector<std::unique_ptr<HttpTestClient>> readers;
  for (int i = 0; i < 4; ++i) {
    readers.push_back(std::make_unique<HttpTestClient>(test.path()));
    REQUIRE(readers.back()->send(openRequest(openBody(url, "aes-kek"))));
    std::optional<TestResponse> head = readers.back()->readHead();
    REQUIRE(head);
    REQUIRE(head->status == 200);
  }
  const TestResponse fifth = open(test, url, "aes-kek");
  CHECK(fifth.status == 429);
  CHECK(codeOf(fifth) == "TooManyRequests");
  CHECK(fifth.header("retry-after") == "1");
  // The four streams hold no request worker: wrap and unwrap are answered meanwhile.
  const std::string dek = b64(pattern(32, 6));
  const auto start = std::chrono::steady_clock::now();
  HttpTestClient keys(test.path());
  for (int i = 0; i < 20; ++i) {
    const std::string wrap = R"({"alg":"A256KW","value":")" + dek + R"("})";
    REQUIRE(
        keys.send("POST /keys/aes-kek/wrapkey HTTP/1.1\r\nHost: x\r\nX-SKR-Request: 1\r\n"
                  "Content-Length: " +
                  std::to_string(wrap.size()) + "\r\n\r\n" + wrap));
    std::optional<TestResponse> wrapped = keys.read();
    REQUIRE(wrapped);
    REQUIRE(wrapped->status == 200);
    const std::size_t at = wrapped->body.find(R"("value":")") + 9;
    const std::string unwrap = R"({"alg":"A256KW","value":")" +
                               wrapped->body.substr(at, wrapped->body.find('"', at) - at) + R"("})";
    REQUIRE(
        keys.send("POST /keys/aes-kek/unwrapkey HTTP/1.1\r\nHost: x\r\nX-SKR-Request: 1\r\n"
                  "Content-Length: " +
                  std::to_string(unwrap.size()) + "\r\n\r\n" + unwrap));
    std::optional<TestResponse> unwrapped = keys.read();
    REQUIRE(unwrapped);
    REQUIRE(unwrapped->status == 200);
    CHECK(unwrapped->body.find(R"("value":")" + dek + R"(")") != std::string::npos);
  }
  CHECK(std::chrono::steady_clock::now() - start < 3s);
  CHECK(test.router->dataHandlers().running() == 4);
  readers.front().reset();  // hangs up: its stream ends and frees its slot
  REQUIRE(eventually([&] { return test.router->dataHandlers().running() == 3; }));
  HttpTestClient again(test.path());
  REQUIRE(again.send(openRequest(openBody(url, "aes-kek"))));
  std::optional<TestResponse> served = again.read();
  REQUIRE(served);
  CHECK(served->status == 200);
  CHECK(served->complete);
  CHECK(served->body.size() == plaintext.size());
}

// ASan keeps freed memory in quarantine and TSan shadows it: RSS says nothing about the agent's
// buffering there, and both are ~30x slower.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

// VmRSS of this process in KiB.
long residentKiB() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return 0;
}

TEST_CASE("POST /data/open streams a large object in bounded memory", "[agent][data]") {
  // 128 MiB by default (16 under sanitizers); SKR_DATA_OPEN_TEST_MIB=1024 measures 1 GiB.
  const char* mib_env = std::getenv("SKR_DATA_OPEN_TEST_MIB");
  const std::size_t mib =
      mib_env != nullptr ? std::strtoul(mib_env, nullptr, 10) : (kSanitized ? 16 : 128);
  REQUIRE(mib >= 16);
  const std::size_t total = mib * 1024 * 1024;
  DataServer test;
  const std::string file = test.dir.file("big.skr");
  {
    std::FILE* out = std::fopen(file.c_str(), "wb");
    REQUIRE(out != nullptr);
    auto sealer = take(data::ChunkedSealer::create(
        octRecipient(kidOf("aes-kek", "a1")),
        [out](ByteView piece) {
          return std::fwrite(piece.data(), 1, piece.size(), out) == piece.size()
                     ? okStatus()
                     : internalError("write failed");
        },
        data::kDefaultChunkSize));
    Bytes block(1024 * 1024);
    for (std::size_t offset = 0; offset < total; offset += block.size()) {
      for (std::size_t i = 0; i < block.size(); ++i) {
        block[i] = static_cast<uint8_t>(((offset + i) * 131 + 3) & 0xff);
      }
      REQUIRE(sealer->write(block).ok());
    }
    REQUIRE(sealer->finish().ok());
    REQUIRE(std::fclose(out) == 0);
  }
  {
    std::lock_guard lock(test.mutex);
    test.files[std::string(kSource) + "big.skr"] = file;
  }
  const long rss_before = residentKiB();
  long rss_peak = rss_before;
  HttpTestClient client(test.path());
  REQUIRE(client.send(openRequest(openBody(std::string(kSource) + "big.skr", "aes-kek"))));
  const auto start = std::chrono::steady_clock::now();
  std::optional<TestResponse> response = client.readHead();
  REQUIRE(response);
  REQUIRE(response->status == 200);
  std::size_t received = 0;
  bool in_order = true;
  std::size_t reads = 0;
  client.readBody(
      *response, false,
      [&](std::string_view data) {
        for (std::size_t i = 0; i < data.size() && in_order; i += 4093) {
          in_order = static_cast<uint8_t>(data[i]) ==
                     static_cast<uint8_t>(((received + i) * 131 + 3) & 0xff);
        }
        received += data.size();
      },
      [&] {
        if (++reads % 256 == 0) rss_peak = std::max(rss_peak, residentKiB());
      });
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  rss_peak = std::max(rss_peak, residentKiB());
  CHECK(response->complete);
  CHECK(received == total);
  CHECK(in_order);
  const double growth_mib = static_cast<double>(rss_peak - rss_before) / 1024.0;
  WARN("opened " << mib << " MiB through POST /data/open in " << seconds << " s ("
                 << static_cast<double>(mib) / seconds << " MiB/s); RSS grew by " << growth_mib
                 << " MiB (peak " << rss_peak / 1024 << " MiB)");
  // Storage reads of 4 MiB, one 1 MiB chunk, two pieces waiting: far below the object.
  if (!kSanitized) CHECK(growth_mib < 48.0);
}

TEST_CASE("POST /data/open logs the blob without its query and no plaintext", "[agent][data]") {
  LogCapture capture;
  DataServer test;
  const Bytes plaintext = toBytes("PLAINTEXT-MARKER-1234567890");
  test.put("s.jwe", sealCompact(plaintext, octRecipient(kidOf("aes-kek", "a1"))));
  const TestResponse response =
      open(test, std::string(kSource) + "s.jwe?sv=2023&sig=SECRETSIGNATURE", "aes-kek");
  REQUIRE(response.status == 200);
  CHECK(response.body == asText(plaintext));
  REQUIRE(eventually([&] {
    for (const std::string& line : capture.lines()) {
      if (line.find("\"event\":\"request\"") != std::string::npos &&
          line.find("data_open") != std::string::npos)
        return true;
    }
    return false;
  }));
  bool data_line = false;
  for (const std::string& line : capture.lines()) {
    CHECK(line.find("SECRETSIGNATURE") == std::string::npos);
    CHECK(line.find("PLAINTEXT-MARKER") == std::string::npos);
    if (line.find("\"event\":\"data_open\"") != std::string::npos) {
      data_line = true;
      CHECK(line.find(std::string(kSource) + "s.jwe\"") != std::string::npos);
      CHECK(line.find("\"result\":\"ok\"") != std::string::npos);
    }
    if (line.find("\"event\":\"request\"") != std::string::npos &&
        line.find("data_open") != std::string::npos) {
      CHECK(line.find("\"status\":200") != std::string::npos);
      CHECK(line.find("\"version\":\"a1\"") != std::string::npos);
    }
  }
  CHECK(data_line);
}

}  // namespace
}  // namespace skr::agent
