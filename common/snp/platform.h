// Choosing the SEV-SNP evidence source (DESIGN.md §4): `platform: auto | sev-guest | sev-legacy |
// tsm | emulated`. `auto` probes, in this fixed order, and takes the first source present:
//   1. sev-guest  /dev/sev-guest                 upstream driver (Linux >= 5.19, 6.x): reports,
//                                                derived keys and extended reports
//   2. tsm        /sys/kernel/config/tsm/report  configfs-tsm (Linux >= 6.7): reports only; on
//                                                such kernels /dev/sev-guest normally exists too
//   3. sev-legacy /dev/sev                       ACI's 5.15 utility VM. Probed last although the
//                                                ACI sidecar probes it first: on 6.x /dev/sev is
//                                                also the name of the *host* PSP device (ccp
//                                                driver), so it is only a guest interface when the
//                                                two upstream ones are absent; on ACI it is the
//                                                only one present and is chosen either way.
// Every probe and the choice are logged; when nothing is present `auto` fails with
// FailedPrecondition listing every path it looked for. `auto` never selects `emulated`, and no
// source ever falls back to a fake report.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/core/status.h"
#include "common/snp/snp_device.h"

namespace skr::snp {

enum class PlatformKind { Auto, SevGuest, SevLegacy, Tsm, Emulated };

// "auto", "sev-guest", "sev-legacy", "tsm", "emulated".
std::string_view platformName(PlatformKind kind);
// The inverse; InvalidArgument listing the accepted names otherwise.
StatusOr<PlatformKind> parsePlatformKind(std::string_view name);

// Where each source lives; defaults are the real paths, tests inject temporary ones.
struct PlatformOptions {
  std::string sev_guest_path = "/dev/sev-guest";
  std::string sev_legacy_path = "/dev/sev";
  std::string tsm_report_dir = "/sys/kernel/config/tsm/report";
  // State directory of the emulated chip (shared with skr-emulator); only used by kEmulated.
  std::string emulated_chip_dir;
};

// Opens the source `kind` (for kAuto, the first one present in the order above).
StatusOr<std::unique_ptr<SnpDevice>> openPlatform(PlatformKind kind,
                                                  const PlatformOptions& options);

}  // namespace skr::snp
