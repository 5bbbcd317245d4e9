// lab_test.cc -- the nvlab command end to end, in real QEMU guests under TCG.
//
// Each test runs the staged nvlab binary as a user would and checks its output, exit status
// and files. The guest image comes from the nvlab.image fixture (NVLAB_HOME in the build tree).

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

class LabTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = nvlab::testing::MakeTempDir(); }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  // RunWithFakeQemu runs `nvlab run --model off -- true` with a qemu-system-x86_64 on PATH that
  // answers --version like QEMU 10.0 and otherwise runs `body` (sh).
  NvlabResult RunWithFakeQemu(const std::string& body) {
    const fs::path bin = dir_ / "bin";
    fs::create_directories(bin);
    const fs::path fake = bin / "qemu-system-x86_64";
    std::ofstream(fake)
        << "#!/bin/sh\n"
           "if [ \"$1\" = --version ]; then echo 'QEMU emulator version 10.0.2'; exit 0; fi\n"
        << body;
    fs::permissions(fake, fs::perms::owner_all);
    return RunNvlab({"run", "--model", "off", "--", "true"},
                    {"PATH=" + bin.string() + ":" + std::getenv("PATH")});
  }
  fs::path dir_;
};

TEST_F(LabTest, RunCarriesOutputAndExitStatusBack) {
  const auto r = RunNvlab({"run", "--model", "off", "--", "echo out; echo err >&2; exit 7"});
  EXPECT_EQ(r.exit_status, 7) << Describe(r);
  EXPECT_EQ(r.out, "out\n") << Describe(r);
  EXPECT_NE(r.err.find("err\n"), std::string::npos) << Describe(r);
}

TEST_F(LabTest, RunPassesArgvWithoutAShellAndSetsNvlabPmem) {
  const auto r =
      RunNvlab({"run", "--model", "off", "--json", "--", "sh", "-c",
                "printf '%s|' \"$1\" \"$NVLAB_PMEM\"; test -c \"$NVLAB_PMEM\"", "sh", "a b"});
  EXPECT_EQ(r.exit_status, 0) << Describe(r);
  EXPECT_TRUE(r.out.starts_with("a b|/dev/dax0.0|")) << Describe(r);
  EXPECT_NE(r.out.find("\"exit_status\": 0"), std::string::npos) << Describe(r);
}

TEST_F(LabTest, PowerCycleKeepsRecordsOnDevdaxWithoutTheModel) {
  const auto r =
      RunNvlab({"power-cycle", "--model", "off", "--before",
                "nvlab-records write \"$NVLAB_PMEM\" --pattern flush-drain --count 100", "--after",
                "nvlab-records check \"$NVLAB_PMEM\" --pattern flush-drain --count 100"});
  ASSERT_EQ(r.exit_status, 0) << Describe(r);
  size_t survived = 0, lines = 0;
  for (size_t pos = 0; (pos = r.out.find("record ", pos)) != std::string::npos; ++pos) {
    ++lines;
    const size_t end = r.out.find('\n', pos);
    if (r.out.substr(pos, end - pos).find("survived=yes") != std::string::npos) ++survived;
  }
  EXPECT_EQ(lines, 100u) << Describe(r);
  EXPECT_EQ(survived, 100u) << Describe(r);
}

// A machine whose CPU lacks CLWB (cpu-features = -clwb): the guest's CPUID says so, guest-lib
// flushes with CLFLUSHOPT, and the model keeps every flushed and drained record across the cut.
TEST_F(LabTest, AMachineWithoutClwbFlushesWithClflushoptAndKeepsFlushedRecords) {
  const std::string before =
      "grep -qw clflushopt /proc/cpuinfo && ! grep -qw clwb /proc/cpuinfo && echo cpuid-ok && "
      "NVRTL_LOG=1 nvlab-records write \"$NVLAB_PMEM\" --pattern flush-drain --count 50";
  const auto r = RunNvlab({"power-cycle", "--machine", "clflushopt", "--before", before, "--after",
                           "nvlab-records check \"$NVLAB_PMEM\" --pattern flush-drain --count 50"});
  ASSERT_EQ(r.exit_status, 0) << Describe(r);
  EXPECT_NE(r.out.find("cpuid-ok"), std::string::npos) << Describe(r);
  EXPECT_NE(r.err.find("nvrtl: flush=clflushopt"), std::string::npos) << Describe(r);
  EXPECT_NE(r.out.find("index=49 survived=yes"), std::string::npos) << Describe(r);
  EXPECT_EQ(r.out.find("survived=no"), std::string::npos) << Describe(r);
}

TEST_F(LabTest, PowerCycleKeepsUnflushedRecordsOnFsdaxWithoutTheModel) {
  const auto r = RunNvlab({"power-cycle", "--model", "off", "--machine", "fsdax-ext4", "--before",
                           std::string("nvlab-records write \"$NVLAB_PMEM\" --pattern noflush "
                                       "--count 10 && mount | grep -q 'dax'"),
                           "--after",
                           std::string("echo pmem=$NVLAB_PMEM; nvlab-records check "
                                       "\"$NVLAB_PMEM\" --pattern noflush --count 10")});
  ASSERT_EQ(r.exit_status, 0) << Describe(r);
  EXPECT_NE(r.out.find("pmem=/mnt/pmem0"), std::string::npos) << Describe(r);
  EXPECT_EQ(r.out.find("survived=no"), std::string::npos) << Describe(r);
  EXPECT_NE(r.out.find("index=9 survived=yes"), std::string::npos) << Describe(r);
}

// A warm start's template preloads the NVDIMM drivers, ext4 among them, so that no warm start
// loads them again; a cold boot is never saved, so its guest loads only what the machine needs:
// no ext4 on devdax (docs/design/nvdimm-setup.md, "What the template stage loads"). A devdax
// guest whose NVDIMMs were blank has no nd_pmem either, until ndctl loads it for a namespace
// that needs it ("Blank NVDIMMs").
TEST_F(LabTest, AColdBootLoadsOnlyTheDriversItsMachineNeeds) {
  const std::string modules = "grep -o '^[a-z0-9_]*' /proc/modules | sort | tr '\\n' ' '";
  const auto cold = RunNvlab({"run", "--cold", "--model", "off", "--", modules});
  ASSERT_EQ(cold.exit_status, 0) << Describe(cold);
  EXPECT_EQ(cold.out.find("ext4 "), std::string::npos) << Describe(cold);
  EXPECT_NE(cold.out.find("device_dax "), std::string::npos) << Describe(cold);
  EXPECT_EQ(cold.out.find("nd_pmem "), std::string::npos) << Describe(cold);
  const auto warm = RunNvlab({"run", "--model", "off", "--",
                              modules + "; echo; ndctl create-namespace -f -e " +
                                  "namespace0.0 -m fsdax -M mem >/dev/null && " + modules +
                                  "; echo; ls /dev/pmem0"});
  ASSERT_EQ(warm.exit_status, 0) << Describe(warm);
  const size_t second = warm.out.find('\n');
  ASSERT_NE(second, std::string::npos) << Describe(warm);
  EXPECT_NE(warm.out.find("ext4 "), std::string::npos) << Describe(warm);
  EXPECT_EQ(warm.out.substr(0, second).find("nd_pmem "), std::string::npos) << Describe(warm);
  EXPECT_NE(warm.out.find("nd_pmem ", second), std::string::npos) << Describe(warm);
  EXPECT_NE(warm.out.find("/dev/pmem0\n"), std::string::npos) << Describe(warm);
  const auto fsdax = RunNvlab({"run", "--cold", "--model", "off", "--machine", "fsdax-ext4", "--",
                               "sh", "-c", modules + "; mount | grep -c ' type ext4 '"});
  ASSERT_EQ(fsdax.exit_status, 0) << Describe(fsdax);
  EXPECT_NE(fsdax.out.find("ext4 "), std::string::npos) << Describe(fsdax);
  EXPECT_NE(fsdax.out.find("nd_pmem "), std::string::npos) << Describe(fsdax);
}

// The host names the blank NVDIMMs by address (docs/design/nvdimm-setup.md, "Blank NVDIMMs"):
// the guest claims those without probing them first, and finds the claim of any other one, here
// the second NVDIMM of a machine, whose records survive beside a blank first NVDIMM.
TEST_F(LabTest, ABlankNvdimmIsClaimedAtOnceAndTheOneBesideItKeepsItsData) {
  const fs::path first = dir_ / "first.img";
  const fs::path second = dir_ / "second.img";
  const std::vector<std::string> lab = {
      "--model",        "off",          "--machine",      "two-nvdimms-numa", "--console",
      "--nvdimm-image", first.string(), "--nvdimm-image", second.string()};
  auto run = [&](const std::string& command) {
    std::vector<std::string> argv = {"run"};
    argv.insert(argv.end(), lab.begin(), lab.end());
    argv.insert(argv.end(), {"--", command});
    return RunNvlab(argv);
  };
  auto r = run("nvlab-records write \"$NVLAB_PMEM1\" --pattern flush-drain --count 3");
  ASSERT_EQ(r.exit_status, 0) << Describe(r);
  EXPECT_NE(r.err.find("namespace0.0: creating a devdax namespace (blank NVDIMM)"),
            std::string::npos)
      << Describe(r);
  EXPECT_NE(r.err.find("namespace1.0: creating a devdax namespace (blank NVDIMM)"),
            std::string::npos)
      << Describe(r);
  ASSERT_TRUE(fs::remove(first));
  r =
      run("nvlab-records check \"$NVLAB_PMEM1\" --pattern flush-drain --count 3; "
          "nvlab-records check \"$NVLAB_PMEM0\" --pattern flush-drain --count 1");
  EXPECT_EQ(r.exit_status, 0) << Describe(r);
  EXPECT_NE(r.err.find("namespace0.0: creating a devdax namespace (blank NVDIMM)"),
            std::string::npos)
      << Describe(r);
  EXPECT_NE(r.err.find("namespace1.0: reusing the existing devdax namespace"), std::string::npos)
      << Describe(r);
  EXPECT_NE(r.out.find("index=2 survived=yes\nrecord pattern=flush-drain index=0 survived=no"),
            std::string::npos)
      << Describe(r);
}

TEST_F(LabTest, TwoNvdimmsOnTwoNumaNodesBothAppear) {
  const auto r = RunNvlab({"run", "--model", "off", "--machine", "two-nvdimms-numa", "--",
                           "echo \"$NVLAB_PMEM_ALL\"; cat /sys/bus/dax/devices/dax1.0/numa_node"});
  EXPECT_EQ(r.exit_status, 0) << Describe(r);
  EXPECT_NE(r.out.find("/dev/dax0.0 /dev/dax1.0"), std::string::npos) << Describe(r);
  EXPECT_NE(r.out.find("\n1\n"), std::string::npos) << Describe(r);
}

TEST_F(LabTest, ShareMountsAHostFolderAtHost) {
  const fs::path share = dir_ / "share";
  fs::create_directories(share);
  std::ofstream(share / "hello.txt") << "from the host\n";
  const auto r = RunNvlab({"run", "--model", "off", "--share", share.string(), "--",
                           "cat /host/hello.txt && echo from the guest > /host/out.txt"});
  EXPECT_EQ(r.exit_status, 0) << Describe(r);
  EXPECT_EQ(r.out, "from the host\n") << Describe(r);
  std::ifstream back(share / "out.txt");
  std::string line;
  std::getline(back, line);
  EXPECT_EQ(line, "from the guest");
}

TEST_F(LabTest, NvdimmImageIsCreatedKeptAndReused) {
  const fs::path image = dir_ / "nv.img";
  auto r = RunNvlab({"run", "--model", "off", "--nvdimm-image", image.string(), "--",
                     "nvlab-records write \"$NVLAB_PMEM\" --pattern flush-drain --count 3"});
  ASSERT_EQ(r.exit_status, 0) << Describe(r);
  ASSERT_TRUE(fs::exists(image));
  EXPECT_EQ(fs::file_size(image), 256u << 20);
  r = RunNvlab({"run", "--model", "off", "--nvdimm-image", image.string(), "--",
                "nvlab-records check \"$NVLAB_PMEM\" --pattern flush-drain --count 3"});
  EXPECT_EQ(r.exit_status, 0) << Describe(r);
  EXPECT_NE(r.out.find("index=2 survived=yes"), std::string::npos) << Describe(r);
  EXPECT_TRUE(fs::exists(image));
}

TEST_F(LabTest, NvdimmImageOfTheWrongSizeIsRefusedAndKept) {
  const fs::path image = dir_ / "small.img";
  std::ofstream(image) << "precious";
  const auto r =
      RunNvlab({"run", "--model", "off", "--nvdimm-image", image.string(), "--", "true"});
  EXPECT_EQ(r.exit_status, 2) << Describe(r);
  EXPECT_NE(r.err.find("small.img"), std::string::npos) << Describe(r);
  std::ifstream in(image);
  std::string content;
  in >> content;
  EXPECT_EQ(content, "precious");
}

TEST_F(LabTest, TimeoutKillsAHangingCommand) {
  const auto r = RunNvlab({"run", "--model", "off", "--timeout", "25", "--", "sleep 1000"});
  EXPECT_EQ(r.exit_status, 124) << Describe(r);
  EXPECT_NE(r.err.find("--timeout 25"), std::string::npos) << Describe(r);
  EXPECT_NE(r.err.find("guest console"), std::string::npos) << Describe(r);
}

TEST_F(LabTest, AGuestThatPowersOffMidCommandIsALabFailure) {
  const auto r = RunNvlab({"run", "--model", "off", "--", "echo going; poweroff -f"});
  EXPECT_EQ(r.exit_status, 125) << Describe(r);
  EXPECT_NE(r.err.find("QEMU ended while the command ran"), std::string::npos) << Describe(r);
}

TEST_F(LabTest, AQemuThatCrashesAtStartIsReportedWithItsOutput) {
  const auto r = RunWithFakeQemu("echo 'fake qemu: simulated crash' >&2\nkill -SEGV $$\n");
  EXPECT_EQ(r.exit_status, 125) << Describe(r);
  EXPECT_NE(r.err.find("simulated crash"), std::string::npos) << Describe(r);
}

TEST_F(LabTest, RunWhoseCommandCutsThePowerExitsZeroAndPrintsTheCut) {
  // The command writes an unflushed record, then cuts the power itself (NvLabPowerCut).
  const auto r = RunNvlab({"run", "--",
                           "nvlab-records write \"$NVLAB_PMEM\" --pattern noflush "
                           "--count 1 --cut"});
  EXPECT_EQ(r.exit_status, 0) << Describe(r);
  EXPECT_NE(r.err.find("cut: trigger guest, 1 NVDIMM lines lost"), std::string::npos)
      << Describe(r);
  EXPECT_NE(r.err.find("lost nvdimm0+0x200000 (gpa 0x100200000) dirty"), std::string::npos)
      << Describe(r);
}

TEST_F(LabTest, AQemuThatDiesBeforeTheGuestPrintsAnythingIsReported) {
  // The console log exists (nvlab's console recorder made it) but is empty: the failure message
  // must still be built.
  const auto r = RunWithFakeQemu("echo 'fake qemu: died early' >&2\nexit 1\n");
  EXPECT_EQ(r.exit_status, 125) << Describe(r);
  EXPECT_NE(r.err.find("died early"), std::string::npos) << Describe(r);
  EXPECT_NE(r.err.find("the guest console is empty"), std::string::npos) << Describe(r);
  EXPECT_EQ(r.err.find("internal error"), std::string::npos) << Describe(r);
}

TEST_F(LabTest, AMissingQemuIsNamed) {
  const auto r = RunNvlab({"run", "--model", "off", "--", "true"}, {"PATH=" + dir_.string()});
  EXPECT_EQ(r.exit_status, 125) << Describe(r);
  EXPECT_NE(r.err.find("qemu-system-x86_64 is not installed"), std::string::npos) << Describe(r);
}

TEST_F(LabTest, AMalformedMachineFileNamesFileLineAndField) {
  const fs::path file = dir_ / "broken.machine";
  std::ofstream(file) << "# a machine\nvcpus = 2\nmemory = lots\n[nvdimm]\n";
  const auto r = RunNvlab({"run", "--machine", file.string(), "--", "true"});
  EXPECT_EQ(r.exit_status, 2) << Describe(r);
  EXPECT_NE(r.err.find(file.string() + ":3: memory:"), std::string::npos) << Describe(r);
}

TEST_F(LabTest, UsageErrorsExitTwoAndNameTheOption) {
  auto r = RunNvlab({"run", "--persistence", "sometimes", "--", "true"});
  EXPECT_EQ(r.exit_status, 2);
  EXPECT_NE(r.err.find("--persistence"), std::string::npos) << Describe(r);
  r = RunNvlab({"run", "--frobnicate", "--", "true"});
  EXPECT_EQ(r.exit_status, 2);
  EXPECT_NE(r.err.find("--frobnicate"), std::string::npos) << Describe(r);
  r = RunNvlab({"power-cycle", "--before", "true"});
  EXPECT_EQ(r.exit_status, 2);
  r = RunNvlab({"run", "--accel", "kvm", "--model", "on", "--", "true"});
  EXPECT_EQ(r.exit_status, 2);
  EXPECT_NE(r.err.find("TCG"), std::string::npos) << Describe(r);
}

TEST_F(LabTest, KvmThatCannotBootStockKernelsIsDetected) {
  if (access("/sys/module/kvm_pvm", F_OK) != 0) GTEST_SKIP() << "this host's KVM may be real";
  const auto r = RunNvlab({"run", "--accel", "kvm", "--", "true"});
  EXPECT_EQ(r.exit_status, 125) << Describe(r);
  EXPECT_NE(r.err.find("kvm-pvm"), std::string::npos) << Describe(r);
}

TEST_F(LabTest, TwoGuestsRunAtOnce) {
  NvlabResult a, b;
  std::thread ta([&] {
    a = RunNvlab({"run", "--model", "off", "--",
                  std::string("nvlab-records write \"$NVLAB_PMEM\" --pattern "
                              "flush-drain --count 5 >/dev/null && echo guest-a")});
  });
  std::thread tb([&] {
    b = RunNvlab({"run", "--model", "off", "--",
                  std::string("nvlab-records check \"$NVLAB_PMEM\" --pattern "
                              "flush-drain --count 5 | grep -c survived=no; echo guest-b")});
  });
  ta.join();
  tb.join();
  EXPECT_EQ(a.exit_status, 0) << Describe(a);
  EXPECT_EQ(a.out, "guest-a\n") << Describe(a);
  EXPECT_EQ(b.exit_status, 0) << Describe(b);
  // Each guest starts from its own zeroed NVDIMM: b sees none of a's records.
  EXPECT_EQ(b.out, "5\nguest-b\n") << Describe(b);
}

TEST_F(LabTest, GuestOutputIsPassedThroughUnchangedEvenWhenBinaryAndLarge) {
  const auto r = RunNvlab({"run", "--model", "off", "--",
                           "head -c 3000000 /dev/zero | tr '\\0' '\\033'; printf 'no newline'"});
  EXPECT_EQ(r.exit_status, 0) << r.err;
  ASSERT_EQ(r.out.size(), 3000000u + 10u);
  EXPECT_EQ(r.out.find_first_not_of('\033'), 3000000u);
  EXPECT_TRUE(r.out.ends_with("no newline"));
}

}  // namespace

namespace {

// ReadFile returns a file's content ("" when missing).
std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

TEST_F(LabTest, SigtermKillsTheGuestAndRemovesTheRunFolder) {
  const fs::path out = dir_ / "out", err = dir_ / "err";
  SubprocessOptions options;
  options.stdout_to = SubprocessOptions::Stream::kFile;
  options.stdout_path = out;
  options.stderr_to = SubprocessOptions::Stream::kFile;
  options.stderr_path = err;
  Subprocess nvlab;
  ASSERT_TRUE(Subprocess::Start(
                  {NVLAB_BIN, "run", "-v", "--model", "off", "--", "echo started; sleep 1000"},
                  options, &nvlab)
                  .ok());
  for (int i = 0; i < 1200 && ReadFile(out).find("started") == std::string::npos; ++i) {
    usleep(100000);
  }
  ASSERT_NE(ReadFile(out).find("started"), std::string::npos) << ReadFile(err);
  ASSERT_TRUE(nvlab.Kill(SIGTERM).ok());
  const Status waited = nvlab.Wait(Deadline::In(std::chrono::minutes(2)));
  ASSERT_TRUE(waited.ok()) << waited.ToString();
  ASSERT_TRUE(nvlab.exited()) << nvlab.DescribeExit();
  EXPECT_EQ(nvlab.exit_code(), 130) << ReadFile(err);
  const std::string log = ReadFile(err);
  EXPECT_NE(log.find("interrupted by signal"), std::string::npos) << log;
  // -v names the run folder (".../nvlab-XXXXXX/nvdimm0.img"): it must be gone.
  const size_t at = log.find("NVDIMM 0: ");
  ASSERT_NE(at, std::string::npos) << log;
  const std::string nvdimm = log.substr(at + 10, log.find(' ', at + 10) - at - 10);
  EXPECT_FALSE(fs::exists(fs::path(nvdimm).parent_path())) << nvdimm;
}

}  // namespace
