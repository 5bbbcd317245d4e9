// The rewriting nvlab-qemu applies to libvirt's QEMU argv (lab/emulator/qemu_argv_rewrite.h):
// thread=single on TCG, ram= on nvlab's plugin, everything else untouched. The JSON values are
// libvirt 11.3's own (docs/design/platform.md), the key=value ones QEMU's syntax for the same.

#include "qemu_argv_rewrite.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace nvlab::emulator {
namespace {

using Args = std::vector<std::string>;

constexpr const char* kPlugin =
    "/usr/libexec/nvlab/nvlab-plugin.so,nvdimm=0:0x100000000:16777216:/d/nvdimm0.img,"
    "report=/d/run/cut-report.json,control=/d/run/model.sock";

std::string JsonRam(int node, uint64_t size, const std::string& path = "") {
  const std::string id = "ram-node" + std::to_string(node);
  return R"({"qom-type":"memory-backend-file","id":")" + id + R"(","mem-path":")" +
         (path.empty() ? "/var/lib/libvirt/qemu/ram/1-dom/" + id : path) +
         R"(","share":true,"size":)" + std::to_string(size) + "}";
}

// What libvirt 11.3 gives for a one-node domain with a file-backed, shared RAM and an NVDIMM.
Args LibvirtArgs(const std::vector<std::string>& ram_objects, const std::string& plugin) {
  Args args = {"-name",
               "guest=dom,debug-threads=on",
               "-S",
               "-object",
               R"({"qom-type":"secret","id":"masterKey0","format":"raw","file":"/k.aes"})",
               "-machine",
               "pc-i440fx-10.0,usb=off,dump-guest-core=off,nvdimm=on,acpi=on",
               "-accel",
               "tcg",
               "-cpu",
               "max",
               "-m",
               "size=262144k,slots=2,maxmem=16777216k"};
  for (size_t n = 0; n < ram_objects.size(); ++n) {
    args.insert(args.end(),
                {"-object", ram_objects[n], "-numa",
                 "node,nodeid=" + std::to_string(n) + ",memdev=ram-node" + std::to_string(n)});
  }
  args.insert(
      args.end(),
      {"-object",
       R"({"qom-type":"memory-backend-file","id":"memnvdimm0","mem-path":"/d/nvdimm0.img","share":true,"size":16777216,"pmem":true})",
       "-device",
       R"({"driver":"nvdimm","node":0,"memdev":"memnvdimm0","id":"nvdimm0","slot":0,"addr":4294967296})"});
  if (!plugin.empty()) args.insert(args.end(), {"-plugin", plugin});
  args.insert(args.end(), {"-msg", "timestamp=on"});
  return args;
}

// ArgAfter returns the value that follows option `name` (the first one), or "" when absent.
std::string ArgAfter(const Args& args, const std::string& name) {
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == name) return args[i + 1];
  }
  return "";
}

TEST(QemuArgvRewriteTest, OneJsonNodeGivesThreadSingleAndOneRam) {
  const Args in = LibvirtArgs({JsonRam(0, 268435456)}, kPlugin);
  const Args out = RewriteQemuArguments(in);
  ASSERT_EQ(out.size(), in.size());
  EXPECT_EQ(ArgAfter(out, "-accel"), "tcg,thread=single");
  EXPECT_EQ(ArgAfter(out, "-plugin"),
            std::string(kPlugin) + ",ram=0x0:268435456:/var/lib/libvirt/qemu/ram/1-dom/ram-node0");
  // Nothing else changed.
  for (size_t i = 0; i < in.size(); ++i) {
    if (i > 0 && (in[i - 1] == "-accel" || in[i - 1] == "-plugin")) continue;
    EXPECT_EQ(out[i], in[i]) << "argument " << i;
  }
}

TEST(QemuArgvRewriteTest, TwoJsonNodesAreLaidOutInNodeOrder) {
  // Node 1 listed first: the bases follow the node numbers, not the argv order.
  const Args in = LibvirtArgs({JsonRam(1, 0x4000000), JsonRam(0, 0x8000000)}, kPlugin);
  EXPECT_EQ(FindGuestRamFiles(in),
            (std::vector<GuestRamFile>{
                {0x0, 0x8000000, "/var/lib/libvirt/qemu/ram/1-dom/ram-node0"},
                {0x8000000, 0x4000000, "/var/lib/libvirt/qemu/ram/1-dom/ram-node1"}}));
  EXPECT_EQ(ArgAfter(RewriteQemuArguments(in), "-plugin"),
            std::string(kPlugin) + ",ram=0x0:134217728:/var/lib/libvirt/qemu/ram/1-dom/ram-node0" +
                ",ram=0x8000000:67108864:/var/lib/libvirt/qemu/ram/1-dom/ram-node1");
}

TEST(QemuArgvRewriteTest, KeyValueObjectsAreReadToo) {
  // The first with the implied key qom-type, the second naming it.
  const std::string node0 = "memory-backend-file,id=ram-node0,mem-path=/r/node0,share=on,size=128M";
  const std::string node1 =
      "qom-type=memory-backend-file,id=ram-node1,mem-path=/r/node1,share=yes,size=134217728";
  const Args in = {"-accel", "tcg", "-object", node0, "-object", node1, "-plugin", kPlugin};
  EXPECT_EQ(FindGuestRamFiles(in), (std::vector<GuestRamFile>{{0, 128 << 20, "/r/node0"},
                                                              {128 << 20, 128 << 20, "/r/node1"}}));
  EXPECT_EQ(ArgAfter(RewriteQemuArguments(in), "-plugin"),
            std::string(kPlugin) + ",ram=0x0:134217728:/r/node0,ram=0x8000000:134217728:/r/node1");
}

TEST(QemuArgvRewriteTest, KeyValueSizesTakeBinarySuffixes) {
  auto size_of = [](const std::string& size) -> uint64_t {
    const auto files = FindGuestRamFiles(
        {"-object", "memory-backend-file,id=pc.ram,mem-path=/r,share=on,size=" + size});
    return files.empty() ? 0 : files[0].size;
  };
  EXPECT_EQ(size_of("4096"), 4096u);
  EXPECT_EQ(size_of("4096B"), 4096u);
  EXPECT_EQ(size_of("2k"), 2048u);
  EXPECT_EQ(size_of("2K"), 2048u);
  EXPECT_EQ(size_of("3G"), 3ull << 30);
  EXPECT_EQ(size_of("1T"), 1ull << 40);
  // Unreadable sizes give no ram= at all rather than a guess.
  EXPECT_EQ(size_of("1.5G"), 0u);
  EXPECT_EQ(size_of("0x1000"), 0u);
  EXPECT_EQ(size_of("12X"), 0u);
  EXPECT_EQ(size_of(""), 0u);
  EXPECT_EQ(size_of("99999999999999999999"), 0u);
  EXPECT_EQ(size_of("17179869184G"), 0u);  // 2^34 GiB overflows 64 bits.
}

TEST(QemuArgvRewriteTest, PcRamWithoutNumaIsTheOneRamFile) {
  const Args in = {
      "-machine",
      "pc,memory-backend=pc.ram",
      "-accel",
      "tcg",
      "-object",
      R"({"qom-type":"memory-backend-file","id":"pc.ram","mem-path":"/var/lib/libvirt/qemu/ram/2-d/pc.ram","share":true,"size":536870912})",
      "-plugin",
      kPlugin};
  EXPECT_EQ(ArgAfter(RewriteQemuArguments(in), "-plugin"),
            std::string(kPlugin) + ",ram=0x0:536870912:/var/lib/libvirt/qemu/ram/2-d/pc.ram");
}

TEST(QemuArgvRewriteTest, NoPluginChangesOnlyTheAccelerator) {
  const Args in = LibvirtArgs({JsonRam(0, 268435456)}, "");
  Args expected = in;
  for (size_t i = 0; i + 1 < expected.size(); ++i) {
    if (expected[i] == "-accel") expected[i + 1] = "tcg,thread=single";
  }
  EXPECT_EQ(RewriteQemuArguments(in), expected);
}

TEST(QemuArgvRewriteTest, AnotherPluginIsLeftAlone) {
  for (const std::string plugin :
       {"/usr/lib/qemu/plugins/libinsn.so,inline=on", "/opt/nvlab-plugin.so.bak,x=1",
        "/opt/my-nvlab-plugin.so", "/opt/nvlab-plugin.so/other.so"}) {
    const Args in = LibvirtArgs({JsonRam(0, 268435456)}, plugin);
    EXPECT_EQ(ArgAfter(RewriteQemuArguments(in), "-plugin"), plugin);
  }
}

TEST(QemuArgvRewriteTest, PluginNamedByFileKeyOrDoubleDashIsRecognised) {
  const std::string ram = ",ram=0x0:268435456:/var/lib/libvirt/qemu/ram/1-dom/ram-node0";
  Args in = LibvirtArgs({JsonRam(0, 268435456)}, "");
  in.insert(in.end(), {"--plugin", "file=/p/nvlab-plugin.so,nvdimm=0:0x100000000:64:/n"});
  EXPECT_EQ(ArgAfter(RewriteQemuArguments(in), "--plugin"),
            "file=/p/nvlab-plugin.so,nvdimm=0:0x100000000:64:/n" + ram);
  // A bare file name (no folder) is the same plugin.
  in.back() = "nvlab-plugin.so";
  EXPECT_EQ(ArgAfter(RewriteQemuArguments(in), "--plugin"), "nvlab-plugin.so" + ram);
}

TEST(QemuArgvRewriteTest, TwoNvlabPluginsBothGetRam) {
  Args in = LibvirtArgs({JsonRam(0, 4096)}, kPlugin);
  in.insert(in.end(), {"-plugin", "/b/nvlab-plugin.so"});
  const Args out = RewriteQemuArguments(in);
  EXPECT_EQ(ArgAfter(out, "-plugin"),
            std::string(kPlugin) + ",ram=0x0:4096:/var/lib/libvirt/qemu/ram/1-dom/ram-node0");
  EXPECT_EQ(out.back(),
            "/b/nvlab-plugin.so,ram=0x0:4096:/var/lib/libvirt/qemu/ram/1-dom/ram-node0");
}

TEST(QemuArgvRewriteTest, ExistingRamIsKept) {
  const std::string plugin = std::string(kPlugin) + ",ram=0x0:4096:/mine";
  const Args in = LibvirtArgs({JsonRam(0, 268435456)}, plugin);
  EXPECT_EQ(ArgAfter(RewriteQemuArguments(in), "-plugin"), plugin);
}

TEST(QemuArgvRewriteTest, ExistingThreadIsKept) {
  for (const std::string accel :
       {"tcg,thread=multi", "tcg,thread=single", "tcg,tb-size=64,thread=multi"}) {
    EXPECT_EQ(ArgAfter(RewriteQemuArguments({"-accel", accel}), "-accel"), accel);
  }
}

TEST(QemuArgvRewriteTest, TcgWithOtherPropertiesGetsThreadSingle) {
  EXPECT_EQ(RewriteQemuArguments({"-accel", "tcg,tb-size=64"}),
            (Args{"-accel", "tcg,tb-size=64,thread=single"}));
  EXPECT_EQ(RewriteQemuArguments({"--accel", "tcg"}), (Args{"--accel", "tcg,thread=single"}));
  // A property whose value merely mentions thread= is not the thread property.
  EXPECT_EQ(RewriteQemuArguments({"-accel", "tcg,one-insn-per-tb=on"}),
            (Args{"-accel", "tcg,one-insn-per-tb=on,thread=single"}));
}

TEST(QemuArgvRewriteTest, OtherAcceleratorsAreLeftAlone) {
  for (const std::string accel : {"kvm", "kvm,kernel-irqchip=on", "tcgx", "accel=tcg", "xen"}) {
    EXPECT_EQ(RewriteQemuArguments({"-accel", accel}), (Args{"-accel", accel}));
  }
}

TEST(QemuArgvRewriteTest, MachineAccelIsLeftAlone) {
  // Documented in the header: libvirt never emits it, and thread= has no place there.
  const Args in = {"-machine", "pc,accel=tcg", "-cpu", "max"};
  EXPECT_EQ(RewriteQemuArguments(in), in);
}

TEST(QemuArgvRewriteTest, MalformedJsonObjectsPassThroughAndGiveNoRam) {
  const std::string broken =
      R"({"qom-type":"memory-backend-file","id":"ram-node0","mem-path":"/r","share":true,"size":)";
  const Args in = {"-accel", "tcg", "-object", broken, "-plugin", kPlugin};
  const Args out = RewriteQemuArguments(in);
  EXPECT_EQ(out[3], broken);
  EXPECT_EQ(ArgAfter(out, "-plugin"), kPlugin);
  EXPECT_TRUE(FindGuestRamFiles(in).empty());
}

TEST(QemuArgvRewriteTest, UnreadableGuestRamGivesNoRamAtAll) {
  const auto no_ram = [](const std::vector<std::string>& objects) {
    Args in;
    for (const std::string& o : objects) in.insert(in.end(), {"-object", o});
    in.insert(in.end(), {"-plugin", kPlugin});
    return ArgAfter(RewriteQemuArguments(in), "-plugin") == kPlugin;
  };
  // Size missing, of the wrong type, zero; mem-path missing or not a string.
  EXPECT_TRUE(no_ram(
      {R"({"qom-type":"memory-backend-file","id":"ram-node0","mem-path":"/r","share":true})"}));
  EXPECT_TRUE(no_ram(
      {R"({"qom-type":"memory-backend-file","id":"ram-node0","mem-path":"/r","share":true,"size":-1})"}));
  EXPECT_TRUE(no_ram(
      {R"({"qom-type":"memory-backend-file","id":"ram-node0","mem-path":"/r","share":true,"size":0})"}));
  EXPECT_TRUE(
      no_ram({R"({"qom-type":"memory-backend-file","id":"ram-node0","share":true,"size":4096})"}));
  EXPECT_TRUE(no_ram(
      {R"({"qom-type":"memory-backend-file","id":"ram-node0","mem-path":7,"share":true,"size":4096})"}));
  // Node 1 without node 0: node 0's size, hence node 1's base, is unknown.
  EXPECT_TRUE(no_ram({JsonRam(1, 4096)}));
  // The same node twice.
  EXPECT_TRUE(no_ram({JsonRam(0, 4096), JsonRam(0, 4096, "/other")}));
  // One good node and one that does not parse.
  EXPECT_TRUE(no_ram({JsonRam(0, 4096), R"({"qom-type":"memory-backend-file","id":"ram-node1",)"}));
  // Not JSON objects at all.
  EXPECT_TRUE(no_ram({"[1,2]", "{", "{}", R"({"qom-type":5})"}));
  // Sizes that overflow the address space together.
  EXPECT_TRUE(no_ram({JsonRam(0, 0x8000000000000000), JsonRam(1, 0x8000000000000000)}));
}

TEST(QemuArgvRewriteTest, AnonymousOrPrivateNodesCountForBasesButGiveNoFile) {
  const Args in = {
      "-object",
      R"({"qom-type":"memory-backend-ram","id":"ram-node0","size":4096})",
      "-object",
      R"({"qom-type":"memory-backend-file","id":"ram-node1","mem-path":"/p","share":false,"size":8192})",
      "-object",
      R"({"qom-type":"memory-backend-file","id":"ram-node2","mem-path":"/s","size":8192})",
      "-object",
      JsonRam(3, 4096, "/r3")};
  EXPECT_EQ(FindGuestRamFiles(in), (std::vector<GuestRamFile>{{0x5000, 4096, "/r3"}}));
}

TEST(QemuArgvRewriteTest, NvdimmAndOtherBackendsAreNotGuestRam) {
  const Args in = LibvirtArgs({}, kPlugin);  // Only the NVDIMM's backend and a secret.
  EXPECT_TRUE(FindGuestRamFiles(in).empty());
  EXPECT_EQ(ArgAfter(RewriteQemuArguments(in), "-plugin"), kPlugin);
  // Values that only look like libvirt's: not JSON (a leading blank), other ids.
  EXPECT_TRUE(
      FindGuestRamFiles(
          {"-object", " " + JsonRam(0, 4096), "-object",
           R"({"qom-type":"memory-backend-file","id":"ram-nodeX","mem-path":"/r","share":true,"size":4096})",
           "-object",
           R"({"qom-type":"memory-backend-file","id":"ram-node99999","mem-path":"/r","share":true,"size":4096})"})
          .empty());
}

TEST(QemuArgvRewriteTest, CommasInPaths) {
  // JSON paths are plain strings; the ram= value doubles the comma for QEMU's -plugin list.
  Args in = {"-object", JsonRam(0, 4096, "/var/lib/a,b/ram-node0"), "-plugin", kPlugin};
  EXPECT_EQ(FindGuestRamFiles(in)[0].path, "/var/lib/a,b/ram-node0");
  EXPECT_EQ(ArgAfter(RewriteQemuArguments(in), "-plugin"),
            std::string(kPlugin) + ",ram=0x0:4096:/var/lib/a,,b/ram-node0");
  // key=value paths come doubled and are read back plain.
  in[1] = "memory-backend-file,id=ram-node0,mem-path=/x,,y,,,,z/ram-node0,share=on,size=4096";
  EXPECT_EQ(FindGuestRamFiles(in)[0].path, "/x,y,,z/ram-node0");
  EXPECT_EQ(ArgAfter(RewriteQemuArguments(in), "-plugin"),
            std::string(kPlugin) + ",ram=0x0:4096:/x,,y,,,,z/ram-node0");
  // The plugin's own path may hold doubled commas too; its basename is what counts.
  in[3] = "/opt/a,,b/nvlab-plugin.so,control=/c";
  EXPECT_EQ(ArgAfter(RewriteQemuArguments(in), "-plugin"),
            "/opt/a,,b/nvlab-plugin.so,control=/c,ram=0x0:4096:/x,,y,,,,z/ram-node0");
  // A doubled comma in another value does not hide or fake a ram= key.
  in[3] = "/opt/nvlab-plugin.so,report=/r,,ram=0x0:1:/f";
  EXPECT_EQ(ArgAfter(RewriteQemuArguments(in), "-plugin"),
            "/opt/nvlab-plugin.so,report=/r,,ram=0x0:1:/f,ram=0x0:4096:/x,,y,,,,z/ram-node0");
}

TEST(QemuArgvRewriteTest, CapabilityProbesPassThrough) {
  // What libvirt runs to probe an emulator, and other argv without anything to change.
  const std::vector<Args> probes = {
      {},
      {"-version"},
      {"-help"},
      {"-S", "-no-user-config", "-nodefaults", "-nographic", "-machine", "none,accel=tcg", "-qmp",
       "unix:/var/lib/libvirt/qemu/qmp-X/qmp.monitor,server=on,wait=off", "-pidfile",
       "/var/lib/libvirt/qemu/qmp-X/qmp.pid", "-daemonize"},
      {"-machine", "none", "-device", "help"},
      {"-accel"},   // An option without its value.
      {"-plugin"},  // Idem.
      {"-object"},
      {"-object", JsonRam(0, 4096), "-plugin"},
  };
  for (const Args& probe : probes) EXPECT_EQ(RewriteQemuArguments(probe), probe);
}

TEST(QemuArgvRewriteTest, AnObjectValueIsNeverTakenForAnOption) {
  const Args in = {"-object", "-accel", "-object", "-plugin"};
  EXPECT_EQ(RewriteQemuArguments(in), in);
}

}  // namespace
}  // namespace nvlab::emulator
