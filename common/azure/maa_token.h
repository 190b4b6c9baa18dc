// A verified Microsoft Azure Attestation token (spec/azure-wire.md §1.3), as MaaClient returns it.
// The token is a bearer credential for AKV release: never logged (describe it with
// log::describeToken).
#pragma once

#include <chrono>
#include <string>

#include "common/json/json.h"

namespace skr::azure {

// A verified MAA token.
struct MaaToken {
  std::string token;       // compact JWT (a bearer credential for AKV release)
  json::ObjectPtr claims;  // the verified payload
  std::string issuer;      // iss
  std::chrono::system_clock::time_point expires_at;
  std::string hostdata;   // x-ms-sevsnpvm-hostdata (64 lowercase hex)
  bool emulated = false;  // x-ms-emulated: true (tokens of skr-emulator)
  int attempts = 0;       // HTTP attempts the attestation took
};

}  // namespace skr::azure
