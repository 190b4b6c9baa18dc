// configfs-tsm cannot be mounted in an unprivileged test, so the protocol runs against an
// in-memory model of the kernel's report instance directory (Documentation/ABI/testing/
// configfs-tsm-report; drivers/virt/coco/tsm.c): mkdir creates provider/generation/inblob/
// privlevel/outblob/auxblob, each write bumps generation, reading outblob runs the request on an
// emulated chip. The real-file-system adapter is exercised against a plain directory.
#include "common/snp/tsm_device.h"

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

#include "common/snp/emulated_chip.h"
#include "common/snp/ghcb_cert_table.h"
#include "common/snp/report.h"

namespace skr::snp {
namespace {

namespace fs = std::filesystem;

template <typename T>
T take(StatusOr<T> s) {
  INFO(s.status().toString());
  REQUIRE(s.ok());
  return std::move(s).value();
}

std::string makeTempDir() {
  std::string templ = (fs::temp_directory_path() / "skr-tsm-test-XXXXXX").string();
  REQUIRE(::mkdtemp(templ.data()) != nullptr);
  return templ;
}

const EmulatedChip& chip() {
  static const EmulatedChip c = take(EmulatedChip::openOrCreate(makeTempDir() + "/chip"));
  return c;
}

struct Faults {
  std::string provider = "sev_guest\n";
  int outblob_errno = 0;
  std::optional<std::size_t> outblob_size;  // truncate
  bool concurrent_write_before_read = false;
  bool concurrent_write_during_read = false;
};

class FakeConfigfs final : public TsmFileSystem {
 public:
  FakeConfigfs(std::string root, Faults faults, std::set<std::string>* live)
      : root_(std::move(root)), faults_(std::move(faults)), live_(live) {}

  int makeDirectory(const std::string& path) override {
    if (parent(path) != root_) return ENOENT;
    if (instances_.count(path) != 0) return EEXIST;
    instances_[path] = Instance{};
    live_->insert(path);
    return 0;
  }
  int removeDirectory(const std::string& path) override {
    if (instances_.erase(path) == 0) return ENOENT;
    live_->erase(path);
    return 0;
  }
  bool isDirectory(const std::string& path) override { return path == root_; }
  int readFile(const std::string& path, std::size_t max_bytes, Bytes* out) override {
    Instance* inst = instanceOf(path);
    if (inst == nullptr) return ENOENT;
    const std::string attr = path.substr(path.rfind('/') + 1);
    if (attr == "provider") {
      *out = toBytes(faults_.provider);
    } else if (attr == "generation") {
      *out = toBytes(std::to_string(inst->generation) + "\n");
    } else if (attr == "outblob" || attr == "auxblob") {
      if (faults_.outblob_errno != 0) return faults_.outblob_errno;
      if (faults_.concurrent_write_during_read) ++inst->generation;
      if (inst->inblob.size() != 64) return EINVAL;
      std::array<uint8_t, 64> data{};
      std::copy(inst->inblob.begin(), inst->inblob.end(), data.begin());
      if (attr == "auxblob") {
        *out = serializeCertTable({{*guidFromString(kVcekGuid), chip().vcek().der()}});
      } else {
        StatusOr<Bytes> report = chip().signReport(data, inst->privlevel);
        if (!report.ok()) return EINVAL;
        *out = std::move(report).value();
        if (faults_.outblob_size) out->resize(*faults_.outblob_size);
      }
    } else {
      return ENOENT;
    }
    return out->size() > max_bytes ? EFBIG : 0;
  }
  int writeFile(const std::string& path, ByteView data) override {
    Instance* inst = instanceOf(path);
    if (inst == nullptr) return ENOENT;
    const std::string attr = path.substr(path.rfind('/') + 1);
    if (attr == "inblob") {
      if (data.size() != 64) return EINVAL;  // sev_guest accepts exactly 64 bytes
      inst->inblob.assign(data.begin(), data.end());
      if (faults_.concurrent_write_before_read) ++inst->generation;
    } else if (attr == "privlevel") {
      const std::string text = toString(data);
      if (text != "0\n" && text != "1\n" && text != "2\n" && text != "3\n") return EINVAL;
      inst->privlevel = static_cast<uint32_t>(text[0] - '0');
    } else {
      return EACCES;
    }
    ++inst->generation;
    return 0;
  }

 private:
  struct Instance {
    uint64_t generation = 0;
    Bytes inblob;
    uint32_t privlevel = 0;
  };
  static std::string parent(const std::string& p) { return p.substr(0, p.rfind('/')); }
  Instance* instanceOf(const std::string& attr_path) {
    auto it = instances_.find(parent(attr_path));
    return it == instances_.end() ? nullptr : &it->second;
  }

  std::string root_;
  Faults faults_;
  std::set<std::string>* live_;
  std::map<std::string, Instance> instances_;
};

const std::string kRoot = "/fake/sys/kernel/config/tsm/report";

std::unique_ptr<TsmDevice> openFake(Faults faults, std::set<std::string>* live) {
  return take(TsmDevice::open(kRoot, std::make_unique<FakeConfigfs>(kRoot, faults, live)));
}

std::array<uint8_t, 64> reportData() {
  std::array<uint8_t, 64> d{};
  d.fill(0x5a);
  return d;
}

// Messages name the per-request instance directory, whose name is random: compare the rest.
std::string withoutInstance(const Status& status) {
  std::string s = status.toString();
  const std::string prefix = "configfs-tsm report in " + kRoot + "/skr-";
  const std::size_t at = s.find(prefix);
  if (at == std::string::npos) return s;
  const std::size_t end = s.find(':', at + prefix.size());
  return s.substr(0, at) + "configfs-tsm report in <instance>" + s.substr(end);
}

TEST_CASE("configfs-tsm returns the report and certificates and removes its instance",
          "[snp-device]") {
  std::set<std::string> live;
  std::unique_ptr<TsmDevice> device = openFake(Faults(), &live);
  CHECK(device->name() == "tsm");
  const Bytes report = take(device->getReport(reportData(), 2));
  const SnpReport parsed = take(SnpReport::parse(report));
  CHECK(parsed.report_data == reportData());
  CHECK(parsed.vmpl == 2);
  CHECK(live.empty());
  ExtendedReport ext = take(device->getExtendedReport(reportData(), 0));
  REQUIRE(ext.certificates.size() == 1);
  CHECK(ext.certificates[0].der == chip().vcek().der());
  CHECK(live.empty());
  CHECK(device->getDerivedKey(DerivedKeyRequest()).status().code() == StatusCode::Unimplemented);
}

TEST_CASE("configfs-tsm failures are reported with the file and errno, and clean up",
          "[snp-device]") {
  std::set<std::string> live;
  Faults wrong_provider;
  wrong_provider.provider = "tdx_guest\n";
  CHECK(withoutInstance(openFake(wrong_provider, &live)->getReport(reportData(), 0).status()) ==
        "FailedPrecondition: configfs-tsm report in <instance>: provider is 'tdx_guest', "
        "expected 'sev_guest'");
  Faults busy;
  busy.outblob_errno = EBUSY;
  CHECK(withoutInstance(openFake(busy, &live)->getReport(reportData(), 0).status()) ==
        "Unavailable: configfs-tsm report in <instance>: outblob: Device or resource busy "
        "(errno 16); the guest request channel is busy, retry later");
  Faults fw;
  fw.outblob_errno = EINVAL;
  CHECK(withoutInstance(openFake(fw, &live)->getReport(reportData(), 0).status()) ==
        "FailedPrecondition: configfs-tsm report in <instance>: outblob: Invalid argument "
        "(errno 22) (the firmware rejected the request)");
  Faults short_blob;
  short_blob.outblob_size = 200;
  CHECK(withoutInstance(openFake(short_blob, &live)->getReport(reportData(), 0).status()) ==
        "Internal: configfs-tsm report in <instance>: short response: 200 bytes, expected 1184");
  Faults racing_write;
  racing_write.concurrent_write_before_read = true;
  CHECK(withoutInstance(openFake(racing_write, &live)->getReport(reportData(), 0).status()) ==
        "Unavailable: configfs-tsm report in <instance>: generation went from 0 to 3, expected 2 "
        "after our two writes: another process wrote to this instance");
  Faults racing_read;
  racing_read.concurrent_write_during_read = true;
  CHECK(withoutInstance(openFake(racing_read, &live)->getReport(reportData(), 0).status()) ==
        "Unavailable: configfs-tsm report in <instance>: generation changed from 2 to 3 while "
        "reading the report: another process wrote to this instance");
  CHECK(openFake(Faults(), &live)->getReport(reportData(), 4).status().toString() ==
        "InvalidArgument: configfs-tsm report: vmpl 4, expected 0..3");
  CHECK(live.empty());
}

TEST_CASE("the real file-system adapter creates and removes the instance directory",
          "[snp-device]") {
  // A plain directory is not configfs: mkdir works but no attributes appear.
  const std::string dir = makeTempDir();
  std::unique_ptr<TsmDevice> device = take(TsmDevice::open(dir));
  Status s = device->getReport(reportData(), 0).status();
  CHECK(s.code() == StatusCode::Internal);
  CHECK(s.message().find("/provider") == std::string::npos);
  CHECK(s.message().find(": provider: No such file or directory (errno 2)") != std::string::npos);
  CHECK(fs::is_empty(dir));
}

}  // namespace
}  // namespace skr::snp
