// qemu_command_line_test.cc -- the QEMU argv a Machine generates.

#include "nvlab/qemu_command_line.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "nvlab/guest_timer_calibration.h"
#include "nvlab/qemu_firmware.h"

namespace nvlab {
namespace {

QemuLaunch Launch(const Machine& m) {
  QemuLaunch l;
  l.kernel = "/img/vmlinux";
  l.initrd = "/img/initrd";
  for (size_t i = 0; i < m.nvdimms.size(); ++i)
    l.nvdimm_files.push_back("/run/nv" + std::to_string(i));
  for (int n = 0; n < m.numa_nodes; ++n) l.ram_files.push_back("/run/ram" + std::to_string(n));
  l.qmp_socket = "/run/qmp.sock";
  l.agent_socket = "/run/agent.sock";
  l.console_log = "/run/console.log";
  return l;
}

bool Has(const std::vector<std::string>& argv, const std::string& flag, const std::string& value) {
  for (size_t i = 0; i + 1 < argv.size(); ++i) {
    if (argv[i] == flag && argv[i + 1] == value) return true;
  }
  return false;
}

TEST(QemuCommandLineTest, DefaultMachineBootsPausedUnderTcgWithOneNvdimm) {
  Machine m;
  const auto argv = QemuCommandLine(m, Launch(m));
  EXPECT_EQ(argv[0], "qemu-system-x86_64");
  EXPECT_NE(std::find(argv.begin(), argv.end(), "-S"), argv.end());
  EXPECT_TRUE(
      Has(argv, "-machine", "pc,nvdimm=on,nvdimm-persistence=mem-ctrl,memory-backend=ram0"));
  // Single-threaded even without the plugin: QEMU 10.0's MTTCG can abort at boot.
  EXPECT_TRUE(Has(argv, "-accel", "tcg,thread=single"));
  EXPECT_TRUE(Has(argv, "-cpu", "max"));
  EXPECT_TRUE(Has(argv, "-smp", "2"));
  EXPECT_TRUE(Has(argv, "-m", "512M,slots=1,maxmem=1536M"));
  EXPECT_TRUE(
      Has(argv, "-object", "memory-backend-file,id=nv0,share=on,size=256M,mem-path=/run/nv0"));
  EXPECT_TRUE(Has(argv, "-device", "nvdimm,id=nvdimm0,memdev=nv0,addr=0x100000000,node=0"));
  EXPECT_TRUE(Has(argv, "-append",
                  "console=ttyS0 quiet panic=-1 cryptomgr.notests rodata=off swiotlb=2048 "
                  "init_on_alloc=0 no_timer_check nvlab.ns=devdax "
                  "nvlab.nvdimms=1"));
  EXPECT_EQ(std::find(argv.begin(), argv.end(), "-plugin"), argv.end());
}

TEST(QemuCommandLineTest, EadrFsdaxShareAndPluginShowUp) {
  Machine m;
  m.persistence = Persistence::kEadr;
  m.namespace_mode = NamespaceMode::kFsdax;
  m.filesystem = FileSystem::kXfs;
  QemuLaunch l = Launch(m);
  l.share_dir = "/home/u/a,b";
  l.plugin = "/p/nvlab-plugin.so,persistence=eadr";
  const auto argv = QemuCommandLine(m, l);
  EXPECT_TRUE(Has(argv, "-machine", "pc,nvdimm=on,nvdimm-persistence=cpu,memory-backend=ram0"));
  EXPECT_TRUE(Has(argv, "-accel", "tcg,thread=single"));
  EXPECT_TRUE(Has(argv, "-plugin", "/p/nvlab-plugin.so,persistence=eadr"));
  // A comma in a path is doubled, QEMU's escape.
  EXPECT_TRUE(Has(argv, "-virtfs",
                  "local,id=share,path=/home/u/a,,b,mount_tag=nvlab_share,security_model=none"));
  EXPECT_TRUE(Has(argv, "-append",
                  "console=ttyS0 quiet panic=-1 cryptomgr.notests rodata=off swiotlb=2048 "
                  "init_on_alloc=0 no_timer_check nvlab.ns=fsdax "
                  "nvlab.nvdimms=1 nvlab.fs=xfs "
                  "nvlab.share=1"));
}

TEST(QemuCommandLineTest, TemplateStageHoldsTheBootParametersAndNoNvdimmSettings) {
  Machine m;
  m.namespace_mode = NamespaceMode::kFsdax;
  QemuLaunch l = Launch(m);
  l.template_stage = true;
  EXPECT_EQ(KernelCommandLine(m, l),
            "console=ttyS0 quiet panic=-1 cryptomgr.notests rodata=off swiotlb=2048 "
            "init_on_alloc=0 no_timer_check nvlab.template=1");
  l.share_dir = "/home/u/share";
  EXPECT_EQ(KernelCommandLine(m, l),
            "console=ttyS0 quiet panic=-1 cryptomgr.notests rodata=off swiotlb=2048 "
            "init_on_alloc=0 no_timer_check nvlab.template=1 "
            "nvlab.share=1");
}

TEST(QemuCommandLineTest, ATemplateStageThatIsNeverSavedSaysNotToPreload) {
  Machine m;
  QemuLaunch l = Launch(m);
  l.template_stage = true;
  EXPECT_EQ(KernelCommandLine(m, l).find("nvlab.preload"), std::string::npos);
  l.preload_drivers = false;
  EXPECT_TRUE(KernelCommandLine(m, l).ends_with(" nvlab.template=1 nvlab.preload=0"))
      << KernelCommandLine(m, l);
  l.template_stage = false;  // self-contained: the setup runs from init, nothing is preloaded
  EXPECT_EQ(KernelCommandLine(m, l).find("nvlab.preload"), std::string::npos);
}

TEST(QemuCommandLineTest, TimerCalibrationFollowsTheBootParameters) {
  Machine m;
  QemuLaunch l = Launch(m);
  l.template_stage = true;
  l.timer_calibration = {10779412};
  EXPECT_EQ(KernelCommandLine(m, l),
            "console=ttyS0 quiet panic=-1 cryptomgr.notests rodata=off swiotlb=2048 "
            "init_on_alloc=0 no_timer_check "
            "lpj=10779412 nvlab.template=1");
  l.timer_calibration.loops_per_jiffy = 0;  // a host without a constant TSC
  EXPECT_EQ(KernelCommandLine(m, l),
            "console=ttyS0 quiet panic=-1 cryptomgr.notests rodata=off swiotlb=2048 "
            "init_on_alloc=0 no_timer_check "
            "nvlab.template=1");
}

TEST(QemuCommandLineTest, TimerCalibrationComesFromTheHostsTscAndQemusApicClock) {
  // --deterministic keeps the kernel's own calibration (its TSC is virtual time).
  const GuestTimerCalibration none = TcgTimerCalibration(true);
  EXPECT_EQ(none.loops_per_jiffy, 0u);
  EXPECT_EQ(KernelParameters(none), "");
  const GuestTimerCalibration c = TcgTimerCalibration(false);
  const uint64_t tsc = HostTscHertz();
  if (tsc != 0) {
    // A real TSC rate (hundreds of MHz to some GHz), and lpj its cycles per jiffy.
    EXPECT_GT(tsc, 100000000u);
    EXPECT_LT(tsc, 10000000000u);
    EXPECT_NEAR(static_cast<double>(c.loops_per_jiffy), static_cast<double>(tsc) / 250,
                static_cast<double>(tsc) / 250 / 100);
  }
}

TEST(QemuCommandLineTest, FirmwareIsPassedAsBiosWhenGiven) {
  Machine m;
  QemuLaunch l = Launch(m);
  auto argv = QemuCommandLine(m, l);
  EXPECT_EQ(std::find(argv.begin(), argv.end(), "-bios"), argv.end());
  l.firmware = "/usr/share/qemu/qboot.rom";
  argv = QemuCommandLine(m, l);
  EXPECT_TRUE(Has(argv, "-bios", "/usr/share/qemu/qboot.rom"));
  // The one this host's QEMU would get: qboot.rom where it is installed, else none.
  const std::filesystem::path found = MinimalFirmwareFor("qemu-system-x86_64");
  if (!found.empty()) {
    EXPECT_EQ(found.filename(), "qboot.rom");
    EXPECT_TRUE(std::filesystem::is_regular_file(found));
  }
  EXPECT_TRUE(MinimalFirmwareFor("/nonexistent/bin/qemu").empty() ||
              MinimalFirmwareFor("/nonexistent/bin/qemu") == "/usr/share/qemu/qboot.rom");
}

TEST(QemuCommandLineTest, GdbPortAddsTheGdbstubOnLoopbackOnly) {
  Machine m;
  QemuLaunch l = Launch(m);
  auto argv = QemuCommandLine(m, l);
  EXPECT_EQ(std::find(argv.begin(), argv.end(), "-gdb"), argv.end());
  l.gdb_port = 4321;
  argv = QemuCommandLine(m, l);
  EXPECT_TRUE(Has(argv, "-gdb", "tcp:127.0.0.1:4321"));
  EXPECT_NE(std::find(argv.begin(), argv.end(), "-S"), argv.end());  // stopped until continued
}

TEST(QemuCommandLineTest, TwoNumaNodesGetTheirOwnRamAndNvdimms) {
  Machine m;
  m.numa_nodes = 2;
  m.nvdimms = {Nvdimm{256ull << 20, 0, 0}, Nvdimm{256ull << 20, 1, 128 << 10}};
  const auto argv = QemuCommandLine(m, Launch(m));
  EXPECT_TRUE(Has(argv, "-machine", "pc,nvdimm=on,nvdimm-persistence=mem-ctrl"));
  EXPECT_TRUE(Has(argv, "-numa", "node,nodeid=0,memdev=ram0,cpus=0"));
  EXPECT_TRUE(Has(argv, "-numa", "node,nodeid=1,memdev=ram1,cpus=1"));
  EXPECT_TRUE(
      Has(argv, "-object", "memory-backend-file,id=ram1,size=256M,share=on,mem-path=/run/ram1"));
  EXPECT_TRUE(
      Has(argv, "-device", "nvdimm,id=nvdimm1,memdev=nv1,addr=0x140000000,node=1,label-size=128K"));
}

TEST(QemuCommandLineTest, CpuFeaturesFollowTheModel) {
  Machine m;
  m.cpu = "Skylake-Server";
  m.cpu_features = {{"clwb", true}, {"erms", false}};
  EXPECT_TRUE(Has(QemuCommandLine(m, Launch(m)), "-cpu", "Skylake-Server,clwb=on,erms=off"));
  m.cpu_features.clear();
  EXPECT_TRUE(Has(QemuCommandLine(m, Launch(m)), "-cpu", "Skylake-Server"));
}

TEST(QemuCommandLineTest, KvmUsesTheHostCpuAndDeterminismAddsIcount) {
  Machine m;
  QemuLaunch l = Launch(m);
  l.accel = Accel::kKvm;
  auto argv = QemuCommandLine(m, l);
  EXPECT_TRUE(Has(argv, "-accel", "kvm"));
  EXPECT_TRUE(Has(argv, "-cpu", "host"));
  l.accel = Accel::kTcg;
  l.deterministic = true;
  argv = QemuCommandLine(m, l);
  EXPECT_TRUE(Has(argv, "-icount", "shift=5,sleep=off"));
}

TEST(QemuCommandLineTest, TheTemplateStageSaysWhenAnNvdimmHasLabels) {
  Machine m;
  QemuLaunch l = Launch(m);
  l.template_stage = true;
  EXPECT_EQ(KernelCommandLine(m, l).find("nvlab.labels"), std::string::npos);
  EXPECT_NE(KernelCommandLine(m, l).find("nvlab.template=1"), std::string::npos);
  m.nvdimms = {Nvdimm{256ull << 20, 0, 0}, Nvdimm{256ull << 20, 0, 128 << 10}};
  EXPECT_TRUE(KernelCommandLine(m, l).ends_with(" nvlab.labels=1")) << KernelCommandLine(m, l);
  l.template_stage = false;
  EXPECT_EQ(KernelCommandLine(m, l).find("nvlab.labels"), std::string::npos)
      << "only the template stage leaves nfit for the resume";
}

}  // namespace
}  // namespace nvlab
