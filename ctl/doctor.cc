// skrctl doctor's checks (ctl/doctor.h): each one on its own, against the services skr-init builds.
#include "ctl/doctor.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "agent/unix_socket.h"
#include "common/azure/identity.h"
#include "common/azure/key_vault_client.h"
#include "common/azure/release_policy.h"
#include "common/config/config.h"
#include "common/core/clock.h"
#include "common/encoding/hex.h"
#include "common/encoding/json_writer.h"
#include "common/encoding/printable.h"
#include "common/http/retry.h"
#include "common/json/json.h"
#include "common/log/redaction.h"
#include "common/release/release_flow.h"
#include "common/release/release_services.h"
#include "common/snp/collateral.h"
#include "common/snp/report.h"

namespace skr::ctl {
namespace {

using release::ExitCode;
using std::chrono::seconds;

constexpr std::string_view kHostDataClaim = "x-ms-sevsnpvm-hostdata";
// Beyond this, MAA tokens (nbf/exp) and the vault's JWS certificate checks start to fail.
constexpr seconds kMaxClockSkew{60};
constexpr std::size_t kMaxKeyBundleBytes = 256 * 1024;
// Every network check together: a doctor run must end even when every dependency hangs.
constexpr seconds kDoctorDeadline{90};

int codeOf(ExitCode code) {
  return static_cast<int>(code);
}

std::string lowerHex(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string hostOf(std::string_view url) {
  constexpr std::string_view kScheme = "https://";
  if (url.substr(0, kScheme.size()) == kScheme) url.remove_prefix(kScheme.size());
  return std::string(url.substr(0, url.find('/')));
}

// The fix for a release-flow failure, by exit code and step (skr-init's hints, adapted).
std::string flowFix(ExitCode code, release::Step step, const Status& status) {
  switch (code) {
    case ExitCode::Platform:
      return step == release::Step::Collateral
                 ? "the AMD certificates could not be obtained: check UVM_SECURITY_CONTEXT_DIR, "
                   "the THIM endpoint (IMDS) or access to AMD KDS (attestation.collateral)"
                 : "no usable SEV-SNP evidence source: run in a confidential container group "
                   "(sku Confidential), or set platform: emulated explicitly for tests";
    case ExitCode::Attestation:
      return "MAA rejected the evidence: check attestation.maa_endpoint and that the report and "
             "AMD certificates belong to this platform";
    case ExitCode::Identity:
      return "no access token: check the identity section (managed identity assigned to the "
             "group, or AZURE_CLIENT_ID / AZURE_TENANT_ID / AZURE_FEDERATED_TOKEN_FILE)";
    case ExitCode::ReleaseDenied:
      return status.details().cause == ErrorCause::RoleMissing
                 ? "grant the identity the release role on the key (Key Vault Crypto Service "
                   "Release User, or Managed HSM Crypto Service Release User)"
                 : "the key's release policy does not accept this attestation: compare its "
                   "x-ms-sevsnpvm-hostdata and MAA authority with this platform's (see the "
                   "policy-hostdata check, skrctl hostdata)";
    case ExitCode::KeyNotFound:
      return "check the key name, version and vault in keys[] (the key must exist and be "
             "exportable)";
    case ExitCode::Unavailable:
      return "the dependency did not answer: check its URL in the configuration, the network, "
             "the proxy (HTTPS_PROXY/NO_PROXY) and the service's health";
    case ExitCode::Integrity:
      return "a signature, certificate chain or host check failed: check tls.ca_file and that "
             "the vault and MAA hosts are the real ones";
    default: return "see the message";
  }
}

// Every value the policy compares x-ms-sevsnpvm-hostdata `equals` to, anywhere in the tree.
void collectHostData(const Poco::Dynamic::Var& value, std::vector<std::string>& out, int depth) {
  if (depth > azure::kMaxReleasePolicyDepth * 2 + 2) return;
  if (StatusOr<json::ObjectPtr> object = json::asObject(value, "policy"); object.ok()) {
    StatusOr<std::string> claim = json::getString(*object, "claim");
    if (claim.ok() && *claim == kHostDataClaim) {
      if (StatusOr<std::string> equals = json::getString(*object, "equals"); equals.ok()) {
        out.push_back(*equals);
      }
    }
    for (const auto& member : **object) collectHostData(member.second, out, depth + 1);
    return;
  }
  if (StatusOr<json::ArrayPtr> array = json::asArray(value, "policy"); array.ok()) {
    for (std::size_t i = 0; i < (*array)->size(); ++i) {
      StatusOr<Poco::Dynamic::Var> element = json::getElement(*array, i, "policy");
      if (element.ok()) collectHostData(*element, out, depth + 1);
    }
  }
}

}  // namespace

StatusOr<std::vector<std::string>> policyHostData(const json::ObjectPtr& release_policy) {
  SKR_ASSIGN_OR_RETURN(azure::ReleasePolicy policy, azure::ReleasePolicy::fromWire(release_policy));
  SKR_ASSIGN_OR_RETURN(Poco::Dynamic::Var tree, json::parse(policy.canonicalJson()));
  std::vector<std::string> values;
  collectHostData(tree, values, 0);
  return values;
}

namespace {

// The key bundle from GET {vault}/keys/{name}[/{version}] with the identity's token. The
// answer's HTTP status is returned as is (403 when the identity may not read keys).
struct KeyBundle {
  int status = 0;
  json::ObjectPtr bundle;  // on 200
  std::string message;     // on anything else
};

StatusOr<KeyBundle> getKeyBundle(http::HttpTransport& transport, azure::TokenProvider& tokens,
                                 const config::KeyConfig& key,
                                 const std::map<std::string, std::string>& overrides) {
  const std::string host = hostOf(key.vault_url);
  SKR_ASSIGN_OR_RETURN(azure::AccessToken token,
                       tokens.token(azure::resourceForHost(host, overrides)));
  http::HttpRequest request;
  request.method = "GET";
  request.url = key.vault_url + "/keys/" + key.name +
                (key.version.empty() ? "" : "/" + key.version) + "?api-version=" + key.api_version;
  request.timeout = std::chrono::milliseconds(20'000);
  request.max_response_bytes = kMaxKeyBundleBytes;
  request.headers = {{"Authorization", "Bearer " + toString(token.token.view(grantSecretAccess()))},
                     {"Accept", "application/json"}};
  StatusOr<http::HttpResponse> answer = transport.send(request);
  http::wipeRequest(request);
  if (!answer.ok()) return answer.status().withContext("GET key '" + key.name + "' from " + host);
  KeyBundle out;
  out.status = answer->status;
  if (answer->status != 200) {
    out.message = "HTTP " + std::to_string(answer->status);
    return out;
  }
  StatusOr<json::ObjectPtr> parsed = json::parseObject(answer->body);
  if (!parsed.ok()) return parsed.status().withContext("GET key '" + key.name + "' from " + host);
  out.bundle = *parsed;
  return out;
}

}  // namespace

std::optional<seconds> clockSkewFromDate(std::string_view date,
                                         std::chrono::system_clock::time_point now) {
  if (date.empty()) return std::nullopt;
  // parseRetryAfter gives max(0, date - base): with a base a day back, date - now stays positive
  // for any skew under a day.
  constexpr std::chrono::hours kDay{24};
  std::optional<std::chrono::milliseconds> ahead = http::parseRetryAfter(date, now - kDay);
  if (!ahead || ahead->count() == 0) return std::nullopt;
  return std::chrono::duration_cast<seconds>(kDay - *ahead);
}

namespace {

std::string describeSkew(seconds skew) {
  const long long s = skew.count();
  if (s == 0) return "in step";
  return std::to_string(s < 0 ? -s : s) + " s " + (s > 0 ? "ahead" : "behind");
}

std::string parentDirectory(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

Status checkSocketDirectoryOf(const std::string& socket_path) {
  const std::string directory = parentDirectory(socket_path);
  struct stat st {};
  if (::stat(directory.c_str(), &st) != 0) {
    const std::string parent = parentDirectory(directory);
    if (::stat(parent.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return failedPreconditionError("socket directory '" + directory +
                                     "' is missing and so is its parent '" + parent + "'");
    }
    if (::access(parent.c_str(), W_OK | X_OK) != 0) {
      return permissionDeniedError("socket directory '" + directory +
                                   "' is missing and this user may not create it in '" + parent +
                                   "'");
    }
    return okStatus();
  }
  return agent::checkSocketDirectory(directory);
}

namespace {

// The security-context directory the collateral provider would read, if any.
std::optional<std::filesystem::path> securityContextDir(const config::Config& config) {
  if (config.attestation.collateral.security_context_dir) {
    return std::filesystem::path(*config.attestation.collateral.security_context_dir);
  }
  if (auto from_env = snp::securityContextDirFromEnvironment()) return from_env;
  std::error_code error;
  std::vector<std::filesystem::path> found;
  for (const auto& entry : std::filesystem::directory_iterator("/", error)) {
    if (entry.path().filename().string().rfind("security-context-", 0) == 0) {
      found.push_back(entry.path());
    }
  }
  if (found.empty()) return std::nullopt;
  std::sort(found.begin(), found.end());
  return found.front();
}

}  // namespace

StatusOr<DoctorReport> runDoctor(const DoctorOptions& options) {
  DoctorReport report;
  config::LoadOptions load;
  load.file = options.config_file;
  load.getenv = options.getenv;
  StatusOr<config::Config> loaded = config::loadConfig(load);
  const std::vector<std::string> later = {
      "snp-device", "security-context", "collateral", "maa-tls",    "attestation",
      "clock-skew", "identity",         "keys",       "socket-dirs"};
  if (!loaded.ok()) {
    report.fail("config", kExitUsage, loaded.status().toString(),
                "fix the configuration key named in the message (docs/config.md; --config FILE, "
                "SKR_CONFIG_YAML, SKR_* variables)");
    for (const std::string& check : later) report.skip(check, "config");
    return report;
  }
  const config::Config& config = *loaded;
  std::vector<config::KeyConfig> keys;
  for (const config::KeyConfig& key : config.keys) {
    if (!options.key || *options.key == key.name) keys.push_back(key);
  }
  if (options.key && keys.empty()) {
    return invalidArgumentError("--key '" + encoding::printable(*options.key, 128) +
                                "' is not one of the configured keys");
  }
  report.pass("config", std::to_string(config.keys.size()) + " key(s), platform " +
                            std::string(snp::platformName(config.platform.kind)) + ", identity " +
                            std::string(config::identityKindName(config.identity.kind)) +
                            (config.emulated() ? " (EMULATED)" : ""));

  Clock& clock = systemClock();
  http::RandomJitter jitter;
  const auto deadline = clock.steadyNow() + kDoctorDeadline;
  std::variant<release::ReleaseServices, release::SetupFailure> built =
      release::buildReleaseServices(config, clock, jitter);
  if (auto* failure = std::get_if<release::SetupFailure>(&built)) {
    const std::string check = failure->code == ExitCode::Platform   ? "snp-device"
                              : failure->code == ExitCode::Identity ? "identity"
                                                                    : "setup";
    report.fail(check, codeOf(failure->code), failure->status.toString(),
                flowFix(failure->code, release::Step::Report, failure->status));
    for (const std::string& other : later) {
      if (other != check) report.skip(other, check);
    }
    return report;
  }
  release::ReleaseServices& services = std::get<release::ReleaseServices>(built);

  // snp-device: one report straight from the device.
  std::optional<snp::SnpReport> snp_report;
  {
    std::array<uint8_t, 64> report_data{};
    StatusOr<Bytes> raw = services.device->getReport(report_data, 0);
    StatusOr<snp::SnpReport> parsed =
        raw.ok() ? snp::SnpReport::parse(*raw) : StatusOr<snp::SnpReport>(raw.status());
    if (parsed.ok()) {
      snp_report = *parsed;
      report.pass("snp-device", std::string(services.device->name()) + " answered: report v" +
                                    std::to_string(parsed->version) + ", HOST_DATA " +
                                    encoding::hexEncode(parsed->host_data));
    } else {
      report.fail("snp-device", kExitPlatform, parsed.status().toString(),
                  flowFix(ExitCode::Platform, release::Step::Report, parsed.status()));
    }
  }
  const std::string report_hostdata =
      snp_report ? encoding::hexEncode(snp_report->host_data) : std::string();

  // security-context: the UVM files, read and parsed on their own.
  if (!config.attestation.collateral.security_context) {
    report.pass("security-context", "not used (attestation.collateral.sources excludes it)");
  } else if (std::optional<std::filesystem::path> dir = securityContextDir(config); !dir) {
    const bool fallback = config.attestation.collateral.thim || config.attestation.collateral.kds;
    if (fallback) {
      report.pass("security-context",
                  "no security-context directory; collateral comes from " +
                      std::string(config.attestation.collateral.thim ? "THIM" : "AMD KDS"));
    } else {
      report.fail("security-context", kExitPlatform,
                  "no security-context directory and no other collateral source",
                  "set UVM_SECURITY_CONTEXT_DIR (ACI mounts /security-context-*) or enable thim "
                  "or kds in attestation.collateral.sources");
    }
  } else if (!snp_report) {
    report.skip("security-context", "snp-device");
  } else {
    snp::CollateralOptions only_files;
    only_files.security_context_dir = *dir;
    only_files.use_thim = false;
    only_files.use_kds = false;
    StatusOr<std::unique_ptr<snp::CollateralProvider>> files =
        snp::CollateralProvider::create(services.transport, only_files);
    StatusOr<snp::Collateral> read =
        files.ok() ? (*files)->fetch(*snp_report) : StatusOr<snp::Collateral>(files.status());
    if (read.ok()) {
      report.pass("security-context",
                  dir->string() + ": VCEK for TCB " + read->tcbm +
                      (read->security_policy_base64 ? ", security policy" : "") +
                      (read->uvm_endorsement ? ", UVM endorsement" : ""));
    } else {
      report.fail("security-context", kExitPlatform, read.status().toString(),
                  "check the files host-amd-cert-base64, security-policy-base64 and "
                  "reference-info-base64 in " +
                      dir->string() + " (UVM_SECURITY_CONTEXT_DIR)");
    }
  }

  // collateral: what the release flow will use, and that it is for the report's TCB.
  if (!snp_report) {
    report.skip("collateral", "snp-device");
  } else {
    StatusOr<snp::Collateral> collateral = services.collateral->fetch(*snp_report);
    char reported[17];
    (void)std::snprintf(reported, sizeof(reported), "%016llx",
                        static_cast<unsigned long long>(snp_report->reported_tcb));
    if (!collateral.ok()) {
      report.fail("collateral",
                  collateral.status().code() == StatusCode::Unavailable ||
                          collateral.status().code() == StatusCode::DeadlineExceeded
                      ? kExitDependency
                      : kExitPlatform,
                  collateral.status().toString(),
                  flowFix(ExitCode::Platform, release::Step::Collateral, collateral.status()));
    } else if (!collateral->tcbm.empty() && lowerHex(collateral->tcbm) != reported) {
      report.fail("collateral", kExitPlatform,
                  "VCEK from " + collateral->source + " is for TCB " + collateral->tcbm +
                      ", the report's REPORTED_TCB is " + reported,
                  "the certificates are for another TCB: refresh the security context / THIM "
                  "cache, or let the provider fetch from AMD KDS");
    } else {
      report.pass("collateral",
                  "from " + collateral->source + ", VCEK TCB matches REPORTED_TCB " + reported);
    }
  }

  // maa-tls: the service answers over TLS; its Date header gives the clock skew.
  std::optional<seconds> skew;
  std::string skew_source;
  {
    http::HttpRequest request;
    request.url = config.attestation.maa_endpoint + "/.well-known/openid-configuration";
    request.timeout = std::chrono::milliseconds(15'000);
    request.max_response_bytes = 64 * 1024;
    StatusOr<http::HttpResponse> answer = services.transport->send(request);
    const std::string host = hostOf(config.attestation.maa_endpoint);
    if (!answer.ok()) {
      report.fail("maa-tls", kExitDependency, answer.status().toString(),
                  "MAA " + host +
                      " is unreachable over TLS: check attestation.maa_endpoint, the network, "
                      "HTTPS_PROXY/NO_PROXY and tls.ca_file");
    } else if (answer->status != 200) {
      report.fail("maa-tls", kExitDependency,
                  "GET " + request.url + " answered HTTP " + std::to_string(answer->status),
                  "check attestation.maa_endpoint: it must be the attestation provider's URL "
                  "(https://NAME.REGION.attest.azure.net)");
    } else {
      report.pass("maa-tls", host + " answered over TLS");
      skew = clockSkewFromDate(answer->header("Date"), clock.now());
      if (skew) skew_source = "MAA's Date header";
    }
  }

  // attestation: the real flow (transfer key, report, collateral, MAA token verified).
  std::optional<release::Attestation> attestation;
  if (!snp_report) {
    report.skip("attestation", "snp-device");
  } else {
    release::ReleaseFlow flow(*services.device, *services.collateral, *services.maa, nullptr, clock,
                              services.flowOptions(config));
    release::StepResult<release::Attestation> attested = flow.attest(deadline);
    if (auto* failure = std::get_if<release::StepFailure>(&attested)) {
      const ExitCode code = release::exitCodeFor(*failure);
      report.fail("attestation", codeOf(code),
                  std::string(release::stepName(failure->step)) + ": " + failure->status.toString(),
                  flowFix(code, failure->step, failure->status));
    } else {
      attestation = std::move(std::get<release::Attestation>(attested));
      report.pass("attestation", "MAA token from " + attestation->maa.issuer + ", hostdata " +
                                     attestation->maa.hostdata +
                                     (attestation->maa.emulated ? " (emulated)" : ""));
      if (!skew) {
        StatusOr<int64_t> iat = json::getInt(attestation->maa.claims, "iat");
        if (iat.ok()) {
          const auto now =
              std::chrono::duration_cast<seconds>(clock.now().time_since_epoch()).count();
          skew = seconds(now - *iat);
          skew_source = "the MAA token's iat";
        }
      }
    }
  }

  // clock-skew
  if (!skew) {
    report.skip("clock-skew", "maa-tls");
  } else if (*skew > kMaxClockSkew || *skew < -kMaxClockSkew) {
    report.fail("clock-skew", kExitPlatform,
                "local clock is " + describeSkew(*skew) + " of " + skew_source + " (limit " +
                    std::to_string(kMaxClockSkew.count()) + " s)",
                "synchronize the clock (NTP / chrony on the host); tokens and certificates are "
                "checked against it");
  } else {
    report.pass("clock-skew", "local clock " + describeSkew(*skew) + " of " + skew_source);
  }

  // identity: a token for each vault's resource.
  bool identity_ok = false;
  if (!services.tokens) {
    report.pass("identity",
                "kind none: attest-and-defer, skr-agent releases with the group's "
                "identity (key checks skipped)");
  } else {
    std::set<std::string> resources;
    for (const config::KeyConfig& key : keys) {
      resources.insert(azure::resourceForHost(hostOf(key.vault_url), services.resource_overrides));
    }
    Status failed = okStatus();
    for (const std::string& resource : resources) {
      StatusOr<azure::AccessToken> token = services.tokens->token(resource);
      if (!token.ok()) {
        failed = token.status().withContext("token for " + resource);
        break;
      }
    }
    if (failed.ok()) {
      identity_ok = true;
      report.pass("identity", services.tokens->describe() + ": token(s) for " +
                                  std::to_string(resources.size()) + " resource(s)");
    } else {
      const bool transport =
          failed.code() == StatusCode::Unavailable || failed.code() == StatusCode::DeadlineExceeded;
      report.fail("identity", transport ? kExitDependency : kExitIdentity, failed.toString(),
                  flowFix(ExitCode::Identity, release::Step::Release, failed));
    }
  }

  // Per key: exists, may be released to this identity, its policy's hostdata is this platform's.
  for (const config::KeyConfig& key : keys) {
    const std::string key_check = "key " + key.name;
    const std::string release_check = "release " + key.name;
    const std::string policy_check = "policy-hostdata " + key.name;
    if (!services.tokens) continue;
    if (!identity_ok) {
      report.skip(key_check, "identity");
      report.skip(release_check, "identity");
      report.skip(policy_check, "identity");
      continue;
    }
    StatusOr<KeyBundle> bundle =
        getKeyBundle(*services.transport, *services.tokens, key, services.resource_overrides);

    // The release, verified, key_hsm dropped; reported after the key check.
    DoctorReport release_report;
    std::optional<azure::ReleaseAnswer> released;
    std::optional<release::StepFailure> release_failure;
    if (!attestation) {
      release_report.skip(release_check, "attestation");
    } else {
      StatusOr<std::unique_ptr<azure::KeyVaultClient>> client =
          services.vaultClientFor(key, clock, jitter);
      if (!client.ok()) {
        release_report.fail(release_check, kExitUsage, client.status().toString(),
                            "fix keys[] for '" + key.name + "' (docs/config.md)");
      } else {
        StatusOr<azure::ReleaseAnswer> answer = (*client)->requestRelease(
            {key.vault_url, key.name, key.version}, attestation->maa.token, deadline);
        if (answer.ok()) {
          released = std::move(answer).value();
          release_report.pass(release_check, "released to this identity and attestation (version " +
                                                 released->version +
                                                 "; answer verified, key_hsm "
                                                 "discarded unopened)");
        } else {
          release_failure =
              release::StepFailure{release::Step::Release, hostOf(key.vault_url), answer.status()};
          const ExitCode code = release::exitCodeFor(*release_failure);
          release_report.fail(release_check, codeOf(code), answer.status().toString(),
                              flowFix(code, release::Step::Release, answer.status()));
        }
      }
    }

    // key: GET when this identity may read keys, else what the release answer showed.
    json::ObjectPtr release_policy;
    if (bundle.ok() && bundle->status == 200) {
      StatusOr<bool> exportable = [&]() -> StatusOr<bool> {
        SKR_ASSIGN_OR_RETURN(json::ObjectPtr attributes,
                             json::getObject(bundle->bundle, "attributes"));
        SKR_ASSIGN_OR_RETURN(std::optional<bool> value,
                             json::getOptionalBool(attributes, "exportable"));
        return value.value_or(false);
      }();
      StatusOr<std::optional<json::ObjectPtr>> policy =
          json::getOptionalObject(bundle->bundle, "release_policy");
      if (policy.ok() && *policy) release_policy = **policy;
      if (!exportable.ok() || !*exportable || !release_policy) {
        report.fail(key_check, kExitKeyNotFound,
                    "key exists but is not exportable with a release policy",
                    "create the key with exportable: true and a release policy (skrctl "
                    "release-policy), e.g. az keyvault key create --exportable --policy FILE");
      } else {
        report.pass(key_check,
                    "exists in " + hostOf(key.vault_url) + ", exportable, with a release policy");
      }
    } else if ((bundle.ok() && bundle->status == 404) ||
               (release_failure &&
                release::exitCodeFor(*release_failure) == ExitCode::KeyNotFound)) {
      report.fail(key_check, kExitKeyNotFound,
                  "key '" + key.name + "'" +
                      (key.version.empty() ? "" : " version " + key.version) + " not found in " +
                      hostOf(key.vault_url),
                  flowFix(ExitCode::KeyNotFound, release::Step::Release, Status()));
    } else if (released || (release_failure &&
                            release_failure->status.details().cause == ErrorCause::PolicyDenied)) {
      report.pass(key_check, "exists in " + hostOf(key.vault_url) +
                                 " (seen through the release; this identity may not read keys)");
    } else if (!bundle.ok()) {
      report.fail(key_check, kExitDependency, bundle.status().toString(),
                  flowFix(ExitCode::Unavailable, release::Step::Release, bundle.status()));
    } else {
      report.skip(key_check, "read or release permission (GET answered " + bundle->message + ")");
    }
    if (!release_policy && released) {
      StatusOr<json::ObjectPtr> from_release = [&]() -> StatusOr<json::ObjectPtr> {
        SKR_ASSIGN_OR_RETURN(json::ObjectPtr response,
                             json::getObject(released->verified.payload, "response"));
        SKR_ASSIGN_OR_RETURN(json::ObjectPtr key_bundle, json::getObject(response, "key"));
        return json::getObject(key_bundle, "release_policy");
      }();
      if (from_release.ok()) release_policy = *from_release;
    }
    released.reset();  // drops the wrapped key_hsm
    report.append(std::move(release_report));

    // policy-hostdata
    if (!snp_report) {
      report.skip(policy_check, "snp-device");
    } else if (!release_policy) {
      report.skip(policy_check, "the key's release policy (read or release permission)");
    } else {
      StatusOr<std::vector<std::string>> values = policyHostData(release_policy);
      if (!values.ok()) {
        report.fail(policy_check, kExitReleaseDenied, values.status().toString(),
                    "fix the key's release policy (skrctl release-policy)");
      } else if (values->empty()) {
        report.pass(policy_check, "the policy does not constrain x-ms-sevsnpvm-hostdata");
      } else if (std::find(values->begin(), values->end(), report_hostdata) != values->end()) {
        report.pass(policy_check,
                    "policy x-ms-sevsnpvm-hostdata equals HOST_DATA " + report_hostdata);
      } else {
        std::string listed;
        for (const std::string& v : *values) {
          listed += (listed.empty() ? "" : ", ") + log::quoteUntrusted(v, 80);
        }
        report.fail(policy_check, kExitReleaseDenied,
                    "policy x-ms-sevsnpvm-hostdata " + listed + " != this platform's HOST_DATA " +
                        report_hostdata,
                    "deploy the CCE policy the key expects, or update the key's release policy "
                    "to x-ms-sevsnpvm-hostdata " +
                        report_hostdata + " (skrctl hostdata; skrctl release-policy)");
      }
    }
  }
  if (services.tokens && keys.empty()) {
    report.fail("keys", kExitUsage, "no key is configured",
                "add at least one entry under keys: (or set SKR_KEYS); docs/config.md");
  }

  // socket-dirs
  {
    std::string problems;
    Status client = checkSocketDirectoryOf(config.agent.client_socket);
    Status admin = checkSocketDirectoryOf(config.agent.admin_socket);
    for (const Status* s : {&client, &admin}) {
      if (!s->ok()) problems += (problems.empty() ? "" : "; ") + s->message();
    }
    if (problems.empty()) {
      report.pass("socket-dirs", "client " + parentDirectory(config.agent.client_socket) +
                                     ", admin " + parentDirectory(config.agent.admin_socket) +
                                     ": owned by this user or root, not group/other writable");
    } else {
      report.fail("socket-dirs", kExitUsage, problems,
                  "chmod go-w the directory (e.g. chmod 0750) and chown it to skr-agent's user, "
                  "or point agent.client_socket / agent.admin_socket to a private directory");
    }
  }
  return report;
}

void DoctorReport::pass(std::string check, std::string detail) {
  results_.push_back({std::move(check), CheckOutcome::Pass, std::move(detail), "", kExitOk});
}

void DoctorReport::fail(std::string check, int code, std::string detail, std::string fix) {
  results_.push_back(
      {std::move(check), CheckOutcome::Fail, std::move(detail), std::move(fix), code});
}

void DoctorReport::skip(std::string check, const std::string& needs) {
  results_.push_back({std::move(check), CheckOutcome::Skip, "skipped: needs " + needs,
                      "fix '" + needs + "' first", kExitOk});
}

void DoctorReport::append(DoctorReport&& later) {
  for (DoctorCheck& r : later.results_) results_.push_back(std::move(r));
}

int DoctorReport::exitCode() const {
  for (const DoctorCheck& r : results_) {
    if (r.outcome == CheckOutcome::Fail) return r.code;
  }
  return kExitOk;
}

std::string DoctorReport::text() const {
  std::string out;
  for (const DoctorCheck& r : results_) {
    out += (r.outcome == CheckOutcome::Pass ? "\u2713 " : "\u2717 ") + r.check + ": " + r.detail +
           "\n";
    if (r.outcome != CheckOutcome::Pass) out += "  fix: " + r.fix + "\n";
  }
  return out;
}

std::string DoctorReport::json() const {
  json::Writer w;
  w.beginArray();
  for (const DoctorCheck& r : results_) {
    w.beginObject()
        .member("check", r.check)
        .member("ok", r.outcome == CheckOutcome::Pass)
        .member("detail", r.detail)
        .member("fix", r.fix)
        .endObject();
  }
  w.endArray();
  return w.take() + "\n";
}

}  // namespace skr::ctl
