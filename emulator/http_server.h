// The emulator's listeners: one Poco HTTPServer per listener (plain HTTP or TLS 1.2+ with the
// emulator CA's server certificate), all on a loopback address, sharing one thread pool. Each
// request is converted to an emulator Request, passed through the fault injector, routed, logged
// (request log + JSON line, never tokens or bodies) and answered; nothing thrown escapes (500
// CloudError). The only file that includes Poco's server classes.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/core/status.h"
#include "emulator/emulator_context.h"
#include "emulator/router.h"

namespace skr::emulator {

struct ListenerSpec {
  std::string name;  // "imds", "entra", ...
  bool tls = false;
  uint16_t port = 0;            // 0 = any free port
  uint16_t preferred_port = 0;  // with port 0: try this one first (previous run), else any
};

class EmulatorServer {
 public:
  // Binds every listener on `host` (loopback) now, so ports are known before serving.
  // Unavailable naming the listener and port when a bind fails.
  static StatusOr<std::unique_ptr<EmulatorServer>> bind(const std::string& host,
                                                        const std::vector<ListenerSpec>& listeners,
                                                        const std::string& tls_cert_path,
                                                        const std::string& tls_key_path);
  ~EmulatorServer();

  // name -> "http(s)://host:port"
  std::map<std::string, std::string> urls() const;
  std::map<std::string, uint16_t> ports() const;

  // Starts serving with `router` (both must outlive stop()).
  Status start(EmulatorContext& context, const Router& router);
  // Stops accepting, aborts open connections and pending fault delays, joins the threads.
  void stop();

 private:
  struct Impl;
  explicit EmulatorServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace skr::emulator
