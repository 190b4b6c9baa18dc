#include "ctl/agent_client.h"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Timespan.h>

#include <cstdlib>
#include <istream>
#include <ostream>

#include "common/config/config.h"
#include "common/json/json.h"
#include "common/log/redaction.h"

namespace skr::ctl {

StatusOr<std::string> adminSocketPath(const std::string& flag) {
  if (!flag.empty()) return flag;
  // Inside the agent's container (an exec probe, `kubectl exec ... skrctl rotate`) the agent's own
  // configuration is in the environment: read it the way skr-agent does.
  StatusOr<config::Config> config = config::loadConfig(config::LoadOptions{});
  if (!config.ok()) {
    return invalidArgumentError(
        "no --socket given, and the agent configuration in the "
        "environment does not load: " +
        config.status().message());
  }
  return config->agent.admin_socket;
}

StatusOr<AgentReply> callAgent(const std::string& socket_path, const std::string& method,
                               const std::string& target, const std::string& body,
                               std::chrono::milliseconds timeout) {
  const std::string where = "skr-agent at " + socket_path;
  const Poco::Timespan span(static_cast<Poco::Timespan::TimeDiff>(timeout.count()) * 1000);
  Poco::Net::StreamSocket socket;
  try {
    socket.connect(Poco::Net::SocketAddress(Poco::Net::SocketAddress::UNIX_LOCAL, socket_path),
                   span);
  } catch (const Poco::Exception& e) {
    return unavailableError(where + ": cannot connect (" + e.displayText() +
                            "); is skr-agent running, and is this its admin socket?");
  }
  try {
    Poco::Net::HTTPClientSession session(socket);
    session.setTimeout(span);
    session.setKeepAlive(false);
    Poco::Net::HTTPRequest request(method, target, Poco::Net::HTTPMessage::HTTP_1_1);
    request.setHost("skr-agent");
    request.set("X-SKR-Request", "1");
    if (!body.empty()) {
      request.setContentType("application/json");
      request.setContentLength(static_cast<std::streamsize>(body.size()));
    } else if (method == "POST") {
      request.setContentLength(0);
    }
    std::ostream& out = session.sendRequest(request);
    out << body;
    Poco::Net::HTTPResponse response;
    std::istream& in = session.receiveResponse(response);
    AgentReply reply;
    reply.status = static_cast<int>(response.getStatus());
    reply.content_type = response.getContentType();
    char buffer[8192];
    while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
      reply.body.append(buffer, static_cast<std::size_t>(in.gcount()));
      if (reply.body.size() > kMaxAgentReplyBytes) {
        return dataLossError(where + ": the answer is larger than " +
                             std::to_string(kMaxAgentReplyBytes) + " bytes");
      }
    }
    return reply;
  } catch (const Poco::TimeoutException&) {
    return deadlineExceededError(where + ": no answer within " + std::to_string(timeout.count()) +
                                 " ms");
  } catch (const Poco::Net::MessageException& e) {
    return dataLossError(where + ": not an HTTP answer (" + e.displayText() + ")");
  } catch (const Poco::Exception& e) {
    return unavailableError(where + ": " + e.displayText());
  }
}

std::string agentErrorMessage(const std::string& body) {
  json::ParseLimits limits;
  limits.max_bytes = kMaxAgentReplyBytes;
  StatusOr<json::ObjectPtr> root = json::parseObject(body, limits);
  if (!root.ok()) return "";
  StatusOr<json::ObjectPtr> error = json::getObject(*root, "error");
  StatusOr<std::string> message =
      error.ok() ? json::getString(*error, "message") : StatusOr<std::string>(error.status());
  if (!message.ok()) return "";
  return log::quoteUntrusted(*message, 500);
}

}  // namespace skr::ctl
