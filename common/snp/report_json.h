// Renders an SnpReport for people and scripts (skrctl report show).
#pragma once

#include <string>

#include "common/json/json.h"
#include "common/snp/report.h"

namespace skr::snp {

// One object with the keys version, guest_svn, policy, family_id, image_id, vmpl, signature_algo,
// platform_info, signing_key, report_data, measurement, host_data, id_key_digest,
// author_key_digest, report_id, report_id_ma, chip_id, current_tcb, reported_tcb, committed_tcb,
// launch_tcb (plus cpuid/firmware/mitigation fields). Integers as numbers; policy and
// platform_info as "0x%016x"; byte fields as lower-case hex; signing_key "vcek" / "vlek" / "none";
// each TCB {bootloader, tee, snp, microcode, raw} (+ fmc on Turin), raw as "0x%016x".
json::ObjectPtr reportToJson(const SnpReport& report);

// A human-readable multi-line listing of every field, with policy and platform bits named.
std::string reportToText(const SnpReport& report);

// "0x%016x".
std::string hex64(uint64_t value);

}  // namespace skr::snp
