#include "tests/fakes/fake_http_transport.h"

#include <utility>

namespace skr::testing {

void FakeHttpTransport::setResponse(const std::string& url, int status, std::string body,
                                    std::vector<http::Header> headers) {
  std::lock_guard<std::mutex> lock(mutex_);
  http::HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  response.headers = std::move(headers);
  canned_[url] = Canned{okStatus(), std::move(response)};
}

void FakeHttpTransport::setError(const std::string& url, Status status) {
  std::lock_guard<std::mutex> lock(mutex_);
  canned_[url] = Canned{std::move(status), {}};
}

void FakeHttpTransport::queueResponse(const std::string& url, int status, std::string body,
                                      std::vector<http::Header> headers) {
  std::lock_guard<std::mutex> lock(mutex_);
  http::HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  response.headers = std::move(headers);
  queued_[url].push_back(Canned{okStatus(), std::move(response)});
}

void FakeHttpTransport::queueError(const std::string& url, Status status) {
  std::lock_guard<std::mutex> lock(mutex_);
  queued_[url].push_back(Canned{std::move(status), {}});
}

void FakeHttpTransport::clearResponses() {
  std::lock_guard<std::mutex> lock(mutex_);
  canned_.clear();
  queued_.clear();
}

StatusOr<http::HttpResponse> FakeHttpTransport::send(const http::HttpRequest& request) {
  std::lock_guard<std::mutex> lock(mutex_);
  requests_.push_back(request);
  Canned answer;
  auto queued = queued_.find(request.url);
  if (queued != queued_.end() && !queued->second.empty()) {
    answer = std::move(queued->second.front());
    queued->second.pop_front();
  } else {
    auto it = canned_.find(request.url);
    if (it == canned_.end()) {
      return unavailableError("fake transport: no route to " + request.url);
    }
    answer = it->second;
  }
  if (!answer.error.ok()) return answer.error;
  if (answer.response.body.size() > request.max_response_bytes) {
    return resourceExhaustedError("fake transport: response from " + request.url + " is " +
                                  std::to_string(answer.response.body.size()) + " bytes, limit " +
                                  std::to_string(request.max_response_bytes));
  }
  return answer.response;
}

std::vector<http::HttpRequest> FakeHttpTransport::requests() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return requests_;
}

std::size_t FakeHttpTransport::requestCount() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return requests_.size();
}

std::vector<std::string> FakeHttpTransport::requestedUrls() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::string> urls;
  urls.reserve(requests_.size());
  for (const auto& r : requests_) urls.push_back(r.url);
  return urls;
}

}  // namespace skr::testing
