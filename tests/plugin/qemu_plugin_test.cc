// nvlab-plugin.so loaded into the installed qemu-system-x86_64 (label tcg): installation and
// its control socket, option errors, and the litmus table executed by a tiny bare-metal guest
// built here from bytes (a multiboot kernel that enters long mode and stores, flushes and
// fences on the NVDIMM's physical range, then cuts the power with NvLabPowerCut's CPUID).
#include <elf.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "qemu_plugin_harness.h"

namespace nvlab::plugin_test {
namespace {

constexpr uint64_t kV = 0x1111111111111111ULL;  // What the guest stores.

// The guest's code, loaded at 0x100100 and entered in 32-bit protected mode (GNU as syntax):
//   entry32: enable PAE, CR3 = 0x101000, EFER.LME, CR0.PG|PE, lgdt 0x100040, ljmp 0x08:entry64
//   entry64: ds = ss = 0x10; rsp = 0x90000; rax = 0x100000000 (NVDIMM 0); rbx = kV
//     line 2 (0x080) mov %rbx,0x80(%rax); clwb 0x80(%rax); sfence
//     line 3 (0x0c0) mov; clflush 0xc0(%rax)
//     line 4 (0x100) mov; clflushopt 0x100(%rax); mfence
//     line 5 (0x140) mov; clwb 0x140(%rax); lock addl $0,(%rsp)
//     line 6 (0x180) movq $1; clwb 0x180(%rax); movq $2; sfence
//     line 8 (0x200) movnti %rbx,0x200(%rax); sfence
//     line 9 (0x240) mov; rcx = rax; rdx = 0x48; clwb (%rcx,%rdx,8); sfence
//     line 0 (0x000) mov                        (no flush)
//     line 1 (0x040) mov; clwb 0x40(%rax)       (no fence)
//     line 7 (0x1c0) movnti %rbx,0x1c0(%rax)    (no fence)
//     eax = 0x4E564C43, ecx = 0x50435554, cpuid (the power cut); then hlt; jmp hlt
const uint8_t kGuestCode[] = {
    0x0f, 0x20, 0xe0, 0x83, 0xc8, 0x20, 0x0f, 0x22, 0xe0, 0xb8, 0x00, 0x10, 0x10, 0x00, 0x0f, 0x22,
    0xd8, 0xb9, 0x80, 0x00, 0x00, 0xc0, 0x0f, 0x32, 0x0d, 0x00, 0x01, 0x00, 0x00, 0x0f, 0x30, 0x0f,
    0x20, 0xc0, 0x0d, 0x01, 0x00, 0x00, 0x80, 0x0f, 0x22, 0xc0, 0x0f, 0x01, 0x15, 0x40, 0x00, 0x10,
    0x00, 0xea, 0x38, 0x01, 0x10, 0x00, 0x08, 0x00, 0xb8, 0x10, 0x00, 0x00, 0x00, 0x8e, 0xd8, 0x8e,
    0xd0, 0x48, 0xc7, 0xc4, 0x00, 0x00, 0x09, 0x00, 0x48, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
    0x00, 0x00, 0x48, 0xbb, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x48, 0x89, 0x98, 0x80,
    0x00, 0x00, 0x00, 0x66, 0x0f, 0xae, 0xb0, 0x80, 0x00, 0x00, 0x00, 0x0f, 0xae, 0xf8, 0x48, 0x89,
    0x98, 0xc0, 0x00, 0x00, 0x00, 0x0f, 0xae, 0xb8, 0xc0, 0x00, 0x00, 0x00, 0x48, 0x89, 0x98, 0x00,
    0x01, 0x00, 0x00, 0x66, 0x0f, 0xae, 0xb8, 0x00, 0x01, 0x00, 0x00, 0x0f, 0xae, 0xf0, 0x48, 0x89,
    0x98, 0x40, 0x01, 0x00, 0x00, 0x66, 0x0f, 0xae, 0xb0, 0x40, 0x01, 0x00, 0x00, 0xf0, 0x83, 0x04,
    0x24, 0x00, 0x48, 0xc7, 0x80, 0x80, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x66, 0x0f, 0xae,
    0xb0, 0x80, 0x01, 0x00, 0x00, 0x48, 0xc7, 0x80, 0x80, 0x01, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00,
    0x0f, 0xae, 0xf8, 0x48, 0x0f, 0xc3, 0x98, 0x00, 0x02, 0x00, 0x00, 0x0f, 0xae, 0xf8, 0x48, 0x89,
    0x98, 0x40, 0x02, 0x00, 0x00, 0x48, 0x89, 0xc1, 0x48, 0xc7, 0xc2, 0x48, 0x00, 0x00, 0x00, 0x66,
    0x0f, 0xae, 0x34, 0xd1, 0x0f, 0xae, 0xf8, 0x48, 0x89, 0x18, 0x48, 0x89, 0x58, 0x40, 0x66, 0x0f,
    0xae, 0x70, 0x40, 0x48, 0x0f, 0xc3, 0x98, 0xc0, 0x01, 0x00, 0x00, 0xb8, 0x43, 0x4c, 0x56, 0x4e,
    0xb9, 0x54, 0x55, 0x43, 0x50, 0x0f, 0xa2, 0xf4, 0xeb, 0xfd};
constexpr size_t kCpuidOffset = 0x105;  // Offset of "0f a2" in kGuestCode.
constexpr uint64_t kLineStorePc[10] = {0x1001e7, 0x1001ea, 0x10015c, 0x10016e, 0x10017c,
                                       0x10018e, 0x1001b5, 0x1001f3, 0x1001c3, 0x1001ce};

void Put32(std::vector<uint8_t>& image, size_t offset, uint32_t value) {
  std::memcpy(image.data() + offset, &value, sizeof value);
}
void Put64(std::vector<uint8_t>& image, size_t offset, uint64_t value) {
  std::memcpy(image.data() + offset, &value, sizeof value);
}

constexpr size_t kFirstClwbModRmOffset = 0x66;  // "clwb 0x80(%rax)" at 0x100163: ModRM b0.

// GuestKernel builds the multiboot image (a.out kludge: loaded at 1 MiB as is): header, GDT,
// code at +0x100, identity-mapping page tables (1 GiB pages, 0-8 GiB) at +0x1000 and +0x2000.
std::vector<uint8_t> GuestKernel(bool cut_with_cpuid, bool first_clwb_through_rbx = false) {
  std::vector<uint8_t> image(0x3000, 0);
  const uint32_t magic = 0x1BADB002, flags = 0x00010000;
  Put32(image, 0x00, magic);
  Put32(image, 0x04, flags);
  Put32(image, 0x08, 0u - (magic + flags));
  Put32(image, 0x0c, 0x100000);               // header_addr
  Put32(image, 0x10, 0x100000);               // load_addr
  Put32(image, 0x14, 0);                      // load_end_addr: the whole file
  Put32(image, 0x18, 0);                      // bss_end_addr: none
  Put32(image, 0x1c, 0x100100);               // entry_addr
  Put64(image, 0x28, 0x00AF9A000000FFFFULL);  // GDT[1]: 64-bit code
  Put64(image, 0x30, 0x00CF92000000FFFFULL);  // GDT[2]: data
  image[0x40] = 23;                           // GDTR: limit, then base 0x100020
  Put32(image, 0x42, 0x100020);
  std::memcpy(image.data() + 0x100, kGuestCode, sizeof kGuestCode);
  if (first_clwb_through_rbx) {
    // clwb 0x80(%rbx): rbx holds kV, an address no page table maps.
    image[0x100 + kFirstClwbModRmOffset] = 0xb3;
  }
  if (!cut_with_cpuid) {
    image[0x100 + kCpuidOffset] = 0x90;  // nop nop: the guest halts instead.
    image[0x100 + kCpuidOffset + 1] = 0x90;
  }
  Put64(image, 0x1000, 0x102000 | 0x3);
  for (uint64_t i = 0; i < 8; ++i) Put64(image, 0x2000 + 8 * i, (i << 30) | 0x83);
  return image;
}

// A guest doing strange things, in place of kGuestCode's 64-bit part (kEntry64Offset on):
//   entry64: as above, rax = 0x100000000 (NVDIMM 0), rbx = kV
//     line 3 (0x0c0) mov; then the guest patches the 7-byte "nopl 0xc0(%rax)" that follows into
//                    "clflush 0xc0(%rax)" (movw $0xae0f / movb $0xb8 to it) and runs it
//     rcx = NVDIMM end - 4: mov %rbx,(%rcx) and movnti %rbx,(%rcx) cross the NVDIMM's end;
//                    clwb 8(%rcx) flushes past it; sfence
//     line 4 (0x100) mov                        (no flush)
//     the power cut (cpuid), then hlt; jmp hlt
constexpr size_t kEntry64Offset = 0x38;
const uint8_t kStrangeGuestCode64[] = {
    0xb8, 0x10, 0x00, 0x00, 0x00, 0x8e, 0xd8, 0x8e, 0xd0, 0x48, 0xc7, 0xc4, 0x00, 0x00, 0x09,
    0x00, 0x48, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x48, 0xbb, 0x11, 0x11,
    0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x48, 0x89, 0x98, 0xc0, 0x00, 0x00, 0x00, 0x66, 0xc7,
    0x05, 0x07, 0x00, 0x00, 0x00, 0x0f, 0xae, 0xc6, 0x05, 0x02, 0x00, 0x00, 0x00, 0xb8, 0x0f,
    0x1f, 0x80, 0xc0, 0x00, 0x00, 0x00, 0x48, 0xb9, 0xfc, 0xff, 0x1f, 0x00, 0x01, 0x00, 0x00,
    0x00, 0x48, 0x89, 0x19, 0x48, 0x0f, 0xc3, 0x19, 0x66, 0x0f, 0xae, 0x71, 0x08, 0x0f, 0xae,
    0xf8, 0x48, 0x89, 0x98, 0x00, 0x01, 0x00, 0x00, 0xb8, 0x43, 0x4c, 0x56, 0x4e, 0xb9, 0x54,
    0x55, 0x43, 0x50, 0x0f, 0xa2, 0xf4, 0xeb, 0xfd};

// StrangeGuestKernel is GuestKernel with kStrangeGuestCode64 as its 64-bit code.
std::vector<uint8_t> StrangeGuestKernel() {
  std::vector<uint8_t> image = GuestKernel(true);
  std::fill(image.begin() + 0x100 + kEntry64Offset, image.begin() + 0x1000, 0);
  std::memcpy(image.data() + 0x100 + kEntry64Offset, kStrangeGuestCode64,
              sizeof kStrangeGuestCode64);
  return image;
}

// QemuPluginTest runs the litmus guest (GuestKernel) or none.
class QemuPluginTest : public QemuPluginHarness {
 protected:
  std::vector<std::string> MachineArgs(const std::string& plugin_options, bool eadr,
                                       bool with_guest, bool cut_with_cpuid = true,
                                       bool first_clwb_through_rbx = false,
                                       const std::vector<uint8_t>* kernel_image = nullptr) {
    std::vector<uint8_t> kernel;
    if (with_guest) {
      kernel = kernel_image != nullptr ? *kernel_image
                                       : GuestKernel(cut_with_cpuid, first_clwb_through_rbx);
    }
    return MachineArgsFor(plugin_options, eadr, with_guest ? &kernel : nullptr);
  }
};

TEST_F(QemuPluginTest, InstalledPluginAnswersPingAndCutsAGuestThatNeverRanWithoutRewriting) {
  std::vector<uint8_t> pattern(kNvdimmSize);
  for (size_t i = 0; i < pattern.size(); ++i) pattern[i] = static_cast<uint8_t>(i * 7);
  WriteFile(nvdimm_, pattern);
  Start(MachineArgs("report=" + report_.string() + ",control=" + control_.string(), false, false));
  ASSERT_TRUE(WaitForControlSocket()) << Stderr();
  EXPECT_EQ(Talk(control_, "status\n"), "error unknown command\n");
  EXPECT_EQ(Talk(control_, "cut\n"), "ok\n");
  EXPECT_EQ(Talk(control_, "cut\n"), "error power already cut\n");
  (void)qemu_process_.Kill(SIGKILL);
  Wait();
  std::string report = ReadFile(report_);
  EXPECT_NE(report.find("\"trigger\": \"host\""), std::string::npos) << report;
  EXPECT_NE(report.find("\"lost_lines\": 0"), std::string::npos) << report;
  EXPECT_NE(report.find("\"lines_rewritten\": 0"), std::string::npos) << report;
  std::string after = ReadFile(nvdimm_);
  EXPECT_TRUE(after.size() == pattern.size() &&
              std::memcmp(after.data(), pattern.data(), pattern.size()) == 0);
}

struct BadArgument {
  std::string name;
  std::string options;  // Appended to a valid nvdimm= option ("" for none).
  bool drop_nvdimm;     // Leave out nvdimm= altogether.
  std::string message;  // Expected on QEMU's stderr.
};

class QemuPluginBadArgumentTest : public QemuPluginTest,
                                  public ::testing::WithParamInterface<BadArgument> {};

// DefinedDynamicSymbols returns the names of the symbols an ELF64 shared object defines in its
// dynamic symbol table (what dlsym can find), or nothing with *error set.
std::vector<std::string> DefinedDynamicSymbols(const std::string& path, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  const std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Elf64_Ehdr header{};
  if (file.size() < sizeof header) {
    *error = "cannot read " + path;
    return {};
  }
  std::memcpy(&header, file.data(), sizeof header);
  auto section = [&](size_t i) {
    Elf64_Shdr s{};
    const uint64_t at = header.e_shoff + i * sizeof s;
    if (at + sizeof s <= file.size()) std::memcpy(&s, file.data() + at, sizeof s);
    return s;
  };
  std::vector<std::string> names;
  for (size_t i = 0; i < header.e_shnum; ++i) {
    const Elf64_Shdr dynsym = section(i);
    if (dynsym.sh_type != SHT_DYNSYM) continue;
    const Elf64_Shdr strings = section(dynsym.sh_link);
    for (uint64_t at = dynsym.sh_offset;
         at + sizeof(Elf64_Sym) <= dynsym.sh_offset + dynsym.sh_size &&
         at + sizeof(Elf64_Sym) <= file.size();
         at += sizeof(Elf64_Sym)) {
      Elf64_Sym sym{};
      std::memcpy(&sym, file.data() + at, sizeof sym);
      if (sym.st_shndx == SHN_UNDEF || sym.st_name == 0 ||
          strings.sh_offset + sym.st_name >= file.size()) {
        continue;
      }
      names.emplace_back(file.c_str() + strings.sh_offset + sym.st_name);
    }
  }
  if (names.empty()) *error = path + " defines no dynamic symbol";
  return names;
}

// QEMU looks up two symbols of a plugin; the model and the plugin's parts stay inside the
// module (linked with --exclude-libs), so that its calls into them bind directly.
TEST(QemuPluginModuleTest, ExportsThePluginApiAndNoneOfItsLibraries) {
  std::string error;
  const std::vector<std::string> names = DefinedDynamicSymbols(NVLAB_PLUGIN_PATH, &error);
  ASSERT_FALSE(names.empty()) << error;
  EXPECT_NE(std::find(names.begin(), names.end(), "qemu_plugin_install"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "qemu_plugin_version"), names.end());
  for (const std::string& name : names) {
    EXPECT_EQ(name.find("nvlab"), std::string::npos) << name << " is exported";
  }
}

TEST_P(QemuPluginBadArgumentTest, MakesQemuExitNonZeroWithThePluginsMessage) {
  const BadArgument& bad = GetParam();
  std::string plugin = std::string(NVLAB_PLUGIN_PATH) + (bad.drop_nvdimm ? "" : "," + NvdimmArg());
  if (!bad.options.empty()) plugin += "," + bad.options;
  Start({qemu_, "-M", "pc", "-accel", "tcg", "-display", "none", "-nodefaults", "-S", "-plugin",
         plugin});
  int status = Wait();
  ASSERT_NE(status, -1) << "QEMU did not exit";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0);
  EXPECT_NE(Stderr().find(bad.message), std::string::npos) << Stderr();
}

INSTANTIATE_TEST_SUITE_P(
    Table, QemuPluginBadArgumentTest,
    ::testing::Values(BadArgument{"UnknownOption", "colour=blue", false,
                                  "nvlab-plugin: unknown option 'colour=blue'"},
                      BadArgument{"BadPersistence", "persistence=nvme", false, "persistence=nvme"},
                      BadArgument{"BadPolicy", "on-cut=random:x", false, "on-cut=random:x"},
                      BadArgument{"MissingNvdimm", "persistence=adr", true,
                                  "missing option 'nvdimm="},
                      BadArgument{"NvdimmFileUnopenable", "nvdimm=1:140000000:4194304:/dev/null/x",
                                  false, "nvdimm=1"},
                      BadArgument{"UnalignedNvdimm", "nvdimm=0:100000020:4096:/dev/null", true,
                                  "must be multiples of 64"}),
    [](const ::testing::TestParamInfo<BadArgument>& info) { return info.param.name; });

// The litmus table in a real guest: what the NVDIMM file holds after the guest's own cut.
struct GuestLitmus {
  std::string name;
  std::string options;  // persistence= and on-cut=
  bool eadr;
  uint64_t expected[10];  // Line i (offset i * 64) after the cut.
};

const GuestLitmus kAdrLose = {
    "AdrLose", "persistence=adr,on-cut=lose", false, {0, 0, kV, kV, kV, kV, 1, 0, kV, kV}};
const GuestLitmus kEadrLose = {
    "EadrLose", "persistence=eadr,on-cut=lose", true, {kV, kV, kV, kV, kV, kV, 2, 0, kV, kV}};
const GuestLitmus kAdrKeep = {
    "AdrKeep", "persistence=adr,on-cut=keep", false, {kV, kV, kV, kV, kV, kV, 2, kV, kV, kV}};

class QemuPluginLitmusTest : public QemuPluginTest,
                             public ::testing::WithParamInterface<GuestLitmus> {};

TEST_P(QemuPluginLitmusTest, BackingFileHoldsWhatSurvivesTheGuestsCut) {
  const GuestLitmus& c = GetParam();
  Start(MachineArgs(c.options + ",report=" + report_.string(), c.eadr, true));
  int status = Wait();
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status << Stderr();
  std::string image = ReadFile(nvdimm_);
  for (uint64_t line = 0; line < 10; ++line) {
    EXPECT_EQ(Word(image, line * 64), c.expected[line]) << "line " << line;
  }
  std::string report = ReadFile(report_);
  EXPECT_NE(report.find("\"trigger\": \"guest\""), std::string::npos) << report;
  EXPECT_NE(report.find("\"unresolved_flushes\": 0"), std::string::npos) << report;
}

INSTANTIATE_TEST_SUITE_P(Table, QemuPluginLitmusTest,
                         ::testing::Values(kAdrLose, kEadrLose, kAdrKeep,
                                           GuestLitmus{"AdrRandomProbabilityZero",
                                                       "on-cut=random:5:0",
                                                       false,
                                                       {0, 0, kV, kV, kV, kV, 1, 0, kV, kV}},
                                           GuestLitmus{"AdrRandomProbabilityOne",
                                                       "on-cut=random:5:1",
                                                       false,
                                                       {kV, kV, kV, kV, kV, kV, 2, kV, kV, kV}},
                                           GuestLitmus{"EadrKeep",
                                                       "persistence=eadr,on-cut=keep",
                                                       true,
                                                       {kV, kV, kV, kV, kV, kV, 2, kV, kV, kV}}),
                         [](const ::testing::TestParamInfo<GuestLitmus>& info) {
                           return info.param.name;
                         });

TEST_F(QemuPluginTest, RandomPolicyIsReproducibleFromItsSeed) {
  std::string images[2];
  for (std::string& image : images) {
    fs::resize_file(nvdimm_, 0);
    fs::resize_file(nvdimm_, kNvdimmSize);
    Start(MachineArgs("on-cut=random:1234", false, true));
    int status = Wait();
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << Stderr();
    image = ReadFile(nvdimm_);
  }
  EXPECT_EQ(images[0], images[1]);
}

TEST_F(QemuPluginTest, TraceStoresReportsThePcOfEveryLostLine) {
  Start(MachineArgs("trace-stores=on,report=" + report_.string(), false, true));
  int status = Wait();
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << Stderr();
  std::string report = ReadFile(report_);
  for (uint64_t line : {0, 1, 6, 7}) {
    char expected[160];
    (void)std::snprintf(expected, sizeof expected, R"("offset": "0x%llx", "gpa": "0x%llx")",
                        static_cast<unsigned long long>(line) * 64,
                        static_cast<unsigned long long>(kNvdimmBase) + line * 64);
    size_t at = report.find(expected);
    ASSERT_NE(at, std::string::npos) << expected << "\n" << report;
    char pc[64];
    (void)std::snprintf(pc, sizeof pc, "\"pc\": \"0x%llx\"",
                        static_cast<unsigned long long>(kLineStorePc[line]));
    EXPECT_NE(report.substr(at, report.find('}', at) - at).find(pc), std::string::npos)
        << "line " << line << "\n"
        << report;
  }
  EXPECT_NE(report.find("\"lost_lines\": 4"), std::string::npos) << report;
}

TEST_F(QemuPluginTest, UnresolvableFlushIsCountedAndReportedWithItsPc) {
  Start(MachineArgs("report=" + report_.string(), false, true, true,
                    /*first_clwb_through_rbx=*/true));
  int status = Wait();
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << Stderr();
  EXPECT_EQ(Word(ReadFile(nvdimm_), uint64_t{2} * 64), 0u);  // Its line was never flushed.
  std::string report = ReadFile(report_);
  EXPECT_NE(report.find("\"unresolved_flushes\": 1,\n"), std::string::npos) << report;
  EXPECT_NE(report.find("\"unresolved_flush_pcs\": [\"0x100163\"]"), std::string::npos) << report;
}

TEST_F(QemuPluginTest, CutAfterFencesCutsRightAfterTheNthOrderingFence) {
  // Ordering fences in the guest: sfence (line 2), mfence (line 4), lock add (line 5), ...
  Start(MachineArgs("cut-after-fences=3,report=" + report_.string(), false, true));
  int status = Wait();
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << Stderr();
  std::string image = ReadFile(nvdimm_);
  const uint64_t expected[10] = {0, 0, kV, kV, kV, kV, 0, 0, 0, 0};
  for (uint64_t line = 0; line < 10; ++line)
    EXPECT_EQ(Word(image, line * 64), expected[line]) << line;
  EXPECT_NE(ReadFile(report_).find("\"trigger\": \"fences\""), std::string::npos);
}

// Self-modifying code, stores crossing the NVDIMM's end and a flush past it: QEMU survives, and
// the model follows the instruction the guest patched in (a stale decode would keep the NOP and
// lose line 3). Without and with a callback on every store.
TEST_F(QemuPluginTest, StrangeGuestNeitherCrashesQemuNorFoolsTheModel) {
  const std::vector<uint8_t> kernel = StrangeGuestKernel();
  for (const std::string trace : {"trace-stores=off", "trace-stores=on"}) {
    SCOPED_TRACE(trace);
    fs::resize_file(nvdimm_, 0);
    fs::resize_file(nvdimm_, kNvdimmSize);
    Start(MachineArgs(trace + ",report=" + report_.string(), false, true, true, false, &kernel));
    int status = Wait();
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status << Stderr();
    const std::string image = ReadFile(nvdimm_);
    ASSERT_EQ(image.size(), kNvdimmSize);
    EXPECT_EQ(Word(image, uint64_t{3} * 64), kV) << "the patched-in CLFLUSH was not seen";
    EXPECT_EQ(Word(image, uint64_t{4} * 64), 0u);
    // The last 4 bytes: the fenced non-temporal store's half that fell inside the NVDIMM.
    uint32_t tail = 0;
    std::memcpy(&tail, image.data() + kNvdimmSize - 4, sizeof tail);
    EXPECT_EQ(tail, 0x11111111u);
    const std::string report = ReadFile(report_);
    EXPECT_NE(report.find("\"trigger\": \"guest\""), std::string::npos) << report;
    EXPECT_NE(report.find("\"unresolved_flushes\": 0"), std::string::npos) << report;
  }
}

TEST_F(QemuPluginTest, HostCutOfAHaltedGuestLosesWhatWasNotFlushed) {
  Start(MachineArgs("control=" + control_.string() + ",report=" + report_.string(), false, true,
                    /*cut_with_cpuid=*/false));
  ASSERT_TRUE(WaitForControlSocket()) << Stderr();
  // The guest's last NVDIMM store is the MOVNTI to line 7; it halts right after.
  bool finished = false;
  for (int i = 0; i < 3000 && !finished; ++i) {
    finished = Word(ReadFile(nvdimm_), uint64_t{7} * 64) == kV;
    if (!finished) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(finished) << Stderr();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(Talk(control_, "cut\n"), "ok\n");
  (void)qemu_process_.Kill(SIGKILL);
  Wait();
  std::string image = ReadFile(nvdimm_);
  for (uint64_t line = 0; line < 10; ++line) {
    EXPECT_EQ(Word(image, line * 64), kAdrLose.expected[line]) << "line " << line;
  }
  EXPECT_NE(ReadFile(report_).find("\"trigger\": \"host\""), std::string::npos);
}

}  // namespace
}  // namespace nvlab::plugin_test
