// skrctl token show / token verify / jws verify / policy check: offline checks of the artifacts a
// user captured from real Azure (an MAA token, an AKV release response, a release policy). The
// verifiers are the ones skr-init uses (jose::Jws, MaaClient, azure::verifyReleaseResponse,
// ReleasePolicy::evaluate); this file only reads files, picks keys and prints.
#include <Poco/JSON/Object.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <thread>

#include "common/azure/key_vault_client.h"
#include "common/azure/maa_client.h"
#include "common/azure/release_policy.h"
#include "common/core/clock.h"
#include "common/core/rfc3339.h"
#include "common/crypto/x509.h"
#include "common/encoding/json_writer.h"
#include "common/encoding/printable.h"
#include "common/http/poco_http_transport.h"
#include "common/http/retry.h"
#include "common/jose/jws.h"
#include "common/jose/jwt.h"
#include "ctl/cli.h"
#include "ctl/commands.h"
#include "ctl/jwt_text.h"

namespace skr::ctl {
namespace {

constexpr std::size_t kMaxArtifactBytes = 1024 * 1024;

// The wall clock pinned at --at (or the real one); monotonic time and sleeping stay real, for
// the HTTP retry loop of --issuer.
class PinnedClock : public Clock {
 public:
  explicit PinnedClock(std::optional<SystemTime> at) : at_(at) {}
  SystemTime now() const override { return at_ ? *at_ : systemClock().now(); }
  std::chrono::steady_clock::time_point steadyNow() const override {
    return systemClock().steadyNow();
  }
  void sleepFor(std::chrono::milliseconds duration) override { systemClock().sleepFor(duration); }

 private:
  std::optional<SystemTime> at_;
};

bool onePositional(const ParsedArgs& args, Io& io, std::string_view command,
                   std::string_view what) {
  if (args.positionals().size() == 1) return true;
  io.err << "skrctl " << command << ": expected exactly one " << what << "\n";
  return false;
}

StatusOr<std::optional<SystemTime>> atOption(const ParsedArgs& args) {
  const std::optional<std::string> at = args.value("at");
  if (!at) return std::optional<SystemTime>();
  StatusOr<SystemTime> t = parseRfc3339(*at);
  if (!t.ok()) return t.status().withContext("--at");
  return std::optional<SystemTime>(*t);
}

std::string algOf(const json::ObjectPtr& header) {
  StatusOr<std::string> alg = json::getString(header, "alg");
  return alg.ok() ? *alg : std::string();
}

// ---- token show ----

int tokenShow(const ParsedArgs& args, Io& io) {
  if (!onePositional(args, io, "token show", "FILE")) return kExitUsage;
  const std::string& path = args.positionals()[0];
  StatusOr<std::string> text = readFile(path, kMaxArtifactBytes);
  if (!text.ok()) return fail(io, kExitUsage, text.status());
  StatusOr<UnverifiedJwt> jwt = decodeUnverifiedJwt(*text);
  if (!jwt.ok()) return fail(io, kExitUsage, jwt.status().withContext(path));
  if (args.has("json")) {
    StatusOr<std::string> claims = json::serializeCanonical(jwt->claims);
    if (!claims.ok()) return fail(io, kExitOutput, claims.status());
    io.out << *claims << "\n";
    return kExitOk;
  }
  io.out << "NOT VERIFIED (decoded only; use 'skrctl token verify')\nheader:\n"
         << jsonToText(jwt->header, 1) << "claims:\n"
         << jsonToText(jwt->claims, 1);
  return kExitOk;
}

// ---- token verify ----

// Exit code of a failed MaaClient / JOSE check: integrity (9) unless the input or the dependency
// was the problem.
int verifyExit(const Status& status) {
  if (status.details().cause == ErrorCause::Integrity) return kExitIntegrity;
  switch (status.code()) {
    case StatusCode::DataLoss:
    case StatusCode::Unauthenticated:
    case StatusCode::PermissionDenied: return kExitIntegrity;
    case StatusCode::Unavailable:
    case StatusCode::DeadlineExceeded: return kExitDependency;
    default: return kExitUsage;
  }
}

void printVerified(Io& io, const json::ObjectPtr& claims, const std::string& by) {
  io.out << "valid: " << by << "\n";
  for (const char* claim : {"iss", "x-ms-attestation-type", "x-ms-sevsnpvm-hostdata"}) {
    StatusOr<std::string> value = json::getString(claims, claim);
    if (value.ok()) io.out << claim << ": " << shortenForDisplay(*value) << "\n";
  }
  StatusOr<int64_t> exp = json::getInt(claims, "exp");
  // Within what SystemTime (int64 nanoseconds) holds, as formatRfc3339 needs.
  if (exp.ok() && *exp > -9'000'000'000 && *exp < 9'000'000'000) {
    io.out << "exp: " << formatRfc3339(SystemTime(std::chrono::seconds(*exp))) << "\n";
  }
}

int verifyWithIssuer(const std::string& path, const std::string& compact, const std::string& issuer,
                     const ParsedArgs& args, std::optional<SystemTime> at, Io& io) {
  http::PocoHttpTransportOptions transport_options;
  transport_options.ca_file = args.value("ca").value_or("");
  StatusOr<std::unique_ptr<http::PocoHttpTransport>> transport =
      http::PocoHttpTransport::create(transport_options);
  if (!transport.ok()) return fail(io, kExitUsage, transport.status().withContext("--ca"));
  PinnedClock clock(at);
  http::RandomJitter jitter;
  azure::MaaOptions options;
  options.endpoint = issuer;
  options.retry.max_attempts = 2;
  options.retry.overall_deadline = std::chrono::seconds(30);
  StatusOr<std::unique_ptr<azure::MaaClient>> client = azure::MaaClient::create(
      std::shared_ptr<http::HttpTransport>(std::move(transport).value()), clock, jitter, options);
  if (!client.ok()) return fail(io, kExitUsage, client.status().withContext("--issuer"));
  StatusOr<azure::MaaToken> token = (*client)->verifyIssuedToken(compact);
  if (!token.ok()) return fail(io, verifyExit(token.status()), token.status().withContext(path));
  printVerified(io, token->claims,
                "RS256 signature by a key of " + (*client)->endpoint() +
                    "/certs, iss, exp/nbf, x-ms-attestation-type sevsnpvm");
  return kExitOk;
}

int verifyWithJwks(const std::string& path, const std::string& compact,
                   const std::string& jwks_path, std::optional<SystemTime> at, Io& io) {
  StatusOr<std::string> jwks_text = readFile(jwks_path, kMaxArtifactBytes);
  if (!jwks_text.ok()) return fail(io, kExitUsage, jwks_text.status());
  StatusOr<std::vector<std::pair<std::string, crypto::PublicKey>>> keys = parseJwksKeys(*jwks_text);
  if (!keys.ok()) return fail(io, kExitUsage, keys.status().withContext(jwks_path));
  jose::JwsLimits limits;
  limits.max_compact_bytes = kMaxArtifactBytes;
  StatusOr<jose::Jws> jws = jose::Jws::parse(compact, limits);
  if (!jws.ok()) {
    const bool refused = jws.status().details().cause == ErrorCause::Integrity;
    return fail(io, refused ? kExitIntegrity : kExitUsage, jws.status().withContext(path));
  }
  const std::optional<std::string> kid = jws->kid();
  const crypto::PublicKey* key = nullptr;
  for (const auto& [name, candidate] : *keys) {
    if (kid ? name == *kid : keys->size() == 1) key = &candidate;
  }
  if (key == nullptr) {
    const std::string why = kid ? "kid " + encoding::quoted(*kid, 128) + " is not among the " +
                                      std::to_string(keys->size()) + " key(s) of " + jwks_path
                                : "the token has no kid and " + jwks_path + " holds " +
                                      std::to_string(keys->size()) + " keys";
    return fail(io, kExitIntegrity, dataLossError(why).withContext(path));
  }
  Status signature = jws->verify(*key);
  if (!signature.ok()) {
    return fail(io, kExitIntegrity,
                dataLossError("signature: " + signature.message()).withContext(path));
  }
  StatusOr<json::ObjectPtr> claims = jws->payloadJson();
  if (!claims.ok()) return fail(io, kExitUsage, claims.status().withContext(path));
  jose::ClaimCheck check;
  check.now = at ? *at : systemClock().now();
  check.require_exp = true;
  Status times = jose::checkClaims(*claims, check);
  if (!times.ok()) return fail(io, kExitIntegrity, times.withContext(path));
  printVerified(io, *claims,
                std::string(jose::jwsAlgorithmName(jws->algorithm())) + " signature by kid " +
                    encoding::quoted(kid.value_or(""), 128) + " of " + jwks_path +
                    ", exp/nbf/iat at " + formatRfc3339(check.now) + " (leeway 60 s)");
  return kExitOk;
}

int tokenVerify(const ParsedArgs& args, Io& io) {
  if (!onePositional(args, io, "token verify", "FILE")) return kExitUsage;
  const std::optional<std::string> jwks = args.value("jwks");
  const std::optional<std::string> issuer = args.value("issuer");
  if (jwks.has_value() == issuer.has_value()) {
    io.err << "skrctl token verify: give exactly one of --jwks FILE or --issuer URL\n";
    return kExitUsage;
  }
  if (jwks && args.has("ca")) {
    io.err << "skrctl token verify: --ca applies to --issuer only\n";
    return kExitUsage;
  }
  StatusOr<std::optional<SystemTime>> at = atOption(args);
  if (!at.ok()) return fail(io, kExitUsage, at.status());
  const std::string& path = args.positionals()[0];
  StatusOr<std::string> text = readFile(path, kMaxArtifactBytes);
  if (!text.ok()) return fail(io, kExitUsage, text.status());
  StatusOr<UnverifiedJwt> jwt = decodeUnverifiedJwt(*text);
  if (!jwt.ok()) return fail(io, kExitUsage, jwt.status().withContext(path));
  const std::string refused = refusedAlgorithmReason(algOf(jwt->header));
  if (!refused.empty()) {
    return fail(io, kExitIntegrity, dataLossError(refused).withContext(path));
  }
  if (issuer) return verifyWithIssuer(path, jwt->compact, *issuer, args, *at, io);
  return verifyWithJwks(path, jwt->compact, *jwks, *at, io);
}

// ---- jws verify ----

int jwsVerify(const ParsedArgs& args, Io& io) {
  if (!onePositional(args, io, "jws verify", "FILE")) return kExitUsage;
  StatusOr<std::optional<SystemTime>> at = atOption(args);
  if (!at.ok()) return fail(io, kExitUsage, at.status());
  const std::string& path = args.positionals()[0];
  StatusOr<std::string> text = readFile(path, kMaxArtifactBytes);
  if (!text.ok()) return fail(io, kExitUsage, text.status());
  StatusOr<std::string> compact = compactJwsOf(*text);
  if (!compact.ok()) return fail(io, kExitUsage, compact.status().withContext(path));
  std::vector<crypto::Certificate> anchors;
  const std::optional<std::string> ca = args.value("ca");
  if (ca) {
    StatusOr<std::string> pem = readFile(*ca, kMaxArtifactBytes);
    if (!pem.ok()) return fail(io, kExitUsage, pem.status());
    StatusOr<std::vector<crypto::Certificate>> certs = crypto::Certificate::parsePemBundle(*pem);
    if (!certs.ok()) return fail(io, kExitUsage, certs.status().withContext(*ca));
    anchors = std::move(certs).value();
  }
  json::Writer body;
  body.beginObject().member("value", *compact).endObject();
  const std::string host = *args.value("host");
  StatusOr<azure::VerifiedRelease> release =
      azure::verifyReleaseResponse(body.text(), host, anchors, at->value_or(systemClock().now()));
  if (!release.ok()) {
    const int code =
        release.status().code() == StatusCode::InvalidArgument ? kExitUsage : kExitIntegrity;
    return fail(io, code, release.status().withContext(path));
  }
  std::string signer;
  if (StatusOr<jose::Jws> jws = jose::Jws::parse(*compact, {kMaxArtifactBytes, 64 * 1024});
      jws.ok()) {
    if (StatusOr<std::vector<crypto::Certificate>> x5c = jws->x5c(); x5c.ok() && !x5c->empty()) {
      signer = " ('" + encoding::printable(x5c->front().subjectOneLine(), 256) + "')";
    }
  }
  io.out << "valid: RS256 signature by x5c[0]" << signer << ", chain to "
         << (ca ? *ca : std::string("the system trust store")) << ", valid for host "
         << encoding::printable(host, 256) << "\n";
  // key_hsm is the wrapped key: never printed, only its size.
  StatusOr<std::string> key_hsm = json::getString(release->key, "key_hsm");
  release->key->set("key_hsm",
                    "<elided: " + std::to_string(key_hsm.ok() ? key_hsm->size() : 0) + " bytes>");
  io.out << "payload:\n" << jsonToText(release->payload, 1);
  StatusOr<json::ObjectPtr> response = json::getObject(release->payload, "response");
  StatusOr<json::ObjectPtr> bundle = response.ok() ? json::getObject(*response, "key")
                                                   : StatusOr<json::ObjectPtr>(response.status());
  StatusOr<std::optional<json::ObjectPtr>> wire =
      bundle.ok() ? json::getOptionalObject(*bundle, "release_policy")
                  : StatusOr<std::optional<json::ObjectPtr>>(bundle.status());
  if (wire.ok() && wire->has_value()) {
    StatusOr<azure::ReleasePolicy> policy = azure::ReleasePolicy::fromWire(**wire);
    io.out << "release policy (response.key.release_policy.data, decoded): "
           << (policy.ok() ? policy->canonicalJson()
                           : "not decodable: " + policy.status().message())
           << "\n";
  } else {
    io.out << "release policy: none in the response\n";
  }
  return kExitOk;
}

// ---- policy check ----

StatusOr<azure::ReleasePolicy> readPolicy(const std::string& path) {
  SKR_ASSIGN_OR_RETURN(std::string text, readFile(path, azure::kMaxReleasePolicyBytes));
  json::ParseLimits limits;
  limits.max_bytes = azure::kMaxReleasePolicyBytes;
  StatusOr<json::ObjectPtr> object = json::parseObject(text, limits);
  if (!object.ok()) return object.status().withContext(path);
  // The release_policy member of a key bundle or create request, bare or wrapped.
  json::ObjectPtr wire;
  if ((*object)->has("release_policy")) {
    StatusOr<json::ObjectPtr> inner = json::getObject(*object, "release_policy");
    if (!inner.ok()) return inner.status().withContext(path);
    wire = *inner;
  } else if ((*object)->has("data") && !(*object)->has("anyOf") && !(*object)->has("allOf")) {
    wire = *object;
  }
  StatusOr<azure::ReleasePolicy> policy =
      wire ? azure::ReleasePolicy::fromWire(wire) : azure::ReleasePolicy::parse(text);
  if (!policy.ok()) return policy.status().withContext(path);
  return policy;
}

// The `claim` of every condition in a parsed policy, in policy order, without repeats.
void collectClaims(const Poco::Dynamic::Var& node, std::vector<std::string>& out) {
  if (StatusOr<json::ObjectPtr> object = json::asObject(node, "policy"); object.ok()) {
    StatusOr<std::optional<std::string>> claim = json::getOptionalString(*object, "claim");
    if (claim.ok() && claim->has_value() &&
        std::find(out.begin(), out.end(), **claim) == out.end()) {
      out.push_back(**claim);
    }
    for (const auto& member : **object) collectClaims(member.second, out);
  } else if (StatusOr<json::ArrayPtr> array = json::asArray(node, "policy"); array.ok()) {
    for (std::size_t i = 0; i < (*array)->size(); ++i) {
      collectClaims((*array)->get(static_cast<unsigned>(i)), out);
    }
  }
}

// The token's value of `claim` (dotted path into nested objects) in full, or "(absent)".
std::string claimValue(const json::ObjectPtr& claims, std::string_view claim) {
  json::ObjectPtr at = claims;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = claim.find('.', start);
    const std::string segment(
        claim.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (!at->has(segment)) return "(absent)";
    const Poco::Dynamic::Var value = at->get(segment);
    if (dot == std::string_view::npos) {
      if (StatusOr<std::string> text = json::asString(value, segment); text.ok()) {
        return encoding::printable(*text, 1024);
      }
      StatusOr<std::string> other = json::serializeCanonical(value);
      return other.ok() ? encoding::printable(*other, 1024) : "?";
    }
    StatusOr<json::ObjectPtr> next = json::asObject(value, segment);
    if (!next.ok()) return "(absent)";
    at = *next;
    start = dot + 1;
  }
}

int policyCheck(const ParsedArgs& args, Io& io) {
  if (args.positionals().size() != 2) {
    io.err << "skrctl policy check: expected POLICY and TOKEN\nusage: skrctl policy check POLICY "
              "TOKEN\n";
    return kExitUsage;
  }
  StatusOr<azure::ReleasePolicy> policy = readPolicy(args.positionals()[0]);
  if (!policy.ok()) return fail(io, kExitUsage, policy.status());
  const std::string& token_path = args.positionals()[1];
  StatusOr<std::string> text = readFile(token_path, kMaxArtifactBytes);
  if (!text.ok()) return fail(io, kExitUsage, text.status());
  StatusOr<UnverifiedJwt> jwt = decodeUnverifiedJwt(*text);
  if (!jwt.ok()) return fail(io, kExitUsage, jwt.status().withContext(token_path));
  StatusOr<std::optional<std::string>> iss = json::getOptionalString(jwt->claims, "iss");
  if (!iss.ok()) return fail(io, kExitUsage, iss.status().withContext(token_path));
  const azure::PolicyDecision decision =
      policy->evaluate(jwt->claims, iss->value_or(std::string()));
  io.out << (decision.allowed ? "allowed: " : "denied: ") << decision.reason << "\n";
  // The reason shortens long values; the claims the policy names, in full, to compare.
  std::vector<std::string> named;
  if (StatusOr<Poco::Dynamic::Var> tree = json::parse(policy->canonicalJson()); tree.ok()) {
    collectClaims(*tree, named);
  }
  io.out << "token claims the policy names:\n";
  for (const std::string& claim : named) {
    io.out << "  " << encoding::printable(claim, 256) << ": " << claimValue(jwt->claims, claim)
           << "\n";
  }
  io.out << "(token claims read without verifying the signature or lifetime)\n";
  return decision.allowed ? kExitOk : kExitReleaseDenied;
}

}  // namespace

std::vector<Command> verifyCommands() {
  std::vector<Command> commands;
  commands.push_back(Command{
      "token show",
      "token show FILE [--json]",
      "Decode an MAA token (or any JWT) and print its header and claims WITHOUT verifying it.",
      "FILE holds the compact JWS, or MAA's answer {\"token\": ...}. Strings over 128 characters\n"
      "are shortened (the first 24, then the length); exp/nbf/iat get their UTC time. --json\n"
      "prints the full claims as canonical JSON. Nothing is verified: see 'skrctl token verify'.\n"
      "Exit codes: 0 ok, 2 unreadable or not a JWT.",
      {{"json", false, "", "print the claims as canonical JSON"}},
      tokenShow});
  commands.push_back(Command{
      "token verify",
      "token verify FILE (--jwks FILE | --issuer URL [--ca FILE]) [--at RFC3339]",
      "Verify an MAA token (or any RS/PS/ES JWT) offline against a JWKS, or against its MAA.",
      "--jwks FILE: a JWKS such as MAA's /certs answer, saved; the key is the one whose kid the\n"
      "token names (from x5c[0], or n/e, or EC crv/x/y); then exp (required), nbf, iat at --at\n"
      "(default now) with 60 s leeway. --issuer URL: verified exactly as skr-init verifies MAA\n"
      "tokens (RS256, the key fetched from URL/certs over HTTPS, system trust store or --ca,\n"
      "iss == URL, exp/nbf with 300 s skew at --at, x-ms-attestation-type sevsnpvm, hostdata).\n"
      "alg none and HMAC (HS*) tokens are refused. Exit codes: 0 valid, 9 signature, key or\n"
      "claims invalid (or refused alg), 2 usage or not a JWT, 8 --issuer unreachable.",
      {{"jwks", true, "FILE", "JWKS (or one JWK) holding the signing key"},
       {"issuer", true, "URL", "MAA instance, e.g. https://sharedeus.eus.attest.azure.net"},
       {"ca", true, "FILE", "PEM CA bundle to trust for --issuer (default: system store)"},
       {"at", true, "RFC3339", "verification time, e.g. 2026-01-02T03:04:05Z"}},
      tokenVerify});
  commands.push_back(Command{
      "jws verify",
      "jws verify FILE --host HOST [--ca FILE] [--at RFC3339]",
      "Verify an AKV/Managed HSM key release response offline, as skr-init does.",
      "FILE is the response body {\"value\": \"<compact JWS>\"} or the bare JWS. Checks: RS256\n"
      "signature by x5c[0], the x5c chain to --ca (PEM bundle; default the system trust store)\n"
      "at --at (default now), x5c[0] valid for HOST, and the released key's kid on HOST (the\n"
      "vault's host[:port] as in its key ids). Prints the payload\n"
      "with key_hsm elided and the release policy decoded from response.key.release_policy.\n"
      "Exit codes: 0 valid, 9 signature, chain or host invalid, 2 usage or unparseable.",
      {{"host", true, "HOST", "vault host[:port], e.g. myvault.vault.azure.net", true},
       {"ca", true, "FILE", "PEM bundle of trusted roots (default: system store)"},
       {"at", true, "RFC3339", "verification time, e.g. 2026-01-02T03:04:05Z"}},
      jwsVerify});
  commands.push_back(Command{
      "policy check",
      "policy check POLICY TOKEN",
      "Explain whether a key release policy allows an MAA token, and which condition fails.",
      "POLICY is the policy JSON ({\"version\", \"anyOf\": [...]}, as 'skrctl release-policy'\n"
      "prints) or its wire form ({\"contentType\", \"data\": base64url}, as --wire prints, also\n"
      "inside {\"release_policy\": ...}). TOKEN is an MAA token file; its claims are read\n"
      "WITHOUT verifying the signature or lifetime (use 'skrctl token verify' for that). Prints\n"
      "the decision and, when denied, the failing condition's path, claim, expected and actual\n"
      "values: what AKV's 403 does not say. Exit codes: 0 allowed, 6 denied, 2 usage.",
      {},
      policyCheck});
  return commands;
}

}  // namespace skr::ctl
