// skr-agent, the real binary, against independent implementations (issue 6 "Done when", the
// round-trip and interop part). What is proven:
// - RSA-OAEP-256 and RSA-OAEP: a DEK wrapped by the `openssl pkeyutl` command line with the
//   public JWK from GET /keys/{name} (converted to PEM here) unwraps to the same bytes, and what
//   the agent wraps decrypts with `openssl pkeyutl` under the emulator's copy of the private key.
// - A256GCM: the test knows the oct key's bytes (the emulator's key state, the key the agent
//   released); a ciphertext made by Node's crypto (aes-256-gcm, 96-bit IV, 128-bit tag, with and
//   without aad) decrypts through POST /keys/{name}/decrypt, and the agent's encrypt output
//   (value, iv, tag) decrypts in Node, so the agent's iv/tag/aad layout is AES-256-GCM's.
// - A128KW/A192KW/A256KW (RFC 3394) and A256KWPAD (RFC 5649): Node's id-aes*-wrap[-pad] output
//   unwraps in the agent and the agent's wrapkey output unwraps in Node.
// - Every op x algorithm of docs/agent.md round-trips through the agent, including rewrap to a
//   new primary and batch unwrap; an algorithm that does not fit the key or the operation is a
//   400 BadParameter naming the reason; key_ops from the release are enforced (403).
// No DEK or key bytes are printed; the scratch files live in a 0700 directory removed at the end.
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "common/crypto/pkey.h"
#include "common/crypto/random.h"
#include "common/encoding/base64.h"
#include "common/json/json.h"
#include "tests/integration/agent_process.h"
#include "tests/integration/init_world.h"
#include "tests/integration/uds_http_client.h"

namespace skr::testing {
namespace {

using encoding::base64UrlDecode;
using encoding::base64UrlEncode;
namespace fs = std::filesystem;

// Reads JSON from stdin: {op, key, ...} (all binary values base64url) and writes JSON to the file
// named by its argument (not stdout: child output is kept for the log scan, and it holds DEKs).
// gcm-encrypt {pt, aad?} -> {value, iv, tag}; gcm-decrypt {value, iv, tag, aad?} -> {value};
// wrap / unwrap {cipher, iv (hex), value} -> {value} with Node's id-aes*-wrap[-pad] ciphers.
constexpr const char* kNodeScript = R"JS(
const c = require('crypto');
let s = '';
process.stdin.on('data', (d) => (s += d)).on('end', () => {
  const r = JSON.parse(s);
  const b = (x) => Buffer.from(x || '', 'base64url');
  const u = (x) => x.toString('base64url');
  const k = b(r.key);
  let out;
  if (r.op === 'gcm-encrypt') {
    const iv = c.randomBytes(12);
    const e = c.createCipheriv('aes-256-gcm', k, iv);
    if (r.aad) e.setAAD(b(r.aad));
    const ct = Buffer.concat([e.update(b(r.value)), e.final()]);
    out = { value: u(ct), iv: u(iv), tag: u(e.getAuthTag()) };
  } else if (r.op === 'gcm-decrypt') {
    const d = c.createDecipheriv('aes-256-gcm', k, b(r.iv));
    if (r.aad) d.setAAD(b(r.aad));
    d.setAuthTag(b(r.tag));
    out = { value: u(Buffer.concat([d.update(b(r.value)), d.final()])) };
  } else if (r.op === 'wrap' || r.op === 'unwrap') {
    const iv = Buffer.from(r.iv, 'hex');
    const x = r.op === 'wrap' ? c.createCipheriv(r.cipher, k, iv) : c.createDecipheriv(r.cipher, k, iv);
    out = { value: u(Buffer.concat([x.update(b(r.value)), x.final()])) };
  } else {
    throw new Error('unknown op');
  }
  require('fs').writeFileSync(process.argv[1], JSON.stringify(out), { mode: 0o600 });
});
)JS";

// A scratch directory (0700) removed on destruction.
class ScratchDir {
 public:
  ScratchDir() : path_(makeTempDir("skr-interop")) {}
  ~ScratchDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  std::string write(const std::string& name, ByteView bytes) const {
    const std::string path = path_ + "/" + name;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    out.close();
    REQUIRE(out.good());
    return path;
  }
  Bytes read(const std::string& name) const {
    const std::string text = readFileText(path_ + "/" + name);
    return toBytes(text);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

Bytes testBytes(std::size_t n, uint8_t seed) {
  Bytes out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(seed + i * 13);
  return out;
}

std::string b64(ByteView bytes) {
  return base64UrlEncode(bytes);
}

Bytes member(const json::ObjectPtr& object, const std::string& name) {
  INFO("member " << name);
  REQUIRE(object->has(name));
  StatusOr<Bytes> bytes = base64UrlDecode(object->getValue<std::string>(name));
  REQUIRE(bytes.ok());
  return std::move(bytes).value();
}

// POSTs `body` to `path` on the client socket and REQUIREs 200.
json::ObjectPtr post200(AgentProcess& agent, const std::string& path, const std::string& body) {
  UdsResponse r = udsRequest(agent.client(), "POST", path, body);
  INFO("POST " << path << " -> " << r.status << " " << r.body);
  REQUIRE(r.status == 200);
  return parsed(r);
}

// REQUIREs a 400 BadParameter whose message contains `expected`.
void expectBadParameter(const UdsResponse& r, const std::string& expected) {
  INFO(r.status << " " << r.body);
  REQUIRE(r.status == 400);
  json::ObjectPtr error = parsed(r)->getObject("error");
  REQUIRE(!error.isNull());
  CHECK(error->getValue<std::string>("code") == "BadParameter");
  CHECK(error->getValue<std::string>("message").find(expected) != std::string::npos);
}

// Runs the Node script with `request` on stdin; REQUIREs exit 0 and returns its JSON output.
json::ObjectPtr node(const ScratchDir& scratch, const std::string& request) {
  ProcessOptions options;
  options.stdin_data = request;
  options.timeout = std::chrono::seconds(30);
  const std::string out_path = scratch.path() + "/node-out.json";
  std::error_code ignored;
  fs::remove(out_path, ignored);
  ProcessResult r = runProcess("/usr/bin/node", {"-e", kNodeScript, out_path}, options);
  INFO("node exit " << r.exit_code << " " << r.err);
  REQUIRE(r.exit_code == 0);
  StatusOr<json::ObjectPtr> out = json::parseObject(readFileText(out_path));
  REQUIRE(out.ok());
  return *out;
}

ProcessResult openssl(const std::vector<std::string>& args) {
  ProcessResult r = runProcess("/usr/bin/openssl", args);
  INFO("openssl exit " << r.exit_code << " " << r.err);
  REQUIRE(r.exit_code == 0);
  return r;
}

std::vector<std::string> oaepOptions(const std::string& md) {
  return {"-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:" + md,
          "-pkeyopt", "rsa_mgf1_md:" + md};
}

// The world of these tests: an RSA key in the vault and oct keys of 128, 192 and 256 bits in the
// managed HSM, all released by the agent itself at start (no bundles yet).
struct InteropWorld {
  InteropWorld() {
    world.createKey("vault", "rsa-kek", R"("kty":"RSA-HSM","key_size":2048)");
    world.createKey("mhsm", "aes128", R"("kty":"oct-HSM","key_size":128)");
    world.createKey("mhsm", "aes192", R"("kty":"oct-HSM","key_size":192)");
    world.createKey("mhsm", "aes256", R"("kty":"oct-HSM","key_size":256)");
    // A key whose key_ops allow only unwrapKey and decrypt.
    world.createKey("vault", "rsa-limited",
                    R"("kty":"RSA-HSM","key_size":2048,"key_ops":["unwrapKey","decrypt"])");
    yaml = world.configYaml({{"rsa-kek", "vault"},
                             {"aes128", "mhsm"},
                             {"aes192", "mhsm"},
                             {"aes256", "mhsm"},
                             {"rsa-limited", "vault"}},
                            world.managedIdentityYaml());
  }
  // The released key's bytes as the emulator holds them (raw for oct, PKCS#8 DER for RSA).
  SecretBytes material(AgentProcess& agent, const std::string& listener, const std::string& name) {
    json::ObjectPtr key = parsed(udsRequest(agent.client(), "GET", "/keys/" + name));
    return world.emulatorMaterial(listener, name,
                                  versionOf(key->getObject("key")->getValue<std::string>("kid")));
  }
  InitWorld world;
  std::string yaml;
};

TEST_CASE(
    "a DEK wrapped by the openssl pkeyutl command line with the agent's public JWK unwraps to "
    "the same bytes, and what the agent wraps decrypts with openssl",
    "[agent][interop][openssl]") {
  InteropWorld w;
  AgentProcess agent(w.world, w.yaml);
  agent.waitReady();
  ScratchDir scratch;

  json::ObjectPtr got = parsed(udsRequest(agent.client(), "GET", "/keys/rsa-kek"));
  json::ObjectPtr jwk = got->getObject("key");
  REQUIRE(!jwk.isNull());
  CHECK(jwk->getValue<std::string>("kty").rfind("RSA", 0) == 0);
  CHECK(!jwk->has("d"));
  StatusOr<crypto::PublicKey> pub =
      crypto::PublicKey::fromRsaComponents(member(jwk, "n"), member(jwk, "e"));
  REQUIRE(pub.ok());
  const std::string pem = pub->toPem();
  const std::string pub_path = scratch.write("pub.pem", asBytes(pem));
  const std::string kid = jwk->getValue<std::string>("kid");

  const std::vector<std::pair<std::string, std::string>> algs = {{"RSA-OAEP-256", "sha256"},
                                                                 {"RSA-OAEP", "sha1"}};
  for (const auto& [alg, md] : algs) {
    INFO(alg);
    const Bytes dek = crypto::randomBytes(32);
    const std::string dek_path = scratch.write("dek.bin", dek);
    std::vector<std::string> args = {"pkeyutl", "-encrypt", "-pubin",
                                     "-inkey",  pub_path,   "-in",
                                     dek_path,  "-out",     scratch.path() + "/wrapped"};
    for (const std::string& o : oaepOptions(md)) args.push_back(o);
    openssl(args);
    const Bytes wrapped = scratch.read("wrapped");
    CHECK(wrapped.size() == 256);
    json::ObjectPtr unwrapped =
        post200(agent, "/keys/rsa-kek/unwrapkey",
                R"({"alg":")" + alg + R"(","value":")" + b64(wrapped) + "\"}");
    CHECK(member(unwrapped, "value") == dek);
    CHECK(unwrapped->getValue<std::string>("kid") == kid);
    // The same ciphertext in standard base64 with padding, as `openssl base64` prints it.
    ProcessResult standard = openssl({"base64", "-A", "-in", scratch.path() + "/wrapped"});
    REQUIRE(standard.out.find('=') != std::string::npos);
    json::ObjectPtr from_standard =
        post200(agent, "/keys/rsa-kek/unwrapkey",
                R"({"alg":")" + alg + R"(","value":")" + standard.out + "\"}");
    CHECK(member(from_standard, "value") == dek);
    // Same through decrypt (RSA-OAEP decrypt and unwrapkey are the same operation in AKV).
    json::ObjectPtr decrypted =
        post200(agent, "/keys/rsa-kek/decrypt",
                R"({"alg":")" + alg + R"(","value":")" + b64(wrapped) + "\"}");
    CHECK(member(decrypted, "value") == dek);
    // A wrong hash is refused (OAEP binds the hash): RSA-OAEP vs RSA-OAEP-256 do not mix.
    const std::string other = alg == "RSA-OAEP" ? "RSA-OAEP-256" : "RSA-OAEP";
    UdsResponse mixed = udsRequest(agent.client(), "POST", "/keys/rsa-kek/unwrapkey",
                                   R"({"alg":")" + other + R"(","value":")" + b64(wrapped) + "\"}");
    CHECK(mixed.status == 400);
  }

  // The other direction: the agent wraps, openssl decrypts with the emulator's private key.
  const SecretBytes private_der = w.material(agent, "vault", "rsa-kek");
  const std::string key_path = scratch.write("key.der", private_der.view(grantSecretAccess()));
  for (const auto& [alg, md] : algs) {
    INFO(alg);
    const Bytes dek = crypto::randomBytes(24);
    json::ObjectPtr wrapped = post200(agent, "/keys/rsa-kek/wrapkey",
                                      R"({"alg":")" + alg + R"(","value":")" + b64(dek) + "\"}");
    CHECK(wrapped->getValue<std::string>("kid") == kid);
    const std::string in = scratch.write("agent-wrapped", member(wrapped, "value"));
    std::vector<std::string> args = {
        "pkeyutl", "-decrypt", "-inkey", key_path, "-keyform",
        "DER",     "-in",      in,       "-out",   scratch.path() + "/plain"};
    for (const std::string& o : oaepOptions(md)) args.push_back(o);
    openssl(args);
    CHECK(scratch.read("plain") == dek);
  }
  CHECK(agent.terminate() == 0);
}

TEST_CASE(
    "A256GCM and AES key wrap interoperate with Node's crypto in both directions, with and "
    "without aad",
    "[agent][interop][node]") {
  InteropWorld w;
  AgentProcess agent(w.world, w.yaml);
  agent.waitReady();
  ScratchDir scratch;
  const SecretBytes k256 = w.material(agent, "mhsm", "aes256");
  REQUIRE(k256.size() == 32);
  const std::string key256 = b64(k256.view(grantSecretAccess()));

  for (const bool with_aad : {false, true}) {
    INFO("aad " << with_aad);
    const Bytes plaintext = testBytes(45, with_aad ? 1 : 2);
    const Bytes aad = toBytes("tenant=contoso;record=42");
    const std::string aad_member = with_aad ? R"(,"aad":")" + b64(aad) + "\"" : "";

    // Node encrypts, the agent decrypts.
    json::ObjectPtr sealed =
        node(scratch, R"({"op":"gcm-encrypt","key":")" + key256 + R"(","value":")" +
                          b64(plaintext) + "\"" + aad_member + "}");
    CHECK(member(sealed, "iv").size() == 12);
    CHECK(member(sealed, "tag").size() == 16);
    const std::string gcm_body = R"({"alg":"A256GCM","value":")" +
                                 sealed->getValue<std::string>("value") + R"(","iv":")" +
                                 sealed->getValue<std::string>("iv") + R"(","tag":")" +
                                 sealed->getValue<std::string>("tag") + "\"";
    json::ObjectPtr opened = post200(agent, "/keys/aes256/decrypt", gcm_body + aad_member + "}");
    CHECK(member(opened, "value") == plaintext);
    // The aad is authenticated: dropping it (or adding one) fails with 400.
    const std::string wrong_aad = with_aad ? "" : R"(,"aad":")" + b64(toBytes("other")) + "\"";
    UdsResponse tampered =
        udsRequest(agent.client(), "POST", "/keys/aes256/decrypt", gcm_body + wrong_aad + "}");
    CHECK(tampered.status == 400);

    // The agent encrypts, Node decrypts.
    json::ObjectPtr encrypted =
        post200(agent, "/keys/aes256/encrypt",
                R"({"alg":"A256GCM","value":")" + b64(plaintext) + "\"" + aad_member + "}");
    CHECK(member(encrypted, "iv").size() == 12);
    CHECK(member(encrypted, "tag").size() == 16);
    CHECK(member(encrypted, "value").size() == plaintext.size());
    json::ObjectPtr node_plain =
        node(scratch, R"({"op":"gcm-decrypt","key":")" + key256 + R"(","value":")" +
                          encrypted->getValue<std::string>("value") + R"(","iv":")" +
                          encrypted->getValue<std::string>("iv") + R"(","tag":")" +
                          encrypted->getValue<std::string>("tag") + "\"" + aad_member + "}");
    CHECK(member(node_plain, "value") == plaintext);
  }

  // AES key wrap, RFC 3394 (default IV A6A6A6A6A6A6A6A6) and RFC 5649 (A65959A6), both ways.
  struct Wrap {
    std::string key, alg, cipher, iv;
    std::size_t dek_size;
  };
  const std::vector<Wrap> wraps = {
      {"aes128", "A128KW", "id-aes128-wrap", "A6A6A6A6A6A6A6A6", 32},
      {"aes192", "A192KW", "id-aes192-wrap", "A6A6A6A6A6A6A6A6", 16},
      {"aes256", "A256KW", "id-aes256-wrap", "A6A6A6A6A6A6A6A6", 32},
      {"aes256", "A256KWPAD", "id-aes256-wrap-pad", "A65959A6", 20},
  };
  for (const Wrap& wrap : wraps) {
    INFO(wrap.alg);
    const SecretBytes kek = w.material(agent, "mhsm", wrap.key);
    const std::string kek_b64 = b64(kek.view(grantSecretAccess()));
    const Bytes dek = crypto::randomBytes(wrap.dek_size);
    const std::string node_common =
        R"(","key":")" + kek_b64 + R"(","cipher":")" + wrap.cipher + R"(","iv":")" + wrap.iv;
    json::ObjectPtr node_wrapped =
        node(scratch, R"({"op":"wrap)" + node_common + R"(","value":")" + b64(dek) + "\"}");
    json::ObjectPtr unwrapped = post200(agent, "/keys/" + wrap.key + "/unwrapkey",
                                        R"({"alg":")" + wrap.alg + R"(","value":")" +
                                            node_wrapped->getValue<std::string>("value") + "\"}");
    CHECK(member(unwrapped, "value") == dek);

    json::ObjectPtr agent_wrapped =
        post200(agent, "/keys/" + wrap.key + "/wrapkey",
                R"({"alg":")" + wrap.alg + R"(","value":")" + b64(dek) + "\"}");
    json::ObjectPtr node_unwrapped =
        node(scratch, R"({"op":"unwrap)" + node_common + R"(","value":")" +
                          agent_wrapped->getValue<std::string>("value") + "\"}");
    CHECK(member(node_unwrapped, "value") == dek);
  }
  CHECK(agent.terminate() == 0);
}

TEST_CASE(
    "every op and algorithm round-trips through skr-agent on RSA and oct keys, with rewrap to a "
    "new primary and batch unwrap, and a mismatched algorithm is a 400",
    "[agent][interop][matrix]") {
  InteropWorld w;
  AgentProcess agent(w.world, w.yaml);
  agent.waitReady();

  struct Case {
    std::string key, alg;
    bool wrap;  // wrapkey/unwrapkey, else encrypt/decrypt
    std::size_t size;
    bool aad = false;
  };
  const std::vector<Case> cases = {
      {"rsa-kek", "RSA-OAEP", true, 32},      {"rsa-kek", "RSA-OAEP-256", true, 32},
      {"rsa-kek", "RSA-OAEP", false, 100},    {"rsa-kek", "RSA-OAEP-256", false, 190},
      {"aes128", "A128KW", true, 16},         {"aes192", "A192KW", true, 24},
      {"aes256", "A256KW", true, 32},         {"aes256", "A256KW", true, 64},
      {"aes256", "A256KWPAD", true, 1},       {"aes256", "A256KWPAD", true, 33},
      {"aes256", "A256GCM", false, 1},        {"aes256", "A256GCM", false, 4096},
      {"aes256", "A256GCM", false, 17, true},
  };
  std::map<std::string, std::string> kids;
  for (const char* key : {"rsa-kek", "aes128", "aes192", "aes256"}) {
    kids[key] = parsed(udsRequest(agent.client(), "GET", std::string("/keys/") + key))
                    ->getObject("key")
                    ->getValue<std::string>("kid");
  }
  for (const Case& c : cases) {
    INFO(c.key << " " << c.alg << " " << (c.wrap ? "wrap" : "encrypt") << " " << c.size
               << " bytes, aad " << c.aad);
    const Bytes plain = testBytes(c.size, static_cast<uint8_t>(c.size));
    const std::string aad = c.aad ? R"(,"aad":")" + b64(toBytes("header")) + "\"" : "";
    json::ObjectPtr out =
        post200(agent, "/keys/" + c.key + (c.wrap ? "/wrapkey" : "/encrypt"),
                R"({"alg":")" + c.alg + R"(","value":")" + b64(plain) + "\"" + aad + "}");
    CHECK(out->getValue<std::string>("kid") == kids[c.key]);
    if (c.size >= 16) CHECK(member(out, "value") != plain);
    std::string back =
        R"({"alg":")" + c.alg + R"(","value":")" + out->getValue<std::string>("value") + "\"";
    if (c.alg == "A256GCM") {
      back += R"(,"iv":")" + out->getValue<std::string>("iv") + R"(","tag":")" +
              out->getValue<std::string>("tag") + "\"";
    } else {
      CHECK(!out->has("iv"));
    }
    // Also through the explicit version path: the kid names the version that did the work.
    json::ObjectPtr in = post200(
        agent,
        "/keys/" + c.key + "/" + versionOf(kids[c.key]) + (c.wrap ? "/unwrapkey" : "/decrypt"),
        back + aad + "}");
    CHECK(member(in, "value") == plain);
    CHECK(in->getValue<std::string>("kid") == kids[c.key]);
  }

  // Mismatched algorithm, key type or operation: 400 BadParameter with the reason.
  const std::string dek16 = b64(testBytes(16, 9));
  const std::string dek32 = b64(testBytes(32, 9));
  expectBadParameter(udsRequest(agent.client(), "POST", "/keys/rsa-kek/wrapkey",
                                R"({"alg":"A256KW","value":")" + dek32 + "\"}"),
                     "needs an oct key");
  expectBadParameter(udsRequest(agent.client(), "POST", "/keys/aes256/wrapkey",
                                R"({"alg":"RSA-OAEP-256","value":")" + dek32 + "\"}"),
                     "needs an RSA key");
  expectBadParameter(udsRequest(agent.client(), "POST", "/keys/aes256/wrapkey",
                                R"({"alg":"A128KW","value":")" + dek16 + "\"}"),
                     "needs a 128-bit key");
  expectBadParameter(udsRequest(agent.client(), "POST", "/keys/aes128/unwrapkey",
                                R"({"alg":"A256KW","value":")" + b64(testBytes(40, 1)) + "\"}"),
                     "needs a 256-bit key");
  expectBadParameter(udsRequest(agent.client(), "POST", "/keys/aes256/wrapkey",
                                R"({"alg":"A256GCM","value":")" + dek32 + "\"}"),
                     "is for encrypt/decrypt");
  expectBadParameter(udsRequest(agent.client(), "POST", "/keys/aes256/encrypt",
                                R"({"alg":"A256KW","value":")" + dek32 + "\"}"),
                     "is for wrapKey/unwrapKey");
  expectBadParameter(udsRequest(agent.client(), "POST", "/keys/aes256/wrapkey",
                                R"({"alg":"A256KW","value":")" + b64(testBytes(20, 1)) + "\"}"),
                     "expected a multiple of 8");
  // Members that do not fit the algorithm, and GCM parameters of the wrong size.
  expectBadParameter(
      udsRequest(agent.client(), "POST", "/keys/rsa-kek/encrypt",
                 R"({"alg":"RSA-OAEP-256","value":")" + dek32 + R"(","aad":"YWFk"})"),
      "aad is only supported with A256GCM");
  json::ObjectPtr gcm =
      post200(agent, "/keys/aes256/encrypt", R"({"alg":"A256GCM","value":")" + dek32 + "\"}");
  const std::string gcm_value = gcm->getValue<std::string>("value");
  const std::string gcm_tag = gcm->getValue<std::string>("tag");
  const std::string gcm_iv = gcm->getValue<std::string>("iv");
  expectBadParameter(udsRequest(agent.client(), "POST", "/keys/aes256/decrypt",
                                R"({"alg":"A256GCM","value":")" + gcm_value + R"(","iv":")" +
                                    b64(testBytes(8, 1)) + R"(","tag":")" + gcm_tag + "\"}"),
                     "iv is 8 bytes, expected 12");
  expectBadParameter(udsRequest(agent.client(), "POST", "/keys/aes256/decrypt",
                                R"({"alg":"A256GCM","value":")" + gcm_value + R"(","iv":")" +
                                    gcm_iv + R"(","tag":")" + b64(testBytes(15, 1)) + "\"}"),
                     "tag is 15 bytes, expected 16");
  expectBadParameter(
      udsRequest(agent.client(), "POST", "/keys/aes256/decrypt",
                 R"({"alg":"A256GCM","value":")" + gcm_value + R"(","iv":")" + gcm_iv + "\"}"),
      "tag is 0 bytes, expected 16");
  // ?api-version= is ignored; the GET of an oct key never shows its bytes.
  CHECK(udsRequest(agent.client(), "POST", "/keys/aes256/decrypt?api-version=7.4",
                   R"({"alg":"A256GCM","value":")" + gcm_value + R"(","iv":")" + gcm_iv +
                       R"(","tag":")" + gcm_tag + "\"}")
            .status == 200);
  json::ObjectPtr oct_jwk =
      parsed(udsRequest(agent.client(), "GET", "/keys/aes256"))->getObject("key");
  CHECK(oct_jwk->getValue<std::string>("kid") == kids["aes256"]);
  CHECK(!oct_jwk->has("k"));

  // Unknown key, unknown version (never a fallback), wrong method.
  UdsResponse no_key = udsRequest(agent.client(), "POST", "/keys/nope/unwrapkey",
                                  R"({"alg":"A256KW","value":")" + dek32 + "\"}");
  CHECK(no_key.status == 404);
  CHECK(parsed(no_key)->getObject("error")->getValue<std::string>("code") == "KeyNotFound");
  UdsResponse no_version = udsRequest(agent.client(), "POST", "/keys/aes256/0123abcd/wrapkey",
                                      R"({"alg":"A256KW","value":")" + dek32 + "\"}");
  CHECK(no_version.status == 404);
  CHECK(parsed(no_version)->getObject("error")->getValue<std::string>("code") == "VersionNotFound");
  UdsResponse get_op = udsRequest(agent.client(), "GET", "/keys/aes256/unwrapkey");
  CHECK(get_op.status == 405);
  CHECK(get_op.headers["allow"] == "POST");

  // key_ops from the release limit the key: 403 Forbidden, inner KeyOperationForbidden.
  for (const char* op : {"wrapkey", "encrypt"}) {
    INFO(op);
    UdsResponse refused = udsRequest(agent.client(), "POST", std::string("/keys/rsa-limited/") + op,
                                     R"({"alg":"RSA-OAEP-256","value":")" + dek32 + "\"}");
    CHECK(refused.status == 403);
    json::ObjectPtr error = parsed(refused)->getObject("error");
    CHECK(error->getValue<std::string>("code") == "Forbidden");
    CHECK(error->getObject("innererror")->getValue<std::string>("code") == "KeyOperationForbidden");
  }
  WrappedDek limited = wrapWithPublicKey(agent, "rsa-limited");
  expectUnwraps(agent, "/keys/rsa-limited", limited);

  // A wrapped key that does not verify (RFC 3394 integrity check) is a 400, never a 200.
  json::ObjectPtr good =
      post200(agent, "/keys/aes256/wrapkey", R"({"alg":"A256KW","value":")" + dek32 + "\"}");
  Bytes flipped = member(good, "value");
  flipped[5] ^= 0x01;
  UdsResponse bad_unwrap = udsRequest(agent.client(), "POST", "/keys/aes256/unwrapkey",
                                      R"({"alg":"A256KW","value":")" + b64(flipped) + "\"}");
  CHECK(bad_unwrap.status == 400);
  CHECK(parsed(bad_unwrap)->getObject("error")->getValue<std::string>("code") == "BadParameter");

  // Rewrap: rotate both the RSA and the A256 key, then move old ciphertexts to the new primary.
  const Bytes rsa_dek = testBytes(32, 77);
  const Bytes aes_dek = testBytes(32, 78);
  json::ObjectPtr old_rsa = post200(agent, "/keys/rsa-kek/wrapkey",
                                    R"({"alg":"RSA-OAEP-256","value":")" + b64(rsa_dek) + "\"}");
  json::ObjectPtr old_aes =
      post200(agent, "/keys/aes256/wrapkey", R"({"alg":"A256KW","value":")" + b64(aes_dek) + "\"}");
  for (const auto& [key, listener] :
       std::vector<std::pair<std::string, std::string>>{{"rsa-kek", "vault"}, {"aes256", "mhsm"}}) {
    INFO(key);
    // rotateInVault uses the vault listener; the managed HSM key gets its new version by
    // Key Vault's rotate route on the mhsm listener.
    std::string new_kid;
    if (listener == "vault") {
      new_kid = rotateInVault(w.world, key);
    } else {
      HttpCall call;
      call.method = "POST";
      call.url = w.world.emulator().url("mhsm") + "/keys/" + key + "/rotate?api-version=7.4";
      call.headers.push_back({"Authorization", "Bearer " + w.world.officerToken("mhsm")});
      HttpResult rotated = w.world.emulator().call(call);
      INFO(rotated.body);
      REQUIRE(rotated.status == 200);
      new_kid = rotated.json()->getObject("key")->getValue<std::string>("kid");
    }
    UdsResponse r = udsRequest(agent.admin(), "POST", "/keys/" + key + "/rotate", "{}");
    INFO(r.body);
    REQUIRE(r.status == 200);
    CHECK(parsed(r)->getValue<std::string>("kid") == new_kid);
    kids[key + "-new"] = new_kid;
  }
  for (const auto& [key, alg, old, dek] :
       std::vector<std::tuple<std::string, std::string, json::ObjectPtr, Bytes>>{
           {"rsa-kek", "RSA-OAEP-256", old_rsa, rsa_dek}, {"aes256", "A256KW", old_aes, aes_dek}}) {
    INFO(key);
    json::ObjectPtr rewrapped =
        post200(agent, "/keys/" + key + "/rewrap",
                R"({"kid":")" + old->getValue<std::string>("kid") + R"(","alg":")" + alg +
                    R"(","value":")" + old->getValue<std::string>("value") + "\"}");
    CHECK(rewrapped->getValue<std::string>("kid") == kids[key + "-new"]);
    CHECK(rewrapped->getValue<std::string>("value") != old->getValue<std::string>("value"));
    json::ObjectPtr now = post200(
        agent, "/keys/" + key + "/" + versionOf(kids[key + "-new"]) + "/unwrapkey",
        R"({"alg":")" + alg + R"(","value":")" + rewrapped->getValue<std::string>("value") + "\"}");
    CHECK(member(now, "value") == dek);
    // The old ciphertext is not a ciphertext of the new primary.
    UdsResponse stale = udsRequest(
        agent.client(), "POST", "/keys/" + key + "/unwrapkey",
        R"({"alg":")" + alg + R"(","value":")" + old->getValue<std::string>("value") + "\"}");
    CHECK(stale.status == 400);
  }

  // Batch unwrap: old version by kid, the primary without kid, and a bad item answered in place.
  json::ObjectPtr new_aes =
      post200(agent, "/keys/aes256/wrapkey", R"({"alg":"A256KW","value":")" + dek16 + "\"}");
  json::ObjectPtr batch =
      post200(agent, "/keys/aes256/unwrapkey/batch",
              R"({"requests":[{"alg":"A256KW","kid":")" + old_aes->getValue<std::string>("kid") +
                  R"(","value":")" + old_aes->getValue<std::string>("value") +
                  R"("},{"alg":"A256KW","value":")" + new_aes->getValue<std::string>("value") +
                  R"("},{"alg":"A256KW","value":"!!"},{"alg":"A256KW","kid":")" +
                  kids["aes256-new"].substr(0, kids["aes256-new"].rfind('/')) +
                  R"(/0123abcd","value":")" + new_aes->getValue<std::string>("value") + "\"}]}");
  auto results = batch->getArray("results");
  REQUIRE(results->size() == 4);
  CHECK(member(results->getObject(0), "value") == aes_dek);
  CHECK(results->getObject(0)->getValue<std::string>("kid") ==
        old_aes->getValue<std::string>("kid"));
  CHECK(member(results->getObject(1), "value") == testBytes(16, 9));
  CHECK(results->getObject(1)->getValue<std::string>("kid") == kids["aes256-new"]);
  json::ObjectPtr e2 = results->getObject(2)->getObject("error");
  REQUIRE(!e2.isNull());
  CHECK(e2->getValue<std::string>("code") == "BadParameter");
  CHECK(e2->getValue<std::string>("message").find("requests[2]") != std::string::npos);
  json::ObjectPtr e3 = results->getObject(3)->getObject("error");
  REQUIRE(!e3.isNull());
  CHECK(e3->getValue<std::string>("code") == "VersionNotFound");
  CHECK(agent.terminate() == 0);
}

}  // namespace
}  // namespace skr::testing
