// skr_agent_load: the load generator and in-process baseline behind `scripts/bench agent`
// (issue 6, "Speed and footprint"). Three modes, each printing one machine-readable line of
// key=value pairs on stdout:
//   --socket PATH --key NAME --alg ALG [--clients N] [--seconds S] [--agent-pid PID]
//       N threads, each with its own keep-alive connection to the agent's client socket, send
//       POST /keys/NAME/unwrapkey as fast as the answers come back; every answer must be 200 with
//       the expected DEK. RSA payloads are wrapped here with the public key from GET /keys/NAME;
//       for AES key wrap the DEK is wrapped once through the agent (POST wrapkey) and reused.
//       With --agent-pid, the agent's CPU time per request is reported too.
//       --requests N: stop after N answered requests instead of after --seconds (the soak).
//       --versioned (A256KW): unwrap at /keys/NAME/VERSION/unwrapkey, the version the wrapkey
//       answer named, so the wrapped DEKs stay valid through rotations; the version is printed.
//       --midway-command CMD: runs CMD (sh -c) once half of --requests are answered, while the
//       load goes on; exits 1 if CMD fails (the soak rotates the key with it).
//   --socket PATH --fixed-answer FILE [--key NAME] [--clients N] [--seconds S]
//       the same load against a server that answers every request with the bytes of FILE (the
//       transport limit: nginx with a fixed answer of the agent's size): the same requests as for
//       A256KW (a random wrapped value of the same length), every answer must be 200 with exactly
//       the body of FILE.
//   --in-process --alg ALG [--threads N] [--seconds S]
//       the same unwrap with OpenSSL in this process (a fresh RSA-3072 or AES-256 key), N threads.
//   --ready --agent BIN --config FILE --socket PATH [--runs N] [--log FILE]
//       starts BIN --config FILE N times and measures the time from exec to GET /readyz 200 on
//       PATH (polled every 0.2 ms), then stops the agent with SIGTERM.
// A benchmark tool, not a test: it trusts the agent's answers only as far as it checks them
// (status 200 and the expected value), and exits 1 on any failure.
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/core/bytes.h"
#include "common/core/secret_bytes.h"
#include "common/core/ssl_ptr.h"
#include "common/crypto/pkey.h"
#include "common/crypto/random.h"
#include "common/crypto/rsa_oaep.h"
#include "common/encoding/base64.h"
#include "common/json/json.h"

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "skr_agent_load: %s\n", message.c_str());
  std::exit(1);
}

struct Options {
  enum class Mode { Load, InProcess, Ready } mode = Mode::Load;
  std::string socket;
  std::string key;
  std::string alg = "RSA-OAEP-256";
  int clients = 16;
  int threads = 0;  // in-process: 0 = hardware threads
  double seconds = 5.0;
  double warmup = 0.5;
  std::string agent;
  std::string config;
  std::string log = "/dev/null";
  int runs = 5;
  pid_t agent_pid = 0;    // load mode: the agent whose CPU time is reported
  uint64_t requests = 0;  // load mode: stop after this many answers (0: after --seconds)
  bool versioned = false;
  std::string midway_command;
  std::string fixed_answer;  // load mode: the file whose bytes every answer must be
};

int parsePositive(const char* flag, const char* text) {
  int value = 0;
  const std::string_view s(text);
  const auto r = std::from_chars(s.data(), s.data() + s.size(), value);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || value < 1) {
    die(std::string(flag) + " needs a positive integer, got '" + text + "'");
  }
  return value;
}

double parseSeconds(const char* flag, const char* text) {
  char* end = nullptr;
  const double value = std::strtod(text, &end);
  if (end == text || *end != '\0' || !(value >= 0.0) || value > 3600.0) {
    die(std::string(flag) + " needs a number of seconds, got '" + text + "'");
  }
  return value;
}

Options parseOptions(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) die(std::string(arg) + " needs a value");
      return argv[++i];
    };
    if (arg == "--in-process") {
      o.mode = Options::Mode::InProcess;
    } else if (arg == "--ready") {
      o.mode = Options::Mode::Ready;
    } else if (arg == "--socket") {
      o.socket = value();
    } else if (arg == "--key") {
      o.key = value();
    } else if (arg == "--alg") {
      o.alg = value();
    } else if (arg == "--clients") {
      o.clients = parsePositive("--clients", value());
    } else if (arg == "--threads") {
      o.threads = parsePositive("--threads", value());
    } else if (arg == "--seconds") {
      o.seconds = parseSeconds("--seconds", value());
    } else if (arg == "--warmup") {
      o.warmup = parseSeconds("--warmup", value());
    } else if (arg == "--agent") {
      o.agent = value();
    } else if (arg == "--config") {
      o.config = value();
    } else if (arg == "--log") {
      o.log = value();
    } else if (arg == "--runs") {
      o.runs = parsePositive("--runs", value());
    } else if (arg == "--agent-pid") {
      o.agent_pid = parsePositive("--agent-pid", value());
    } else if (arg == "--requests") {
      const std::string_view text = value();
      const auto r = std::from_chars(text.data(), text.data() + text.size(), o.requests);
      if (r.ec != std::errc() || r.ptr != text.data() + text.size() || o.requests < 1 ||
          o.requests > 1'000'000'000) {
        die("--requests needs a number from 1 to 1000000000, got '" + std::string(text) + "'");
      }
    } else if (arg == "--versioned") {
      o.versioned = true;
    } else if (arg == "--midway-command") {
      o.midway_command = value();
    } else if (arg == "--fixed-answer") {
      o.fixed_answer = value();
    } else {
      die("unknown option '" + std::string(arg) +
          "' (see the comment at the top of agent_load.cc)");
    }
  }
  if (o.alg != "RSA-OAEP-256" && o.alg != "A256KW") {
    die("--alg must be RSA-OAEP-256 or A256KW, got '" + o.alg + "'");
  }
  if (o.seconds <= 0.0) die("--seconds must be > 0");
  if (o.versioned && o.alg != "A256KW") die("--versioned needs --alg A256KW");
  if (!o.midway_command.empty() && o.requests == 0) die("--midway-command needs --requests");
  if (!o.fixed_answer.empty() && o.mode != Options::Mode::Load) {
    die("--fixed-answer is a load (--socket) option");
  }
  return o;
}

// ---- a minimal HTTP/1.1 keep-alive client over a Unix socket ----

struct HttpAnswer {
  int status = 0;
  std::string body;
};

class UnixHttpClient {
 public:
  // -1 when the socket is not there or refuses (errno set).
  static int connectTo(const std::string& path) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.size() >= sizeof(address.sun_path)) die("socket path too long: " + path);
    std::memcpy(address.sun_path, path.data(), path.size());
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) die(std::string("socket: ") + std::strerror(errno));
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) !=
        0) {  // NOLINT
      const int error = errno;
      ::close(fd);
      errno = error;
      return -1;
    }
    return fd;
  }

  explicit UnixHttpClient(const std::string& path) : fd_(connectTo(path)) {
    if (fd_ < 0) die("connect " + path + ": " + std::strerror(errno));
  }
  explicit UnixHttpClient(int fd) : fd_(fd) {}
  UnixHttpClient(const UnixHttpClient&) = delete;
  UnixHttpClient& operator=(const UnixHttpClient&) = delete;
  ~UnixHttpClient() {
    if (fd_ >= 0) ::close(fd_);
  }

  static std::string format(std::string_view method, std::string_view path, std::string_view body) {
    std::string request;
    request.append(method).append(" ").append(path).append(" HTTP/1.1\r\n");
    request += "Host: skr\r\nX-SKR-Request: 1\r\n";
    if (!body.empty() || method == "POST") {
      request += "Content-Type: application/json\r\nContent-Length: ";
      request += std::to_string(body.size());
      request += "\r\n";
    }
    request += "\r\n";
    request.append(body);
    return request;
  }

  // Sends `request` (already formatted) and reads one answer; false on a transport failure.
  bool exchange(std::string_view request, HttpAnswer& answer) {
    std::size_t sent = 0;
    while (sent < request.size()) {
      const ssize_t n = ::send(fd_, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      sent += static_cast<std::size_t>(n);
    }
    return readAnswer(answer);
  }

 private:
  bool fill() {
    char chunk[16384];
    while (true) {
      const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      buffer_.append(chunk, static_cast<std::size_t>(n));
      return true;
    }
  }

  static std::optional<std::size_t> contentLength(std::string_view head) {
    std::size_t pos = 0;
    while ((pos = head.find("\r\n", pos)) != std::string_view::npos) {
      pos += 2;
      constexpr std::string_view kName = "content-length:";
      if (head.size() - pos < kName.size()) break;
      bool match = true;
      for (std::size_t i = 0; i < kName.size() && match; ++i) {
        match = std::tolower(static_cast<unsigned char>(head[pos + i])) == kName[i];
      }
      if (!match) continue;
      std::size_t p = pos + kName.size();
      while (p < head.size() && head[p] == ' ') ++p;
      std::size_t value = 0;
      const auto r = std::from_chars(head.data() + p, head.data() + head.size(), value);
      if (r.ec != std::errc()) return std::nullopt;
      return value;
    }
    return std::nullopt;
  }

  bool readAnswer(HttpAnswer& answer) {
    std::size_t header_end;
    while ((header_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (buffer_.size() > 64 * 1024 || !fill()) return false;
    }
    const std::string_view head(buffer_.data(), header_end);
    if (head.size() < 12 || head.substr(0, 9) != "HTTP/1.1 ") return false;
    answer.status = std::atoi(std::string(head.substr(9, 3)).c_str());
    const std::optional<std::size_t> length = contentLength(head);
    if (!length || *length > 16 * 1024 * 1024) return false;
    const std::size_t total = header_end + 4 + *length;
    while (buffer_.size() < total) {
      if (!fill()) return false;
    }
    answer.body.assign(buffer_, header_end + 4, *length);
    buffer_.erase(0, total);
    return true;
  }

  int fd_;
  std::string buffer_;
};

HttpAnswer call(UnixHttpClient& client, std::string_view method, std::string_view path,
                std::string_view body) {
  HttpAnswer answer;
  if (!client.exchange(UnixHttpClient::format(method, path, body), answer)) {
    die(std::string(method) + " " + std::string(path) + ": the connection failed");
  }
  if (answer.status != 200) {
    die(std::string(method) + " " + std::string(path) + " answered " +
        std::to_string(answer.status) + ": " + answer.body.substr(0, 300));
  }
  return answer;
}

std::string jsonMember(const skr::json::ObjectPtr& object, std::string_view name) {
  auto value = skr::json::getString(object, name);
  if (!value.ok()) die(value.status().message());
  return *value;
}

skr::json::ObjectPtr parseAnswer(const HttpAnswer& answer) {
  auto object = skr::json::parseObject(answer.body);
  if (!object.ok()) die("the agent's answer is not a JSON object: " + object.status().message());
  return *object;
}

// ---- statistics ----

struct Result {
  uint64_t requests = 0;
  uint64_t errors = 0;
  double elapsed = 0.0;
  double own_cpu = 0.0;    // CPU seconds of this process during the measured window
  double server_cpu = -1;  // CPU seconds of --agent-pid during the window (-1: not measured)
  std::vector<uint32_t> latencies_us;  // every counted request
};

double processCpuSeconds() {
  timespec t{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

// utime + stime of another process (/proc/PID/stat fields 14 and 15), in seconds; -1 if unreadable.
double otherProcessCpuSeconds(pid_t pid) {
  if (pid <= 0) return -1;
  FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "r");
  if (f == nullptr) return -1;
  char line[1024];
  const std::size_t n = std::fread(line, 1, sizeof(line) - 1, f);
  std::fclose(f);
  line[n] = '\0';
  // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
  const char* p = std::strrchr(line, ')');
  if (p == nullptr) return -1;
  unsigned long long utime = 0, stime = 0;
  if (std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) !=
      2) {
    return -1;
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

uint32_t percentile(const std::vector<uint32_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto index = static_cast<std::size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(index, sorted.size() - 1)];
}

double perRequestMicros(double cpu_seconds, const Result& r) {
  return r.requests == 0 ? 0.0 : cpu_seconds * 1e6 / static_cast<double>(r.requests);
}

// cpu_us_per_req is this process's CPU time per request (the client side, or the whole unwrap in
// process); agent_cpu_us_per_req the agent's (--agent-pid), both over the measured window.
void printResult(const char* mode, const Options& o, int concurrency, Result& r,
                 const std::string& extra = "") {
  std::sort(r.latencies_us.begin(), r.latencies_us.end());
  std::printf(
      "mode=%s alg=%s concurrency=%d seconds=%.2f requests=%llu errors=%llu rps=%.0f "
      "p50_us=%u p99_us=%u max_us=%u cpu_us_per_req=%.1f",
      mode, o.alg.c_str(), concurrency, r.elapsed, static_cast<unsigned long long>(r.requests),
      static_cast<unsigned long long>(r.errors),
      r.elapsed > 0 ? static_cast<double>(r.requests) / r.elapsed : 0.0,
      percentile(r.latencies_us, 0.50), percentile(r.latencies_us, 0.99),
      r.latencies_us.empty() ? 0U : r.latencies_us.back(), perRequestMicros(r.own_cpu, r));
  if (r.server_cpu >= 0)
    std::printf(" agent_cpu_us_per_req=%.1f", perRequestMicros(r.server_cpu, r));
  std::printf("%s\n", extra.c_str());
  std::fflush(stdout);
}

// Runs `work(thread index, latencies)` on `threads` threads for warmup + seconds (or until
// o.requests answers after the warm-up); only what finishes after the warm-up is timed, errors
// count in every phase. `work` returns false on an error.
template <typename Work>
Result runTimed(int threads, const Options& o, Work work, pid_t server = 0) {
  std::atomic<int> phase{0};  // 0 warm-up, 1 measured, 2 stop
  std::atomic<uint64_t> errors{0};
  std::atomic<uint64_t> answered{0};  // counted only with o.requests (the soak)
  std::vector<std::vector<uint32_t>> latencies(static_cast<std::size_t>(threads));
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      auto& mine = latencies[static_cast<std::size_t>(t)];
      mine.reserve(1 << 18);
      while (true) {
        const int now_phase = phase.load(std::memory_order_relaxed);
        if (now_phase == 2) break;
        const auto start = Clock::now();
        const bool ok = work(t);
        const auto took = Clock::now() - start;
        if (!ok) {
          ++errors;
          continue;
        }
        if (phase.load(std::memory_order_relaxed) != 1 || now_phase != 1) continue;
        if (o.requests > 0) answered.fetch_add(1, std::memory_order_relaxed);
        mine.push_back(static_cast<uint32_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(took).count()));
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(o.warmup));
  const auto start = Clock::now();
  const double own_start = processCpuSeconds();
  const double server_start = otherProcessCpuSeconds(server);
  phase = 1;
  if (o.requests == 0) {
    std::this_thread::sleep_for(std::chrono::duration<double>(o.seconds));
  } else {
    std::thread midway;
    int midway_status = 0;
    while (answered.load(std::memory_order_relaxed) < o.requests) {
      if (!o.midway_command.empty() && !midway.joinable() &&
          answered.load(std::memory_order_relaxed) >= o.requests / 2) {
        midway = std::thread([&] { midway_status = std::system(o.midway_command.c_str()); });
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (midway.joinable()) midway.join();
    if (!o.midway_command.empty() && midway_status != 0) {
      phase = 2;
      for (auto& thread : pool) thread.join();
      die("--midway-command failed (status " + std::to_string(midway_status) + ")");
    }
  }
  phase = 2;
  const auto end = Clock::now();
  const double own_end = processCpuSeconds();
  const double server_end = otherProcessCpuSeconds(server);
  for (auto& thread : pool) thread.join();
  Result r;
  r.elapsed = std::chrono::duration<double>(end - start).count();
  r.own_cpu = own_end - own_start;
  if (server_start >= 0 && server_end >= 0) r.server_cpu = server_end - server_start;
  r.errors = errors.load();
  for (auto& l : latencies) r.latencies_us.insert(r.latencies_us.end(), l.begin(), l.end());
  r.requests = r.latencies_us.size();
  return r;
}

// ---- mode: load over the socket ----

int runLoad(const Options& o) {
  if (o.socket.empty() || o.key.empty()) die("--socket and --key are required");
  const std::string key_path = "/keys/" + o.key;
  std::vector<std::string> requests;
  // "value":"<base64url DEK>" in the answer; with --fixed-answer, the whole answer
  std::vector<std::string> expected;
  const bool fixed = !o.fixed_answer.empty();
  std::string version;  // --versioned: the version the DEKs are wrapped with
  if (fixed) {
    FILE* f = std::fopen(o.fixed_answer.c_str(), "rb");
    if (f == nullptr) die("--fixed-answer " + o.fixed_answer + ": " + std::strerror(errno));
    char chunk[4096];
    const std::size_t n = std::fread(chunk, 1, sizeof(chunk), f);
    const bool more = std::fgetc(f) != EOF;
    std::fclose(f);
    if (n == 0 || more) die("--fixed-answer: the file must hold 1 to 4096 bytes");
    const std::string answer(chunk, n);
    for (int c = 0; c < o.clients; ++c) {
      // The shape and length of an A256KW unwrap request: 40 bytes wrapped, base64url.
      skr::Bytes wrapped(40);
      skr::crypto::fillRandom(wrapped);
      const std::string body =
          R"({"alg":"A256KW","value":")" + skr::encoding::base64UrlEncode(wrapped) + "\"}";
      requests.push_back(UnixHttpClient::format("POST", key_path + "/unwrapkey", body));
      expected.push_back(answer);
    }
  }
  UnixHttpClient setup(o.socket);

  // A fresh 32-byte DEK per client, wrapped the way an application would.
  for (int c = 0; c < o.clients && !fixed; ++c) {
    skr::Bytes dek(32);
    skr::crypto::fillRandom(dek);
    std::string wrapped;
    if (o.alg == "RSA-OAEP-256") {
      const skr::json::ObjectPtr answer = parseAnswer(call(setup, "GET", key_path, ""));
      auto jwk = skr::json::getObject(answer, "key");
      if (!jwk.ok()) die("GET " + key_path + ": " + jwk.status().message());
      auto n = skr::encoding::base64UrlDecode(jsonMember(*jwk, "n"));
      auto e = skr::encoding::base64UrlDecode(jsonMember(*jwk, "e"));
      if (!n.ok() || !e.ok()) die("GET " + key_path + ": n or e is not base64url");
      auto pub = skr::crypto::PublicKey::fromRsaComponents(*n, *e);
      if (!pub.ok()) die("GET " + key_path + ": " + pub.status().message());
      auto ct = skr::crypto::rsaOaepEncrypt(*pub, skr::crypto::HashAlg::Sha256, dek);
      if (!ct.ok()) die("RSA-OAEP-256 encrypt: " + ct.status().message());
      wrapped = skr::encoding::base64UrlEncode(*ct);
    } else {
      const std::string body =
          R"({"alg":"A256KW","value":")" + skr::encoding::base64UrlEncode(dek) + "\"}";
      const skr::json::ObjectPtr answer =
          parseAnswer(call(setup, "POST", key_path + "/wrapkey", body));
      wrapped = jsonMember(answer, "value");
      if (o.versioned) {
        const std::string kid = jsonMember(answer, "kid");
        const std::size_t slash = kid.rfind('/');
        if (slash == std::string::npos || slash + 1 == kid.size() || kid.size() - slash > 129) {
          die("the wrapkey answer's kid names no version");
        }
        const std::string this_version = kid.substr(slash + 1);
        if (!version.empty() && this_version != version) {
          die("the key rotated while the DEKs were wrapped; run again");
        }
        version = this_version;
      }
    }
    const std::string body = R"({"alg":")" + o.alg + R"(","value":")" + wrapped + "\"}";
    const std::string unwrap_path =
        o.versioned ? key_path + "/" + version + "/unwrapkey" : key_path + "/unwrapkey";
    requests.push_back(UnixHttpClient::format("POST", unwrap_path, body));
    expected.push_back("\"value\":\"" + skr::encoding::base64UrlEncode(dek) + "\"");
  }

  std::vector<std::unique_ptr<UnixHttpClient>> clients;
  for (int c = 0; c < o.clients; ++c) clients.push_back(std::make_unique<UnixHttpClient>(o.socket));
  // One checked round trip per client before the clock starts.
  for (int c = 0; c < o.clients; ++c) {
    HttpAnswer answer;
    const auto i = static_cast<std::size_t>(c);
    const bool good =
        clients[i]->exchange(requests[i], answer) && answer.status == 200 &&
        (fixed ? answer.body == expected[i] : answer.body.find(expected[i]) != std::string::npos);
    // The body of a good unwrap answer holds the DEK: only a failure's body is shown.
    if (!good) {
      die("unwrapkey did not give back the " + std::string(fixed ? "fixed answer" : "DEK") +
          " (status " + std::to_string(answer.status) + "): " +
          (answer.status == 200
               ? std::string("(a body of ") + std::to_string(answer.body.size()) + " bytes)"
               : answer.body.substr(0, 300)));
    }
  }
  std::vector<HttpAnswer> answers(static_cast<std::size_t>(o.clients));
  std::atomic<bool> broken{false};
  Result r = runTimed(
      o.clients, o,
      [&](int t) {
        const auto i = static_cast<std::size_t>(t);
        if (broken.load(std::memory_order_relaxed)) return false;
        if (!clients[i]->exchange(requests[i], answers[i])) {
          broken = true;  // a dead connection would spin; stop counting
          return false;
        }
        return answers[i].status == 200 &&
               (fixed ? answers[i].body == expected[i]
                      : answers[i].body.find(expected[i]) != std::string::npos);
      },
      o.agent_pid);
  if (broken) die("a connection to the server failed during the run");
  printResult(fixed ? "fixed-answer" : "socket", o, o.clients, r,
              o.versioned ? " version=" + version : "");
  return r.errors == 0 ? 0 : 1;
}

// ---- mode: in process with OpenSSL ----

int runInProcess(const Options& o) {
  const int threads = o.threads > 0
                          ? o.threads
                          : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  skr::Bytes dek(32);
  skr::crypto::fillRandom(dek);
  Result r;
  if (o.alg == "RSA-OAEP-256") {
    auto key = skr::crypto::PrivateKey::generateRsa(3072);
    if (!key.ok()) die("RSA-3072 key generation: " + key.status().message());
    auto ct = skr::crypto::rsaOaepEncrypt(key->publicKey(), skr::crypto::HashAlg::Sha256, dek);
    if (!ct.ok()) die("RSA-OAEP-256 encrypt: " + ct.status().message());
    EVP_PKEY* pkey = key->evp();
    const skr::Bytes& ciphertext = *ct;
    // What an application holding the key does per unwrap: a context, OAEP-256 parameters,
    // EVP_PKEY_decrypt.
    r = runTimed(threads, o, [&](int) {
      skr::SslPtr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr));
      if (!ctx || EVP_PKEY_decrypt_init(ctx.get()) != 1 ||
          EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) != 1 ||
          EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), EVP_sha256()) != 1 ||
          EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), EVP_sha256()) != 1) {
        return false;
      }
      unsigned char out[512];
      std::size_t out_len = sizeof(out);
      return EVP_PKEY_decrypt(ctx.get(), out, &out_len, ciphertext.data(), ciphertext.size()) ==
                 1 &&
             out_len == dek.size() && std::memcmp(out, dek.data(), out_len) == 0;
    });
  } else {
    skr::Bytes kek(32);
    skr::crypto::fillRandom(kek);
    skr::SslPtr<EVP_CIPHER> cipher(EVP_CIPHER_fetch(nullptr, "AES-256-WRAP", nullptr));
    if (!cipher) die("EVP_CIPHER_fetch(AES-256-WRAP) failed");
    auto runCipher = [&](bool encrypt, const uint8_t* in, int in_len, uint8_t* out) {
      skr::SslPtr<EVP_CIPHER_CTX> ctx(EVP_CIPHER_CTX_new());
      int out_len = 0;
      if (!ctx ||
          EVP_CipherInit_ex2(ctx.get(), cipher.get(), kek.data(), nullptr, encrypt ? 1 : 0,
                             nullptr) != 1 ||
          EVP_CipherUpdate(ctx.get(), out, &out_len, in, in_len) != 1) {
        return -1;
      }
      return out_len;
    };
    uint8_t wrapped[40];
    if (runCipher(true, dek.data(), 32, wrapped) != 40) die("AES-256 key wrap failed");
    r = runTimed(threads, o, [&](int) {
      uint8_t out[48];
      return runCipher(false, wrapped, 40, out) == 32 && std::memcmp(out, dek.data(), 32) == 0;
    });
  }
  printResult("in-process", o, threads, r);
  return r.errors == 0 ? 0 : 1;
}

// ---- mode: ready time ----

bool readyOnce(const std::string& socket) {
  const int fd = UnixHttpClient::connectTo(socket);
  if (fd < 0) return false;
  UnixHttpClient client(fd);
  HttpAnswer answer;
  return client.exchange(UnixHttpClient::format("GET", "/readyz", ""), answer) &&
         answer.status == 200;
}

int runReady(const Options& o) {
  if (o.agent.empty() || o.config.empty() || o.socket.empty()) {
    die("--ready needs --agent, --config and --socket");
  }
  std::vector<double> times;
  for (int run = 0; run < o.runs; ++run) {
    const auto start = Clock::now();
    const pid_t pid = ::fork();
    if (pid < 0) die(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
      const int log = ::open(o.log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
      if (log >= 0) ::dup2(log, STDERR_FILENO);
      ::execl(o.agent.c_str(), o.agent.c_str(), "--config", o.config.c_str(), nullptr);
      _exit(127);
    }
    const auto deadline = start + std::chrono::seconds(30);
    bool ready = false;
    while (Clock::now() < deadline) {
      if (readyOnce(o.socket)) {
        ready = true;
        break;
      }
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) die("the agent exited before it was ready");
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    ::kill(pid, SIGTERM);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!ready) die("the agent was not ready within 30 s (log: " + o.log + ")");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      die("the agent did not exit 0 after SIGTERM (log: " + o.log + ")");
    }
    times.push_back(ms);
  }
  std::vector<double> sorted = times;
  std::sort(sorted.begin(), sorted.end());
  const std::size_t n = sorted.size();
  const double median = n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  std::printf("mode=ready runs=%zu median_ms=%.1f min_ms=%.1f max_ms=%.1f\n", n, median, sorted[0],
              sorted[n - 1]);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parseOptions(argc, argv);
  switch (o.mode) {
    case Options::Mode::Load: return runLoad(o);
    case Options::Mode::InProcess: return runInProcess(o);
    case Options::Mode::Ready: return runReady(o);
  }
  return 2;
}
