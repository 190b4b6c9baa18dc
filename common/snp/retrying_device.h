// RetryingDevice: an SnpDevice that gives a busy guest-request channel another chance. The host
// throttles SEV-SNP guest requests: the firmware path answers "busy" (VMM error 2, or EAGAIN /
// EBUSY from the driver), which every device maps to Unavailable. Such an answer is transient,
// so a report or a derived key is asked again with the shared retry policy (full-jitter backoff,
// attempt budget, overall deadline; http/retry.h). Every other error is final at once: a firmware
// error, a missing device, a disabled VMPCK (ENOTTY) do not get better by asking again, and
// asking again after ENOTTY is pointless since the kernel has disabled the key.
// Thread-safe when the wrapped device, the clock and the jitter source are.
#pragma once

#include <memory>

#include "common/core/clock.h"
#include "common/http/retry.h"
#include "common/snp/snp_device.h"

namespace skr::snp {

class RetryingDevice final : public SnpDevice {
 public:
  // `policy.dependency` names the device in messages and logs ("SNP device"); its
  // retryable_statuses are not used (a device has no HTTP status). `clock` and `jitter` must
  // outlive this object.
  RetryingDevice(std::shared_ptr<const SnpDevice> inner, http::RetryPolicy policy, Clock& clock,
                 http::JitterSource& jitter);

  std::string_view name() const override { return inner_->name(); }
  StatusOr<Bytes> getReport(const std::array<uint8_t, 64>& report_data,
                            uint32_t vmpl) const override;
  StatusOr<SecretBytes> getDerivedKey(const DerivedKeyRequest& request) const override;
  StatusOr<ExtendedReport> getExtendedReport(const std::array<uint8_t, 64>& report_data,
                                             uint32_t vmpl) const override;

 private:
  template <typename T, typename Call>
  StatusOr<T> withRetry(const char* what, const Call& call) const;

  std::shared_ptr<const SnpDevice> inner_;
  http::RetryPolicy policy_;
  Clock& clock_;
  http::JitterSource& jitter_;
};

}  // namespace skr::snp
