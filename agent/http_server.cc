#include "agent/http_server.h"

#include <fcntl.h>
#include <malloc.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>

#include "agent/http_parser.h"
#include "agent/peer_credentials.h"
#include "common/azure/akv_error.h"
#include "common/log/logger.h"

namespace skr::agent {
namespace {

using TimePoint = std::chrono::steady_clock::time_point;

// epoll tokens: the two eventfds, then one per listening socket, then connection ids.
constexpr uint64_t kStopToken = 0;
constexpr uint64_t kWakeToken = 1;
constexpr uint64_t kFirstListenerToken = 2;
constexpr uint64_t kFirstConnectionId = uint64_t{1} << 32;

constexpr std::size_t kReadChunk = std::size_t{64} * 1024;
// After a request whose body or response has at least this many bytes (or a connection that
// buffered that many before it was closed), free heap pages go back to the kernel (malloc_trim),
// so a burst of large requests (100-item batches are about 35 KiB) does not leave RSS high.
constexpr std::size_t kTrimAfterBytes = std::size_t{16} * 1024;
constexpr int kMaxEvents = 64;

std::string_view reasonPhrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 417: return "Expectation Failed";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Status";
  }
}

bool isHeaderNameChar(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return c != '\0' && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

bool validHeader(const std::string& name, const std::string& value) {
  if (name.empty() || !std::all_of(name.begin(), name.end(), isHeaderNameChar)) return false;
  return std::none_of(value.begin(), value.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && u != '\t') || u == 0x7f;
  });
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

HttpResponse errorResponse(int status, std::string_view code, std::string_view message) {
  HttpResponse response;
  response.status = status;
  response.body = SecretBytes::copyOf(asBytes(azure::akvErrorBody(code, message)));
  return response;
}

// Status line, headers and (unless `head_only`) the body of `response`, appended to `out`.
// Content-Length (Transfer-Encoding for a `chunked` stream), Connection and Cache-Control are the
// server's; a handler's Content-Type wins.
void serializeResponse(const HttpResponse& response, bool close, bool head_only, SecretBytes& out,
                       bool chunked = false) {
  std::string head = "HTTP/1.1 " + std::to_string(response.status) + " ";
  head += reasonPhrase(response.status);
  head += "\r\n";
  bool has_content_type = false;
  for (const auto& [name, value] : response.headers) {
    if (equalsIgnoreCase(name, "content-length") || equalsIgnoreCase(name, "connection") ||
        equalsIgnoreCase(name, "transfer-encoding") || equalsIgnoreCase(name, "cache-control")) {
      continue;
    }
    if (equalsIgnoreCase(name, "content-type")) has_content_type = true;
    head.append(name).append(": ").append(value).append("\r\n");
  }
  if (!has_content_type) head += "Content-Type: application/json\r\n";
  head += "Cache-Control: no-store\r\n";
  if (chunked) {
    head += "Transfer-Encoding: chunked\r\n";
  } else {
    head += "Content-Length: " + std::to_string(response.body.size()) + "\r\n";
  }
  if (close) head += "Connection: close\r\n";
  head += "\r\n";
  // One allocation: every SecretBytes buffer is page-aligned and locked.
  const ByteView body = head_only ? ByteView() : response.body.view(grantSecretAccess());
  const std::size_t offset = out.size();
  out.resize(offset + head.size() + body.size());
  const std::span<uint8_t> target = out.mutableView(grantSecretAccess());
  std::memcpy(target.data() + offset, head.data(), head.size());
  if (!body.empty()) std::memcpy(target.data() + offset + head.size(), body.data(), body.size());
}

// A handler's response the server can put on the wire; otherwise a 500.
HttpResponse checkedResponse(HttpResponse response) {
  if (response.status < 200 || response.status > 599) {
    log::error("agent_http_invalid_response", {{"status", response.status}});
    return errorResponse(500, "InternalError", "the request handler returned an invalid status");
  }
  if (response.stream && !response.body.empty()) {
    log::error("agent_http_invalid_response", {{"status", response.status}});
    return errorResponse(500, "InternalError",
                         "the request handler returned both a body and a body stream");
  }
  for (const auto& [name, value] : response.headers) {
    if (!validHeader(name, value)) {
      log::error("agent_http_invalid_response", {{"header", name}});
      return errorResponse(500, "InternalError", "the request handler returned an invalid header");
    }
  }
  return response;
}

std::string errnoText(int error) {
  return std::strerror(error);
}

// Lingering: after an error answer to a request whose body may still be arriving, the write side
// is shut down and input is read and discarded for a while, so a client that is still sending
// reads the error instead of a reset (RFC 9112 §9.6).
enum class ConnectionState { Reading, Handling, Writing, Lingering };
enum class TimerKind { None, Idle, Header, Read, Write, Linger };

// Which connection budget a connection counts against (HttpServerOptions): the client (and
// compat) sockets, the admin socket, or peers that no rule names on their socket.
enum class Pool { Client = 0, Admin = 1, Unknown = 2 };
constexpr std::size_t kPools = 3;

// Bytes a lingering connection may still send before it is closed regardless.
constexpr std::size_t kMinLingerBytes = std::size_t{4} * 1024 * 1024;

// A streamed response between its stream thread and the event loop: at most one framed chunk
// waits here while the loop writes the previous one (the backpressure of http_server.h).
struct StreamChannel {
  explicit StreamChannel(uint64_t id) : connection_id(id) {}
  const uint64_t connection_id;
  std::mutex mutex;
  std::condition_variable room;        // the producer waits for `waiting` to be taken
  std::optional<SecretBytes> waiting;  // framed chunk the loop takes next
  bool finished = false;               // produce() returned ...
  Status result;                       // ... this
  bool cancelled = false;              // the connection closed or the server is stopping
  bool wrote = false;                  // a piece was queued (the head is then on its way)
  std::vector<std::pair<std::string, std::string>> headers;  // added to the head (addHeader)
  std::optional<HttpResponse> failure_response;  // failedBeforeBody() when nothing was written
};

struct StreamJob {
  std::shared_ptr<StreamChannel> channel;
  std::shared_ptr<BodyStream> stream;
};

// `piece` framed as one HTTP/1.1 chunk: hex size, CRLF, data, CRLF.
SecretBytes frameChunk(ByteView piece) {
  char size_line[32];
  const int length = std::snprintf(size_line, sizeof(size_line), "%zx\r\n", piece.size());
  const auto prefix = static_cast<std::size_t>(length);
  SecretBytes framed(prefix + piece.size() + 2);
  const std::span<uint8_t> target = framed.mutableView(grantSecretAccess());
  std::memcpy(target.data(), size_line, prefix);
  std::memcpy(target.data() + prefix, piece.data(), piece.size());
  target[prefix + piece.size()] = '\r';
  target[prefix + piece.size() + 1] = '\n';
  return framed;
}

struct Connection {
  uint64_t id = 0;
  int fd = -1;
  Listener listener = Listener::Client;
  PeerCredentials peer;
  HttpRequestParser parser;
  ConnectionState state = ConnectionState::Reading;
  SecretBytes pending;  // bytes received after the request in flight (pipelining)
  SecretBytes out;      // bytes to write (interim 100 and/or one response)
  std::size_t out_offset = 0;
  bool continue_sent = false;
  bool close_after_write = false;
  bool linger_after_write = false;
  std::size_t linger_budget = 0;
  bool head_request = false;
  bool abandoned = false;  // the peer hung up while its request was being handled
  bool registered = true;  // in the epoll set
  uint32_t events = EPOLLIN;
  TimerKind timer = TimerKind::None;
  TimePoint deadline;
  TimePoint request_started;      // first byte of the request being read
  std::size_t request_bytes = 0;  // bytes of the request being read received so far
  Pool pool = Pool::Client;
  std::size_t reserved_body = 0;            // share of max_buffered_body_bytes held by this request
  std::shared_ptr<StreamChannel> stream;    // set while a streamed body is being sent
  std::optional<HttpResponse> stream_head;  // sent with the stream's first piece or its end
  std::size_t stream_piece_bytes = 0;       // framed bytes of the stream's piece in `out`

  explicit Connection(const HttpParserLimits& limits) : parser(limits) {}
};

struct Job {
  uint64_t connection_id;
  HttpRequest request;
};

// Cheap requests (every GET but the /events long poll: listings, public keys, health, status,
// metrics) have their own queue that every worker serves first and that one extra "lane" thread
// serves alone, so expensive requests (RSA batches) of one caller never stall them.
bool isCheap(const HttpRequest& request) {
  return (request.method == "GET" || request.method == "HEAD") && request.path != "/events";
}

struct Completion {
  uint64_t connection_id;
  HttpResponse response;
};

}  // namespace

class HttpServer::Impl {
 public:
  Impl(HttpServerOptions options, RequestHandler& handler, std::vector<ListeningSocket> sockets,
       Clock& clock)
      : options_(options), handler_(handler), sockets_(std::move(sockets)), clock_(clock) {
    limits_.max_body_bytes = options_.max_body_bytes;
    limits_.max_header_bytes = options_.max_header_bytes;
    limits_.pause_before_body = true;
    max_buffered_body_ = options_.max_buffered_body_bytes != 0
                             ? options_.max_buffered_body_bytes
                             : kDefaultBufferedBodies * options_.max_body_bytes;
    header_timeout_ = std::min(options_.header_timeout, options_.read_timeout);
  }

  ~Impl() {
    for (int fd : {epoll_fd_, stop_fd_, wake_fd_, reserve_fd_}) {
      if (fd >= 0) ::close(fd);
    }
  }

  Status init() {
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) return internalError("epoll_create1: " + errnoText(errno));
    stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (stop_fd_ < 0 || wake_fd_ < 0) return internalError("eventfd: " + errnoText(errno));
    // Kept open so accept() can still take and refuse a connection when descriptors run out.
    reserve_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    SKR_RETURN_IF_ERROR(addToEpoll(stop_fd_, EPOLLIN, kStopToken));
    SKR_RETURN_IF_ERROR(addToEpoll(wake_fd_, EPOLLIN, kWakeToken));
    for (std::size_t i = 0; i < sockets_.size(); ++i) {
      const int fd = sockets_[i].fd;
      const int flags = ::fcntl(fd, F_GETFL);
      if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
        return invalidArgumentError("listening socket " + std::to_string(fd) + ": " +
                                    errnoText(errno));
      }
      SKR_RETURN_IF_ERROR(addToEpoll(fd, EPOLLIN, kFirstListenerToken + i));
    }
    scratch_.resize(kReadChunk);
    try {
      for (std::size_t i = 0; i < options_.workers; ++i) {
        workers_.emplace_back([this] { workerLoop(/*cheap_only=*/false); });
      }
      for (std::size_t i = 0; i < options_.max_streams; ++i) {
        stream_threads_.emplace_back([this] { streamLoop(); });
      }
      workers_.emplace_back([this] { workerLoop(/*cheap_only=*/true); });
      loop_thread_ = std::thread([this] { eventLoop(); });
    } catch (const std::system_error& e) {
      stopWorkers();
      return internalError(std::string("starting server threads: ") + e.what());
    }
    return okStatus();
  }

  void requestStop() {
    const uint64_t one = 1;
    // Async-signal-safe; a full counter (never in practice) still leaves the fd readable.
    [[maybe_unused]] const ssize_t written = ::write(stop_fd_, &one, sizeof(one));
  }

  void wait() {
    if (loop_thread_.joinable()) loop_thread_.join();
  }

  void poke() { wake(); }

  std::size_t openConnections() const { return open_connections_.load(); }
  std::size_t activeStreams() const { return active_streams_.load(); }
  std::size_t bufferedStreamBytes() const { return buffered_stream_bytes_.load(); }

 private:
  // The producer's side of a stream: blocks while a piece is already waiting.
  class StreamWriter final : public BodyWriter {
   public:
    StreamWriter(Impl& server, StreamChannel& channel) : server_(server), channel_(channel) {}
    Status write(const SecretBytes& piece) override {
      const ByteView all = piece.view(grantSecretAccess());
      for (std::size_t offset = 0; offset < all.size(); offset += kMaxStreamChunkBytes) {
        SKR_RETURN_IF_ERROR(
            writeFrame(all.subspan(offset, std::min(kMaxStreamChunkBytes, all.size() - offset))));
      }
      return okStatus();
    }

    Status addHeader(std::string name, std::string value) override {
      if (!validHeader(name, value)) {
        return invalidArgumentError("a response header name or value that cannot be sent");
      }
      std::lock_guard<std::mutex> lock(channel_.mutex);
      if (channel_.wrote) {
        return failedPreconditionError("response headers can only be added before the body");
      }
      channel_.headers.emplace_back(std::move(name), std::move(value));
      return okStatus();
    }

   private:
    Status writeFrame(ByteView piece) {
      SecretBytes framed = frameChunk(piece);
      const std::size_t size = framed.size();
      {
        std::unique_lock<std::mutex> lock(channel_.mutex);
        channel_.room.wait(lock, [this] { return channel_.cancelled || !channel_.waiting; });
        if (channel_.cancelled) {
          return failedPreconditionError(
              "the response stream was cancelled: the connection closed or timed out, or the "
              "agent is stopping");
        }
        channel_.waiting = std::move(framed);
        channel_.wrote = true;
        server_.buffered_stream_bytes_.fetch_add(size);
      }
      server_.notifyStream(channel_.connection_id);
      return okStatus();
    }

    Impl& server_;
    StreamChannel& channel_;
  };

  Status addToEpoll(int fd, uint32_t events, uint64_t token) {
    epoll_event event{};
    event.events = events;
    event.data.u64 = token;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) {
      return internalError("epoll_ctl(ADD): " + errnoText(errno));
    }
    return okStatus();
  }

  // ---- worker pool ----

  // Queues a complete request: cheap ones in their own queue, the others per caller uid, taken
  // round-robin so one caller's many expensive requests do not queue ahead of everyone else.
  void enqueue(Job job) {
    const bool cheap = isCheap(job.request);
    {
      std::lock_guard<std::mutex> lock(jobs_mutex_);
      if (cheap) {
        cheap_jobs_.push_back(std::move(job));
      } else {
        const uid_t uid = job.request.peer.uid;
        std::deque<Job>& queue = jobs_by_uid_[uid];
        if (queue.empty()) uid_turns_.push_back(uid);
        queue.push_back(std::move(job));
        queued_jobs_.fetch_add(1, std::memory_order_relaxed);
      }
    }
    jobs_cv_.notify_one();
    if (cheap) lane_cv_.notify_one();
  }

  // Under jobs_mutex_: the next job for a worker (cheap first, then the next uid in turn).
  bool takeJob(bool cheap_only, Job& job) {
    if (!cheap_jobs_.empty()) {
      job = std::move(cheap_jobs_.front());
      cheap_jobs_.pop_front();
      return true;
    }
    if (cheap_only || uid_turns_.empty()) return false;
    const uid_t uid = uid_turns_.front();
    uid_turns_.pop_front();
    std::deque<Job>& queue = jobs_by_uid_[uid];
    job = std::move(queue.front());
    queue.pop_front();
    queued_jobs_.fetch_sub(1, std::memory_order_relaxed);
    if (queue.empty()) {
      jobs_by_uid_.erase(uid);
    } else {
      uid_turns_.push_back(uid);
    }
    return true;
  }

  void workerLoop(bool cheap_only) {
    std::condition_variable& cv = cheap_only ? lane_cv_ : jobs_cv_;
    while (true) {
      Job job;
      {
        std::unique_lock<std::mutex> lock(jobs_mutex_);
        cv.wait(lock, [&] {
          return workers_exit_ || !cheap_jobs_.empty() || (!cheap_only && !uid_turns_.empty());
        });
        if (!takeJob(cheap_only, job)) return;  // exiting and nothing left for this thread
      }
      HttpResponse response = runHandler(job.request);
      {
        std::lock_guard<std::mutex> lock(completions_mutex_);
        completions_.push_back(Completion{job.connection_id, std::move(response)});
      }
      // One eventfd write per batch: the loop clears the flag before it takes the completions,
      // so a completion queued after that take sets it again and wakes the loop.
      if (!completion_wake_pending_.exchange(true)) wake();
    }
  }

  // handle() on a worker or, for a quick request, the event-loop thread; wipes the request.
  HttpResponse runHandler(HttpRequest& request) {
    const std::size_t body_bytes = request.body.size();
    HttpResponse response;
    try {
      response = checkedResponse(handler_.handle(request));
    } catch (...) {
      log::error("agent_http_handler_threw", {{"path", request.path}});
      response = errorResponse(500, "InternalError", "the request handler failed");
    }
    request = HttpRequest();  // wipe the request body now
    if (body_bytes >= kTrimAfterBytes || response.body.size() >= kTrimAfterBytes) trimHeap();
    return response;
  }

  // One stream thread: runs queued streams' produce() one after another.
  void streamLoop() {
    while (true) {
      StreamJob job;
      {
        std::unique_lock<std::mutex> lock(streams_mutex_);
        streams_cv_.wait(lock, [this] { return streams_exit_ || !stream_jobs_.empty(); });
        if (stream_jobs_.empty()) return;
        job = std::move(stream_jobs_.front());
        stream_jobs_.pop_front();
      }
      StreamWriter writer(*this, *job.channel);
      Status result;
      try {
        result = job.stream->produce(writer);
      } catch (...) {
        log::error("agent_http_stream_threw", {});
        result = internalError("the response stream failed");
      }
      std::optional<HttpResponse> answer;
      bool wrote = false;
      {
        std::lock_guard<std::mutex> lock(job.channel->mutex);
        wrote = job.channel->wrote;
      }
      if (!result.ok() && !wrote) {
        try {
          answer = job.stream->failedBeforeBody(result);
        } catch (...) {
          answer = errorResponse(500, "InternalError", "the response body could not be produced");
        }
      }
      {
        std::lock_guard<std::mutex> lock(job.channel->mutex);
        job.channel->finished = true;
        job.channel->result = std::move(result);
        job.channel->failure_response = std::move(answer);
      }
      // The slot is free before the stream is destroyed: a handler that limits its streams the
      // same way (releasing in the stream's destructor) never has one refused here.
      active_streams_.fetch_sub(1);
      job.stream.reset();
      notifyStream(job.channel->connection_id);
    }
  }

  // A stream of `connection_id` queued a piece or finished: the event loop looks at it.
  void notifyStream(uint64_t connection_id) {
    {
      std::lock_guard<std::mutex> lock(completions_mutex_);
      stream_events_.push_back(connection_id);
    }
    if (!completion_wake_pending_.exchange(true)) wake();
  }

  // Makes the event loop run an iteration: it takes completions and expires due timers.
  void wake() {
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t written = ::write(wake_fd_, &one, sizeof(one));
  }

  // Gives free heap pages of every arena back to the kernel. Called after a large request only
  // (tens of microseconds on the agent's small heap, next to a body of >= 16 KiB).
  static void trimHeap() { ::malloc_trim(0); }

  void stopWorkers() {
    {
      std::lock_guard<std::mutex> lock(jobs_mutex_);
      workers_exit_ = true;
    }
    jobs_cv_.notify_all();
    lane_cv_.notify_all();
    for (auto& worker : workers_) {
      if (worker.joinable()) worker.join();
    }
    {
      std::lock_guard<std::mutex> lock(streams_mutex_);
      streams_exit_ = true;
    }
    streams_cv_.notify_all();
    for (auto& thread : stream_threads_) {
      if (thread.joinable()) thread.join();
    }
  }

  // ---- event loop ----

  void eventLoop() {
    epoll_event events[kMaxEvents];
    while (true) {
      const TimePoint now = clock_.steadyNow();
      if (stopping_ && (connections_.empty() || now >= drain_deadline_)) break;
      int timeout_ms = -1;
      std::optional<TimePoint> next;
      if (!timers_.empty()) next = timers_.begin()->first;
      if (stopping_ && (!next || drain_deadline_ < *next)) next = drain_deadline_;
      // Measured on clock_: a clock that moves without real time passing (a test's FakeClock)
      // wakes the loop with poke(); a deadline already passed gives a zero wait.
      if (next) {
        const auto wait = std::chrono::ceil<std::chrono::milliseconds>(*next - now).count();
        timeout_ms = static_cast<int>(std::clamp<int64_t>(wait, 0, 60000));
      }
      const int count = ::epoll_wait(epoll_fd_, events, kMaxEvents, timeout_ms);
      if (count < 0 && errno != EINTR) {
        log::error("agent_http_epoll_failed", {{"error", errnoText(errno)}});
        break;
      }
      for (int i = 0; i < count; ++i) {
        const uint64_t token = events[i].data.u64;
        if (token == kStopToken) {
          drainEventFd(stop_fd_);
          beginStop();
        } else if (token == kWakeToken) {
          drainEventFd(wake_fd_);
          processCompletions();
        } else if (token < kFirstConnectionId) {
          if (!stopping_) acceptAll(sockets_[token - kFirstListenerToken]);
        } else {
          onConnectionEvent(token, events[i].events);
        }
      }
      runQuick();
      expireTimers(clock_.steadyNow());
    }
    if (!connections_.empty()) {
      log::warning("agent_http_drain_timeout",
                   {{"connections", static_cast<int64_t>(connections_.size())}});
    }
    std::vector<uint64_t> ids;
    for (const auto& [id, connection] : connections_) ids.push_back(id);
    for (uint64_t id : ids) closeConnection(id);
    stopWorkers();
    std::lock_guard<std::mutex> lock(completions_mutex_);
    completions_.clear();
    stream_events_.clear();
  }

  static void drainEventFd(int fd) {
    uint64_t value = 0;
    [[maybe_unused]] const ssize_t got = ::read(fd, &value, sizeof(value));
  }

  void beginStop() {
    if (stopping_) return;
    stopping_ = true;
    drain_deadline_ = clock_.steadyNow() + options_.drain_timeout;
    for (const auto& socket : sockets_) {
      ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, socket.fd, nullptr);
    }
    std::vector<uint64_t> idle;
    for (auto& [id, connection] : connections_) {
      if (connection->state == ConnectionState::Reading ||
          connection->state == ConnectionState::Lingering || connection->stream) {
        idle.push_back(id);  // a running stream ends now, without its terminating chunk
      } else {
        connection->close_after_write = true;
      }
    }
    for (uint64_t id : idle) closeConnection(id);
  }

  void acceptAll(const ListeningSocket& socket) {
    while (true) {
      int fd = ::accept4(socket.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        const int error = errno;
        if (error == EINTR || error == ECONNABORTED) continue;
        if ((error == EMFILE || error == ENFILE) && reserve_fd_ >= 0) {
          // Out of descriptors: use the reserve to take the connection off the queue and refuse
          // it, instead of spinning on a listening socket that stays readable.
          ::close(reserve_fd_);
          fd = ::accept4(socket.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (fd >= 0) refuseConnection(fd, socket.listener);
          reserve_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
          log::warning("agent_http_out_of_descriptors", {{"error", errnoText(error)}});
          if (fd >= 0) continue;
          return;
        }
        if (error != EAGAIN && error != EWOULDBLOCK) {
          log::warning("agent_http_accept_failed", {{"error", errnoText(error)}});
        }
        return;
      }
      auto credentials = readPeerCredentials(fd);
      if (!credentials.ok()) {
        log::warning("agent_http_peer_credentials_failed",
                     {{"error", credentials.status().message()}});
        ::close(fd);
        continue;
      }
      const Pool pool = socket.listener == Listener::Admin ? Pool::Admin : Pool::Client;
      const Pool chosen = handler_.knownPeer(socket.listener, *credentials) ? pool : Pool::Unknown;
      if (!makeRoom(chosen, credentials->uid, socket.listener, fd)) continue;
      auto connection = std::make_unique<Connection>(limits_);
      connection->id = next_connection_id_++;
      connection->fd = fd;
      connection->listener = socket.listener;
      connection->peer = *credentials;
      connection->pool = chosen;
      if (!addToEpoll(fd, EPOLLIN, connection->id).ok()) {
        ::close(fd);
        continue;
      }
      Connection& added = *connection;
      connections_.emplace(added.id, std::move(connection));
      open_connections_.store(connections_.size());
      ++pool_count_[static_cast<std::size_t>(chosen)];
      if (chosen != Pool::Admin) ++uid_count_[added.peer.uid];
      setTimer(added, TimerKind::Idle, clock_.steadyNow() + options_.idle_timeout);
    }
  }

  std::size_t poolLimit(Pool pool) const {
    switch (pool) {
      case Pool::Admin: return options_.admin_connections;
      case Pool::Unknown: return options_.unknown_peer_connections;
      case Pool::Client: break;
    }
    return options_.max_connections;
  }

  static std::string_view poolName(Pool pool) {
    switch (pool) {
      case Pool::Admin: return "admin";
      case Pool::Unknown: return "unknown_peer";
      case Pool::Client: break;
    }
    return "client";
  }

  // Below the budget of `pool` and the per-uid limit (admin excepted), closing a connection of
  // the same pool (and uid, for the uid limit) when one is over: first one already refused and
  // lingering, then the one idle the longest, then the slowest partial request (fewest bytes per
  // second since its first byte). False (and `fd` refused with 503) when nothing can go.
  bool makeRoom(Pool pool, uid_t uid, Listener listener, int fd) {
    const auto index = static_cast<std::size_t>(pool);
    if (pool_count_[index] >= poolLimit(pool) && !evictOne(pool, std::nullopt)) {
      refuseConnection(fd, listener, poolName(pool), poolLimit(pool));
      return false;
    }
    if (pool != Pool::Admin) {
      const auto it = uid_count_.find(uid);
      if (it != uid_count_.end() && it->second >= options_.max_connections_per_uid &&
          !evictOne(pool, uid)) {
        refuseConnection(fd, listener, "per_uid", options_.max_connections_per_uid);
        return false;
      }
    }
    return true;
  }

  bool evictOne(Pool pool, std::optional<uid_t> uid) {
    const TimePoint now = clock_.steadyNow();
    Connection* lingering = nullptr;
    Connection* idle = nullptr;
    Connection* slowest = nullptr;
    double slowest_rate = 0;
    for (auto& [id, c] : connections_) {
      if (uid ? (c->pool == Pool::Admin || c->peer.uid != *uid) : c->pool != pool) continue;
      if (c->state == ConnectionState::Lingering) {
        if (lingering == nullptr) lingering = c.get();
      } else if (c->state == ConnectionState::Reading && c->timer == TimerKind::Idle) {
        if (idle == nullptr || c->deadline < idle->deadline) idle = c.get();
      } else if (c->state == ConnectionState::Reading && c->parser.started()) {
        const double seconds =
            std::max(1e-3, std::chrono::duration<double>(now - c->request_started).count());
        const double rate = static_cast<double>(c->request_bytes) / seconds;
        if (slowest == nullptr || rate < slowest_rate) {
          slowest = c.get();
          slowest_rate = rate;
        }
      }
    }
    if (lingering != nullptr) {
      closeConnection(lingering->id);
    } else if (idle != nullptr) {
      closeConnection(idle->id);
    } else if (slowest != nullptr) {
      // The partial request loses its place to a new connection: 408, best effort, then close.
      auditRefusal(*slowest, 408, "RequestTimeout");
      SecretBytes out;
      serializeResponse(errorResponse(408, "RequestTimeout",
                                      "the request was closed for a new connection: it was the "
                                      "slowest partial request while the connection limit was "
                                      "reached"),
                        true, false, out);
      const ByteView bytes = out.view(grantSecretAccess());
      [[maybe_unused]] const ssize_t sent =
          ::send(slowest->fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      ++evicted_since_log_;
      if (evicted_since_log_ == 1 || evicted_since_log_ % 1000 == 0) {
        log::warning("agent_http_partial_request_evicted",
                     {{"caller_uid", static_cast<int64_t>(slowest->peer.uid)},
                      {"evicted", static_cast<int64_t>(evicted_since_log_)}});
      }
      closeConnection(slowest->id);
    } else {
      return false;
    }
    return true;
  }

  // 503 TooManyConnections on a fresh connection, best effort, then close. `limit` names the
  // budget that is full (client, admin, unknown_peer, per_uid) for the message and the log.
  void refuseConnection(int fd, Listener listener, std::string_view limit = "client",
                        std::size_t value = 0) {
    if (value == 0) value = options_.max_connections;
    SecretBytes out;
    HttpResponse response = errorResponse(503, "TooManyConnections",
                                          "the agent has reached its " + std::string(limit) +
                                              " connection limit of " + std::to_string(value));
    response.headers.emplace_back("Retry-After", "1");
    serializeResponse(response, true, false, out);
    const ByteView bytes = out.view(grantSecretAccess());
    [[maybe_unused]] const ssize_t sent =
        ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    ::close(fd);
    handler_.refused(listener, 503, "TooManyConnections", 0.0);
    ++refused_since_log_;
    if (refused_since_log_ == 1 || refused_since_log_ % 1000 == 0) {
      log::warning("agent_http_connection_refused",
                   {{"limit", std::string(limit)},
                    {"max_connections", static_cast<int64_t>(value)},
                    {"refused", static_cast<int64_t>(refused_since_log_)}});
    }
  }

  Connection* find(uint64_t id) {
    const auto it = connections_.find(id);
    return it == connections_.end() ? nullptr : it->second.get();
  }

  void setTimer(Connection& connection, TimerKind kind, TimePoint deadline) {
    clearTimer(connection);
    connection.timer = kind;
    connection.deadline = deadline;
    timers_.emplace(deadline, connection.id);
    if (kind == TimerKind::Idle) idle_.emplace(deadline, connection.id);
  }

  void clearTimer(Connection& connection) {
    if (connection.timer == TimerKind::None) return;
    timers_.erase({connection.deadline, connection.id});
    if (connection.timer == TimerKind::Idle) idle_.erase({connection.deadline, connection.id});
    connection.timer = TimerKind::None;
  }

  void closeConnection(uint64_t id) {
    const auto it = connections_.find(id);
    if (it == connections_.end()) return;
    Connection& closing = *it->second;
    clearTimer(closing);
    const int fd = closing.fd;
    --pool_count_[static_cast<std::size_t>(closing.pool)];
    if (closing.pool != Pool::Admin) {
      const auto count = uid_count_.find(closing.peer.uid);
      if (count != uid_count_.end() && --count->second == 0) uid_count_.erase(count);
    }
    const std::size_t released = releaseBody(closing);
    if (closing.stream) cancelStream(closing);
    connections_.erase(it);
    if (released >= kTrimAfterBytes) trimHeap();
    // Counted down before the peer can see the close. close() also leaves the epoll set.
    open_connections_.store(connections_.size());
    ::close(fd);
  }

  // EPOLLIN while Reading or Lingering. While a request is handled and its answer written, input
  // is not read; EPOLLIN then stays on if it is (keep_input) and is dropped on the first input
  // event (onConnectionEvent): a client that waits for its answer sends nothing, so the usual
  // request costs no epoll_ctl at all instead of two, and a client that does send (pipelining, a
  // half-close) costs one wake-up, not a busy loop.
  void updateInterest(Connection& connection, bool keep_input = true) {
    if (!connection.registered) return;
    uint32_t wanted = 0;
    if (connection.state == ConnectionState::Reading ||
        connection.state == ConnectionState::Lingering) {
      wanted |= EPOLLIN;
    } else if (keep_input && (connection.events & EPOLLIN) != 0) {
      wanted |= EPOLLIN;  // Handling or Writing
    }
    if (connection.out_offset < connection.out.size()) wanted |= EPOLLOUT;
    if (wanted == connection.events) return;
    epoll_event event{};
    event.events = wanted;
    event.data.u64 = connection.id;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, connection.fd, &event) == 0) {
      connection.events = wanted;
    }
  }

  void onConnectionEvent(uint64_t id, uint32_t events) {
    Connection* connection = find(id);
    if (connection == nullptr) return;
    if (connection->stream && (events & (EPOLLHUP | EPOLLERR)) != 0) {
      closeConnection(id);  // the reader is gone: stop its stream
      return;
    }
    if ((events & EPOLLIN) != 0 && (connection->state == ConnectionState::Handling ||
                                    connection->state == ConnectionState::Writing)) {
      updateInterest(*connection, false);  // input while busy: wait for Reading to take it
    }
    if (connection->state == ConnectionState::Handling) {
      if ((events & (EPOLLHUP | EPOLLERR)) != 0) {
        // Gone while its request is handled: stop watching; the response is dropped.
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, connection->fd, nullptr);
        connection->registered = false;
        connection->abandoned = true;
      } else if ((events & EPOLLOUT) != 0) {
        writeSome(*connection);
      }
      return;
    }
    if (connection->state == ConnectionState::Lingering) {
      if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0) discardSome(*connection);
      return;
    }
    if ((events & EPOLLOUT) != 0 || connection->state == ConnectionState::Writing) {
      if (!writeSome(*connection)) return;  // closed
    }
    connection = find(id);
    if (connection != nullptr && connection->state == ConnectionState::Reading &&
        (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0) {
      readSome(*connection);
    }
  }

  // Lingering: reads and drops what the client still sends; closes on EOF or when the budget is
  // spent (the Linger timer closes it otherwise).
  void discardSome(Connection& connection) {
    std::span<uint8_t> buffer = scratch_.mutableView(grantSecretAccess());
    const ssize_t got = ::read(connection.fd, buffer.data(), buffer.size());
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    if (got <= 0 || static_cast<std::size_t>(got) >= connection.linger_budget) {
      closeConnection(connection.id);
      return;
    }
    connection.linger_budget -= static_cast<std::size_t>(got);
  }

  void readSome(Connection& connection) {
    std::span<uint8_t> buffer = scratch_.mutableView(grantSecretAccess());
    const ssize_t got = ::read(connection.fd, buffer.data(), buffer.size());
    if (got < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
      closeConnection(connection.id);
      return;
    }
    if (got == 0) {
      // The peer is done sending: a partial request can never complete.
      closeConnection(connection.id);
      return;
    }
    consume(connection, std::string_view(reinterpret_cast<const char*>(buffer.data()),  // NOLINT
                                         static_cast<std::size_t>(got)));
  }

  // Feeds received bytes to the parser and acts on its state. `bytes` never aliases
  // connection.pending.
  void consume(Connection& connection, std::string_view bytes) {
    const bool was_started = connection.parser.started();
    if (!was_started) {
      connection.request_started = clock_.steadyNow();
      connection.request_bytes = 0;
    }
    std::size_t used = connection.parser.feed(bytes);
    if (!was_started && connection.parser.started()) {
      // The head must be in well before read_timeout (slow-header clients); the whole request
      // within read_timeout.
      setTimer(connection, TimerKind::Header, connection.request_started + header_timeout_);
    }
    if (connection.parser.awaitingAdmission()) {
      if (!admit(connection)) return;  // refused: answered and lingering
      used += connection.parser.feed(bytes.substr(used));
    }
    connection.request_bytes += used;
    switch (connection.parser.state()) {
      case HttpRequestParser::State::Complete:
        connection.pending.append(asBytes(bytes.substr(used)));
        dispatch(connection);
        return;
      case HttpRequestParser::State::Failed: {
        const HttpParseError& error = connection.parser.error();
        auditRefusal(connection, error.status, error.code);
        sendError(connection, error.status, error.code, error.message, /*linger=*/true);
        return;
      }
      case HttpRequestParser::State::Incomplete:
        if (connection.parser.awaitingBodyWithContinue() && !connection.continue_sent) {
          connection.continue_sent = true;
          connection.out.append(asBytes("HTTP/1.1 100 Continue\r\n\r\n"));
          writeSome(connection);
        }
        return;
    }
  }

  // The head of a request with a body is in: the handler decides on the caller, then the body
  // must fit the global budget of buffered body bytes. False when refused (answered, lingering).
  bool admit(Connection& connection) {
    HttpRequest& head = connection.parser.head();
    head.peer = connection.peer;
    head.listener = connection.listener;
    std::optional<HttpResponse> refusal;
    try {
      refusal = handler_.admit(head);
    } catch (...) {
      refusal = errorResponse(500, "InternalError", "the request handler failed");
    }
    if (refusal) {
      connection.close_after_write = true;
      connection.linger_after_write = true;
      connection.head_request = false;
      respond(connection, checkedResponse(std::move(*refusal)));
      return false;
    }
    const std::size_t length = connection.parser.contentLength();
    // One uid may hold at most half of the budget (at least one maximal body), so an app that
    // keeps large bodies half-sent cannot stop every other caller's requests with a body.
    const std::size_t uid_share = std::max(max_buffered_body_ / 2, options_.max_body_bytes);
    const auto held = buffered_by_uid_.find(connection.peer.uid);
    const std::size_t uid_held = held == buffered_by_uid_.end() ? 0 : held->second;
    if (length > max_buffered_body_ - std::min(max_buffered_body_, buffered_body_) ||
        length > uid_share - std::min(uid_share, uid_held)) {
      auditRefusal(connection, 503, "ServerBusy");
      HttpResponse busy =
          errorResponse(503, "ServerBusy",
                        "the agent is buffering its limit of request body bytes (" +
                            std::to_string(max_buffered_body_) + " in all, " +
                            std::to_string(uid_share) + " per caller uid); retry with backoff");
      busy.headers.emplace_back("Retry-After", "1");
      connection.close_after_write = true;
      connection.linger_after_write = true;
      connection.head_request = false;
      respond(connection, busy);
      ++busy_since_log_;
      if (busy_since_log_ == 1 || busy_since_log_ % 1000 == 0) {
        log::warning("agent_http_body_budget_full",
                     {{"max_buffered_body_bytes", static_cast<int64_t>(max_buffered_body_)},
                      {"refused", static_cast<int64_t>(busy_since_log_)}});
      }
      return false;
    }
    buffered_body_ += length;
    buffered_by_uid_[connection.peer.uid] += length;
    connection.reserved_body = length;
    connection.parser.admit();
    setTimer(connection, TimerKind::Read, connection.request_started + options_.read_timeout);
    return true;
  }

  // Returns the request's share of the body budget (its body was handled or dropped).
  std::size_t releaseBody(Connection& connection) {
    const std::size_t released = connection.reserved_body;
    if (released == 0) return 0;
    buffered_body_ -= std::min(buffered_body_, released);
    const auto held = buffered_by_uid_.find(connection.peer.uid);
    if (held != buffered_by_uid_.end()) {
      held->second -= std::min(held->second, released);
      if (held->second == 0) buffered_by_uid_.erase(held);
    }
    connection.reserved_body = 0;
    return released;
  }

  void dispatch(Connection& connection) {
    connection.close_after_write = !connection.parser.keepAlive() || stopping_;
    HttpRequest request = connection.parser.takeRequest();
    request.peer = connection.peer;
    request.listener = connection.listener;
    connection.head_request = request.method == "HEAD";
    connection.continue_sent = false;
    connection.state = ConnectionState::Handling;
    clearTimer(connection);
    updateInterest(connection);
    bool quick = false;
    if (options_.quick_per_round > 0 && options_.quick_per_uid > 0) {
      try {
        quick = handler_.quick(request);
      } catch (...) {
        quick = false;  // a worker runs it, with handle()'s own error handling
      }
    }
    if (quick) {
      quick_jobs_.push_back(Job{connection.id, std::move(request)});
    } else {
      enqueue(Job{connection.id, std::move(request)});
    }
  }

  // After every ready connection was read: answers the quick requests dispatched meanwhile (and
  // those pipelined behind them), at most quick_per_round; the rest go to the workers' queues.
  // Runs here rather than from dispatch() so that answering never recurses into reading.
  // One caller uid has at most quick_per_uid of them answered here per wake-up, so a caller with
  // many connections cannot fill a round and delay another caller's quick request behind its own.
  // While requests wait in the worker queues (the agent is saturated) quick ones queue too: the
  // workers then use every core and the per-uid round robin decides, as for any request.
  void runQuick() {
    if (quick_jobs_.empty()) return;
    std::size_t budget = options_.quick_per_round;
    std::unordered_map<uid_t, std::size_t> per_uid;
    // In passes: answer what is queued, write the pass's log lines (the audit lines) with one
    // write(2), then send the answers, so no answer leaves before its audit line. Sending may
    // dispatch pipelined requests, which the next pass takes.
    std::vector<Completion> answered;
    while (!quick_jobs_.empty()) {
      {
        log::Batch audit_lines;
        while (!quick_jobs_.empty()) {
          Job job = std::move(quick_jobs_.front());
          quick_jobs_.pop_front();
          std::size_t& used = per_uid[job.request.peer.uid];
          if (budget == 0 || used >= options_.quick_per_uid ||
              queued_jobs_.load(std::memory_order_relaxed) > 0) {
            enqueue(std::move(job));
            continue;
          }
          --budget;
          ++used;
          answered.push_back(Completion{job.connection_id, runHandler(job.request)});
        }
      }
      for (Completion& completion : answered) {
        Connection* connection = find(completion.connection_id);
        if (connection != nullptr) complete(*connection, std::move(completion.response));
      }
      answered.clear();
    }
  }

  // A handled request's response goes out (or its stream starts).
  void complete(Connection& connection, HttpResponse response) {
    releaseBody(connection);
    if (connection.abandoned) {
      closeConnection(connection.id);
      return;
    }
    if (stopping_) connection.close_after_write = true;
    if (response.stream) {
      startStream(connection, std::move(response));
    } else {
      respond(connection, response);
    }
  }

  void processCompletions() {
    completion_wake_pending_.store(false);
    std::deque<Completion> done;
    std::deque<uint64_t> streams;
    {
      std::lock_guard<std::mutex> lock(completions_mutex_);
      done.swap(completions_);
      streams.swap(stream_events_);
    }
    for (Completion& completion : done) {
      Connection* connection = find(completion.connection_id);
      if (connection != nullptr) complete(*connection, std::move(completion.response));
    }
    for (uint64_t id : streams) {
      Connection* connection = find(id);
      // Waiting for its stream with nothing left to write: take the piece or the end.
      if (connection != nullptr && connection->stream && connection->out.empty()) {
        writeSome(*connection);
      }
    }
  }

  // A handler's streamed response: the head now, the body from a stream thread.
  void startStream(Connection& connection, HttpResponse response) {
    std::shared_ptr<BodyStream> stream = std::move(response.stream);
    if (connection.head_request) {
      respond(connection, response, /*chunked=*/true);  // the stream is not run
      return;
    }
    if (stopping_) {
      sendError(connection, 503, "ServiceUnavailable", "the agent is stopping", false);
      return;
    }
    if (active_streams_.load() >= options_.max_streams) {
      HttpResponse busy = errorResponse(429, "TooManyRequests",
                                        "the agent is already streaming its limit of " +
                                            std::to_string(options_.max_streams) +
                                            " responses; retry with backoff");
      busy.headers.emplace_back("Retry-After", "1");
      connection.close_after_write = true;
      connection.linger_after_write = false;
      handler_.refused(connection.listener, 429, "TooManyRequests", 0.0);
      respond(connection, busy);
      return;
    }
    active_streams_.fetch_add(1);
    connection.stream = std::make_shared<StreamChannel>(connection.id);
    connection.stream_head = std::move(response);  // goes out with the first piece
    {
      std::lock_guard<std::mutex> lock(streams_mutex_);
      stream_jobs_.push_back(StreamJob{connection.stream, std::move(stream)});
    }
    streams_cv_.notify_one();
    // Writing, with nothing to write until the producer queues a piece; no timer runs meanwhile.
    connection.state = ConnectionState::Writing;
    clearTimer(connection);
    updateInterest(connection);
  }

  // The connection's stream ends now: its producer's next write fails; its pieces are dropped.
  void cancelStream(Connection& connection) {
    std::size_t dropped = connection.stream_piece_bytes;
    connection.stream_piece_bytes = 0;
    {
      std::lock_guard<std::mutex> lock(connection.stream->mutex);
      connection.stream->cancelled = true;
      if (connection.stream->waiting) dropped += connection.stream->waiting->size();
      connection.stream->waiting.reset();
    }
    connection.stream->room.notify_all();
    buffered_stream_bytes_.fetch_sub(dropped);
    connection.stream.reset();
  }

  // What a streaming connection with nothing left to write does next: write a piece (put into
  // `out`, after the head when it is still due), write the end (the terminating chunk, or the
  // error answer of a stream that failed before its first piece), be closed, or wait.
  enum class StreamStep { Piece, End, Failed, Wait };

  StreamStep takeFromStream(Connection& connection) {
    StreamChannel& channel = *connection.stream;
    std::optional<SecretBytes> piece;
    Status result;
    std::optional<HttpResponse> answer;
    {
      std::lock_guard<std::mutex> lock(channel.mutex);
      if (connection.stream_head && (channel.waiting || channel.finished)) {
        for (auto& header : channel.headers) connection.stream_head->headers.push_back(header);
      }
      if (channel.waiting) {
        piece = std::move(*channel.waiting);
        channel.waiting.reset();
        channel.room.notify_one();
      } else if (!channel.finished) {
        return StreamStep::Wait;
      } else {
        result = channel.result;
        answer = std::move(channel.failure_response);
      }
    }
    if (piece) {
      connection.stream_piece_bytes = piece->size();
      if (connection.stream_head) {
        serializeResponse(*connection.stream_head, connection.close_after_write, false,
                          connection.out, /*chunked=*/true);
        connection.stream_head.reset();
        connection.out.append(piece->view(grantSecretAccess()));
      } else {
        connection.out = std::move(*piece);
      }
      return StreamStep::Piece;
    }
    connection.stream.reset();
    if (result.ok()) {
      if (connection.stream_head) {
        serializeResponse(*connection.stream_head, connection.close_after_write, false,
                          connection.out, /*chunked=*/true);
      }
      connection.stream_head.reset();
      connection.out.append(asBytes("0\r\n\r\n"));
      return StreamStep::End;
    }
    log::warning("agent_http_stream_failed", {{"code", std::string(statusCodeName(result.code()))},
                                              {"before_body", connection.stream_head.has_value()}});
    if (connection.stream_head && answer) {
      // Nothing was sent yet: an ordinary answer.
      connection.stream_head.reset();
      HttpResponse checked = checkedResponse(std::move(*answer));
      checked.stream.reset();
      serializeResponse(checked, connection.close_after_write, false, connection.out);
      return StreamStep::End;
    }
    return StreamStep::Failed;
  }

  void respond(Connection& connection, const HttpResponse& response, bool chunked = false) {
    serializeResponse(response, connection.close_after_write, connection.head_request,
                      connection.out, chunked);
    connection.state = ConnectionState::Writing;
    setTimer(connection, TimerKind::Write, clock_.steadyNow() + options_.write_timeout);
    writeSome(connection);
  }

  // The audit line of a request refused before it reached the handler (malformed, too large,
  // too slow): the same "request" event the router writes, without method, op or key.
  void auditRefusal(const Connection& connection, int status, std::string_view code) {
    const char* listener = connection.listener == Listener::Admin    ? "admin"
                           : connection.listener == Listener::Compat ? "compat"
                                                                     : "client";
    const double seconds =
        std::chrono::duration<double>(clock_.steadyNow() - connection.request_started).count();
    log::info("request", {{"listener", listener},
                          {"method", ""},
                          {"op", ""},
                          {"key", ""},
                          {"version", ""},
                          {"status", status},
                          {"code", std::string(code)},
                          {"caller_uid", static_cast<int64_t>(connection.peer.uid)},
                          {"caller_gid", static_cast<int64_t>(connection.peer.gid)},
                          {"caller_pid", static_cast<int64_t>(connection.peer.pid)},
                          {"rule", ""},
                          {"duration_ms", seconds * 1000.0}});
    handler_.refused(connection.listener, status, code, seconds);
  }

  void sendError(Connection& connection, int status, std::string_view code,
                 std::string_view message, bool linger) {
    connection.close_after_write = true;
    connection.linger_after_write = linger;
    connection.head_request = false;
    respond(connection, errorResponse(status, code, message));
  }

  // Writes what the socket takes. Returns false when the connection was closed.
  bool writeSome(Connection& connection) {
    while (true) {
      const ByteView out = connection.out.view(grantSecretAccess());
      bool progress = false;
      while (connection.out_offset < out.size()) {
        const ssize_t sent = ::send(connection.fd, out.data() + connection.out_offset,
                                    out.size() - connection.out_offset, MSG_NOSIGNAL);
        if (sent < 0) {
          if (errno == EINTR) continue;
          if (errno == EAGAIN || errno == EWOULDBLOCK) {
            // A stream's write_timeout counts from the last byte that went out.
            if (connection.stream && (progress || connection.timer != TimerKind::Write)) {
              setTimer(connection, TimerKind::Write, clock_.steadyNow() + options_.write_timeout);
            }
            updateInterest(connection);
            return true;
          }
          closeConnection(connection.id);
          return false;
        }
        progress = true;
        connection.out_offset += static_cast<std::size_t>(sent);
      }
      connection.out.clear();
      connection.out_offset = 0;
      if (connection.stream_piece_bytes != 0) {
        buffered_stream_bytes_.fetch_sub(connection.stream_piece_bytes);
        connection.stream_piece_bytes = 0;
      }
      if (!connection.stream || connection.state != ConnectionState::Writing) break;
      const StreamStep step = takeFromStream(connection);
      if (step == StreamStep::Wait) {
        clearTimer(connection);  // the producer is working; the reader is not behind
        updateInterest(connection);
        return true;
      }
      if (step == StreamStep::Failed) {
        closeConnection(connection.id);  // no terminating chunk: the client sees a cut body
        return false;
      }
      if (step == StreamStep::End) {
        setTimer(connection, TimerKind::Write, clock_.steadyNow() + options_.write_timeout);
      }
    }
    if (connection.state != ConnectionState::Writing) {
      updateInterest(connection);  // an interim 100 went out; keep reading
      return true;
    }
    if (connection.close_after_write && connection.linger_after_write && !stopping_) {
      ::shutdown(connection.fd, SHUT_WR);
      connection.state = ConnectionState::Lingering;
      connection.linger_budget = std::max(kMinLingerBytes, 2 * options_.max_body_bytes);
      setTimer(connection, TimerKind::Linger, clock_.steadyNow() + options_.read_timeout);
      updateInterest(connection);
      return true;
    }
    if (connection.close_after_write) {
      closeConnection(connection.id);
      return false;
    }
    // Ready for the next request: pipelined bytes first, else wait idle.
    connection.state = ConnectionState::Reading;
    setTimer(connection, TimerKind::Idle, clock_.steadyNow() + options_.idle_timeout);
    updateInterest(connection);
    if (!connection.pending.empty()) {
      const uint64_t id = connection.id;  // consume() may close and free the connection
      SecretBytes pending = std::move(connection.pending);
      connection.pending = SecretBytes();
      const ByteView bytes = pending.view(grantSecretAccess());
      consume(connection, std::string_view(reinterpret_cast<const char*>(bytes.data()),  // NOLINT
                                           bytes.size()));
      return find(id) != nullptr;
    }
    return true;
  }

  void expireTimers(TimePoint now) {
    while (!timers_.empty() && timers_.begin()->first <= now) {
      const uint64_t id = timers_.begin()->second;
      Connection* connection = find(id);
      if (connection == nullptr) {
        timers_.erase(timers_.begin());
        continue;
      }
      const TimerKind kind = connection->timer;
      clearTimer(*connection);
      if (kind == TimerKind::Header) {
        auditRefusal(*connection, 408, "RequestTimeout");
        sendError(*connection, 408, "RequestTimeout",
                  "the request line and headers were not received within " +
                      std::to_string(header_timeout_.count()) + " ms",
                  /*linger=*/false);
      } else if (kind == TimerKind::Read) {
        auditRefusal(*connection, 408, "RequestTimeout");
        sendError(*connection, 408, "RequestTimeout",
                  "the request was not received completely within " +
                      std::to_string(options_.read_timeout.count()) + " ms",
                  /*linger=*/false);
      } else {
        closeConnection(id);  // idle, lingered long enough, or a response not written in time
      }
    }
  }

  HttpServerOptions options_;
  RequestHandler& handler_;
  std::vector<ListeningSocket> sockets_;
  Clock& clock_;  // steadyNow() for every deadline
  HttpParserLimits limits_;

  int epoll_fd_ = -1;
  int stop_fd_ = -1;
  int wake_fd_ = -1;
  int reserve_fd_ = -1;

  std::thread loop_thread_;
  std::vector<std::thread> workers_;
  std::vector<std::thread> stream_threads_;

  std::mutex streams_mutex_;
  std::condition_variable streams_cv_;
  std::deque<StreamJob> stream_jobs_;
  bool streams_exit_ = false;
  std::atomic<std::size_t> active_streams_{0};         // counted by the loop, freed by threads
  std::atomic<std::size_t> buffered_stream_bytes_{0};  // framed pieces not yet written

  std::mutex jobs_mutex_;
  std::condition_variable jobs_cv_;  // the workers
  std::condition_variable lane_cv_;  // the cheap-request lane thread
  std::deque<Job> cheap_jobs_;
  std::map<uid_t, std::deque<Job>> jobs_by_uid_;
  std::deque<uid_t> uid_turns_;              // uids with queued jobs, in round-robin order
  std::atomic<std::size_t> queued_jobs_{0};  // jobs in jobs_by_uid_ (read without the lock)
  bool workers_exit_ = false;

  std::mutex completions_mutex_;
  std::deque<Completion> completions_;
  std::deque<uint64_t> stream_events_;  // connections whose stream queued a piece or finished
  std::atomic<bool> completion_wake_pending_{false};  // an eventfd write for completions is due

  // Event-loop thread only.
  std::deque<Job> quick_jobs_;  // dispatched quick requests, answered by runQuick()
  std::unordered_map<uint64_t, std::unique_ptr<Connection>> connections_;
  std::set<std::pair<TimePoint, uint64_t>> timers_;
  std::set<std::pair<TimePoint, uint64_t>> idle_;  // idle connections, oldest first
  uint64_t next_connection_id_ = kFirstConnectionId;
  bool stopping_ = false;
  TimePoint drain_deadline_;
  SecretBytes scratch_;
  std::size_t refused_since_log_ = 0;
  std::size_t evicted_since_log_ = 0;
  std::size_t busy_since_log_ = 0;
  std::array<std::size_t, kPools> pool_count_{};
  std::unordered_map<uid_t, std::size_t> uid_count_;        // client and unknown-peer connections
  std::size_t buffered_body_ = 0;                           // reserved body bytes, all connections
  std::unordered_map<uid_t, std::size_t> buffered_by_uid_;  // the same per caller uid
  std::size_t max_buffered_body_ = 0;
  std::chrono::milliseconds header_timeout_{0};

  std::atomic<std::size_t> open_connections_{0};
};

StatusOr<std::unique_ptr<HttpServer>> HttpServer::start(HttpServerOptions options,
                                                        RequestHandler& handler,
                                                        std::vector<ListeningSocket> sockets,
                                                        Clock& clock) {
  if (options.workers == 0) return invalidArgumentError("HTTP server needs at least one worker");
  if (options.max_connections == 0) {
    return invalidArgumentError("HTTP server max_connections must be at least 1");
  }
  if (options.admin_connections == 0 || options.unknown_peer_connections == 0 ||
      options.max_connections_per_uid == 0) {
    return invalidArgumentError(
        "HTTP server admin, unknown-peer and per-uid connection limits must be at least 1");
  }
  if (options.header_timeout.count() <= 0 || options.read_timeout.count() <= 0 ||
      options.idle_timeout.count() <= 0 || options.write_timeout.count() <= 0 ||
      options.drain_timeout.count() < 0) {
    return invalidArgumentError("HTTP server timeouts must be positive");
  }
  if (options.max_streams == 0) {
    return invalidArgumentError("HTTP server max_streams must be at least 1");
  }
  if (sockets.empty()) return invalidArgumentError("HTTP server has no listening socket");
  for (const auto& socket : sockets) {
    if (socket.fd < 0) return invalidArgumentError("HTTP server got an invalid listening socket");
  }
  auto impl = std::make_unique<Impl>(options, handler, std::move(sockets), clock);
  SKR_RETURN_IF_ERROR(impl->init());
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() {
  stop();
}

void HttpServer::requestStop() {
  impl_->requestStop();
}

void HttpServer::wait() {
  impl_->wait();
}

void HttpServer::stop() {
  requestStop();
  wait();
}

void HttpServer::poke() {
  impl_->poke();
}

std::size_t HttpServer::openConnections() const {
  return impl_->openConnections();
}

std::size_t HttpServer::activeStreams() const {
  return impl_->activeStreams();
}

std::size_t HttpServer::bufferedStreamBytes() const {
  return impl_->bufferedStreamBytes();
}

}  // namespace skr::agent
