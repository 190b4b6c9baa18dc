// Fuzz target: SNP report parsing and rendering. Property: a parsed report serializes back to the
// exact input bytes, and both renderings succeed.
#include <cstdint>
#include <cstdlib>

#include "common/json/json.h"
#include "common/snp/report.h"
#include "common/snp/report_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const skr::ByteView input(data, size);
  skr::StatusOr<skr::snp::SnpReport> report = skr::snp::SnpReport::parse(input);
  if (!report.ok()) return 0;
  const skr::Bytes again = report->serialize();
  if (again.size() != size || !std::equal(again.begin(), again.end(), data)) std::abort();
  if (!skr::json::serializeCanonical(skr::snp::reportToJson(*report)).ok()) std::abort();
  if (skr::snp::reportToText(*report).empty()) std::abort();
  return 0;
}
