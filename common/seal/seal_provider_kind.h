// Which sealing-key provider seals the released keys (DESIGN.md §6). A header of its own so
// configuration (common/config) can name the provider without the sealing interfaces and their
// JSON dependency. Defined in sealing_key.cc.
#pragma once

#include <string_view>

#include "common/core/status.h"

namespace skr::seal {

enum class SealProviderKind { SnpDerived, Keyfile, Emulated, None };

// "snp-derived", "keyfile", "emulated", "none".
std::string_view sealProviderName(SealProviderKind kind);
// The inverse; InvalidArgument listing the accepted names otherwise.
StatusOr<SealProviderKind> parseSealProvider(std::string_view name);

}  // namespace skr::seal
