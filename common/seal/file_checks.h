// Ownership and permission checks shared by the state directory and the keyfile provider: the
// files and directories that hold sealed material must belong to us (or root) and must not be
// writable by anyone else. Checks run on an open descriptor's fstat, never on a path (no TOCTOU).
#pragma once

#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <string>
#include <string_view>

#include "common/core/status.h"

namespace skr::seal {

// Which owners are trusted. Root is trusted by default: it can read and replace anything anyway.
struct OwnerPolicy {
  uid_t uid = ::geteuid();
  bool trust_root = true;
};

// "0640".
std::string octalMode(mode_t mode);

// PermissionDenied "<what> <path> is owned by uid N, expected uid M (or root)" when the owner is
// not trusted; PermissionDenied "<what> <path> has mode 0777: writable by group or others" when
// any of `forbidden_bits` is set (e.g. 0022; 0027 also forbids reading by others).
Status checkOwnerAndMode(const struct stat& st, std::string_view what, const std::string& path,
                         const OwnerPolicy& owner, mode_t forbidden_bits);

}  // namespace skr::seal
