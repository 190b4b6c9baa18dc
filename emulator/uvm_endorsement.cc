#include "emulator/uvm_endorsement.h"

#include <Poco/Dynamic/Var.h>

#include <limits>
#include <string_view>

#include "common/crypto/signature.h"
#include "common/encoding/hex.h"
#include "common/json/json.h"

namespace skr::emulator {
namespace {

constexpr int kMaxDepth = 8;
constexpr uint64_t kMaxItems = 64;  // per array / map
constexpr int64_t kHeaderAlg = 1;
constexpr int64_t kHeaderX5Chain = 33;
constexpr uint64_t kTagCoseSign1 = 18;

// A bounded reader over the CBOR (RFC 8949) subset COSE uses: definite lengths only.
class CborReader {
 public:
  explicit CborReader(ByteView data) : data_(data) {}

  bool atEnd() const { return pos_ == data_.size(); }

  // Reads an initial byte and its argument. Indefinite lengths and reserved values are errors.
  Status head(uint8_t* major, uint64_t* argument) {
    if (pos_ >= data_.size()) return malformed("truncated");
    const uint8_t initial = data_[pos_++];
    *major = initial >> 5;
    const uint8_t info = initial & 0x1f;
    if (info < 24) {
      *argument = info;
      return okStatus();
    }
    int size = 0;
    switch (info) {
      case 24: size = 1; break;
      case 25: size = 2; break;
      case 26: size = 4; break;
      case 27: size = 8; break;
      default:
        return malformed("indefinite or reserved length (additional info " + std::to_string(info) +
                         ")");
    }
    if (data_.size() - pos_ < static_cast<std::size_t>(size)) return malformed("truncated");
    uint64_t value = 0;
    for (int i = 0; i < size; ++i) value = (value << 8) | data_[pos_++];
    *argument = value;
    return okStatus();
  }

  StatusOr<Bytes> bytes(uint64_t length) {
    if (length > data_.size() - pos_) return malformed("string longer than the input");
    Bytes out(data_.begin() + static_cast<std::ptrdiff_t>(pos_),
              data_.begin() + static_cast<std::ptrdiff_t>(pos_ + length));
    pos_ += length;
    return out;
  }

  StatusOr<Bytes> byteString(std::string_view what) {
    uint8_t major = 0;
    uint64_t arg = 0;
    SKR_RETURN_IF_ERROR(head(&major, &arg));
    if (major != 2) return malformed(std::string(what) + " is not a byte string");
    return bytes(arg);
  }

  // Skips one complete data item (nested up to kMaxDepth).
  Status skip(int depth = 0) {
    if (depth > kMaxDepth) return malformed("nested too deeply");
    uint8_t major = 0;
    uint64_t arg = 0;
    SKR_RETURN_IF_ERROR(head(&major, &arg));
    switch (major) {
      case 0:
      case 1:
      case 7: return okStatus();
      case 2:
      case 3: return bytes(arg).status();
      case 4:
      case 5: {
        if (arg > kMaxItems) return malformed("more than " + std::to_string(kMaxItems) + " items");
        const uint64_t items = major == 5 ? arg * 2 : arg;
        for (uint64_t i = 0; i < items; ++i) SKR_RETURN_IF_ERROR(skip(depth + 1));
        return okStatus();
      }
      default:  // 6: tag, then the tagged item
        return skip(depth + 1);
    }
  }

  static Status malformed(const std::string& why) {
    return invalidArgumentError("COSE_Sign1: malformed CBOR: " + why);
  }

 private:
  ByteView data_;
  std::size_t pos_ = 0;
};

// A text or integer map key / simple value read from a header map.
struct HeaderValue {
  std::optional<int64_t> integer;
  std::optional<std::string> text;
  std::vector<Bytes> byte_strings;  // a bstr, or an array of bstr (x5chain)
};

StatusOr<int64_t> cborInteger(uint8_t major, uint64_t arg) {
  if (arg > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return CborReader::malformed("integer out of range");
  }
  return major == 0 ? static_cast<int64_t>(arg) : -1 - static_cast<int64_t>(arg);
}

// Reads one header value; kinds COSE_Sign1 headers do not use here are skipped (left empty).
StatusOr<HeaderValue> readHeaderValue(CborReader& r) {
  HeaderValue v;
  uint8_t major = 0;
  uint64_t arg = 0;
  SKR_RETURN_IF_ERROR(r.head(&major, &arg));
  switch (major) {
    case 0:
    case 1: {
      SKR_ASSIGN_OR_RETURN(int64_t i, cborInteger(major, arg));
      v.integer = i;
      return v;
    }
    case 2: {
      SKR_ASSIGN_OR_RETURN(Bytes b, r.bytes(arg));
      v.byte_strings.push_back(std::move(b));
      return v;
    }
    case 3: {
      SKR_ASSIGN_OR_RETURN(Bytes b, r.bytes(arg));
      v.text = toString(b);
      return v;
    }
    case 4: {
      if (arg > kMaxItems) return CborReader::malformed("header array too long");
      for (uint64_t i = 0; i < arg; ++i) {
        SKR_ASSIGN_OR_RETURN(Bytes b, r.byteString("x5chain element"));
        v.byte_strings.push_back(std::move(b));
      }
      return v;
    }
    case 5: {
      if (arg > kMaxItems) return CborReader::malformed("header map too large");
      for (uint64_t i = 0; i < arg * 2; ++i) SKR_RETURN_IF_ERROR(r.skip(1));
      return v;
    }
    case 6: SKR_RETURN_IF_ERROR(r.skip(1)); return v;
    default: return v;
  }
}

Status parseProtectedHeader(ByteView serialized, UvmEndorsement& out) {
  CborReader r(serialized);
  uint8_t major = 0;
  uint64_t entries = 0;
  SKR_RETURN_IF_ERROR(r.head(&major, &entries));
  if (major != 5) return invalidArgumentError("COSE_Sign1: protected header is not a map");
  if (entries > kMaxItems) return CborReader::malformed("protected header has too many entries");
  bool has_alg = false;
  for (uint64_t i = 0; i < entries; ++i) {
    uint8_t key_major = 0;
    uint64_t key_arg = 0;
    SKR_RETURN_IF_ERROR(r.head(&key_major, &key_arg));
    std::optional<int64_t> label;
    std::string name;
    if (key_major == 0 || key_major == 1) {
      SKR_ASSIGN_OR_RETURN(int64_t l, cborInteger(key_major, key_arg));
      label = l;
    } else if (key_major == 3) {
      SKR_ASSIGN_OR_RETURN(Bytes b, r.bytes(key_arg));
      name = toString(b);
    } else {
      return invalidArgumentError("COSE_Sign1: protected header label is not an int or text");
    }
    SKR_ASSIGN_OR_RETURN(HeaderValue value, readHeaderValue(r));
    if (label == kHeaderAlg) {
      if (!value.integer) return invalidArgumentError("COSE_Sign1: alg is not an integer");
      out.alg = *value.integer;
      has_alg = true;
    } else if (label == kHeaderX5Chain) {
      if (value.byte_strings.empty()) {
        return invalidArgumentError("COSE_Sign1: x5chain is not a bstr or array of bstr");
      }
      for (const Bytes& der : value.byte_strings) {
        StatusOr<crypto::Certificate> cert = crypto::Certificate::fromDer(der);
        if (!cert.ok()) {
          return invalidArgumentError("COSE_Sign1: x5chain certificate: " +
                                      cert.status().message());
        }
        out.x5chain.push_back(std::move(cert).value());
      }
    } else if (!label && name == "iss") {
      if (!value.text) return invalidArgumentError("COSE_Sign1: iss is not text");
      out.issuer = value.text;
    } else if (!label && name == "feed") {
      if (!value.text) return invalidArgumentError("COSE_Sign1: feed is not text");
      out.feed = value.text;
    }
  }
  if (!r.atEnd()) return CborReader::malformed("trailing bytes after the protected header");
  if (!has_alg) return invalidArgumentError("COSE_Sign1: protected header has no alg (label 1)");
  return okStatus();
}

Status parsePayload(UvmEndorsement& out) {
  json::ParseLimits limits;
  limits.max_bytes = kMaxUvmEndorsementBytes;
  limits.max_depth = 8;
  StatusOr<json::ObjectPtr> payload = json::parseObject(toString(out.payload), limits);
  if (!payload.ok()) {
    return invalidArgumentError("UVM endorsement payload: " + payload.status().message());
  }
  StatusOr<std::string> measurement = json::getString(*payload, "x-ms-sevsnpvm-launchmeasurement");
  if (!measurement.ok()) {
    return invalidArgumentError("UVM endorsement payload: " + measurement.status().message());
  }
  StatusOr<Bytes> bytes = encoding::hexDecode(*measurement, 48);
  if (!bytes.ok() || bytes->size() != 48) {
    return invalidArgumentError(
        "UVM endorsement payload: x-ms-sevsnpvm-launchmeasurement is not 48 bytes of hex");
  }
  out.launch_measurement_hex = encoding::hexEncode(*bytes);
  if (payload.value()->has("x-ms-sevsnpvm-guestsvn")) {
    const Poco::Dynamic::Var svn = payload.value()->get("x-ms-sevsnpvm-guestsvn");
    if (StatusOr<std::string> text = json::asString(svn, "x-ms-sevsnpvm-guestsvn"); text.ok()) {
      out.guest_svn = std::move(text).value();
    } else if (StatusOr<int64_t> number = json::asInt(svn, "x-ms-sevsnpvm-guestsvn"); number.ok()) {
      out.guest_svn = std::to_string(*number);
    }
  }
  return okStatus();
}

std::optional<crypto::SignatureScheme> schemeFor(int64_t alg) {
  switch (alg) {
    case -7: return crypto::SignatureScheme::EcdsaSha256;
    case -35: return crypto::SignatureScheme::EcdsaSha384;
    case -36: return crypto::SignatureScheme::EcdsaSha512;
    case -37: return crypto::SignatureScheme::RsaPssSha256;
    case -38: return crypto::SignatureScheme::RsaPssSha384;
    case -39: return crypto::SignatureScheme::RsaPssSha512;
    default: return std::nullopt;
  }
}

void appendHead(Bytes& out, uint8_t major, uint64_t argument) {
  const uint8_t m = static_cast<uint8_t>(major << 5);
  if (argument < 24) {
    out.push_back(static_cast<uint8_t>(m | argument));
    return;
  }
  int size = 8;
  uint8_t info = 27;
  if (argument <= 0xff) {
    size = 1;
    info = 24;
  } else if (argument <= 0xffff) {
    size = 2;
    info = 25;
  } else if (argument <= 0xffffffffu) {
    size = 4;
    info = 26;
  }
  out.push_back(static_cast<uint8_t>(m | info));
  for (int i = size - 1; i >= 0; --i) out.push_back(static_cast<uint8_t>(argument >> (8 * i)));
}

void appendByteString(Bytes& out, uint8_t major, ByteView bytes) {
  appendHead(out, major, bytes.size());
  out.insert(out.end(), bytes.begin(), bytes.end());
}

}  // namespace

Bytes coseSign1SigStructure(ByteView protected_header, ByteView payload) {
  Bytes out;
  appendHead(out, 4, 4);
  appendByteString(out, 3, asBytes("Signature1"));
  appendByteString(out, 2, protected_header);
  appendByteString(out, 2, {});
  appendByteString(out, 2, payload);
  return out;
}

StatusOr<UvmEndorsement> UvmEndorsement::parse(ByteView cose) {
  if (cose.empty()) return invalidArgumentError("COSE_Sign1: empty");
  if (cose.size() > kMaxUvmEndorsementBytes) {
    return invalidArgumentError("COSE_Sign1: " + std::to_string(cose.size()) + " bytes, at most " +
                                std::to_string(kMaxUvmEndorsementBytes));
  }
  CborReader r(cose);
  uint8_t major = 0;
  uint64_t arg = 0;
  SKR_RETURN_IF_ERROR(r.head(&major, &arg));
  if (major == 6) {
    if (arg != kTagCoseSign1) {
      return invalidArgumentError("COSE_Sign1: CBOR tag " + std::to_string(arg) +
                                  ", expected 18 (COSE_Sign1)");
    }
    SKR_RETURN_IF_ERROR(r.head(&major, &arg));
  }
  if (major != 4 || arg != 4) {
    return invalidArgumentError("COSE_Sign1: not an array of 4 items");
  }
  UvmEndorsement out;
  SKR_ASSIGN_OR_RETURN(out.protected_header, r.byteString("protected header"));
  SKR_RETURN_IF_ERROR(parseProtectedHeader(out.protected_header, out));
  // Unprotected header: a map, contents not used.
  {
    CborReader probe = r;
    uint8_t m = 0;
    uint64_t a = 0;
    SKR_RETURN_IF_ERROR(probe.head(&m, &a));
    if (m != 5) return invalidArgumentError("COSE_Sign1: unprotected header is not a map");
    SKR_RETURN_IF_ERROR(r.skip());
  }
  StatusOr<Bytes> payload = r.byteString("payload");
  if (!payload.ok()) {
    return invalidArgumentError(
        "COSE_Sign1: payload is not a byte string (detached payloads are "
        "not accepted)");
  }
  out.payload = std::move(payload).value();
  SKR_ASSIGN_OR_RETURN(out.signature, r.byteString("signature"));
  if (!r.atEnd()) return CborReader::malformed("trailing bytes after COSE_Sign1");
  SKR_RETURN_IF_ERROR(parsePayload(out));
  return out;
}

Status UvmEndorsement::verifySignature() const {
  if (x5chain.empty()) {
    return failedPreconditionError("COSE_Sign1: no x5chain (label 33) to verify the signature");
  }
  const std::optional<crypto::SignatureScheme> scheme = schemeFor(alg);
  if (!scheme) {
    return invalidArgumentError("COSE_Sign1: unsupported alg " + std::to_string(alg));
  }
  const crypto::PublicKey key = x5chain.front().publicKey();
  if (crypto::schemeKeyType(*scheme) != key.type()) {
    return invalidArgumentError("COSE_Sign1: alg " + std::to_string(alg) +
                                " does not fit the x5chain leaf key");
  }
  Bytes der_or_raw = signature;
  if (key.type() == crypto::KeyType::Ec) {
    // COSE ECDSA signatures are r || s (RFC 9053 §2.1), like JOSE.
    SKR_ASSIGN_OR_RETURN(crypto::Curve curve, key.curve());
    StatusOr<Bytes> der = crypto::ecdsaDerFromJose(curve, signature);
    if (!der.ok()) return dataLossError("COSE_Sign1: signature: " + der.status().message());
    der_or_raw = std::move(der).value();
  }
  const Bytes to_be_signed = coseSign1SigStructure(protected_header, payload);
  if (!crypto::verify(key, *scheme, to_be_signed, der_or_raw).ok()) {
    return dataLossError("COSE_Sign1: signature does not verify with the x5chain leaf (" +
                         x5chain.front().subjectOneLine() + ")");
  }
  for (std::size_t i = 0; i + 1 < x5chain.size(); ++i) {
    Status linked = x5chain[i].verifySignedBy(x5chain[i + 1]);
    if (!linked.ok()) {
      return dataLossError("COSE_Sign1: x5chain[" + std::to_string(i) +
                           "] is not signed by x5chain[" + std::to_string(i + 1) +
                           "]: " + linked.message());
    }
  }
  return okStatus();
}

}  // namespace skr::emulator
