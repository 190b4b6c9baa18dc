// Value syntaxes of the configuration schema, shared by the YAML reader and the SKR_* overrides:
// durations, endpoint URLs, vault references, octal modes, user and group ids. Each returns
// InvalidArgument whose message starts with `label` (a key path or an environment variable).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/azure/key_export_enc.h"
#include "common/config/config.h"
#include "common/core/status.h"
#include "common/log/logger.h"
#include "common/seal/seal_provider_kind.h"
#include "common/snp/platform.h"

namespace skr::config {

// `text` in double quotes for a message: encoding::quoted, cut at 80 bytes.
std::string quotedForMessage(std::string_view text);

// "500ms", "30s", "5m", "1h", "2d", or a bare non-negative integer in `bare_unit` (as milliseconds:
// 1 for ms, 1000 for seconds). At most 30 days.
StatusOr<std::chrono::milliseconds> parseDuration(std::string_view label, std::string_view text,
                                                  std::chrono::milliseconds bare_unit);
// "500ms" / "30s" / "5m" / "1h": the largest unit that divides exactly.
std::string formatDuration(std::chrono::milliseconds value);

struct UrlPolicy {
  bool allow_path = false;  // else only "scheme://host[:port]" (a trailing "/" is dropped)
  bool allow_http = false;  // http to any host (IMDS, THIM); otherwise only to loopback hosts
};
// Checks an endpoint URL and returns it normalized (scheme lower-cased, trailing "/" dropped).
// https always; http only with allow_http or to 127.0.0.0/8, ::1 or localhost. No user info,
// query or fragment.
StatusOr<std::string> checkUrl(std::string_view label, std::string_view url, UrlPolicy policy);
bool isLoopbackHost(std::string_view host);

// `vault:` / `mhsm:` values: "https://host[:port]" or a bare vault name ("myvault" ->
// https://myvault.vault.azure.net, for mhsm https://myvault.managedhsm.azure.net).
StatusOr<std::string> expandVaultUrl(std::string_view label, std::string_view value,
                                     bool managed_hsm);

// "0660", "0o660", "660" are read as octal; at most 0777.
StatusOr<uint32_t> parseFileMode(std::string_view label, std::string_view text);

// A group / user as a number or a name looked up in the system databases (getgrnam_r/getpwnam_r).
StatusOr<gid_t> parseGroup(std::string_view label, std::string_view text);
StatusOr<uid_t> parseUser(std::string_view label, std::string_view text);

// A non-negative decimal integer that fits in int64 (no sign, no spaces).
StatusOr<int64_t> parseInteger(std::string_view label, std::string_view text);

// The YAML spellings of the enumerations of the schema.
template <typename E>
struct EnumName {
  E value;
  std::string_view name;
};
inline constexpr EnumName<snp::PlatformKind> kPlatformNames[] = {
    {snp::PlatformKind::Auto, "auto"},
    {snp::PlatformKind::SevGuest, "sev-guest"},
    {snp::PlatformKind::SevLegacy, "sev-legacy"},
    {snp::PlatformKind::Tsm, "tsm"},
    {snp::PlatformKind::Emulated, "emulated"}};
inline constexpr EnumName<seal::SealProviderKind> kSealProviderNames[] = {
    {seal::SealProviderKind::SnpDerived, "snp-derived"},
    {seal::SealProviderKind::Keyfile, "keyfile"},
    {seal::SealProviderKind::Emulated, "emulated"},
    {seal::SealProviderKind::None, "none"}};
inline constexpr EnumName<azure::KeyExportEnc> kKeyExportEncNames[] = {
    {azure::KeyExportEnc::CkmRsaAesKeyWrap, "CKM_RSA_AES_KEY_WRAP"},
    {azure::KeyExportEnc::RsaAesKeyWrap256, "RSA_AES_KEY_WRAP_256"},
    {azure::KeyExportEnc::RsaAesKeyWrap384, "RSA_AES_KEY_WRAP_384"}};
inline constexpr EnumName<log::Level> kLogLevelNames[] = {{log::Level::Debug, "debug"},
                                                          {log::Level::Info, "info"},
                                                          {log::Level::Warning, "warning"},
                                                          {log::Level::Error, "error"}};
inline constexpr EnumName<IdentityKind> kIdentityKindNames[] = {
    {IdentityKind::Managed, "managed"},
    {IdentityKind::Workload, "workload"},
    {IdentityKind::TokenFile, "token-file"},
    {IdentityKind::Token, "token"},
    {IdentityKind::None, "none"}};
inline constexpr EnumName<DataAuth> kDataAuthNames[] = {
    {DataAuth::Entra, "entra"}, {DataAuth::Sas, "sas"}, {DataAuth::Anonymous, "anonymous"}};
inline constexpr EnumName<ReleaseOnStart> kReleaseOnStartNames[] = {
    {ReleaseOnStart::IfMissing, "if-missing"},
    {ReleaseOnStart::Always, "always"},
    {ReleaseOnStart::Never, "never"}};

// `label: unknown value "x", expected a | b | c` unless `text` is one of the names.
template <typename E, std::size_t N>
StatusOr<E> parseEnum(std::string_view label, std::string_view text,
                      const EnumName<E> (&names)[N]) {
  std::string expected;
  for (const auto& entry : names) {
    if (entry.name == text) return entry.value;
    expected += (expected.empty() ? "" : " | ") + std::string(entry.name);
  }
  return invalidArgumentError(std::string(label) + ": unknown value " + quotedForMessage(text) +
                              ", expected " + expected);
}
template <typename E, std::size_t N>
std::string_view enumName(E value, const EnumName<E> (&names)[N]) {
  for (const auto& entry : names) {
    if (entry.value == value) return entry.name;
  }
  return names[0].name;
}

}  // namespace skr::config
