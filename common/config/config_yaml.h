// Internal to the configuration module: the YAML schema applied to a parsed document, shared by
// parseConfigYaml (config_yaml.cc) and loadConfig (config_load.cc), which validates only after the
// SKR_* overrides.
#pragma once

#include "common/config/config.h"
#include "common/config/yaml_reader.h"

namespace skr::config {

// Reads `root` into `config`; keys not present keep their current values. No validateConfig.
Status applyYamlDocument(const YamlNode& root, Config& config);

}  // namespace skr::config
