// The router's error answers (router.h "Errors"): an AKV-shaped body
// {"error":{"code","message"[,"innererror":{"code"}]}} and the one mapping from a Status to it.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "agent/http_message.h"
#include "common/core/status.h"

namespace skr::agent {

struct ApiError {
  int status;
  std::string code;  // the body's error.code, and the audit line's and metrics' "code"
  std::string message;
  std::string inner;  // innererror.code, optional
  std::vector<std::pair<std::string, std::string>> headers;
};

// The answer for `error`: its status, headers and AKV-shaped JSON body.
HttpResponse errorResponse(const ApiError& error);

// How a failed key lookup, key operation, request decoding or admin hook is answered. Reads the
// code and the typed details (ErrorCause::VersionNotFound picks 404 VersionNotFound over
// KeyNotFound), never the message. 503 NotReady carries Retry-After: `retry_after` seconds.
// InvalidArgument / DataLoss about a dependency's answer (a release response that fails its
// signature or does not parse, during a rotation) is 502 BadGateway, not the caller's 400.
ApiError apiErrorOf(const Status& status, int retry_after);

// 400 BadParameter.
ApiError badParameter(std::string message);

}  // namespace skr::agent
