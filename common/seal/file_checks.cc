#include "common/seal/file_checks.h"

namespace skr::seal {

std::string octalMode(mode_t mode) {
  std::string text(4, '0');
  unsigned bits = static_cast<unsigned>(mode & 07777);
  for (std::size_t i = 4; i-- > 0; bits >>= 3) text[i] = static_cast<char>('0' + (bits & 7));
  return text;
}

Status checkOwnerAndMode(const struct stat& st, std::string_view what, const std::string& path,
                         const OwnerPolicy& owner, mode_t forbidden_bits) {
  const bool trusted = st.st_uid == owner.uid || (owner.trust_root && st.st_uid == 0);
  if (!trusted) {
    return permissionDeniedError(std::string(what) + " " + path + " is owned by uid " +
                                 std::to_string(st.st_uid) + ", expected uid " +
                                 std::to_string(owner.uid) + (owner.trust_root ? " or root" : ""));
  }
  const mode_t bad = st.st_mode & forbidden_bits;
  if (bad != 0) {
    std::string who;
    if ((bad & 0070) != 0) who = "group";
    if ((bad & 0007) != 0) who += who.empty() ? "others" : " and others";
    const bool writable = (bad & 0022) != 0;
    return permissionDeniedError(std::string(what) + " " + path + " has mode " +
                                 octalMode(st.st_mode) + ": " +
                                 (writable ? "writable" : "accessible") + " by " + who);
  }
  return okStatus();
}

}  // namespace skr::seal
