#include "agent/key_version.h"

#include "common/seal/bundle.h"
#include "common/seal/state_dir.h"

namespace skr::agent {

StatusOr<KidParts> parseKid(std::string_view kid) {
  // https://{host}/keys/{name}/{version}: no query, no fragment, exactly these segments.
  constexpr std::string_view kScheme = "https://";
  if (kid.substr(0, kScheme.size()) != kScheme) {
    return invalidArgumentError("kid must look like https://{vault}/keys/{name}/{version}");
  }
  std::string_view rest = kid.substr(kScheme.size());
  const std::size_t slash = rest.find('/');
  if (slash == std::string_view::npos || slash == 0) {
    return invalidArgumentError("kid has no host: expected https://{vault}/keys/{name}/{version}");
  }
  std::string_view path = rest.substr(slash + 1);
  constexpr std::string_view kKeys = "keys/";
  if (path.substr(0, kKeys.size()) != kKeys) {
    return invalidArgumentError("kid path must start with /keys/");
  }
  path.remove_prefix(kKeys.size());
  const std::size_t sep = path.find('/');
  if (sep == std::string_view::npos) {
    return invalidArgumentError(
        "kid names no version: expected https://{vault}/keys/{name}/{version}");
  }
  KidParts parts{std::string(path.substr(0, sep)), std::string(path.substr(sep + 1))};
  SKR_RETURN_IF_ERROR(seal::validateKeyName(parts.name).withContext("kid"));
  SKR_RETURN_IF_ERROR(seal::validateVersionName(parts.version).withContext("kid"));
  return parts;
}

}  // namespace skr::agent
