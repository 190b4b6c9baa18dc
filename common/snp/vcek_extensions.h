// AMD's X.509 extensions on VCEK and VLEK certificates (AMD KDS spec #57230 "VCEK certificate
// extensions"; spec/azure-wire.md §5.4): product name, the TCB the key was derived for and, on
// VCEKs, the chip's hwID. Parsed with a small bounded DER reader: every value is one short DER
// element and anything else is rejected with InvalidArgument naming the OID.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "common/core/bytes.h"
#include "common/core/status.h"
#include "common/crypto/x509.h"
#include "common/snp/report.h"

namespace skr::snp {

inline constexpr std::string_view kOidStructVersion = "1.3.6.1.4.1.3704.1.1";
inline constexpr std::string_view kOidProductName = "1.3.6.1.4.1.3704.1.2";
inline constexpr std::string_view kOidBlSpl = "1.3.6.1.4.1.3704.1.3.1";
inline constexpr std::string_view kOidTeeSpl = "1.3.6.1.4.1.3704.1.3.2";
inline constexpr std::string_view kOidSnpSpl = "1.3.6.1.4.1.3704.1.3.3";
inline constexpr std::string_view kOidSpl4 = "1.3.6.1.4.1.3704.1.3.4";
inline constexpr std::string_view kOidSpl5 = "1.3.6.1.4.1.3704.1.3.5";
inline constexpr std::string_view kOidSpl6 = "1.3.6.1.4.1.3704.1.3.6";
inline constexpr std::string_view kOidSpl7 = "1.3.6.1.4.1.3704.1.3.7";
inline constexpr std::string_view kOidUcodeSpl = "1.3.6.1.4.1.3704.1.3.8";
inline constexpr std::string_view kOidFmcSpl = "1.3.6.1.4.1.3704.1.3.9";  // Turin and later
inline constexpr std::string_view kOidHwid = "1.3.6.1.4.1.3704.1.4";

// Size limits of the values (AMD uses "Milan-B0"-style names, 64-byte or Turin 8-byte hwIDs).
inline constexpr std::size_t kMaxProductNameLength = 64;
inline constexpr std::size_t kHwidSize = 64;
inline constexpr std::size_t kTurinHwidSize = 8;

// What AMD's extensions say about a VCEK or VLEK.
struct VcekExtensions {
  std::optional<uint32_t> struct_version;       // .1.1, absent on some certificates
  std::string product_name;                     // .1.2, e.g. "Milan-B0"
  Generation generation = Generation::Unknown;  // from product_name, never kUnknown on success
  uint8_t bl_spl = 0;
  uint8_t tee_spl = 0;
  uint8_t snp_spl = 0;
  uint8_t spl4 = 0, spl5 = 0, spl6 = 0, spl7 = 0;  // reserved SPLs, 0 when absent
  uint8_t ucode_spl = 0;
  std::optional<uint8_t> fmc_spl;  // Turin and later; required there
  // The TCB the key was derived for, laid out for `generation` (spec §6.2) so it compares with
  // the report's REPORTED_TCB. Milan/Genoa: spl4..7 fill the reserved bytes 2..5.
  TcbVersion tcb;
  // VCEK only (VLEKs are not tied to a chip): 64 bytes; Turin 8 (or 64); nullopt when absent.
  std::optional<Bytes> hwid;
};

// One extension value, typed by OID: structVersion and SPLs -> uint32_t, productName ->
// std::string, hwID -> Bytes.
using VcekExtensionValue = std::variant<uint32_t, std::string, Bytes>;

// Parses the extnValue content `der` (as Certificate::extensionValue returns it) of one of the
// OIDs above. INTEGERs must be minimal DER and non-negative (SPLs <= 255, structVersion < 2^32);
// productName a printable IA5String of 1..64 characters; hwID 64 or 8 raw bytes (what AMD
// issues: the extnValue content is the chip ID itself) or the same bytes wrapped in an OCTET
// STRING. Unknown OID, trailing bytes or other encodings: InvalidArgument naming the OID.
StatusOr<VcekExtensionValue> parseVcekExtensionValue(std::string_view oid, ByteView der);

// Parses all of AMD's extensions of `certificate`. productName, blSPL, teeSPL, snpSPL and
// ucodeSPL are required (fmcSPL too for Turin); the product must name a known generation.
// InvalidArgument naming the certificate and the OID otherwise.
StatusOr<VcekExtensions> parseVcekExtensions(const crypto::Certificate& certificate);

// "bl=3 tee=0 snp=8 ucode=115" (Turin: "fmc=1 bl=... "), for messages.
std::string describeTcb(const TcbVersion& tcb);

}  // namespace skr::snp
