// The release policy skrctl hands to operators of Azure Container Instances (spec/azure-wire.md
// §3.3 (b)), as SIDECAR's tests/skr/key.py writes it.
#pragma once

#include <string>
#include <string_view>

#include "common/core/status.h"

namespace skr::azure {

// The SIDECAR/ACI policy of spec §3.3 (b), canonical JSON:
//   {"anyOf":[{"allOf":[hostdata equals <hex>, compliance-status equals "azure-compliant-uvm",
//    is-debuggable equals "false", vmpl equals "0"],"authority":<authority>}],"version":"1.0.0"}
// `authority` is the MAA instance URL; a bare host gets "https://" prepended. `hostdata_hex` is the
// 32-byte HOST_DATA in hex, either case (written lower case, as MAA emits it).
// `require_uvm_compliance` = false drops the compliance-status condition (non-Azure UVMs, tests).
// InvalidArgument for an empty authority or hostdata that is not 64 hex digits.
StatusOr<std::string> makeAciReleasePolicy(std::string_view authority,
                                           std::string_view hostdata_hex,
                                           bool require_uvm_compliance = true);

}  // namespace skr::azure
