// skr_hostile_client: the attacks of issue 14 against skr-agent's Unix socket, run by the
// integration tests and scripts/bench hostile as another uid (setpriv). One thread, non-blocking
// sockets and poll(); every attack is bounded by a connection count and a duration, and ends by
// closing everything. Prints one JSON line: what was sent and the status codes it got back.
//
//   skr_hostile_client MODE SOCKET CONNECTIONS SECONDS PATH [BODY_FILE]
//   MODE body-flood  each connection sends a head with Content-Length: 1048576 and then as much
//                    of the body as the socket takes (all but the last byte), and holds it;
//                    reconnects when the agent closes it
//   MODE slowloris   each connection sends one byte of a request head per second; reconnects
//                    after the agent's 408 / close
//   MODE json-bomb   each connection POSTs a 1 MiB JSON body of ~350,000 empty objects, reads the
//                    answer and repeats (keep-alive when the agent allows)
//   MODE replay      each connection POSTs the body in BODY_FILE to PATH, reads the answer and
//                    repeats (e.g. 100-item RSA batches)
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

enum class Mode { BodyFlood, Slowloris, JsonBomb, Replay };

struct Conn {
  int fd = -1;
  std::string out;  // bytes still to send
  std::size_t out_offset = 0;
  std::string in;
  Clock::time_point next_drip;
  std::size_t drip_offset = 0;
  Clock::time_point reopen_at;  // after the agent closed it: reconnect 1 s later
};

int connectTo(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    ::close(fd);
    return -1;
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 &&
      errno != EINPROGRESS && errno != EAGAIN) {
    ::close(fd);
    return -1;
  }
  return fd;
}

std::string head(const std::string& path, std::size_t length) {
  return "POST " + path + " HTTP/1.1\r\nHost: skr\r\nX-SKR-Request: 1\r\n" +
         "Content-Type: application/json\r\nContent-Length: " + std::to_string(length) + "\r\n\r\n";
}

// {"alg":"A256KW","value":"AA","x":[{},{},...]} padded to 1 MiB.
std::string jsonBomb() {
  std::string body = R"({"alg":"A256KW","value":"AA","x":[{})";
  const std::size_t target = std::size_t{1024} * 1024 - 2;
  body.reserve(target + 2);
  while (body.size() + 3 <= target) body += ",{}";
  body += "]}";
  return body;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 6) {
    std::fprintf(stderr,
                 "usage: skr_hostile_client body-flood|slowloris|json-bomb|replay SOCKET "
                 "CONNECTIONS SECONDS PATH [BODY_FILE]\n");
    return 2;
  }
  const std::string mode_name = argv[1];
  Mode mode;
  if (mode_name == "body-flood") {
    mode = Mode::BodyFlood;
  } else if (mode_name == "slowloris") {
    mode = Mode::Slowloris;
  } else if (mode_name == "json-bomb") {
    mode = Mode::JsonBomb;
  } else if (mode_name == "replay") {
    mode = Mode::Replay;
  } else {
    std::fprintf(stderr, "skr_hostile_client: unknown mode '%s'\n", argv[1]);
    return 2;
  }
  const std::string socket_path = argv[2];
  const int connections = std::atoi(argv[3]);
  const double seconds = std::atof(argv[4]);
  const std::string path = argv[5];
  if (connections < 1 || connections > 4096 || seconds <= 0 || seconds > 600) {
    std::fprintf(stderr, "skr_hostile_client: CONNECTIONS 1..4096, SECONDS 0..600\n");
    return 2;
  }

  std::string request;  // what every connection sends (slowloris: dripped)
  switch (mode) {
    case Mode::BodyFlood: {
      constexpr std::size_t kLength = std::size_t{1024} * 1024;
      request = head(path, kLength) + std::string(kLength - 1, 'A');
      break;
    }
    case Mode::Slowloris:
      request = "GET " + path +
                " HTTP/1.1\r\nHost: skr\r\nX-SKR-Request: 1\r\nX-Pad: " + std::string(4000, 'p') +
                "\r\n\r\n";
      break;
    case Mode::JsonBomb: {
      const std::string body = jsonBomb();
      request = head(path, body.size()) + body;
      break;
    }
    case Mode::Replay: {
      if (argc < 7) {
        std::fprintf(stderr, "skr_hostile_client: replay needs BODY_FILE\n");
        return 2;
      }
      std::ifstream file(argv[6], std::ios::binary);
      const std::string body((std::istreambuf_iterator<char>(file)),
                             std::istreambuf_iterator<char>());
      if (body.empty()) {
        std::fprintf(stderr, "skr_hostile_client: empty BODY_FILE\n");
        return 2;
      }
      request = head(path, body.size()) + body;
      break;
    }
  }

  const auto start = Clock::now();
  const auto end =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::vector<Conn> conns(static_cast<std::size_t>(connections));
  std::map<int, long> statuses;
  long opened = 0, failed_connects = 0, closed_by_agent = 0;
  unsigned long long bytes_sent = 0;

  auto openConn = [&](Conn& c) {
    c = Conn{};
    c.reopen_at = Clock::now();
    c.fd = connectTo(socket_path);
    if (c.fd < 0) {
      ++failed_connects;
      return;
    }
    ++opened;
    c.out = request;
    c.next_drip = Clock::now();
  };
  auto closeConn = [&](Conn& c) {
    if (c.fd >= 0) ::close(c.fd);
    c.fd = -1;
    c.reopen_at = Clock::now() + std::chrono::seconds(1);
  };
  // Counts each complete response head in c.in; returns false when the connection should be
  // reopened (the agent answered and closes, or the request should be sent again).
  auto takeResponses = [&](Conn& c) {
    bool any = false;
    for (;;) {
      const std::size_t end_of_head = c.in.find("\r\n\r\n");
      if (end_of_head == std::string::npos) break;
      int status = 0;
      if (c.in.rfind("HTTP/1.1 ", 0) == 0) status = std::atoi(c.in.c_str() + 9);
      std::size_t length = 0;
      const std::size_t cl = c.in.find("Content-Length: ");
      if (cl != std::string::npos && cl < end_of_head) {
        length = std::strtoul(c.in.c_str() + cl + 16, nullptr, 10);
      }
      if (c.in.size() < end_of_head + 4 + length) break;
      c.in.erase(0, end_of_head + 4 + length);
      if (status == 100) continue;
      ++statuses[status];
      any = true;
    }
    return any;
  };

  for (Conn& c : conns) openConn(c);
  while (Clock::now() < end) {
    std::vector<pollfd> fds;
    std::vector<std::size_t> slot;
    const auto now = Clock::now();
    for (std::size_t i = 0; i < conns.size(); ++i) {
      Conn& c = conns[i];
      if (c.fd < 0) {
        if (now < c.reopen_at) continue;
        openConn(c);
        if (c.fd < 0) {
          c.reopen_at = now + std::chrono::seconds(1);
          continue;
        }
      }
      short events = POLLIN;
      if (mode == Mode::Slowloris) {
        if (c.drip_offset < c.out.size() && now >= c.next_drip) {
          const ssize_t n = ::send(c.fd, c.out.data() + c.drip_offset, 1, MSG_NOSIGNAL);
          if (n == 1) {
            ++c.drip_offset;
            ++bytes_sent;
            c.next_drip = now + std::chrono::seconds(1);
          }
        }
      } else if (c.out_offset < c.out.size()) {
        events |= POLLOUT;
      }
      fds.push_back(pollfd{c.fd, events, 0});
      slot.push_back(i);
    }
    const int ready = ::poll(fds.data(), fds.size(), 50);
    if (ready <= 0) {
      if (fds.empty()) ::usleep(50000);
      continue;
    }
    for (std::size_t k = 0; k < fds.size(); ++k) {
      Conn& c = conns[slot[k]];
      if ((fds[k].revents & POLLOUT) != 0 && c.out_offset < c.out.size()) {
        // Body flood: all but the last byte, then hold.
        const std::size_t limit = c.out.size();
        const ssize_t n =
            ::send(c.fd, c.out.data() + c.out_offset, limit - c.out_offset, MSG_NOSIGNAL);
        if (n > 0) {
          c.out_offset += static_cast<std::size_t>(n);
          bytes_sent += static_cast<unsigned long long>(n);
        } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
          ++closed_by_agent;
          closeConn(c);
          continue;
        }
      }
      if ((fds[k].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
        char buffer[65536];
        const ssize_t n = ::recv(c.fd, buffer, sizeof buffer, 0);
        if (n > 0) {
          c.in.append(buffer, static_cast<std::size_t>(n));
          if (takeResponses(c) && (mode == Mode::JsonBomb || mode == Mode::Replay) &&
              c.out_offset >= c.out.size()) {
            c.out_offset = 0;  // keep-alive: send the request again
          }
        } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
          takeResponses(c);
          ++closed_by_agent;
          closeConn(c);
        }
      }
    }
  }
  for (Conn& c : conns) closeConn(c);

  std::string out = "{\"mode\":\"" + mode_name + "\",\"opened\":" + std::to_string(opened) +
                    ",\"failed_connects\":" + std::to_string(failed_connects) +
                    ",\"closed_by_agent\":" + std::to_string(closed_by_agent) +
                    ",\"bytes_sent\":" + std::to_string(bytes_sent) + ",\"statuses\":{";
  bool first = true;
  for (const auto& [status, count] : statuses) {
    if (!first) out += ",";
    first = false;
    out += "\"" + std::to_string(status) + "\":" + std::to_string(count);
  }
  out += "}}\n";
  std::fputs(out.c_str(), stdout);
  return 0;
}
