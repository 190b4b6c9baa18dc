#include "common/release/release_services.h"

#include <cstdlib>
#include <fstream>
#include <string>
#include <utility>

#include "common/azure/blob_reader.h"
#include "common/http/poco_http_transport.h"
#include "common/http/url.h"
#include "common/log/logger.h"
#include "common/snp/platform.h"
#include "common/snp/retrying_device.h"

namespace skr::release {
namespace {

StatusOr<std::vector<crypto::Certificate>> readTrustAnchors(const std::string& ca_file) {
  if (ca_file.empty()) return std::vector<crypto::Certificate>{};
  FILE* file = std::fopen(ca_file.c_str(), "rb");
  if (file == nullptr) {
    return Status(StatusCode::NotFound, "'" + ca_file + "' cannot be read");
  }
  std::string text;
  char buffer[4096];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0) {
    text.append(buffer, n);
    if (text.size() > (std::size_t{4} << 20)) {
      std::fclose(file);
      return Status(StatusCode::ResourceExhausted, "'" + ca_file + "' exceeds 4 MiB");
    }
  }
  std::fclose(file);
  StatusOr<std::vector<crypto::Certificate>> certs = crypto::Certificate::parsePemBundle(text);
  if (!certs.ok()) return certs.status().withContext("'" + ca_file + "'");
  return certs;
}

}  // namespace

http::RetryPolicy retryPolicyFor(const config::RetryConfig& retry, std::string dependency,
                                 http::RetryPolicy base) {
  base.dependency = std::move(dependency);
  base.max_attempts = retry.max_attempts;
  base.backoff.base = retry.base;
  base.backoff.cap = retry.cap;
  base.overall_deadline = retry.overall;
  return base;
}

namespace {

// The resource overrides of the client for `key`: a Managed HSM configured as `mhsm:` whose host
// does not say so (an emulator, a private endpoint) still gets a token for the Managed HSM
// resource.
std::map<std::string, std::string> overridesFor(const config::KeyConfig& key,
                                                std::map<std::string, std::string> overrides) {
  if (key.managed_hsm) {
    overrides.try_emplace(std::string(http::urlAuthority(key.vault_url)),
                          azure::kManagedHsmResource);
  }
  return overrides;
}

}  // namespace

StatusOr<std::unique_ptr<azure::KeyVaultClient>> ReleaseServices::vaultClientFor(
    const config::KeyConfig& key, Clock& clock, http::JitterSource& jitter) const {
  if (!tokens) {
    return Status(StatusCode::FailedPrecondition,
                  "identity kind 'none' has no credential for Key Vault (attest-and-defer)");
  }
  return vaultClientFor(key, clock, jitter, *tokens);
}

StatusOr<std::unique_ptr<azure::KeyVaultClient>> ReleaseServices::vaultClientFor(
    const config::KeyConfig& key, Clock& clock, http::JitterSource& jitter,
    azure::TokenProvider& key_tokens) const {
  azure::KeyVaultOptions options;
  options.api_version = key.api_version;
  options.enc = key.enc;
  options.jws_trust_anchors = jws_trust_anchors;
  options.resource_overrides = overridesFor(key, resource_overrides);
  options.retry = retryPolicyFor(retry, "Key Vault", azure::KeyVaultOptions::defaultRetryPolicy());
  return azure::KeyVaultClient::create(transport, key_tokens, clock, jitter, std::move(options));
}

std::string ReleaseServices::tokenResourceFor(const config::KeyConfig& key) const {
  return azure::resourceForHost(http::urlAuthority(key.vault_url),
                                overridesFor(key, resource_overrides));
}

ReleaseFlow::Options ReleaseServices::flowOptions(const config::Config& config) const {
  ReleaseFlow::Options options;
  options.transfer_key_bits = config.attestation.transfer_key_bits;
  options.vmpl = config.platform.vmpl;
  return options;
}

StatusOr<std::unique_ptr<azure::TokenProvider>> makeTokenProvider(
    const config::IdentityConfig& identity, std::shared_ptr<http::HttpTransport> transport,
    Clock& clock, http::JitterSource& jitter) {
  std::unique_ptr<azure::TokenProvider> inner;
  switch (identity.kind) {
    case config::IdentityKind::None: return std::unique_ptr<azure::TokenProvider>();
    case config::IdentityKind::Managed: {
      azure::ImdsOptions options;
      options.endpoint = identity.imds_endpoint;
      if (!identity.client_id.empty()) {
        options.identity = azure::ImdsIdentity::ClientId;
        options.identity_id = identity.client_id;
      } else if (!identity.object_id.empty()) {
        options.identity = azure::ImdsIdentity::ObjectId;
        options.identity_id = identity.object_id;
      } else if (!identity.msi_res_id.empty()) {
        options.identity = azure::ImdsIdentity::MsiResId;
        options.identity_id = identity.msi_res_id;
      }
      SKR_ASSIGN_OR_RETURN(auto imds, azure::ImdsTokenProvider::create(std::move(transport),
                                                                       options, clock, jitter));
      inner = std::move(imds);
      break;
    }
    case config::IdentityKind::Workload: {
      azure::WorkloadIdentityOptions options;
      options.client_id = identity.client_id;
      options.tenant_id = identity.tenant_id;
      options.federated_token_file = identity.federated_token_file;
      options.authority_host = identity.authority_host;
      SKR_ASSIGN_OR_RETURN(auto workload, azure::WorkloadIdentityTokenProvider::create(
                                              std::move(transport), options, clock, jitter));
      inner = std::move(workload);
      break;
    }
    case config::IdentityKind::TokenFile:
      inner = std::make_unique<azure::TokenFileProvider>(identity.token_file, clock);
      break;
    case config::IdentityKind::Token:
      inner = std::make_unique<azure::LiteralTokenProvider>(identity.token.clone());
      break;
  }
  return std::unique_ptr<azure::TokenProvider>(
      std::make_unique<azure::CachingTokenProvider>(std::move(inner), clock));
}

StatusOr<std::unique_ptr<seal::SealingKeyProvider>> makeSealingProvider(
    const config::SealConfig& seal, std::shared_ptr<snp::SnpDevice> device) {
  switch (seal.provider) {
    case seal::SealProviderKind::SnpDerived: return seal::makeSnpDerivedProvider(std::move(device));
    case seal::SealProviderKind::Emulated: return seal::makeEmulatedProvider(std::move(device));
    case seal::SealProviderKind::Keyfile: return seal::makeKeyfileProvider(seal.keyfile);
    case seal::SealProviderKind::None: return seal::makeNoneProvider();
  }
  return Status(StatusCode::InvalidArgument, "seal.provider: unknown provider");
}

std::variant<ReleaseServices, SetupFailure> buildReleaseServices(const config::Config& config,
                                                                 Clock& clock,
                                                                 http::JitterSource& jitter) {
  ReleaseServices services;

  http::PocoHttpTransportOptions transport_options;
  transport_options.ca_file = config.tls.ca_file;
  StatusOr<std::unique_ptr<http::PocoHttpTransport>> transport =
      http::PocoHttpTransport::create(transport_options);
  if (!transport.ok()) return SetupFailure{ExitCode::Usage, transport.status()};
  services.transport = std::move(transport).value();

  // The release JWS chain: tls.jws_ca_file pins its CA; else the HTTPS trust applies.
  const std::string& jws_ca =
      config.tls.jws_ca_file.empty() ? config.tls.ca_file : config.tls.jws_ca_file;
  StatusOr<std::vector<crypto::Certificate>> anchors = readTrustAnchors(jws_ca);
  if (!anchors.ok()) {
    return SetupFailure{ExitCode::Usage, anchors.status().withContext(config.tls.jws_ca_file.empty()
                                                                          ? "tls.ca_file"
                                                                          : "tls.jws_ca_file")};
  }

  snp::PlatformOptions platform_options;
  platform_options.sev_guest_path = config.platform.sev_guest_path;
  platform_options.sev_legacy_path = config.platform.sev_legacy_path;
  platform_options.tsm_report_dir = config.platform.tsm_report_dir;
  platform_options.emulated_chip_dir = config.platform.chip_dir;
  StatusOr<std::unique_ptr<snp::SnpDevice>> device =
      snp::openPlatform(config.platform.kind, platform_options);
  if (!device.ok()) return SetupFailure{ExitCode::Platform, device.status()};
  // A busy guest-request channel (the host throttling) is retried like a busy HTTP dependency.
  services.device = std::make_shared<snp::RetryingDevice>(
      std::shared_ptr<const snp::SnpDevice>(std::move(device).value()),
      retryPolicyFor(config.retry, "SNP device", http::RetryPolicy{}), clock, jitter);

  snp::CollateralOptions collateral_options;
  const config::CollateralConfig& collateral = config.attestation.collateral;
  collateral_options.use_security_context = collateral.security_context;
  collateral_options.security_context_dir = collateral.security_context_dir;
  if (!collateral_options.security_context_dir) {
    collateral_options.security_context_dir = snp::securityContextDirFromEnvironment();
  }
  collateral_options.use_thim = collateral.thim;
  collateral_options.thim_url = collateral.thim_url;
  collateral_options.use_kds = collateral.kds;
  collateral_options.kds_base_url = collateral.kds_url;
  collateral_options.retry = retryPolicyFor(config.retry, "THIM", http::RetryPolicy{});
  collateral_options.clock = &clock;
  collateral_options.jitter = &jitter;
  StatusOr<std::unique_ptr<snp::CollateralProvider>> collateral_provider =
      snp::CollateralProvider::create(services.transport, collateral_options);
  if (!collateral_provider.ok()) return SetupFailure{ExitCode::Usage, collateral_provider.status()};
  services.collateral = std::move(collateral_provider).value();

  azure::MaaOptions maa_options;
  maa_options.endpoint = config.attestation.maa_endpoint;
  maa_options.api_version = config.attestation.api_version;
  maa_options.retry = retryPolicyFor(config.retry, "MAA", azure::MaaOptions::defaultRetryPolicy());
  StatusOr<std::unique_ptr<azure::MaaClient>> maa =
      azure::MaaClient::create(services.transport, clock, jitter, maa_options);
  if (!maa.ok()) return SetupFailure{ExitCode::Usage, maa.status()};
  services.maa = std::move(maa).value();

  StatusOr<std::unique_ptr<azure::TokenProvider>> tokens =
      makeTokenProvider(config.identity, services.transport, clock, jitter);
  if (!tokens.ok()) {
    return SetupFailure{ExitCode::Identity, tokens.status().withContext("identity")};
  }
  services.tokens = std::move(tokens).value();

  services.jws_trust_anchors = std::move(anchors).value();
  services.resource_overrides = config.identity.resource_overrides;
  services.retry = config.retry;
  services.data_sources = makeBlobSources(services.transport, services.tokens.get(), config.retry);

  StatusOr<std::unique_ptr<seal::SealingKeyProvider>> sealing =
      makeSealingProvider(config.seal, services.device);
  if (!sealing.ok()) {
    return SetupFailure{ExitCode::Output, sealing.status().withContext("seal.provider")};
  }
  services.sealing = std::move(sealing).value();
  return services;
}

StatusOr<std::string> readSasFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return notFoundError("cannot read the SAS file " + path);
  std::string text(8193, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > 8192) return invalidArgumentError("the SAS file " + path + " is over 8 KiB");
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.pop_back();
  }
  if (!text.empty() && text.front() == '?') text.erase(0, 1);
  if (text.find("sig=") == std::string::npos) {
    http::wipeString(text);
    return invalidArgumentError("the SAS file " + path +
                                " holds no SAS token (a query string with sig=)");
  }
  return text;
}

DataSourceFactory makeBlobSources(std::shared_ptr<http::HttpTransport> transport,
                                  azure::TokenProvider* tokens, const config::RetryConfig& retry) {
  return [transport, tokens, retry](
             const config::DataConfig& entry, Clock& clock,
             http::JitterSource& jitter) -> StatusOr<std::unique_ptr<data::ObjectSource>> {
    azure::BlobReaderOptions options;
    options.url = entry.url;
    options.retry = retryPolicyFor(retry, "Blob Storage", options.retry);
    switch (entry.auth) {
      case config::DataAuth::Entra: options.auth = azure::BlobAuth::Entra; break;
      case config::DataAuth::Anonymous: options.auth = azure::BlobAuth::Anonymous; break;
      case config::DataAuth::Sas: {
        options.auth = azure::BlobAuth::Sas;
        StatusOr<std::string> sas = readSasFile(entry.sas_file);
        if (!sas.ok()) return sas.status();
        options.url += "?" + *sas;
        http::wipeString(*sas);
        break;
      }
    }
    if (options.auth == azure::BlobAuth::Entra && tokens == nullptr) {
      return failedPreconditionError("auth entra needs an identity (identity kind is none)");
    }
    StatusOr<std::unique_ptr<azure::BlobReader>> reader =
        azure::BlobReader::create(transport, tokens, clock, jitter, std::move(options));
    if (!reader.ok()) return reader.status();
    return std::unique_ptr<data::ObjectSource>(std::move(reader).value());
  };
}

}  // namespace skr::release
