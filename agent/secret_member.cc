#include "agent/secret_member.h"

#include <cstdint>

namespace skr::agent {
namespace {

bool isSpace(uint8_t c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// The index just past the string starting at `open` (a '"'), or npos when unterminated.
std::size_t skipString(ByteView text, std::size_t open) {
  for (std::size_t i = open + 1; i < text.size(); ++i) {
    if (text[i] == '\\') {
      ++i;
    } else if (text[i] == '"') {
      return i + 1;
    }
  }
  return std::string_view::npos;
}

std::string_view asText(ByteView bytes, std::size_t from, std::size_t to) {
  return {reinterpret_cast<const char*>(bytes.data()) + from, to - from};
}

}  // namespace

StatusOr<SecretMemberSplit> splitSecretMember(const SecretBytes& body, std::string_view member) {
  const ByteView text = body.view(grantSecretAccess());
  SecretMemberSplit out;
  // Where the secret string's content lies: [cut_from, cut_to) is left out of `redacted`.
  std::size_t cut_from = 0, cut_to = 0;

  std::size_t i = 0;
  while (i < text.size() && isSpace(text[i])) ++i;
  if (i == text.size() || text[i] != '{') {
    out.redacted.assign(asText(text, 0, text.size()));
    return out;
  }
  int depth = 0;
  bool expect_name = false;  // at depth 1, right after '{' or ','
  for (; i < text.size(); ++i) {
    const uint8_t c = text[i];
    if (c == '{' || c == '[') {
      ++depth;
      expect_name = depth == 1 && c == '{';
    } else if (c == '}' || c == ']') {
      --depth;
      if (depth <= 0) break;
    } else if (c == ',') {
      expect_name = depth == 1;
    } else if (c == '"') {
      const std::size_t end = skipString(text, i);
      if (end == std::string_view::npos) break;  // unterminated: the parser will say so
      if (!(depth == 1 && expect_name)) {
        i = end - 1;
        continue;
      }
      expect_name = false;
      const bool ours = asText(text, i + 1, end - 1) == member;
      // The ':' and the value's first byte.
      std::size_t j = end;
      while (j < text.size() && isSpace(text[j])) ++j;
      if (j < text.size() && text[j] == ':') ++j;
      while (j < text.size() && isSpace(text[j])) ++j;
      if (ours && j < text.size() && text[j] == '"') {
        if (out.value) {
          return invalidArgumentError("member '" + std::string(member) + "' appears twice");
        }
        const std::size_t value_end = skipString(text, j);
        if (value_end == std::string_view::npos) break;
        SecretBytes value;
        for (std::size_t k = j + 1; k + 1 < value_end; ++k) {
          uint8_t b = text[k];
          if (b < 0x20) {
            return invalidArgumentError("member '" + std::string(member) +
                                        "' holds a control character");
          }
          if (b == '\\') {
            b = text[++k];
            if (b != '/' && b != '\\' && b != '"') {
              return invalidArgumentError("member '" + std::string(member) +
                                          "' holds an escape sequence base64 never needs");
            }
          }
          value.append(ByteView(&b, 1));
        }
        out.value = std::move(value);
        cut_from = j + 1;
        cut_to = value_end - 1;
        i = value_end - 1;
      } else {
        i = end - 1;
      }
    }
  }
  out.redacted.reserve(text.size() - (cut_to - cut_from));
  out.redacted.append(asText(text, 0, cut_from));
  out.redacted.append(asText(text, cut_to, text.size()));
  return out;
}

}  // namespace skr::agent
