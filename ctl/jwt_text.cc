#include "ctl/jwt_text.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <chrono>
#include <sstream>

#include "common/core/rfc3339.h"
#include "common/crypto/x509.h"
#include "common/encoding/base64.h"
#include "common/encoding/printable.h"
#include "common/jose/jwk.h"

namespace skr::ctl {
namespace {

constexpr std::size_t kMaxTokenChars = 1024 * 1024;
constexpr std::size_t kMaxHeaderBytes = 64 * 1024;
constexpr std::size_t kMaxJwksKeys = 64;

std::string_view trim(std::string_view text) {
  const auto space = [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; };
  while (!text.empty() && space(text.front())) text.remove_prefix(1);
  while (!text.empty() && space(text.back())) text.remove_suffix(1);
  return text;
}

StatusOr<json::ObjectPtr> decodePart(std::string_view part, std::string_view name,
                                     std::size_t max_bytes) {
  StatusOr<Bytes> bytes = encoding::base64UrlDecode(part, max_bytes);
  if (!bytes.ok()) {
    return invalidArgumentError("JWT " + std::string(name) +
                                " is not base64url: " + bytes.status().message());
  }
  json::ParseLimits limits;
  limits.max_bytes = max_bytes;
  limits.max_string_bytes = max_bytes;
  StatusOr<json::ObjectPtr> object = json::parseObject(toString(*bytes), limits);
  if (!object.ok()) {
    return invalidArgumentError("JWT " + std::string(name) +
                                " is not a JSON object: " + object.status().message());
  }
  return object;
}

void appendValue(std::ostringstream& out, const Poco::Dynamic::Var& value, std::string_view name,
                 int indent);

void appendObject(std::ostringstream& out, const json::ObjectPtr& object, int indent) {
  for (const auto& member : *object) {
    appendValue(out, member.second, encoding::printable(member.first, 128), indent);
  }
}

void appendValue(std::ostringstream& out, const Poco::Dynamic::Var& value, std::string_view name,
                 int indent) {
  const std::string pad(static_cast<std::size_t>(indent) * 2, ' ');
  if (StatusOr<json::ObjectPtr> object = json::asObject(value, name); object.ok()) {
    out << pad << name << ":" << ((*object)->size() == 0 ? " {}" : "") << "\n";
    appendObject(out, *object, indent + 1);
    return;
  }
  if (StatusOr<json::ArrayPtr> array = json::asArray(value, name); array.ok()) {
    out << pad << name << ":" << ((*array)->size() == 0 ? " []" : "") << "\n";
    for (std::size_t i = 0; i < (*array)->size(); ++i) {
      appendValue(out, (*array)->get(static_cast<unsigned>(i)), "[" + std::to_string(i) + "]",
                  indent + 1);
    }
    return;
  }
  if (StatusOr<std::string> text = json::asString(value, name); text.ok()) {
    out << pad << name << ": " << shortenForDisplay(*text) << "\n";
    return;
  }
  StatusOr<std::string> scalar = json::serializeCanonical(value);
  out << pad << name << ": " << (scalar.ok() ? *scalar : std::string("?")) << "\n";
  int64_t seconds = 0;
  if ((name == "exp" || name == "nbf" || name == "iat") && json::asSigned(value, seconds) &&
      seconds > -9'000'000'000 && seconds < 9'000'000'000) {
    out.seekp(-1, std::ios_base::cur);
    out << " (" << formatRfc3339(SystemTime(std::chrono::seconds(seconds))) << ")\n";
  }
}

}  // namespace

std::string shortenForDisplay(std::string_view value) {
  if (value.size() <= kShortenAbove) return encoding::printable(value, kShortenAbove);
  return encoding::printable(value.substr(0, kShortPrefix), kShortPrefix) + "\xE2\x80\xA6(" +
         std::to_string(value.size()) + " chars)";
}

StatusOr<std::string> compactJwsOf(std::string_view text) {
  text = trim(text);
  if (text.size() > kMaxTokenChars) {
    return invalidArgumentError("token is " + std::to_string(text.size()) + " bytes, at most " +
                                std::to_string(kMaxTokenChars));
  }
  if (text.empty()) return invalidArgumentError("the file is empty");
  if (text.front() != '{') return std::string(text);
  json::ParseLimits limits;
  limits.max_bytes = kMaxTokenChars;
  limits.max_string_bytes = kMaxTokenChars;
  StatusOr<json::ObjectPtr> object = json::parseObject(text, limits);
  if (!object.ok()) {
    return invalidArgumentError("not a compact JWS, and not a JSON object: " +
                                object.status().message());
  }
  for (const char* member : {"token", "value"}) {
    if ((*object)->has(member)) {
      StatusOr<std::string> compact = json::getString(*object, member);
      if (!compact.ok()) return compact.status();
      return std::string(trim(*compact));
    }
  }
  return invalidArgumentError(
      "a JSON object without 'token' (MAA answer) or 'value' (AKV release answer)");
}

StatusOr<UnverifiedJwt> decodeUnverifiedJwt(std::string_view text) {
  SKR_ASSIGN_OR_RETURN(std::string compact, compactJwsOf(text));
  const std::size_t first = compact.find('.');
  const std::size_t second = first == std::string::npos ? first : compact.find('.', first + 1);
  if (second == std::string::npos || compact.find('.', second + 1) != std::string::npos) {
    return invalidArgumentError(
        "not a compact JWS: expected three base64url parts separated by "
        "'.' (a JWE or a truncated token?)");
  }
  UnverifiedJwt out;
  SKR_ASSIGN_OR_RETURN(out.header, decodePart(std::string_view(compact).substr(0, first), "header",
                                              kMaxHeaderBytes));
  SKR_ASSIGN_OR_RETURN(out.claims,
                       decodePart(std::string_view(compact).substr(first + 1, second - first - 1),
                                  "payload", kMaxTokenChars));
  out.compact = std::move(compact);
  return out;
}

std::string refusedAlgorithmReason(std::string_view alg) {
  std::string lower(alg);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "none" || lower.empty()) {
    return "alg '" + encoding::printable(alg, 16) +
           "' is refused: an unsigned token proves nothing about its issuer";
  }
  if (lower.rfind("hs", 0) == 0) {
    return "alg '" + encoding::printable(alg, 16) +
           "' (HMAC) is refused: it needs a shared secret, and anyone holding it can mint tokens; "
           "MAA and AKV sign with RS256";
  }
  return {};
}

StatusOr<std::vector<std::pair<std::string, crypto::PublicKey>>> parseJwksKeys(
    std::string_view text) {
  json::ParseLimits limits;
  limits.max_bytes = 1024 * 1024;
  limits.max_depth = 8;
  SKR_ASSIGN_OR_RETURN(json::ObjectPtr top, json::parseObject(text, limits));
  std::vector<json::ObjectPtr> entries;
  if (top->has("keys")) {
    SKR_ASSIGN_OR_RETURN(json::ArrayPtr keys, json::getArray(top, "keys"));
    if (keys->size() > kMaxJwksKeys) {
      return invalidArgumentError("JWKS has " + std::to_string(keys->size()) + " keys, at most " +
                                  std::to_string(kMaxJwksKeys));
    }
    for (std::size_t i = 0; i < keys->size(); ++i) {
      StatusOr<json::ObjectPtr> entry = json::getObject(keys, i, "member 'keys'");
      if (entry.ok()) entries.push_back(*entry);
    }
  } else {
    entries.push_back(top);  // a single JWK
  }
  std::vector<std::pair<std::string, crypto::PublicKey>> out;
  for (const json::ObjectPtr& entry : entries) {
    StatusOr<std::optional<std::string>> kid = json::getOptionalString(entry, "kid");
    const std::string name = kid.ok() && kid->has_value() ? **kid : std::string();
    if (entry->has("x5c")) {
      StatusOr<std::vector<std::string>> x5c = json::getStringArray(entry, "x5c");
      if (!x5c.ok() || x5c->empty()) continue;
      StatusOr<Bytes> der = encoding::base64Decode(x5c->front(), 64 * 1024);
      if (!der.ok()) continue;
      StatusOr<crypto::Certificate> cert = crypto::Certificate::fromDer(*der);
      if (!cert.ok()) continue;
      out.emplace_back(name, cert->publicKey());
      continue;
    }
    StatusOr<jose::Jwk> jwk = jose::Jwk::fromJson(entry);
    if (!jwk.ok()) continue;
    StatusOr<const crypto::PublicKey*> key = jwk->publicKey();
    if (!key.ok()) continue;
    StatusOr<crypto::PublicKey> copy = crypto::PublicKey::fromSpkiDer((*key)->toSpkiDer());
    if (copy.ok()) out.emplace_back(name, std::move(copy).value());
  }
  if (out.empty()) {
    return invalidArgumentError("no usable key (RSA or EC, from x5c or n/e or crv/x/y)");
  }
  return out;
}

std::string jsonToText(const json::ObjectPtr& object, int indent) {
  std::ostringstream out;
  appendObject(out, object, indent);
  return out.str();
}

}  // namespace skr::ctl
