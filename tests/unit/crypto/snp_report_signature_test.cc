// Real-fixture checks of the SEV-SNP attestation report signature (spec/azure-wire.md §6.3):
// ECDSA P-384 with SHA-384 over report bytes 0x000..0x29F, r at 0x2A0 and s at 0x2E8 (72 bytes
// each, little-endian), verified with the VCEK's public key.
#include <catch2/catch.hpp>
#include <cstddef>
#include <fstream>
#include <string>
#include <vector>

#include "common/crypto/signature.h"
#include "common/crypto/x509.h"

namespace skr::crypto {
namespace {

constexpr std::size_t kReportSize = 1184;
constexpr std::size_t kSignedEnd = 0x2A0;  // bytes [0, 0x2A0) are signed
constexpr std::size_t kROffset = 0x2A0;
constexpr std::size_t kSOffset = 0x2E8;
constexpr std::size_t kComponentSize = 72;

// Fixtures: tests/data/README.md.
Bytes readBytes(const std::string& relative) {
  std::ifstream in(std::string(SKR_TEST_DATA_DIR) + "/" + relative,
                   std::ios::binary | std::ios::ate);
  REQUIRE(in.good());
  Bytes bytes(static_cast<std::size_t>(in.tellg()));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(bytes.data()),  // NOLINT
          static_cast<std::streamsize>(bytes.size()));
  REQUIRE(in.good());
  return bytes;
}

struct SnpFixture {
  std::string name;
  Bytes report;
  Certificate vcek;
};

SnpFixture loadFixture(const std::string& dir, const std::string& vcek_file) {
  Bytes report = readBytes("snp/" + dir + "/report.bin");
  REQUIRE(report.size() == kReportSize);
  auto vcek = Certificate::fromPemOrDer(readBytes("snp/" + dir + "/" + vcek_file));
  INFO(dir << ": " << vcek.status().toString());
  REQUIRE(vcek.ok());
  return SnpFixture{dir, std::move(report), std::move(vcek).value()};
}

std::vector<SnpFixture> loadFixtures() {
  std::vector<SnpFixture> out;
  out.push_back(loadFixture("aci-milan-v2", "vcek.pem"));
  out.push_back(loadFixture("gosevguest-milan-v2", "vcek.der"));
  return out;
}

// Verifies `report`'s signature with `vcek` the way the attestation verifier will.
Status verifyReportSignature(const Bytes& report, const Certificate& vcek) {
  ByteView view(report);
  auto der = ecdsaDerFromSnp(view.subspan(kROffset, kComponentSize),
                             view.subspan(kSOffset, kComponentSize));
  if (!der.ok()) return der.status();
  return verify(vcek.publicKey(), SignatureScheme::EcdsaSha384, view.first(kSignedEnd), *der);
}

TEST_CASE("a genuine SNP report signature verifies with its VCEK", "[snp]") {
  for (const auto& f : loadFixtures()) {
    INFO(f.name);
    CHECK(f.report[0x34] == 1);  // SIGNATURE_ALGO = ECDSA P-384 with SHA-384
    Status s = verifyReportSignature(f.report, f.vcek);
    INFO(s.toString());
    CHECK(s.ok());
  }
}

TEST_CASE("an SNP report signature fails with DataLoss after any signed byte changes", "[snp]") {
  // One offset in every field of the signed region (version, guest_svn, policy, family_id,
  // image_id, vmpl, signature_algo, current_tcb, platform_info, flags, report_data, measurement,
  // host_data, id_key_digest, author_key_digest, report_id, report_id_ma, reported_tcb, chip_id,
  // committed_tcb, build numbers, launch_tcb, and the last signed byte).
  const std::size_t offsets[] = {0x00,  0x04,  0x08,  0x10,  0x20,  0x30,  0x34,  0x38,
                                 0x40,  0x48,  0x50,  0x90,  0xC0,  0xE0,  0x110, 0x140,
                                 0x160, 0x180, 0x1A0, 0x1E0, 0x1F0, 0x1F8, 0x29F};
  for (const auto& f : loadFixtures()) {
    for (std::size_t offset : offsets) {
      INFO(f.name << " offset 0x" << std::hex << offset);
      Bytes tampered = f.report;
      tampered[offset] ^= 0x01;
      CHECK(verifyReportSignature(tampered, f.vcek).code() == StatusCode::DataLoss);
    }
  }
}

TEST_CASE("an SNP report signature fails with DataLoss after r or s changes", "[snp]") {
  for (const auto& f : loadFixtures()) {
    for (std::size_t offset :
         {kROffset, kROffset + 20, kROffset + 47, kSOffset, kSOffset + 30, kSOffset + 47}) {
      INFO(f.name << " offset 0x" << std::hex << offset);
      Bytes tampered = f.report;
      tampered[offset] ^= 0x80;
      CHECK(verifyReportSignature(tampered, f.vcek).code() == StatusCode::DataLoss);
    }
  }
}

TEST_CASE("an SNP report does not verify with another chip's VCEK", "[snp]") {
  auto fixtures = loadFixtures();
  CHECK(verifyReportSignature(fixtures[0].report, fixtures[1].vcek).code() == StatusCode::DataLoss);
  CHECK(verifyReportSignature(fixtures[1].report, fixtures[0].vcek).code() == StatusCode::DataLoss);
}

}  // namespace
}  // namespace skr::crypto
