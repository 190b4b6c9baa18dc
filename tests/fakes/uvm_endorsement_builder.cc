#include "tests/fakes/uvm_endorsement_builder.h"

#include <stdexcept>

#include "common/crypto/signature.h"

namespace skr::testing {
namespace {

void head(Bytes& out, int major, uint64_t n) {
  const auto m = static_cast<uint8_t>(major << 5);
  if (n < 24) {
    out.push_back(static_cast<uint8_t>(m | n));
  } else if (n < 0x100) {
    out.push_back(m | 24);
    out.push_back(static_cast<uint8_t>(n));
  } else if (n < 0x10000) {
    out.push_back(m | 25);
    out.push_back(static_cast<uint8_t>(n >> 8));
    out.push_back(static_cast<uint8_t>(n));
  } else {
    out.push_back(m | 26);
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(n >> shift));
  }
}

void integer(Bytes& out, int64_t v) {
  if (v >= 0) {
    head(out, 0, static_cast<uint64_t>(v));
  } else {
    head(out, 1, static_cast<uint64_t>(-1 - v));
  }
}

void bstr(Bytes& out, ByteView b) {
  head(out, 2, b.size());
  out.insert(out.end(), b.begin(), b.end());
}

void tstr(Bytes& out, std::string_view s) {
  head(out, 3, s.size());
  out.insert(out.end(), s.begin(), s.end());
}

crypto::SignatureScheme scheme(int alg) {
  switch (alg) {
    case -7: return crypto::SignatureScheme::EcdsaSha256;
    case -35: return crypto::SignatureScheme::EcdsaSha384;
    case -36: return crypto::SignatureScheme::EcdsaSha512;
    case -37: return crypto::SignatureScheme::RsaPssSha256;
    case -38: return crypto::SignatureScheme::RsaPssSha384;
    default: return crypto::SignatureScheme::RsaPssSha512;
  }
}

}  // namespace

Bytes makeUvmEndorsement(const UvmEndorsementSpec& spec, const crypto::PrivateKey& key) {
  Bytes protected_header;
  const bool chain = !spec.x5chain.empty();
  head(protected_header, 5, chain ? 4 : 3);
  integer(protected_header, 1);
  integer(protected_header, spec.alg);
  if (chain) {
    integer(protected_header, 33);
    head(protected_header, 4, spec.x5chain.size());
    for (const crypto::Certificate& c : spec.x5chain) bstr(protected_header, c.der());
  }
  tstr(protected_header, "feed");
  tstr(protected_header, "ContainerPlat-AMD-UVM");
  tstr(protected_header, "iss");
  tstr(protected_header, "did:x509:0:sha256:test::eku:1.3.6.1.4.1.311.76.59.1.2");

  const std::string payload =
      !spec.payload_json.empty()
          ? spec.payload_json
          : R"({"x-ms-sevsnpvm-guestsvn":"2","x-ms-sevsnpvm-guestsvn-int":2,)"
            R"("x-ms-sevsnpvm-launchmeasurement":")" +
                spec.launch_measurement_hex + "\"}";

  Bytes to_be_signed;
  head(to_be_signed, 4, 4);
  tstr(to_be_signed, "Signature1");
  bstr(to_be_signed, protected_header);
  bstr(to_be_signed, {});
  bstr(to_be_signed, asBytes(payload));
  StatusOr<Bytes> sig = crypto::sign(key, scheme(spec.alg), to_be_signed);
  if (!sig.ok()) throw std::runtime_error(sig.status().toString());
  Bytes signature = *sig;
  if (key.type() == crypto::KeyType::Ec) {
    StatusOr<crypto::Curve> curve = key.curve();
    if (!curve.ok()) throw std::runtime_error(curve.status().toString());
    StatusOr<Bytes> raw = crypto::ecdsaJoseFromDer(*curve, *sig);
    if (!raw.ok()) throw std::runtime_error(raw.status().toString());
    signature = *raw;
  }
  if (spec.corrupt_signature) signature[signature.size() / 2] ^= 0x01;

  Bytes out;
  if (spec.tagged) head(out, 6, 18);
  head(out, 4, 4);
  bstr(out, protected_header);
  head(out, 5, 0);
  bstr(out, asBytes(payload));
  bstr(out, signature);
  return out;
}

}  // namespace skr::testing
