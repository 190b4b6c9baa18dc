// Fuzz target for the emulated MAA's parsers of untrusted input (emulator/maa_attestation.h,
// emulator/uvm_endorsement.h): the AttestSevSnpVm request body and the COSE_Sign1 UVM
// endorsement. Every input is fed to both. Properties:
//  - failures are InvalidArgument (never a crash, hang or other code);
//  - a parsed request respects its bounds: 1..3 chain certificates, <= 4 endorsements, decoded
//    members within their limits;
//  - a parsed endorsement has a 96-digit lower-case measurement and signature verification
//    returns a status (FailedPrecondition / InvalidArgument / DataLoss / OK) without crashing.
// A violated property traps, so libFuzzer (and the corpus replay) reports it as a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "emulator/maa_attestation.h"
#include "emulator/uvm_endorsement.h"

namespace {

void require(bool condition) {
  if (!condition) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using skr::StatusCode;
  using namespace skr::emulator;
  const std::string_view text(reinterpret_cast<const char*>(data), size);  // NOLINT

  auto request = AttestSevSnpVmRequest::parse(text);
  if (request.ok()) {
    require(!request->vcek_cert_chain.empty() && request->vcek_cert_chain.size() <= 3);
    require(request->uvm_endorsements.size() <= kMaxUvmEndorsements);
    require(request->report.size() <= 4096);
    require(request->runtime_data.bytes.size() <= kMaxMaaDataBytes);
    require(request->runtime_data.type != MaaData::Type::Json ||
            !request->runtime_data.json.isNull());
    require(!request->nonce || request->nonce->size() <= kMaxMaaNonceBytes);
  } else {
    require(request.status().code() == StatusCode::InvalidArgument);
  }

  auto uvm = UvmEndorsement::parse(skr::ByteView(data, size));
  if (uvm.ok()) {
    require(uvm->launch_measurement_hex.size() == 96);
    const skr::Status verified = uvm->verifySignature();
    require(verified.ok() || verified.code() == StatusCode::FailedPrecondition ||
            verified.code() == StatusCode::InvalidArgument ||
            verified.code() == StatusCode::DataLoss);
  } else {
    require(uvm.status().code() == StatusCode::InvalidArgument);
  }
  return 0;
}
