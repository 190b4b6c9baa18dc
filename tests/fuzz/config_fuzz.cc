// Fuzz target: the configuration schema on arbitrary YAML text, and the SKR_KEYS syntax.
// Properties: nothing crashes or throws; an accepted configuration's describeConfig() JSON parses
// back to the same description (except with a literal token, which is described redacted).
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <string>

#include "common/config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);  // NOLINT
  try {
    auto config = skr::config::parseConfigYaml(text);
    if (config.ok() && config->identity.kind != skr::config::IdentityKind::Token) {
      const std::string described = skr::config::describeConfig(*config);
      auto again = skr::config::parseConfigYaml(described);
      if (!again.ok() || skr::config::describeConfig(*again) != described) std::abort();
    }
    skr::config::LoadOptions options;
    options.getenv = [&text](const std::string& name) -> std::optional<std::string> {
      if (name == "SKR_KEYS") return text.substr(0, 1024);
      return std::nullopt;
    };
    auto from_env = skr::config::loadConfig(options);
    if (from_env.ok() && from_env->keys.size() > skr::config::kMaxKeys) std::abort();
  } catch (const std::exception&) {
    std::abort();  // the adapter must have converted every exception to a Status
  }
  return 0;
}
