#include "agent/unix_socket.h"

#include <fcntl.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "agent/peer_credentials.h"
#include "tests/unit/agent/socket_test_dir.h"

namespace skr::agent {
namespace {

using testing::connectUnix;
using testing::SocketTestDir;

struct stat lstatOf(const std::string& path) {
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// A socket file nobody listens on: bound, then closed without unlinking.
void makeStaleSocket(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  REQUIRE(::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0);  // NOLINT
  ::close(fd);
}

UnixSocketOptions optionsFor(const std::string& path) {
  UnixSocketOptions options;
  options.path = path;
  return options;
}

TEST_CASE("unix socket is created with the configured mode and the process's group") {
  SocketTestDir dir;
  UnixSocketOptions options = optionsFor(dir.file("a.sock"));
  options.gid = ::getgid();
  auto socket = UnixListeningSocket::create(options);
  REQUIRE(socket.ok());
  const struct stat st = lstatOf(options.path);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK((st.st_mode & 07777) == 0660);
  CHECK(st.st_gid == ::getgid());
  CHECK(st.st_uid == ::geteuid());

  options.path = dir.file("b.sock");
  options.mode = 0600;
  options.gid.reset();
  auto restricted = UnixListeningSocket::create(options);
  REQUIRE(restricted.ok());
  CHECK((lstatOf(options.path).st_mode & 07777) == 0600);
}

TEST_CASE("unix socket gets a supplementary or (as root) any configured group") {
  std::vector<gid_t> groups(static_cast<std::size_t>(::getgroups(0, nullptr)));
  groups.resize(
      static_cast<std::size_t>(::getgroups(static_cast<int>(groups.size()), groups.data())));
  std::optional<gid_t> other;
  for (gid_t g : groups) {
    if (g != ::getgid()) other = g;
  }
  if (!other && ::geteuid() == 0) other = 12345;
  if (!other) {
    WARN("no supplementary group and not root: group change not exercised");
    return;
  }
  SocketTestDir dir;
  UnixSocketOptions options = optionsFor(dir.file("g.sock"));
  options.gid = *other;
  auto socket = UnixListeningSocket::create(options);
  REQUIRE(socket.ok());
  CHECK(lstatOf(options.path).st_gid == *other);
  CHECK((lstatOf(options.path).st_mode & 07777) == 0660);
}

TEST_CASE("unix socket refuses a path that exists and is not a socket, and leaves it alone") {
  SocketTestDir dir;
  const std::string path = dir.file("file");
  std::ofstream(path) << "precious";
  auto socket = UnixListeningSocket::create(optionsFor(path));
  REQUIRE_FALSE(socket.ok());
  CHECK(socket.status().code() == StatusCode::FailedPrecondition);
  CHECK(socket.status().message() ==
        "socket path '" + path + "' exists and is not a socket; refusing to remove it");
  std::ifstream in(path);
  std::string content;
  in >> content;
  CHECK(content == "precious");

  REQUIRE(::mkdir(dir.file("d").c_str(), 0700) == 0);
  CHECK(UnixListeningSocket::create(optionsFor(dir.file("d"))).status().code() ==
        StatusCode::FailedPrecondition);
  CHECK(exists(dir.file("d")));
}

TEST_CASE("unix socket refuses a directory writable by group or others, sticky or not") {
  SocketTestDir dir;
  const std::string open_dir = dir.file("open");
  REQUIRE(::mkdir(open_dir.c_str(), 0700) == 0);
  REQUIRE(::chmod(open_dir.c_str(), 0777) == 0);
  auto refused = UnixListeningSocket::create(optionsFor(open_dir + "/s.sock"));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == StatusCode::PermissionDenied);
  CHECK(refused.status().message() ==
        "socket directory '" + open_dir +
            "' has mode 0777: writable by group or others without the sticky bit");
  CHECK_FALSE(exists(open_dir + "/s.sock"));

  REQUIRE(::chmod(open_dir.c_str(), 0770) == 0);
  CHECK(UnixListeningSocket::create(optionsFor(open_dir + "/s.sock")).status().code() ==
        StatusCode::PermissionDenied);

  // A sticky /tmp-like directory: anyone could create the path first (issue 14).
  for (const mode_t mode : {mode_t{01777}, mode_t{01770}}) {
    REQUIRE(::chmod(open_dir.c_str(), mode) == 0);
    auto sticky = UnixListeningSocket::create(optionsFor(open_dir + "/s.sock"));
    REQUIRE_FALSE(sticky.ok());
    CHECK(sticky.status().code() == StatusCode::PermissionDenied);
    CHECK_THAT(sticky.status().message(),
               Catch::Contains("a sticky bit does not stop another user from creating"));
    CHECK_FALSE(exists(open_dir + "/s.sock"));
  }
  REQUIRE(::chmod(open_dir.c_str(), 0750) == 0);
  CHECK(UnixListeningSocket::create(optionsFor(open_dir + "/s.sock")).ok());
}

TEST_CASE(
    "unix socket creates a missing directory 0750 with the socket's group inside an open volume") {
  // A Kubernetes emptyDir is root-owned 0777: the agent cannot use it directly, but it can make its
  // own directory in it.
  SocketTestDir dir;
  const std::string volume = dir.file("volume");
  REQUIRE(::mkdir(volume.c_str(), 0700) == 0);
  REQUIRE(::chmod(volume.c_str(), 0777) == 0);
  UnixSocketOptions options = optionsFor(volume + "/agent/agent.sock");
  options.gid = ::getgid();
  auto socket = UnixListeningSocket::create(options);
  REQUIRE(socket.ok());
  const struct stat st = lstatOf(volume + "/agent");
  CHECK(S_ISDIR(st.st_mode));
  CHECK((st.st_mode & 07777) == 0750);
  CHECK(st.st_uid == ::geteuid());
  CHECK(st.st_gid == ::getgid());
  CHECK(S_ISSOCK(lstatOf(options.path).st_mode));

  // Only the last component is created.
  auto deeper = UnixListeningSocket::create(optionsFor(volume + "/x/y/agent.sock"));
  REQUIRE_FALSE(deeper.ok());
  CHECK(deeper.status().code() == StatusCode::FailedPrecondition);
  CHECK_FALSE(exists(volume + "/x"));

  // A directory someone made first with a loose mode is still refused.
  REQUIRE(::mkdir((volume + "/planted").c_str(), 0700) == 0);
  REQUIRE(::chmod((volume + "/planted").c_str(), 0777) == 0);
  CHECK(UnixListeningSocket::create(optionsFor(volume + "/planted/agent.sock")).status().code() ==
        StatusCode::PermissionDenied);
}

TEST_CASE("unix socket refuses a directory owned by another user") {
  if (::geteuid() != 0) {
    WARN("not root: cannot create a directory owned by another user");
    return;
  }
  SocketTestDir dir;
  const std::string foreign = dir.file("foreign");
  REQUIRE(::mkdir(foreign.c_str(), 0755) == 0);
  REQUIRE(::chown(foreign.c_str(), 12345, 12345) == 0);
  auto refused = UnixListeningSocket::create(optionsFor(foreign + "/s.sock"));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == StatusCode::PermissionDenied);
  CHECK(refused.status().message() == "socket directory '" + foreign +
                                          "' is owned by uid 12345, not by this process (uid 0) "
                                          "or root");
}

TEST_CASE("unix socket removes its own stale socket and listens in its place") {
  SocketTestDir dir;
  const std::string path = dir.file("stale.sock");
  makeStaleSocket(path);
  REQUIRE(connectUnix(path) == -1);
  auto socket = UnixListeningSocket::create(optionsFor(path));
  REQUIRE(socket.ok());
  const int client = connectUnix(path);
  CHECK(client >= 0);
  ::close(client);
}

TEST_CASE("unix socket refuses a stale socket owned by another user") {
  if (::geteuid() != 0) {
    WARN("not root: cannot create a socket owned by another user");
    return;
  }
  SocketTestDir dir;
  const std::string path = dir.file("theirs.sock");
  makeStaleSocket(path);
  REQUIRE(::lchown(path.c_str(), 12345, 12345) == 0);
  auto refused = UnixListeningSocket::create(optionsFor(path));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().message() ==
        "socket path '" + path +
            "' is a socket owned by uid 12345, not by this process (uid 0); refusing to remove it");
  CHECK(exists(path));
}

TEST_CASE("unix socket refuses a live socket: another process is listening") {
  SocketTestDir dir;
  const std::string path = dir.file("live.sock");
  auto first = UnixListeningSocket::create(optionsFor(path));
  REQUIRE(first.ok());
  auto second = UnixListeningSocket::create(optionsFor(path));
  REQUIRE_FALSE(second.ok());
  CHECK(second.status().code() == StatusCode::FailedPrecondition);
  CHECK(second.status().message() ==
        "socket path '" + path + "': another process is listening on it");
  const int client = connectUnix(path);
  CHECK(client >= 0);  // the first one still serves
  ::close(client);
}

TEST_CASE("unix socket rejects a path longer than sun_path and bad options") {
  const std::string long_path = "/tmp/" + std::string(103, 'x');
  auto refused = UnixListeningSocket::create(optionsFor(long_path));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == StatusCode::InvalidArgument);
  CHECK(refused.status().message() ==
        "socket path '" + long_path + "' is 108 bytes; at most 107 fit in sun_path");

  SocketTestDir dir;
  UnixSocketOptions options = optionsFor(dir.file("m.sock"));
  options.mode = 04660;
  CHECK(UnixListeningSocket::create(options).status().message() ==
        "socket mode 04660 has bits beyond the permission bits");
  CHECK(UnixListeningSocket::create(optionsFor("")).status().code() == StatusCode::InvalidArgument);
}

TEST_CASE("unix socket fails closed and removes the file when the group cannot be applied") {
  SocketTestDir dir;
  const std::string path = dir.file("nogroup.sock");
  // As root chown always succeeds: run the attempt in a child that dropped to nobody.
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    if (::geteuid() == 0) {
      if (::chown(dir.path().c_str(), 65534, 65534) != 0 || ::setgroups(0, nullptr) != 0 ||
          ::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0) {
        ::_exit(10);
      }
    }
    UnixSocketOptions options = optionsFor(path);
    options.gid = 0;  // root's group: not ours
    auto socket = UnixListeningSocket::create(options);
    if (socket.ok()) ::_exit(11);
    if (socket.status().code() != StatusCode::PermissionDenied) ::_exit(12);
    if (socket.status().message().rfind("chown socket '" + path + "' to gid 0: ", 0) != 0) {
      ::_exit(13);
    }
    if (exists(path)) ::_exit(14);
    ::_exit(0);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("unix socket file is removed on destruction unless it was replaced") {
  SocketTestDir dir;
  const std::string path = dir.file("own.sock");
  {
    auto socket = UnixListeningSocket::create(optionsFor(path));
    REQUIRE(socket.ok());
    CHECK(exists(path));
  }
  CHECK_FALSE(exists(path));
  {
    auto socket = UnixListeningSocket::create(optionsFor(path));
    REQUIRE(socket.ok());
    REQUIRE(::unlink(path.c_str()) == 0);
    std::ofstream(path) << "newer";
  }
  CHECK(exists(path));
}

TEST_CASE("peer credentials of a connection are this process's pid, uid and gid") {
  SocketTestDir dir;
  auto socket = UnixListeningSocket::create(optionsFor(dir.file("p.sock")));
  REQUIRE(socket.ok());
  const int client = connectUnix(socket->path());
  REQUIRE(client >= 0);
  const int accepted = ::accept4(socket->fd(), nullptr, nullptr, SOCK_CLOEXEC);
  REQUIRE(accepted >= 0);
  auto credentials = readPeerCredentials(accepted);
  REQUIRE(credentials.ok());
  CHECK(credentials->pid == ::getpid());
  CHECK(credentials->uid == ::getuid());
  CHECK(credentials->gid == ::getgid());
  ::close(accepted);
  ::close(client);

  const int not_a_socket = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  auto failed = readPeerCredentials(not_a_socket);
  ::close(not_a_socket);
  CHECK(failed.status().code() == StatusCode::Internal);
}

}  // namespace
}  // namespace skr::agent
