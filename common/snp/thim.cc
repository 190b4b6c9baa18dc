#include "common/snp/thim.h"

#include <utility>

#include "common/encoding/base64.h"
#include "common/json/json.h"

namespace skr::snp {
namespace {

constexpr std::size_t kMaxCacheControlDigits = 9;  // fits uint32_t; a day is 5 digits

bool isHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

constexpr std::string_view kAsciiWhitespace = " \t\r\n";

std::string_view trimAsciiWhitespace(std::string_view s) {
  const std::size_t begin = s.find_first_not_of(kAsciiWhitespace);
  if (begin == std::string_view::npos) return {};
  const std::size_t end = s.find_last_not_of(kAsciiWhitespace);
  return s.substr(begin, end - begin + 1);
}

StatusOr<uint64_t> parseTcbm(const std::string& tcbm) {
  if (tcbm.size() != 16) {
    return invalidArgumentError("THIM member 'tcbm' is " + std::to_string(tcbm.size()) +
                                " characters, expected 16 hex digits");
  }
  uint64_t value = 0;
  for (std::size_t i = 0; i < tcbm.size(); ++i) {
    const char c = tcbm[i];
    if (!isHexDigit(c)) {
      return invalidArgumentError("THIM member 'tcbm': character at offset " + std::to_string(i) +
                                  " is not a hex digit");
    }
    const uint64_t nibble =
        c <= '9' ? static_cast<uint64_t>(c - '0') : static_cast<uint64_t>((c | 0x20) - 'a' + 10);
    value = (value << 4) | nibble;
  }
  return value;
}

StatusOr<uint32_t> parseCacheControl(const std::string& text) {
  if (text.empty() || text.size() > kMaxCacheControlDigits) {
    return invalidArgumentError("THIM member 'cacheControl' is " + std::to_string(text.size()) +
                                " characters, expected 1.." +
                                std::to_string(kMaxCacheControlDigits) + " digits");
  }
  uint32_t value = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') {
      return invalidArgumentError("THIM member 'cacheControl': character at offset " +
                                  std::to_string(i) + " is not a decimal digit");
    }
    value = value * 10 + static_cast<uint32_t>(text[i] - '0');
  }
  return value;
}

}  // namespace

StatusOr<ThimCertification> parseThimJson(std::string_view text) {
  if (text.size() > kMaxThimJsonBytes) {
    return resourceExhaustedError("THIM JSON is " + std::to_string(text.size()) + " bytes, limit " +
                                  std::to_string(kMaxThimJsonBytes));
  }
  json::ParseLimits limits;
  limits.max_bytes = kMaxThimJsonBytes;
  limits.max_depth = 4;
  limits.max_string_bytes = kMaxThimJsonBytes;
  StatusOr<json::ObjectPtr> parsed = json::parseObject(text, limits);
  if (!parsed.ok()) return parsed.status().withContext("THIM JSON");
  const json::ObjectPtr& object = *parsed;

  StatusOr<std::string> vcek_pem = json::getString(object, "vcekCert");
  if (!vcek_pem.ok()) return vcek_pem.status().withContext("THIM JSON");
  StatusOr<crypto::Certificate> vcek = crypto::Certificate::fromPem(*vcek_pem);
  if (!vcek.ok()) return vcek.status().withContext("THIM member 'vcekCert'");

  StatusOr<std::string> tcbm = json::getString(object, "tcbm");
  if (!tcbm.ok()) return tcbm.status().withContext("THIM JSON");
  SKR_ASSIGN_OR_RETURN(uint64_t tcbm_value, parseTcbm(*tcbm));

  std::vector<crypto::Certificate> chain;
  StatusOr<std::optional<std::string>> chain_pem =
      json::getOptionalString(object, "certificateChain");
  if (!chain_pem.ok()) return chain_pem.status().withContext("THIM JSON");
  if (*chain_pem && !trimAsciiWhitespace(**chain_pem).empty()) {
    StatusOr<std::vector<crypto::Certificate>> certs =
        crypto::Certificate::parsePemBundle(**chain_pem, kMaxThimChainCertificates);
    if (!certs.ok()) return certs.status().withContext("THIM member 'certificateChain'");
    chain = std::move(certs).value();
  }

  std::optional<uint32_t> cache_control;
  StatusOr<std::optional<std::string>> cache_text = json::getOptionalString(object, "cacheControl");
  if (!cache_text.ok()) return cache_text.status().withContext("THIM JSON");
  if (*cache_text) {
    SKR_ASSIGN_OR_RETURN(cache_control, parseCacheControl(**cache_text));
  }

  return ThimCertification{std::move(vcek).value(), std::move(chain), std::move(tcbm).value(),
                           tcbm_value, cache_control};
}

StatusOr<ThimCertification> parseHostAmdCert(std::string_view content) {
  const std::string_view trimmed = trimAsciiWhitespace(content);
  if (!trimmed.empty() && trimmed.front() == '{') return parseThimJson(trimmed);
  // base64 is 4/3 of the JSON; bound the text before decoding.
  if (trimmed.size() > (kMaxThimJsonBytes / 3 + 1) * 4) {
    return resourceExhaustedError("host-amd-cert-base64 is " + std::to_string(trimmed.size()) +
                                  " bytes, limit " +
                                  std::to_string((kMaxThimJsonBytes / 3 + 1) * 4));
  }
  StatusOr<Bytes> decoded = encoding::base64Decode(trimmed, kMaxThimJsonBytes);
  if (!decoded.ok()) return decoded.status().withContext("host-amd-cert-base64");
  StatusOr<ThimCertification> parsed = parseThimJson(toString(*decoded));
  if (!parsed.ok()) return parsed.status().withContext("host-amd-cert-base64");
  return parsed;
}

}  // namespace skr::snp
