// reliability_test.cc -- the limits and signals nvlab guarantees (docs/design/reliability.md,
// "Limits and signals"), end to end: the staged nvlab, real guests under TCG where the item is
// about guests, fake host tools where it is about nvlab's own waits.

#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "nvlab/subprocess.h"
#include "nvlab_process.h"

namespace {
namespace fs = std::filesystem;
using nvlab::Deadline;
using nvlab::Status;
using nvlab::Subprocess;
using nvlab::SubprocessOptions;
using nvlab::testing::Describe;
using nvlab::testing::NvlabResult;
using nvlab::testing::RunNvlab;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// ProcessIsGone: no such process, or only a zombie waiting for its (new) parent to reap it.
bool ProcessIsGone(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return true;
  std::string line;
  std::getline(stat, line);
  const size_t paren = line.rfind(')');
  return paren == std::string::npos || line.substr(paren + 2, 1) == "Z";
}

bool EventuallyGone(pid_t pid) {
  for (int i = 0; i < 500; ++i) {
    if (ProcessIsGone(pid)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

class ReliabilityTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = nvlab::testing::MakeTempDir(); }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // FakeTool puts `name` on a PATH folder of the test's: a script that answers --version like
  // QEMU 10.0 (for qemu-system-x86_64) and otherwise starts a grandchild that sleeps, writes
  // the grandchild's pid to dir_/grandchild and waits, as a hung tool would.
  std::string FakeTool(const std::string& name) {
    const fs::path bin = dir_ / "bin";
    fs::create_directories(bin);
    const fs::path fake = bin / name;
    std::ofstream(fake) << "#!/bin/sh\n"
                           "if [ \"$1\" = --version ]; then echo 'QEMU emulator version 10.0.2'; "
                           "exit 0; fi\n"
                           "sleep 1000 & echo $! > "
                        << (dir_ / "grandchild").string() << "\nwait\n";
    fs::permissions(fake, fs::perms::owner_all);
    return "PATH=" + bin.string() + ":" + std::getenv("PATH");
  }

  // Grandchild waits (at most a minute) for the pid the fake tool wrote.
  pid_t Grandchild() const {
    for (int i = 0; i < 600; ++i) {
      std::ifstream in(dir_ / "grandchild");
      pid_t pid = 0;
      if (in >> pid && pid > 0) return pid;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return -1;
  }

  fs::path dir_;
};

// `nvlab image` with an empty cache asks apt-cache first; a hung apt-cache must not outlive
// --timeout.
TEST_F(ReliabilityTest, TheTimeoutEndsAnImageBuildAndItsToolsWith124) {
  const std::string path = FakeTool("apt-cache");
  const auto r =
      RunNvlab({"image", "--timeout", "3"}, {path, "NVLAB_HOME=" + (dir_ / "home").string()});
  EXPECT_EQ(r.exit_status, 124) << Describe(r);
  EXPECT_NE(r.err.find("--timeout"), std::string::npos) << Describe(r);
  EXPECT_NE(r.err.find("apt-cache"), std::string::npos) << Describe(r);
  const pid_t grandchild = Grandchild();
  ASSERT_GT(grandchild, 0);
  EXPECT_TRUE(EventuallyGone(grandchild));
}

TEST_F(ReliabilityTest, AnInterruptedImageBuildExits130AndKillsItsTools) {
  const std::string path = FakeTool("apt-cache");
  SubprocessOptions options;
  options.env_overrides = {path, "NVLAB_HOME=" + (dir_ / "home").string()};
  options.stdout_to = SubprocessOptions::Stream::kNull;
  options.stderr_to = SubprocessOptions::Stream::kFile;
  options.stderr_path = dir_ / "err";
  Subprocess nvlab;
  ASSERT_TRUE(Subprocess::Start({NVLAB_BIN, "image"}, options, &nvlab).ok());
  const pid_t grandchild = Grandchild();
  ASSERT_GT(grandchild, 0) << ReadFile(dir_ / "err");
  ASSERT_TRUE(nvlab.Kill(SIGINT).ok());
  const Status waited = nvlab.Wait(Deadline::In(std::chrono::minutes(1)));
  ASSERT_TRUE(waited.ok()) << waited.ToString();
  ASSERT_TRUE(nvlab.exited()) << nvlab.DescribeExit();
  EXPECT_EQ(nvlab.exit_code(), 130) << ReadFile(dir_ / "err");
  EXPECT_TRUE(EventuallyGone(grandchild));
}

// A QEMU that never opens QMP: the 20 s QMP wait expires long before --timeout.
TEST_F(ReliabilityTest, AnInternalWaitThatExpiresIs125NamingTheWaitNot124) {
  const std::string path = FakeTool("qemu-system-x86_64");
  const auto r = RunNvlab({"run", "--cold", "--model", "off", "--", "true"}, {path});
  EXPECT_EQ(r.exit_status, 125) << Describe(r);
  EXPECT_NE(r.err.find("a lab wait expired (not --timeout)"), std::string::npos) << Describe(r);
  EXPECT_NE(r.err.find("QMP"), std::string::npos) << Describe(r);
  const pid_t grandchild = Grandchild();
  ASSERT_GT(grandchild, 0);
  EXPECT_TRUE(EventuallyGone(grandchild));
}

TEST_F(ReliabilityTest, TheUsersTimeoutDuringBootIs124) {
  const std::string path = FakeTool("qemu-system-x86_64");
  const auto r =
      RunNvlab({"run", "--cold", "--model", "off", "--timeout", "5", "--", "true"}, {path});
  EXPECT_EQ(r.exit_status, 124) << Describe(r);
  EXPECT_NE(r.err.find("--timeout"), std::string::npos) << Describe(r);
}

TEST_F(ReliabilityTest, APanickingGuestIs125AndSaysPanic) {
  const auto r = RunNvlab({"run", "--model", "off", "--", "echo c > /proc/sysrq-trigger"});
  EXPECT_EQ(r.exit_status, 125) << Describe(r);
  // nvlab's own message names the panic (not only the console tail shows it).
  EXPECT_NE(r.err.find("nvlab: the guest kernel panicked (Kernel panic - not syncing"),
            std::string::npos)
      << Describe(r);
  EXPECT_NE(r.err.find("guest console (last lines)"), std::string::npos) << Describe(r);
}

// A hung guest: every process frozen and the machine suspended to idle (s2idle), with nothing to
// wake it. Neither the console nor the agent says anything again.
TEST_F(ReliabilityTest, ASilentHungGuestIsReportedAsHungBeforeTheTimeout) {
  const auto r = RunNvlab({"run", "--model", "off", "--hang-timeout", "5", "--timeout", "280", "--",
                           "echo freezing; echo freeze > /sys/power/state; echo thawed"});
  EXPECT_EQ(r.exit_status, 125) << Describe(r);
  EXPECT_NE(r.err.find("the guest hung: no console output and no agent traffic for 5 s"),
            std::string::npos)
      << Describe(r);
  EXPECT_NE(r.err.find("guest console"), std::string::npos) << Describe(r);
  EXPECT_EQ(r.out.find("thawed"), std::string::npos) << Describe(r);
}

// A command that is only quiet is not a hang: the agent's keep-alives show the guest lives.
TEST_F(ReliabilityTest, AQuietCommandIsNotAHang) {
  const auto r =
      RunNvlab({"run", "--model", "off", "--hang-timeout", "3", "--", "sleep 10; echo done"});
  EXPECT_EQ(r.exit_status, 0) << Describe(r);
  EXPECT_EQ(r.out, "done\n") << Describe(r);
}

}  // namespace
