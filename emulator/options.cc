#include "emulator/options.h"

#include <Poco/Net/IPAddress.h>

#include <charconv>

#include "emulator/pattern.h"

namespace skr::emulator {
namespace {

StatusOr<int64_t> parseInt(const std::string& flag, const std::string& text, int64_t lo,
                           int64_t hi) {
  int64_t v = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc() || ptr != end || v < lo || v > hi) {
    return invalidArgumentError(flag + ": '" + text + "' is not an integer in " +
                                std::to_string(lo) + ".." + std::to_string(hi));
  }
  return v;
}

}  // namespace

std::string usageText() {
  return R"(skr-emulator: a local, EMULATED stand-in for Azure IMDS, Entra ID, Key Vault, Managed HSM
and Microsoft Azure Attestation, plus an emulated SEV-SNP chip. Nothing it issues is trusted by
real Azure; every token says "x-ms-emulated": true. Loopback only.

Usage: skr-emulator --state DIR [--listen 127.0.0.1:PORT] [options]

  --state DIR            state directory (created 0700): keys, identities, roles, CA, chip
  --listen HOST:PORT     loopback address (127.0.0.1, ::1 or localhost) and base port. PORT 0
                         (default): free ports, reusing the previous run's ports when free;
                         otherwise listeners use PORT, PORT+1, ... in the order below
  --vault NAME           display name of the Key Vault (default skr-emulated-vault)
  --mhsm NAME            display name of the Managed HSM (default skr-emulated-mhsm)
  --maa-instances N      MAA instances, 1..8 (default 2): "maa" is trusted by the vaults,
                         "maa2".. are not
  --token-lifetime SECS  access-token lifetime for a new state dir (default 86400)
  --log-level LEVEL      debug | info | warning | error (default info); JSON lines on stderr
  --help, --version

Listeners (one port each): imds (HTTP), entra (HTTPS), vault (HTTPS), mhsm (HTTPS),
maa, maa2, ... (HTTPS), admin (HTTP). HTTPS uses the emulator's CA, written to DIR/ca.pem.
MAA (each maa* listener has its own RS256 key; iss = the listener URL):
  POST /attest/SevSnpVm?api-version=2020-10-01|2022-08-01   {"report","runtimeData",
       "initTimeData"?,"nonce"?} -> {"token"}; the report is verified against AMD's pinned
       roots or the emulated chip's ARK; REPORT_DATA = SHA-256(runtimeData) || 32 zero bytes
  GET  /certs (JWKS, x5c only)   GET /.well-known/openid-configuration
Once every listener is up: DIR/ca.pem, then DIR/endpoints.env (shell-sourceable):
  SKR_EMULATOR_IMDS_URL SKR_EMULATOR_ENTRA_URL SKR_EMULATOR_VAULT_URL SKR_EMULATOR_MHSM_URL
  SKR_EMULATOR_MAA_URL SKR_EMULATOR_MAA2_URL.. SKR_EMULATOR_ADMIN_URL SKR_EMULATOR_CA_FILE
  SKR_EMULATOR_CHIP_DIR SKR_EMULATOR_TENANT_ID SKR_EMULATOR_K8S_ISSUER
SIGTERM / SIGINT stop it (exit 0).

Admin API (plain HTTP, JSON, on the admin listener):
  GET    /_emulator/health
  GET    /_emulator/identities
  POST   /_emulator/identities          {"kind":"system"|"user"|"app","name"?,"client_id"?,
                                         "object_id"?,"msi_res_id"?,"federated_credentials"?}
  DELETE /_emulator/identities/{object_id}
  POST   /_emulator/identities/{object_id}/federated-credentials
                                        {"name"?,"issuer"?,"subject","audiences"?}
  GET    /_emulator/role-assignments
  POST   /_emulator/role-assignments    {"principal_id","role","vault"?:"vault"|"mhsm",
                                         "scope"?:"/"|"/keys"|"/keys/NAME"}
  DELETE /_emulator/role-assignments/{id}
  POST   /_emulator/service-account-token {"namespace","service_account","audience"?,
                                         "lifetime_seconds"?,"wrong_key"?}
  GET    /_emulator/settings             PUT {"token_lifetime_seconds"?: N,
                                         "maa_token_lifetime_seconds"?: N (default 28800)}
  GET    /_emulator/chip                 PUT {"bootloader"?,"tee"?,"snp"?,"microcode"?,
                                         "debug"?,"policy"?,"host_data"?,"measurement"?}
  GET    /_emulator/faults               POST {"listener"?,"method"?,"path"?|"path_regex"?,
                                         "count"?,"action":"status"|"delay"|"close"|"truncate"|
                                         "corrupt"|"wrong_key","status"?,"retry_after"?,
                                         "delay_ms"?,"body"?}     DELETE (all)
  GET    /_emulator/requests[?listener=L]  request log (no tokens, no bodies, no queries)
  POST   /_emulator/reset                 clears faults and the request log
See docs/emulator.md.
)";
}

StatusOr<EmulatorOptions> parseOptions(const std::vector<std::string>& args) {
  EmulatorOptions o;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> StatusOr<std::string> {
      if (i + 1 >= args.size()) return invalidArgumentError(a + ": missing value");
      return args[++i];
    };
    if (a == "--help" || a == "-h") {
      o.help = true;
    } else if (a == "--version") {
      o.version = true;
    } else if (a == "--state") {
      SKR_ASSIGN_OR_RETURN(o.state_dir, value());
    } else if (a == "--listen") {
      SKR_ASSIGN_OR_RETURN(std::string v, value());
      const std::size_t colon = v.rfind(':');
      if (colon == std::string::npos || colon == 0 || colon + 1 == v.size()) {
        return invalidArgumentError("--listen: '" + v + "' is not HOST:PORT");
      }
      std::string host = v.substr(0, colon);
      const std::string port_text = v.substr(colon + 1);
      if (host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
      if (host == "localhost") host = "127.0.0.1";
      Poco::Net::IPAddress ip;
      if (!Poco::Net::IPAddress::tryParse(host, ip) || !ip.isLoopback()) {
        return invalidArgumentError("--listen: '" + host +
                                    "' is not a loopback address; the emulator never listens "
                                    "beyond this host");
      }
      o.listen_host = host;
      SKR_ASSIGN_OR_RETURN(int64_t port, parseInt("--listen", port_text, 0, 65000));
      o.base_port = static_cast<uint16_t>(port);
    } else if (a == "--vault" || a == "--mhsm") {
      SKR_ASSIGN_OR_RETURN(std::string v, value());
      static const Pattern re = Pattern::literal("[A-Za-z0-9-]{3,24}");
      if (!re.matches(v)) {
        return invalidArgumentError(a + ": '" + v + "' must be 3..24 of [A-Za-z0-9-]");
      }
      (a == "--vault" ? o.vault_name : o.mhsm_name) = v;
    } else if (a == "--maa-instances") {
      SKR_ASSIGN_OR_RETURN(std::string v, value());
      SKR_ASSIGN_OR_RETURN(int64_t n, parseInt(a, v, 1, 8));
      o.maa_instances = static_cast<int>(n);
    } else if (a == "--token-lifetime") {
      SKR_ASSIGN_OR_RETURN(std::string v, value());
      SKR_ASSIGN_OR_RETURN(o.token_lifetime_seconds, parseInt(a, v, 60, 7 * 86400));
    } else if (a == "--log-level") {
      // Not SKR_ASSIGN_OR_RETURN: GCC 12 reports a false maybe-uninitialized on the moved string.
      const StatusOr<std::string> level = value();
      if (!level.ok()) return level.status();
      const std::string& v = *level;
      if (v == "debug") {
        o.log_level = log::Level::Debug;
      } else if (v == "info") {
        o.log_level = log::Level::Info;
      } else if (v == "warning") {
        o.log_level = log::Level::Warning;
      } else if (v == "error") {
        o.log_level = log::Level::Error;
      } else {
        return invalidArgumentError("--log-level: '" + v + "' is not debug|info|warning|error");
      }
    } else {
      return invalidArgumentError("unknown argument '" + a + "' (see --help)");
    }
  }
  if (!o.help && !o.version && o.state_dir.empty()) {
    return invalidArgumentError("--state DIR is required (see --help)");
  }
  return o;
}

}  // namespace skr::emulator
