#include "emulator/emulator.h"

#include <Poco/JSON/Object.h>
#include <signal.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <iostream>

#include "common/log/logger.h"
#include "common/snp/emulated_chip.h"
#include "emulator/state_files.h"

namespace skr::emulator {
namespace {

constexpr const char* kWarning =
    "skr-emulator: WARNING: this is an EMULATOR of Azure IMDS, Entra ID, Key Vault, Managed HSM "
    "and MAA with an EMULATED SEV-SNP chip. Its keys, tokens and attestations are for tests and "
    "demos only and are trusted by nothing in real Azure.";

std::string envName(const std::string& listener) {
  std::string out;
  for (char c : listener)
    out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  return out;
}

std::string shellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out.push_back(c);
    }
  }
  return out + "'";
}

std::string absolutePath(const std::string& path) {
  char buf[PATH_MAX];
  if (::realpath(path.c_str(), buf) != nullptr) return buf;
  return path;
}

std::map<std::string, uint16_t> previousPorts(const std::string& state_dir) {
  std::map<std::string, uint16_t> out;
  StatusOr<std::string> text = readTextFile(state_dir + "/ports.json", 64 * 1024);
  if (!text.ok()) return out;
  StatusOr<json::ObjectPtr> o = json::parseObject(*text);
  if (!o.ok()) return out;
  for (const auto& [k, v] : **o) {
    StatusOr<int64_t> p = json::asInt(v, k);
    if (p.ok() && *p > 0 && *p < 65536) out[k] = static_cast<uint16_t>(*p);
  }
  return out;
}

}  // namespace

std::vector<std::string> listenerNames(int maa_instances) {
  std::vector<std::string> names = {"imds", "entra", "vault", "mhsm"};
  for (int i = 0; i < maa_instances; ++i) {
    names.push_back(i == 0 ? "maa" : "maa" + std::to_string(i + 1));
  }
  names.push_back("admin");
  return names;
}

StatusOr<std::unique_ptr<Emulator>> Emulator::create(EmulatorOptions options) {
  std::unique_ptr<Emulator> emulator(new Emulator());
  SKR_RETURN_IF_ERROR(ensureDirectory(options.state_dir, 0700));
  options.state_dir = absolutePath(options.state_dir);
  const std::string& dir = options.state_dir;
  ::unlink((dir + "/endpoints.env").c_str());  // scripts wait for a fresh one

  StatusOr<EmulatorCa> ca = EmulatorCa::openOrCreate(dir);
  if (!ca.ok()) return ca.status().withContext("state " + dir);
  std::vector<std::string> maa_names;
  for (const std::string& name : listenerNames(options.maa_instances)) {
    if (name.rfind("maa", 0) == 0) maa_names.push_back(name);
  }
  StatusOr<SigningKeys> signing = SigningKeys::openOrCreate(dir, maa_names);
  if (!signing.ok()) return signing.status().withContext("state " + dir);
  StatusOr<std::unique_ptr<IdentityStore>> identities =
      IdentityStore::open(dir, options.token_lifetime_seconds);
  if (!identities.ok()) return identities.status().withContext("state " + dir);
  StatusOr<std::unique_ptr<KeyStore>> keys = KeyStore::open(dir);
  if (!keys.ok()) return keys.status().withContext("state " + dir);
  const std::string chip_dir = dir + "/chip";
  StatusOr<snp::EmulatedChip> chip = snp::EmulatedChip::openOrCreate(chip_dir);
  if (!chip.ok()) return chip.status().withContext("emulated chip");

  std::vector<ListenerSpec> specs;
  const std::map<std::string, uint16_t> previous = previousPorts(dir);
  const std::vector<std::string> names = listenerNames(options.maa_instances);
  for (std::size_t i = 0; i < names.size(); ++i) {
    ListenerSpec spec;
    spec.name = names[i];
    spec.tls = names[i] != "imds" && names[i] != "admin";
    if (options.base_port != 0) {
      spec.port = static_cast<uint16_t>(options.base_port + i);
    } else if (auto it = previous.find(names[i]); it != previous.end()) {
      spec.preferred_port = it->second;
    }
    specs.push_back(spec);
  }
  StatusOr<std::unique_ptr<EmulatorServer>> server = EmulatorServer::bind(
      options.listen_host, specs, ca->serverCertificatePath(), ca->serverKeyPath());
  if (!server.ok()) return server.status();
  emulator->server_ = std::move(server).value();

  emulator->context_ = std::make_unique<EmulatorContext>(
      std::move(options), std::move(identities).value(), std::move(keys).value(),
      std::move(ca).value(), std::move(signing).value(), chip_dir);
  emulator->context_->setListenerUrls(emulator->server_->urls());
  emulator->services_ = registerServices(emulator->router_, *emulator->context_);
  return emulator;
}

Emulator::~Emulator() {
  stop();
}

std::string Emulator::endpointsEnv() const {
  const EmulatorContext& c = *context_;
  std::string env = "# skr-emulator endpoints: EMULATED Azure services, not Microsoft Azure.\n";
  for (const auto& name : listenerNames(c.options().maa_instances)) {
    env += "SKR_EMULATOR_" + envName(name) + "_URL=" + shellQuote(c.url(name)) + "\n";
  }
  env += "SKR_EMULATOR_CA_FILE=" + shellQuote(c.stateDir() + "/ca.pem") + "\n";
  env += "SKR_EMULATOR_CHIP_DIR=" + shellQuote(c.chipDir()) + "\n";
  env += "SKR_EMULATOR_STATE_DIR=" + shellQuote(c.stateDir()) + "\n";
  env += "SKR_EMULATOR_TENANT_ID=" + shellQuote(c.tenantId()) + "\n";
  env += "SKR_EMULATOR_K8S_ISSUER=" + shellQuote(c.k8sIssuer()) + "\n";
  env += "SKR_EMULATOR_VAULT_NAME=" + shellQuote(c.options().vault_name) + "\n";
  env += "SKR_EMULATOR_MHSM_NAME=" + shellQuote(c.options().mhsm_name) + "\n";
  env += "SKR_EMULATOR_PID=" + std::to_string(::getpid()) + "\n";
  return env;
}

Status Emulator::start() {
  SKR_RETURN_IF_ERROR(server_->start(*context_, router_));
  started_ = true;
  const std::string& dir = context_->stateDir();
  json::ObjectPtr ports = new Poco::JSON::Object;
  for (const auto& [name, port] : server_->ports()) ports->set(name, static_cast<int>(port));
  SKR_ASSIGN_OR_RETURN(std::string ports_text, json::serializeCanonical(ports));
  SKR_RETURN_IF_ERROR(writeFileAtomic(dir + "/ports.json", asBytes(ports_text), 0600));
  SKR_RETURN_IF_ERROR(
      writeFileAtomic(dir + "/ca.pem", asBytes(context_->ca().certificate().toPem()), 0644));
  SKR_RETURN_IF_ERROR(writeFileAtomic(dir + "/endpoints.env", asBytes(endpointsEnv()), 0644));
  log::warning("emulator.started", {{"state", dir},
                                    {"vault", context_->url("vault")},
                                    {"admin", context_->url("admin")},
                                    {"note", "EMULATED Azure: not trusted by real Azure"}});
  return okStatus();
}

void Emulator::stop() {
  if (!started_) return;
  started_ = false;
  server_->stop();
  ::unlink((context_->stateDir() + "/endpoints.env").c_str());
  log::info("emulator.stopped", {{"state", context_->stateDir()}});
}

int runEmulator(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  StatusOr<EmulatorOptions> options = parseOptions(args);
  if (!options.ok()) {
    err << "skr-emulator: " << options.status().message() << "\n";
    return 2;
  }
  if (options->help) {
    out << usageText();
    return 0;
  }
  if (options->version) {
    out << "skr-emulator " << SKR_VERSION << " (emulated Azure services, not Microsoft Azure)\n";
    return 0;
  }
  log::setMinLevel(options->log_level);
  err << kWarning << "\n";
  err.flush();

  // Block the stop signals before any thread exists, so only sigwait() below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  StatusOr<std::unique_ptr<Emulator>> emulator = Emulator::create(std::move(options).value());
  if (!emulator.ok()) {
    err << "skr-emulator: " << emulator.status().toString() << "\n";
    return 1;
  }
  Status started = (*emulator)->start();
  if (!started.ok()) {
    err << "skr-emulator: " << started.toString() << "\n";
    return 1;
  }
  int sig = 0;
  sigwait(&stop_signals, &sig);
  log::info("emulator.signal", {{"signal", sig}});
  (*emulator)->stop();
  return 0;
}

}  // namespace skr::emulator
