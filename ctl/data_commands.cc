// skrctl seal-data / open-data: the encrypted-object envelope (docs/encrypted-data.md).
//   seal-data (outside the TEE): encrypt a file to a key's public RSA JWK or a 32-byte oct JWK.
//   open-data (inside): through skr-agent's POST /data/open (the default), or offline with a
//   private JWK file (tests, checking what was sealed, emulator keys).
// With --out, the result appears under its name only when complete and authenticated.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "common/crypto/aes_key_wrap.h"
#include "common/crypto/rsa_oaep.h"
#include "common/data/envelope.h"
#include "common/encoding/json_writer.h"
#include "common/jose/jwk.h"
#include "ctl/atomic_file.h"
#include "ctl/cli.h"
#include "ctl/commands.h"
#include "ctl/data_open_client.h"

namespace skr::ctl {
namespace {

constexpr std::size_t kMaxJwkFileBytes = 64 * 1024;
constexpr std::size_t kMaxCompactPlaintext = 32 * 1024 * 1024;  // the compact form is in memory
constexpr std::size_t kMaxStdinObjectBytes = 64 * 1024 * 1024;  // open-data --key-file --in -
constexpr std::size_t kReadPiece = 1024 * 1024;
constexpr std::size_t kMaxUrlBytes = 8 * 1024;

// A JWK file, straight into secret storage (a private JWK or an oct key is key material).
StatusOr<SecretBytes> readSecretFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    const int e = errno;
    if (e == ENOENT) return notFoundError("cannot read '" + path + "': no such file");
    if (e == EACCES) return permissionDeniedError("cannot read '" + path + "': permission denied");
    return invalidArgumentError("cannot read '" + path + "': " + std::strerror(e));
  }
  SecretBytes data(kMaxJwkFileBytes + 1);
  std::span<uint8_t> buf = data.mutableView(grantSecretAccess());
  std::size_t done = 0;
  while (done < buf.size()) {
    const ssize_t n = ::read(fd, buf.data() + done, buf.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  if (done > kMaxJwkFileBytes) {
    return invalidArgumentError("'" + path + "' is larger than a JWK (" +
                                std::to_string(kMaxJwkFileBytes) + " bytes)");
  }
  data.resize(done);
  return data;
}

// Where output goes: an AtomicFile for --out FILE, else stdout.
class Output {
 public:
  static StatusOr<Output> open(const std::optional<std::string>& path, Io& io, mode_t mode) {
    Output o(io);
    if (path && *path != "-") {
      SKR_ASSIGN_OR_RETURN(o.file_, AtomicFile::create(*path, mode));
    }
    return o;
  }
  Status write(ByteView bytes) {
    if (file_) return file_->write(bytes);
    io_->out.write(reinterpret_cast<const char*>(bytes.data()),  // NOLINT
                   static_cast<std::streamsize>(bytes.size()));
    if (!io_->out) return failedPreconditionError("cannot write to stdout");
    return okStatus();
  }
  Status commit() {
    if (file_) return file_->commit();
    io_->out.flush();
    if (!io_->out) return failedPreconditionError("cannot write to stdout");
    return okStatus();
  }

 private:
  explicit Output(Io& io) : io_(&io) {}
  Io* io_;
  std::unique_ptr<AtomicFile> file_;
};

// Reads `in` (a file or stdin) in pieces, handing each to `use`.
Status forEachPiece(const std::optional<std::string>& path, Io& io,
                    const std::function<Status(ByteView)>& use) {
  SecretBytes piece(kReadPiece);
  std::span<uint8_t> buf = piece.mutableView(grantSecretAccess());
  if (!path || *path == "-") {
    while (io.in.read(reinterpret_cast<char*>(buf.data()),  // NOLINT
                      static_cast<std::streamsize>(buf.size())) ||
           io.in.gcount() > 0) {
      SKR_RETURN_IF_ERROR(use(ByteView(buf).first(static_cast<std::size_t>(io.in.gcount()))));
    }
    if (io.in.bad()) return failedPreconditionError("cannot read stdin");
    return okStatus();
  }
  const int fd = ::open(path->c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    const int e = errno;
    if (e == ENOENT) return notFoundError("cannot read '" + *path + "': no such file");
    return invalidArgumentError("cannot read '" + *path + "': " + std::strerror(e));
  }
  Status status = okStatus();
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      status = failedPreconditionError("cannot read '" + *path + "': " + std::strerror(errno));
      break;
    }
    if (n == 0) break;
    status = use(ByteView(buf).first(static_cast<std::size_t>(n)));
    if (!status.ok()) break;
  }
  ::close(fd);
  return status;
}

int exitCodeFor(const Status& status) {
  if (status.details().http_status == 422) return kExitIntegrity;
  if (status.details().http_status != 0)
    return exitCodeForAgentStatus(status.details().http_status);
  switch (status.code()) {
    case StatusCode::InvalidArgument: return kExitUsage;
    case StatusCode::NotFound: return kExitKeyNotFound;
    case StatusCode::PermissionDenied: return kExitReleaseDenied;
    case StatusCode::DataLoss: return kExitIntegrity;
    case StatusCode::FailedPrecondition: return kExitOutput;
    case StatusCode::ResourceExhausted: return kExitUsage;
    default: return kExitDependency;
  }
}

int sealData(const ParsedArgs& args, Io& io) {
  if (!args.positionals().empty()) {
    io.err << "usage: skrctl seal-data --to JWK_FILE [--kid KID] [--form compact|chunked] "
              "[--chunk-size N] [--in FILE|-] [--out FILE|-]\n";
    return kExitUsage;
  }
  const std::string form = args.value("form").value_or("chunked");
  if (form != "chunked" && form != "compact") {
    io.err << "skrctl seal-data: --form must be compact or chunked\n";
    return kExitUsage;
  }
  uint64_t chunk_size = data::kDefaultChunkSize;
  if (std::optional<std::string> cs = args.value("chunk-size")) {
    char* end = nullptr;
    errno = 0;
    const unsigned long long v = std::strtoull(cs->c_str(), &end, 10);
    if (cs->empty() || *end != '\0' || errno != 0 || (*cs)[0] == '-' || v < data::kMinChunkSize ||
        v > data::kMaxChunkSize) {
      io.err << "skrctl seal-data: --chunk-size must be " << data::kMinChunkSize << ".."
             << data::kMaxChunkSize << " bytes\n";
      return kExitUsage;
    }
    chunk_size = v;
  }
  StatusOr<SecretBytes> jwk_text = readSecretFile(*args.value("to"));
  if (!jwk_text.ok()) return fail(io, kExitUsage, jwk_text.status());
  StatusOr<data::Recipient> recipient =
      data::recipientFromJwk(*jwk_text, args.value("kid").value_or(""));
  if (!recipient.ok()) {
    return fail(io, kExitUsage,
                recipient.status().withContext("seal-data --to " + *args.value("to")));
  }
  StatusOr<Output> out = Output::open(args.value("out"), io, 0644);
  if (!out.ok()) return fail(io, kExitOutput, out.status());

  Status status = okStatus();
  if (form == "compact") {
    SecretBytes plaintext;
    status = forEachPiece(args.value("in"), io, [&plaintext](ByteView piece) {
      if (plaintext.size() + piece.size() > kMaxCompactPlaintext) {
        return resourceExhaustedError("the compact form holds at most " +
                                      std::to_string(kMaxCompactPlaintext) +
                                      " bytes (use --form chunked)");
      }
      plaintext.append(piece);
      return okStatus();
    });
    if (status.ok()) {
      StatusOr<std::string> jwe =
          data::sealCompact(plaintext.view(grantSecretAccess()), *recipient);
      status = jwe.ok() ? out->write(asBytes(*jwe)) : jwe.status();
    }
  } else {
    auto sealer = data::ChunkedSealer::create(
        *recipient, [&out](ByteView bytes) { return out->write(bytes); }, chunk_size);
    status = sealer.status();
    if (sealer.ok()) {
      status = forEachPiece(args.value("in"), io,
                            [&sealer](ByteView piece) { return (*sealer)->write(piece); });
      if (status.ok()) status = (*sealer)->finish();
    }
  }
  if (status.ok()) status = out->commit();
  if (!status.ok()) return fail(io, exitCodeFor(status), status.withContext("seal-data"));
  return kExitOk;
}

// Opens content keys with one private JWK (RSA: RSA-OAEP-256; oct: A256KW). When the JWK has a
// kid, only that kid is accepted (NotFound otherwise), as the agent would.
class JwkResolver final : public data::KeyResolver {
 public:
  explicit JwkResolver(jose::Jwk jwk) : jwk_(std::move(jwk)) {}
  StatusOr<SecretBytes> decryptContentKey(const std::string& kid, const std::string& alg,
                                          ByteView encrypted_key) override {
    if (!jwk_.kid().empty() && jwk_.kid() != kid) {
      return notFoundError("the envelope names kid " + kid + ", the key file holds " + jwk_.kid());
    }
    if (jwk_.type() == jose::JwkType::Rsa && alg == "RSA-OAEP-256") {
      SKR_ASSIGN_OR_RETURN(const crypto::PrivateKey* key, jwk_.privateKey());
      auto cek = crypto::rsaOaepDecrypt(*key, crypto::HashAlg::Sha256, encrypted_key);
      if (!cek.ok()) return dataLossError("the content key does not decrypt with this RSA key");
      return cek;
    }
    if (jwk_.type() == jose::JwkType::Oct && alg == "A256KW") {
      SKR_ASSIGN_OR_RETURN(const SecretBytes* kek, jwk_.octet());
      auto cek = crypto::aesKeyUnwrap(*kek, encrypted_key);
      if (!cek.ok()) return dataLossError("the content key does not unwrap with this oct key");
      return cek;
    }
    return invalidArgumentError("alg " + alg + " does not suit the key file's " +
                                std::string(jose::jwkTypeName(jwk_.type())) + " key");
  }

 private:
  jose::Jwk jwk_;
};

class OutputSink final : public data::PlaintextSink {
 public:
  explicit OutputSink(Output& out) : out_(out) {}
  Status write(const SecretBytes& plaintext) override {
    return out_.write(plaintext.view(grantSecretAccess()));
  }

 private:
  Output& out_;
};

int openOffline(const ParsedArgs& args, Io& io) {
  StatusOr<SecretBytes> jwk_text = readSecretFile(*args.value("key-file"));
  if (!jwk_text.ok()) return fail(io, kExitUsage, jwk_text.status());
  StatusOr<jose::Jwk> jwk = jose::Jwk::parseSecret(*jwk_text);
  if (!jwk.ok() || !jwk->hasPrivate()) {
    return fail(io, kExitUsage,
                invalidArgumentError("--key-file " + *args.value("key-file") +
                                     " is not a private RSA JWK or an oct JWK"));
  }
  std::unique_ptr<data::ObjectSource> source;
  const std::optional<std::string> in = args.value("in");
  if (in && *in != "-") {
    auto file = data::FileObjectSource::open(*in);
    if (!file.ok()) return fail(io, exitCodeFor(file.status()), file.status());
    source = std::move(*file);
  } else {
    Bytes all;
    Status s = forEachPiece(std::nullopt, io, [&all](ByteView piece) {
      if (all.size() + piece.size() > kMaxStdinObjectBytes) {
        return resourceExhaustedError("an object on stdin is limited to " +
                                      std::to_string(kMaxStdinObjectBytes) + " bytes (use --in)");
      }
      all.insert(all.end(), piece.begin(), piece.end());
      return okStatus();
    });
    if (!s.ok()) return fail(io, exitCodeFor(s), s);
    source = std::make_unique<data::MemoryObjectSource>(std::move(all), "stdin");
  }
  StatusOr<Output> out = Output::open(args.value("out"), io, 0600);
  if (!out.ok()) return fail(io, kExitOutput, out.status());
  JwkResolver keys(std::move(*jwk));
  OutputSink sink(*out);
  StatusOr<data::OpenedObject> opened = data::openObject(*source, keys, sink);
  Status status = opened.status();
  if (status.ok()) status = out->commit();
  if (!status.ok()) return fail(io, exitCodeFor(status), status.withContext("open-data"));
  return kExitOk;
}

int openThroughAgent(const ParsedArgs& args, Io& io) {
  const std::optional<std::string> url = args.value("url");
  const std::optional<std::string> key = args.value("key");
  if (!url || !key) {
    io.err << "skrctl open-data: give --url and --key (through the agent) or --key-file "
              "(offline)\n";
    return kExitUsage;
  }
  if (!url->starts_with("https://") || url->size() > kMaxUrlBytes) {
    io.err << "skrctl open-data: --url must be an https blob URL\n";
    return kExitUsage;
  }
  if (key->empty() || key->size() > 127) {
    io.err << "skrctl open-data: --key must be a configured key name\n";
    return kExitUsage;
  }
  const std::optional<std::string> auth = args.value("auth");
  if (auth && *auth != "entra" && *auth != "sas" && *auth != "anonymous") {
    io.err << "skrctl open-data: --auth must be entra, sas or anonymous\n";
    return kExitUsage;
  }
  DataOpenRequest request;
  if (std::optional<std::string> socket = args.value("socket")) {
    request.socket_path = *socket;
  } else if (const char* env = std::getenv("SKR_AGENT_SOCKET"); env != nullptr && *env != '\0') {
    request.socket_path = env;
  } else {
    io.err << "skrctl open-data: no --socket given and SKR_AGENT_SOCKET is not set\n";
    return kExitUsage;
  }
  if (const char* token = std::getenv("SKR_AGENT_TOKEN"); token != nullptr) {
    request.bearer_token = token;
  }
  if (std::optional<std::string> t = args.value("timeout")) {
    char* end = nullptr;
    const long seconds = std::strtol(t->c_str(), &end, 10);
    if (t->empty() || *end != '\0' || seconds < 1 || seconds > 3600) {
      io.err << "skrctl open-data: --timeout must be 1..3600 seconds\n";
      return kExitUsage;
    }
    request.idle_timeout = std::chrono::seconds(seconds);
  }
  json::Writer body;
  body.beginObject().member("url", *url).member("key", *key);
  if (auth) body.member("auth", *auth);
  request.body = body.endObject().take();

  StatusOr<Output> out = Output::open(args.value("out"), io, 0600);
  if (!out.ok()) return fail(io, kExitOutput, out.status());
  StatusOr<DataOpenResult> result = openDataThroughAgent(request, [&out](const SecretBytes& piece) {
    return out->write(piece.view(grantSecretAccess()));
  });
  Status status = result.status();
  if (status.ok()) status = out->commit();
  if (!status.ok()) return fail(io, exitCodeFor(status), status.withContext("open-data"));
  io.err << "skrctl open-data: " << result->plaintext_bytes << " bytes opened with " << result->kid
         << " (" << result->envelope << ")\n";
  return kExitOk;
}

int openData(const ParsedArgs& args, Io& io) {
  if (!args.positionals().empty()) {
    io.err << "usage: skrctl open-data --url URL --key NAME [--auth entra|sas|anonymous] "
              "[--socket PATH] [--out FILE]\n"
              "       skrctl open-data --key-file PRIVATE_JWK_FILE [--in FILE] [--out FILE]\n";
    return kExitUsage;
  }
  if (args.has("key-file")) {
    if (args.has("url") || args.has("key") || args.has("auth") || args.has("socket")) {
      io.err << "skrctl open-data: --key-file (offline) does not combine with --url, --key, "
                "--auth or --socket\n";
      return kExitUsage;
    }
    return openOffline(args, io);
  }
  if (args.has("in")) {
    io.err << "skrctl open-data: --in is for --key-file (offline); the agent fetches --url\n";
    return kExitUsage;
  }
  return openThroughAgent(args, io);
}

}  // namespace

std::vector<Command> dataCommands() {
  const OptionSpec out{"out", true, "FILE",
                       "write here (default stdout); the file appears only when complete"};
  const OptionSpec in{"in", true, "FILE", "read this file (default stdin)"};
  return {
      Command{"seal-data",
              "seal-data --to JWK_FILE [--kid KID] [--form compact|chunked] [--chunk-size N] "
              "[--in FILE|-] [--out FILE|-]",
              "Encrypt a file to a key's public JWK (outside the TEE) for open-data or skr-init.",
              "JWK_FILE is a public RSA JWK (alg RSA-OAEP-256), e.g. what the agent's GET\n"
              "/keys/{name} or `az keyvault key show --query key` gives, or an oct JWK with a\n"
              "32-byte \"k\" (alg A256KW), e.g. an emulator oct key. The envelope's kid names the\n"
              "key version that opens it: the JWK's kid, or --kid\n"
              "(https://{vault}/keys/{name}/{version}). The chunked form (default) streams any\n"
              "size in chunks of --chunk-size bytes (default 1048576, 4096..16777216); the\n"
              "compact form is a plain JWE (at most 32 MiB). See docs/encrypted-data.md.\n"
              "Exit codes: 2 usage or a bad JWK, 10 output.",
              {{"to", true, "FILE", "the recipient's JWK (public RSA or oct)", true},
               {"kid", true, "KID", "the key version to name (default: the JWK's kid)", false},
               {"form", true, "FORM", "chunked (default) or compact", false},
               {"chunk-size", true, "N", "chunk size in bytes (chunked form)", false},
               in,
               out},
              sealData},
      Command{
          "open-data",
          "open-data --url URL --key NAME [--auth entra|sas|anonymous] [--socket PATH] "
          "[--out FILE] | open-data --key-file PRIVATE_JWK_FILE [--in FILE] [--out FILE]",
          "Decrypt an encrypted blob through skr-agent (POST /data/open), or a file offline.",
          "Through the agent (inside the TEE): the agent fetches the blob at URL (one of its\n"
          "agent.data.sources), checks that its kid names a version of key NAME, and streams\n"
          "the plaintext back; the client socket is --socket, else $SKR_AGENT_SOCKET (a bearer\n"
          "token from $SKR_AGENT_TOKEN). Offline: --key-file is a private RSA JWK or an oct\n"
          "JWK (a JWK with a kid opens only envelopes naming that kid).\n"
          "With --out the file appears only when the whole object authenticated; on stdout a\n"
          "failure can follow plaintext already written (use --out when that matters).\n"
          "Exit codes: 2 usage, 6 denied, 7 key or blob not found, 8 agent or storage\n"
          "unavailable, 9 integrity (a chunk, the tag or the content key did not verify, or\n"
          "the agent's answer ended before its last chunk), 10 output.",
          {{"url", true, "URL", "the blob's https URL (may carry a SAS query)", false},
           {"key", true, "NAME", "the configured key whose version opens it", false},
           {"auth", true, "MODE",
            "entra, sas or anonymous (default: sas when the URL has sig=, else entra)", false},
           {"socket", true, "PATH", "the agent's client socket (default: $SKR_AGENT_SOCKET)",
            false},
           {"timeout", true, "SECONDS", "longest silence of the agent (default 60)", false},
           {"key-file", true, "FILE", "offline: a private RSA JWK or an oct JWK", false},
           in,
           out},
          openData},
  };
}

}  // namespace skr::ctl
