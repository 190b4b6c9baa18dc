#include "agent/data_handlers.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "agent/api_error.h"
#include "agent/key_json.h"
#include "agent/key_operations.h"
#include "agent/key_version.h"
#include "common/encoding/printable.h"
#include "common/log/logger.h"
#include "common/seal/bundle.h"

namespace skr::agent {
namespace {

constexpr std::size_t kMaxUrlBytes = 4096;

// Remembers the first error the source answered, so that a failed open can be told apart:
// storage's (the source) or the object's (the envelope, the key).
class RecordingSource final : public data::ObjectSource {
 public:
  explicit RecordingSource(std::unique_ptr<data::ObjectSource> inner) : inner_(std::move(inner)) {}
  StatusOr<uint64_t> size() override { return note(inner_->size()); }
  StatusOr<Bytes> read(uint64_t offset, std::size_t length) override {
    return note(inner_->read(offset, length));
  }
  std::string describe() const override { return inner_->describe(); }
  const std::optional<Status>& failure() const { return failure_; }

 private:
  template <typename T>
  StatusOr<T> note(StatusOr<T> result) {
    if (!result.ok() && !failure_) failure_ = result.status();
    return result;
  }
  std::unique_ptr<data::ObjectSource> inner_;
  std::optional<Status> failure_;
};

// How a storage failure is answered.
ApiError storageError(const Status& s, int retry_after) {
  const std::string& message = s.message();
  switch (s.code()) {
    case StatusCode::NotFound: return {404, "BlobNotFound", message, "", {}};
    case StatusCode::PermissionDenied:
    case StatusCode::Unauthenticated: return {502, "StorageForbidden", message, "", {}};
    case StatusCode::Unavailable:
    case StatusCode::DeadlineExceeded:
      return {
          503, "StorageUnavailable", message, "", {{"Retry-After", std::to_string(retry_after)}}};
    default: return {502, "BadGateway", message, "", {}};
  }
}

// How a failure of the object itself (envelope, content key, tag) or of its key is answered.
ApiError objectError(const Status& s) {
  switch (s.code()) {
    case StatusCode::NotFound: return {404, "KeyNotFound", s.message(), "", {}};
    case StatusCode::PermissionDenied: return {403, "Forbidden", s.message(), "", {}};
    case StatusCode::Internal: return {500, "InternalError", s.message(), "", {}};
    default: return {422, "DataIntegrity", s.message(), "", {}};
  }
}

// Content keys for kids of one key, from any version the keyring holds.
class KeyringResolver final : public data::KeyResolver {
 public:
  KeyringResolver(std::shared_ptr<Keyring> keyring, std::string key)
      : keyring_(std::move(keyring)), key_(std::move(key)) {}

  StatusOr<SecretBytes> decryptContentKey(const std::string& kid, const std::string& alg,
                                          ByteView encrypted_key) override {
    SKR_ASSIGN_OR_RETURN(KidParts parts, parseKid(kid));
    if (parts.name != key_) {
      return permissionDeniedError("the object is sealed to key '" + parts.name + "', not '" +
                                   key_ + "'");
    }
    StatusOr<std::shared_ptr<const KeyVersion>> found = keyring_->find(key_, parts.version);
    if (!found.ok()) {
      return notFoundError("version '" + parts.version + "' of key '" + key_ +
                           "' (the object's kid) is not held by this agent");
    }
    KeyAlgorithm algorithm;
    if (alg == "RSA-OAEP-256") {
      algorithm = KeyAlgorithm::RsaOaep256;
    } else if (alg == "A256KW") {
      algorithm = KeyAlgorithm::A256Kw;
    } else {
      return invalidArgumentError("unsupported content key algorithm " + encoding::quoted(alg, 32));
    }
    return unwrapKey(**found, algorithm, encrypted_key);
  }

 private:
  std::shared_ptr<Keyring> keyring_;
  std::string key_;
};

// One of max_concurrent opens; freed when the stream is destroyed.
struct OpenSlot {
  explicit OpenSlot(std::shared_ptr<std::atomic<int>> count) : running(std::move(count)) {}
  ~OpenSlot() { running->fetch_sub(1); }
  OpenSlot(const OpenSlot&) = delete;
  OpenSlot& operator=(const OpenSlot&) = delete;
  std::shared_ptr<std::atomic<int>> running;
};

// Hands authenticated plaintext to the connection, counting it.
class WriterSink final : public data::PlaintextSink {
 public:
  explicit WriterSink(BodyWriter& writer) : writer_(writer) {}
  Status write(const SecretBytes& plaintext) override {
    Status written = writer_.write(plaintext);
    if (!written.ok()) {
      cancelled_ = true;
      return written;
    }
    bytes_ += plaintext.size();
    return okStatus();
  }
  uint64_t bytes() const { return bytes_; }
  bool cancelled() const { return cancelled_; }

 private:
  BodyWriter& writer_;
  uint64_t bytes_ = 0;
  bool cancelled_ = false;
};

// The body of a 200: openObject's plaintext, streamed.
class DataStream final : public BodyStream {
 public:
  struct Context {
    std::shared_ptr<Keyring> keyring;
    AgentMetrics* metrics;
    std::unique_ptr<RecordingSource> source;
    std::unique_ptr<OpenSlot> slot;
    std::string key;
    std::string blob;  // the URL without its query
    uid_t caller_uid;
    data::OpenLimits limits;
    int retry_after;
    RequestAudit audit;
    DataHandlers::AuditLine audit_line;
  };

  explicit DataStream(Context context) : c_(std::move(context)) {}
  ~DataStream() override {
    // Dropped without running (the caller hung up first, the agent is stopping).
    if (!ran_) finish(499, "NotStreamed", "not_streamed", 0);
  }
  DataStream(const DataStream&) = delete;
  DataStream& operator=(const DataStream&) = delete;

  // On a stream thread of the server, so no request worker waits for storage: the header and
  // its kid checks first (their failures are answered as JSON: nothing was sent yet), then the
  // object.
  Status produce(BodyWriter& writer) override {
    ran_ = true;
    if (Status checked = checkHeader(writer); !checked.ok()) {
      finish(refusal_->status, refusal_->code, refusal_->code, 0);
      return checked;
    }
    WriterSink sink(writer);
    KeyringResolver resolver(c_.keyring, c_.key);
    StatusOr<data::OpenedObject> opened = data::openObject(*c_.source, resolver, sink, c_.limits);
    if (opened.ok()) {
      finish(200, "", "ok", sink.bytes());
      return okStatus();
    }
    if (sink.cancelled()) {
      finish(499, "ClientGone", "cancelled", sink.bytes());
    } else if (sink.bytes() == 0) {
      const ApiError error = errorOf(opened.status());
      finish(error.status, error.code, error.code, 0);
    } else {
      // The 200 head is out: the connection ends without its terminating chunk.
      finish(200, "StreamCut", "cut", sink.bytes());
      log::warning("data_open_cut", {{"key", c_.key},
                                     {"kid", kid_},
                                     {"blob", c_.blob},
                                     {"code", errorOf(opened.status()).code},
                                     {"plaintext_bytes", static_cast<int64_t>(sink.bytes())}});
    }
    return opened.status();
  }

  HttpResponse failedBeforeBody(const Status& failure) override {
    return errorResponse(refusal_ ? *refusal_ : errorOf(failure));
  }

 private:
  // Reads the envelope's header: its kid must name a version of the key that the keyring holds.
  // Sets refusal_ (and returns its Status) when not; adds X-SKR-Kid and X-SKR-Envelope.
  Status checkHeader(BodyWriter& writer) {
    auto refuse = [this](ApiError error) {
      refusal_ = std::move(error);
      return failedPreconditionError(refusal_->code + ": " + refusal_->message);
    };
    StatusOr<data::EnvelopeHeader> header = data::readHeader(*c_.source);
    if (!header.ok()) return refuse(errorOf(header.status()));
    kid_ = header->kid;
    StatusOr<KidParts> parts = parseKid(header->kid);
    if (!parts.ok()) {
      return refuse({422,
                     "DataIntegrity",
                     "the object's kid is not a key version URL: " + parts.status().message(),
                     "",
                     {}});
    }
    if (parts->name != c_.key) {
      return refuse({403,
                     "KeyMismatch",
                     "the object is sealed to key '" + parts->name + "', not '" + c_.key + "'",
                     "",
                     {}});
    }
    c_.audit.version = parts->version;
    if (!c_.keyring->find(c_.key, parts->version).ok()) {
      return refuse({404,
                     "KeyNotFound",
                     "version '" + parts->version + "' of key '" + c_.key +
                         "' (the object's kid) is not held by this agent",
                     "",
                     {}});
    }
    Status added = writer.addHeader("X-SKR-Kid", header->kid);
    if (added.ok()) {
      added = writer.addHeader("X-SKR-Envelope", std::string(data::envelopeFormName(header->form)));
    }
    if (!added.ok()) return refuse(objectError(added));
    return okStatus();
  }

  ApiError errorOf(const Status& failure) const {
    if (c_.source->failure()) return storageError(*c_.source->failure(), c_.retry_after);
    return objectError(failure);
  }

  void finish(int status, const std::string& code, const std::string& result, uint64_t bytes) {
    c_.metrics->recordDataOpen(result, bytes);
    log::info("data_open", {{"key", c_.key},
                            {"kid", kid_},
                            {"blob", c_.blob},
                            {"result", result},
                            {"plaintext_bytes", static_cast<int64_t>(bytes)},
                            {"caller_uid", static_cast<int64_t>(c_.caller_uid)}});
    RequestAudit audit = c_.audit;
    audit.code = code;
    if (c_.audit_line) c_.audit_line(audit, status);
  }

  Context c_;
  bool ran_ = false;
  std::string kid_;                  // the envelope's, once read
  std::optional<ApiError> refusal_;  // the header's checks refused the object
};

bool hasSasSignature(std::string_view url) {
  const std::size_t query = url.find('?');
  if (query == std::string_view::npos) return false;
  std::string_view rest = url.substr(query + 1);
  while (!rest.empty()) {
    const std::size_t amp = rest.find('&');
    if (rest.substr(0, amp).rfind("sig=", 0) == 0) return true;
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return false;
}

// An https URL a prefix check can be trusted on: printable ASCII without spaces, backslashes or
// a fragment, and a path without dot segments (encoded or not) that could leave the prefix.
Status checkDataUrl(std::string_view url) {
  if (url.size() > kMaxUrlBytes) {
    return invalidArgumentError("member 'url' is longer than " + std::to_string(kMaxUrlBytes) +
                                " bytes");
  }
  if (url.rfind("https://", 0) != 0) {
    return invalidArgumentError("member 'url' must be an https URL");
  }
  for (char c : url) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '\\' || c == '#') {
      return invalidArgumentError(
          "member 'url' must be printable ASCII without spaces, backslashes or a fragment");
    }
  }
  std::string path(url.substr(0, url.find('?')));
  std::transform(path.begin(), path.end(), path.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const std::size_t host_end = path.find('/', 8);
  if (host_end == 8 || host_end == std::string::npos || host_end + 1 == path.size()) {
    return invalidArgumentError("member 'url' must name a host and a blob path");
  }
  if (path.substr(8, host_end - 8).find('@') != std::string::npos) {
    return invalidArgumentError("member 'url' must not carry user information");
  }
  for (std::string_view bad : {"/../", "/./", "%2e", "//"}) {
    if (path.find(bad, host_end) != std::string::npos) {
      return invalidArgumentError("member 'url' must not contain dot segments or empty segments");
    }
  }
  if (path.ends_with("/..") || path.ends_with("/.")) {
    return invalidArgumentError("member 'url' must not contain dot segments or empty segments");
  }
  return okStatus();
}

}  // namespace

std::string dataUrlForLogs(std::string_view url) {
  return std::string(url.substr(0, url.find_first_of("?#")));
}

DataHandlers::DataHandlers(std::shared_ptr<Keyring> keyring, AgentMetrics& metrics)
    : keyring_(std::move(keyring)), metrics_(metrics) {}

void DataHandlers::configure(DataOpenOptions options, DataSourceFactory factory) {
  options_ = std::move(options);
  factory_ = std::move(factory);
}

StatusOr<HttpResponse> DataHandlers::open(const RouteCall& call, AuditLine audit_line) {
  SKR_ASSIGN_OR_RETURN(json::ObjectPtr body, parseBody(call.request));
  for (const std::string& name : body->getNames()) {
    if (name != "url" && name != "key" && name != "auth") {
      return invalidArgumentError("unknown member " + encoding::quoted(name, 32) +
                                  "; expected url, key and optionally auth");
    }
  }
  DataOpenRequest request;
  SKR_ASSIGN_OR_RETURN(request.url, requiredString(body, "url"));
  SKR_ASSIGN_OR_RETURN(request.key, requiredString(body, "key"));
  SKR_RETURN_IF_ERROR(checkDataUrl(request.url));
  SKR_RETURN_IF_ERROR(seal::validateKeyName(request.key).withContext("member 'key'"));
  StatusOr<std::optional<std::string>> auth = json::getOptionalString(body, "auth");
  if (!auth.ok()) return invalidArgumentError(auth.status().message());
  if (auth->has_value()) {
    request.auth = **auth;
    if (request.auth != "entra" && request.auth != "sas" && request.auth != "anonymous") {
      return invalidArgumentError("member 'auth' must be entra, sas or anonymous");
    }
  } else {
    request.auth = hasSasSignature(request.url) ? "sas" : "entra";
  }
  call.audit.key = request.key;
  const std::string blob = dataUrlForLogs(request.url);

  if (std::optional<AuthError> refused = call.caller->check(Operation::OpenData, request.key)) {
    metrics_.recordAuthFailure(authFailureName(refused->reason));
    return refuse(call.audit, {refused->http_status, refused->code, refused->message, "", {}});
  }
  const bool allowed =
      std::any_of(options_.sources.begin(), options_.sources.end(), [&](const std::string& p) {
        return request.url.size() > p.size() && request.url.compare(0, p.size(), p) == 0;
      });
  if (!allowed) {
    return refuse(call.audit,
                  {403,
                   "DataSourceNotAllowed",
                   options_.sources.empty()
                       ? "opening data is not enabled: agent.data.sources is empty"
                       : "the blob " + blob + " is not under a prefix of agent.data.sources",
                   "",
                   {}});
  }
  if (keyring_->entry(request.key) == nullptr) {
    return refuse(call.audit,
                  {404, "KeyNotFound", "key '" + request.key + "' is not configured", "", {}});
  }
  if (!factory_) {
    return unimplementedError("opening encrypted blobs is not available in this agent build");
  }
  if (running_->fetch_add(1) >= options_.max_concurrent) {
    running_->fetch_sub(1);
    return refuse(call.audit, {429,
                               "TooManyRequests",
                               "the agent is already opening its limit of " +
                                   std::to_string(options_.max_concurrent) +
                                   " encrypted objects (agent.data.max_concurrent); retry later",
                               "",
                               {{"Retry-After", std::to_string(options_.retry_after_seconds)}}});
  }
  auto slot = std::make_unique<OpenSlot>(running_);

  StatusOr<std::unique_ptr<data::ObjectSource>> made = factory_(request);
  if (!made.ok()) {
    if (made.status().code() == StatusCode::InvalidArgument) {
      return refuse(call.audit, badParameter(made.status().message()));
    }
    return refuse(call.audit, storageError(made.status(), options_.retry_after_seconds));
  }
  // Storage is read only by the stream, on the server's stream thread: the envelope header (kid
  // checks, X-SKR-Kid, X-SKR-Envelope), then the object. The 200 head waits for its first piece.
  HttpResponse response;
  response.headers.emplace_back("Content-Type", "application/octet-stream");
  DataStream::Context context{keyring_,
                              &metrics_,
                              std::make_unique<RecordingSource>(std::move(*made)),
                              std::move(slot),
                              request.key,
                              blob,
                              call.request.peer.uid,
                              options_.limits,
                              options_.retry_after_seconds,
                              call.audit,
                              std::move(audit_line)};
  response.stream = std::make_shared<DataStream>(std::move(context));
  return response;
}

}  // namespace skr::agent
