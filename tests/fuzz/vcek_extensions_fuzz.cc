// Fuzz target: AMD VCEK/VLEK extensions. The input is tried two ways: as a DER certificate whose
// extensions are parsed, and as the extnValue content of every known AMD OID (the bounded DER
// reader). Properties: nothing crashes; a parsed SPL is <= 255; a parsed hwID is 8 or 64 bytes;
// a parsed certificate's TCB re-composes from its SPLs.
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <variant>

#include "common/crypto/x509.h"
#include "common/snp/vcek_extensions.h"

namespace {

constexpr std::string_view kOids[] = {
    skr::snp::kOidStructVersion, skr::snp::kOidProductName, skr::snp::kOidBlSpl,
    skr::snp::kOidTeeSpl,        skr::snp::kOidSnpSpl,      skr::snp::kOidSpl4,
    skr::snp::kOidSpl5,          skr::snp::kOidSpl6,        skr::snp::kOidSpl7,
    skr::snp::kOidUcodeSpl,      skr::snp::kOidFmcSpl,      skr::snp::kOidHwid,
    "1.3.6.1.4.1.3704.1.99"};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const skr::ByteView input(data, size);
  for (std::string_view oid : kOids) {
    auto value = skr::snp::parseVcekExtensionValue(oid, input);
    if (!value.ok()) continue;
    if (oid == skr::snp::kOidHwid) {
      const auto& hwid = std::get<skr::Bytes>(*value);
      if (hwid.size() != 8 && hwid.size() != 64) std::abort();
    } else if (oid == skr::snp::kOidProductName) {
      if (std::get<std::string>(*value).empty()) std::abort();
    } else if (oid != skr::snp::kOidStructVersion && std::get<uint32_t>(*value) > 255) {
      std::abort();
    }
  }
  auto cert = skr::crypto::Certificate::fromDer(input);
  if (!cert.ok()) return 0;
  auto ext = skr::snp::parseVcekExtensions(*cert);
  if (!ext.ok()) return 0;
  if (ext->generation == skr::snp::Generation::Unknown) std::abort();
  const auto composed =
      skr::snp::TcbVersion::compose(ext->generation, ext->bl_spl, ext->tee_spl, ext->snp_spl,
                                    ext->ucode_spl, ext->fmc_spl.value_or(0));
  if (composed.bootloader != ext->tcb.bootloader || composed.microcode != ext->tcb.microcode ||
      composed.snp != ext->tcb.snp || composed.tee != ext->tcb.tee) {
    std::abort();
  }
  return 0;
}
