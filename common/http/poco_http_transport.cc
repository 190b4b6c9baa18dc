#include "common/http/poco_http_transport.h"

#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/IPAddress.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SSLException.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Timespan.h>
#include <Poco/URI.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <fstream>
#include <istream>
#include <map>
#include <mutex>
#include <ostream>
#include <utility>
#include <vector>

namespace skr::http {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::size_t kMaxHeaderNameBytes = 256;
constexpr std::size_t kMaxHeaderValueBytes = 64 * 1024;
constexpr std::size_t kMaxUrlBytes = 8 * 1024;

// The first certificate verification failure of the handshake running on this thread, recorded
// by our verify callback so the error can say why (Poco's exception text only says "failed").
struct VerifyFailure {
  int error = 0;
  int depth = 0;
};
thread_local VerifyFailure t_verify_failure;

int recordVerifyResult(int ok, X509_STORE_CTX* store) {
  if (ok == 0 && t_verify_failure.error == 0) {
    t_verify_failure.error = X509_STORE_CTX_get_error(store);
    t_verify_failure.depth = X509_STORE_CTX_get_error_depth(store);
  }
  return ok;
}

struct Target {
  std::string scheme;
  std::string host;
  uint16_t port = 0;
  std::string path_and_query;
  std::string pool_key;  // scheme://host:port
  std::string where;     // "GET https://host:port/path" for messages (no query)
};

bool isToken(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return std::isalnum(u) != 0 ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

std::string hostForUrl(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

StatusOr<Target> parseTarget(const HttpRequest& request) {
  if (!isToken(request.method) || request.method.size() > 16) {
    return invalidArgumentError("HTTP method '" + request.method.substr(0, 16) + "' is not valid");
  }
  if (request.url.size() > kMaxUrlBytes) {
    return invalidArgumentError("URL is " + std::to_string(request.url.size()) + " bytes, limit " +
                                std::to_string(kMaxUrlBytes));
  }
  Target target;
  try {
    const Poco::URI uri(request.url);
    target.scheme = uri.getScheme();
    target.host = uri.getHost();
    target.port = uri.getPort();
    if (target.scheme != "http" && target.scheme != "https") {
      return invalidArgumentError("URL scheme '" + target.scheme + "' is not http or https");
    }
    if (target.host.empty()) return invalidArgumentError("URL has no host");
    if (!uri.getUserInfo().empty()) {
      return invalidArgumentError("URL for host " + target.host +
                                  " carries user info; credentials belong in headers");
    }
    target.path_and_query = uri.getPathAndQuery();
    if (target.path_and_query.empty()) target.path_and_query = "/";
    const std::string authority =
        target.scheme + "://" + hostForUrl(target.host) + ":" + std::to_string(target.port);
    target.pool_key = authority;
    target.where = request.method + " " + authority + (uri.getPath().empty() ? "/" : uri.getPath());
  } catch (const Poco::Exception& e) {
    return invalidArgumentError("URL does not parse: " + e.message());
  }
  for (const Header& h : request.headers) {
    if (!isToken(h.name) || h.name.size() > kMaxHeaderNameBytes) {
      return invalidArgumentError(target.where + ": header name '" +
                                  h.name.substr(0, kMaxHeaderNameBytes) + "' is not valid");
    }
    if (h.value.size() > kMaxHeaderValueBytes ||
        h.value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
      return invalidArgumentError(target.where + ": value of header '" + h.name +
                                  "' has line breaks or is too long");
    }
  }
  return target;
}

Poco::Timespan toTimespan(milliseconds ms) {
  const int64_t clamped = std::max<int64_t>(ms.count(), 1);
  return Poco::Timespan(static_cast<Poco::Timespan::TimeDiff>(clamped) * 1000);
}

std::string verifyFailureText(const Target& target) {
  if (t_verify_failure.error == 0) return {};
  std::string text = std::string("; certificate verification failed: ") +
                     X509_verify_cert_error_string(t_verify_failure.error) + " (depth " +
                     std::to_string(t_verify_failure.depth) + ")";
  if (t_verify_failure.error == X509_V_ERR_HOSTNAME_MISMATCH ||
      t_verify_failure.error == X509_V_ERR_IP_ADDRESS_MISMATCH) {
    text += ": the server certificate is not valid for '" + target.host + "'";
  } else if (t_verify_failure.error == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
             t_verify_failure.error == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN ||
             t_verify_failure.error == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT) {
    text += ": the issuing CA is not trusted (check the configured CA file)";
  }
  return text;
}

// Gives BodyFraming the session's buffered raw reads (HTTPSession::read is protected). The body
// is framed here rather than by Poco's streams because Poco 1.11's chunked stream treats EOF inside
// a chunk as a clean end, which would hide truncation.
class RawBodyReader {
 public:
  virtual ~RawBodyReader() = default;
  virtual int readRaw(char* buffer, std::streamsize length) = 0;
};

template <class Session>
class FramedSession final : public Session, public RawBodyReader {
 public:
  using Session::Session;
  int readRaw(char* buffer, std::streamsize length) override { return this->read(buffer, length); }
};

// A read buffer on the stack, wiped when it goes out of scope (bodies may carry tokens).
struct WipedReadBuffer {
  std::array<char, 16 * 1024> bytes{};
  ~WipedReadBuffer() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
};

// Makes room for `needed` bytes in `body` without leaving a copy behind: when it must grow (to at
// least twice its capacity), the bytes move to the new buffer and the old one is wiped before it
// is freed.
void reserveWiping(std::string& body, std::size_t needed) {
  if (needed <= body.capacity()) return;
  std::string grown;
  grown.reserve(std::max(body.capacity() * 2, needed));
  grown.assign(body);
  wipeString(body);
  body.swap(grown);
}

void appendWiping(std::string& body, const char* data, std::size_t n) {
  reserveWiping(body, body.size() + n);
  body.append(data, n);
}

// Reads a response body under the attempt deadline and the size cap. Throws what Poco throws
// (timeouts, resets); returns Unavailable for truncation / bad framing, ResourceExhausted for size.
struct BodyFraming {
  RawBodyReader& raw;
  Poco::Net::StreamSocket& socket;
  const Target& target;
  Clock::time_point deadline;
  std::size_t max_bytes;

  // Bytes read (0 = the peer closed), or DeadlineExceeded.
  StatusOr<std::size_t> readSome(char* buffer, std::size_t length) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    if (left.count() <= 0)
      return deadlineExceededError(target.where + ": timed out reading the body");
    socket.setReceiveTimeout(toTimespan(left));
    const int n = raw.readRaw(buffer, static_cast<std::streamsize>(length));
    return static_cast<std::size_t>(std::max(n, 0));
  }

  Status tooLarge() const {
    return resourceExhaustedError(target.where + ": response body exceeds " +
                                  std::to_string(max_bytes) + " bytes");
  }

  Status truncated(std::size_t got, const std::string& expected) const {
    return unavailableError(target.where + ": response truncated: expected " + expected +
                            ", received " + std::to_string(got) + " bytes");
  }

  Status readExactly(std::size_t length, std::string& body) {
    WipedReadBuffer wiped;
    auto& buffer = wiped.bytes;
    const std::size_t start = body.size();
    reserveWiping(body, start + length);  // one allocation for a known length
    while (body.size() - start < length) {
      const std::size_t want = std::min(buffer.size(), length - (body.size() - start));
      SKR_ASSIGN_OR_RETURN(const std::size_t n, readSome(buffer.data(), want));
      if (n == 0) {
        return truncated(body.size() - start, "Content-Length " + std::to_string(length));
      }
      appendWiping(body, buffer.data(), n);
    }
    return okStatus();
  }

  Status readToEnd(std::string& body) {
    WipedReadBuffer wiped;
    auto& buffer = wiped.bytes;
    while (true) {
      SKR_ASSIGN_OR_RETURN(const std::size_t n, readSome(buffer.data(), buffer.size()));
      if (n == 0) return okStatus();
      if (body.size() + n > max_bytes) return tooLarge();
      appendWiping(body, buffer.data(), n);
    }
  }

  // One CRLF- (or LF-) terminated line without its terminator; bounded.
  Status readLine(std::string& line, std::size_t got) {
    line.clear();
    char c = 0;
    while (true) {
      SKR_ASSIGN_OR_RETURN(const std::size_t n, readSome(&c, 1));
      if (n == 0) return truncated(got, "more chunked framing");
      if (c == '\n') break;
      if (line.size() >= 4096) {
        return unavailableError(target.where + ": malformed chunked body: line too long");
      }
      line.push_back(c);
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return okStatus();
  }

  // RFC 9112 §7.1: chunk-size [; ext] CRLF data CRLF ... 0 CRLF trailers CRLF.
  Status readChunked(std::string& body) {
    std::string line;
    while (true) {
      SKR_RETURN_IF_ERROR(readLine(line, body.size()));
      const std::string size_text = line.substr(0, line.find(';'));
      std::size_t size = 0;
      std::size_t digits = 0;
      for (char c : size_text) {
        if (c == ' ' || c == '\t') continue;
        const int v = std::isxdigit(static_cast<unsigned char>(c)) == 0 ? -1
                      : c <= '9'                                        ? c - '0'
                                 : (std::tolower(c) - 'a' + 10);
        if (v < 0 || ++digits > 15) {
          return unavailableError(target.where + ": malformed chunked body: bad chunk size");
        }
        size = size * 16 + static_cast<std::size_t>(v);
      }
      if (digits == 0) {
        return unavailableError(target.where + ": malformed chunked body: bad chunk size");
      }
      if (size == 0) break;
      if (body.size() + size > max_bytes) return tooLarge();
      SKR_RETURN_IF_ERROR(readExactly(size, body));
      SKR_RETURN_IF_ERROR(readLine(line, body.size()));
      if (!line.empty()) {
        return unavailableError(target.where + ": malformed chunked body: no CRLF after a chunk");
      }
    }
    for (int trailers = 0;; ++trailers) {
      SKR_RETURN_IF_ERROR(readLine(line, body.size()));
      if (line.empty()) return okStatus();
      if (trailers > 64) return unavailableError(target.where + ": too many chunked trailers");
    }
  }
};

Status mapException(const Poco::Exception& e, const Target& target, milliseconds timeout) {
  if (dynamic_cast<const Poco::TimeoutException*>(&e) != nullptr) {
    return deadlineExceededError(target.where + ": timed out (attempt budget " +
                                 std::to_string(timeout.count()) + " ms)");
  }
  if (dynamic_cast<const Poco::Net::SSLException*>(&e) != nullptr) {
    return unavailableError(target.where + ": TLS failure: " + e.displayText() +
                            verifyFailureText(target));
  }
  return unavailableError(target.where + ": " + e.displayText());
}

bool isIpLiteral(const std::string& host) {
  Poco::Net::IPAddress ip;
  return Poco::Net::IPAddress::tryParse(host, ip);
}

// A TLS client context: TLS >= 1.2, peer verification required, the expected host name (or IP)
// checked by OpenSSL inside the handshake. Poco's own post-handshake host check stays on too.
StatusOr<Poco::Net::Context::Ptr> makeContext(const std::string& ca_file, const std::string& host) {
  try {
    Poco::Net::Context::Params params;
    params.caLocation = ca_file;
    params.loadDefaultCAs = ca_file.empty();
    params.verificationMode = Poco::Net::Context::VERIFY_STRICT;
    params.verificationDepth = 9;
    params.cipherList = "HIGH:!aNULL:!eNULL:!MD5:!RC4:!3DES";
    Poco::Net::Context::Ptr context =
        new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, params);
    context->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
    SSL_CTX* ssl = context->sslContext();
    SSL_CTX_set_verify(ssl, SSL_VERIFY_PEER, &recordVerifyResult);
    if (!host.empty()) {
      X509_VERIFY_PARAM* param = SSL_CTX_get0_param(ssl);
      X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      const int set = isIpLiteral(host)
                          ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str())
                          : X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
      if (set != 1) return invalidArgumentError("TLS: cannot verify host name '" + host + "'");
    }
    return context;
  } catch (const Poco::Exception& e) {
    return invalidArgumentError("TLS context (CA file '" + ca_file + "'): " + e.displayText());
  }
}

void initializeSslOnce() {
  static std::once_flag once;
  std::call_once(once, [] { Poco::Net::initializeSSL(); });
}

}  // namespace

struct PocoHttpTransport::Impl {
  PocoHttpTransportOptions options;
  ProxySettings proxy;

  mutable std::mutex mutex;  // guards idle and contexts
  std::map<std::string, std::vector<std::unique_ptr<Poco::Net::HTTPClientSession>>> idle;
  std::map<std::string, Poco::Net::Context::Ptr> contexts;

  StatusOr<std::unique_ptr<Poco::Net::HTTPClientSession>> newSession(const Target& target) {
    StatusOr<std::optional<ProxyEndpoint>> proxy_endpoint =
        proxyFor(proxy, target.scheme, target.host, target.port);
    if (!proxy_endpoint.ok()) return proxy_endpoint.status().withContext(target.where);
    std::unique_ptr<Poco::Net::HTTPClientSession> session;
    if (target.scheme == "https") {
      Poco::Net::Context::Ptr context;
      {
        std::lock_guard<std::mutex> lock(mutex);
        auto it = contexts.find(target.pool_key);
        if (it != contexts.end()) context = it->second;
      }
      if (context.isNull()) {
        StatusOr<Poco::Net::Context::Ptr> made = makeContext(options.ca_file, target.host);
        if (!made.ok()) return made.status().withContext(target.where);
        context = *made;
        std::lock_guard<std::mutex> lock(mutex);
        contexts.emplace(target.pool_key, context);
      }
      session = std::make_unique<FramedSession<Poco::Net::HTTPSClientSession>>(
          target.host, target.port, context);
    } else {
      session =
          std::make_unique<FramedSession<Poco::Net::HTTPClientSession>>(target.host, target.port);
    }
    Poco::Net::HTTPClientSession::ProxyConfig config;  // empty host: direct
    if (proxy_endpoint->has_value()) {
      const ProxyEndpoint& p = **proxy_endpoint;
      config.host = p.host;
      config.port = p.port;
      config.username = p.username;
      config.password = p.password;
      // Poco 1.11 otherwise sends "Proxy-Authorization: Basic Og==" (empty credentials).
      config.authMethod = p.username.empty() ? Poco::Net::HTTPClientSession::PROXY_AUTH_NONE
                                             : Poco::Net::HTTPClientSession::PROXY_AUTH_HTTP_BASIC;
    }
    session->setProxyConfig(config);
    session->setKeepAlive(true);
    session->setKeepAliveTimeout(
        Poco::Timespan(static_cast<long>(options.idle_timeout.count()), 0));
    return session;
  }

  std::unique_ptr<Poco::Net::HTTPClientSession> takeIdle(const std::string& key) {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = idle.find(key);
    if (it == idle.end() || it->second.empty()) return nullptr;
    std::unique_ptr<Poco::Net::HTTPClientSession> session = std::move(it->second.back());
    it->second.pop_back();
    return session;
  }

  void putIdle(const std::string& key, std::unique_ptr<Poco::Net::HTTPClientSession> session) {
    std::lock_guard<std::mutex> lock(mutex);
    auto& sessions = idle[key];
    if (sessions.size() < options.max_idle_per_host) sessions.push_back(std::move(session));
  }

  // One exchange on `session`. `headers_received` tells the caller whether a stale keep-alive
  // connection can explain a failure (nothing came back).
  StatusOr<HttpResponse> exchange(const HttpRequest& request, const Target& target,
                                  Poco::Net::HTTPClientSession& session, Clock::time_point deadline,
                                  bool& headers_received, bool& reusable) {
    headers_received = false;
    reusable = false;
    t_verify_failure = {};
    const auto remaining = [&] {
      return std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    };
    try {
      milliseconds left = remaining();
      if (left.count() <= 0) {
        return deadlineExceededError(target.where + ": no time left for the attempt");
      }
      const Poco::Timespan io = toTimespan(left);
      session.setTimeout(toTimespan(std::min(options.connect_timeout, left)), io, io);
      if (session.connected()) {
        session.socket().setSendTimeout(io);
        session.socket().setReceiveTimeout(io);
      }
      Poco::Net::HTTPRequest out_request(request.method, target.path_and_query,
                                         Poco::Net::HTTPMessage::HTTP_1_1);
      out_request.set("User-Agent", options.user_agent);
      for (const Header& h : request.headers) out_request.add(h.name, h.value);
      // Header values may be credentials (Authorization): wiped before Poco frees them.
      struct WipeHeaderValues {
        Poco::Net::HTTPRequest& request;
        ~WipeHeaderValues() {
          for (auto it = request.begin(); it != request.end(); ++it) {
            // The collection is not const; only its iterator is.
            auto& value = const_cast<std::string&>(it->second);
            if (!value.empty()) OPENSSL_cleanse(value.data(), value.size());
          }
        }
      } wipe_header_values{out_request};
      out_request.setKeepAlive(true);
      if (!request.body.empty() || request.method == "POST" || request.method == "PUT" ||
          request.method == "PATCH") {
        out_request.setContentLength64(static_cast<Poco::Int64>(request.body.size()));
      }
      std::ostream& out = session.sendRequest(out_request);
      out.exceptions(std::ios::badbit);
      out.write(request.body.data(), static_cast<std::streamsize>(request.body.size()));

      left = remaining();
      if (left.count() <= 0) return deadlineExceededError(target.where + ": timed out sending");
      session.socket().setReceiveTimeout(toTimespan(left));
      Poco::Net::HTTPResponse poco_response;
      // The body is framed by BodyFraming on the raw session, not by the returned stream.
      static_cast<void>(session.receiveResponse(poco_response));
      headers_received = true;

      HttpResponse response;
      response.status = static_cast<int>(poco_response.getStatus());
      for (const auto& [name, value] : poco_response) response.headers.push_back({name, value});
      const bool has_length = poco_response.hasContentLength();
      const int64_t length = has_length ? poco_response.getContentLength64() : -1;
      if (has_length && length < 0) {
        return unavailableError(target.where + ": malformed Content-Length");
      }
      const bool no_body = request.method == "HEAD" || response.status == 204 ||
                           response.status == 304 || response.status < 200;
      // The limit bounds the body read; a HEAD answer's Content-Length is the size of a body it
      // does not carry (Get Blob Properties answers the blob's size so).
      if (!no_body && has_length && length > static_cast<int64_t>(request.max_response_bytes)) {
        return resourceExhaustedError(target.where + ": response Content-Length is " +
                                      std::to_string(length) + " bytes, limit " +
                                      std::to_string(request.max_response_bytes));
      }
      const bool chunked = poco_response.getChunkedTransferEncoding();
      if (!no_body) {
        auto* raw = dynamic_cast<RawBodyReader*>(&session);
        if (raw == nullptr) return internalError(target.where + ": session cannot read raw");
        BodyFraming framing{*raw, session.socket(), target, deadline, request.max_response_bytes};
        const Status read =
            chunked      ? framing.readChunked(response.body)
            : has_length ? framing.readExactly(static_cast<std::size_t>(length), response.body)
                         : framing.readToEnd(response.body);
        SKR_RETURN_IF_ERROR(read);
      }
      reusable = poco_response.getKeepAlive() && (has_length || no_body || chunked);
      return response;
    } catch (const Poco::Exception& e) {
      ERR_clear_error();  // leave no TLS errors queued for the next OpenSSL user of this thread
      if (headers_received && dynamic_cast<const Poco::Net::MessageException*>(&e) != nullptr) {
        return unavailableError(target.where +
                                ": response body truncated or malformed: " + e.displayText());
      }
      return mapException(e, target, request.timeout);
    } catch (const std::exception& e) {
      return unavailableError(target.where + ": " + e.what());
    }
  }
};

StatusOr<std::unique_ptr<PocoHttpTransport>> PocoHttpTransport::create(
    PocoHttpTransportOptions options) {
  initializeSslOnce();
  if (options.connect_timeout.count() <= 0) {
    return invalidArgumentError("HTTP transport: connect timeout must be positive");
  }
  if (!options.ca_file.empty()) {
    std::ifstream probe(options.ca_file);
    if (!probe) {
      return invalidArgumentError("HTTP transport: cannot read CA file '" + options.ca_file + "'");
    }
    StatusOr<Poco::Net::Context::Ptr> context = makeContext(options.ca_file, {});
    if (!context.ok()) return context.status().withContext("HTTP transport");
  }
  auto impl = std::make_unique<Impl>();
  impl->proxy = options.proxy.value_or(ProxySettings::fromEnvironment());
  for (const std::string* url : {&impl->proxy.https_proxy, &impl->proxy.http_proxy}) {
    if (url->empty()) continue;
    StatusOr<ProxyEndpoint> parsed = parseProxyUrl(*url);
    if (!parsed.ok()) return parsed.status().withContext("HTTP transport proxy setting");
  }
  impl->options = std::move(options);
  return std::unique_ptr<PocoHttpTransport>(new PocoHttpTransport(std::move(impl)));
}

PocoHttpTransport::PocoHttpTransport(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PocoHttpTransport::~PocoHttpTransport() = default;

std::size_t PocoHttpTransport::idleConnections() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  std::size_t count = 0;
  for (const auto& [key, sessions] : impl_->idle) count += sessions.size();
  return count;
}

StatusOr<HttpResponse> PocoHttpTransport::send(const HttpRequest& request) {
  SKR_ASSIGN_OR_RETURN(const Target target, parseTarget(request));
  if (request.timeout.count() <= 0) {
    return invalidArgumentError(target.where + ": request timeout must be positive");
  }
  const Clock::time_point deadline = Clock::now() + request.timeout;
  std::unique_ptr<Poco::Net::HTTPClientSession> session = impl_->takeIdle(target.pool_key);
  bool reused = session != nullptr;
  while (true) {
    if (!session) {
      SKR_ASSIGN_OR_RETURN(session, impl_->newSession(target));
    }
    bool headers_received = false;
    bool reusable = false;
    StatusOr<HttpResponse> result =
        impl_->exchange(request, target, *session, deadline, headers_received, reusable);
    if (result.ok()) {
      if (reusable) impl_->putIdle(target.pool_key, std::move(session));
      return result;
    }
    // A kept-alive connection the server closed while idle fails before any response byte:
    // try once more on a fresh connection.
    if (reused && !headers_received && result.status().code() == StatusCode::Unavailable) {
      session.reset();
      reused = false;
      continue;
    }
    return result;
  }
}

}  // namespace skr::http
