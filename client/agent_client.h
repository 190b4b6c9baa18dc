// skr::AgentClient: a small C++ client of skr-agent's client socket (docs/agent.md), used by the
// C++ example (examples/clients/cpp) and by skrctl's key commands.
//
// One HTTP/1.1 request per connection over the Unix domain socket, every request with
// `X-SKR-Request: 1` (and `Authorization: Bearer` when a token is configured). 503 and 429 answers
// (NotReady, TooManyConnections, ServerBusy, Throttled) and a socket that does not accept yet are
// retried, honouring `Retry-After`, within a bounded number of attempts; every other error answer
// becomes a Status whose details carry the HTTP status and the agent's AKV error code.
//
// Secrets: the DEK sent to wrapkey and the plaintexts that unwrapkey and decrypt answer travel in
// SecretBytes (locked, wiped) from the socket to the caller; they are never parsed into ordinary
// strings.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/core/bytes.h"
#include "common/core/secret_bytes.h"
#include "common/core/status.h"

namespace skr {

struct AgentClientOptions {
  std::string socket_path;   // the agent's client socket
  std::string bearer_token;  // sent as `Authorization: Bearer` when not empty
  std::chrono::milliseconds request_timeout{30'000};  // one request, connect to last byte
  int max_attempts = 5;  // per call, for 503/429 answers and a socket not accepting yet
  std::chrono::milliseconds first_backoff{400};     // doubles per attempt without Retry-After
  std::chrono::milliseconds max_backoff{10'000};    // caps one wait, Retry-After included
  std::chrono::milliseconds ready_first_poll{100};  // waitUntilReady: doubles per poll...
  std::chrono::milliseconds ready_max_poll{2'000};  // ...up to this
};

// One answer of the agent. The body is kept in secret storage: some routes answer key material.
struct AgentAnswer {
  int status = 0;
  std::string content_type;
  SecretBytes body;  // at most AgentClient::kMaxAnswerBytes
  std::optional<int> retry_after_seconds;
};

// wrapkey, encrypt and rewrap: the version that did the work (`kid`, to be stored with the
// ciphertext) and the result, base64url as on the wire decoded to bytes.
struct KeyResult {
  std::string kid;
  Bytes value;
  Bytes iv;   // encrypt with A256GCM only
  Bytes tag;  // encrypt with A256GCM only
};

class AgentClient {
 public:
  static constexpr std::size_t kMaxAnswerBytes = 4 * 1024 * 1024;

  explicit AgentClient(AgentClientOptions options);

  // The socket from $SKR_AGENT_SOCKET and the bearer token from $SKR_AGENT_TOKEN (when set).
  // InvalidArgument when SKR_AGENT_SOCKET is unset or empty.
  static StatusOr<AgentClient> fromEnvironment(AgentClientOptions defaults = {});

  const std::string& socketPath() const { return options_.socket_path; }

  // GET /readyz until it answers 200, polling with exponential backoff (ready_first_poll doubling,
  // capped at ready_max_poll) for at most `budget`. DeadlineExceeded ("... not ready after 30.0 s;
  // last: ...") when it runs out.
  Status waitUntilReady(std::chrono::milliseconds budget);

  // One route, retried as described above. Any status is returned; see check() for errors.
  StatusOr<AgentAnswer> call(std::string_view method, std::string_view target,
                             const SecretBytes& body);
  StatusOr<AgentAnswer> call(std::string_view method, std::string_view target,
                             std::string_view body = {});

  // `key` is a key name, "name/version", or a kid as the agent answers it
  // (https://{vault}/keys/{name}/{version}): a kid addresses exactly that version.
  StatusOr<KeyResult> wrapKey(std::string_view key, std::string_view alg, const SecretBytes& dek);
  StatusOr<SecretBytes> unwrapKey(std::string_view key, std::string_view alg, ByteView wrapped);
  StatusOr<KeyResult> encrypt(std::string_view key, std::string_view alg,
                              const SecretBytes& plaintext, ByteView aad = {});
  StatusOr<SecretBytes> decrypt(std::string_view key, std::string_view alg, const KeyResult& sealed,
                                ByteView aad = {});
  // The DEK wrapped under `kid` (an older version of key `name`) wrapped again under the primary.
  StatusOr<KeyResult> rewrap(std::string_view name, std::string_view kid, std::string_view alg,
                             ByteView wrapped);
  // GET /keys: the JSON text of the answer ({"value":[...]}).
  StatusOr<std::string> keys();

  // The error of a non-2xx answer: a Status (NotFound for 404, PermissionDenied for 403,
  // Unauthenticated for 401, InvalidArgument for other 4xx, Unavailable for 429/5xx) whose
  // message is "skr-agent: HTTP 404 KeyNotFound: <agent message>" (the outer AKV code) and whose
  // details carry dependency Agent, the HTTP status and the AKV code with the inner code
  // ("Forbidden/KeyOperationForbidden"). OK for 2xx.
  static Status check(const AgentAnswer& answer);

  // For tests: replaces the sleep between attempts.
  void setSleeper(std::function<void(std::chrono::milliseconds)> sleeper) {
    sleep_ = std::move(sleeper);
  }

 private:
  StatusOr<AgentAnswer> once(std::string_view method, std::string_view target, ByteView body) const;
  StatusOr<AgentAnswer> retried(std::string_view method, std::string_view target, ByteView body);
  StatusOr<KeyResult> keyOperation(std::string_view key, std::string_view operation,
                                   const SecretBytes& body);
  StatusOr<SecretBytes> secretOperation(std::string_view key, std::string_view operation,
                                        const SecretBytes& body);

  AgentClientOptions options_;
  std::function<void(std::chrono::milliseconds)> sleep_;
};

// "name", "name/version", or a kid URL ".../keys/name/version" as a request path prefix
// "/keys/name[/version]"; InvalidArgument for anything else (segments: letters, digits, '-', '_').
StatusOr<std::string> agentKeyPath(std::string_view key);

}  // namespace skr
