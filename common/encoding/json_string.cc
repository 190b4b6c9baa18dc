#include "common/encoding/json_string.h"

#include <cstdint>

#include "common/encoding/utf8.h"

namespace skr::json {

namespace {

constexpr char kHex[] = "0123456789abcdef";

// Writes into secret storage through the std::string operations appendQuotedImpl uses, so a
// secret is never copied into an ordinary string.
class SecretOut {
 public:
  explicit SecretOut(SecretBytes& out) : out_(out) {}
  void push_back(char c) { out_.append(ByteView(reinterpret_cast<const uint8_t*>(&c), 1)); }
  void append(std::string_view text) { out_.append(asBytes(text)); }
  SecretOut& operator+=(std::string_view text) {
    append(text);
    return *this;
  }

 private:
  SecretBytes& out_;
};

template <typename Out>
void appendEscape(Out& out, uint32_t code_point) {
  out += "\\u";
  for (int shift = 12; shift >= 0; shift -= 4) out.push_back(kHex[(code_point >> shift) & 0xF]);
}

// The length of the well-formed UTF-8 sequence at s[i] (RFC 3629: no overlong forms, no
// surrogates, at most U+10FFFF) and its code point; 0 when the bytes there are not one.
std::size_t utf8Sequence(std::string_view s, std::size_t i, uint32_t& code_point) {
  const auto c = static_cast<unsigned char>(s[i]);
  std::size_t length = 0;
  if (c >= 0xc2 && c <= 0xdf) {
    length = 2;
    code_point = c & 0x1fU;
  } else if (c >= 0xe0 && c <= 0xef) {
    length = 3;
    code_point = c & 0x0fU;
  } else if (c >= 0xf0 && c <= 0xf4) {
    length = 4;
    code_point = c & 0x07U;
  } else {
    return 0;
  }
  if (i + length > s.size()) return 0;
  for (std::size_t k = 1; k < length; ++k) {
    const auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xc0U) != 0x80U) return 0;
    code_point = (code_point << 6) | (cc & 0x3fU);
  }
  if ((length == 3 && code_point < 0x800) ||
      (length == 4 && (code_point < 0x10000 || code_point > 0x10ffff)) ||
      (code_point >= 0xd800 && code_point <= 0xdfff)) {
    return 0;
  }
  return length;
}

bool invisibleOrReordering(uint32_t cp) {
  return (cp >= 0x80 && cp <= 0x9f) || cp == 0x200e || cp == 0x200f ||
         (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x2028 ||
         cp == 0x2029;
}

// Printable ASCII that JSON takes as it is: copied in runs, not byte by byte (the agent quotes
// every member of every audit line and answer).
constexpr bool plainAscii(unsigned char u) {
  return u >= 0x20 && u < 0x7f && u != '"' && u != '\\';
}

template <typename Out>
void appendQuotedImpl(Out& out, std::string_view value, bool printable_only) {
  out.push_back('"');
  for (std::size_t i = 0; i < value.size(); ++i) {
    std::size_t run = i;
    while (run < value.size() && plainAscii(static_cast<unsigned char>(value[run]))) ++run;
    if (run > i) {
      out.append(value.substr(i, run - i));
      i = run;
      if (i == value.size()) break;
    }
    const char c = value[i];
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x80) {
      uint32_t code_point = 0;
      const std::size_t length = utf8Sequence(value, i, code_point);
      if (length == 0) {
        appendEscape(out, u);  // a byte that is not UTF-8: shown as its Latin-1 code point
      } else if (printable_only && invisibleOrReordering(code_point)) {
        appendEscape(out, code_point);
        i += length - 1;
      } else {
        out.append(value.substr(i, length));
        i += length - 1;
      }
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (u < 0x20 || (printable_only && u == 0x7f)) {
          appendEscape(out, u);
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

}  // namespace

void appendQuoted(std::string& out, std::string_view value) {
  appendQuotedImpl(out, value, false);
}

void appendQuoted(SecretBytes& out, std::string_view value) {
  SecretOut sink(out);
  appendQuotedImpl(sink, value, false);
}

void appendQuotedPrintable(std::string& out, std::string_view value) {
  appendQuotedImpl(out, value, true);
}

std::optional<std::size_t> firstNonUtf8Byte(std::string_view value) {
  for (std::size_t i = 0; i < value.size();) {
    if (static_cast<unsigned char>(value[i]) < 0x80) {
      ++i;
      continue;
    }
    uint32_t code_point = 0;
    const std::size_t length = utf8Sequence(value, i, code_point);
    if (length == 0) return i;
    i += length;
  }
  return std::nullopt;
}

bool isReadableUtf8(std::string_view value) {
  for (std::size_t i = 0; i < value.size();) {
    if (static_cast<unsigned char>(value[i]) < 0x80) {
      ++i;
      continue;
    }
    uint32_t code_point = 0;
    const std::size_t length = utf8Sequence(value, i, code_point);
    if (length == 0 || invisibleOrReordering(code_point)) return false;
    i += length;
  }
  return true;
}

}  // namespace skr::json
