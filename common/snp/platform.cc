#include "common/snp/platform.h"

#include <sys/stat.h>

#include <cerrno>

#include "common/log/logger.h"
#include "common/snp/device_file.h"
#include "common/snp/emulated_chip.h"
#include "common/snp/sev_guest_device.h"
#include "common/snp/sev_legacy_device.h"
#include "common/snp/tsm_device.h"

namespace skr::snp {
namespace {

template <typename Device>
StatusOr<std::unique_ptr<SnpDevice>> upcast(StatusOr<std::unique_ptr<Device>> device) {
  if (!device.ok()) return std::move(device).status();
  return std::unique_ptr<SnpDevice>(std::move(device).value());
}

// "present" when stat() succeeds, with the errno text otherwise.
bool probe(const std::string& path, std::string* detail) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    *detail = S_ISDIR(st.st_mode) ? "directory present" : "present";
    return true;
  }
  *detail = errnoText(errno);
  return false;
}

}  // namespace

std::string_view platformName(PlatformKind kind) {
  switch (kind) {
    case PlatformKind::Auto: return "auto";
    case PlatformKind::SevGuest: return "sev-guest";
    case PlatformKind::SevLegacy: return "sev-legacy";
    case PlatformKind::Tsm: return "tsm";
    case PlatformKind::Emulated: return "emulated";
  }
  return "unknown";
}

StatusOr<PlatformKind> parsePlatformKind(std::string_view name) {
  for (PlatformKind kind : {PlatformKind::Auto, PlatformKind::SevGuest, PlatformKind::SevLegacy,
                            PlatformKind::Tsm, PlatformKind::Emulated}) {
    if (platformName(kind) == name) return kind;
  }
  return invalidArgumentError("platform '" + std::string(name) +
                              "' is not one of auto, sev-guest, sev-legacy, tsm, emulated");
}

StatusOr<std::unique_ptr<SnpDevice>> openPlatform(PlatformKind kind,
                                                  const PlatformOptions& options) {
  switch (kind) {
    case PlatformKind::SevGuest: return upcast(SevGuestDevice::open(options.sev_guest_path));
    case PlatformKind::SevLegacy: return upcast(SevLegacyDevice::open(options.sev_legacy_path));
    case PlatformKind::Tsm: return upcast(TsmDevice::open(options.tsm_report_dir));
    case PlatformKind::Emulated:
      if (options.emulated_chip_dir.empty()) {
        return invalidArgumentError(
            "platform 'emulated' needs the emulated chip's state directory");
      }
      return upcast(EmulatedDevice::open(options.emulated_chip_dir));
    case PlatformKind::Auto: break;
  }
  const std::pair<PlatformKind, const std::string*> order[] = {
      {PlatformKind::SevGuest, &options.sev_guest_path},
      {PlatformKind::Tsm, &options.tsm_report_dir},
      {PlatformKind::SevLegacy, &options.sev_legacy_path},
  };
  std::string looked_for;
  for (const auto& [candidate, path] : order) {
    std::string detail;
    const bool present = probe(*path, &detail);
    log::info("snp.platform.probe", {{"platform", platformName(candidate)},
                                     {"path", *path},
                                     {"present", present},
                                     {"detail", detail}});
    if (present) {
      log::info("snp.platform.chosen", {{"platform", platformName(candidate)}, {"path", *path}});
      return openPlatform(candidate, options);
    }
    if (!looked_for.empty()) looked_for += ", ";
    looked_for += *path + " (" + std::string(platformName(candidate)) + ": " + detail + ")";
  }
  log::error("snp.platform.none", {{"looked_for", looked_for}});
  return failedPreconditionError(
      "platform auto: no SEV-SNP guest interface found; looked for " + looked_for +
      ". Not an SEV-SNP guest? For tests and demos set platform: emulated explicitly");
}

}  // namespace skr::snp
