// HOST_DATA of an Azure confidential container group (spec/azure-wire.md §5.1): the SHA-256 of
// the base64-decoded CCE (Rego) security policy. The policy comes as the base64 text itself (the
// security-context file security-policy-base64, a policy file) or inside an ARM template
// (resources[*].properties.confidentialComputeProperties.ccePolicy).
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string_view>

#include "common/core/status.h"

namespace skr::snp {

using HostData = std::array<uint8_t, 32>;

inline constexpr std::size_t kMaxPolicyBase64Bytes = std::size_t{4} * 1024 * 1024;
inline constexpr std::size_t kMaxArmTemplateBytes = std::size_t{16} * 1024 * 1024;

// SHA-256 of the decoded policy. ASCII whitespace anywhere (trailing newline, line wrapping) is
// ignored; either base64 alphabet, padding optional. InvalidArgument for empty or non-base64 text,
// ResourceExhausted above kMaxPolicyBase64Bytes.
StatusOr<HostData> hostDataFromPolicyBase64(std::string_view base64_policy_text);

// As above for the content of `path`; NotFound / InvalidArgument name the path.
StatusOr<HostData> hostDataFromPolicyFile(const std::filesystem::path& path);

// From an ARM template (JSON): every confidentialComputeProperties.ccePolicy in it, at any depth
// (top-level resources, child resources, nested deployments). NotFound when there is none;
// InvalidArgument when several differ or when the value is an ARM expression such as
// "[parameters('ccePolicy')]", which only the deployment resolves.
StatusOr<HostData> hostDataFromArmTemplate(std::string_view template_json);

}  // namespace skr::snp
