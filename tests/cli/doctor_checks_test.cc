// doctor_checks_test.cc -- nvlab doctor's check logic over a fake host: which checks pass,
// warn or fail, what they tell the user to fix, and the exit verdict.

#include "doctor_checks.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace nvlab {
namespace {

class FakeHost : public DoctorHost {
 public:
  Status qemu = Status::Ok();
  Status plugin = Status::Ok();
  DoctorImage image = DoctorImage::kReady;
  std::map<std::string, uint64_t> free;  // by path; absent: 100 GiB
  Status kvm = Status::Ok();
  Status libvirt = Status::Ok();
  bool plugin_asked = false;

  Status Qemu(std::string* version) override {
    *version = "10.0.2";
    return qemu;
  }
  Status PluginLoads() override {
    plugin_asked = true;
    return plugin;
  }
  DoctorImage Image(std::string* detail) override {
    *detail = "image detail";
    return image;
  }
  Status FreeSpace(const std::filesystem::path& path, uint64_t* bytes) override {
    const auto it = free.find(path.string());
    *bytes = it == free.end() ? 100ull << 30 : it->second;
    return Status::Ok();
  }
  Status Kvm() override { return kvm; }
  Status Libvirt() override { return libvirt; }
};

DoctorPaths Paths() {
  DoctorPaths p;
  p.home = "/home/u/.cache/nvlab";
  p.run_root = "/tmp";
  p.ram_base = "/dev/shm";
  p.plugin = "/opt/nvlab/libexec/nvlab/nvlab-plugin.so";
  return p;
}

const DoctorCheck& Find(const std::vector<DoctorCheck>& checks, const std::string& name) {
  for (const DoctorCheck& c : checks) {
    if (c.name == name) return c;
  }
  static const DoctorCheck none;
  ADD_FAILURE() << "no check " << name;
  return none;
}

TEST(DoctorChecksTest, AHealthyHostPassesWithOneLinePerCheck) {
  FakeHost host;
  const auto checks = RunDoctorChecks(&host, Paths());
  EXPECT_TRUE(DoctorPassed(checks));
  const std::string text = DoctorText(checks);
  EXPECT_NE(text.find("ok      qemu: qemu-system-x86_64 10.0.2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("ok      plugin: QEMU loads /opt/nvlab/libexec/nvlab/nvlab-plugin.so"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("this host can run nvlab"), std::string::npos) << text;
  EXPECT_EQ(text.find("problem"), std::string::npos) << text;
  EXPECT_EQ(DoctorJson(checks)["passed"], true);
}

TEST(DoctorChecksTest, AMissingQemuFailsAndSkipsThePlugin) {
  FakeHost host;
  host.qemu = Status::NotFound("qemu-system-x86_64 is not installed");
  const auto checks = RunDoctorChecks(&host, Paths());
  EXPECT_FALSE(DoctorPassed(checks));
  EXPECT_FALSE(host.plugin_asked);
  const DoctorCheck& qemu = Find(checks, "qemu");
  EXPECT_EQ(qemu.verdict, DoctorVerdict::kProblem);
  EXPECT_NE(qemu.fix.find("install QEMU 10.0 or later"), std::string::npos) << qemu.fix;
  EXPECT_EQ(Find(checks, "plugin").verdict, DoctorVerdict::kProblem);
  EXPECT_NE(DoctorText(checks).find("problem qemu: qemu-system-x86_64 is not installed; fix: "),
            std::string::npos);
}

TEST(DoctorChecksTest, APluginThatDoesNotLoadFails) {
  FakeHost host;
  host.plugin = Status::IoError("QEMU could not load /x/nvlab-plugin.so: undefined symbol");
  const auto checks = RunDoctorChecks(&host, Paths());
  EXPECT_FALSE(DoctorPassed(checks));
  const DoctorCheck& plugin = Find(checks, "plugin");
  EXPECT_EQ(plugin.verdict, DoctorVerdict::kProblem);
  EXPECT_NE(plugin.detail.find("undefined symbol"), std::string::npos);
  EXPECT_NE(plugin.fix.find("reinstall nvlab"), std::string::npos);
}

TEST(DoctorChecksTest, AnImageNotBuiltYetIsFineOneThatCannotBeBuiltIsNot) {
  FakeHost host;
  host.image = DoctorImage::kNotBuilt;
  EXPECT_TRUE(DoctorPassed(RunDoctorChecks(&host, Paths())));
  host.image = DoctorImage::kUnbuildable;
  auto checks = RunDoctorChecks(&host, Paths());
  EXPECT_FALSE(DoctorPassed(checks));
  EXPECT_NE(Find(checks, "image").fix.find("apt-get"), std::string::npos);
  host.image = DoctorImage::kBroken;
  checks = RunDoctorChecks(&host, Paths());
  EXPECT_FALSE(DoctorPassed(checks));
  EXPECT_NE(Find(checks, "image").fix.find("nvlab image"), std::string::npos);
}

TEST(DoctorChecksTest, LowSpaceWarnsThenFails) {
  FakeHost host;
  host.free["/home/u/.cache/nvlab"] = 1ull << 30;  // under 2 GiB: a warning
  auto checks = RunDoctorChecks(&host, Paths());
  EXPECT_TRUE(DoctorPassed(checks));
  EXPECT_EQ(Find(checks, "space-home").verdict, DoctorVerdict::kWarning);
  host.free["/tmp"] = 100ull << 20;  // under 256 MiB: a problem
  checks = RunDoctorChecks(&host, Paths());
  EXPECT_FALSE(DoctorPassed(checks));
  EXPECT_EQ(Find(checks, "space-run").verdict, DoctorVerdict::kProblem);
  EXPECT_NE(Find(checks, "space-run").detail.find("100 MiB free"), std::string::npos);
  // A small /dev/shm only slows boots down.
  FakeHost small_shm;
  small_shm.free["/dev/shm"] = 10ull << 20;
  checks = RunDoctorChecks(&small_shm, Paths());
  EXPECT_TRUE(DoctorPassed(checks));
  EXPECT_EQ(Find(checks, "space-ram").verdict, DoctorVerdict::kWarning);
}

TEST(DoctorChecksTest, NoKvmAndNoLibvirtAreNotFailures) {
  FakeHost host;
  host.kvm = Status::NotFound("/dev/kvm: No such file or directory");
  host.libvirt = Status::NotFound("virsh is not installed (libvirt-clients)");
  const auto checks = RunDoctorChecks(&host, Paths());
  EXPECT_TRUE(DoctorPassed(checks));
  EXPECT_EQ(Find(checks, "kvm").verdict, DoctorVerdict::kOk);
  EXPECT_NE(Find(checks, "kvm").detail.find("nvlab uses TCG"), std::string::npos);
  EXPECT_EQ(Find(checks, "libvirt").verdict, DoctorVerdict::kWarning);
  EXPECT_FALSE(Find(checks, "libvirt").essential);
  const auto json = DoctorJson(checks);
  EXPECT_EQ(json["passed"], true);
  EXPECT_EQ(json["checks"].size(), checks.size());
  EXPECT_EQ(json["checks"][7]["verdict"], "warning");
}

}  // namespace
}  // namespace nvlab
