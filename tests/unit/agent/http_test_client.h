// A blocking HTTP/1.1 test client on a Unix socket that decodes both Content-Length and chunked
// (Transfer-Encoding) bodies, and tells a chunked body that ended with its terminating zero-length
// chunk from one the server cut off. Reads give up after 5 s (SO_RCVTIMEO), so no test hangs.
#pragma once

#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cctype>
#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "tests/unit/agent/socket_test_dir.h"

namespace skr::agent::testing {

struct TestResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;                            // decoded (unless a body callback took it)
  bool chunked = false;
  bool complete = false;  // Content-Length reached, or the terminating chunk arrived
  std::size_t chunks = 0;

  std::string header(const std::string& name) const {
    const auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

class HttpTestClient {
 public:
  explicit HttpTestClient(const std::string& path) : fd_(connectUnix(path)) {
    if (fd_ >= 0) {
      timeval timeout{5, 0};
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    }
  }
  ~HttpTestClient() { close(); }
  HttpTestClient(const HttpTestClient&) = delete;
  HttpTestClient& operator=(const HttpTestClient&) = delete;

  bool connected() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  bool send(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // The status line and headers of the next response; nullopt on EOF or timeout.
  std::optional<TestResponse> readHead() {
    while (true) {
      const std::size_t end = buffer_.find("\r\n\r\n");
      if (end != std::string::npos) {
        TestResponse response;
        const std::string head = buffer_.substr(0, end);
        buffer_.erase(0, end + 4);
        if (head.size() < 12) return std::nullopt;
        response.status = std::stoi(head.substr(9, 3));
        std::size_t line_start = head.find("\r\n");
        while (line_start != std::string::npos) {
          const std::size_t next = head.find("\r\n", line_start + 2);
          const std::string line =
              head.substr(line_start + 2,
                          next == std::string::npos ? std::string::npos : next - line_start - 2);
          const std::size_t colon = line.find(": ");
          std::string name = line.substr(0, colon);
          for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          response.headers[name] = colon == std::string::npos ? "" : line.substr(colon + 2);
          line_start = next;
        }
        response.chunked = response.header("transfer-encoding") == "chunked";
        return response;
      }
      if (!fill()) return std::nullopt;
    }
  }

  // Reads the body of `response` (after readHead()) until it is complete, the server closes the
  // connection, a read times out or the framing is wrong; `response.complete` tells which.
  // `on_data` (optional) receives the decoded body instead of response.body; `pause` (optional)
  // runs after every read from the socket (a slow reader sleeps there).
  void readBody(TestResponse& response, bool head_request = false,
                const std::function<void(std::string_view)>& on_data = {},
                const std::function<void()>& pause = {}) {
    auto deliver = [&](std::string_view data) {
      if (on_data) {
        on_data(data);
      } else {
        response.body.append(data);
      }
    };
    if (head_request || response.status == 204 || response.status == 304) {
      response.complete = true;
      return;
    }
    if (!response.chunked) {
      const std::size_t length = response.headers.count("content-length") != 0
                                     ? std::stoul(response.header("content-length"))
                                     : 0;
      while (buffer_.size() < length) {
        if (!fill()) return;
      }
      deliver(std::string_view(buffer_).substr(0, length));
      buffer_.erase(0, length);
      response.complete = true;
      return;
    }
    while (true) {
      const std::size_t line_end = buffer_.find("\r\n");
      if (line_end == std::string::npos) {
        if (buffer_.size() > 64 || !fill(pause)) return;
        continue;
      }
      std::size_t size = 0;
      try {
        size = std::stoul(buffer_.substr(0, line_end), nullptr, 16);
      } catch (...) {
        return;
      }
      if (size == 0) {
        while (buffer_.size() < line_end + 4) {
          if (!fill(pause)) return;
        }
        if (buffer_.compare(line_end, 4, "\r\n\r\n") != 0) return;
        buffer_.erase(0, line_end + 4);
        response.complete = true;
        return;
      }
      buffer_.erase(0, line_end + 2);
      ++response.chunks;
      std::size_t remaining = size;
      while (remaining > 0) {
        if (buffer_.empty() && !fill(pause)) return;
        const std::size_t take = std::min(remaining, buffer_.size());
        deliver(std::string_view(buffer_).substr(0, take));
        buffer_.erase(0, take);
        remaining -= take;
      }
      while (buffer_.size() < 2) {
        if (!fill(pause)) return;
      }
      if (buffer_.compare(0, 2, "\r\n") != 0) return;
      buffer_.erase(0, 2);
    }
  }

  // readHead() and readBody(); nullopt when no head arrived.
  std::optional<TestResponse> read(bool head_request = false) {
    std::optional<TestResponse> response = readHead();
    if (response) readBody(*response, head_request);
    return response;
  }

  // True when the server closed the connection (EOF or reset) before the 5 s receive timeout,
  // with no further bytes.
  bool closedByServer() {
    if (!buffer_.empty()) return false;
    char byte;
    const ssize_t n = ::recv(fd_, &byte, 1, 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
  }

  // Raw bytes received on this connection so far.
  std::size_t receivedBytes() const { return received_; }

 private:
  bool fill(const std::function<void()>& pause = {}) {
    char chunk[64 * 1024];
    const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) return false;
    received_ += static_cast<std::size_t>(n);
    buffer_.append(chunk, static_cast<std::size_t>(n));
    if (pause) pause();
    return true;
  }

  int fd_;
  std::string buffer_;
  std::size_t received_ = 0;
};

}  // namespace skr::agent::testing
