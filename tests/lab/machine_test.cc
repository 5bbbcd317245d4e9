// machine_test.cc -- machine definitions: the shipped files, every field, every error.

#include "nvlab/machine.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <string>

namespace nvlab {
namespace {

const std::filesystem::path kConfigs = std::filesystem::path(NVLAB_SOURCE_DIR) / "qemu-configs";

TEST(MachineTest, DefaultFileDescribesTheDefaultMachine) {
  Machine m;
  ASSERT_TRUE(LoadMachine(kConfigs / "default.machine", &m).ok());
  EXPECT_EQ(m.name, "default");
  EXPECT_EQ(m.vcpus, 2);
  EXPECT_EQ(m.memory, 512ull << 20);
  EXPECT_EQ(m.persistence, Persistence::kAdr);
  EXPECT_EQ(m.namespace_mode, NamespaceMode::kDevdax);
  ASSERT_EQ(m.nvdimms.size(), 1u);
  EXPECT_EQ(m.nvdimms[0].size, 256ull << 20);
  EXPECT_EQ(m.NvdimmBase(0), 0x100000000ull);
  EXPECT_TRUE(m.cpu_features.empty());
}

TEST(MachineTest, ShippedMachinesAllParse) {
  for (const char* name : {"default", "two-nvdimms-numa", "fsdax-ext4", "eadr", "clflushopt"}) {
    Machine m;
    const Status s = LoadMachine(kConfigs / (std::string(name) + ".machine"), &m);
    EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(m.name, name);
  }
  Machine two;
  ASSERT_TRUE(LoadMachine(kConfigs / "two-nvdimms-numa.machine", &two).ok());
  ASSERT_EQ(two.nvdimms.size(), 2u);
  EXPECT_EQ(two.numa_nodes, 2);
  EXPECT_EQ(two.nvdimms[1].node, 1);
  EXPECT_EQ(two.NvdimmBase(1), 0x140000000ull);
  Machine eadr;
  ASSERT_TRUE(LoadMachine(kConfigs / "eadr.machine", &eadr).ok());
  EXPECT_EQ(eadr.persistence, Persistence::kEadr);
  Machine fsdax;
  ASSERT_TRUE(LoadMachine(kConfigs / "fsdax-ext4.machine", &fsdax).ok());
  EXPECT_EQ(fsdax.namespace_mode, NamespaceMode::kFsdax);
  EXPECT_EQ(fsdax.filesystem, FileSystem::kExt4);
}

TEST(MachineTest, NvdimmsAreLaidOutOnGigabyteBoundariesAboveFourGigabytes) {
  Machine m;
  ASSERT_TRUE(
      ParseMachine("[nvdimm]\nsize=1G\n[nvdimm]\nsize=2M\n[nvdimm]\nsize=1026M\n", "t.machine", &m)
          .ok());
  EXPECT_EQ(m.NvdimmBase(0), 4ull << 30);
  EXPECT_EQ(m.NvdimmBase(1), 5ull << 30);
  EXPECT_EQ(m.NvdimmBase(2), 6ull << 30);
  EXPECT_EQ(m.MaxMemory(), m.memory + (4ull << 30));
}

struct BadMachine {
  const char* name;
  const char* text;
  const char* expected;  // the whole "FILE:LINE: field: ..." prefix
};

class MachineErrorTest : public ::testing::TestWithParam<BadMachine> {};

TEST_P(MachineErrorTest, NamesFileLineAndField) {
  Machine m;
  const Status s = ParseMachine(GetParam().text, "bad.machine", &m);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_TRUE(s.message().starts_with(GetParam().expected)) << s.message();
}

INSTANTIATE_TEST_SUITE_P(
    Malformed, MachineErrorTest,
    ::testing::Values(
        BadMachine{"UnknownField", "vcpus = 2\ncolour = red\n[nvdimm]\n", "bad.machine:2: colour:"},
        BadMachine{"BadVcpus", "vcpus = many\n[nvdimm]\n", "bad.machine:1: vcpus:"},
        BadMachine{"ZeroVcpus", "vcpus = 0\n[nvdimm]\n", "bad.machine:1: vcpus:"},
        BadMachine{"BadSize", "[nvdimm]\nsize = 12Q\n", "bad.machine:2: size:"},
        BadMachine{"UnalignedSize", "[nvdimm]\nsize = 3M\n", "bad.machine:2: size:"},
        BadMachine{"OverflowSize", "[nvdimm]\nsize = 99999999999999999999G\n",
                   "bad.machine:2: size:"},
        BadMachine{"NoEquals", "# c\n\nvcpus 2\n[nvdimm]\n", "bad.machine:3: vcpus 2:"},
        BadMachine{"MissingValue", "memory =\n[nvdimm]\n", "bad.machine:1: memory:"},
        BadMachine{"UnknownSection", "[disk]\n", "bad.machine:1: [disk]:"},
        BadMachine{"BadPersistence", "persistence = maybe\n[nvdimm]\n",
                   "bad.machine:1: persistence:"},
        BadMachine{"BadNamespace", "namespace = sector\n[nvdimm]\n", "bad.machine:1: namespace:"},
        BadMachine{"SmallLabel", "[nvdimm]\nlabel-size = 4K\n", "bad.machine:2: label-size:"},
        BadMachine{"NodeOutOfRange", "[nvdimm]\nnode = 1\n", "bad.machine:3: node:"},
        BadMachine{"NoNvdimm", "vcpus = 2\n", "bad.machine:2: [nvdimm]:"},
        BadMachine{"MemoryTooLarge", "memory = 4G\n[nvdimm]\n", "bad.machine:1: memory:"},
        BadMachine{"NvdimmTooLarge", "[nvdimm]\nsize = 66G\n", "bad.machine:2: size:"},
        BadMachine{"NineNvdimms",
                   "[nvdimm]\n[nvdimm]\n[nvdimm]\n[nvdimm]\n[nvdimm]\n[nvdimm]\n[nvdimm]\n"
                   "[nvdimm]\n[nvdimm]\n",
                   "bad.machine:9: [nvdimm]: at most 8"},
        // cpu: QEMU reads "-cpu max,+x" as model max with feature x, and "help" lists models.
        BadMachine{"CpuWithFeatures", "cpu = max,+clwb\n[nvdimm]\n", "bad.machine:1: cpu:"},
        BadMachine{"CpuWithOption", "cpu = max,hv-passthrough=on\n[nvdimm]\n",
                   "bad.machine:1: cpu:"},
        BadMachine{"CpuWithEquals", "cpu = model=max\n[nvdimm]\n", "bad.machine:1: cpu:"},
        BadMachine{"CpuHelp", "cpu = help\n[nvdimm]\n", "bad.machine:1: cpu:"},
        BadMachine{"CpuQuestionMark", "cpu = ?\n[nvdimm]\n", "bad.machine:1: cpu:"},
        BadMachine{"CpuLeadingDash", "cpu = -max\n[nvdimm]\n", "bad.machine:1: cpu:"},
        BadMachine{"CpuWithSpace", "cpu = Skylake Client\n[nvdimm]\n", "bad.machine:1: cpu:"},
        BadMachine{"CpuWithQuote", "cpu = max'\n[nvdimm]\n", "bad.machine:1: cpu:"},
        BadMachine{"CpuNotAscii", "cpu = m\xc3\xa4x\n[nvdimm]\n", "bad.machine:1: cpu:"},
        // cpu-features: +name/-name words or none; never QEMU's own option syntax.
        BadMachine{"CpuFeaturesEmptyWord", "cpu-features = + -erms\n[nvdimm]\n",
                   "bad.machine:1: cpu-features: word 1"},
        BadMachine{"CpuFeaturesNoSign", "cpu-features = erms\n[nvdimm]\n",
                   "bad.machine:1: cpu-features: word 1"},
        BadMachine{"CpuFeaturesQemuSyntax", "cpu-features = -erms,fsrm=off\n[nvdimm]\n",
                   "bad.machine:1: cpu-features: word 1"},
        BadMachine{"CpuFeaturesEquals", "cpu-features = -erms +x=on\n[nvdimm]\n",
                   "bad.machine:1: cpu-features: word 2"},
        BadMachine{"CpuFeaturesUpperCase", "cpu-features = -ERMS\n[nvdimm]\n",
                   "bad.machine:1: cpu-features: word 1"},
        BadMachine{"CpuFeaturesQuote", "cpu-features = -erms' \n[nvdimm]\n",
                   "bad.machine:1: cpu-features: word 1"},
        BadMachine{"CpuFeaturesDoubleSign", "cpu-features = --erms\n[nvdimm]\n",
                   "bad.machine:1: cpu-features: word 1"},
        BadMachine{"CpuFeaturesTwice", "cpu-features = -erms +erms\n[nvdimm]\n",
                   "bad.machine:1: cpu-features: feature erms named twice"},
        BadMachine{"CpuFeaturesTooLong",
                   "cpu-features = -aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n[nvdimm]\n",
                   "bad.machine:1: cpu-features: word 1"},
        BadMachine{"CpuFeaturesNotAscii", "cpu-features = -\xc3\xa4\n[nvdimm]\n",
                   "bad.machine:1: cpu-features: word 1"},
        BadMachine{"CpuTooLong",
                   "cpu = aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
                   "[nvdimm]\n",
                   "bad.machine:1: cpu:"}),
    [](const ::testing::TestParamInfo<BadMachine>& info) { return std::string(info.param.name); });

TEST(MachineTest, LoadNamesAMissingFile) {
  Machine m;
  const Status s = LoadMachine("/nonexistent/x.machine", &m);
  EXPECT_EQ(s.code(), Status::Code::kNotFound);
  EXPECT_NE(s.message().find("/nonexistent/x.machine"), std::string::npos);
}

TEST(MachineTest, CpuTakesAPlainModelName) {
  for (const char* cpu : {"max", "qemu64", "Skylake-Client-v4", "486", "EPYC-Rome", "base"}) {
    Machine m;
    const Status s = ParseMachine(std::string("cpu = ") + cpu + "\n[nvdimm]\n", "", &m);
    ASSERT_TRUE(s.ok()) << cpu << ": " << s.message();
    EXPECT_EQ(m.cpu, cpu);
  }
}

TEST(MachineTest, CpuFeaturesTakeSignedNamesOrNone) {
  Machine m;
  ASSERT_TRUE(
      ParseMachine("cpu-features = +avx512f\t-erms  -sse4.2 -avx512-bf16\n[nvdimm]\n", "", &m)
          .ok());
  const std::vector<CpuFeatureChange> expected = {
      {"avx512f", true}, {"erms", false}, {"sse4.2", false}, {"avx512-bf16", false}};
  EXPECT_EQ(m.cpu_features, expected);
  ASSERT_TRUE(ParseMachine("cpu-features = none\n[nvdimm]\n", "", &m).ok());
  EXPECT_TRUE(m.cpu_features.empty());
  // A machine file without the field keeps the model's features.
  ASSERT_TRUE(ParseMachine("cpu-features = -clwb\n[nvdimm]\n", "", &m).ok());
  ASSERT_TRUE(ParseMachine("[nvdimm]\n", "", &m).ok());
  EXPECT_TRUE(m.cpu_features.empty());
}

TEST(MachineTest, CpuFeaturesAreAtMost32) {
  std::string words;
  for (int i = 0; i < 32; ++i) words += " -f" + std::to_string(i);
  Machine m;
  ASSERT_TRUE(ParseMachine("cpu-features =" + words + "\n[nvdimm]\n", "", &m).ok());
  EXPECT_EQ(m.cpu_features.size(), 32u);
  const Status s = ParseMachine("cpu-features =" + words + " -f32\n[nvdimm]\n", "x", &m);
  EXPECT_NE(s.message().find("x:1: cpu-features: more than 32 features"), std::string::npos)
      << s.message();
}

// RunCommandText runs a shell command and gives its standard output; empty when it fails.
std::string RunCommandText(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return "";
  std::string text;
  char buffer[4096];
  for (size_t n; (n = fread(buffer, 1, sizeof buffer, pipe)) > 0;) text.append(buffer, n);
  if (pclose(pipe) != 0) return "";
  return text;
}

// The features the shipped machines change are ones both the installed QEMU (its "Recognized
// CPUID flags") and libvirt (its x86 CPU map) know: an unknown one would stop every guest.
TEST(MachineTest, ShippedCpuFeaturesAreKnownToQemuAndLibvirt) {
  const std::string qemu = RunCommandText("qemu-system-x86_64 -cpu help 2>/dev/null");
  ASSERT_FALSE(qemu.empty()) << "qemu-system-x86_64 -cpu help failed";
  const size_t flags = qemu.find("Recognized CPUID flags:");
  ASSERT_NE(flags, std::string::npos);
  std::set<std::string> qemu_flags;
  std::istringstream words(qemu.substr(flags + 23));
  for (std::string w; words >> w;) qemu_flags.insert(w);
  std::ifstream map("/usr/share/libvirt/cpu_map/x86_features.xml");
  ASSERT_TRUE(map) << "libvirt's CPU map is not installed";
  const std::string libvirt((std::istreambuf_iterator<char>(map)),
                            std::istreambuf_iterator<char>());
  size_t changed = 0;
  for (const char* name : {"default", "two-nvdimms-numa", "fsdax-ext4", "eadr", "clflushopt"}) {
    Machine m;
    ASSERT_TRUE(LoadMachine(kConfigs / (std::string(name) + ".machine"), &m).ok());
    changed += m.cpu_features.size();
    for (const CpuFeatureChange& f : m.cpu_features) {
      EXPECT_TRUE(qemu_flags.contains(f.name)) << name << ": " << f.name;
      EXPECT_NE(libvirt.find("<feature name='" + f.name + "'>"), std::string::npos)
          << name << ": " << f.name;
    }
  }
  EXPECT_GE(changed, 1u);  // clflushopt.machine
}

// Every model name the installed QEMU lists fits the grammar: the grammar refuses only what
// QEMU would read as something else.
TEST(MachineTest, EveryModelQemuListsIsAValidCpu) {
  const std::string text = RunCommandText("qemu-system-x86_64 -cpu help 2>/dev/null");
  ASSERT_FALSE(text.empty()) << "qemu-system-x86_64 -cpu help failed";
  std::istringstream lines(text);
  std::string line;
  int models = 0;
  std::getline(lines, line);  // "Available CPUs:"
  while (std::getline(lines, line) && line.starts_with("  ")) {
    std::istringstream words(line);
    std::string name;
    words >> name;
    EXPECT_TRUE(IsValidCpuModel(name)) << name;
    ++models;
  }
  EXPECT_GT(models, 10);
}

// LoadExits runs LoadMachine(file) in a child process limited to 256 MiB of address space and
// 20 seconds, and exits 0 when it is refused with `expected` in the message: a loader that read
// the file would run out of memory or wait forever instead.
void LoadExits(const std::filesystem::path& file, const std::string& expected) {
  const rlimit memory{256u << 20, 256u << 20};
  (void)setrlimit(RLIMIT_AS, &memory);
  alarm(20);
  Machine m;
  const Status s = LoadMachine(file, &m);
  const bool refused =
      s.code() == Status::Code::kInvalidArgument && s.message().find(expected) != std::string::npos;
  if (!refused) (void)std::fprintf(stderr, "%s\n", s.message().c_str());
  std::_Exit(refused ? 0 : 1);
}

class MachineFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/nvlab-machine-test-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(MachineFileTest, AHugeFileIsRefusedBeforeItIsRead) {
  const std::filesystem::path file = dir_ / "huge.machine";
  std::ofstream(file) << "[nvdimm]\n";
  std::filesystem::resize_file(file, 16ull << 30);  // sparse: no disk used
  EXPECT_EXIT(LoadExits(file, "too large"), ::testing::ExitedWithCode(0), "");
}

TEST_F(MachineFileTest, AFifoIsRefusedWithoutWaitingForAWriter) {
  const std::filesystem::path fifo = dir_ / "fifo.machine";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EXIT(LoadExits(fifo, "not a regular file"), ::testing::ExitedWithCode(0), "");
}

TEST_F(MachineFileTest, AFileAtTheLimitLoads) {
  const std::filesystem::path file = dir_ / "big.machine";
  std::string text = "[nvdimm]\n";
  text.resize(kMaxMachineFileBytes, '#');
  std::ofstream(file) << text;
  Machine m;
  const Status s = LoadMachine(file, &m);
  EXPECT_TRUE(s.ok()) << s.message();
  std::ofstream(file, std::ios::app) << "#";
  EXPECT_EQ(LoadMachine(file, &m).code(), Status::Code::kInvalidArgument);
}

TEST(MachineTest, NvdimmSizeProblemsAreTheFileParsersOwn) {
  EXPECT_EQ(NvdimmSizeProblem(256ull << 20), "");
  EXPECT_EQ(NvdimmSizeProblem(64ull << 30), "");
  EXPECT_EQ(NvdimmSizeProblem(3ull << 20), "must be a multiple of 2M");
  EXPECT_EQ(NvdimmSizeProblem(0), "must be a multiple of 2M");
  EXPECT_EQ(NvdimmSizeProblem(66ull << 30), "larger than 64G");
}

TEST(MachineTest, ResolveFindsNamesAndListsTheAvailableOnes) {
  std::filesystem::path file;
  ASSERT_TRUE(ResolveMachine("eadr", kConfigs, &file).ok());
  EXPECT_EQ(file, kConfigs / "eadr.machine");
  const Status s = ResolveMachine("nosuch", kConfigs, &file);
  EXPECT_EQ(s.code(), Status::Code::kNotFound);
  EXPECT_NE(s.message().find("default"), std::string::npos) << s.message();
}

TEST(MachineTest, SizesParseAndFormat) {
  uint64_t v = 0;
  EXPECT_TRUE(ParseSize("256M", &v));
  EXPECT_EQ(v, 256ull << 20);
  EXPECT_TRUE(ParseSize("4096", &v));
  EXPECT_EQ(v, 4096u);
  EXPECT_FALSE(ParseSize("", &v));
  EXPECT_FALSE(ParseSize("0", &v));
  EXPECT_FALSE(ParseSize("M", &v));
  EXPECT_FALSE(ParseSize("-1M", &v));
  EXPECT_EQ(FormatSize(256ull << 20), "256M");
  EXPECT_EQ(FormatSize(3ull << 30), "3G");
  EXPECT_EQ(FormatSize(1536ull << 10), "1536K");
  EXPECT_EQ(FormatSize(100), "100");
}

}  // namespace
}  // namespace nvlab
