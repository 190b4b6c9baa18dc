// An Azure blob read by ranges through the Blob service REST API (docs/encrypted-data.md
// "Fetching", issue 18): the data::ObjectSource the envelope reader opens encrypted objects from.
//
//   size()  Get Blob Properties (HEAD {url}) once: Content-Length and the ETag. A HEAD costs one
//           small round trip, works for an empty blob (a ranged GET of an empty blob is 416) and
//           pins the ETag before any content is read.
//   read()  Get Blob (GET {url}) with "x-ms-range: bytes=a-b" and "If-Match: <ETag>": the answer
//           must be 206 with "Content-Range: bytes a-b/<size>" and exactly b-a+1 bytes. A blob
//           overwritten between reads answers 412, reported as FailedPrecondition.
//
// Authorization: an Entra ID bearer token for resource https://storage.azure.com/ from a
// TokenProvider (a 401, or a 403 AuthenticationFailed as Azurite answers, drops the cached token
// and retries once; a 403 AuthorizationPermissionMismatch, a missing role, does not), a SAS (the
// URL's query, sent as it is) or none (a public container). Every request carries x-ms-version and
// x-ms-date. Retries follow the shared policy (http::sendWithRetry, dependency "Blob Storage").
//
// Secrets: the URL's query (a SAS signature) and the bearer token never appear in describe(),
// messages or logs; the URL is shown as scheme://host/path.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/azure/identity.h"
#include "common/core/bytes.h"
#include "common/core/clock.h"
#include "common/core/status.h"
#include "common/data/object_source.h"
#include "common/http/http_transport.h"
#include "common/http/retry.h"

namespace skr::azure {

inline constexpr const char* kStorageResource = "https://storage.azure.com/";
inline constexpr const char* kBlobApiVersion = "2023-11-03";
// The most one read() asks for: a chunk of the largest chunk size plus its tag, with room to
// spare (data::kMaxChunkSize + 64 KiB).
inline constexpr std::size_t kMaxBlobReadBytes = 16 * 1024 * 1024 + 64 * 1024;
inline constexpr std::size_t kMaxBlobUrlBytes = 4096;

enum class BlobAuth : uint8_t {
  Entra,      // Authorization: Bearer <token for kStorageResource>
  Sas,        // the URL's query is a SAS (must carry sig=)
  Anonymous,  // a public container: no credential
};

std::string_view blobAuthName(BlobAuth auth);  // "entra", "sas", "anonymous"
// "entra", "sas" or "anonymous"; InvalidArgument otherwise.
StatusOr<BlobAuth> parseBlobAuth(std::string_view name);
// The default when a caller does not say: Sas when the URL's query has a sig= parameter, else
// Entra.
BlobAuth defaultBlobAuth(std::string_view url);

struct BlobReaderOptions {
  // https://{account}.blob.core.windows.net/{container}/{blob}[?SAS] or the path-style
  // https://host:port/{account}/{container}/{blob}[?SAS] (Azurite).
  std::string url;
  BlobAuth auth = BlobAuth::Entra;
  std::string resource = kStorageResource;  // the token audience (Entra)
  std::string api_version = kBlobApiVersion;
  std::chrono::milliseconds attempt_timeout{60'000};
  http::RetryPolicy retry = defaultRetryPolicy();  // dependency "Blob Storage"

  static http::RetryPolicy defaultRetryPolicy();
};

// The URL without its query and fragment, for messages: a SAS signature is a secret.
std::string blobUrlForMessages(std::string_view url);

// Checks a blob URL: https, a host, a path of at least two non-empty segments (container and
// blob; path-style URLs have three), no user info, no fragment, only printable ASCII without
// spaces, at most kMaxBlobUrlBytes. The message shows the URL without its query.
Status checkBlobUrl(std::string_view url);

class BlobReader final : public data::ObjectSource {
 public:
  // `tokens` is needed (non-null) only for BlobAuth::Entra; `tokens`, `clock` and `jitter` must
  // outlive the reader. InvalidArgument for a bad URL or options (Sas without sig=).
  static StatusOr<std::unique_ptr<BlobReader>> create(
      std::shared_ptr<http::HttpTransport> transport, TokenProvider* tokens, Clock& clock,
      http::JitterSource& jitter, BlobReaderOptions options);

  // Learns the size and ETag on the first call (one HEAD); later calls answer from memory.
  StatusOr<uint64_t> size() override;
  // Errors (messages name the blob without its query, never a token):
  //   InvalidArgument    offset/length past the end, or length > kMaxBlobReadBytes
  //   NotFound           404 (storage's code, e.g. BlobNotFound, ContainerNotFound)
  //   PermissionDenied   401/403 with storage's code (AuthenticationFailed,
  //                      AuthorizationPermissionMismatch, NoAuthenticationInformation...)
  //   FailedPrecondition 412: the blob changed while it was read (ETag); other unexpected 4xx
  //   DataLoss           not 206, a Content-Range or length other than asked, a changed ETag
  //   Unavailable        retries exhausted (transport failures, 408/429/5xx to the end)
  StatusOr<Bytes> read(uint64_t offset, std::size_t length) override;
  std::string describe() const override;

  // What size() learned (empty before).
  const std::string& etag() const { return etag_; }
  // Requests sent so far, retries included.
  int requestsSent() const { return requests_sent_; }

 private:
  BlobReader(std::shared_ptr<http::HttpTransport> transport, TokenProvider* tokens, Clock& clock,
             http::JitterSource& jitter, BlobReaderOptions options);
  // Sends (with retries and the one 401 retry of Entra), maps transport and retry failures.
  StatusOr<http::HttpResponse> send(http::HttpRequest request, std::string_view what);
  // The Status of a final non-success answer.
  Status answerError(const http::HttpResponse& response, std::string_view what, int attempts,
                     const std::string& gave_up, bool retries_exhausted) const;
  std::string redact(std::string text) const;
  // `status` with redact() applied to its message (code and details kept): every error the
  // public methods return passes through it, whatever value of the peer a message quotes.
  Status scrubbed(const Status& status) const;
  StatusOr<uint64_t> sizeUnscrubbed();
  StatusOr<Bytes> readUnscrubbed(uint64_t offset, std::size_t length);

  std::shared_ptr<http::HttpTransport> transport_;
  TokenProvider* tokens_;
  Clock& clock_;
  http::JitterSource& jitter_;
  BlobReaderOptions options_;
  std::string shown_url_;  // options_.url without its query
  std::string host_;
  std::optional<uint64_t> size_;
  std::string etag_;
  int requests_sent_ = 0;
  int last_attempts_ = 0;  // requests the last send() made
};

}  // namespace skr::azure
