// The agent's concurrency, in one process with real threads, so that a ThreadSanitizer build
// (scripts/test --tsan) sees every access: the real HTTP server, router, keyring, event log,
// state dir and key provisioner, driven over their Unix sockets by many clients at once while
// rotations swap the keyring, reloads re-read the state dir and long polls wait on the event log.
// Only the release flow (attestation and Key Vault) is faked. Every test here is tagged
// [concurrency]; ctest labels them "concurrency".
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent/authorization.h"
#include "agent/events.h"
#include "agent/http_server.h"
#include "agent/key_operations.h"
#include "agent/key_provisioner.h"
#include "agent/keyring.h"
#include "agent/router.h"
#include "agent/unix_socket.h"
#include "common/crypto/aes_key_wrap.h"
#include "common/crypto/digest.h"
#include "common/crypto/random.h"
#include "common/log/logger.h"
#include "tests/unit/agent/agent_test_util.h"
#include "tests/unit/agent/socket_test_dir.h"

namespace skr::agent {
namespace {

using namespace std::chrono_literals;
using testing::b64;
using testing::connectUnix;
using testing::rsaPrivate2048;
using testing::SocketTestDir;
using testing::take;

constexpr const char* kVaultHost = "v.vault.azure.net";
constexpr const char* kKey = "kek";

// The 256-bit key material of version "v<n>": SHA-256 of its name, so the test knows what every
// version's wrap must produce.
SecretBytes keyMaterial(int n) {
  return SecretBytes::copyOf(crypto::sha256(asBytes("kek material v" + std::to_string(n))));
}

// Releases "v<n>": "v1" first, then the next number on every versionless release (each rotation
// finds a new version). Called under the provisioner's lock, one release at a time.
class CountingBackend final : public ReleaseBackend {
 public:
  // Called from the server's workers: no Catch2 assertion here (they are not thread-safe).
  release::StepResult<release::Attestation> attest() override {
    StatusOr<crypto::PrivateKey> key = crypto::PrivateKey::fromPkcs8Der(transfer_der_);
    if (!key.ok()) return release::StepFailure{release::Step::Attest, "maa", key.status()};
    StatusOr<azure::TransferKey> transfer =
        azure::TransferKey::fromPrivateKey(std::move(key).value());
    if (!transfer.ok())
      return release::StepFailure{release::Step::Attest, "maa", transfer.status()};
    return attestationWith(std::move(transfer).value());
  }
  release::StepResult<release::Attestation> attestWith(azure::TransferKey transfer) override {
    return attestationWith(std::move(transfer));
  }
  StatusOr<azure::MaaToken> verifyToken(std::string_view /*token*/,
                                        const jose::Jwk& /*transfer_public*/) override {
    return dataLossError("no pending bundle in these tests");
  }
  release::StepResult<azure::ReleasedKey> release(const release::Attestation& /*attestation*/,
                                                  const config::KeyConfig& key,
                                                  const std::string& version) override {
    if (version.empty()) ++latest_;
    const std::string v = version.empty() ? "v" + std::to_string(latest_) : version;
    StatusOr<jose::Jwk> jwk = jose::Jwk::fromOctet(keyMaterial(std::stoi(v.substr(1))));
    if (!jwk.ok()) return release::StepFailure{release::Step::Release, kVaultHost, jwk.status()};
    azure::ReleasedKey out{std::move(jwk).value(),
                           "https://" + std::string(kVaultHost) + "/keys/" + key.name + "/" + v,
                           v,
                           kVaultHost,
                           "oct-HSM",
                           azure::KeyExportEnc::RsaAesKeyWrap256,
                           1};
    out.key.setKid(out.kid);
    out.key.setKeyOps({"wrapKey", "unwrapKey"});
    return out;
  }

 private:
  release::Attestation attestationWith(azure::TransferKey transfer) {
    azure::MaaToken token;
    token.token = "fresh.token.sig";
    token.issuer = "https://maa.example";
    token.expires_at = systemClock().now() + 8h;
    token.hostdata = std::string(64, 'a');
    std::string runtime = azure::runtimeDataJson(transfer.public_jwk);
    return release::Attestation{std::move(transfer), std::move(runtime), {}, {},
                                "sev-guest",         std::move(token)};
  }
  // Generated on the test's thread before any worker runs.
  const SecretBytes transfer_der_ = rsaPrivate2048().toPkcs8Der();
  int latest_ = 0;
};

struct Response {
  int status = 0;
  std::string body;
};

// A blocking keep-alive client; every read gives up after 60 s (TSan makes the agent slow, and a
// rotation's fsyncs on a busy machine slower still).
class Client {
 public:
  explicit Client(const std::string& path) : fd_(connectUnix(path)) {
    if (fd_ >= 0) {
      timeval timeout{60, 0};
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    }
  }
  ~Client() {
    if (fd_ >= 0) ::close(fd_);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // One request and its response; nullopt when the connection failed or timed out.
  std::optional<Response> exchange(std::string_view method, const std::string& target,
                                   std::string_view body = {}) {
    if (fd_ < 0) return std::nullopt;
    std::string request =
        std::string(method) + " " + target + " HTTP/1.1\r\nHost: localhost\r\nX-SKR-Request: 1\r\n";
    if (!body.empty()) {
      request +=
          "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
          "\r\n";
    }
    request += "\r\n";
    request += body;
    std::string_view rest = request;
    while (!rest.empty()) {
      const ssize_t n = ::send(fd_, rest.data(), rest.size(), MSG_NOSIGNAL);
      if (n <= 0) return std::nullopt;
      rest.remove_prefix(static_cast<std::size_t>(n));
    }
    while (true) {
      const std::size_t end = buffer_.find("\r\n\r\n");
      if (end != std::string::npos) {
        std::string head = buffer_.substr(0, end);
        for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        const std::size_t at = head.find("\r\ncontent-length: ");
        const std::size_t length =
            at == std::string::npos ? 0
                                    : std::stoul(head.substr(at + 18, head.find("\r\n", at + 2)));
        if (buffer_.size() >= end + 4 + length) {
          Response response;
          response.status = std::stoi(buffer_.substr(9, 3));
          response.body = buffer_.substr(end + 4, length);
          buffer_.erase(0, end + 4 + length);
          return response;
        }
      }
      char chunk[4096];
      const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
      if (n <= 0) return std::nullopt;
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

 private:
  int fd_;
  std::string buffer_;
};

// What the client threads saw go wrong; checked on the test's thread (Catch2's assertions are not
// thread-safe).
class Problems {
 public:
  void add(std::string problem) {
    std::lock_guard lock(mutex_);
    if (problems_.size() < 20) problems_.push_back(std::move(problem));
    ++count_;
  }
  // The first 20, one a line, after how many there were.
  std::string text() const {
    std::lock_guard lock(mutex_);
    std::string out = std::to_string(count_) + " problems";
    for (const std::string& problem : problems_) out += "\n" + problem;
    return out;
  }
  int count() const {
    std::lock_guard lock(mutex_);
    return count_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> problems_;
  int count_ = 0;
};

std::string describe(const std::optional<Response>& r) {
  if (!r) return "no answer";
  return std::to_string(r->status) + " " + r->body.substr(0, 200);
}

std::string stringOr(StatusOr<std::string> s) {
  return s.ok() ? std::move(s).value() : std::string();
}

// The number of "v<n>" at the end of a kid; 0 when it is not one.
int versionNumber(const std::string& kid) {
  const std::size_t slash = kid.rfind("/v");
  if (slash == std::string::npos) return 0;
  try {
    return std::stoi(kid.substr(slash + 2));
  } catch (const std::exception&) {
    return 0;
  }
}

// The agent's parts as skr-agent wires them (agent.cc), on sockets in a short temp dir: key
// "kek" released as v1 at start-up, POST /keys/kek/rotate releasing the next version through the
// provisioner, POST /reload re-reading the state dir.
struct RunningAgent {
  explicit RunningAgent(std::size_t workers) {
    const std::string key_path = dir.file("sealing.key");
    {
      const Bytes key = crypto::randomBytes(32);
      std::ofstream out(key_path, std::ios::binary);
      out.write(reinterpret_cast<const char*>(key.data()),
                static_cast<std::streamsize>(key.size()));
    }
    REQUIRE(::chmod(key_path.c_str(), 0400) == 0);
    sealing = take(seal::makeKeyfileProvider(key_path));
    seal::StateDirOptions state_options;
    state_options.path = dir.file("state");
    state.emplace(take(seal::StateDir::open(std::move(state_options))));
    config::KeyConfig key;
    key.name = kKey;
    key.vault_url = std::string("https://") + kVaultHost;
    config.keys.push_back(key);
    config.seal.provider = seal::SealProviderKind::Keyfile;

    keyring = std::make_shared<Keyring>();
    keyring->declare(kKey);
    events = std::make_shared<EventLog>();
    std::vector<AuthRule> rules;
    rules.push_back({"app", {::getuid()}, {}, {"*"}, {"*"}, std::nullopt});
    rules.push_back({"admin", {::getuid()}, {}, {"admin"}, {"*"}, std::nullopt});
    RouterOptions router_options;
    router_options.max_event_waiters = static_cast<int>(workers) - 1;
    router = std::make_unique<Router>(
        keyring, std::make_shared<const Authorizer>(take(Authorizer::create(std::move(rules)))),
        systemClock(), router_options);
    router->setEventLog(events);
    provisioner =
        std::make_unique<KeyProvisioner>(config, backend, *sealing, *state, keyring, events,
                                         systemClock(), &router->metrics(), ProvisionerOptions{});
    AdminHooks hooks;
    hooks.rotate = [this](const std::string& name, const std::optional<std::string>& version) {
      return provisioner->rotate(name, version);
    };
    hooks.reload = [this]() -> Status {
      SKR_RETURN_IF_ERROR(state->recheck());
      return provisioner->loadBundles();
    };
    router->setAdminHooks(hooks);
    REQUIRE(provisioner->loadBundles().ok());
    REQUIRE(provisioner->provision());
    router->setReady(true);

    UnixSocketOptions socket_options;
    socket_options.path = dir.file("c.sock");
    client_socket.emplace(take(UnixListeningSocket::create(socket_options)));
    socket_options.path = dir.file("a.sock");
    admin_socket.emplace(take(UnixListeningSocket::create(socket_options)));
    HttpServerOptions server_options;
    server_options.workers = workers;
    server_options.header_timeout = 60s;
    server_options.read_timeout = 60s;
    server_options.write_timeout = 60s;
    server = take(HttpServer::start(
        server_options, *router,
        {{client_socket->fd(), Listener::Client}, {admin_socket->fd(), Listener::Admin}},
        systemClock()));
  }
  ~RunningAgent() {
    events->close();
    if (server != nullptr) server->stop();
  }

  std::string clientPath() const { return client_socket->path(); }
  std::string adminPath() const { return admin_socket->path(); }

  SocketTestDir dir;
  std::unique_ptr<seal::SealingKeyProvider> sealing;
  std::optional<seal::StateDir> state;
  config::Config config;
  CountingBackend backend;
  std::shared_ptr<Keyring> keyring;
  std::shared_ptr<EventLog> events;
  std::unique_ptr<Router> router;
  std::unique_ptr<KeyProvisioner> provisioner;
  std::optional<UnixListeningSocket> client_socket;
  std::optional<UnixListeningSocket> admin_socket;
  std::unique_ptr<HttpServer> server;
};

// Keeps the agent's own log lines (one per request) out of the test output.
class QuietLog {
 public:
  QuietLog() : previous_(log::setSink([](log::Level, std::string_view) {})) {}
  ~QuietLog() { log::setSink(previous_); }
  QuietLog(const QuietLog&) = delete;
  QuietLog& operator=(const QuietLog&) = delete;

 private:
  log::Sink previous_;
};

TEST_CASE(
    "concurrent wraps and unwraps answer with the old or the new version, never an error or a "
    "torn key, while rotations and reloads swap the keyring",
    "[agent][concurrency]") {
  QuietLog quiet;
  constexpr int kClients = 6;
  constexpr int kRotations = 12;
  constexpr int kMinRequestsPerClient = 10;
  RunningAgent agent(4);
  const SecretBytes dek = crypto::randomSecret(32);
  const std::string dek_b64 = b64(dek.view(grantSecretAccess()));
  // What A256KW of the DEK is under each version's key, computed without the agent.
  std::map<int, std::string> expected;
  for (int n = 1; n <= kRotations + 1; ++n) {
    expected[n] = b64(take(crypto::aesKeyWrap(keyMaterial(n), dek)));
  }

  Problems problems;
  std::atomic<int> clients_started{0};
  std::atomic<bool> rotations_done{false};
  std::atomic<int> published{1};  // the newest version a rotation has answered for
  std::vector<int> distinct_versions(kClients, 0);
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      Client client(agent.clientPath());
      int last = 0;
      bool counted = false;
      // Until every rotation is answered, and once more after: each client overlaps them all.
      for (int i = 0; i < kMinRequestsPerClient || !rotations_done.load() || i % 2 == 1; ++i) {
        const int newest_before = published.load();
        const std::optional<Response> wrapped = client.exchange(
            "POST", "/keys/kek/wrapkey", R"({"alg":"A256KW","value":")" + dek_b64 + R"("})");
        if (!wrapped || wrapped->status != 200) {
          problems.add("wrapkey: " + describe(wrapped));
          return;
        }
        StatusOr<json::ObjectPtr> body = json::parseObject(wrapped->body);
        const std::string kid = body.ok() ? stringOr(json::getString(*body, "kid")) : "";
        const std::string value = body.ok() ? stringOr(json::getString(*body, "value")) : "";
        const int n = versionNumber(kid);
        if (n < 1 || n > kRotations + 1 || n < newest_before || n < last) {
          // An older version than one this client (or a finished rotation) already saw.
          problems.add("wrapkey named " + kid + " after v" + std::to_string(last) + " (v" +
                       std::to_string(newest_before) + " was published)");
          return;
        }
        if (value != expected[n]) {
          problems.add("wrapkey under " + kid + " is not that version's key wrap");
          return;
        }
        if (n != last) ++distinct_versions[static_cast<std::size_t>(c)];
        last = n;
        // The version the wrap named unwraps it, whichever version is primary by now.
        const std::optional<Response> unwrapped =
            client.exchange("POST", "/keys/kek/v" + std::to_string(n) + "/unwrapkey",
                            R"({"alg":"A256KW","value":")" + value + R"("})");
        if (!unwrapped || unwrapped->status != 200 ||
            unwrapped->body.find("\"value\":\"" + dek_b64 + "\"") == std::string::npos) {
          problems.add("unwrapkey v" + std::to_string(n) + ": " + describe(unwrapped));
          return;
        }
        if (!counted) {
          counted = true;
          clients_started.fetch_add(1);
        }
      }
    });
  }
  // Rotations over the admin socket once every client has been answered once.
  threads.emplace_back([&] {
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (clients_started.load() < kClients && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(1ms);
    }
    Client admin(agent.adminPath());
    for (int n = 2; n <= kRotations + 1; ++n) {
      const std::optional<Response> rotated = admin.exchange("POST", "/keys/kek/rotate", "{}");
      if (!rotated || rotated->status != 200 ||
          rotated->body.find("/keys/kek/v" + std::to_string(n) + "\"") == std::string::npos) {
        problems.add("rotate to v" + std::to_string(n) + ": " + describe(rotated));
        break;
      }
      published.store(n);
    }
    rotations_done.store(true);
  });
  // Reloads over the admin socket while the rotations run: the state dir is re-read and the
  // versions it holds replace the keyring's, and the primary stays the newest.
  threads.emplace_back([&] {
    Client admin(agent.adminPath());
    int reloads = 0;
    while (!rotations_done.load() || reloads < 3) {
      const std::optional<Response> reloaded = admin.exchange("POST", "/reload", "{}");
      if (!reloaded || reloaded->status != 200) {
        problems.add("reload: " + describe(reloaded));
        return;
      }
      ++reloads;
      const std::optional<Response> status = admin.exchange("GET", "/status");
      if (!status || status->status != 200) {
        problems.add("status: " + describe(status));
        return;
      }
    }
  });
  for (std::thread& t : threads) t.join();

  INFO(problems.text());
  CHECK(problems.count() == 0);
  // Every client was answered with at least two versions: its requests overlapped the rotations.
  for (int versions : distinct_versions) CHECK(versions >= 2);
  const std::shared_ptr<const KeyEntry> entry = agent.keyring->entry(kKey);
  REQUIRE(entry != nullptr);
  CHECK(entry->primary == "v" + std::to_string(kRotations + 1));
  CHECK(entry->versions.size() == static_cast<std::size_t>(kRotations + 1));
  CHECK(entry->generation == static_cast<uint64_t>(kRotations + 1));
}

TEST_CASE(
    "long polls on GET /events each see every rotation once, in order, while others poll, "
    "rotate and reload",
    "[agent][concurrency]") {
  QuietLog quiet;
  constexpr int kPollers = 3;
  constexpr int kRotations = 10;
  // Pollers hold a worker each; one more serves rotations and reloads.
  RunningAgent agent(kPollers + 2);
  const uint64_t start = agent.events->after(0).next;

  Problems problems;
  std::atomic<int> waiting{0};
  std::vector<std::vector<int>> seen(kPollers);
  std::vector<std::thread> threads;
  for (int p = 0; p < kPollers; ++p) {
    threads.emplace_back([&, p] {
      Client client(agent.clientPath());
      uint64_t cursor = start;
      std::vector<int>& versions = seen[static_cast<std::size_t>(p)];
      bool announced = false;
      const auto deadline = std::chrono::steady_clock::now() + 120s;
      while ((versions.empty() || versions.back() < kRotations + 1) && problems.count() == 0) {
        if (std::chrono::steady_clock::now() > deadline) {
          problems.add("events: the last rotation was not seen within 120 s");
          return;
        }
        if (!announced) {
          announced = true;
          waiting.fetch_add(1);
        }
        const std::optional<Response> polled =
            client.exchange("GET", "/events?after=" + std::to_string(cursor) + "&timeout=5");
        if (!polled || polled->status != 200) {
          problems.add("events: " + describe(polled));
          return;
        }
        StatusOr<json::ObjectPtr> body = json::parseObject(polled->body);
        StatusOr<json::ArrayPtr> events =
            body.ok() ? json::getArray(*body, "events") : StatusOr<json::ArrayPtr>(body.status());
        StatusOr<int64_t> next = body.ok() ? json::getInt(*body, "next") : body.status();
        if (!events.ok() || !next.ok() || *next < static_cast<int64_t>(cursor)) {
          problems.add("events body: " + polled->body.substr(0, 200));
          return;
        }
        for (std::size_t i = 0; i < (*events)->size(); ++i) {
          StatusOr<json::ObjectPtr> event = json::getObject(*events, i, "event");
          if (!event.ok()) continue;
          const StatusOr<int64_t> seq = json::getInt(*event, "seq");
          if (!seq.ok() || *seq <= static_cast<int64_t>(cursor) || *seq > *next) {
            problems.add("event out of the cursor's range: " + polled->body.substr(0, 200));
            return;
          }
          if (stringOr(json::getString(*event, "type")) == "rotated") {
            versions.push_back(versionNumber("/" + stringOr(json::getString(*event, "version"))));
          }
        }
        cursor = static_cast<uint64_t>(*next);
      }
    });
  }
  threads.emplace_back([&] {
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (waiting.load() < kPollers && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(1ms);
    }
    Client admin(agent.adminPath());
    for (int n = 2; n <= kRotations + 1; ++n) {
      const std::optional<Response> rotated = admin.exchange("POST", "/keys/kek/rotate", "{}");
      if (!rotated || rotated->status != 200) {
        problems.add("rotate: " + describe(rotated));
        return;
      }
      const std::optional<Response> reloaded = admin.exchange("POST", "/reload", "{}");
      if (!reloaded || reloaded->status != 200) {
        problems.add("reload: " + describe(reloaded));
        return;
      }
    }
  });
  for (std::thread& t : threads) t.join();

  INFO(problems.text());
  CHECK(problems.count() == 0);
  std::vector<int> all;
  for (int n = 2; n <= kRotations + 1; ++n) all.push_back(n);
  for (const std::vector<int>& versions : seen) CHECK(versions == all);
}

TEST_CASE("many readers of the keyring see whole versions while writers add, promote and retire",
          "[agent][concurrency]") {
  // The keyring alone, without the server: more threads at once than the server's workers allow.
  Keyring keyring;
  constexpr int kVersions = 40;
  std::map<int, std::string> wrapped;
  const SecretBytes dek = crypto::randomSecret(32);
  for (int n = 1; n <= kVersions; ++n) {
    wrapped[n] = b64(take(crypto::aesKeyWrap(keyMaterial(n), dek)));
  }
  auto version = [](int n) {
    return testing::versionOf(kKey, "v" + std::to_string(n),
                              take(jose::Jwk::fromOctet(keyMaterial(n))));
  };
  REQUIRE(keyring.addVersion(version(1), true).ok());
  Problems problems;
  std::atomic<bool> done{false};
  std::vector<std::thread> readers;
  for (int r = 0; r < 6; ++r) {
    readers.emplace_back([&] {
      int reads = 0;
      while (!done.load() || reads < 50) {
        ++reads;
        StatusOr<std::shared_ptr<const KeyVersion>> primary = keyring.find(kKey, std::nullopt);
        if (!primary.ok()) {
          problems.add("find: " + primary.status().toString());
          return;
        }
        const int n = versionNumber((*primary)->kid);
        StatusOr<Bytes> out = wrapKey(**primary, KeyAlgorithm::A256Kw, dek);
        if (n < 1 || !out.ok() || b64(*out) != wrapped[n]) {
          problems.add("primary " + (*primary)->kid + " does not wrap with its own key");
          return;
        }
        if (reads % 8 == 0) {
          for (const std::shared_ptr<const KeyEntry>& entry : keyring.entries()) {
            if (entry->primaryVersion() == nullptr) problems.add("an entry without its primary");
          }
        }
      }
    });
  }
  // One writer adds and promotes, another retires what is no longer primary.
  std::thread adder([&] {
    for (int n = 2; n <= kVersions; ++n) {
      if (!keyring.addVersion(version(n), n % 2 == 0).ok()) problems.add("add");
      if (n % 2 == 1 && !keyring.setPrimary(kKey, "v" + std::to_string(n)).ok()) {
        problems.add("set primary");
      }
      keyring.setGeneration(kKey, static_cast<uint64_t>(n));
    }
    done.store(true);
  });
  std::thread retirer([&] {
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (true) {
      // Read before the pass: a pass that starts after the adder finished sees every version, so
      // its count is final (a count from a pass before that may be 39 with more still to come).
      const bool adder_done = done.load();
      if (std::chrono::steady_clock::now() > deadline) {
        problems.add("retire: old versions still there after 60 s");
        return;
      }
      std::shared_ptr<const KeyEntry> entry = keyring.entry(kKey);
      const int primary = versionNumber("/" + entry->primary);
      for (const auto& [name, v] : entry->versions) {
        // Only versions older than the primary: the adder may promote a newer one next.
        if (versionNumber("/" + name) >= primary) continue;
        const Status status = keyring.retire(kKey, name);
        // The primary moved on meanwhile (FailedPrecondition) or it is gone (NotFound): both fine.
        if (!status.ok() && status.code() != StatusCode::FailedPrecondition &&
            status.code() != StatusCode::NotFound) {
          problems.add("retire: " + status.toString());
        }
      }
      const int retired = kVersions - static_cast<int>(keyring.entry(kKey)->versions.size());
      if (adder_done && retired >= kVersions - 1) break;
    }
  });
  adder.join();
  retirer.join();
  for (std::thread& t : readers) t.join();
  INFO(problems.text());
  CHECK(problems.count() == 0);
  const std::shared_ptr<const KeyEntry> entry = keyring.entry(kKey);
  CHECK(entry->primary == "v" + std::to_string(kVersions));
  CHECK(entry->versions.size() == 1);
  CHECK(entry->generation == static_cast<uint64_t>(kVersions));
}

}  // namespace
}  // namespace skr::agent
