// Fuzz target: the Key Vault release response (spec §2.2-2.5): verifyReleaseResponse on the whole
// input, unwrapKeyHsm on it as key_hsm, and releasedJwk on the response key of a verified payload.
// The seeds in corpus/release_response/ are signed by a leaf (vault.example.test) of the root
// below (generated once with the openssl CLI; public certificate only), so mutations reach the
// payload checks behind the signature and chain. Property: nothing crashes or reads out of bounds.
#include <cstdint>
#include <string_view>

#include "common/azure/key_vault_client.h"
#include "common/crypto/x509.h"

namespace {

constexpr const char* kRootPem =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIDMzCCAhugAwIBAgIUciTSODOFAXFAR8fCRwZk/J8AVC0wDQYJKoZIhvcNAQEL\n"
    "BQAwIDEeMBwGA1UEAwwVc2tyIGZ1enogcmVsZWFzZSByb290MCAXDTI2MTEyODE1\n"
    "NDAwNloYDzIxMjYxMTA0MTU0MDA2WjAgMR4wHAYDVQQDDBVza3IgZnV6eiByZWxl\n"
    "YXNlIHJvb3QwggEiMA0GCSqGSIb3DQEBAQUAA4IBDwAwggEKAoIBAQDcgYI58Jv2\n"
    "1+tOqJdj1T3e0ukpN/mE2MooBmlAcKEqymlEQFSLvgz5AjkGYsu6kK8di/2UVzjI\n"
    "PfDP5BpekDxQLy58eTayYIKf2DwMB3m7eJCTtgjYhVTYPXQE0wrjcMoeL6Ws7hRZ\n"
    "0flIjN1b83ezf1eVROQ8yRUqm/ZT61wyZQyYHRhg8ZjgENUiTlEwr/JYMdjEDnMh\n"
    "2VhGNqPoHXx7z5LdEF9xuogzl4Kox9Zg43OsmZAb+8IaSU9b5hksZMEq5CZ0jzCT\n"
    "rZo1AaWjLVtoaFkXGrkeMfY1mqxS4l2vuVpVRkBHCShpY4tl2T68GjF6uuqAXArV\n"
    "M1cDVeXj8Wo1AgMBAAGjYzBhMB0GA1UdDgQWBBT5D3PnITonBZg3QfVWd8MU5NNA\n"
    "djAfBgNVHSMEGDAWgBT5D3PnITonBZg3QfVWd8MU5NNAdjAPBgNVHRMBAf8EBTAD\n"
    "AQH/MA4GA1UdDwEB/wQEAwIBBjANBgkqhkiG9w0BAQsFAAOCAQEAqQOP/kDvBBhE\n"
    "CYZtQzELHTof282XWSwbTmU4YdLbCiVVuSTotkl+2RMRd+TXrkQSZ2QbIP6vKt4z\n"
    "uW1nWiwQQXX6kmR7KEk+HooL1VcqflPK7c4NzYKmzZMOwDYnHBcJYb8z29x4Pw7I\n"
    "g/tCipXPpgnNKPNj0Wc3EQFnd+p2z/Ms5qODetkKafShOZ+KVd1vVUUrMGE8Zlmi\n"
    "PJ5a9E4nLhUDEO0p1LOjRB4Gp7rFosw+P479riQNlGPX3eZZdBgY8nGVNxSBwNON\n"
    "pwd8E/yZth2Bs1hxqS766fF7GEsLWv6JGLYJ5OkHTtl9WcHirMrsXgXzBKpffAuS\n"
    "2b2sHp9RZg==\n"
    "-----END CERTIFICATE-----\n";

const skr::crypto::Certificate& root() {
  static const skr::crypto::Certificate cert = *skr::crypto::Certificate::fromPem(kRootPem);
  return cert;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const skr::crypto::PrivateKey transfer = *skr::crypto::PrivateKey::generateRsa(2048);
  // 2030-01-01T00:00:00Z, inside the seed certificates' validity.
  const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1893456000));
  const std::string_view text(reinterpret_cast<const char*>(data), size);  // NOLINT
  const std::vector<skr::crypto::Certificate> anchors{root()};
  skr::StatusOr<skr::azure::VerifiedRelease> verified =
      skr::azure::verifyReleaseResponse(text, "vault.example.test", anchors, now);
  if (verified.ok()) {
    const skr::json::ObjectPtr key =
        verified->payload->getObject("response")->getObject("key")->getObject("key");
    (void)skr::azure::unwrapKeyHsm(key->getValue<std::string>("key_hsm"), transfer, verified->enc);
    // Arbitrary "plaintext": the input itself, as PKCS#8 or oct bytes.
    (void)skr::azure::releasedJwk(key, skr::SecretBytes::copyOf(skr::asBytes(text)));
  }
  for (skr::azure::KeyExportEnc enc :
       {skr::azure::KeyExportEnc::CkmRsaAesKeyWrap, skr::azure::KeyExportEnc::RsaAesKeyWrap256}) {
    (void)skr::azure::unwrapKeyHsm(text, transfer, enc);
  }
  return 0;
}
