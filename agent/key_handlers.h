// The key routes of the client socket (router.h): the listing, public keys, the four key
// operations and rewrap. Errors are Statuses the router answers through apiErrorOf. Handlers
// touch unwrapped DEKs and plaintexts only in SecretBytes. Thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "agent/keyring.h"
#include "agent/routes.h"
#include "common/core/status.h"

namespace skr::agent {

class KeyHandlers {
 public:
  explicit KeyHandlers(std::shared_ptr<Keyring> keyring) : keyring_(std::move(keyring)) {}

  // GET /keys: the keys the caller may see.
  StatusOr<HttpResponse> listKeys(const RouteCall& call) const;
  // GET /keys/{name}[/{version}]: the public JWK and attributes.
  StatusOr<HttpResponse> getKey(const RouteCall& call) const;
  // POST /keys/{name}[/{version}]/{unwrapkey|wrapkey|decrypt|encrypt}.
  StatusOr<HttpResponse> keyOperation(const RouteCall& call) const;
  // POST /keys/{name}/rewrap: unwrap with the version `kid` names, wrap with the primary.
  StatusOr<HttpResponse> rewrap(const RouteCall& call) const;

 private:
  StatusOr<std::shared_ptr<const KeyVersion>> lookup(
      const RouteCall& call, const std::optional<std::string>& version) const;

  std::shared_ptr<Keyring> keyring_;
};

}  // namespace skr::agent
