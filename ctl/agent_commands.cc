// skrctl rotate / retire / status / metrics / reload: skr-agent's admin socket (DESIGN.md §6, §7).
#include <chrono>
#include <cstdlib>
#include <functional>
#include <optional>
#include <sstream>
#include <string>

#include "common/encoding/json_writer.h"
#include "common/json/json.h"
#include "common/log/redaction.h"
#include "ctl/agent_client.h"
#include "ctl/cli.h"
#include "ctl/commands.h"

namespace skr::ctl {
namespace {

constexpr auto kDefaultTimeout = std::chrono::seconds(120);
constexpr auto kHealthTimeout = std::chrono::seconds(5);  // a probe must not hang

const OptionSpec kSocketOption{"socket", true, "PATH",
                               "the agent's admin socket (default: agent.admin_socket of "
                               "$SKR_CONFIG_YAML, $SKR_ADMIN_SOCKET, else "
                               "/run/skr/admin/agent.sock)"};
const OptionSpec kTimeoutOption{"timeout", true, "SECONDS",
                                "how long to wait for the answer (default 120; a rotation "
                                "attests and releases)"};

// Key names and versions go into the request path: the agent's own rules (letters, digits, '-').
bool safePathSegment(const std::string& s) {
  if (s.empty() || s.size() > 127) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

// Sends the request; prints the body (JSON and metrics as they come) on 200, else a one-line
// error naming the agent's status and message, and returns the exit code.
// Prints a 200 answer's body in another form (for people, or as JSON); false when the body is not
// what it expects (then the body is printed as it came).
using TextPrinter = std::function<bool(const std::string& body, std::ostream& out)>;

int call(const ParsedArgs& args, Io& io, const std::string& method, const std::string& target,
         const std::string& body, bool print_body,
         std::chrono::milliseconds timeout = kDefaultTimeout, const TextPrinter& text = {}) {
  if (std::optional<std::string> t = args.value("timeout")) {
    char* end = nullptr;
    const long seconds = std::strtol(t->c_str(), &end, 10);
    if (t->empty() || *end != '\0' || seconds < 1 || seconds > 3600) {
      io.err << "skrctl: --timeout must be 1..3600 seconds\n";
      return kExitUsage;
    }
    timeout = std::chrono::seconds(seconds);
  }
  StatusOr<std::string> socket = adminSocketPath(args.value("socket").value_or(""));
  if (!socket.ok()) return fail(io, kExitUsage, socket.status());
  StatusOr<AgentReply> reply = callAgent(*socket, method, target, body, timeout);
  if (!reply.ok()) return fail(io, kExitDependency, reply.status());
  if (reply->status == 200) {
    if (print_body && text && text(reply->body, io.out)) return kExitOk;
    if (print_body) {
      io.out << reply->body;
      if (!reply->body.empty() && reply->body.back() != '\n') io.out << "\n";
    }
    return kExitOk;
  }
  std::string message = agentErrorMessage(reply->body);
  if (message.empty()) message = "(no error message)";
  io.err << "skrctl: skr-agent answered " << reply->status << " to " << method << " " << target
         << ": " << message << "\n";
  return exitCodeForAgentStatus(reply->status);
}

int rotate(const ParsedArgs& args, Io& io) {
  if (args.positionals().size() != 1 || !safePathSegment(args.positionals()[0])) {
    io.err << "usage: skrctl rotate KEY [--version V] [--socket PATH]\n";
    return kExitUsage;
  }
  std::string body = "{}";
  if (std::optional<std::string> version = args.value("version")) {
    if (!safePathSegment(*version)) {
      io.err << "skrctl rotate: --version must be a key version (letters, digits, '-')\n";
      return kExitUsage;
    }
    body = json::Writer().beginObject().member("version", *version).endObject().take();
  }
  return call(args, io, "POST", "/keys/" + args.positionals()[0] + "/rotate", body, true);
}

int retire(const ParsedArgs& args, Io& io) {
  if (args.positionals().size() != 2 || !safePathSegment(args.positionals()[0]) ||
      !safePathSegment(args.positionals()[1])) {
    io.err << "usage: skrctl retire KEY VERSION [--socket PATH]\n";
    return kExitUsage;
  }
  return call(args, io, "POST",
              "/keys/" + args.positionals()[0] + "/" + args.positionals()[1] + "/retire", "", true);
}

int simple(const ParsedArgs& args, Io& io, const std::string& method, const std::string& target,
           const std::string& name, const TextPrinter& text = {}) {
  if (!args.positionals().empty()) {
    io.err << "usage: skrctl " << name << " [--socket PATH]\n";
    return kExitUsage;
  }
  return call(args, io, method, target, "", true, kDefaultTimeout, text);
}

// The Prometheus text format (version 0.0.4) as JSON: one object per sample line,
// {"name", "labels": {...}, "value"}; comment lines are skipped. False on a line it cannot read.
bool printMetricsJson(const std::string& body, std::ostream& out) {
  json::Writer w;
  w.beginArray();
  std::istringstream lines(body);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    const std::size_t name_end = line.find_first_of("{ ");
    if (name_end == std::string::npos || name_end == 0) return false;
    w.beginObject().member("name", line.substr(0, name_end)).key("labels").beginObject();
    std::size_t at = name_end;
    if (line[at] == '{') {
      ++at;
      while (at < line.size() && line[at] != '}') {
        const std::size_t eq = line.find("=\"", at);
        if (eq == std::string::npos) return false;
        std::string value;
        std::size_t i = eq + 2;
        for (; i < line.size() && line[i] != '"'; ++i) {
          if (line[i] == '\\' && i + 1 < line.size()) {
            ++i;
            value.push_back(line[i] == 'n' ? '\n' : line[i]);
          } else {
            value.push_back(line[i]);
          }
        }
        if (i >= line.size()) return false;
        w.member(line.substr(at, eq - at), value);
        at = i + 1;
        if (at < line.size() && line[at] == ',') ++at;
      }
      if (at >= line.size()) return false;
      ++at;  // '}'
    }
    w.endObject();
    const std::size_t value_at = line.find_first_not_of(' ', at);
    const std::string value = value_at == std::string::npos ? "" : line.substr(value_at);
    char* end = nullptr;
    const double number = std::strtod(value.c_str(), &end);
    if (value.empty() || *end != '\0') return false;
    w.key("value").number(number).endObject();
  }
  out << w.endArray().take() << "\n";
  return true;
}

// GET /status for people: readiness, then one line per key.
bool printStatus(const std::string& body, std::ostream& out) {
  StatusOr<json::ObjectPtr> root = json::parseObject(body);
  if (!root.ok()) return false;
  StatusOr<bool> ready = json::getBool(*root, "ready");
  StatusOr<bool> emulated = json::getBool(*root, "emulated");
  StatusOr<json::ArrayPtr> keys = json::getArray(*root, "keys");
  if (!ready.ok() || !emulated.ok() || !keys.ok()) return false;
  out << "agent: " << (*ready ? "ready" : "not ready")
      << (*emulated ? " (EMULATED platform: not a confidential VM)" : "") << "\n";
  out << "KEY\tPRIMARY\tVERSIONS\tGENERATION\tLAST ERROR\n";
  for (std::size_t i = 0; i < (*keys)->size(); ++i) {
    StatusOr<json::ObjectPtr> key = json::getObject(*keys, i, "member 'keys'");
    if (!key.ok()) return false;
    const auto text = [&](const char* name) {
      StatusOr<std::string> s = json::getString(*key, name);
      return s.ok() && !s->empty() ? log::quoteUntrusted(*s, 300) : std::string("-");
    };
    StatusOr<json::ArrayPtr> versions = json::getArray(*key, "versions");
    StatusOr<int64_t> generation = json::getInt(*key, "generation");
    out << text("name") << "\t" << text("primary") << "\t"
        << (versions.ok() ? (*versions)->size() : 0) << "\t"
        << (generation.ok() ? std::to_string(*generation) : "-") << "\t" << text("last_error")
        << "\n";
  }
  return true;
}

// skrctl health [--ready]: for exec probes (Kubernetes startupProbe, ACI liveness/readiness).
// Exit 0 when the agent answers 200 to /healthz (alive) or /readyz (every key released and
// verified), else 8 with one line saying why.
int health(const ParsedArgs& args, Io& io) {
  if (!args.positionals().empty()) {
    io.err << "usage: skrctl health [--ready] [--socket PATH] [--timeout SECONDS]\n";
    return kExitUsage;
  }
  const std::string target = args.has("ready") ? "/readyz" : "/healthz";
  return call(args, io, "GET", target, "", true, kHealthTimeout);
}

}  // namespace

int exitCodeForAgentStatus(int status) {
  switch (status) {
    case 400:
    case 405:
    case 409:
    case 413: return kExitUsage;
    case 401: return kExitIdentity;
    case 403: return kExitReleaseDenied;
    case 404: return kExitKeyNotFound;
    default: return kExitDependency;  // 429, 5xx, anything unexpected
  }
}

std::vector<Command> agentCommands() {
  const std::vector<OptionSpec> common = {kSocketOption, kTimeoutOption};
  std::vector<OptionSpec> rotate_options = common;
  rotate_options.push_back(
      {"version", true, "V", "release this version instead of the latest", false});
  std::vector<OptionSpec> status_options = common;
  status_options.push_back({"json", false, "", "print the agent's JSON answer", false});
  std::vector<OptionSpec> metrics_options = common;
  metrics_options.push_back({"json", false, "", "print the samples as JSON", false});
  std::vector<OptionSpec> health_options = common;
  health_options.push_back(
      {"ready", false, "", "ask /readyz (every key released and verified), not /healthz", false});
  return {
      Command{"health", "health [--ready] [--socket PATH]",
              "Exit 0 when skr-agent is alive (or, with --ready, ready to serve every key).",
              "For exec probes: a Kubernetes startupProbe or an ACI liveness/readiness probe.\n"
              "Asks GET /healthz (or /readyz) on the admin socket; waits at most 5 s unless\n"
              "--timeout says otherwise. Exit codes: 0 ok, 8 not alive / not ready (the line\n"
              "says why), 2 usage.",
              health_options, health},
      Command{"rotate", "rotate KEY [--version V] [--socket PATH]",
              "Ask skr-agent to release the latest (or given) version of KEY and make it primary.",
              "Prints {\"kid\": ...} of the primary version. Older versions keep serving\n"
              "unwrap/decrypt until retired. Exit codes: 6 release denied, 7 unknown key,\n"
              "8 agent or dependency unavailable.",
              rotate_options, rotate},
      Command{"retire", "retire KEY VERSION [--socket PATH]",
              "Drop a non-primary VERSION of KEY from skr-agent and its state directory.", "",
              common, retire},
      Command{
          "status", "status [--json] [--socket PATH]",
          "Print skr-agent's status: readiness, and per key the primary version, versions, "
          "generation and last error.",
          "--json prints the agent's answer (GET /status) as it came, with each version's kid,\n"
          "type and release time.",
          status_options,
          [](const ParsedArgs& a, Io& io) {
            return simple(a, io, "GET", "/status", "status",
                          a.has("json") ? TextPrinter() : TextPrinter(printStatus));
          }},
      Command{"metrics", "metrics [--json] [--socket PATH]",
              "Print skr-agent's Prometheus metrics.",
              "--json prints [{\"name\", \"labels\": {...}, \"value\"}] for each sample.",
              metrics_options,
              [](const ParsedArgs& a, Io& io) {
                return simple(a, io, "GET", "/metrics", "metrics",
                              a.has("json") ? TextPrinter(printMetricsJson) : TextPrinter());
              }},
      Command{
          "reload", "reload [--socket PATH]",
          "Make skr-agent re-read the sealed bundles of its state directory.", "", common,
          [](const ParsedArgs& a, Io& io) { return simple(a, io, "POST", "/reload", "reload"); }},
  };
}

}  // namespace skr::ctl
