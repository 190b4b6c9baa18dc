#include "common/snp/ghcb_cert_table.h"

#include <algorithm>

namespace skr::snp {
namespace {

uint32_t readLe32(ByteView b, std::size_t off) {
  return static_cast<uint32_t>(b[off]) | static_cast<uint32_t>(b[off + 1]) << 8 |
         static_cast<uint32_t>(b[off + 2]) << 16 | static_cast<uint32_t>(b[off + 3]) << 24;
}

void appendLe32(Bytes& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Byte order of the text's 16 bytes in storage: fields 1-3 reversed (little-endian).
constexpr std::array<int, 16> kStorageIndex = {3, 2, 1,  0,  5,  4,  7,  6,
                                               8, 9, 10, 11, 12, 13, 14, 15};

}  // namespace

StatusOr<Guid> guidFromString(std::string_view text) {
  if (text.size() != 36 || text[8] != '-' || text[13] != '-' || text[18] != '-' ||
      text[23] != '-') {
    return invalidArgumentError("GUID '" + std::string(text) +
                                "' is not of the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx");
  }
  std::array<uint8_t, 16> in_order{};
  std::size_t n = 0;
  for (std::size_t i = 0; i < text.size(); i += (text[i] == '-') ? 1 : 2) {
    if (text[i] == '-') continue;
    const int hi = hexValue(text[i]);
    const int lo = hexValue(text[i + 1]);
    if (hi < 0 || lo < 0) {
      return invalidArgumentError("GUID '" + std::string(text) + "' has a non-hex digit");
    }
    in_order[n++] = static_cast<uint8_t>(hi << 4 | lo);
  }
  Guid out{};
  for (std::size_t i = 0; i < 16; ++i)
    out[i] = in_order[static_cast<std::size_t>(kStorageIndex[i])];
  return out;
}

std::string guidToString(const Guid& guid) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    const uint8_t b = guid[static_cast<std::size_t>(kStorageIndex[i])];
    out += kHex[b >> 4];
    out += kHex[b & 0xf];
  }
  return out;
}

StatusOr<std::vector<CertTableEntry>> parseCertTable(ByteView buffer) {
  std::vector<CertTableEntry> entries;
  for (std::size_t index = 0;; ++index) {
    const std::size_t off = index * kCertTableEntrySize;
    if (buffer.empty() && index == 0) return entries;
    if (off + kCertTableEntrySize > buffer.size()) {
      return invalidArgumentError("GHCB certificate table: no terminating all-zero entry within " +
                                  std::to_string(buffer.size()) + " bytes");
    }
    const ByteView entry = buffer.subspan(off, kCertTableEntrySize);
    if (std::all_of(entry.begin(), entry.end(), [](uint8_t b) { return b == 0; })) break;
    if (index == kMaxCertTableEntries) {
      return invalidArgumentError("GHCB certificate table: more than " +
                                  std::to_string(kMaxCertTableEntries) + " entries");
    }
    CertTableEntry parsed;
    std::copy(entry.begin(), entry.begin() + 16, parsed.guid.begin());
    const uint32_t cert_off = readLe32(entry, 16);
    const uint32_t cert_len = readLe32(entry, 20);
    const std::string what = "GHCB certificate table entry " + std::to_string(index) + " (" +
                             guidToString(parsed.guid) + ")";
    if (cert_len == 0) return invalidArgumentError(what + ": empty certificate");
    if (static_cast<uint64_t>(cert_off) + cert_len > buffer.size()) {
      return invalidArgumentError(what + ": certificate at " + std::to_string(cert_off) + "+" +
                                  std::to_string(cert_len) + " is outside the " +
                                  std::to_string(buffer.size()) + "-byte buffer");
    }
    parsed.der.assign(buffer.begin() + cert_off, buffer.begin() + cert_off + cert_len);
    entries.push_back(std::move(parsed));
  }
  // Certificates may not overlap the table itself (entries plus terminator).
  const std::size_t table_end = (entries.size() + 1) * kCertTableEntrySize;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const uint32_t cert_off = readLe32(buffer, i * kCertTableEntrySize + 16);
    if (cert_off < table_end) {
      return invalidArgumentError("GHCB certificate table entry " + std::to_string(i) + " (" +
                                  guidToString(entries[i].guid) + "): certificate at offset " +
                                  std::to_string(cert_off) + " overlaps the " +
                                  std::to_string(table_end) + "-byte table");
    }
  }
  return entries;
}

Bytes serializeCertTable(const std::vector<CertTableEntry>& entries) {
  Bytes out;
  std::size_t offset = (entries.size() + 1) * kCertTableEntrySize;
  for (const CertTableEntry& e : entries) {
    out.insert(out.end(), e.guid.begin(), e.guid.end());
    appendLe32(out, static_cast<uint32_t>(offset));
    appendLe32(out, static_cast<uint32_t>(e.der.size()));
    offset += e.der.size();
  }
  out.resize(out.size() + kCertTableEntrySize, 0);
  for (const CertTableEntry& e : entries) out.insert(out.end(), e.der.begin(), e.der.end());
  return out;
}

}  // namespace skr::snp
