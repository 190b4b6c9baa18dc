// The one reader of OpenSSL's per-thread error queue: every crypto adapter reports an OpenSSL
// failure through these, so the queue is always drained and the wording is the same everywhere.
#pragma once

#include <string>
#include <string_view>

#include "common/core/status.h"

namespace skr::crypto {

// Drains the calling thread's OpenSSL error queue into "reason; reason" (oldest first, at most
// three), or "no OpenSSL error reported" when the queue is empty. The queue is empty afterwards.
std::string takeOpenSslErrors();

// Internal("<what>: <queued reasons>"), draining the queue: OpenSSL failed on arguments the
// caller already validated.
Status openSslInternalError(std::string_view what);

// For OpenSSL failing where no input can explain it (a fetched algorithm missing, the DRBG
// failing): a broken invariant of the process. Writes "skr: fatal: <what> failed: <reasons>" to
// stderr and aborts.
[[noreturn]] void abortOnOpenSslFailure(std::string_view what);

}  // namespace skr::crypto
