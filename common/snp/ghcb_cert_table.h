// The GHCB certificate table that SNP_GET_EXT_REPORT and configfs-tsm's auxblob return (GHCB spec
// #56421 "SNP Extended Guest Request"; spec/azure-wire.md §7.1): entries {GUID[16], u32 offset,
// u32 length} terminated by an all-zero entry, offsets relative to the start of the buffer, each
// certificate DER. Parsing is bounded: the input is untrusted host data.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/bytes.h"
#include "common/core/status.h"
#include "common/snp/snp_device.h"

namespace skr::snp {

using Guid = std::array<uint8_t, 16>;

// GUIDs in their text form (spec §7.1).
inline constexpr std::string_view kVcekGuid = "63da758d-e664-4564-adc5-f4b93be8accd";
inline constexpr std::string_view kVlekGuid = "a8074bc2-a25a-483e-aae6-39c045a0b8a1";
inline constexpr std::string_view kAskGuid = "4ab7b379-bbac-4fe4-a02f-05aef327c782";
inline constexpr std::string_view kArkGuid = "c0b406a4-a803-4952-9743-3fb6014cd0ae";

inline constexpr std::size_t kCertTableEntrySize = 24;
inline constexpr std::size_t kMaxCertTableEntries = 64;

// Text GUID <-> the 16 stored bytes (first three fields little-endian, as in EFI_GUID).
StatusOr<Guid> guidFromString(std::string_view text);
std::string guidToString(const Guid& guid);

// Entries in table order. An empty buffer or a leading all-zero entry is an empty table.
// InvalidArgument for a missing terminator, more than kMaxCertTableEntries entries, a certificate
// outside the buffer or overlapping the table, or an empty certificate.
StatusOr<std::vector<CertTableEntry>> parseCertTable(ByteView buffer);

// The table followed by the certificates (no padding), as a host would supply it.
Bytes serializeCertTable(const std::vector<CertTableEntry>& entries);

}  // namespace skr::snp
