#include "client/agent_client.h"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Timespan.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <istream>
#include <ostream>
#include <thread>
#include <utility>

#include "common/encoding/base64.h"
#include "common/encoding/json_string.h"
#include "common/json/json.h"
#include "common/log/redaction.h"

namespace skr {
namespace {

constexpr std::size_t kMaxKeySegment = 127;
constexpr int kMaxRetryAfterSeconds = 3600;
constexpr std::string_view kValueMember = "\"value\":\"";

bool safeSegment(std::string_view s) {
  if (s.empty() || s.size() > kMaxKeySegment) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
  });
}

// "Retry-After: 3" (delay-seconds; an HTTP date is not used by the agent): nullopt otherwise.
std::optional<int> retryAfterSeconds(const Poco::Net::HTTPResponse& response) {
  if (!response.has("Retry-After")) return std::nullopt;
  const std::string& text = response.get("Retry-After");
  int seconds = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  if (ec != std::errc() || end != text.data() + text.size() || seconds < 0) return std::nullopt;
  return std::min(seconds, kMaxRetryAfterSeconds);
}

void appendText(SecretBytes& out, std::string_view text) {
  out.append(asBytes(text));
}

// `,"name":"<base64url>"` of public bytes.
void appendMember(SecretBytes& out, std::string_view name, ByteView bytes) {
  appendText(out, ",");
  json::appendQuoted(out, name);
  appendText(out, ":\"");
  appendText(out, encoding::base64UrlEncode(bytes));
  appendText(out, "\"");
}

// `{"alg":"...","value":"<base64url of secret>"` (no closing brace).
SecretBytes beginBody(std::string_view alg, const SecretBytes& value) {
  SecretBytes body;
  appendText(body, "{\"alg\":");
  json::appendQuoted(body, alg);
  appendText(body, ",\"value\":\"");
  const SecretBytes encoded = encoding::base64UrlEncodeSecret(value);
  body.append(encoded.view(grantSecretAccess()));
  appendText(body, "\"");
  return body;
}

// A 200 answer {"kid":...,"value":"<base64url>"[,"iv","tag"]} split without letting the value
// reach an ordinary string: the value's base64url text goes to `value`, and the rest of the answer
// (with "value":"") is parsed as JSON for the other members.
struct SplitAnswer {
  json::ObjectPtr members;
  SecretBytes value;  // base64url text
};
StatusOr<SplitAnswer> splitValue(const SecretBytes& body) {
  const std::string_view text = asText(body.view(grantSecretAccess()));
  const std::size_t start = text.find(kValueMember);
  const std::size_t from = start == std::string_view::npos ? start : start + kValueMember.size();
  const std::size_t end = from == std::string_view::npos ? from : text.find('"', from);
  if (end == std::string_view::npos) {
    return dataLossError("skr-agent: the answer has no \"value\" string member");
  }
  std::string rest(text.substr(0, from));
  rest.append(text.substr(end));
  json::ParseLimits limits;
  limits.max_bytes = AgentClient::kMaxAnswerBytes;
  StatusOr<json::ObjectPtr> members = json::parseObject(rest, limits);
  if (!members.ok()) {
    return dataLossError("skr-agent: the answer is not a JSON object: " +
                         members.status().message());
  }
  SplitAnswer out{std::move(members).value(), SecretBytes()};
  out.value.append(asBytes(text.substr(from, end - from)));
  return out;
}

StatusOr<Bytes> optionalBytes(const json::ObjectPtr& members, std::string_view name) {
  SKR_ASSIGN_OR_RETURN(std::optional<std::string> text, json::getOptionalString(members, name));
  if (!text) return Bytes();
  StatusOr<Bytes> bytes = encoding::base64UrlDecode(*text);
  if (!bytes.ok()) {
    return dataLossError("skr-agent: answer member '" + std::string(name) +
                         "' is not base64url: " + bytes.status().message());
  }
  return bytes;
}

std::string stringOr(const json::ObjectPtr& object, std::string_view name) {
  StatusOr<std::string> value = json::getString(object, name);
  return value.ok() ? std::move(value).value() : std::string();
}

ErrorDetails transportDetails() {
  ErrorDetails details;
  details.dependency = Dependency::Agent;
  details.cause = ErrorCause::Transport;
  return details;
}

StatusCode codeForHttp(int status) {
  switch (status) {
    case 401: return StatusCode::Unauthenticated;
    case 403: return StatusCode::PermissionDenied;
    case 404: return StatusCode::NotFound;
    case 408: return StatusCode::DeadlineExceeded;
    case 409: return StatusCode::FailedPrecondition;
    case 413:
    case 431: return StatusCode::ResourceExhausted;
    case 429: return StatusCode::Unavailable;
    default:
      return status >= 400 && status < 500 ? StatusCode::InvalidArgument : StatusCode::Unavailable;
  }
}

}  // namespace

StatusOr<std::string> agentKeyPath(std::string_view key) {
  std::string_view rest = key;
  if (const std::size_t at = key.find("/keys/"); at != std::string_view::npos) {
    rest = key.substr(at + 6);  // a kid: https://{vault}/keys/{name}/{version}
  }
  const std::size_t slash = rest.find('/');
  const std::string_view name = rest.substr(0, slash);
  const std::string_view version =
      slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  if (!safeSegment(name) || (slash != std::string_view::npos && !safeSegment(version))) {
    return invalidArgumentError("'" + log::quoteUntrusted(key, 200) +
                                "' is not a key name, name/version or kid "
                                "(names: letters, digits, '-', '_')");
  }
  std::string path = "/keys/" + std::string(name);
  if (!version.empty()) path += "/" + std::string(version);
  return path;
}

AgentClient::AgentClient(AgentClientOptions options)
    : options_(std::move(options)),
      sleep_([](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); }) {}

StatusOr<AgentClient> AgentClient::fromEnvironment(AgentClientOptions defaults) {
  const char* socket = std::getenv("SKR_AGENT_SOCKET");
  if (socket == nullptr || *socket == '\0') {
    return invalidArgumentError(
        "SKR_AGENT_SOCKET is not set: set it to skr-agent's client socket "
        "(agent.client_socket, e.g. /run/skr/agent.sock)");
  }
  defaults.socket_path = socket;
  if (const char* token = std::getenv("SKR_AGENT_TOKEN"); token != nullptr && *token != '\0') {
    defaults.bearer_token = token;
  }
  return AgentClient(std::move(defaults));
}

StatusOr<AgentAnswer> AgentClient::once(std::string_view method, std::string_view target,
                                        ByteView body) const {
  const std::string where = "skr-agent at " + options_.socket_path;
  const Poco::Timespan span(
      static_cast<Poco::Timespan::TimeDiff>(options_.request_timeout.count()) * 1000);
  Poco::Net::StreamSocket socket;
  try {
    socket.connect(
        Poco::Net::SocketAddress(Poco::Net::SocketAddress::UNIX_LOCAL, options_.socket_path), span);
  } catch (const Poco::Exception& e) {
    return unavailableError(where + ": cannot connect (" + e.displayText() +
                            "); is skr-agent running, and is this its client socket?")
        .withDetails(transportDetails());
  }
  try {
    Poco::Net::HTTPClientSession session(socket);
    session.setTimeout(span);
    session.setKeepAlive(false);
    Poco::Net::HTTPRequest request(std::string(method), std::string(target),
                                   Poco::Net::HTTPMessage::HTTP_1_1);
    request.setHost("skr-agent");
    request.set("X-SKR-Request", "1");
    if (!options_.bearer_token.empty()) {
      request.set("Authorization", "Bearer " + options_.bearer_token);
    }
    if (!body.empty()) request.setContentType("application/json");
    if (!body.empty() || method == "POST") {
      request.setContentLength(static_cast<std::streamsize>(body.size()));
    }
    std::ostream& out = session.sendRequest(request);
    out.write(reinterpret_cast<const char*>(body.data()),
              static_cast<std::streamsize>(body.size()));
    Poco::Net::HTTPResponse response;
    std::istream& in = session.receiveResponse(response);
    AgentAnswer answer;
    answer.status = static_cast<int>(response.getStatus());
    answer.content_type = response.getContentType();
    answer.retry_after_seconds = retryAfterSeconds(response);
    SecretBytes chunk(8192);
    const std::span<uint8_t> buffer = chunk.mutableView(grantSecretAccess());
    while (in.read(reinterpret_cast<char*>(buffer.data()),
                   static_cast<std::streamsize>(buffer.size())) ||
           in.gcount() > 0) {
      answer.body.append(buffer.first(static_cast<std::size_t>(in.gcount())));
      if (answer.body.size() > kMaxAnswerBytes) {
        return dataLossError(where + ": the answer is larger than " +
                             std::to_string(kMaxAnswerBytes) + " bytes");
      }
    }
    return answer;
  } catch (const Poco::TimeoutException&) {
    return deadlineExceededError(where + ": no answer within " +
                                 std::to_string(options_.request_timeout.count()) + " ms");
  } catch (const Poco::Net::MessageException& e) {
    return dataLossError(where + ": not an HTTP answer (" + e.displayText() + ")");
  } catch (const Poco::Exception& e) {
    return unavailableError(where + ": " + e.displayText()).withDetails(transportDetails());
  }
}

StatusOr<AgentAnswer> AgentClient::retried(std::string_view method, std::string_view target,
                                           ByteView body) {
  std::chrono::milliseconds backoff = options_.first_backoff;
  const int attempts = std::max(options_.max_attempts, 1);
  for (int attempt = 1;; ++attempt) {
    StatusOr<AgentAnswer> answer = once(method, target, body);
    const bool last = attempt >= attempts;
    if (!answer.ok()) {
      // Only a socket that is not there or not accepting yet is worth another try.
      if (last || answer.status().code() != StatusCode::Unavailable) return answer;
      sleep_(backoff);
    } else if (!last && (answer->status == 503 || answer->status == 429)) {
      std::chrono::milliseconds wait = backoff;
      if (answer->retry_after_seconds) {
        wait = std::chrono::milliseconds(int64_t{*answer->retry_after_seconds} * 1000);
      }
      sleep_(std::min(wait, options_.max_backoff));
    } else {
      return answer;
    }
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

StatusOr<AgentAnswer> AgentClient::call(std::string_view method, std::string_view target,
                                        const SecretBytes& body) {
  return retried(method, target, body.view(grantSecretAccess()));
}

StatusOr<AgentAnswer> AgentClient::call(std::string_view method, std::string_view target,
                                        std::string_view body) {
  return retried(method, target, asBytes(body));
}

Status AgentClient::waitUntilReady(std::chrono::milliseconds budget) {
  const auto deadline = std::chrono::steady_clock::now() + budget;
  std::chrono::milliseconds backoff = options_.ready_first_poll;
  std::string last;
  for (;;) {
    StatusOr<AgentAnswer> answer = once("GET", "/readyz", {});
    if (answer.ok() && answer->status == 200) return okStatus();
    last = answer.ok() ? check(*answer).message() : answer.status().message();
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      char seconds[32];
      std::snprintf(seconds, sizeof seconds, "%.1f", static_cast<double>(budget.count()) / 1000);
      return deadlineExceededError("skr-agent at " + options_.socket_path + " not ready after " +
                                   seconds + " s; last: " + last)
          .withDetails(transportDetails());
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    sleep_(std::min({backoff, left, options_.ready_max_poll}));
    backoff = std::min(backoff * 2, options_.ready_max_poll);
  }
}

Status AgentClient::check(const AgentAnswer& answer) {
  if (answer.status >= 200 && answer.status < 300) return okStatus();
  std::string code;
  std::string inner;
  std::string message;
  json::ParseLimits limits;
  limits.max_bytes = kMaxAnswerBytes;
  StatusOr<json::ObjectPtr> root =
      json::parseObject(asText(answer.body.view(grantSecretAccess())), limits);
  StatusOr<json::ObjectPtr> error =
      root.ok() ? json::getObject(*root, "error") : StatusOr<json::ObjectPtr>(root.status());
  if (error.ok()) {
    code = stringOr(*error, "code");
    message = stringOr(*error, "message");
    StatusOr<json::ObjectPtr> inner_error = json::getObject(*error, "innererror");
    if (inner_error.ok()) inner = stringOr(*inner_error, "code");
  }
  ErrorDetails details;
  details.dependency = Dependency::Agent;
  details.http_status = answer.status;
  details.service_code = inner.empty() ? code : code + "/" + inner;
  std::string text = "skr-agent: HTTP " + std::to_string(answer.status);
  if (!code.empty()) text += " " + log::quoteUntrusted(code, 100);
  if (!message.empty()) text += ": " + log::quoteUntrusted(message, 500);
  return Status(codeForHttp(answer.status), std::move(text)).withDetails(std::move(details));
}

StatusOr<KeyResult> AgentClient::keyOperation(std::string_view key, std::string_view operation,
                                              const SecretBytes& body) {
  SKR_ASSIGN_OR_RETURN(std::string path, agentKeyPath(key));
  SKR_ASSIGN_OR_RETURN(AgentAnswer answer, call("POST", path + "/" + std::string(operation), body));
  SKR_RETURN_IF_ERROR(check(answer));
  SKR_ASSIGN_OR_RETURN(SplitAnswer split, splitValue(answer.body));
  KeyResult result;
  StatusOr<std::string> kid = json::getString(split.members, "kid");
  if (!kid.ok()) return dataLossError("skr-agent: the answer has no kid");
  result.kid = std::move(kid).value();
  StatusOr<Bytes> value = encoding::base64UrlDecode(asText(split.value.view(grantSecretAccess())));
  if (!value.ok()) return dataLossError("skr-agent: the answer's value is not base64url");
  result.value = std::move(value).value();
  SKR_ASSIGN_OR_RETURN(result.iv, optionalBytes(split.members, "iv"));
  SKR_ASSIGN_OR_RETURN(result.tag, optionalBytes(split.members, "tag"));
  return result;
}

StatusOr<SecretBytes> AgentClient::secretOperation(std::string_view key, std::string_view operation,
                                                   const SecretBytes& body) {
  SKR_ASSIGN_OR_RETURN(std::string path, agentKeyPath(key));
  SKR_ASSIGN_OR_RETURN(AgentAnswer answer, call("POST", path + "/" + std::string(operation), body));
  SKR_RETURN_IF_ERROR(check(answer));
  SKR_ASSIGN_OR_RETURN(SplitAnswer split, splitValue(answer.body));
  StatusOr<SecretBytes> value =
      encoding::base64UrlDecodeSecret(asText(split.value.view(grantSecretAccess())));
  if (!value.ok()) return dataLossError("skr-agent: the answer's value is not base64url");
  return value;
}

StatusOr<KeyResult> AgentClient::wrapKey(std::string_view key, std::string_view alg,
                                         const SecretBytes& dek) {
  SecretBytes body = beginBody(alg, dek);
  appendText(body, "}");
  return keyOperation(key, "wrapkey", body);
}

StatusOr<SecretBytes> AgentClient::unwrapKey(std::string_view key, std::string_view alg,
                                             ByteView wrapped) {
  SecretBytes body = beginBody(alg, SecretBytes::copyOf(wrapped));
  appendText(body, "}");
  return secretOperation(key, "unwrapkey", body);
}

StatusOr<KeyResult> AgentClient::encrypt(std::string_view key, std::string_view alg,
                                         const SecretBytes& plaintext, ByteView aad) {
  SecretBytes body = beginBody(alg, plaintext);
  if (!aad.empty()) appendMember(body, "aad", aad);
  appendText(body, "}");
  return keyOperation(key, "encrypt", body);
}

StatusOr<SecretBytes> AgentClient::decrypt(std::string_view key, std::string_view alg,
                                           const KeyResult& sealed, ByteView aad) {
  SecretBytes body = beginBody(alg, SecretBytes::copyOf(sealed.value));
  if (!sealed.iv.empty()) appendMember(body, "iv", sealed.iv);
  if (!sealed.tag.empty()) appendMember(body, "tag", sealed.tag);
  if (!aad.empty()) appendMember(body, "aad", aad);
  appendText(body, "}");
  return secretOperation(key, "decrypt", body);
}

StatusOr<KeyResult> AgentClient::rewrap(std::string_view name, std::string_view kid,
                                        std::string_view alg, ByteView wrapped) {
  SKR_ASSIGN_OR_RETURN(std::string path, agentKeyPath(name));
  if (path.find('/', 6) != std::string::npos) {
    return invalidArgumentError("rewrap: '" + log::quoteUntrusted(name, 200) +
                                "' must be a key name, without a version");
  }
  SecretBytes body = beginBody(alg, SecretBytes::copyOf(wrapped));
  appendText(body, ",\"kid\":");
  json::appendQuoted(body, kid);
  appendText(body, "}");
  return keyOperation(name, "rewrap", body);
}

StatusOr<std::string> AgentClient::keys() {
  SKR_ASSIGN_OR_RETURN(AgentAnswer answer, call("GET", "/keys"));
  SKR_RETURN_IF_ERROR(check(answer));
  return std::string(asText(answer.body.view(grantSecretAccess())));
}

}  // namespace skr
