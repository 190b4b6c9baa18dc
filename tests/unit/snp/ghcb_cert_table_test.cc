#include "common/snp/ghcb_cert_table.h"

#include <catch2/catch.hpp>

namespace skr::snp {
namespace {

TEST_CASE("GHCB certificate tables round-trip and GUIDs keep EFI byte order", "[snp-device]") {
  StatusOr<Guid> vcek = guidFromString(kVcekGuid);
  REQUIRE(vcek.ok());
  // 63da758d-e664-4564-... stored as 8d 75 da 63 64 e6 64 45 ad c5 ...
  CHECK(Bytes(vcek->begin(), vcek->begin() + 10) ==
        Bytes{0x8d, 0x75, 0xda, 0x63, 0x64, 0xe6, 0x64, 0x45, 0xad, 0xc5});
  CHECK(guidToString(*vcek) == kVcekGuid);
  std::vector<CertTableEntry> entries = {{*vcek, Bytes{1, 2, 3}},
                                         {*guidFromString(kArkGuid), Bytes(300, 9)}};
  const Bytes table = serializeCertTable(entries);
  CHECK(table.size() == 3 * 24 + 3 + 300);
  StatusOr<std::vector<CertTableEntry>> parsed = parseCertTable(table);
  REQUIRE(parsed.ok());
  REQUIRE(parsed->size() == 2);
  CHECK((*parsed)[0].der == Bytes{1, 2, 3});
  CHECK(guidToString((*parsed)[1].guid) == kArkGuid);
  // A host without certificates: empty buffer or zero table.
  CHECK(parseCertTable(Bytes()).value().empty());
  CHECK(parseCertTable(Bytes(4096, 0)).value().empty());
}

TEST_CASE("malformed GHCB certificate tables are rejected with the reason", "[snp-device]") {
  Bytes table = serializeCertTable({{*guidFromString(kVcekGuid), Bytes{1, 2, 3}}});
  Bytes unterminated(30, 0);
  unterminated[0] = 0x8d;  // some GUID
  unterminated[16] = 24;   // certificate at 24..29, then no room for a terminator
  unterminated[20] = 6;
  CHECK(parseCertTable(unterminated).status().toString() ==
        "InvalidArgument: GHCB certificate table: no terminating all-zero entry within 30 bytes");
  Bytes outside = table;
  outside[20] = 0xff;  // length
  CHECK(parseCertTable(outside).status().toString() ==
        "InvalidArgument: GHCB certificate table entry 0 (63da758d-e664-4564-adc5-f4b93be8accd): "
        "certificate at 48+255 is outside the 51-byte buffer");
  Bytes overlap = table;
  overlap[16] = 8;  // offset inside the table
  CHECK(parseCertTable(overlap).status().toString() ==
        "InvalidArgument: GHCB certificate table entry 0 (63da758d-e664-4564-adc5-f4b93be8accd): "
        "certificate at offset 8 overlaps the 48-byte table");
  CHECK(guidFromString("not-a-guid").status().toString() ==
        "InvalidArgument: GUID 'not-a-guid' is not of the form "
        "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx");
}

}  // namespace
}  // namespace skr::snp
