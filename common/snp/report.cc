#include "common/snp/report.h"

#include <cstring>

namespace skr::snp {
namespace {

// Little-endian readers/writers over a fixed-size buffer; offsets are spec §6 constants.
class Reader {
 public:
  explicit Reader(ByteView bytes) : bytes_(bytes) {}
  uint8_t u8(std::size_t off) const { return bytes_[off]; }
  uint32_t u32(std::size_t off) const {
    uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = (v << 8) | bytes_[off + static_cast<std::size_t>(i)];
    return v;
  }
  uint64_t u64(std::size_t off) const {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | bytes_[off + static_cast<std::size_t>(i)];
    return v;
  }
  template <std::size_t N>
  void copy(std::size_t off, std::array<uint8_t, N>& out) const {
    std::memcpy(out.data(), bytes_.data() + off, N);
  }

 private:
  ByteView bytes_;
};

class Writer {
 public:
  explicit Writer(Bytes& bytes) : bytes_(bytes) {}
  void u8(std::size_t off, uint8_t v) { bytes_[off] = v; }
  void u32(std::size_t off, uint32_t v) {
    for (std::size_t i = 0; i < 4; ++i) bytes_[off + i] = static_cast<uint8_t>(v >> (8 * i));
  }
  void u64(std::size_t off, uint64_t v) {
    for (std::size_t i = 0; i < 8; ++i) bytes_[off + i] = static_cast<uint8_t>(v >> (8 * i));
  }
  template <std::size_t N>
  void copy(std::size_t off, const std::array<uint8_t, N>& in) {
    std::memcpy(bytes_.data() + off, in.data(), N);
  }

 private:
  Bytes& bytes_;
};

}  // namespace

std::string_view generationName(Generation g) {
  switch (g) {
    case Generation::Milan: return "Milan";
    case Generation::Genoa: return "Genoa";
    case Generation::Turin: return "Turin";
    case Generation::Unknown: break;
  }
  return "unknown";
}

Generation generationFromCpuid(uint8_t family, uint8_t model) {
  if (family == 0x19) {
    if (model <= 0x0f) return Generation::Milan;
    if ((model >= 0x10 && model <= 0x1f) || (model >= 0xa0 && model <= 0xaf)) {
      return Generation::Genoa;
    }
    return Generation::Unknown;
  }
  if (family == 0x1a) return Generation::Turin;
  return Generation::Unknown;
}

Generation generationFromProductName(std::string_view product) {
  // KDS and the VCEK productName use "Milan", "Milan-B0", "Genoa-RS1", "Turin" ...
  const std::string_view base = product.substr(0, product.find('-'));
  if (base == "Milan") return Generation::Milan;
  if (base == "Genoa") return Generation::Genoa;
  if (base == "Turin") return Generation::Turin;
  return Generation::Unknown;
}

TcbVersion TcbVersion::decode(uint64_t raw, Generation generation) {
  TcbVersion t;
  t.raw = raw;
  auto byte = [raw](int i) { return static_cast<uint8_t>(raw >> (8 * i)); };
  if (generation == Generation::Turin) {
    t.fmc = byte(0);
    t.bootloader = byte(1);
    t.tee = byte(2);
    t.snp = byte(3);
  } else {
    t.bootloader = byte(0);
    t.tee = byte(1);
    t.snp = byte(6);
  }
  t.microcode = byte(7);
  return t;
}

TcbVersion TcbVersion::compose(Generation generation, uint8_t bootloader, uint8_t tee, uint8_t snp,
                               uint8_t microcode, uint8_t fmc) {
  uint64_t raw = static_cast<uint64_t>(microcode) << 56;
  if (generation == Generation::Turin) {
    raw |= static_cast<uint64_t>(snp) << 24 | static_cast<uint64_t>(tee) << 16 |
           static_cast<uint64_t>(bootloader) << 8 | fmc;
  } else {
    raw |= static_cast<uint64_t>(snp) << 48 | static_cast<uint64_t>(tee) << 8 | bootloader;
  }
  return decode(raw, generation);
}

StatusOr<SnpReport> SnpReport::parse(ByteView bytes) {
  if (bytes.size() != kReportSize) {
    return invalidArgumentError("SNP report is " + std::to_string(bytes.size()) +
                                " bytes, expected " + std::to_string(kReportSize));
  }
  const Reader in(bytes);
  SnpReport r;
  r.version = in.u32(0x000);
  if (r.version != 2 && r.version != 3 && r.version != 5) {
    return invalidArgumentError("SNP report version " + std::to_string(r.version) +
                                " is not supported (2, 3, 5)");
  }
  r.guest_svn = in.u32(0x004);
  r.policy.raw = in.u64(0x008);
  in.copy(0x010, r.family_id);
  in.copy(0x020, r.image_id);
  r.vmpl = in.u32(0x030);
  r.signature_algo = in.u32(0x034);
  r.current_tcb = in.u64(0x038);
  r.platform_info.raw = in.u64(0x040);
  r.signer_info = in.u32(0x048);
  r.reserved_4c = in.u32(0x04c);
  in.copy(0x050, r.report_data);
  in.copy(0x090, r.measurement);
  in.copy(0x0c0, r.host_data);
  in.copy(0x0e0, r.id_key_digest);
  in.copy(0x110, r.author_key_digest);
  in.copy(0x140, r.report_id);
  in.copy(0x160, r.report_id_ma);
  r.reported_tcb = in.u64(0x180);
  r.cpuid_fam_id = in.u8(0x188);
  r.cpuid_mod_id = in.u8(0x189);
  r.cpuid_step = in.u8(0x18a);
  in.copy(0x18b, r.reserved_18b);
  in.copy(0x1a0, r.chip_id);
  r.committed_tcb = in.u64(0x1e0);
  r.current_version = {in.u8(0x1e8), in.u8(0x1e9), in.u8(0x1ea)};
  r.reserved_1eb = in.u8(0x1eb);
  r.committed_version = {in.u8(0x1ec), in.u8(0x1ed), in.u8(0x1ee)};
  r.reserved_1ef = in.u8(0x1ef);
  r.launch_tcb = in.u64(0x1f0);
  r.launch_mit_vector = in.u64(0x1f8);
  r.current_mit_vector = in.u64(0x200);
  in.copy(0x208, r.reserved_208);
  in.copy(0x2a0, r.signature_r);
  in.copy(0x2a0 + 72, r.signature_s);
  in.copy(0x2a0 + 144, r.reserved_signature);
  return r;
}

Bytes SnpReport::serialize() const {
  Bytes bytes(kReportSize, 0);
  Writer out(bytes);
  out.u32(0x000, version);
  out.u32(0x004, guest_svn);
  out.u64(0x008, policy.raw);
  out.copy(0x010, family_id);
  out.copy(0x020, image_id);
  out.u32(0x030, vmpl);
  out.u32(0x034, signature_algo);
  out.u64(0x038, current_tcb);
  out.u64(0x040, platform_info.raw);
  out.u32(0x048, signer_info);
  out.u32(0x04c, reserved_4c);
  out.copy(0x050, report_data);
  out.copy(0x090, measurement);
  out.copy(0x0c0, host_data);
  out.copy(0x0e0, id_key_digest);
  out.copy(0x110, author_key_digest);
  out.copy(0x140, report_id);
  out.copy(0x160, report_id_ma);
  out.u64(0x180, reported_tcb);
  out.u8(0x188, cpuid_fam_id);
  out.u8(0x189, cpuid_mod_id);
  out.u8(0x18a, cpuid_step);
  out.copy(0x18b, reserved_18b);
  out.copy(0x1a0, chip_id);
  out.u64(0x1e0, committed_tcb);
  out.u8(0x1e8, current_version.build);
  out.u8(0x1e9, current_version.minor);
  out.u8(0x1ea, current_version.major);
  out.u8(0x1eb, reserved_1eb);
  out.u8(0x1ec, committed_version.build);
  out.u8(0x1ed, committed_version.minor);
  out.u8(0x1ee, committed_version.major);
  out.u8(0x1ef, reserved_1ef);
  out.u64(0x1f0, launch_tcb);
  out.u64(0x1f8, launch_mit_vector);
  out.u64(0x200, current_mit_vector);
  out.copy(0x208, reserved_208);
  out.copy(0x2a0, signature_r);
  out.copy(0x2a0 + 72, signature_s);
  out.copy(0x2a0 + 144, reserved_signature);
  return bytes;
}

Generation SnpReport::generation() const {
  if (version < 3) return Generation::Unknown;
  return generationFromCpuid(cpuid_fam_id, cpuid_mod_id);
}

}  // namespace skr::snp
