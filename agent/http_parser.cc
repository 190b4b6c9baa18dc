#include "agent/http_parser.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "common/encoding/json_string.h"

namespace skr::agent {
namespace {

// Stray CRLFs before a request line are ignored (RFC 9112 §2.2), up to this many bytes.
constexpr std::size_t kMaxLeadingEmptyBytes = 16;
// 19 decimal digits always fit in 64 bits.
constexpr std::size_t kMaxContentLengthDigits = 19;

bool isTchar(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != '\0';
}

bool isToken(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), isTchar);
}

// field-value characters (RFC 9110 §5.5): HTAB, SP, VCHAR, obs-text.
bool isFieldValueChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u == '\t' || u == ' ' || (u >= 0x21 && u != 0x7f);
}

// Visible ASCII without '#': what an origin-form target may contain before decoding.
bool isTargetChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u >= 0x21 && u <= 0x7e && u != '#';
}

bool isControl(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view trimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::vector<std::string_view> split(std::string_view s, char separator) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = s.find(separator, start);
    parts.push_back(s.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return parts;
}

bool hasControl(std::string_view s) {
  return std::any_of(s.begin(), s.end(), isControl);
}

}  // namespace

StatusOr<std::string> percentDecode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) {
        return invalidArgumentError("truncated percent escape at offset " + std::to_string(i));
      }
      const int high = hexValue(text[i + 1]);
      const int low = hexValue(text[i + 2]);
      if (high < 0 || low < 0) {
        return invalidArgumentError("invalid percent escape at offset " + std::to_string(i));
      }
      const int value = high * 16 + low;
      if (value == 0) return invalidArgumentError("%00 is not allowed in a request target");
      out.push_back(static_cast<char>(value));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

HttpRequestParser::HttpRequestParser(HttpParserLimits limits) : limits_(limits) {}

void HttpRequestParser::reset() {
  state_ = State::Incomplete;
  phase_ = Phase::Head;
  started_ = false;
  skipped_empty_bytes_ = 0;
  head_.clear();
  request_line_end_.reset();
  request_ = HttpRequest();
  content_length_ = 0;
  body_received_ = 0;
  expect_continue_ = false;
  admitted_ = true;
  error_ = HttpParseError();
}

bool HttpRequestParser::awaitingBodyWithContinue() const {
  return state_ == State::Incomplete && phase_ == Phase::Body && expect_continue_ && admitted_ &&
         body_received_ == 0;
}

HttpRequest HttpRequestParser::takeRequest() {
  HttpRequest request = std::move(request_);
  const bool keep_alive = keep_alive_;
  reset();
  keep_alive_ = keep_alive;
  return request;
}

void HttpRequestParser::fail(int status, std::string code, std::string message) {
  state_ = State::Failed;
  phase_ = Phase::Done;
  keep_alive_ = false;
  error_ = HttpParseError{status, std::move(code), std::move(message)};
}

std::size_t HttpRequestParser::feed(std::string_view input) {
  std::size_t used = 0;
  while (state_ == State::Incomplete && used < input.size()) {
    if (awaitingAdmission()) break;  // no body byte before the caller is decided on
    const std::size_t step =
        phase_ == Phase::Head ? feedHead(input.substr(used)) : feedBody(input.substr(used));
    used += step;
    if (step == 0 && state_ == State::Incomplete && phase_ == Phase::Head) break;
  }
  // A request without a body completes with its head; one with an empty remainder too.
  if (state_ == State::Incomplete && phase_ == Phase::Body && body_received_ == content_length_) {
    state_ = State::Complete;
    phase_ = Phase::Done;
  }
  return used;
}

std::size_t HttpRequestParser::feedHead(std::string_view input) {
  std::size_t used = 0;
  // Leading empty lines.
  while (head_.empty() && used < input.size() && (input[used] == '\r' || input[used] == '\n')) {
    started_ = true;
    ++used;
    if (++skipped_empty_bytes_ > kMaxLeadingEmptyBytes) {
      fail(400, "BadRequest", "too many empty lines before the request line");
      return used;
    }
  }
  if (used == input.size()) return used;
  started_ = true;

  // Append no more than the limits allow, then look for the end of the head.
  // One byte over the limits so an overflow is always detected below.
  const std::size_t head_limit =
      limits_.max_request_line_bytes + 2 + limits_.max_header_bytes + 2 + 1;
  const std::size_t room = head_limit - head_.size();
  const std::size_t take = std::min(room, input.size() - used);
  const std::size_t scan_from = head_.size() >= 3 ? head_.size() - 3 : 0;
  head_.append(input.substr(used, take));

  if (!request_line_end_) {
    const std::size_t lf = head_.find('\n');
    const std::size_t line_length = lf == std::string::npos ? head_.size() : lf;
    // +1 for the CR that ends the line. Checked first so any split of the input fails alike.
    if (line_length > limits_.max_request_line_bytes + 1) {
      fail(414, "UriTooLong",
           "request line exceeds " + std::to_string(limits_.max_request_line_bytes) + " bytes");
      return used + take;
    }
    if (lf != std::string::npos) {
      if (lf == 0 || head_[lf - 1] != '\r') {
        fail(400, "BadRequest", "a line of the request head does not end in CRLF");
        return used + take;
      }
      request_line_end_ = lf;
    }
    if (lf == std::string::npos) return used + take;
  }

  const std::size_t end = head_.find("\r\n\r\n", std::max(scan_from, *request_line_end_ - 1));
  // The request line alone followed by a blank line: "GET / HTTP/1.1\r\n\r\n".
  if (end == std::string::npos) {
    const std::size_t header_bytes = head_.size() - (*request_line_end_ + 1);
    if (header_bytes > limits_.max_header_bytes + 2) {
      fail(431, "HeaderTooLarge",
           "header block exceeds " + std::to_string(limits_.max_header_bytes) + " bytes");
    }
    return used + take;
  }
  const std::size_t head_end = end + 4;
  const std::size_t header_bytes = head_end - (*request_line_end_ + 1);
  if (header_bytes > limits_.max_header_bytes + 2) {
    fail(431, "HeaderTooLarge",
         "header block exceeds " + std::to_string(limits_.max_header_bytes) + " bytes");
    return used + take;
  }
  // Give back what belongs to the body or the next request.
  const std::size_t extra = head_.size() - head_end;
  head_.resize(head_end);
  parseHead();
  return used + take - extra;
}

void HttpRequestParser::parseHead() {
  // head_ ends with "\r\n\r\n"; every line must end in CRLF with no other CR or LF.
  std::string_view head(head_);
  head.remove_suffix(2);  // the blank line's CRLF
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  while (start < head.size()) {
    const std::size_t lf = head.find('\n', start);
    if (lf == std::string_view::npos || lf == start || head[lf - 1] != '\r') {
      fail(400, "BadRequest", "a line of the request head does not end in CRLF");
      return;
    }
    std::string_view line = head.substr(start, lf - 1 - start);
    if (line.find('\r') != std::string_view::npos) {
      fail(400, "BadRequest", "bare CR in the request head");
      return;
    }
    lines.push_back(line);
    start = lf + 1;
  }
  if (lines.empty()) {
    fail(400, "BadRequest", "empty request line");
    return;
  }

  // Request line: method SP request-target SP HTTP-version.
  const std::vector<std::string_view> parts = split(lines[0], ' ');
  if (parts.size() != 3) {
    fail(400, "BadRequest", "request line is not 'METHOD target HTTP/1.x'");
    return;
  }
  const std::string_view method = parts[0];
  const std::string_view target = parts[1];
  const std::string_view version = parts[2];
  if (!isToken(method)) {
    fail(400, "BadRequest", "invalid method");
    return;
  }
  bool http10 = false;
  if (version == "HTTP/1.0") {
    http10 = true;
  } else if (version != "HTTP/1.1") {
    if (version.size() == 8 && version.substr(0, 5) == "HTTP/" && version[6] == '.' &&
        hexValue(version[5]) >= 0 && hexValue(version[5]) < 10 && hexValue(version[7]) >= 0 &&
        hexValue(version[7]) < 10) {
      fail(505, "HttpVersionNotSupported", "only HTTP/1.1 and HTTP/1.0 are supported");
    } else {
      fail(400, "BadRequest", "invalid HTTP version");
    }
    return;
  }
  if (target.empty() || target[0] != '/' ||
      !std::all_of(target.begin(), target.end(), isTargetChar)) {
    fail(400, "BadRequest", "request target must be an absolute path ('/...') of visible ASCII");
    return;
  }

  // Path: decoded per segment so "%2F" cannot forge a separator, and "." / ".." segments are
  // refused rather than normalized.
  const std::size_t question = target.find('?');
  const std::string_view raw_path = target.substr(0, question);
  std::string path;
  const std::vector<std::string_view> segments = split(raw_path.substr(1), '/');
  for (const std::string_view segment : segments) {
    auto decoded = percentDecode(segment, false);
    if (!decoded.ok()) {
      fail(400, "BadRequest", "path: " + decoded.status().message());
      return;
    }
    if (decoded->find('/') != std::string::npos) {
      fail(400, "BadRequest", "path: an encoded '/' (%2F) is not accepted");
      return;
    }
    if (*decoded == "." || *decoded == "..") {
      fail(400, "BadRequest", "path: '.' and '..' segments are not accepted");
      return;
    }
    if (hasControl(*decoded)) {
      fail(400, "BadRequest", "path: control characters are not accepted");
      return;
    }
    // Key names and versions are text: raw bytes such as "%ff" never name anything, and they
    // must not reach messages and audit lines.
    if (!json::isReadableUtf8(*decoded)) {
      fail(400, "BadRequest", "path: a segment is not valid UTF-8 text");
      return;
    }
    path += '/';
    path += *decoded;
  }
  request_.method = std::string(method);
  request_.path = std::move(path);
  if (question != std::string_view::npos) {
    for (const std::string_view pair : split(target.substr(question + 1), '&')) {
      if (pair.empty()) continue;
      const std::size_t equals = pair.find('=');
      auto name = percentDecode(pair.substr(0, equals), true);
      auto value = percentDecode(
          equals == std::string_view::npos ? std::string_view() : pair.substr(equals + 1), true);
      if (!name.ok() || !value.ok()) {
        fail(400, "BadRequest",
             "query: " + (!name.ok() ? name.status().message() : value.status().message()));
        return;
      }
      if (hasControl(*name) || hasControl(*value)) {
        fail(400, "BadRequest", "query: control characters are not accepted");
        return;
      }
      request_.query.emplace_back(std::move(*name), std::move(*value));
    }
  }

  // Header fields.
  if (lines.size() - 1 > limits_.max_header_count) {
    fail(431, "HeaderTooLarge",
         "more than " + std::to_string(limits_.max_header_count) + " header fields");
    return;
  }
  std::optional<std::size_t> content_length;
  bool connection_close = false;
  bool connection_keep_alive = false;
  bool has_host = false;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const std::string_view line = lines[i];
    if (line[0] == ' ' || line[0] == '\t') {
      fail(400, "BadRequest", "obsolete line folding in header fields");
      return;
    }
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || !isToken(line.substr(0, colon))) {
      fail(400, "BadRequest", "malformed header field on line " + std::to_string(i + 1));
      return;
    }
    const std::string_view raw_value = trimOws(line.substr(colon + 1));
    if (!std::all_of(raw_value.begin(), raw_value.end(), isFieldValueChar)) {
      fail(400, "BadRequest", "control character in header field on line " + std::to_string(i + 1));
      return;
    }
    std::string name = lower(line.substr(0, colon));
    if (name == "content-length") {
      if (raw_value.empty() || !std::all_of(raw_value.begin(), raw_value.end(),
                                            [](char c) { return c >= '0' && c <= '9'; })) {
        fail(400, "BadRequest", "Content-Length is not a decimal number");
        return;
      }
      if (raw_value.size() > kMaxContentLengthDigits) {
        fail(413, "PayloadTooLarge",
             "body exceeds " + std::to_string(limits_.max_body_bytes) + " bytes");
        return;
      }
      const std::size_t length = std::stoull(std::string(raw_value));
      if (content_length && *content_length != length) {
        fail(400, "BadRequest", "conflicting Content-Length header fields");
        return;
      }
      content_length = length;
    } else if (name == "transfer-encoding") {
      fail(501, "NotImplemented",
           "Transfer-Encoding is not supported; send the body with Content-Length");
      return;
    } else if (name == "connection") {
      for (const std::string_view option : split(raw_value, ',')) {
        const std::string token = lower(trimOws(option));
        if (token == "close") connection_close = true;
        if (token == "keep-alive") connection_keep_alive = true;
      }
    } else if (name == "expect") {
      if (lower(raw_value) != "100-continue") {
        fail(417, "ExpectationFailed", "only 'Expect: 100-continue' is supported");
        return;
      }
      expect_continue_ = !http10;
    } else if (name == "host") {
      if (has_host) {
        fail(400, "BadRequest", "more than one Host header field");
        return;
      }
      has_host = true;
    }
    request_.headers.emplace_back(std::move(name), std::string(raw_value));
  }
  if (content_length && *content_length > limits_.max_body_bytes) {
    fail(413, "PayloadTooLarge",
         "body of " + std::to_string(*content_length) + " bytes exceeds the limit of " +
             std::to_string(limits_.max_body_bytes) + " bytes");
    return;
  }
  keep_alive_ = http10 ? (connection_keep_alive && !connection_close) : !connection_close;
  content_length_ = content_length.value_or(0);
  admitted_ = !limits_.pause_before_body || content_length_ == 0;
  phase_ = Phase::Body;
  head_.clear();
  head_.shrink_to_fit();
}

std::size_t HttpRequestParser::feedBody(std::string_view input) {
  const std::size_t take = std::min(input.size(), content_length_ - body_received_);
  if (take > 0) {
    // Grow by doubling up to Content-Length, so memory follows the bytes actually received.
    const std::size_t needed = body_received_ + take;
    if (needed > request_.body.size()) {
      const std::size_t grown = std::max({needed, request_.body.size() * 2, std::size_t{4096}});
      request_.body.resize(std::min(grown, content_length_));
    }
    std::memcpy(request_.body.mutableView(grantSecretAccess()).data() + body_received_,
                input.data(), take);
    body_received_ += take;
  }
  if (body_received_ == content_length_) {
    request_.body.resize(content_length_);
    state_ = State::Complete;
    phase_ = Phase::Done;
  }
  return take;
}

}  // namespace skr::agent
