// guest_test.cc -- the host library's Guest API used directly, as a test harness would:
// Boot, Run, PowerCut, Boot again on what survived, the console log's cap, QEMU's descriptors,
// and the disk-full path of Create.

#include "nvlab/guest.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

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

// A guest flooding its console cannot fill the host's disk: the console log keeps only the last
// console_log_cap bytes (a small cap here, so that TCG's slow serial line reaches it soon).
TEST(GuestTest, AConsoleFloodStaysUnderTheLogCapAndKeepsItsEnd) {
  GuestConfig config = DefaultConfig();
  config.model.enabled = false;
  config.console_log_cap = 64ull * 1024;
  std::unique_ptr<Guest> guest;
  ASSERT_TRUE(Guest::Create(std::move(config), &guest).ok());
  ASSERT_TRUE(guest->Boot().ok());
  CollectingSink sink;
  RunResult result;
  // About 400 KB, six times the cap.
  const Status s = guest->Run(ShellCommand("yes 'nvlab console flood line' | head -n 16000 "
                                           "> /dev/console; echo flood-end > /dev/console"),
                              &sink, Deadline::In(std::chrono::minutes(5)), &result);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(result.status.ShellStatus(), 0) << sink.err;
  ASSERT_TRUE(guest->PowerOff(Deadline::In(std::chrono::minutes(1))).ok());
  EXPECT_LE(std::filesystem::file_size(guest->console_log()), 64u * 1024);
  EXPECT_NE(guest->ConsoleTail(5).find("flood-end"), std::string::npos) << guest->ConsoleTail(5);
}

// QemuPidOf finds the QEMU whose command line names `run_dir` (-1 when none runs).
pid_t QemuPidOf(const std::filesystem::path& run_dir) {
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "cmdline", std::ios::binary);
    const std::string cmdline((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
    if (cmdline.starts_with("qemu-system-x86_64") &&
        cmdline.find(run_dir.string() + "/") != std::string::npos) {
      return static_cast<pid_t>(std::stoi(name));
    }
  }
  return -1;
}

// QEMU gets no descriptor of nvlab's but 0-2, even one opened without close-on-exec: it must
// not pin a lock, a socket or an NVDIMM file of the caller's.
TEST(GuestTest, QemuInheritsNoDescriptorOfTheCaller) {
  const std::filesystem::path dir = testing::MakeTempDir();
  const std::filesystem::path marker = dir / "held-by-the-caller";
  std::ofstream(marker) << "x";
  const int held = open(marker.c_str(), O_RDONLY);  // no O_CLOEXEC on purpose
  ASSERT_GE(held, 3);
  GuestConfig config = DefaultConfig();
  config.model.enabled = false;
  std::unique_ptr<Guest> guest;
  ASSERT_TRUE(Guest::Create(std::move(config), &guest).ok());
  ASSERT_TRUE(guest->Boot().ok());
  const pid_t qemu = QemuPidOf(guest->run_dir());
  ASSERT_GT(qemu, 0);
  int descriptors = 0;
  for (const auto& fd :
       std::filesystem::directory_iterator("/proc/" + std::to_string(qemu) + "/fd")) {
    std::error_code ec;
    const std::filesystem::path target = std::filesystem::read_symlink(fd.path(), ec);
    EXPECT_NE(target, marker) << "QEMU holds the caller's descriptor " << fd.path();
    ++descriptors;
  }
  EXPECT_GT(descriptors, 3);  // QEMU's own files, sockets and eventfds were seen
  close(held);
  ASSERT_TRUE(guest->PowerOff(Deadline::In(std::chrono::minutes(1))).ok());
  std::filesystem::remove_all(dir);
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
