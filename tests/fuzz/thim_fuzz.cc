// Fuzz target: THIM certification JSON and the base64-wrapped host-amd-cert-base64 form.
// Properties: nothing crashes; a parsed result has a 16-digit tcbm equal to tcbm_value, at most
// kMaxThimChainCertificates chain certificates, and parses identically from its base64 form.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/encoding/base64.h"
#include "common/snp/thim.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);  // NOLINT
  auto thim = skr::snp::parseThimJson(text);
  auto host = skr::snp::parseHostAmdCert(text);
  if (!thim.ok()) return 0;
  if (thim->tcbm.size() != 16) std::abort();
  if (thim->chain.size() > skr::snp::kMaxThimChainCertificates) std::abort();
  if (std::stoull(thim->tcbm, nullptr, 16) != thim->tcbm_value) std::abort();
  auto wrapped = skr::snp::parseHostAmdCert(skr::encoding::base64Encode(skr::asBytes(text)));
  if (!wrapped.ok() || wrapped->tcbm_value != thim->tcbm_value ||
      wrapped->vcek.der() != thim->vcek.der() || wrapped->chain.size() != thim->chain.size()) {
    std::abort();
  }
  (void)host;
  return 0;
}
