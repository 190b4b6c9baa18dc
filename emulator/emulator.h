// The whole emulator process minus main(): loads the state directory, creates the emulated chip,
// binds every listener, registers the services, serves, and publishes DIR/ca.pem and then
// DIR/endpoints.env once everything is up. runEmulator() is what main() calls.
#pragma once

#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "common/core/status.h"
#include "emulator/emulator_context.h"
#include "emulator/http_server.h"
#include "emulator/options.h"
#include "emulator/router.h"
#include "emulator/service.h"

namespace skr::emulator {

class Emulator {
 public:
  // Loads/creates the state (CA, signing keys, directory, keys, chip) and binds the listeners.
  static StatusOr<std::unique_ptr<Emulator>> create(EmulatorOptions options);
  ~Emulator();

  // Serves, then writes DIR/ca.pem and DIR/endpoints.env (each tmp + rename).
  Status start();
  // Stops serving and removes DIR/endpoints.env.
  void stop();

  EmulatorContext& context() { return *context_; }
  std::string endpointsEnv() const;

 private:
  Emulator() = default;
  std::unique_ptr<EmulatorContext> context_;
  std::unique_ptr<EmulatorServer> server_;
  Router router_;
  std::vector<std::unique_ptr<Service>> services_;
  bool started_ = false;
};

// Listener names in port order: imds, entra, vault, mhsm, maa, maa2.., admin.
std::vector<std::string> listenerNames(int maa_instances);

// Parses args, starts, waits for SIGTERM/SIGINT, stops. Exit codes: 0 ok, 2 usage, 1 failure.
// Must be called before any other thread exists (it blocks the stop signals process-wide).
int runEmulator(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace skr::emulator
