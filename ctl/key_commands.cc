// skrctl keys / wrap / unwrap / encrypt / decrypt / rewrap / events: skr-agent's client socket
// through skr::AgentClient (client/agent_client.h), the same client the C++ example uses.
//
// Envelopes travel as JSON on stdin and stdout so that a script keeps the kid with the ciphertext:
//   skrctl wrap app-kek < dek.bin > dek.wrapped.json      {"kid","alg","value"}
//   skrctl unwrap < dek.wrapped.json > dek.bin
//   skrctl encrypt app-key < data > data.sealed.json      {"kid","alg","value","iv","tag"}
//   skrctl decrypt < data.sealed.json > data
// Key material read or written by these commands stays in SecretBytes inside skrctl.
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>

#include "client/agent_client.h"
#include "common/encoding/base64.h"
#include "common/encoding/json_writer.h"
#include "common/json/json.h"
#include "ctl/cli.h"
#include "ctl/commands.h"

namespace skr::ctl {
namespace {

constexpr std::size_t kMaxInputBytes = 16 * 1024 * 1024;
constexpr std::size_t kMaxEnvelopeBytes = 64 * 1024 * 1024;

const OptionSpec kClientSocketOption{"socket", true, "PATH",
                                     "the agent's client socket (default: $SKR_AGENT_SOCKET)"};
const OptionSpec kClientTimeoutOption{"timeout", true, "SECONDS",
                                      "how long to wait for one answer (default 30)"};
const OptionSpec kAlgOption{"alg", true, "ALG",
                            "the algorithm (default: RSA-OAEP-256 for RSA keys, A256KW (wrap) or "
                            "A256GCM (encrypt) for oct keys)"};
const OptionSpec kBase64Option{"base64", false, "",
                               "the raw side (stdin of wrap/encrypt, stdout of unwrap/decrypt) "
                               "is base64 text instead of bytes"};
const OptionSpec kAadOption{"aad", true, "TEXT", "additional authenticated data (A256GCM)"};
const OptionSpec kJsonOption{"json", false, "", "print the agent's JSON answer"};

// The exit code for an error from AgentClient: by the agent's HTTP status when it answered.
int exitCodeOf(const Status& status) {
  if (status.code() == StatusCode::InvalidArgument && status.details().http_status == 0) {
    return kExitUsage;
  }
  if (status.details().http_status != 0)
    return exitCodeForAgentStatus(status.details().http_status);
  return kExitDependency;
}

int failWith(Io& io, const Status& status) {
  return fail(io, exitCodeOf(status), status);
}

StatusOr<AgentClient> clientFor(const ParsedArgs& args) {
  AgentClientOptions options;
  if (std::optional<std::string> t = args.value("timeout")) {
    char* end = nullptr;
    const long seconds = std::strtol(t->c_str(), &end, 10);
    if (t->empty() || *end != '\0' || seconds < 1 || seconds > 3600) {
      return invalidArgumentError("--timeout must be 1..3600 seconds");
    }
    options.request_timeout = std::chrono::seconds(seconds);
  }
  if (std::optional<std::string> socket = args.value("socket")) {
    options.socket_path = *socket;
    if (const char* token = std::getenv("SKR_AGENT_TOKEN"); token != nullptr) {
      options.bearer_token = token;
    }
    return AgentClient(std::move(options));
  }
  StatusOr<AgentClient> client = AgentClient::fromEnvironment(std::move(options));
  if (!client.ok()) {
    return invalidArgumentError("no --socket given and " + client.status().message());
  }
  return client;
}

// All of stdin, at most `max_bytes`, into secret storage.
StatusOr<SecretBytes> readInput(Io& io, std::size_t max_bytes) {
  SecretBytes data;
  SecretBytes chunk(64 * 1024);
  const std::span<uint8_t> buffer = chunk.mutableView(grantSecretAccess());
  while (io.in.read(reinterpret_cast<char*>(buffer.data()),
                    static_cast<std::streamsize>(buffer.size())) ||
         io.in.gcount() > 0) {
    data.append(buffer.first(static_cast<std::size_t>(io.in.gcount())));
    if (data.size() > max_bytes) {
      return resourceExhaustedError("the input is larger than " + std::to_string(max_bytes) +
                                    " bytes");
    }
  }
  return data;
}

// stdin as bytes, or with --base64 as base64 text (either alphabet; surrounding whitespace
// ignored).
StatusOr<SecretBytes> readRawSide(const ParsedArgs& args, Io& io) {
  SKR_ASSIGN_OR_RETURN(SecretBytes input, readInput(io, kMaxInputBytes));
  if (!args.has("base64")) return input;
  std::string_view text = asText(input.view(grantSecretAccess()));
  const std::size_t first = text.find_first_not_of(" \t\r\n");
  const std::size_t last = text.find_last_not_of(" \t\r\n");
  text =
      first == std::string_view::npos ? std::string_view() : text.substr(first, last - first + 1);
  StatusOr<SecretBytes> decoded = encoding::base64DecodeLenientSecret(text);
  if (!decoded.ok())
    return invalidArgumentError("stdin is not base64: " + decoded.status().message());
  return decoded;
}

void writeRawSide(const ParsedArgs& args, Io& io, const SecretBytes& data) {
  if (args.has("base64")) {
    const SecretBytes encoded = encoding::base64UrlEncodeSecret(data);
    const ByteView view = encoded.view(grantSecretAccess());
    io.out.write(reinterpret_cast<const char*>(view.data()),
                 static_cast<std::streamsize>(view.size()));
    io.out << "\n";
  } else {
    const ByteView view = data.view(grantSecretAccess());
    io.out.write(reinterpret_cast<const char*>(view.data()),
                 static_cast<std::streamsize>(view.size()));
  }
  io.out.flush();
}

// The envelope wrap/encrypt printed, read back from stdin.
struct Envelope {
  std::string kid;
  std::string alg;
  KeyResult sealed;
};
StatusOr<Envelope> readEnvelope(Io& io) {
  SKR_ASSIGN_OR_RETURN(SecretBytes input, readInput(io, kMaxEnvelopeBytes));
  json::ParseLimits limits;
  limits.max_bytes = kMaxEnvelopeBytes;
  limits.max_string_bytes = kMaxEnvelopeBytes;
  StatusOr<json::ObjectPtr> object =
      json::parseObject(asText(input.view(grantSecretAccess())), limits);
  if (!object.ok()) {
    return invalidArgumentError("stdin is not the JSON that wrap or encrypt printed: " +
                                object.status().message());
  }
  Envelope e;
  const auto bytes = [&](std::string_view name, bool required) -> StatusOr<Bytes> {
    SKR_ASSIGN_OR_RETURN(std::optional<std::string> text, json::getOptionalString(*object, name));
    if (!text) {
      if (required)
        return invalidArgumentError("stdin: member '" + std::string(name) + "' is missing");
      return Bytes();
    }
    StatusOr<Bytes> decoded = encoding::base64UrlDecode(*text, kMaxEnvelopeBytes);
    if (!decoded.ok()) {
      return invalidArgumentError("stdin: member '" + std::string(name) + "' is not base64url");
    }
    return decoded;
  };
  StatusOr<std::string> kid = json::getString(*object, "kid");
  if (!kid.ok()) return invalidArgumentError("stdin: " + kid.status().message());
  e.kid = std::move(kid).value();
  SKR_ASSIGN_OR_RETURN(std::optional<std::string> alg, json::getOptionalString(*object, "alg"));
  e.alg = alg.value_or("");
  SKR_ASSIGN_OR_RETURN(e.sealed.value, bytes("value", true));
  SKR_ASSIGN_OR_RETURN(e.sealed.iv, bytes("iv", false));
  SKR_ASSIGN_OR_RETURN(e.sealed.tag, bytes("tag", false));
  return e;
}

void printEnvelope(Io& io, const KeyResult& result, std::string_view alg) {
  json::Writer w;
  w.beginObject().member("kid", result.kid).member("alg", alg);
  w.member("value", encoding::base64UrlEncode(result.value));
  if (!result.iv.empty()) w.member("iv", encoding::base64UrlEncode(result.iv));
  if (!result.tag.empty()) w.member("tag", encoding::base64UrlEncode(result.tag));
  io.out << w.endObject().take() << "\n";
}

// --alg, else the default for the key's type (GET /keys/{name}).
StatusOr<std::string> algorithmFor(const ParsedArgs& args, AgentClient& client,
                                   const std::string& key, bool encrypt) {
  if (std::optional<std::string> alg = args.value("alg")) return *alg;
  SKR_ASSIGN_OR_RETURN(std::string path, agentKeyPath(key));
  SKR_ASSIGN_OR_RETURN(AgentAnswer answer, client.call("GET", path));
  SKR_RETURN_IF_ERROR(AgentClient::check(answer));
  StatusOr<json::ObjectPtr> root = json::parseObject(asText(answer.body.view(grantSecretAccess())));
  StatusOr<json::ObjectPtr> jwk =
      root.ok() ? json::getObject(*root, "key") : StatusOr<json::ObjectPtr>(root.status());
  StatusOr<std::string> kty =
      jwk.ok() ? json::getString(*jwk, "kty") : StatusOr<std::string>(jwk.status());
  if (!kty.ok()) return dataLossError("skr-agent: GET " + path + ": no key.kty in the answer");
  if (*kty == "RSA" || *kty == "RSA-HSM") return std::string("RSA-OAEP-256");
  if (*kty == "oct" || *kty == "oct-HSM") return std::string(encrypt ? "A256GCM" : "A256KW");
  return invalidArgumentError("key '" + key + "' is of type " + *kty +
                              ", which wraps nothing; give --alg");
}

int keysCommand(const ParsedArgs& args, Io& io) {
  if (!args.positionals().empty()) {
    io.err << "usage: skrctl keys [--json] [--socket PATH]\n";
    return kExitUsage;
  }
  StatusOr<AgentClient> client = clientFor(args);
  if (!client.ok()) return failWith(io, client.status());
  StatusOr<std::string> keys = client->keys();
  if (!keys.ok()) return failWith(io, keys.status());
  if (args.has("json")) {
    io.out << *keys << (keys->empty() || keys->back() != '\n' ? "\n" : "");
    return kExitOk;
  }
  StatusOr<json::ObjectPtr> root = json::parseObject(*keys);
  StatusOr<json::ArrayPtr> value =
      root.ok() ? json::getArray(*root, "value") : StatusOr<json::ArrayPtr>(root.status());
  if (!value.ok())
    return fail(io, kExitDependency,
                dataLossError("skr-agent: GET /keys: " + value.status().message()));
  io.out << "NAME\tKTY\tSTATE\tPRIMARY\tVERSIONS\n";
  for (std::size_t i = 0; i < (*value)->size(); ++i) {
    StatusOr<json::ObjectPtr> key = json::getObject(*value, i, "member 'value'");
    if (!key.ok()) continue;
    const auto text = [&](const char* name) {
      StatusOr<std::string> s = json::getString(*key, name);
      return s.ok() ? *s : std::string("-");
    };
    StatusOr<json::ArrayPtr> versions = json::getArray(*key, "versions");
    io.out << text("name") << "\t" << text("kty") << "\t" << text("state") << "\t"
           << text("primary_version") << "\t" << (versions.ok() ? (*versions)->size() : 0) << "\n";
  }
  return kExitOk;
}

int wrapCommand(const ParsedArgs& args, Io& io, bool encrypt) {
  const char* name = encrypt ? "encrypt" : "wrap";
  if (args.positionals().size() != 1) {
    io.err << "usage: skrctl " << name << " KEY [--alg ALG] [--base64]"
           << (encrypt ? " [--aad TEXT]" : "") << " [--socket PATH] < input > envelope.json\n";
    return kExitUsage;
  }
  const std::string& key = args.positionals()[0];
  StatusOr<AgentClient> client = clientFor(args);
  if (!client.ok()) return failWith(io, client.status());
  StatusOr<std::string> alg = algorithmFor(args, *client, key, encrypt);
  if (!alg.ok()) return failWith(io, alg.status());
  StatusOr<SecretBytes> input = readRawSide(args, io);
  if (!input.ok()) return fail(io, kExitUsage, input.status());
  const std::string aad = args.value("aad").value_or("");
  StatusOr<KeyResult> result = encrypt ? client->encrypt(key, *alg, *input, asBytes(aad))
                                       : client->wrapKey(key, *alg, *input);
  if (!result.ok()) return failWith(io, result.status());
  printEnvelope(io, *result, *alg);
  return kExitOk;
}

int unwrapCommand(const ParsedArgs& args, Io& io, bool decrypt) {
  const char* name = decrypt ? "decrypt" : "unwrap";
  if (args.positionals().size() > 1) {
    io.err << "usage: skrctl " << name << " [KEY] [--alg ALG] [--base64]"
           << (decrypt ? " [--aad TEXT]" : "") << " [--socket PATH] < envelope.json > output\n";
    return kExitUsage;
  }
  StatusOr<Envelope> envelope = readEnvelope(io);
  if (!envelope.ok()) return fail(io, kExitUsage, envelope.status());
  const std::string key = args.positionals().empty() ? envelope->kid : args.positionals()[0];
  StatusOr<AgentClient> client = clientFor(args);
  if (!client.ok()) return failWith(io, client.status());
  std::string alg = args.value("alg").value_or(envelope->alg);
  if (alg.empty()) {
    StatusOr<std::string> by_key = algorithmFor(args, *client, key, decrypt);
    if (!by_key.ok()) return failWith(io, by_key.status());
    alg = *by_key;
  }
  const std::string aad = args.value("aad").value_or("");
  StatusOr<SecretBytes> plain = decrypt ? client->decrypt(key, alg, envelope->sealed, asBytes(aad))
                                        : client->unwrapKey(key, alg, envelope->sealed.value);
  if (!plain.ok()) return failWith(io, plain.status());
  writeRawSide(args, io, *plain);
  return kExitOk;
}

int rewrapCommand(const ParsedArgs& args, Io& io) {
  if (args.positionals().size() != 1) {
    io.err << "usage: skrctl rewrap KEY [--socket PATH] < old.json > new.json\n";
    return kExitUsage;
  }
  StatusOr<Envelope> envelope = readEnvelope(io);
  if (!envelope.ok()) return fail(io, kExitUsage, envelope.status());
  StatusOr<AgentClient> client = clientFor(args);
  if (!client.ok()) return failWith(io, client.status());
  std::string alg = args.value("alg").value_or(envelope->alg);
  if (alg.empty()) {
    StatusOr<std::string> by_key = algorithmFor(args, *client, args.positionals()[0], false);
    if (!by_key.ok()) return failWith(io, by_key.status());
    alg = *by_key;
  }
  StatusOr<KeyResult> result =
      client->rewrap(args.positionals()[0], envelope->kid, alg, envelope->sealed.value);
  if (!result.ok()) return failWith(io, result.status());
  printEnvelope(io, *result, alg);
  return kExitOk;
}

// skrctl events [--follow] [--after N]: one JSON line per event; --follow long-polls until
// interrupted (or the agent goes away: exit 8).
int eventsCommand(const ParsedArgs& args, Io& io) {
  if (!args.positionals().empty()) {
    io.err << "usage: skrctl events [--follow] [--after N] [--socket PATH]\n";
    return kExitUsage;
  }
  std::string after = args.value("after").value_or("0");
  if (after.empty() || after.size() > 20 ||
      after.find_first_not_of("0123456789") != std::string::npos) {
    io.err << "skrctl events: --after must be a sequence number\n";
    return kExitUsage;
  }
  StatusOr<AgentClient> client = clientFor(args);
  if (!client.ok()) return failWith(io, client.status());
  const bool follow = args.has("follow");
  for (;;) {
    StatusOr<AgentAnswer> answer =
        client->call("GET", "/events?after=" + after + "&timeout=" + (follow ? "25" : "0"));
    if (!answer.ok()) return failWith(io, answer.status());
    if (Status s = AgentClient::check(*answer); !s.ok()) return failWith(io, s);
    const std::string body(asText(answer->body.view(grantSecretAccess())));
    StatusOr<json::ObjectPtr> root = json::parseObject(body);
    StatusOr<json::ArrayPtr> events =
        root.ok() ? json::getArray(*root, "events") : StatusOr<json::ArrayPtr>(root.status());
    StatusOr<int64_t> next =
        root.ok() ? json::getInt(*root, "next") : StatusOr<int64_t>(root.status());
    if (!events.ok() || !next.ok()) {
      return fail(io, kExitDependency, dataLossError("skr-agent: /events answered no events/next"));
    }
    for (std::size_t i = 0; i < (*events)->size(); ++i) {
      StatusOr<json::ObjectPtr> event = json::getObject(*events, i, "member 'events'");
      if (!event.ok()) continue;
      StatusOr<std::string> line = json::serializeCanonical(*event);
      if (line.ok()) io.out << *line << "\n";
    }
    io.out.flush();
    after = std::to_string(*next);
    if (!follow) return kExitOk;
  }
}

}  // namespace

std::vector<Command> keyCommands() {
  const std::vector<OptionSpec> common = {kClientSocketOption, kClientTimeoutOption};
  std::vector<OptionSpec> wrap_options = common;
  wrap_options.insert(wrap_options.end(), {kAlgOption, kBase64Option});
  std::vector<OptionSpec> encrypt_options = wrap_options;
  encrypt_options.push_back(kAadOption);
  std::vector<OptionSpec> keys_options = common;
  keys_options.push_back(kJsonOption);
  std::vector<OptionSpec> rewrap_options = common;
  rewrap_options.push_back(kAlgOption);
  std::vector<OptionSpec> events_options = common;
  events_options.push_back({"follow", false, "", "keep waiting for new events", false});
  events_options.push_back({"after", true, "N", "only events after sequence N (default 0)", false});
  const std::string socket_note =
      "Talks to the agent's client socket (--socket, else $SKR_AGENT_SOCKET; a bearer token\n"
      "from $SKR_AGENT_TOKEN when the agent's client rule asks for one).";
  return {
      Command{"keys", "keys [--json] [--socket PATH]",
              "List the keys skr-agent serves to this caller.",
              socket_note + "\nColumns: name, type, state, primary version, number of versions.",
              keys_options, keysCommand},
      Command{"wrap", "wrap KEY [--alg ALG] [--base64] < dek > envelope.json",
              "Wrap a data-encryption key (stdin) under KEY; print {kid, alg, value}.",
              socket_note + "\nStore the printed JSON next to the data: `skrctl unwrap` reads it "
                            "back.\nExit codes: 2 usage, 6 operation not allowed, 7 unknown key, "
                            "8 agent unavailable.",
              wrap_options, [](const ParsedArgs& a, Io& io) { return wrapCommand(a, io, false); }},
      Command{"unwrap", "unwrap [KEY] [--base64] < envelope.json > dek",
              "Unwrap the key in a `skrctl wrap` envelope (stdin) with the version its kid names.",
              socket_note + "\nKEY (a name, name/version or kid) overrides the envelope's kid.",
              wrap_options,
              [](const ParsedArgs& a, Io& io) { return unwrapCommand(a, io, false); }},
      Command{"encrypt", "encrypt KEY [--alg A256GCM] [--aad TEXT] [--base64] < data > sealed.json",
              "Encrypt stdin with KEY inside skr-agent; print {kid, alg, value, iv, tag}.",
              socket_note, encrypt_options,
              [](const ParsedArgs& a, Io& io) { return wrapCommand(a, io, true); }},
      Command{"decrypt", "decrypt [KEY] [--aad TEXT] [--base64] < sealed.json > data",
              "Decrypt a `skrctl encrypt` envelope (stdin) with the version its kid names.",
              socket_note, encrypt_options,
              [](const ParsedArgs& a, Io& io) { return unwrapCommand(a, io, true); }},
      Command{"rewrap", "rewrap KEY < old-envelope.json > new-envelope.json",
              "Re-wrap a `skrctl wrap` envelope under KEY's primary version (after a rotation).",
              socket_note, rewrap_options, rewrapCommand},
      Command{"events", "events [--follow] [--after N] [--socket PATH]",
              "Print skr-agent's key events (released, rotated, ready), one JSON line each.",
              socket_note, events_options, eventsCommand},
  };
}

}  // namespace skr::ctl
