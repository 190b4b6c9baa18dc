#include "common/snp/report_json.h"

#include <cstdio>
#include <vector>

#include "common/encoding/hex.h"

namespace skr::snp {
namespace {

std::string signingKeyName(SigningKey key) {
  switch (key) {
    case SigningKey::Vcek: return "vcek";
    case SigningKey::Vlek: return "vlek";
    case SigningKey::None: return "none";
  }
  return "reserved";
}

std::string signingKeyLabel(const SnpReport& r) {
  const auto raw = static_cast<int>((r.signer_info >> 2) & 7);
  if (raw == 0 || raw == 1 || raw == 7) return signingKeyName(r.signingKey());
  return "reserved(" + std::to_string(raw) + ")";
}

json::ObjectPtr tcbToJson(const TcbVersion& tcb) {
  json::ObjectPtr o = new Poco::JSON::Object();
  o->set("bootloader", static_cast<int>(tcb.bootloader));
  o->set("tee", static_cast<int>(tcb.tee));
  o->set("snp", static_cast<int>(tcb.snp));
  o->set("microcode", static_cast<int>(tcb.microcode));
  if (tcb.fmc) o->set("fmc", static_cast<int>(*tcb.fmc));
  o->set("raw", hex64(tcb.raw));
  return o;
}

template <std::size_t N>
std::string hex(const std::array<uint8_t, N>& a) {
  return encoding::hexEncode(ByteView(a.data(), a.size()));
}

std::string tcbText(const TcbVersion& t) {
  std::string s = "bl=" + std::to_string(t.bootloader) + " tee=" + std::to_string(t.tee) +
                  " snp=" + std::to_string(t.snp) + " ucode=" + std::to_string(t.microcode);
  if (t.fmc) s += " fmc=" + std::to_string(*t.fmc);
  return s + " (" + hex64(t.raw) + ")";
}

std::string bits(const std::vector<std::pair<bool, const char*>>& flags) {
  std::string out;
  for (const auto& [on, name] : flags) {
    if (!on) continue;
    if (!out.empty()) out += ",";
    out += name;
  }
  return out.empty() ? "-" : out;
}

}  // namespace

std::string hex64(uint64_t value) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%016llx", static_cast<unsigned long long>(value));
  return buf;
}

json::ObjectPtr reportToJson(const SnpReport& r) {
  json::ObjectPtr o = new Poco::JSON::Object();
  o->set("version", static_cast<uint64_t>(r.version));
  o->set("guest_svn", static_cast<uint64_t>(r.guest_svn));
  o->set("policy", hex64(r.policy.raw));
  o->set("family_id", hex(r.family_id));
  o->set("image_id", hex(r.image_id));
  o->set("vmpl", static_cast<uint64_t>(r.vmpl));
  o->set("signature_algo", static_cast<uint64_t>(r.signature_algo));
  o->set("platform_info", hex64(r.platform_info.raw));
  o->set("signing_key", signingKeyLabel(r));
  o->set("author_key_en", r.authorKeyEnabled());
  o->set("mask_chip_key", r.maskChipKey());
  o->set("report_data", hex(r.report_data));
  o->set("measurement", hex(r.measurement));
  o->set("host_data", hex(r.host_data));
  o->set("id_key_digest", hex(r.id_key_digest));
  o->set("author_key_digest", hex(r.author_key_digest));
  o->set("report_id", hex(r.report_id));
  o->set("report_id_ma", hex(r.report_id_ma));
  o->set("chip_id", hex(r.chip_id));
  o->set("current_tcb", tcbToJson(r.currentTcb()));
  o->set("reported_tcb", tcbToJson(r.reportedTcb()));
  o->set("committed_tcb", tcbToJson(r.committedTcb()));
  o->set("launch_tcb", tcbToJson(r.launchTcb()));
  o->set("generation", std::string(generationName(r.generation())));
  if (r.version >= 3) {
    o->set("cpuid_fam_id", static_cast<int>(r.cpuid_fam_id));
    o->set("cpuid_mod_id", static_cast<int>(r.cpuid_mod_id));
    o->set("cpuid_step", static_cast<int>(r.cpuid_step));
  }
  auto version = [](const FirmwareVersion& v) {
    return std::to_string(v.major) + "." + std::to_string(v.minor) + "." + std::to_string(v.build);
  };
  o->set("current_firmware", version(r.current_version));
  o->set("committed_firmware", version(r.committed_version));
  if (r.version >= 5) {
    o->set("launch_mit_vector", hex64(r.launch_mit_vector));
    o->set("current_mit_vector", hex64(r.current_mit_vector));
  }
  return o;
}

std::string reportToText(const SnpReport& r) {
  const GuestPolicy& p = r.policy;
  const PlatformInfo& pi = r.platform_info;
  std::string s;
  auto line = [&s](const char* name, const std::string& value) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%-20s ", name);
    s += buf;
    s += value;
    s += '\n';
  };
  line("version", std::to_string(r.version));
  line("guest_svn", std::to_string(r.guest_svn));
  line("policy", hex64(p.raw) + " abi=" + std::to_string(p.abiMajor()) + "." +
                     std::to_string(p.abiMinor()) + " " +
                     bits({{p.smt(), "smt"},
                           {p.reservedBit17(), "reserved17"},
                           {p.migrateMa(), "migrate-ma"},
                           {p.debug(), "DEBUG"},
                           {p.singleSocket(), "single-socket"},
                           {p.cxlAllow(), "cxl-allow"},
                           {p.memAes256Xts(), "mem-aes-256-xts"},
                           {p.raplDis(), "rapl-dis"},
                           {p.ciphertextHiding(), "ciphertext-hiding"},
                           {p.pageSwapDisable(), "page-swap-disable"}}));
  line("family_id", hex(r.family_id));
  line("image_id", hex(r.image_id));
  line("vmpl", std::to_string(r.vmpl));
  line("signature_algo", std::to_string(r.signature_algo) +
                             (r.signature_algo == 1 ? " (ECDSA P-384 SHA-384)" : " (unknown)"));
  line("current_tcb", tcbText(r.currentTcb()));
  line("platform_info", hex64(pi.raw) + " " +
                            bits({{pi.smtEnabled(), "smt"},
                                  {pi.tsmeEnabled(), "tsme"},
                                  {pi.eccEnabled(), "ecc"},
                                  {pi.raplDisabled(), "rapl-disabled"},
                                  {pi.ciphertextHidingEnabled(), "ciphertext-hiding"},
                                  {pi.aliasCheckComplete(), "alias-check-complete"},
                                  {pi.tioEnabled(), "tio"}}));
  line("signing_key", signingKeyLabel(r) + (r.authorKeyEnabled() ? " author-key" : "") +
                          (r.maskChipKey() ? " mask-chip-key" : ""));
  line("report_data", hex(r.report_data));
  line("measurement", hex(r.measurement));
  line("host_data", hex(r.host_data));
  line("id_key_digest", hex(r.id_key_digest));
  line("author_key_digest", hex(r.author_key_digest));
  line("report_id", hex(r.report_id));
  line("report_id_ma", hex(r.report_id_ma));
  line("reported_tcb", tcbText(r.reportedTcb()));
  if (r.version >= 3) {
    char cpuid[48];
    std::snprintf(cpuid, sizeof cpuid, "family=0x%02x model=0x%02x stepping=0x%02x", r.cpuid_fam_id,
                  r.cpuid_mod_id, r.cpuid_step);
    line("cpuid", std::string(cpuid) + " (" + std::string(generationName(r.generation())) + ")");
  }
  line("chip_id", hex(r.chip_id));
  line("committed_tcb", tcbText(r.committedTcb()));
  line("current_firmware", std::to_string(r.current_version.major) + "." +
                               std::to_string(r.current_version.minor) + "." +
                               std::to_string(r.current_version.build));
  line("committed_firmware", std::to_string(r.committed_version.major) + "." +
                                 std::to_string(r.committed_version.minor) + "." +
                                 std::to_string(r.committed_version.build));
  line("launch_tcb", tcbText(r.launchTcb()));
  if (r.version >= 5) {
    line("launch_mit_vector", hex64(r.launch_mit_vector));
    line("current_mit_vector", hex64(r.current_mit_vector));
  }
  line("signature_r", hex(r.signature_r));
  line("signature_s", hex(r.signature_s));
  return s;
}

}  // namespace skr::snp
