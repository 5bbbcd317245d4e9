// libvirt_domain_xml_test.cc -- the libvirt rendering of a machine, read back with libxml2: each
// machine in qemu-configs/ gives the elements of docs/design/libvirt.md (bases, sizes, the kernel
// command line, the plugin's options without ram=), odd names and paths survive escaping, text XML
// cannot carry is refused, and libvirt's own schema accepts every rendering (virt-xml-validate).
// Also ModelPluginArgument, which the renderer and Guest share.

#include "nvlab/libvirt_domain_xml.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "nvlab/hex.h"
#include "nvlab/host_command.h"
#include "nvlab/qemu_command_line.h"

namespace nvlab {
namespace {
namespace fs = std::filesystem;

constexpr char kPlugin[] = "/usr/local/libexec/nvlab/nvlab-plugin.so";
constexpr char kEmulator[] = "/usr/local/libexec/nvlab/nvlab-qemu";

std::vector<fs::path> MachineFiles() {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(fs::path(NVLAB_SOURCE_DIR) / "qemu-configs")) {
    if (entry.path().extension() == ".machine") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

LibvirtDomainSpec Spec(const Machine& m, const std::string& name = "nvlab-test",
                       const fs::path& dir = "/var/lib/nvlab/domains/nvlab-test") {
  LibvirtDomainSpec spec;
  spec.name = name;
  spec.folder.dir = dir;
  spec.emulator = kEmulator;
  for (size_t i = 0; i < m.nvdimms.size(); ++i) {
    spec.nvdimm_files.push_back(spec.folder.nvdimm_file(i));
  }
  spec.model.enabled = true;
  spec.model.plugin = kPlugin;
  spec.model.on_cut = "random:7:0.25";
  spec.model.trace_stores = "user";
  spec.kernel_task_layout = KernelTaskLayout{0x1f000, 0x7a8, 0x5a0, 0x5a4};
  return spec;
}

std::string Render(const Machine& m, const LibvirtDomainSpec& spec) {
  std::string xml;
  const Status s = LibvirtDomainXml(m, spec, &xml);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return xml;
}

// Document is a parsed domain with XPath queries in the domain's namespaces.
class Document {
 public:
  explicit Document(const std::string& xml)
      : doc_(xmlReadMemory(xml.data(), static_cast<int>(xml.size()), "domain.xml", nullptr,
                           XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING),
             xmlFreeDoc),
        context_(doc_ ? xmlXPathNewContext(doc_.get()) : nullptr, xmlXPathFreeContext) {
    if (context_) {
      xmlXPathRegisterNs(context_.get(), BAD_CAST "qemu",
                         BAD_CAST "http://libvirt.org/schemas/domain/qemu/1.0");
      xmlXPathRegisterNs(context_.get(), BAD_CAST "nvlab", BAD_CAST kNvlabDomainNamespace);
    }
  }
  bool ok() const { return context_ != nullptr; }

  // All gives the string value of every node the path selects, in document order.
  std::vector<std::string> All(const std::string& path) const {
    std::vector<std::string> values;
    if (!ok()) return values;
    std::unique_ptr<xmlXPathObject, decltype(&xmlXPathFreeObject)> result(
        xmlXPathEvalExpression(BAD_CAST path.c_str(), context_.get()), xmlXPathFreeObject);
    if (!result || result->nodesetval == nullptr) return values;
    for (int i = 0; i < result->nodesetval->nodeNr; ++i) {
      xmlChar* text = xmlNodeGetContent(result->nodesetval->nodeTab[i]);
      values.emplace_back(text == nullptr ? "" : reinterpret_cast<const char*>(text));
      xmlFree(text);
    }
    return values;
  }
  // One is the value of the one node the path selects ("<none>" / "<several>" otherwise).
  std::string One(const std::string& path) const {
    const std::vector<std::string> values = All(path);
    if (values.size() != 1) return values.empty() ? "<none>" : "<several>";
    return values[0];
  }
  size_t Count(const std::string& path) const { return All(path).size(); }

 private:
  std::unique_ptr<xmlDoc, decltype(&xmlFreeDoc)> doc_;
  std::unique_ptr<xmlXPathContext, decltype(&xmlXPathFreeContext)> context_;
};

std::string Kib(uint64_t bytes) {
  return std::to_string(bytes / 1024);
}

// ------------------------------------------------------------------------- every machine

TEST(LibvirtDomainXmlTest, EveryMachineRendersTheContractsElements) {
  const std::vector<fs::path> files = MachineFiles();
  ASSERT_GE(files.size(), 4u);
  for (const fs::path& file : files) {
    SCOPED_TRACE(file.string());
    Machine m;
    ASSERT_TRUE(LoadMachine(file, &m).ok());
    const LibvirtDomainSpec spec = Spec(m);
    const Document doc(Render(m, spec));
    ASSERT_TRUE(doc.ok());
    const std::string d = spec.folder.dir.string();

    EXPECT_EQ(doc.One("/domain/@type"), "qemu");
    EXPECT_EQ(doc.One("/domain/name"), "nvlab-test");
    EXPECT_EQ(doc.One("/domain/metadata/nvlab:domain/@version"), "1");
    EXPECT_EQ(doc.One("/domain/metadata/nvlab:domain/@machine"), m.name);
    EXPECT_EQ(doc.One("/domain/metadata/nvlab:domain/@dir"), d);
    EXPECT_EQ(doc.One("/domain/metadata/nvlab:domain/@model"), "on");
    EXPECT_EQ(doc.One("/domain/metadata/nvlab:domain/@persistence"), ToString(m.persistence));
    EXPECT_EQ(doc.One("/domain/metadata/nvlab:domain/@on-cut"), "random:7:0.25");

    EXPECT_EQ(doc.One("/domain/os/type"), "hvm");
    EXPECT_EQ(doc.One("/domain/os/type/@arch"), "x86_64");
    EXPECT_EQ(doc.One("/domain/os/type/@machine"), "pc");
    EXPECT_EQ(doc.One("/domain/os/kernel"), d + "/vmlinux");
    EXPECT_EQ(doc.One("/domain/os/initrd"), d + "/initrd");
    EXPECT_EQ(doc.One("/domain/os/cmdline"), KernelCommandLine(m, QemuLaunch()));
    EXPECT_EQ(doc.Count("/domain/features/acpi"), 1u);
    EXPECT_EQ(doc.One("/domain/cpu/@mode"), "maximum");
    // The machine's CPUID changes, as QemuCommandLine gives them to -cpu.
    ASSERT_EQ(doc.Count("/domain/cpu/feature"), m.cpu_features.size());
    for (size_t i = 0; i < m.cpu_features.size(); ++i) {
      const std::string feature = "/domain/cpu/feature[" + std::to_string(i + 1) + "]";
      EXPECT_EQ(doc.One(feature + "/@name"), m.cpu_features[i].name);
      EXPECT_EQ(doc.One(feature + "/@policy"), m.cpu_features[i].enable ? "require" : "disable");
    }
    EXPECT_EQ(doc.One("/domain/vcpu"), std::to_string(m.vcpus));
    EXPECT_EQ(doc.One("/domain/on_poweroff"), "destroy");
    EXPECT_EQ(doc.One("/domain/on_reboot"), "destroy");
    EXPECT_EQ(doc.One("/domain/on_crash"), "destroy");

    // RAM: one shared cell per NUMA node, its vCPUs dealt round-robin as QemuCommandLine does.
    ASSERT_EQ(doc.Count("/domain/cpu/numa/cell"), static_cast<size_t>(m.numa_nodes));
    for (int n = 0; n < m.numa_nodes; ++n) {
      const std::string cell = "/domain/cpu/numa/cell[" + std::to_string(n + 1) + "]";
      EXPECT_EQ(doc.One(cell + "/@id"), std::to_string(n));
      EXPECT_EQ(doc.One(cell + "/@memory"), Kib(m.memory / m.numa_nodes));
      EXPECT_EQ(doc.One(cell + "/@unit"), "KiB");
      EXPECT_EQ(doc.One(cell + "/@memAccess"), "shared");
    }
    EXPECT_EQ(doc.One("/domain/cpu/numa/cell[1]/@cpus"), m.numa_nodes == 1 ? "0,1" : "0");
    EXPECT_EQ(doc.One("/domain/memoryBacking/source/@type"), "file");
    EXPECT_EQ(doc.One("/domain/memoryBacking/access/@mode"), "shared");
    EXPECT_EQ(doc.One("/domain/memory"), Kib(m.memory));
    EXPECT_EQ(doc.One("/domain/maxMemory"), Kib(m.MaxMemory()));
    EXPECT_EQ(doc.One("/domain/maxMemory/@slots"), std::to_string(m.nvdimms.size()));

    EXPECT_EQ(doc.One("/domain/devices/emulator"), kEmulator);
    EXPECT_EQ(doc.One("/domain/devices/serial[@type='file']/source/@path"), d + "/run/console.log");
    EXPECT_EQ(doc.One("/domain/devices/channel[@type='unix']/source/@mode"), "bind");
    EXPECT_EQ(doc.One("/domain/devices/channel[@type='unix']/source/@path"), d + "/run/agent.sock");
    EXPECT_EQ(doc.One("/domain/devices/channel/target/@type"), "virtio");
    EXPECT_EQ(doc.One("/domain/devices/channel/target/@name"), "org.nvlab.agent");
    EXPECT_EQ(doc.One("/domain/devices/memballoon/@model"), "none");

    // Each NVDIMM at nvlab's own base, with its size, node and file.
    ASSERT_EQ(doc.Count("/domain/devices/memory"), m.nvdimms.size());
    for (size_t i = 0; i < m.nvdimms.size(); ++i) {
      const std::string mem = "/domain/devices/memory[" + std::to_string(i + 1) + "]";
      EXPECT_EQ(doc.One(mem + "/@model"), "nvdimm");
      EXPECT_EQ(doc.One(mem + "/@access"), "shared");
      EXPECT_EQ(doc.One(mem + "/source/path"), d + "/nvdimm" + std::to_string(i) + ".img");
      EXPECT_EQ(doc.Count(mem + "/source/pmem"), 1u);
      EXPECT_EQ(doc.One(mem + "/target/size"), Kib(m.nvdimms[i].size));
      EXPECT_EQ(doc.One(mem + "/target/size/@unit"), "KiB");
      EXPECT_EQ(doc.One(mem + "/target/node"), std::to_string(m.nvdimms[i].node));
      EXPECT_EQ(doc.Count(mem + "/target/label"), m.nvdimms[i].label_size != 0 ? 1u : 0u);
      EXPECT_EQ(doc.One(mem + "/address/@type"), "dimm");
      EXPECT_EQ(doc.One(mem + "/address/@slot"), std::to_string(i));
      EXPECT_EQ(doc.One(mem + "/address/@base"), FormatHex(m.NvdimmBase(i)));
    }

    // The plugin with the options nvlab's own launcher gives, but no ram= (nvlab-qemu adds it).
    const std::vector<std::string> args = doc.All("/domain/qemu:commandline/qemu:arg/@value");
    ASSERT_EQ(args.size(), 4u);
    EXPECT_EQ(args[0], "-plugin");
    const std::string& plugin = args[1];
    EXPECT_TRUE(plugin.starts_with(std::string(kPlugin) + ",")) << plugin;
    for (size_t i = 0; i < m.nvdimms.size(); ++i) {
      const std::string want = ",nvdimm=" + std::to_string(i) + ":" + FormatHex(m.NvdimmBase(i)) +
                               ":" + std::to_string(m.nvdimms[i].size) + ":" + d + "/nvdimm" +
                               std::to_string(i) + ".img";
      EXPECT_NE(plugin.find(want), std::string::npos) << plugin;
    }
    EXPECT_EQ(plugin.find("ram="), std::string::npos) << plugin;
    for (const std::string& option :
         {",persistence=" + std::string(ToString(m.persistence)),
          std::string(",on-cut=random:7:0.25"), ",report=" + d + "/run/cut-report.json",
          ",control=" + d + "/run/model.sock", std::string(",trace-stores=user"),
          std::string(",kernel-task=0x1f000:1960:1440:1444")}) {
      EXPECT_NE(plugin.find(option), std::string::npos) << option << " in " << plugin;
    }
    EXPECT_EQ(args[2], "-machine");
    EXPECT_EQ(args[3], m.persistence == Persistence::kEadr ? "nvdimm-persistence=cpu"
                                                           : "nvdimm-persistence=mem-ctrl");
  }
}

TEST(LibvirtDomainXmlTest, ModelOffLeavesThePluginOut) {
  Machine m;
  LibvirtDomainSpec spec = Spec(m);
  spec.model.enabled = false;
  const Document doc(Render(m, spec));
  EXPECT_EQ(doc.All("/domain/qemu:commandline/qemu:arg/@value"),
            std::vector<std::string>({"-machine", "nvdimm-persistence=mem-ctrl"}));
  EXPECT_EQ(doc.One("/domain/metadata/nvlab:domain/@model"), "off");
}

TEST(LibvirtDomainXmlTest, AnotherCpuModelIsAnExactCustomCpuWithLabelsAndOddSizes) {
  Machine m;
  m.cpu = "Skylake-Server";
  m.cpu_features = {{"clwb", true}, {"erms", false}};
  m.vcpus = 3;
  m.numa_nodes = 2;
  m.memory = 1ull << 30;
  m.nvdimms = {Nvdimm{512ull << 20, 1, 128ull << 10}, Nvdimm{2ull << 20, 0, 0}};
  const Document doc(Render(m, Spec(m)));
  EXPECT_EQ(doc.One("/domain/cpu/@mode"), "custom");
  EXPECT_EQ(doc.One("/domain/cpu/@match"), "exact");
  EXPECT_EQ(doc.One("/domain/cpu/model"), "Skylake-Server");
  EXPECT_EQ(doc.One("/domain/cpu/feature[@name='clwb']/@policy"), "require");
  EXPECT_EQ(doc.One("/domain/cpu/feature[@name='erms']/@policy"), "disable");
  EXPECT_EQ(doc.One("/domain/cpu/numa/cell[1]/@cpus"), "0,2");
  EXPECT_EQ(doc.One("/domain/cpu/numa/cell[2]/@cpus"), "1");
  EXPECT_EQ(doc.One("/domain/devices/memory[1]/target/label/size"), "128");
  EXPECT_EQ(doc.One("/domain/devices/memory[1]/target/node"), "1");
  EXPECT_EQ(doc.One("/domain/devices/memory[2]/address/@base"), FormatHex(m.NvdimmBase(1)));
}

// ------------------------------------------------------------------------------ escaping

TEST(LibvirtDomainXmlTest, OddNamesAndPathsComeBackUnchanged) {
  Machine m;
  m.name = "a&b<c>'d\"e\tf\ng\xc3\xa9";  // é in UTF-8
  const fs::path dir = "/tmp/o'dd & <dir> \"x\"/dom,1";
  LibvirtDomainSpec spec = Spec(m, "x.y_Z-9", dir);
  spec.nvdimm_files = {"/srv/nv]]>dimm & co.img"};
  spec.model.on_cut = "keep";
  const std::string xml = Render(m, spec);
  const Document doc(xml);
  ASSERT_TRUE(doc.ok()) << xml;
  EXPECT_EQ(doc.One("/domain/name"), "x.y_Z-9");
  EXPECT_EQ(doc.One("/domain/metadata/nvlab:domain/@machine"), m.name);
  EXPECT_EQ(doc.One("/domain/metadata/nvlab:domain/@dir"), dir.string());
  EXPECT_EQ(doc.One("/domain/os/kernel"), (dir / "vmlinux").string());
  EXPECT_EQ(doc.One("/domain/devices/channel/source/@path"), (dir / "run/agent.sock").string());
  EXPECT_EQ(doc.One("/domain/devices/memory/source/path"), "/srv/nv]]>dimm & co.img");
  // In the plugin's option a ',' of a path is doubled, as QEMU's option syntax reads it.
  const std::string plugin = doc.All("/domain/qemu:commandline/qemu:arg/@value").at(1);
  EXPECT_NE(plugin.find(",report=/tmp/o'dd & <dir> \"x\"/dom,,1/run/cut-report.json"),
            std::string::npos)
      << plugin;
}

TEST(LibvirtDomainXmlTest, TextXmlCannotCarryIsRefused) {
  Machine m;
  for (const std::string& bad : {std::string("/tmp/a\x01"
                                             "b"),
                                 std::string("/tmp/\xff\xfe"), std::string("/tmp/\xc0\xaf"),
                                 std::string("/tmp/\xed\xa0\x80")}) {
    LibvirtDomainSpec spec = Spec(m, "ok", bad);
    std::string xml = "untouched";
    const Status s = LibvirtDomainXml(m, spec, &xml);
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
    EXPECT_NE(s.message().find("libvirt XML"), std::string::npos) << s.message();
    EXPECT_EQ(s.message().find('\x01'), std::string::npos) << "escaped for the terminal";
    EXPECT_EQ(xml, "");
  }
}

TEST(LibvirtDomainXmlTest, SpecsThatCannotBeADomainAreRefused) {
  Machine m;
  std::string xml;
  EXPECT_EQ(LibvirtDomainXml(m, Spec(m, "bad name"), &xml).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(LibvirtDomainXml(m, Spec(m, "ok", "relative/dir"), &xml).code(),
            Status::Code::kInvalidArgument);
  LibvirtDomainSpec spec = Spec(m);
  spec.nvdimm_files.clear();
  EXPECT_EQ(LibvirtDomainXml(m, spec, &xml).code(), Status::Code::kInvalidArgument);
}

TEST(LibvirtDomainXmlTest, DomainNames) {
  for (const char* good : {"a", "default", "two-nvdimms-numa", "A.b_c-9", "0"}) {
    EXPECT_TRUE(IsValidLibvirtDomainName(good)) << good;
  }
  EXPECT_TRUE(IsValidLibvirtDomainName(std::string(48, 'x')));
  EXPECT_FALSE(IsValidLibvirtDomainName(std::string(49, 'x')));
  for (const char* bad : {"", ".hidden", "-opt", "a b", "a/b", "a'b", "\xc3\xa9", "a\n"}) {
    EXPECT_FALSE(IsValidLibvirtDomainName(bad)) << bad;
  }
}

TEST(LibvirtDomainXmlTest, EscapeXml) {
  std::string out;
  ASSERT_TRUE(EscapeXml("a&b<c>'d\"e\tf\ng\rh\xc3\xa9\xf0\x9f\x98\x80", &out));
  EXPECT_EQ(out, "a&amp;b&lt;c&gt;&apos;d&quot;e&#9;f&#10;g&#13;h\xc3\xa9\xf0\x9f\x98\x80");
  EXPECT_FALSE(EscapeXml(std::string("\0", 1), &out));
  EXPECT_FALSE(EscapeXml("\x1b[2J", &out));
  EXPECT_FALSE(EscapeXml("\xef\xbf\xbe", &out));  // U+FFFE
  EXPECT_FALSE(EscapeXml("\xe2\x82", &out));      // cut short
}

// -------------------------------------------------------------------- libvirt's own schema

// Validate runs virt-xml-validate on xml; "" when valid, else its complaint.
std::string Validate(const std::string& xml) {
  char templ[] = "/tmp/nvlab-domain-XXXXXX.xml";
  const int fd = mkstemps(templ, 4);
  if (fd < 0) return "mkstemps failed";
  close(fd);
  std::ofstream(templ) << xml;
  std::string out;
  const Status s = RunHostCommand({"virt-xml-validate", templ, "domain"}, {}, &out);
  unlink(templ);
  return s.ok() ? "" : s.message() + "\n" + out;
}

bool HaveVirtXmlValidate() {
  HostCommandOptions options;
  std::string out;
  return RunHostCommand({"sh", "-c", "command -v virt-xml-validate"}, options, &out).ok();
}

TEST(LibvirtDomainXmlTest, LibvirtsSchemaAcceptsEveryMachine) {
  if (!HaveVirtXmlValidate()) GTEST_SKIP() << "virt-xml-validate (libvirt-clients) is absent";
  for (const fs::path& file : MachineFiles()) {
    Machine m;
    ASSERT_TRUE(LoadMachine(file, &m).ok());
    const std::string xml = Render(m, Spec(m));
    EXPECT_EQ(Validate(xml), "") << file << "\n" << xml;
    LibvirtDomainSpec off = Spec(m);
    off.model.enabled = false;
    EXPECT_EQ(Validate(Render(m, off)), "") << file << " with the model off";
  }
}

TEST(LibvirtDomainXmlTest, LibvirtsSchemaAcceptsOddNamesCustomCpusAndLabels) {
  if (!HaveVirtXmlValidate()) GTEST_SKIP() << "virt-xml-validate (libvirt-clients) is absent";
  Machine m;
  m.name = "a&b<c>'d\"e";
  m.cpu = "Skylake-Server";
  m.cpu_features = {{"clwb", true}, {"fsrm", false}};
  m.nvdimms = {Nvdimm{256ull << 20, 0, 128ull << 10}};
  const std::string xml = Render(m, Spec(m, "odd", "/tmp/o'dd & <dir>"));
  EXPECT_EQ(Validate(xml), "") << xml;
}

// ------------------------------------------------------------------- the plugin's argument

TEST(ModelPluginArgumentTest, GivesEveryOptionInTheOrderGuestAlwaysGaveThem) {
  Machine m;
  m.numa_nodes = 2;
  m.nvdimms.push_back(Nvdimm{});
  ModelConfig model;
  model.plugin = "/p/nvlab-plugin.so";
  model.on_cut = "keep";
  model.cut_after_fences = 3;
  model.trace_stores = "on";
  ModelPluginFiles files;
  files.nvdimm_files = {"/r/nv0", "/r/nv1"};
  files.ram_files = {"/r/ram0", "/r/ram1"};
  files.report = "/r/report.json";
  files.control_socket = "/r/model.sock";
  EXPECT_EQ(ModelPluginArgument(m, model, files, KernelTaskLayout{0x10, 1, 2, 3}),
            "/p/nvlab-plugin.so,nvdimm=0:0x100000000:268435456:/r/nv0,"
            "nvdimm=1:0x140000000:268435456:/r/nv1,ram=0x0:268435456:/r/ram0,"
            "ram=0x10000000:268435456:/r/ram1,persistence=adr,on-cut=keep,report=/r/report.json,"
            "control=/r/model.sock,trace-stores=on,cut-after-fences=3,kernel-task=0x10:1:2:3");
  model.cut_after_fences = 0;
  model.trace_stores = "off";
  files.ram_files.clear();
  EXPECT_EQ(ModelPluginArgument(m, model, files, std::nullopt),
            "/p/nvlab-plugin.so,nvdimm=0:0x100000000:268435456:/r/nv0,"
            "nvdimm=1:0x140000000:268435456:/r/nv1,persistence=adr,on-cut=keep,"
            "report=/r/report.json,control=/r/model.sock");
}

}  // namespace
}  // namespace nvlab
