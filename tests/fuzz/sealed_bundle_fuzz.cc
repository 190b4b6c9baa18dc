// Fuzz target: sealed bundle parsing and opening (common/seal/bundle.h). The text comes from a
// tmpfs file that anyone in the UVM with write access could have replaced, so parse() and open*()
// must fail cleanly on anything. Opening uses a fixed keyfile-style key (the seeds are sealed with
// it, so mutations reach the tag check and the material checks) and the `none` provider (no tag:
// mutations reach the JWK and pending-material parsers directly).
// Properties: no crash; a bundle that opens re-seals to a bundle that opens to the same key.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/log/logger.h"
#include "common/seal/bundle.h"
#include "common/seal/sealing_key.h"

namespace {

using skr::SecretBytes;
using skr::StatusOr;
using skr::seal::SealProviderKind;

// A keyfile provider with a fixed key (32 bytes of 0x42, used as is) and fixed parameters.
class FixedKeyProvider final : public skr::seal::SealingKeyProvider {
 public:
  SealProviderKind kind() const override { return SealProviderKind::Keyfile; }
  bool emulated() const override { return false; }
  skr::json::ObjectPtr parameters() const override {
    skr::json::ObjectPtr p = new Poco::JSON::Object();
    p->set("key_id", "fuzz");
    return p;
  }
  StatusOr<SecretBytes> sealingKey() const override { return SecretBytes::copyOf(kKey); }

 private:
  static constexpr uint8_t kBytes[32] = {0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,
                                         0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,
                                         0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,
                                         0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42};
  static constexpr skr::ByteView kKey{kBytes, 32};
};

void roundTrip(const skr::seal::SealedBundle& bundle,
               const skr::seal::SealingKeyProvider& provider) {
  const skr::seal::OpenOptions options{bundle.info().emulated};
  if (bundle.info().kind == skr::seal::BundleKind::Key) {
    StatusOr<skr::jose::Jwk> key = skr::seal::openKey(bundle, provider, options);
    if (!key.ok()) return;
    StatusOr<std::string> again = skr::seal::sealKey(bundle.info(), *key, provider);
    if (!again.ok()) std::abort();
    StatusOr<skr::seal::SealedBundle> reparsed = skr::seal::SealedBundle::parse(*again);
    if (!reparsed.ok()) std::abort();
    StatusOr<skr::jose::Jwk> reopened = skr::seal::openKey(*reparsed, provider, options);
    if (!reopened.ok() || reopened->thumbprint() != key->thumbprint()) std::abort();
  } else {
    StatusOr<skr::seal::PendingRelease> pending = skr::seal::openPending(bundle, provider, options);
    if (!pending.ok()) return;
    StatusOr<std::string> again =
        skr::seal::sealPending(bundle.info(), pending->transfer_key, pending->maa_token, provider);
    if (!again.ok()) std::abort();
    StatusOr<skr::seal::SealedBundle> reparsed = skr::seal::SealedBundle::parse(*again);
    if (!reparsed.ok()) std::abort();
    StatusOr<skr::seal::PendingRelease> reopened =
        skr::seal::openPending(*reparsed, provider, options);
    if (!reopened.ok() || reopened->maa_token != pending->maa_token) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = [] {
    skr::log::setMinLevel(skr::log::Level::Error);  // `none` warns at every open
    return true;
  }();
  (void)quiet;
  static const FixedKeyProvider fixed;
  static const std::unique_ptr<skr::seal::SealingKeyProvider> none = skr::seal::makeNoneProvider();
  const std::string_view text(reinterpret_cast<const char*>(data), size);  // NOLINT
  StatusOr<skr::seal::SealedBundle> bundle = skr::seal::SealedBundle::parse(text);
  if (!bundle.ok()) return 0;
  roundTrip(*bundle,
            bundle->encrypted() ? static_cast<const skr::seal::SealingKeyProvider&>(fixed) : *none);
  return 0;
}
