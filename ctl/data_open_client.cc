#include "ctl/data_open_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <optional>

#include "client/agent_client.h"

namespace skr::ctl {
namespace {

constexpr std::size_t kMaxHeadBytes = 64 * 1024;          // status line and headers
constexpr std::size_t kMaxErrorBodyBytes = 64 * 1024;     // an error answer's JSON
constexpr uint64_t kMaxChunkBytes = 64ull * 1024 * 1024;  // one chunk of the agent's body
constexpr std::size_t kReadBytes = 256 * 1024;

// A connected Unix socket with a read buffer; every read waits at most idle_timeout.
class Connection {
 public:
  Connection(int fd, std::string where, std::chrono::milliseconds idle)
      : fd_(fd), where_(std::move(where)), idle_(idle) {}
  ~Connection() { ::close(fd_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  Status sendAll(std::string_view data) {
    std::size_t done = 0;
    while (done < data.size()) {
      const ssize_t n = ::send(fd_, data.data() + done, data.size() - done, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        return unavailableError(where_ + ": cannot send the request: " + std::strerror(errno));
      }
      done += static_cast<std::size_t>(n);
    }
    return okStatus();
  }

  // More bytes into the buffer; false at end of stream.
  StatusOr<bool> fill() {
    pollfd p{fd_, POLLIN, 0};
    for (;;) {
      const int r = ::poll(&p, 1, static_cast<int>(idle_.count()));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return unavailableError(where_ + ": poll: " + std::strerror(errno));
      if (r == 0) {
        return deadlineExceededError(where_ + ": no data for " +
                                     std::to_string(idle_.count() / 1000) + " s");
      }
      break;
    }
    const std::size_t old = buffer_.size();
    buffer_.resize(old + kReadBytes);
    for (;;) {
      const ssize_t n =
          ::recv(fd_, buffer_.mutableView(grantSecretAccess()).data() + old, kReadBytes, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        buffer_.resize(old);
        return unavailableError(where_ + ": read: " + std::strerror(errno));
      }
      buffer_.resize(old + static_cast<std::size_t>(n));
      return n > 0;
    }
  }

  // Plaintext is passed through this buffer; it is wiped as it is consumed.
  SecretBytes& buffer() { return buffer_; }
  std::string_view text() const { return asText(buffer_.view(grantSecretAccess())); }
  void consume(std::size_t n) {
    std::span<uint8_t> all = buffer_.mutableView(grantSecretAccess());
    std::copy(all.begin() + static_cast<std::ptrdiff_t>(n), all.end(), all.begin());
    std::fill(all.end() - static_cast<std::ptrdiff_t>(n), all.end(), uint8_t{0});
    buffer_.resize(all.size() - n);
  }
  const std::string& where() const { return where_; }

 private:
  int fd_;
  std::string where_;
  std::chrono::milliseconds idle_;
  SecretBytes buffer_;
};

StatusOr<std::unique_ptr<Connection>> connectTo(const DataOpenRequest& request) {
  const std::string where = "skr-agent at " + request.socket_path;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (request.socket_path.empty() || request.socket_path.size() >= sizeof(addr.sun_path)) {
    return invalidArgumentError("the socket path is empty or longer than " +
                                std::to_string(sizeof(addr.sun_path) - 1) + " bytes");
  }
  std::memcpy(addr.sun_path, request.socket_path.data(), request.socket_path.size());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return unavailableError(where + ": socket: " + std::strerror(errno));
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {  // NOLINT
    const int e = errno;
    ::close(fd);
    return unavailableError(where + ": cannot connect (" + std::strerror(e) +
                            "); is skr-agent running, and is this its client socket?");
  }
  return std::make_unique<Connection>(fd, where, request.idle_timeout);
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

struct Head {
  int status = 0;
  std::string content_type;
  bool chunked = false;
  std::optional<uint64_t> content_length;
  std::string kid;
  std::string envelope;
};

StatusOr<Head> readHead(Connection& c) {
  std::size_t end;
  while ((end = c.text().find("\r\n\r\n")) == std::string_view::npos) {
    if (c.text().size() > kMaxHeadBytes) {
      return dataLossError(c.where() + ": the answer's headers exceed " +
                           std::to_string(kMaxHeadBytes) + " bytes");
    }
    SKR_ASSIGN_OR_RETURN(bool more, c.fill());
    if (!more) return dataLossError(c.where() + ": the connection closed before an HTTP answer");
  }
  if (end > kMaxHeadBytes) {
    return dataLossError(c.where() + ": the answer's headers exceed " +
                         std::to_string(kMaxHeadBytes) + " bytes");
  }
  const std::string head(c.text().substr(0, end));
  c.consume(end + 4);
  Head h;
  std::size_t line_end = head.find("\r\n");
  const std::string_view status_line = std::string_view(head).substr(0, line_end);
  if (!status_line.starts_with("HTTP/1.1 ") && !status_line.starts_with("HTTP/1.0 ")) {
    return dataLossError(c.where() + ": not an HTTP answer");
  }
  const std::string_view code = status_line.substr(9, 3);
  if (code.size() != 3 || !std::all_of(code.begin(), code.end(), ::isdigit)) {
    return dataLossError(c.where() + ": not an HTTP status line");
  }
  h.status = std::stoi(std::string(code));
  while (line_end != std::string::npos) {
    const std::size_t start = line_end + 2;
    line_end = head.find("\r\n", start);
    const std::string_view line = std::string_view(head).substr(
        start, line_end == std::string::npos ? std::string::npos : line_end - start);
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return dataLossError(c.where() + ": a malformed header");
    const std::string name = lower(trim(line.substr(0, colon)));
    const std::string_view value = trim(line.substr(colon + 1));
    if (name == "content-type") {
      h.content_type = std::string(value);
    } else if (name == "transfer-encoding") {
      if (lower(value) != "chunked") {
        return dataLossError(c.where() + ": unsupported Transfer-Encoding");
      }
      h.chunked = true;
    } else if (name == "content-length") {
      if (value.empty() || value.size() > 19 ||
          !std::all_of(value.begin(), value.end(), ::isdigit)) {
        return dataLossError(c.where() + ": a malformed Content-Length");
      }
      h.content_length = std::stoull(std::string(value));
    } else if (name == "x-skr-kid") {
      h.kid = std::string(value.substr(0, 2048));
    } else if (name == "x-skr-envelope") {
      h.envelope = std::string(value.substr(0, 32));
    }
  }
  return h;
}

// Reads one chunk-size line ("1a2b[;ext]\r\n"); the size.
StatusOr<uint64_t> readChunkSize(Connection& c) {
  std::size_t eol;
  while ((eol = c.text().find("\r\n")) == std::string_view::npos) {
    if (c.text().size() > 1024) return dataLossError(c.where() + ": a malformed chunk size line");
    SKR_ASSIGN_OR_RETURN(bool more, c.fill());
    if (!more) {
      return dataLossError(c.where() +
                           ": the answer ended before its last chunk (the object was not "
                           "opened completely)");
    }
  }
  std::string_view line = c.text().substr(0, eol);
  line = line.substr(0, line.find(';'));
  line = trim(line);
  if (line.empty() || line.size() > 15 || !std::all_of(line.begin(), line.end(), ::isxdigit)) {
    return dataLossError(c.where() + ": a malformed chunk size line");
  }
  const uint64_t size = std::stoull(std::string(line), nullptr, 16);
  c.consume(eol + 2);
  return size;
}

Status readOkBody(Connection& c, const PlaintextWriter& write, uint64_t& total) {
  for (;;) {
    SKR_ASSIGN_OR_RETURN(uint64_t size, readChunkSize(c));
    if (size > kMaxChunkBytes) {
      return dataLossError(c.where() + ": a chunk of " + std::to_string(size) +
                           " bytes exceeds the limit");
    }
    if (size == 0) {
      // Trailers (none expected) end with an empty line.
      for (;;) {
        std::size_t eol;
        while ((eol = c.text().find("\r\n")) == std::string_view::npos) {
          if (c.text().size() > kMaxHeadBytes) return dataLossError(c.where() + ": bad trailer");
          SKR_ASSIGN_OR_RETURN(bool more, c.fill());
          if (!more) return dataLossError(c.where() + ": the answer ended inside its trailer");
        }
        c.consume(eol + 2);
        if (eol == 0) return okStatus();
      }
    }
    uint64_t left = size;
    while (left > 0) {
      if (c.text().empty()) {
        SKR_ASSIGN_OR_RETURN(bool more, c.fill());
        if (!more) {
          return dataLossError(c.where() +
                               ": the answer ended inside a chunk (the object was not opened "
                               "completely)");
        }
      }
      const std::size_t take =
          static_cast<std::size_t>(std::min<uint64_t>(left, c.buffer().size()));
      SecretBytes piece = SecretBytes::copyOf(c.buffer().view(grantSecretAccess()).first(take));
      c.consume(take);
      SKR_RETURN_IF_ERROR(write(piece));
      left -= take;
      total += take;
    }
    while (c.text().size() < 2) {
      SKR_ASSIGN_OR_RETURN(bool more, c.fill());
      if (!more) {
        return dataLossError(c.where() + ": the answer ended before its last chunk");
      }
    }
    if (c.text().substr(0, 2) != "\r\n") {
      return dataLossError(c.where() + ": a chunk does not end with CRLF");
    }
    c.consume(2);
  }
}

// The body of an error answer (small JSON), chunked, sized or up to the end of the stream.
StatusOr<SecretBytes> readErrorBody(Connection& c, const Head& head) {
  SecretBytes body;
  if (head.chunked) {
    uint64_t total = 0;
    Status s = readOkBody(
        c,
        [&body](const SecretBytes& piece) {
          if (body.size() + piece.size() > kMaxErrorBodyBytes) {
            return dataLossError("the agent's error answer is too large");
          }
          body.append(piece.view(grantSecretAccess()));
          return okStatus();
        },
        total);
    if (!s.ok()) return s;
    return body;
  }
  const uint64_t want = head.content_length.value_or(kMaxErrorBodyBytes);
  if (want > kMaxErrorBodyBytes) return dataLossError("the agent's error answer is too large");
  while (c.buffer().size() < want) {
    SKR_ASSIGN_OR_RETURN(bool more, c.fill());
    if (!more) break;
  }
  const std::size_t take = static_cast<std::size_t>(std::min<uint64_t>(want, c.buffer().size()));
  body.append(c.buffer().view(grantSecretAccess()).first(take));
  return body;
}

}  // namespace

StatusOr<DataOpenResult> openDataThroughAgent(const DataOpenRequest& request,
                                              const PlaintextWriter& write) {
  SKR_ASSIGN_OR_RETURN(std::unique_ptr<Connection> c, connectTo(request));
  std::string head =
      "POST /data/open HTTP/1.1\r\nHost: skr-agent\r\nX-SKR-Request: 1\r\n"
      "Content-Type: application/json\r\nConnection: close\r\nContent-Length: " +
      std::to_string(request.body.size()) + "\r\n";
  if (!request.bearer_token.empty()) {
    head += "Authorization: Bearer " + request.bearer_token + "\r\n";
  }
  head += "\r\n";
  SKR_RETURN_IF_ERROR(c->sendAll(head));
  SKR_RETURN_IF_ERROR(c->sendAll(request.body));
  SKR_ASSIGN_OR_RETURN(Head answer_head, readHead(*c));
  if (answer_head.status != 200) {
    AgentAnswer answer;
    answer.status = answer_head.status;
    answer.content_type = answer_head.content_type;
    StatusOr<SecretBytes> body = readErrorBody(*c, answer_head);
    if (body.ok()) answer.body = std::move(*body);
    return AgentClient::check(answer);
  }
  if (!answer_head.chunked) {
    return dataLossError(c->where() +
                         ": the 200 answer is not chunked (a complete body cannot be told "
                         "from a cut one)");
  }
  DataOpenResult result;
  result.kid = answer_head.kid;
  result.envelope = answer_head.envelope;
  SKR_RETURN_IF_ERROR(readOkBody(*c, write, result.plaintext_bytes));
  return result;
}

}  // namespace skr::ctl
