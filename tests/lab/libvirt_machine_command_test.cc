// libvirt_machine_command_test.cc -- `nvlab machine NAME|FILE --libvirt-xml` end to end: the
// staged nvlab prepares a domain folder from the real guest image and prints XML that libvirt's
// schema accepts; its usage and lab errors exit 2 and 125 and say what to do.
//
// The domain's <emulator> is the staged nvlab-qemu; where it has not been built the tests that
// need it are skipped, naming it. Where the build tree itself lies under a folder QEMU's user
// cannot pass (a checkout in /root, as root), nvlab must refuse to render, naming that path:
// the tests check the refusal there instead (tests/libvirt installs the build to run domains).

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "nvlab/host_command.h"
#include "nvlab_process.h"

namespace {
namespace fs = std::filesystem;
using nvlab::Status;
using nvlab::testing::Describe;
using nvlab::testing::RunNvlab;

const fs::path kEmulator = fs::path(NVLAB_STAGE_DIR) / "libexec/nvlab/nvlab-qemu";

// QemuUserReaches: libvirt-qemu (an "other" user) can pass every folder above path and read it.
// Only for root's runs: as another user, QEMU runs as that user.
bool QemuUserReaches(const fs::path& path) {
  if (geteuid() != 0) return true;
  struct stat st {};
  for (fs::path p = path; !p.empty() && p != p.root_path(); p = p.parent_path()) {
    if (stat(p.c_str(), &st) != 0) return false;
    const mode_t need = p == path ? S_IROTH : S_IXOTH;
    if ((st.st_mode & need) == 0) return false;
  }
  return true;
}

class MachineCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = nvlab::testing::MakeTempDir();
    // mkdtemp makes it 0700: QEMU's user (libvirt-qemu under root) must pass through it.
    fs::permissions(dir_, static_cast<fs::perms>(0755));
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  fs::path dir_;
};

TEST_F(MachineCommandTest, PreparesTheFolderAndPrintsXmlLibvirtAccepts) {
  if (!fs::exists(kEmulator)) GTEST_SKIP() << kEmulator << " (target nvlab-qemu) is not built";
  const fs::path domain = dir_ / "dom";
  const auto r = RunNvlab({"machine", "two-nvdimms-numa", "--libvirt-xml", "--domain-name",
                           "nvlab-t", "--domain-dir", domain.string(), "--on-cut", "keep"});
  if (!QemuUserReaches(kEmulator)) {
    EXPECT_EQ(r.exit_status, 125) << Describe(r);
    EXPECT_EQ(r.out, "");
    EXPECT_NE(r.err.find("out of reach"), std::string::npos) << Describe(r);
    return;
  }
  ASSERT_EQ(r.exit_status, 0) << Describe(r);
  EXPECT_TRUE(r.out.starts_with("<domain type='qemu'")) << r.out;
  EXPECT_NE(r.out.find("<name>nvlab-t</name>"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("<emulator>" + kEmulator.string() + "</emulator>"), std::string::npos);
  EXPECT_NE(r.out.find("on-cut=keep,report=" + domain.string() + "/run/cut-report.json"),
            std::string::npos)
      << r.out;
  for (const char* file : {"vmlinux", "initrd", "nvdimm0.img", "nvdimm1.img"}) {
    EXPECT_TRUE(fs::is_regular_file(domain / file)) << file;
  }
  struct stat st {};
  ASSERT_EQ(stat((domain / "run").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);

  std::string ignored;
  if (nvlab::RunHostCommand({"sh", "-c", "command -v virt-xml-validate"}, {}, &ignored).ok()) {
    const fs::path xml = dir_ / "domain.xml";
    std::ofstream(xml) << r.out;
    std::string out;
    const Status valid = nvlab::RunHostCommand({"virt-xml-validate", xml, "domain"}, {}, &out);
    EXPECT_TRUE(valid.ok()) << valid.ToString() << "\n" << out;
  }

  // Again: the same XML, the NVDIMMs' content kept.
  std::fstream(domain / "nvdimm0.img", std::ios::in | std::ios::out) << "kept";
  const auto again = RunNvlab({"machine", "two-nvdimms-numa", "--libvirt-xml", "--domain-name",
                               "nvlab-t", "--domain-dir", domain.string(), "--on-cut", "keep"});
  ASSERT_EQ(again.exit_status, 0) << Describe(again);
  EXPECT_EQ(again.out, r.out);
  std::string head(4, '\0');
  std::ifstream(domain / "nvdimm0.img").read(head.data(), 4);
  EXPECT_EQ(head, "kept");
}

TEST_F(MachineCommandTest, AFolderQemusUserCannotReachIsALabFailureThatSaysSo) {
  if (!fs::exists(kEmulator)) GTEST_SKIP() << kEmulator << " (target nvlab-qemu) is not built";
  if (geteuid() != 0) GTEST_SKIP() << "QEMU runs as the caller, who reaches its own folders";
  fs::create_directories(dir_ / "private");
  fs::permissions(dir_ / "private", static_cast<fs::perms>(0700));
  const auto r = RunNvlab(
      {"machine", "default", "--libvirt-xml", "--domain-dir", (dir_ / "private/dom").string()});
  EXPECT_EQ(r.exit_status, 125) << Describe(r);
  EXPECT_EQ(r.out, "");
  if (!QemuUserReaches(kEmulator)) return;  // the emulator's own folder is named first
  EXPECT_NE(r.err.find((dir_ / "private").string()), std::string::npos) << Describe(r);
  EXPECT_NE(r.err.find("--domain-dir"), std::string::npos) << Describe(r);
}

TEST_F(MachineCommandTest, UsageErrorsExitTwo) {
  auto r = RunNvlab({"machine", "default"});
  EXPECT_EQ(r.exit_status, 2) << Describe(r);
  EXPECT_NE(r.err.find("--libvirt-xml"), std::string::npos) << Describe(r);
  r = RunNvlab({"machine", "no-such-machine", "--libvirt-xml"});
  EXPECT_EQ(r.exit_status, 2) << Describe(r);
  EXPECT_NE(r.err.find("no-such-machine"), std::string::npos) << Describe(r);
  // A machine whose name cannot be a domain's needs --domain-name.
  const fs::path file = dir_ / "odd.machine";
  std::ofstream(file) << "name = my machine\n[nvdimm]\n";
  r = RunNvlab({"machine", file.string(), "--libvirt-xml", "--domain-dir", (dir_ / "d").string()});
  EXPECT_EQ(r.exit_status, 2) << Describe(r);
  EXPECT_NE(r.err.find("--domain-name"), std::string::npos) << Describe(r);
  EXPECT_FALSE(fs::exists(dir_ / "d"));
}

}  // namespace
