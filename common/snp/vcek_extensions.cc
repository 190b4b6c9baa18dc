#include "common/snp/vcek_extensions.h"

#include <array>
#include <utility>

#include "common/encoding/hex.h"

namespace skr::snp {
namespace {

constexpr uint8_t kTagInteger = 0x02;
constexpr uint8_t kTagOctetString = 0x04;
constexpr uint8_t kTagIa5String = 0x16;

enum class ValueKind { StructVersion, Spl, ProductName, Hwid };

struct KnownOid {
  std::string_view oid;
  std::string_view name;
  ValueKind kind;
};

constexpr std::array<KnownOid, 12> kKnownOids{{
    {kOidStructVersion, "structVersion", ValueKind::StructVersion},
    {kOidProductName, "productName", ValueKind::ProductName},
    {kOidBlSpl, "blSPL", ValueKind::Spl},
    {kOidTeeSpl, "teeSPL", ValueKind::Spl},
    {kOidSnpSpl, "snpSPL", ValueKind::Spl},
    {kOidSpl4, "spl_4", ValueKind::Spl},
    {kOidSpl5, "spl_5", ValueKind::Spl},
    {kOidSpl6, "spl_6", ValueKind::Spl},
    {kOidSpl7, "spl_7", ValueKind::Spl},
    {kOidUcodeSpl, "ucodeSPL", ValueKind::Spl},
    {kOidFmcSpl, "fmcSPL", ValueKind::Spl},
    {kOidHwid, "hwID", ValueKind::Hwid},
}};

const KnownOid* findOid(std::string_view oid) {
  for (const KnownOid& known : kKnownOids) {
    if (known.oid == oid) return &known;
  }
  return nullptr;
}

std::string where(const KnownOid& known) {
  return "VCEK extension " + std::string(known.name) + " (" + std::string(known.oid) + ")";
}

// One DER TLV with a single-byte tag. `der` must hold exactly that element.
struct DerElement {
  uint8_t tag = 0;
  ByteView content;
};

// Reads exactly one element; definite lengths in minimal form only (X.690 §10.1), at most 2
// length octets (the values here are far below 64 KiB).
StatusOr<DerElement> readSingleElement(const KnownOid& known, ByteView der) {
  if (der.size() < 2) {
    return invalidArgumentError(where(known) + ": value is " + std::to_string(der.size()) +
                                " bytes, expected a DER element of at least 2");
  }
  const uint8_t tag = der[0];
  if ((tag & 0x1f) == 0x1f) {
    return invalidArgumentError(where(known) + ": multi-byte DER tags are not expected");
  }
  std::size_t length = 0;
  std::size_t header = 2;
  const uint8_t first = der[1];
  if (first < 0x80) {
    length = first;
  } else if (first == 0x80) {
    return invalidArgumentError(where(known) + ": indefinite length is not DER");
  } else {
    const std::size_t octets = first & 0x7f;
    if (octets > 2) {
      return invalidArgumentError(where(known) + ": length uses " + std::to_string(octets) +
                                  " octets, expected at most 2");
    }
    if (der.size() < 2 + octets) {
      return invalidArgumentError(where(known) + ": truncated length");
    }
    for (std::size_t i = 0; i < octets; ++i) length = (length << 8) | der[2 + i];
    if (der[2] == 0 || length < 0x80) {
      return invalidArgumentError(where(known) + ": length " + std::to_string(length) +
                                  " is not in minimal DER form");
    }
    header = 2 + octets;
  }
  if (der.size() - header != length) {
    return invalidArgumentError(where(known) + ": DER length says " + std::to_string(length) +
                                " content bytes, value has " + std::to_string(der.size() - header));
  }
  return DerElement{tag, der.subspan(header)};
}

StatusOr<uint32_t> readSmallInteger(const KnownOid& known, ByteView der, uint32_t max_value) {
  SKR_ASSIGN_OR_RETURN(DerElement element, readSingleElement(known, der));
  if (element.tag != kTagInteger) {
    return invalidArgumentError(where(known) + ": tag 0x" +
                                encoding::hexEncode(ByteView(&der[0], 1)) +
                                ", expected INTEGER (0x02)");
  }
  ByteView content = element.content;
  if (content.empty()) return invalidArgumentError(where(known) + ": empty INTEGER");
  if (content[0] & 0x80) return invalidArgumentError(where(known) + ": negative INTEGER");
  if (content.size() > 1 && content[0] == 0 && !(content[1] & 0x80)) {
    return invalidArgumentError(where(known) + ": INTEGER is not in minimal DER form");
  }
  // A leading 0x00 sign octet plus at most 4 value octets.
  if (content.size() > 5 || (content.size() == 5 && content[0] != 0)) {
    return invalidArgumentError(where(known) + ": INTEGER of " + std::to_string(content.size()) +
                                " bytes is out of range (max " + std::to_string(max_value) + ")");
  }
  uint64_t value = 0;
  for (uint8_t b : content) value = (value << 8) | b;
  if (value > max_value) {
    return invalidArgumentError(where(known) + ": value " + std::to_string(value) +
                                " is out of range (max " + std::to_string(max_value) + ")");
  }
  return static_cast<uint32_t>(value);
}

StatusOr<std::string> readProductName(const KnownOid& known, ByteView der) {
  SKR_ASSIGN_OR_RETURN(DerElement element, readSingleElement(known, der));
  if (element.tag != kTagIa5String) {
    return invalidArgumentError(where(known) + ": tag 0x" +
                                encoding::hexEncode(ByteView(&der[0], 1)) +
                                ", expected IA5String (0x16)");
  }
  if (element.content.empty() || element.content.size() > kMaxProductNameLength) {
    return invalidArgumentError(where(known) + ": " + std::to_string(element.content.size()) +
                                " characters, expected 1.." +
                                std::to_string(kMaxProductNameLength));
  }
  for (std::size_t i = 0; i < element.content.size(); ++i) {
    const uint8_t c = element.content[i];
    if (c < 0x20 || c > 0x7e) {
      return invalidArgumentError(where(known) + ": character at offset " + std::to_string(i) +
                                  " is not printable ASCII");
    }
  }
  return toString(element.content);
}

bool isHwidSize(std::size_t size) {
  return size == kHwidSize || size == kTurinHwidSize;
}

StatusOr<Bytes> readHwid(const KnownOid& known, ByteView der) {
  // AMD puts the chip ID itself into extnValue (tests/data/README.md); accept the OCTET STRING
  // wrapping too. The sizes tell them apart: 64/8 raw versus 66/10 wrapped.
  if (isHwidSize(der.size())) return Bytes(der.begin(), der.end());
  if (der.size() == kHwidSize + 2 || der.size() == kTurinHwidSize + 2) {
    SKR_ASSIGN_OR_RETURN(DerElement element, readSingleElement(known, der));
    if (element.tag == kTagOctetString && isHwidSize(element.content.size())) {
      return Bytes(element.content.begin(), element.content.end());
    }
  }
  return invalidArgumentError(where(known) + ": value is " + std::to_string(der.size()) +
                              " bytes, expected the 64-byte (Turin: 8-byte) chip ID, raw or in " +
                              "an OCTET STRING");
}

}  // namespace

StatusOr<VcekExtensionValue> parseVcekExtensionValue(std::string_view oid, ByteView der) {
  const KnownOid* known = findOid(oid);
  if (known == nullptr) {
    return invalidArgumentError("VCEK extension " + std::string(oid.substr(0, 64)) +
                                " is not one of AMD's known extensions");
  }
  switch (known->kind) {
    case ValueKind::StructVersion: {
      SKR_ASSIGN_OR_RETURN(uint32_t v, readSmallInteger(*known, der, 0xffffffffu));
      return VcekExtensionValue(v);
    }
    case ValueKind::Spl: {
      SKR_ASSIGN_OR_RETURN(uint32_t v, readSmallInteger(*known, der, 255));
      return VcekExtensionValue(v);
    }
    case ValueKind::ProductName: {
      SKR_ASSIGN_OR_RETURN(std::string name, readProductName(*known, der));
      return VcekExtensionValue(std::move(name));
    }
    case ValueKind::Hwid: {
      SKR_ASSIGN_OR_RETURN(Bytes hwid, readHwid(*known, der));
      return VcekExtensionValue(std::move(hwid));
    }
  }
  std::abort();  // unreachable: every ValueKind is handled above
}

namespace {

// The extension of `certificate` at `oid`, parsed; nullopt when absent.
StatusOr<std::optional<VcekExtensionValue>> optionalValue(const crypto::Certificate& certificate,
                                                          std::string_view oid) {
  SKR_ASSIGN_OR_RETURN(std::optional<Bytes> raw, certificate.extensionValue(oid));
  if (!raw) return std::optional<VcekExtensionValue>();
  SKR_ASSIGN_OR_RETURN(VcekExtensionValue value, parseVcekExtensionValue(oid, *raw));
  return std::optional<VcekExtensionValue>(std::move(value));
}

StatusOr<std::optional<uint8_t>> optionalSpl(const crypto::Certificate& certificate,
                                             std::string_view oid) {
  SKR_ASSIGN_OR_RETURN(std::optional<VcekExtensionValue> value, optionalValue(certificate, oid));
  if (!value) return std::optional<uint8_t>();
  return std::optional<uint8_t>(static_cast<uint8_t>(std::get<uint32_t>(*value)));
}

StatusOr<uint8_t> requiredSpl(const crypto::Certificate& certificate, std::string_view oid) {
  SKR_ASSIGN_OR_RETURN(std::optional<uint8_t> value, optionalSpl(certificate, oid));
  if (!value) {
    return invalidArgumentError("VCEK extension " + std::string(findOid(oid)->name) + " (" +
                                std::string(oid) + ") is missing");
  }
  return *value;
}

StatusOr<VcekExtensions> parseAll(const crypto::Certificate& certificate) {
  VcekExtensions out;
  SKR_ASSIGN_OR_RETURN(std::optional<VcekExtensionValue> version,
                       optionalValue(certificate, kOidStructVersion));
  if (version) out.struct_version = std::get<uint32_t>(*version);

  SKR_ASSIGN_OR_RETURN(std::optional<VcekExtensionValue> product,
                       optionalValue(certificate, kOidProductName));
  if (!product) {
    return invalidArgumentError("VCEK extension productName (" + std::string(kOidProductName) +
                                ") is missing");
  }
  out.product_name = std::get<std::string>(*product);
  out.generation = generationFromProductName(out.product_name);
  if (out.generation == Generation::Unknown) {
    return invalidArgumentError("VCEK extension productName (" + std::string(kOidProductName) +
                                "): '" + out.product_name +
                                "' names no known SEV-SNP generation (Milan, Genoa, Turin)");
  }

  SKR_ASSIGN_OR_RETURN(out.bl_spl, requiredSpl(certificate, kOidBlSpl));
  SKR_ASSIGN_OR_RETURN(out.tee_spl, requiredSpl(certificate, kOidTeeSpl));
  SKR_ASSIGN_OR_RETURN(out.snp_spl, requiredSpl(certificate, kOidSnpSpl));
  SKR_ASSIGN_OR_RETURN(out.ucode_spl, requiredSpl(certificate, kOidUcodeSpl));
  const std::array<std::pair<std::string_view, uint8_t*>, 4> reserved{
      {{kOidSpl4, &out.spl4}, {kOidSpl5, &out.spl5}, {kOidSpl6, &out.spl6}, {kOidSpl7, &out.spl7}}};
  for (const auto& [oid, field] : reserved) {
    SKR_ASSIGN_OR_RETURN(std::optional<uint8_t> value, optionalSpl(certificate, oid));
    *field = value.value_or(0);
  }
  SKR_ASSIGN_OR_RETURN(out.fmc_spl, optionalSpl(certificate, kOidFmcSpl));
  if (out.generation == Generation::Turin && !out.fmc_spl) {
    return invalidArgumentError("VCEK extension fmcSPL (" + std::string(kOidFmcSpl) +
                                ") is missing on a " + out.product_name + " certificate");
  }

  out.tcb = TcbVersion::compose(out.generation, out.bl_spl, out.tee_spl, out.snp_spl, out.ucode_spl,
                                out.fmc_spl.value_or(0));
  if (out.generation != Generation::Turin) {
    // Legacy layout (spec §6.2): spl_4..spl_7 are bytes 2..5 of the TCB_VERSION.
    out.tcb.raw |= (uint64_t{out.spl4} << 16) | (uint64_t{out.spl5} << 24) |
                   (uint64_t{out.spl6} << 32) | (uint64_t{out.spl7} << 40);
  }

  SKR_ASSIGN_OR_RETURN(std::optional<VcekExtensionValue> hwid,
                       optionalValue(certificate, kOidHwid));
  if (hwid) {
    Bytes bytes = std::get<Bytes>(std::move(*hwid));
    // Turin hwIDs are 8 bytes (KDS URLs use CHIP_ID[0..8]); accept a full 64-byte one there too,
    // the chip-id check compares whatever length the certificate carries.
    if (bytes.size() != kHwidSize && out.generation != Generation::Turin) {
      return invalidArgumentError("VCEK extension hwID (" + std::string(kOidHwid) + ") is " +
                                  std::to_string(bytes.size()) + " bytes, expected " +
                                  std::to_string(kHwidSize) + " for " + out.product_name);
    }
    out.hwid = std::move(bytes);
  }
  return out;
}

}  // namespace

StatusOr<VcekExtensions> parseVcekExtensions(const crypto::Certificate& certificate) {
  StatusOr<VcekExtensions> parsed = parseAll(certificate);
  if (!parsed.ok()) {
    return parsed.status().withContext("certificate '" + certificate.subjectOneLine() + "'");
  }
  return parsed;
}

std::string describeTcb(const TcbVersion& tcb) {
  std::string out;
  if (tcb.fmc) out += "fmc=" + std::to_string(*tcb.fmc) + " ";
  out += "bl=" + std::to_string(tcb.bootloader) + " tee=" + std::to_string(tcb.tee) +
         " snp=" + std::to_string(tcb.snp) + " ucode=" + std::to_string(tcb.microcode);
  return out;
}

}  // namespace skr::snp
