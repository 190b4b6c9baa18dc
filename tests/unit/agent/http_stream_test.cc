// Streamed responses of the agent's HTTP server (HttpResponse::stream) on real Unix sockets, with
// a fake stream that writes a known byte pattern: chunked framing as a client decodes it,
// backpressure against a slow reader, failures mid-stream, the stream limit, unwrap-like requests
// answered while streams run, and stopping during a stream.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent/http_server.h"
#include "agent/unix_socket.h"
#include "tests/unit/agent/http_test_client.h"
#include "tests/unit/agent/socket_test_dir.h"

namespace skr::agent {
namespace {

using namespace std::chrono_literals;
using testing::HttpTestClient;
using testing::SocketTestDir;
using testing::TestResponse;

// Byte i of every test stream.
char patternByte(std::size_t i) {
  return static_cast<char>((i * 31 + 7) & 0xff);
}

// Writes `total` pattern bytes in pieces of `piece` (forever when `total` is nullopt), failing
// with DataLoss once `fail_after` bytes are written when that is set. Records what it produced and
// how it ended.
class PatternStream final : public BodyStream {
 public:
  struct Record {
    std::atomic<std::size_t> produced{0};
    std::atomic<int> started{0};
    std::mutex mutex;
    std::condition_variable cv;
    int finished = 0;
    bool last_ok = false;
    bool last_cancelled = false;
    std::atomic<bool> late_header_refused{false};

    bool waitFinished(int count, std::chrono::milliseconds timeout) {
      std::unique_lock<std::mutex> lock(mutex);
      return cv.wait_for(lock, timeout, [&] { return finished >= count; });
    }
  };

  PatternStream(std::shared_ptr<Record> record, std::optional<std::size_t> total, std::size_t piece,
                std::optional<std::size_t> fail_after)
      : record_(std::move(record)), total_(total), piece_(piece), fail_after_(fail_after) {}

  Status produce(BodyWriter& writer) override {
    ++record_->started;
    Status result = run(writer);
    std::lock_guard<std::mutex> lock(record_->mutex);
    ++record_->finished;
    record_->last_ok = result.ok();
    record_->last_cancelled = result.code() == StatusCode::FailedPrecondition;
    record_->cv.notify_all();
    return result;
  }

 private:
  Status run(BodyWriter& writer) {
    std::size_t offset = 0;
    SKR_RETURN_IF_ERROR(writer.addHeader("X-Stream-Started", "yes"));
    while (true) {
      if (fail_after_ && offset >= *fail_after_) return dataLossError("chunk did not verify");
      if (total_ && offset >= *total_) return okStatus();
      const std::size_t n = total_ ? std::min(piece_, *total_ - offset) : piece_;
      SecretBytes bytes(n);
      auto target = bytes.mutableView(grantSecretAccess());
      for (std::size_t i = 0; i < n; ++i) target[i] = static_cast<uint8_t>(patternByte(offset + i));
      record_->produced += n;
      Status written = writer.write(std::move(bytes));
      if (!written.ok()) return written;
      if (offset == 0) {
        record_->late_header_refused =
            writer.addHeader("X-Too-Late", "1").code() == StatusCode::FailedPrecondition;
      }
      offset += n;
    }
  }

  std::shared_ptr<Record> record_;
  std::optional<std::size_t> total_;
  std::size_t piece_;
  std::optional<std::size_t> fail_after_;
};

std::optional<std::size_t> queryNumber(const HttpRequest& request, std::string_view name) {
  for (const auto& [key, value] : request.query) {
    if (key == name) return std::stoull(value);
  }
  return std::nullopt;
}

// POST /stream?bytes=N&piece=P&fail=F streams a PatternStream (endless without bytes=); anything
// else is a small JSON
// answer (as an unwrap would be).
class StreamHandler : public RequestHandler {
 public:
  std::shared_ptr<PatternStream::Record> record = std::make_shared<PatternStream::Record>();

  HttpResponse handle(const HttpRequest& request) override {
    HttpResponse response;
    if (request.path == "/stream") {
      response.headers.emplace_back("Content-Type", "application/octet-stream");
      response.stream = std::make_shared<PatternStream>(
          record, queryNumber(request, "bytes"), queryNumber(request, "piece").value_or(65536),
          queryNumber(request, "fail"));
      return response;
    }
    response.body = SecretBytes::copyOf(asBytes(R"({"kid":"k","value":"AAAA"})"));
    return response;
  }
};

struct StreamServer {
  SocketTestDir dir;
  std::optional<UnixListeningSocket> socket;
  std::unique_ptr<HttpServer> server;

  StreamServer(RequestHandler& handler, HttpServerOptions options) {
    UnixSocketOptions socket_options;
    socket_options.path = dir.file("c.sock");
    auto created = UnixListeningSocket::create(socket_options);
    REQUIRE(created.ok());
    socket.emplace(std::move(*created));
    auto started =
        HttpServer::start(options, handler, {{socket->fd(), Listener::Client}}, systemClock());
    REQUIRE(started.ok());
    server = std::move(*started);
  }
  ~StreamServer() { server->stop(); }
  std::string path() const { return socket->path(); }
};

std::string post(std::string_view target, std::string_view extra = "") {
  return "POST " + std::string(target) + " HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n" +
         std::string(extra) + "\r\n";
}

bool matchesPattern(std::string_view data, std::size_t offset = 0) {
  for (std::size_t i = 0; i < data.size(); ++i) {
    if (data[i] != patternByte(offset + i)) return false;
  }
  return true;
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

TEST_CASE("a streamed response is chunked, ends with the zero chunk and keeps the connection",
          "[agent][http][stream]") {
  StreamHandler handler;
  StreamServer test(handler, {});
  HttpTestClient client(test.path());
  REQUIRE(client.connected());
  // The second request is pipelined behind the streamed one.
  REQUIRE(client.send(post("/stream?bytes=300000&piece=65536") + post("/unwrap")));
  std::optional<TestResponse> streamed = client.read();
  REQUIRE(streamed);
  CHECK(streamed->status == 200);
  CHECK(streamed->header("transfer-encoding") == "chunked");
  CHECK(streamed->header("content-length").empty());
  CHECK(streamed->header("content-type") == "application/octet-stream");
  CHECK(streamed->header("cache-control") == "no-store");
  CHECK(streamed->header("x-stream-started") == "yes");  // added by the stream before its body
  CHECK(streamed->header("x-too-late").empty());
  CHECK(handler.record->late_header_refused.load());
  CHECK(streamed->complete);
  CHECK(streamed->chunks == 5);  // 4 x 65536 + 37856
  CHECK(streamed->body.size() == 300000);
  CHECK(matchesPattern(streamed->body));
  std::optional<TestResponse> next = client.read();
  REQUIRE(next);
  CHECK(next->status == 200);
  CHECK(next->body == R"({"kid":"k","value":"AAAA"})");
  CHECK(eventually([&] { return test.server->activeStreams() == 0; }));
  CHECK(test.server->bufferedStreamBytes() == 0);
}

TEST_CASE("an empty stream is the zero chunk alone, a stream failing at once an error answer",
          "[agent][http][stream]") {
  StreamHandler handler;
  StreamServer test(handler, {});
  HttpTestClient client(test.path());
  REQUIRE(client.send(post("/stream?bytes=0") + post("/stream?bytes=10&fail=0")));
  std::optional<TestResponse> empty = client.read();
  REQUIRE(empty);
  CHECK(empty->status == 200);
  CHECK(empty->complete);
  CHECK(empty->chunks == 0);
  CHECK(empty->body.empty());
  // Nothing was sent yet: the stream's failedBeforeBody() answer, and the connection stays.
  std::optional<TestResponse> failed = client.read();
  REQUIRE(failed);
  CHECK(failed->status == 500);
  CHECK(failed->complete);
  CHECK_FALSE(failed->chunked);
  CHECK(failed->body.find("InternalError") != std::string::npos);
  REQUIRE(client.send(post("/unwrap")));
  std::optional<TestResponse> next = client.read();
  REQUIRE(next);
  CHECK(next->status == 200);
}

TEST_CASE("a piece larger than the chunk limit is sent as several chunks",
          "[agent][http][stream]") {
  StreamHandler handler;
  StreamServer test(handler, {});
  HttpTestClient client(test.path());
  constexpr std::size_t kPiece = 2 * kMaxStreamChunkBytes + 100;
  REQUIRE(client.send(
      post("/stream?bytes=" + std::to_string(kPiece) + "&piece=" + std::to_string(kPiece))));
  std::optional<TestResponse> response = client.read();
  REQUIRE(response);
  CHECK(response->complete);
  CHECK(response->chunks == 3);
  CHECK(response->body.size() == kPiece);
  CHECK(matchesPattern(response->body));
}

TEST_CASE("HEAD of a streamed route sends the head only and does not run the stream",
          "[agent][http][stream]") {
  StreamHandler handler;
  StreamServer test(handler, {});
  HttpTestClient client(test.path());
  REQUIRE(client.send("HEAD /stream?bytes=1000 HTTP/1.1\r\nHost: x\r\n\r\n" + post("/unwrap")));
  std::optional<TestResponse> head = client.read(/*head_request=*/true);
  REQUIRE(head);
  CHECK(head->status == 200);
  CHECK(head->header("transfer-encoding") == "chunked");
  std::optional<TestResponse> next = client.read();
  REQUIRE(next);
  CHECK(next->status == 200);
  CHECK(next->body == R"({"kid":"k","value":"AAAA"})");
  CHECK(handler.record->started.load() == 0);
}

TEST_CASE("a stream that fails mid-body closes the connection without the terminating chunk",
          "[agent][http][stream]") {
  StreamHandler handler;
  StreamServer test(handler, {});
  HttpTestClient client(test.path());
  REQUIRE(client.send(post("/stream?bytes=1048576&piece=65536&fail=262144") + post("/unwrap")));
  std::optional<TestResponse> cut = client.read();
  REQUIRE(cut);
  CHECK(cut->status == 200);
  CHECK_FALSE(cut->complete);
  CHECK(cut->body.size() <= 262144);
  CHECK(matchesPattern(cut->body));
  // The pipelined request is not answered: the connection is gone.
  CHECK(client.closedByServer());
  REQUIRE(handler.record->waitFinished(1, 3s));
  CHECK_FALSE(handler.record->last_ok);
  CHECK(eventually([&] { return test.server->activeStreams() == 0; }));
}

TEST_CASE("a slow reader of a 64 MiB stream keeps the server's buffered bytes bounded",
          "[agent][http][stream]") {
  StreamHandler handler;
  StreamServer test(handler, {});
  constexpr std::size_t kTotal = std::size_t{64} * 1024 * 1024;
  constexpr std::size_t kPiece = std::size_t{64} * 1024;
  // Two framed pieces at most: one being written, one waiting.
  constexpr std::size_t kServerBound = 2 * (kPiece + 16);
  // Plus what the kernel holds between the sockets (the server's send buffer, a few hundred KiB).
  constexpr std::size_t kInFlightBound = kServerBound + std::size_t{2} * 1024 * 1024;
  HttpTestClient client(test.path());
  REQUIRE(client.send(post("/stream?bytes=" + std::to_string(kTotal) + "&piece=65536")));
  std::optional<TestResponse> response = client.readHead();
  REQUIRE(response);
  REQUIRE(response->status == 200);

  std::size_t decoded = 0;
  bool in_order = true;
  std::size_t max_server_buffered = 0;
  std::size_t max_ahead = 0;
  std::size_t reads = 0;
  auto sample = [&] {
    max_server_buffered = std::max(max_server_buffered, test.server->bufferedStreamBytes());
    const std::size_t produced = handler.record->produced.load();
    if (produced > decoded) max_ahead = std::max(max_ahead, produced - decoded);
  };
  client.readBody(
      *response, false,
      [&](std::string_view data) {
        in_order = in_order && matchesPattern(data, decoded);
        decoded += data.size();
      },
      [&] {
        // Every 2 MiB the reader stops for 50 ms: the producer must wait, not buffer.
        if (++reads % 32 == 0) {
          std::this_thread::sleep_for(50ms);
          sample();
        }
      });
  sample();
  CHECK(response->complete);
  CHECK(decoded == kTotal);
  CHECK(in_order);
  INFO("server buffered at most " << max_server_buffered << " bytes, producer ahead at most "
                                  << max_ahead);
  CHECK(max_server_buffered <= kServerBound);
  CHECK(max_ahead <= kInFlightBound);
  CHECK(max_ahead > 0);
}

TEST_CASE("a reader that stops reading is cut off after write_timeout and the stream stops",
          "[agent][http][stream]") {
  StreamHandler handler;
  HttpServerOptions options;
  options.write_timeout = 300ms;
  StreamServer test(handler, options);
  HttpTestClient client(test.path());
  REQUIRE(client.send(post("/stream?piece=65536")));  // endless
  REQUIRE(client.readHead());
  REQUIRE(handler.record->waitFinished(1, 5s));
  CHECK(handler.record->last_cancelled);
  CHECK(eventually([&] { return test.server->openConnections() == 0; }));
  CHECK(eventually([&] { return test.server->activeStreams() == 0; }));
  CHECK(test.server->bufferedStreamBytes() == 0);
}

TEST_CASE("a reader that hangs up mid-stream stops the stream", "[agent][http][stream]") {
  StreamHandler handler;
  StreamServer test(handler, {});
  {
    HttpTestClient client(test.path());
    REQUIRE(client.send(post("/stream")));
    REQUIRE(client.readHead());
  }
  REQUIRE(handler.record->waitFinished(1, 3s));
  CHECK(handler.record->last_cancelled);
  CHECK(eventually([&] { return test.server->activeStreams() == 0; }));
  CHECK(test.server->bufferedStreamBytes() == 0);
}

TEST_CASE("streams beyond max_streams are answered 429 and a freed slot is reused",
          "[agent][http][stream]") {
  StreamHandler handler;
  HttpServerOptions options;
  options.max_streams = 2;
  StreamServer test(handler, options);
  auto first = std::make_unique<HttpTestClient>(test.path());
  HttpTestClient second(test.path());
  REQUIRE(first->send(post("/stream")));
  REQUIRE(second.send(post("/stream")));
  REQUIRE(first->readHead());
  REQUIRE(second.readHead());
  HttpTestClient third(test.path());
  REQUIRE(third.send(post("/stream")));
  std::optional<TestResponse> refused = third.read();
  REQUIRE(refused);
  CHECK(refused->status == 429);
  CHECK(refused->header("retry-after") == "1");
  CHECK(refused->body.find("TooManyRequests") != std::string::npos);
  first.reset();  // hangs up: its stream is cancelled and its slot freed
  REQUIRE(eventually([&] { return test.server->activeStreams() == 1; }));
  HttpTestClient fourth(test.path());
  REQUIRE(fourth.send(post("/stream?bytes=70000")));
  std::optional<TestResponse> served = fourth.read();
  REQUIRE(served);
  CHECK(served->status == 200);
  CHECK(served->complete);
  CHECK(served->body.size() == 70000);
}

TEST_CASE("requests keep being answered while four streams run", "[agent][http][concurrency]") {
  StreamHandler handler;
  HttpServerOptions options;
  options.workers = 2;
  options.max_streams = 4;
  StreamServer test(handler, options);
  std::vector<std::unique_ptr<HttpTestClient>> readers;
  for (int i = 0; i < 4; ++i) {
    readers.push_back(std::make_unique<HttpTestClient>(test.path()));
    REQUIRE(readers.back()->send(post("/stream")));  // endless, and nobody reads
    REQUIRE(readers.back()->readHead());
  }
  REQUIRE(eventually([&] { return test.server->activeStreams() == 4; }));
  std::atomic<int> answered{0};
  auto caller = [&] {
    HttpTestClient client(test.path());
    for (int i = 0; i < 50; ++i) {
      if (!client.send(post("/unwrap"))) return;
      std::optional<TestResponse> response = client.read();
      if (!response || response->status != 200) return;
      ++answered;
    }
  };
  const auto start = std::chrono::steady_clock::now();
  std::thread a(caller);
  std::thread b(caller);
  a.join();
  b.join();
  CHECK(answered.load() == 100);
  CHECK(std::chrono::steady_clock::now() - start < 3s);
  CHECK(test.server->activeStreams() == 4);
  CHECK(test.server->bufferedStreamBytes() <= 4 * 2 * (65536 + 16));
  readers.clear();
  CHECK(eventually([&] { return test.server->activeStreams() == 0; }));
}

TEST_CASE("stopping the server ends running streams promptly", "[agent][http][stream]") {
  StreamHandler handler;
  HttpServerOptions options;
  options.drain_timeout = 10s;
  StreamServer test(handler, options);
  HttpTestClient client(test.path());
  REQUIRE(client.send(post("/stream")));
  std::optional<TestResponse> response = client.readHead();
  REQUIRE(response);
  const auto start = std::chrono::steady_clock::now();
  test.server->stop();
  CHECK(std::chrono::steady_clock::now() - start < 2s);
  client.readBody(*response);
  CHECK_FALSE(response->complete);
  REQUIRE(handler.record->waitFinished(1, 1s));
  CHECK(handler.record->last_cancelled);
}

}  // namespace
}  // namespace skr::agent
