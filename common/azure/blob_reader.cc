#include "common/azure/blob_reader.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <ctime>

#include "common/encoding/printable.h"
#include "common/http/url.h"
#include "common/log/logger.h"

namespace skr::azure {
namespace {

using std::chrono::milliseconds;

constexpr std::size_t kMaxErrorBodyBytes = std::size_t{64} * 1024;
constexpr std::size_t kMaxErrorCodeChars = 64;

std::string_view queryOf(std::string_view url) {
  const std::size_t q = url.find('?');
  if (q == std::string_view::npos) return {};
  std::string_view query = url.substr(q + 1);
  const std::size_t hash = query.find('#');
  return hash == std::string_view::npos ? query : query.substr(0, hash);
}

// The value of the query's sig= parameter ("" when none).
std::string_view sasSignature(std::string_view url) {
  std::string_view query = queryOf(url);
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view param = query.substr(0, amp);
    if (param.size() > 4 && param.substr(0, 4) == "sig=") return param.substr(4);
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

// Percent-decoding (a SAS signature is base64, sent with %2B, %2F, %3D).
std::string percentDecoded(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto hex = [](char c) {
      return c >= '0' && c <= '9'   ? c - '0'
             : c >= 'a' && c <= 'f' ? c - 'a' + 10
             : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                    : -1;
    };
    if (text[i] == '%' && i + 2 < text.size() && hex(text[i + 1]) >= 0 && hex(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2])));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

void replaceAll(std::string& text, std::string_view what, std::string_view with) {
  if (what.empty()) return;
  for (std::size_t at = text.find(what); at != std::string::npos;
       at = text.find(what, at + with.size())) {
    text.replace(at, what.size(), with);
  }
}

bool hasSasSignature(std::string_view url) {
  return !sasSignature(url).empty();
}

// RFC 1123 date for x-ms-date ("Mon, 07 Dec 2026 09:16:26 GMT").
std::string httpDate(std::chrono::system_clock::time_point when) {
  const std::time_t t = std::chrono::system_clock::to_time_t(when);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  const std::size_t n = std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return std::string(buf, n);
}

bool isErrorCode(std::string_view s) {
  return !s.empty() && s.size() <= kMaxErrorCodeChars &&
         std::all_of(s.begin(), s.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; });
}

// Storage's error code: the x-ms-error-code header, else <Code> of the XML error body. Only a
// bounded alphanumeric code is kept (storage's <Message> is not shown: it may quote the request).
std::string storageErrorCode(const http::HttpResponse& response) {
  std::string header = response.header("x-ms-error-code");
  if (isErrorCode(header)) return header;
  const std::string_view body =
      std::string_view(response.body).substr(0, std::min(response.body.size(), kMaxErrorBodyBytes));
  const std::size_t open = body.find("<Code>");
  if (open == std::string_view::npos) return "";
  const std::size_t start = open + 6;
  const std::size_t close = body.find("</Code>", start);
  if (close == std::string_view::npos) return "";
  const std::string_view code = body.substr(start, close - start);
  return isErrorCode(code) ? std::string(code) : "";
}

// Storage rejected the credential itself (not a missing role): 401 (Azure), or 403
// AuthenticationFailed (Azurite answers an expired or wrong-audience token so).
bool tokenRejected(const http::HttpResponse& response) {
  return response.status == 401 ||
         (response.status == 403 && storageErrorCode(response) == "AuthenticationFailed");
}

// "bytes <first>-<last>/<total>" -> the three numbers.
struct ContentRange {
  uint64_t first = 0;
  uint64_t last = 0;
  uint64_t total = 0;
};

bool parseNumber(std::string_view s, uint64_t& out) {
  if (s.empty() || s.size() > 20) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

std::optional<ContentRange> parseContentRange(std::string_view value) {
  if (value.substr(0, 6) != "bytes ") return std::nullopt;
  value.remove_prefix(6);
  const std::size_t dash = value.find('-');
  const std::size_t slash = value.find('/');
  if (dash == std::string_view::npos || slash == std::string_view::npos || slash < dash) {
    return std::nullopt;
  }
  ContentRange out;
  if (!parseNumber(value.substr(0, dash), out.first) ||
      !parseNumber(value.substr(dash + 1, slash - dash - 1), out.last) ||
      !parseNumber(value.substr(slash + 1), out.total) || out.last < out.first) {
    return std::nullopt;
  }
  return out;
}

}  // namespace

std::string_view blobAuthName(BlobAuth auth) {
  switch (auth) {
    case BlobAuth::Entra: return "entra";
    case BlobAuth::Sas: return "sas";
    case BlobAuth::Anonymous: return "anonymous";
  }
  return "unknown";
}

StatusOr<BlobAuth> parseBlobAuth(std::string_view name) {
  if (name == "entra") return BlobAuth::Entra;
  if (name == "sas") return BlobAuth::Sas;
  if (name == "anonymous") return BlobAuth::Anonymous;
  return invalidArgumentError("blob auth " + encoding::quoted(name, 32) +
                              " is not one of entra, sas, anonymous");
}

BlobAuth defaultBlobAuth(std::string_view url) {
  return hasSasSignature(url) ? BlobAuth::Sas : BlobAuth::Entra;
}

http::RetryPolicy BlobReaderOptions::defaultRetryPolicy() {
  http::RetryPolicy policy;
  policy.dependency = "Blob Storage";
  return policy;
}

std::string blobUrlForMessages(std::string_view url) {
  const std::size_t cut = url.find_first_of("?#");
  return encoding::printable(url.substr(0, cut), 512);
}

Status checkBlobUrl(std::string_view url) {
  const std::string shown = blobUrlForMessages(url);
  auto bad = [&shown](std::string_view why) {
    return invalidArgumentError("blob URL '" + shown + "' " + std::string(why));
  };
  if (url.size() > kMaxBlobUrlBytes) {
    return bad("is longer than " + std::to_string(kMaxBlobUrlBytes) + " bytes");
  }
  if (!std::all_of(url.begin(), url.end(), [](char c) { return c > 0x20 && c < 0x7f; })) {
    return bad("has spaces or characters outside printable ASCII");
  }
  if (url.substr(0, 8) != "https://") return bad("is not https://");
  if (url.find('#') != std::string_view::npos) return bad("has a fragment");
  const std::string_view authority = http::urlAuthority(url);
  if (authority.empty() || http::authorityHost(authority).empty()) return bad("has no host");
  if (authority.find('@') != std::string_view::npos) {
    return bad("carries user info; use a SAS or a token");
  }
  std::string_view path = url.substr(8 + authority.size());
  path = path.substr(0, path.find('?'));
  // "/container/blob": at least two non-empty segments, no "." or ".." segment.
  int segments = 0;
  if (path.empty() || path.front() != '/') return bad("has no /container/blob path");
  std::string_view rest = path.substr(1);
  while (true) {
    const std::size_t slash = rest.find('/');
    const std::string_view segment = rest.substr(0, slash);
    if (segment.empty() || segment == "." || segment == "..") {
      return bad("has an empty, '.' or '..' path segment");
    }
    ++segments;
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  if (segments < 2) return bad("has no /container/blob path");
  return okStatus();
}

StatusOr<std::unique_ptr<BlobReader>> BlobReader::create(
    std::shared_ptr<http::HttpTransport> transport, TokenProvider* tokens, Clock& clock,
    http::JitterSource& jitter, BlobReaderOptions options) {
  if (!transport) return invalidArgumentError("blob reader: no HTTP transport");
  SKR_RETURN_IF_ERROR(checkBlobUrl(options.url));
  const std::string shown = blobUrlForMessages(options.url);
  if (options.auth == BlobAuth::Entra && tokens == nullptr) {
    return invalidArgumentError("blob " + shown + ": Entra authorization needs a token provider");
  }
  if (options.auth == BlobAuth::Sas && !hasSasSignature(options.url)) {
    return invalidArgumentError("blob " + shown + ": SAS authorization needs a URL whose query " +
                                "carries a SAS (sig=...)");
  }
  if (options.auth != BlobAuth::Sas && hasSasSignature(options.url)) {
    return invalidArgumentError("blob " + shown + ": the URL carries a SAS but auth is " +
                                std::string(blobAuthName(options.auth)));
  }
  if (options.api_version.empty() || options.api_version.size() > 16) {
    return invalidArgumentError("blob " + shown + ": bad x-ms-version");
  }
  if (options.retry.max_attempts < 1) {
    return invalidArgumentError("blob " + shown + ": the retry budget must be >= 1 attempt");
  }
  return std::unique_ptr<BlobReader>(
      new BlobReader(std::move(transport), tokens, clock, jitter, std::move(options)));
}

BlobReader::BlobReader(std::shared_ptr<http::HttpTransport> transport, TokenProvider* tokens,
                       Clock& clock, http::JitterSource& jitter, BlobReaderOptions options)
    : transport_(std::move(transport)),
      tokens_(tokens),
      clock_(clock),
      jitter_(jitter),
      options_(std::move(options)),
      shown_url_(blobUrlForMessages(options_.url)),
      host_(http::urlAuthority(options_.url)) {}

std::string BlobReader::describe() const {
  return "blob " + shown_url_;
}

// A safety net: no message built from a lower layer's text may carry the query.
std::string BlobReader::redact(std::string text) const {
  const std::string_view query = queryOf(options_.url);
  if (query.empty()) return text;
  replaceAll(text, query, "<query>");
  // The signature alone too, as sent and decoded: a peer may echo it in any header or body that
  // a message quotes (found by the blob_response fuzz target).
  const std::string_view signature = sasSignature(options_.url);
  if (signature.size() >= 8) {
    replaceAll(text, signature, "<sig>");
    const std::string decoded = percentDecoded(signature);
    if (decoded.size() >= 8) replaceAll(text, decoded, "<sig>");
  }
  return text;
}

Status BlobReader::scrubbed(const Status& status) const {
  if (status.ok()) return status;
  std::string message = redact(status.message());
  if (message == status.message()) return status;
  return Status(status.code(), std::move(message)).withDetails(status.details());
}

StatusOr<uint64_t> BlobReader::size() {
  StatusOr<uint64_t> got = sizeUnscrubbed();
  if (!got.ok()) return scrubbed(got.status());
  return got;
}

StatusOr<Bytes> BlobReader::read(uint64_t offset, std::size_t length) {
  StatusOr<Bytes> got = readUnscrubbed(offset, length);
  if (!got.ok()) return scrubbed(got.status());
  return got;
}

StatusOr<http::HttpResponse> BlobReader::send(http::HttpRequest request, std::string_view what) {
  request.url = options_.url;
  request.timeout = options_.attempt_timeout;
  std::vector<http::Header> base = {{"x-ms-version", options_.api_version}};
  for (http::Header& h : request.headers) base.push_back(std::move(h));
  const std::string context = describe() + ": " + std::string(what);

  http::RetryPolicy policy = options_.retry;
  const auto overall_end = clock_.steadyNow() + policy.overall_deadline;
  int attempts = 0;
  bool retried_unauthorized = false;
  StatusOr<http::RetriedResponse> sent = internalError("not sent");
  while (true) {
    request.headers = base;
    request.headers.push_back({"x-ms-date", httpDate(clock_.now())});
    if (options_.auth == BlobAuth::Entra) {
      StatusOr<AccessToken> token = tokens_->token(options_.resource);
      if (!token.ok()) {
        return token.status()
            .withContext(context + ": no access token for " + options_.resource + " from " +
                         tokens_->describe())
            .withDetails(
                ErrorDetails{Dependency::Identity, ErrorCause::Identity, host_, 0, "", attempts});
      }
      std::string value = "Bearer ";
      value.append(toString(token->token.view(grantSecretAccess())));
      request.headers.push_back({"Authorization", std::move(value)});
    }
    sent = http::sendWithRetry(*transport_, request, policy, clock_, jitter_);
    for (http::Header& header : request.headers) http::wipeString(header.value);
    if (sent.ok()) {
      attempts += sent->attempts;
      requests_sent_ += sent->attempts;
    }
    if (!sent.ok() || options_.auth != BlobAuth::Entra || retried_unauthorized ||
        !tokenRejected(sent->response)) {
      break;
    }
    // The bearer token was rejected: revoked, expired early or the wrong audience. Once.
    retried_unauthorized = true;
    tokens_->invalidate();
    const auto left = std::chrono::duration_cast<milliseconds>(overall_end - clock_.steadyNow());
    if (left.count() <= 0) break;
    policy.overall_deadline = left;
    log::warning("blob.read.unauthorized_retry", {{"blob", shown_url_}});
  }
  if (!sent.ok()) {
    const Status& s = sent.status();
    // This round's attempts are in the details of its transport failure.
    requests_sent_ += s.details().attempts;
    ErrorDetails details = s.details();
    details.attempts += attempts;
    details.cause = ErrorCause::Transport;
    details.host = host_;
    if (s.code() == StatusCode::ResourceExhausted) {
      details.cause = ErrorCause::Integrity;
      return dataLossError(context + ": storage answered more bytes than asked (" +
                           redact(s.message()) + ")")
          .withDetails(details);
    }
    return unavailableError(context + ": " + redact(s.message())).withDetails(details);
  }
  last_attempts_ = attempts;
  http::HttpResponse response = std::move(sent->response);
  if (sent->stop != http::RetryStop::Final) {
    return answerError(response, what, attempts, sent->gave_up, true);
  }
  return response;
}

Status BlobReader::answerError(const http::HttpResponse& response, std::string_view what,
                               int attempts, const std::string& gave_up,
                               bool retries_exhausted) const {
  const int status = response.status;
  const std::string code = storageErrorCode(response);
  const std::string http_part = "HTTP " + std::to_string(status) + (code.empty() ? "" : " " + code);
  const std::string context = describe() + ": " + std::string(what);
  ErrorDetails details{Dependency::None, ErrorCause::Unspecified, host_, status, code, attempts};
  if (retries_exhausted) {
    details.cause = ErrorCause::Transport;
    return unavailableError(context + ": Blob Storage " + http_part + " (" + gave_up + ")")
        .withDetails(details);
  }
  switch (status) {
    case 401:
    case 403:
      return permissionDeniedError(
                 context + ": storage refused access (" + http_part + ")" +
                 (options_.auth == BlobAuth::Entra
                      ? "; the identity (" + tokens_->describe() +
                            ") needs the Storage Blob Data Reader role on the container"
                  : options_.auth == BlobAuth::Sas
                      ? "; the SAS is invalid, expired or lacks read permission"
                      : "; the container does not allow anonymous reads"))
          .withDetails(details);
    case 404:
      return notFoundError(context + ": not found (" + http_part + ")").withDetails(details);
    case 412:
      return failedPreconditionError(context + ": the blob changed while it was read (" +
                                     http_part + ", ETag " + encoding::printable(etag_, 80) +
                                     " no longer matches)")
          .withDetails(details);
    default:
      if (status >= 500 || status == 408 || status == 429) {
        details.cause = ErrorCause::Transport;
        return unavailableError(context + ": Blob Storage " + http_part).withDetails(details);
      }
      return failedPreconditionError(context + ": unexpected " + http_part).withDetails(details);
  }
}

StatusOr<uint64_t> BlobReader::sizeUnscrubbed() {
  if (size_) return *size_;
  http::HttpRequest request;
  request.method = "HEAD";
  request.max_response_bytes = kMaxErrorBodyBytes;
  SKR_ASSIGN_OR_RETURN(http::HttpResponse response, send(std::move(request), "get properties"));
  if (response.status != 200) {
    return answerError(response, "get properties", last_attempts_, "", false);
  }
  const ErrorDetails integrity{
      Dependency::None, ErrorCause::Integrity, host_, response.status, "", 0};
  uint64_t length = 0;
  if (!parseNumber(response.header("Content-Length"), length)) {
    return dataLossError(describe() + ": get properties: no valid Content-Length")
        .withDetails(integrity);
  }
  const std::string etag = response.header("ETag");
  if (etag.empty() || etag.size() > 256 ||
      !std::all_of(etag.begin(), etag.end(), [](char c) { return c > 0x20 && c < 0x7f; })) {
    return dataLossError(describe() + ": get properties: no valid ETag").withDetails(integrity);
  }
  etag_ = etag;
  size_ = length;
  return length;
}

StatusOr<Bytes> BlobReader::readUnscrubbed(uint64_t offset, std::size_t length) {
  if (length > kMaxBlobReadBytes) {
    return invalidArgumentError(describe() + ": a read of " + std::to_string(length) +
                                " bytes is larger than " + std::to_string(kMaxBlobReadBytes));
  }
  SKR_ASSIGN_OR_RETURN(const uint64_t total, size());
  if (offset > total || length > total - offset) {
    return invalidArgumentError(describe() + ": " + std::to_string(length) + " bytes at offset " +
                                std::to_string(offset) + " are past its end (" +
                                std::to_string(total) + " bytes)");
  }
  if (length == 0) return Bytes{};
  const uint64_t last = offset + length - 1;
  const std::string range = std::to_string(offset) + "-" + std::to_string(last);
  const std::string what = "read bytes " + range;
  http::HttpRequest request;
  request.method = "GET";
  request.headers = {{"x-ms-range", "bytes=" + range}, {"If-Match", etag_}};
  request.max_response_bytes = std::max(length, kMaxErrorBodyBytes);
  SKR_ASSIGN_OR_RETURN(http::HttpResponse response, send(std::move(request), what));
  if (response.status != 206) {
    if (response.status == 200) {
      return dataLossError(describe() + ": " + what +
                           ": storage answered 200 (the whole blob), not 206 Partial Content")
          .withDetails(ErrorDetails{Dependency::None, ErrorCause::Integrity, host_, 200, "", 0});
    }
    return answerError(response, what, last_attempts_, "", false);
  }
  const ErrorDetails integrity{Dependency::None, ErrorCause::Integrity, host_, 206, "",
                               last_attempts_};
  const std::string content_range = response.header("Content-Range");
  const std::optional<ContentRange> got = parseContentRange(content_range);
  if (!got || got->first != offset || got->last != last) {
    return dataLossError(describe() + ": " + what + ": storage answered Content-Range " +
                         encoding::quoted(content_range, 80))
        .withDetails(integrity);
  }
  const std::string etag = response.header("ETag");
  if (got->total != total || (!etag.empty() && etag != etag_)) {
    return failedPreconditionError(
               describe() + ": " + what + ": the blob changed while it was read (size " +
               std::to_string(got->total) + ", was " + std::to_string(total) + "; ETag " +
               encoding::printable(etag, 80) + ", was " + encoding::printable(etag_, 80) + ")")
        .withDetails(integrity);
  }
  if (response.body.size() != length) {
    return dataLossError(describe() + ": " + what + ": storage answered " +
                         std::to_string(response.body.size()) + " bytes, not " +
                         std::to_string(length))
        .withDetails(integrity);
  }
  return Bytes(response.body.begin(), response.body.end());
}

}  // namespace skr::azure
