// POST /keys/{name}/unwrapkey/batch (router.h): up to `max_items` unwraps in one request. A
// failed item is an AKV error object in its place ({"error":{"code","message"}}); the request
// fails as a whole only for a bad envelope. Unwrapped DEKs stay in SecretBytes. Thread-safe.
#pragma once

#include <cstddef>
#include <memory>

#include "agent/keyring.h"
#include "agent/routes.h"
#include "common/core/status.h"

namespace skr::agent {

class BatchHandler {
 public:
  BatchHandler(std::shared_ptr<Keyring> keyring, std::size_t max_items, int retry_after_seconds)
      : keyring_(std::move(keyring)),
        max_items_(max_items),
        retry_after_seconds_(retry_after_seconds) {}

  StatusOr<HttpResponse> unwrapBatch(const RouteCall& call) const;

 private:
  // One item: its {kid, value} result, appended to `out`.
  Status unwrapItem(const RouteCall& call, const json::ObjectPtr& item, SecretBytes& out) const;

  std::shared_ptr<Keyring> keyring_;
  std::size_t max_items_;
  int retry_after_seconds_;
};

}  // namespace skr::agent
