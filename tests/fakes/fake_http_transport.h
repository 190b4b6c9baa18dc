// FakeHttpTransport: an HttpTransport with canned responses by exact URL and a log of every
// request, for hermetic tests of HTTP clients (STYLE.md "Effects are injected"). A URL without a
// canned answer fails like an unreachable host (Unavailable). Thread-safe.
#pragma once

#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/http/http_transport.h"

namespace skr::testing {

class FakeHttpTransport : public http::HttpTransport {
 public:
  // Every later request for `url` (any method) gets this response.
  void setResponse(const std::string& url, int status, std::string body,
                   std::vector<http::Header> headers = {});
  // Every later request for `url` fails with `status` (a transport failure).
  void setError(const std::string& url, Status status);
  // One-shot answers for `url`, used in FIFO order before the setResponse/setError answer (for
  // sequences such as 500, 500, 200).
  void queueResponse(const std::string& url, int status, std::string body,
                     std::vector<http::Header> headers = {});
  void queueError(const std::string& url, Status status);
  void clearResponses();

  StatusOr<http::HttpResponse> send(const http::HttpRequest& request) override;

  // Requests in the order they were sent.
  std::vector<http::HttpRequest> requests() const;
  std::size_t requestCount() const;
  std::vector<std::string> requestedUrls() const;

 private:
  struct Canned {
    Status error;  // OK: answer with `response`
    http::HttpResponse response;
  };
  mutable std::mutex mutex_;
  std::map<std::string, Canned> canned_;
  std::map<std::string, std::deque<Canned>> queued_;
  std::vector<http::HttpRequest> requests_;
};

}  // namespace skr::testing
