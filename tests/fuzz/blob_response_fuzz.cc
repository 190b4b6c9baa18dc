// Fuzz target: Blob Storage's answers as azure::BlobReader reads them (Get Blob Properties, then
// ranged Get Blob): status, headers (Content-Length, Content-Range, ETag, x-ms-error-code,
// Retry-After) and bodies (error XML, range bytes) — all bytes a network peer controls.
// Input: answers separated by "\n--\n"; each is "STATUS\n", header lines "Name: value\n", an
// empty line, then the body. The reader gets them in order (then a transport failure).
// Properties: nothing crashes or hangs (a clock that never sleeps); a successful read returns
// exactly the bytes asked for; no message ever contains the SAS signature.
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <string>
#include <string_view>

#include "common/azure/blob_reader.h"

namespace {

constexpr std::string_view kSecret = "FUZZSECRETSIG";

class ScriptedTransport : public skr::http::HttpTransport {
 public:
  explicit ScriptedTransport(std::string_view input) {
    while (!input.empty() && answers_.size() < 16) {
      const std::size_t end = input.find("\n--\n");
      answers_.push_back(parse(input.substr(0, end)));
      if (end == std::string_view::npos) break;
      input.remove_prefix(end + 4);
    }
  }
  skr::StatusOr<skr::http::HttpResponse> send(const skr::http::HttpRequest&) override {
    if (answers_.empty()) return skr::unavailableError("no more answers");
    skr::http::HttpResponse r = std::move(answers_.front());
    answers_.pop_front();
    return r;
  }

 private:
  static skr::http::HttpResponse parse(std::string_view text) {
    skr::http::HttpResponse r;
    std::size_t line_end = text.find('\n');
    const std::string_view status = text.substr(0, line_end);
    int value = 0;
    for (char c : status.substr(0, 3))
      value = c >= '0' && c <= '9' ? value * 10 + (c - '0') : value;
    r.status = value;
    text = line_end == std::string_view::npos ? std::string_view() : text.substr(line_end + 1);
    while (!text.empty()) {
      line_end = text.find('\n');
      const std::string_view line = text.substr(0, line_end);
      text = line_end == std::string_view::npos ? std::string_view() : text.substr(line_end + 1);
      if (line.empty()) break;
      const std::size_t colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      std::string_view v = line.substr(colon + 1);
      while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
      r.headers.push_back({std::string(line.substr(0, colon)), std::string(v)});
    }
    r.body = std::string(text);
    return r;
  }
  std::deque<skr::http::HttpResponse> answers_;
};

class InstantClock : public skr::Clock {
 public:
  std::chrono::system_clock::time_point now() const override {
    return std::chrono::system_clock::time_point(std::chrono::seconds(1767225600)) + slept_;
  }
  std::chrono::steady_clock::time_point steadyNow() const override {
    return std::chrono::steady_clock::time_point() + slept_;
  }
  void sleepFor(std::chrono::milliseconds d) override { slept_ += d; }

 private:
  std::chrono::milliseconds slept_{0};
};

class FixedJitter : public skr::http::JitterSource {
 public:
  double next() override { return 0.5; }
};

void checkNoSecret(const skr::Status& status) {
  if (status.message().find(kSecret) != std::string::npos) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data), size);  // NOLINT
  auto transport = std::make_shared<ScriptedTransport>(input);
  InstantClock clock;
  FixedJitter jitter;
  skr::azure::BlobReaderOptions options;
  options.url = "https://acct.blob.core.windows.net/c/b.skr?sv=2023-11-03&sr=b&sp=r&sig=" +
                std::string(kSecret);
  options.auth = skr::azure::BlobAuth::Sas;
  options.retry.max_attempts = 3;
  auto reader = skr::azure::BlobReader::create(transport, nullptr, clock, jitter, options);
  if (!reader.ok()) std::abort();  // the URL and options are valid
  if ((*reader)->describe().find(kSecret) != std::string::npos) std::abort();
  skr::StatusOr<uint64_t> blob_size = (*reader)->size();
  if (!blob_size.ok()) {
    checkNoSecret(blob_size.status());
    return 0;
  }
  // Two reads: the start and a range near the end (bounded).
  for (uint64_t offset : {uint64_t{0}, *blob_size > 100 ? *blob_size - 100 : uint64_t{0}}) {
    const std::size_t length =
        static_cast<std::size_t>(std::min<uint64_t>(*blob_size - offset, 4096));
    skr::StatusOr<skr::Bytes> got = (*reader)->read(offset, length);
    if (got.ok() && got->size() != length) std::abort();
    if (!got.ok()) checkNoSecret(got.status());
  }
  return 0;
}
