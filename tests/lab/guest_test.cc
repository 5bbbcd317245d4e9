// guest_test.cc -- the host library's Guest API used directly, as a test harness would:
// Boot, Run, PowerCut, Boot again on what survived, and the disk-full path of Create.

#include "nvlab/guest.h"

#include <sys/mount.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "nvlab/guest_image.h"
#include "nvlab/install_layout.h"
#include "nvlab_process.h"

namespace nvlab {
namespace {

class CollectingSink : public OutputSink {
 public:
  void Stdout(std::string_view bytes) override { out.append(bytes); }
  void Stderr(std::string_view bytes) override { err.append(bytes); }
  std::string out, err;
};

GuestConfig DefaultConfig() {
  GuestConfig config;
  const InstallLayout layout = InstallLayout::FromPrefix(NVLAB_STAGE_DIR);
  GuestImageSpec spec;
  spec.home = DefaultNvlabHome();
  spec.guest_tools_dir = layout.guest_tools_dir;
  spec.guest_data_dir = layout.guest_data_dir;
  GuestImage image;
  const Status s = EnsureGuestImage(spec, &image);
  EXPECT_TRUE(s.ok()) << s.ToString();
  config.kernel = image.kernel;
  config.initrd = image.initrd;
  config.model.enabled = true;
  config.model.plugin = layout.plugin;
  return config;
}

TEST(GuestTest, PowerCutThenBootSeesOnlyWhatWasFlushed) {
  std::unique_ptr<Guest> guest;
  ASSERT_TRUE(Guest::Create(DefaultConfig(), &guest).ok());
  ASSERT_TRUE(guest->Boot().ok());
  EXPECT_EQ(guest->hello().at("NVLAB_PMEM"), "/dev/dax0.0");
  CollectingSink sink;
  RunResult result;
  Status s = guest->Run(ShellCommand("nvlab-records write \"$NVLAB_PMEM\" --pattern flush-drain "
                                     "--count 4 && nvlab-records write \"$NVLAB_PMEM\" "
                                     "--pattern noflush --count 4 --cut"),
                        &sink, Deadline::In(std::chrono::minutes(3)), &result);
  ASSERT_TRUE(s.ok()) << s.ToString() << sink.err;
  EXPECT_TRUE(result.cut_by_guest);
  EXPECT_FALSE(guest->running());
  CutReport report;
  ASSERT_TRUE(guest->PowerCut(&report).ok());
  EXPECT_TRUE(report.present);
  EXPECT_EQ(report.trigger, "guest");
  EXPECT_GE(report.lost_lines, 4u);

  ASSERT_TRUE(guest->Boot().ok());
  EXPECT_EQ(guest->boots(), 2);
  CollectingSink check;
  s = guest->Run(ShellCommand("nvlab-records check \"$NVLAB_PMEM\" --pattern flush-drain "
                              "--count 4; nvlab-records check \"$NVLAB_PMEM\" --pattern noflush "
                              "--count 4"),
                 &check, Deadline::In(std::chrono::minutes(3)), &result);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(result.status.ShellStatus(), 0) << check.err;
  EXPECT_NE(check.out.find("pattern=flush-drain index=3 survived=yes"), std::string::npos)
      << check.out;
  EXPECT_EQ(check.out.find("pattern=flush-drain index=0 survived=no"), std::string::npos);
  EXPECT_NE(check.out.find("pattern=noflush index=0 survived=no"), std::string::npos) << check.out;

  // A host-initiated cut of a running guest.
  ASSERT_TRUE(guest->PowerCut(&report).ok());
  EXPECT_EQ(report.trigger, "host");
  EXPECT_FALSE(guest->running());
}

TEST(GuestTest, ANvdimmFileThatDoesNotFitIsAClearErrorAndNothingIsLeftBehind) {
  const std::string dir = nvlab::testing::MakeTempDir();
  if (mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=8m") != 0) {
    GTEST_SKIP() << "cannot mount a small tmpfs here (needs root)";
  }
  GuestConfig config = DefaultConfig();
  config.nvdimm_images = {std::filesystem::path(dir) / "nv.img"};
  std::unique_ptr<Guest> guest;
  const Status s = Guest::Create(config, &guest);
  umount(dir.c_str());
  EXPECT_EQ(s.code(), Status::Code::kIoError) << s.ToString();
  EXPECT_NE(s.message().find("nv.img"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("No space left"), std::string::npos) << s.message();
  std::filesystem::remove_all(dir);
}

TEST(GuestTest, ARamFileThatDoesNotFitIsAClearErrorAtCreateAndNothingIsLeftBehind) {
  // The run folder on a small tmpfs, the RAM kept there (no tmpfs of its own), the NVDIMM file
  // elsewhere: without the reservation the sparse RAM file would be made, and QEMU would get
  // SIGBUS once the guest touched more than the tmpfs holds.
  const std::string small = nvlab::testing::MakeTempDir();
  const std::string nvdimms = nvlab::testing::MakeTempDir();
  if (mount("tmpfs", small.c_str(), "tmpfs", 0, "size=8m") != 0) {
    GTEST_SKIP() << "cannot mount a small tmpfs here (needs root)";
  }
  const char* old_tmpdir = std::getenv("TMPDIR");
  const std::string saved = old_tmpdir == nullptr ? "" : old_tmpdir;
  setenv("TMPDIR", small.c_str(), 1);
  GuestConfig config = DefaultConfig();
  config.nvdimm_images = {std::filesystem::path(nvdimms) / "nv.img"};
  config.ram_base = "";
  std::unique_ptr<Guest> guest;
  const Status s = Guest::Create(config, &guest);
  if (old_tmpdir == nullptr) {
    unsetenv("TMPDIR");
  } else {
    setenv("TMPDIR", saved.c_str(), 1);
  }
  const bool empty = std::filesystem::is_empty(small);
  umount(small.c_str());
  EXPECT_EQ(s.code(), Status::Code::kIoError) << s.ToString();
  EXPECT_NE(s.message().find("guest RAM file"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("No space left"), std::string::npos) << s.message();
  EXPECT_TRUE(empty) << "the run folder is removed";
  std::filesystem::remove_all(small);
  std::filesystem::remove_all(nvdimms);
}

TEST(GuestTest, TheRamGoesToItsOwnTmpfsFolderWhichIsRemovedWithTheGuest) {
  const std::string base = nvlab::testing::MakeTempDir();
  if (mount("tmpfs", base.c_str(), "tmpfs", 0, "size=1g") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs here (needs root)";
  }
  GuestConfig config = DefaultConfig();
  config.ram_base = base;
  std::unique_ptr<Guest> guest;
  Status s = Guest::Create(config, &guest);
  ASSERT_TRUE(s.ok()) << s.ToString();
  const std::filesystem::path ram = guest->ram_files().at(0);
  EXPECT_EQ(ram.parent_path().parent_path(),
            std::filesystem::path(base) / ("nvlab-" + std::to_string(getuid())));
  EXPECT_EQ(std::filesystem::file_size(ram), config.machine.memory);
  guest.reset();
  EXPECT_FALSE(std::filesystem::exists(ram.parent_path()));
  umount(base.c_str());
  std::filesystem::remove_all(base);
}

}  // namespace
}  // namespace nvlab
