#include "tests/integration/emulator_process.h"

#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <sstream>
#include <thread>

#include "tests/integration/process.h"

namespace skr::testing {
namespace {

const std::string kEmulator = SKR_EMULATOR_PATH;

// A chip made by the first emulator of this test process, copied into later state dirs: creating
// one (two RSA-4096 keys) takes seconds, and the tests do not depend on distinct chips.
std::string& chipTemplate() {
  static std::string dir;
  return dir;
}

void pollSleep() {
  // Polling interval while waiting for a file or a process; bounded by the callers' deadlines.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

std::string readFileText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string makeTempDir(const std::string& prefix) {
  std::string templ = "/tmp/" + prefix + "-XXXXXX";
  char* made = ::mkdtemp(templ.data());
  REQUIRE(made != nullptr);
  return templ;
}

std::map<std::string, std::string> parseEndpointsEnv(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const std::size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string value = line.substr(eq + 1);
    if (value.size() >= 2 && value.front() == '\'' && value.back() == '\'') {
      value = value.substr(1, value.size() - 2);
    }
    out[line.substr(0, eq)] = value;
  }
  return out;
}

std::string HttpResult::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

json::ObjectPtr HttpResult::json() const {
  INFO("body: " << body);
  StatusOr<json::ObjectPtr> o = json::parseObject(body);
  REQUIRE(o.ok());
  return *o;
}

std::unique_ptr<EmulatorProcess> EmulatorProcess::start(
    const std::string& state_dir, const std::vector<std::string>& extra_args) {
  std::unique_ptr<EmulatorProcess> p(new EmulatorProcess());
  if (state_dir.empty()) {
    p->state_dir_ = makeTempDir("skr-emu");
    p->owns_dir_ = true;
  } else {
    p->state_dir_ = state_dir;
  }
  if (!chipTemplate().empty() && !std::filesystem::exists(p->state_dir_ + "/chip")) {
    std::filesystem::copy(chipTemplate(), p->state_dir_ + "/chip",
                          std::filesystem::copy_options::recursive);
  }
  p->stderr_path_ = p->state_dir_ + ".stderr";
  const std::string env_path = p->state_dir_ + "/endpoints.env";

  std::vector<std::string> args = {kEmulator, "--state", p->state_dir_, "--listen", "127.0.0.1:0"};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const int err_fd = ::open(p->stderr_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int null_fd = ::open("/dev/null", O_RDWR);
    if (err_fd >= 0) ::dup2(err_fd, 2);
    if (null_fd >= 0) {
      ::dup2(null_fd, 0);
      ::dup2(null_fd, 1);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(kEmulator.c_str(), argv.data());
    _exit(127);
  }
  p->pid_ = pid;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  while (!std::filesystem::exists(env_path)) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      p->pid_ = -1;
      FAIL("skr-emulator exited during start-up: " << readFileText(p->stderr_path_));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      FAIL("skr-emulator did not write endpoints.env within 90 s: "
           << readFileText(p->stderr_path_));
    }
    pollSleep();
  }
  p->env_ = parseEndpointsEnv(readFileText(env_path));
  if (chipTemplate().empty()) {
    const std::string templ = makeTempDir("skr-emu-chip");
    std::filesystem::remove(templ);
    std::filesystem::copy(p->state_dir_ + "/chip", templ, std::filesystem::copy_options::recursive);
    chipTemplate() = templ;
  }
  return p;
}

EmulatorProcess::~EmulatorProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  if (owns_dir_) {
    std::error_code ec;
    std::filesystem::remove_all(state_dir_, ec);
  }
  keepTestOutput("skr-emulator", readFileText(stderr_path_));
  ::unlink(stderr_path_.c_str());
}

int EmulatorProcess::stop() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  int status = 0;
  while (true) {
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) break;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      pid_ = -1;
      return -1;
    }
    pollSleep();
  }
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string EmulatorProcess::url(const std::string& listener) const {
  std::string name;
  for (char c : listener)
    name.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  auto it = env_.find("SKR_EMULATOR_" + name + "_URL");
  return it == env_.end() ? std::string() : it->second;
}

std::string EmulatorProcess::stderrText() const {
  return readFileText(stderr_path_);
}

HttpResult EmulatorProcess::call(HttpCall c) const {
  static std::once_flag ssl_once;
  std::call_once(ssl_once, [] { Poco::Net::initializeSSL(); });
  HttpResult result;
  try {
    Poco::URI uri(c.url);
    std::unique_ptr<Poco::Net::HTTPClientSession> session;
    if (uri.getScheme() == "https") {
      const std::string ca = c.ca_file.value_or(caFile());
      Poco::Net::Context::Ptr context = new Poco::Net::Context(
          Poco::Net::Context::TLS_CLIENT_USE, "", "", ca, Poco::Net::Context::VERIFY_RELAXED, 9,
          false, "HIGH:!aNULL:!eNULL");
      context->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
      session =
          std::make_unique<Poco::Net::HTTPSClientSession>(uri.getHost(), uri.getPort(), context);
    } else {
      session = std::make_unique<Poco::Net::HTTPClientSession>(uri.getHost(), uri.getPort());
    }
    session->setTimeout(Poco::Timespan(static_cast<long>(c.timeout.count()), 0));
    Poco::Net::HTTPRequest request(c.method, uri.getPathAndQuery(),
                                   Poco::Net::HTTPMessage::HTTP_1_1);
    for (const auto& [k, v] : c.headers) request.set(k, v);
    if (!c.body.empty() || c.method == "POST" || c.method == "PUT" || c.method == "PATCH") {
      request.setContentType(c.content_type);
      request.setContentLength(static_cast<std::streamsize>(c.body.size()));
    }
    std::ostream& out = session->sendRequest(request);
    out << c.body;
    Poco::Net::HTTPResponse response;
    std::istream& in = session->receiveResponse(response);
    result.status = static_cast<int>(response.getStatus());
    for (const auto& [k, v] : response) result.headers[lower(k)] = v;
    result.content_length =
        response.hasContentLength() ? static_cast<long long>(response.getContentLength64()) : -1;
    Poco::StreamCopier::copyToString(in, result.body);
  } catch (const Poco::Exception& e) {
    result.transport_error = true;
    result.error = e.displayText();
  } catch (const std::exception& e) {
    result.transport_error = true;
    result.error = e.what();
  }
  return result;
}

HttpResult EmulatorProcess::get(const std::string& url,
                                std::vector<std::pair<std::string, std::string>> headers) const {
  HttpCall c;
  c.url = url;
  c.headers = std::move(headers);
  return call(std::move(c));
}

HttpResult EmulatorProcess::post(const std::string& url, const std::string& body,
                                 std::vector<std::pair<std::string, std::string>> headers) const {
  HttpCall c;
  c.method = "POST";
  c.url = url;
  c.body = body;
  c.headers = std::move(headers);
  return call(std::move(c));
}

json::ObjectPtr EmulatorProcess::admin(const std::string& method, const std::string& path,
                                       const std::string& body) const {
  HttpCall c;
  c.method = method;
  c.url = url("admin") + path;
  c.body = body;
  HttpResult r = call(std::move(c));
  INFO(method << " " << path << " -> " << r.status << " " << r.body << r.error);
  REQUIRE(!r.transport_error);
  REQUIRE(r.status >= 200);
  REQUIRE(r.status < 300);
  if (r.body.empty()) return new Poco::JSON::Object;
  return r.json();
}

}  // namespace skr::testing

namespace skr::testing {

std::string queryEncode(const std::string& value) {
  std::string out;
  Poco::URI::encode(value, "&=+?/:#", out);
  return out;
}

TestIdentity addUserIdentity(const EmulatorProcess& emulator, const std::string& name) {
  json::ObjectPtr id =
      emulator.admin("POST", "/_emulator/identities", R"({"kind":"user","name":")" + name + "\"}");
  return {id->getValue<std::string>("client_id"), id->getValue<std::string>("object_id"),
          id->getValue<std::string>("msi_res_id")};
}

void assignRole(const EmulatorProcess& emulator, const std::string& object_id,
                const std::string& role, const std::string& vault, const std::string& scope) {
  emulator.admin("POST", "/_emulator/role-assignments",
                 R"({"principal_id":")" + object_id + R"(","role":")" + role + R"(","vault":")" +
                     vault + R"(","scope":")" + scope + "\"}");
}

std::string imdsToken(const EmulatorProcess& emulator, const std::string& resource,
                      const std::string& client_id) {
  std::string url =
      emulator.url("imds") +
      "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=" + queryEncode(resource);
  if (!client_id.empty()) url += "&client_id=" + client_id;
  HttpResult r = emulator.get(url, {{"Metadata", "true"}});
  INFO(r.status << " " << r.body << r.error);
  REQUIRE(r.status == 200);
  return r.json()->getValue<std::string>("access_token");
}

std::string tokenWithRole(const EmulatorProcess& emulator, const std::string& role,
                          const std::string& vault) {
  static int counter = 0;
  const TestIdentity id = addUserIdentity(emulator, "role-holder-" + std::to_string(++counter));
  assignRole(emulator, id.object_id, role, vault);
  return imdsToken(emulator,
                   vault == "mhsm" ? "https://managedhsm.azure.net" : "https://vault.azure.net",
                   id.client_id);
}

}  // namespace skr::testing
