// POST /data/open on the client socket (router.h; docs/agent.md "Opening encrypted data";
// docs/encrypted-data.md): streams the plaintext of an encrypted blob to an authorized caller,
// with no plaintext on disk.
//
// Request: `X-SKR-Request: 1`, `Content-Type: application/json`, body
//   {"url": "<https blob URL, may carry a SAS query>", "key": "<configured key name>",
//    "auth": "entra" | "sas" | "anonymous"}   (auth optional: "sas" when the URL's query has
//                                              sig=, else "entra"; no other member)
// Checks, in order, on the request worker (no storage access): the body (400 BadParameter), the
// caller's grant of "open-data" on `key` (403 Forbidden), the URL under a configured prefix of
// agent.data.sources (403 DataSourceNotAllowed; none configured: always 403, so the agent's
// storage token goes only where the operator allows: the SSRF guard), readiness (503 NotReady),
// the key (404 KeyNotFound), agent.data.max_concurrent opens at once (429 TooManyRequests). Then,
// on one of the server's stream threads, the envelope's header is read from storage BEFORE the
// head is sent: its kid must name a version of `key` (403 KeyMismatch) that the agent holds
// (404 KeyNotFound).
// Answer: 200, `Content-Type: application/octet-stream`, `Transfer-Encoding: chunked`,
// `X-SKR-Kid`, `X-SKR-Envelope: compact|chunked`, body = the plaintext, streamed as it is
// authenticated (http_server.h: at most two pieces buffered per connection, on the server's
// stream threads). The head goes out with the first authenticated piece, so a failure before it
// is an AKV-shaped JSON error: 404 BlobNotFound (storage 404), 502 StorageForbidden (storage
// 401/403), 502 BadGateway (an answer the agent cannot read, the blob changed while read),
// 503 StorageUnavailable with Retry-After (retries exhausted), 422 DataIntegrity (a tag, the
// content key or the envelope did not verify). A failure after streaming began ends the
// connection without the terminating zero-length chunk: the client must discard what it got.
// Audit: one "request" line when the open ends (op data_open, key, version, status, code, caller,
// blob = the URL without its query, plaintext_bytes); metrics skr_data_opens_total{result} and
// skr_data_open_bytes_total. Never the URL's query, a token or plaintext.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agent/keyring.h"
#include "agent/metrics.h"
#include "agent/routes.h"
#include "common/core/status.h"
#include "common/data/envelope.h"
#include "common/data/object_source.h"

namespace skr::agent {

// A checked POST /data/open request, as the source factory gets it.
struct DataOpenRequest {
  std::string url;   // https, under a configured source; its query (a SAS) is a secret
  std::string key;   // the configured key name the envelope's kid must name
  std::string auth;  // "entra", "sas" or "anonymous"
};

// Builds the ObjectSource of a blob (production: azure::BlobReader with the agent's storage
// token provider). Its errors are storage errors (NotFound 404, PermissionDenied 502, Unavailable
// 503, InvalidArgument 400 for a URL it refuses, anything else 502). Called on a request worker.
using DataSourceFactory =
    std::function<StatusOr<std::unique_ptr<data::ObjectSource>>(const DataOpenRequest&)>;

struct DataOpenOptions {
  std::vector<std::string> sources;  // agent.data.sources: https prefixes ending in "/"
  int max_concurrent = 4;            // agent.data.max_concurrent
  int retry_after_seconds = 1;       // Retry-After of 429 and 503 StorageUnavailable
  data::OpenLimits limits;
};

// The blob URL as messages and logs show it: without query and fragment.
std::string dataUrlForLogs(std::string_view url);

class DataHandlers {
 public:
  DataHandlers(std::shared_ptr<Keyring> keyring, AgentMetrics& metrics);

  // Set before the server starts. Without a factory the route answers 501 NotImplemented.
  void configure(DataOpenOptions options, DataSourceFactory factory);

  // POST /data/open. A 200 carries a body stream; the stream writes the request's audit line
  // (through `audit_line`) when the open ends, so the router writes none for it.
  using AuditLine = std::function<void(const RequestAudit& audit, int status)>;
  StatusOr<HttpResponse> open(const RouteCall& call, AuditLine audit_line);

  // Opens streaming now (tests, /status).
  int running() const { return running_->load(); }

 private:
  std::shared_ptr<Keyring> keyring_;
  AgentMetrics& metrics_;
  DataOpenOptions options_;
  DataSourceFactory factory_;
  std::shared_ptr<std::atomic<int>> running_ = std::make_shared<std::atomic<int>>(0);
};

}  // namespace skr::agent
