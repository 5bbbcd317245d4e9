// nvlab-qemu under real libvirt (qemu:///system, as root): libvirt probes it as it probes any
// emulator, and a domain shaped like nvlab's (file-backed shared RAM, an NVDIMM, the plugin
// through <qemu:commandline>) runs the real QEMU with -accel tcg,thread=single and the plugin
// given ram= for the guest's RAM file. The domain starts paused: no kernel is needed.
//
// QEMU runs as libvirt-qemu, which cannot reach the build tree (under /root, 0700): the test
// copies nvlab-qemu and nvlab-plugin.so into a fresh 0755 folder under /var/tmp. It leaves no
// domain defined, no folder and no capability cache entry behind, also when an assertion fails.

#include <fcntl.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "libvirt_test_environment.h"
#include "nvlab/file_contents.h"

namespace nvlab {
namespace {

namespace fs = std::filesystem;

// GoogleTest's global environments are global by nature: this one starts libvirt once for the
// binary (tests/support/libvirt_test_environment.h).
testing::LibvirtTestEnvironment* const libvirt = testing::LibvirtTestEnvironment::Install();

constexpr uint64_t kRamBytes = 256ull << 20;
constexpr uint64_t kNvdimmBytes = 16ull << 20;

void IgnoreLibvirtError(void* /*data*/, virErrorPtr /*error*/) {}

std::string LibvirtError() {
  const char* message = virGetLastErrorMessage();
  return message != nullptr ? message : "(no libvirt error)";
}

std::vector<std::string> SplitNul(const std::string& text) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t nul = text.find('\0', start); nul != std::string::npos;
       nul = text.find('\0', start)) {
    parts.push_back(text.substr(start, nul - start));
    start = nul + 1;
  }
  return parts;
}

std::string ArgAfter(const std::vector<std::string>& args, const std::string& name) {
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == name) return args[i + 1];
  }
  return "";
}

// RemoveCapabilityCache removes libvirt's cached capabilities of `emulator`: one XML file per
// emulator path, which would otherwise pile up, one per run, since each run's path is new.
void RemoveCapabilityCache(const fs::path& emulator) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/var/cache/libvirt/qemu/capabilities", ec)) {
    std::string xml;
    if (entry.path().extension() == ".xml" && ReadFileContents(entry.path(), &xml).ok() &&
        xml.find("<emulator>" + emulator.string() + "</emulator>") != std::string::npos) {
      fs::remove(entry.path(), ec);
    }
  }
}

// PingPlugin sends "ping\n" to the plugin's control socket and returns the answer.
std::string PingPlugin(const fs::path& socket_path) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "socket: " + std::string(std::strerror(errno));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, socket_path.c_str(), sizeof(address.sun_path) - 1);
  std::string answer;
  if (connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    answer = "connect: " + std::string(std::strerror(errno));
  } else if (write(fd, "ping\n", 5) != 5) {
    answer = "write: " + std::string(std::strerror(errno));
  } else {
    char buffer[64];
    while (answer.find('\n') == std::string::npos) {
      const ssize_t n = read(fd, buffer, sizeof(buffer));
      if (n <= 0) break;
      answer.append(buffer, static_cast<size_t>(n));
    }
  }
  close(fd);
  return answer;
}

class NvlabQemuLibvirtTest : public ::testing::Test {
 protected:
  void SetUp() override {
    NVLAB_REQUIRE_LIBVIRT(libvirt);
    // Failures print libvirt's last error themselves; its own printing to stderr would only
    // add noise (e.g. for the lookup that checks the domain is gone).
    virSetErrorFunc(nullptr, IgnoreLibvirtError);
    const passwd* qemu_user = getpwnam("libvirt-qemu");
    ASSERT_NE(qemu_user, nullptr) << "libvirt-daemon-system creates the user libvirt-qemu";
    char dir_template[] = "/var/tmp/nvlab-qemu-test-XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr) << std::strerror(errno);
    dir_ = dir_template;
    ASSERT_EQ(chmod(dir_.c_str(), 0755), 0) << std::strerror(errno);
    emulator_ = dir_ / "nvlab-qemu";
    plugin_ = dir_ / "nvlab-plugin.so";
    fs::copy_file(NVLAB_STAGE_LIBEXECDIR "/nvlab-qemu", emulator_);
    fs::copy_file(NVLAB_STAGE_LIBEXECDIR "/nvlab-plugin.so", plugin_);
    fs::permissions(emulator_, fs::perms(0755));
    fs::permissions(plugin_, fs::perms(0644));
    nvdimm_ = dir_ / "nvdimm0.img";
    {
      std::ofstream(nvdimm_).close();
      fs::resize_file(nvdimm_, kNvdimmBytes);
    }
    // The plugin (inside QEMU, as libvirt-qemu) binds its control socket here.
    run_ = dir_ / "run";
    fs::create_directory(run_);
    ASSERT_EQ(chown(run_.c_str(), qemu_user->pw_uid, qemu_user->pw_gid), 0) << std::strerror(errno);
    fs::permissions(run_, fs::perms(0750));

    conn_ = virConnectOpen(libvirt->uri());
    ASSERT_NE(conn_, nullptr) << LibvirtError();
    name_ = "nvlab-qemu-test-" + std::to_string(getpid());
  }

  void TearDown() override {
    if (domain_ != nullptr) {
      if (virDomainIsActive(domain_) == 1 && virDomainDestroy(domain_) != 0) {
        ADD_FAILURE() << "destroy " << name_ << ": " << LibvirtError();
      }
      if (virDomainUndefine(domain_) != 0) {
        ADD_FAILURE() << "undefine " << name_ << ": " << LibvirtError();
      }
      virDomainFree(domain_);
      std::error_code ec;
      fs::remove("/var/log/libvirt/qemu/" + name_ + ".log", ec);
    }
    if (conn_ != nullptr) {
      virDomainPtr left = virDomainLookupByName(conn_, name_.c_str());
      EXPECT_EQ(left, nullptr) << name_ << " is still defined";
      if (left != nullptr) virDomainFree(left);
      virConnectClose(conn_);
    }
    if (!dir_.empty()) {
      RemoveCapabilityCache(emulator_);
      std::error_code ec;
      fs::remove_all(dir_, ec);
    }
  }

  std::string DomainXml() const {
    const std::string plugin_arg =
        plugin_.string() + ",nvdimm=0:0x100000000:" + std::to_string(kNvdimmBytes) + ":" +
        nvdimm_.string() + ",report=" + (run_ / "cut-report.json").string() +
        ",control=" + (run_ / "model.sock").string();
    return "<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>\n"
           "  <name>" +
           name_ +
           "</name>\n"
           "  <maxMemory slots='2' unit='KiB'>16777216</maxMemory>\n"
           "  <memory unit='KiB'>" +
           std::to_string(kRamBytes / 1024) +
           "</memory>\n"
           "  <vcpu>2</vcpu>\n"
           "  <memoryBacking><source type='file'/><access mode='shared'/></memoryBacking>\n"
           "  <os><type arch='x86_64' machine='pc'>hvm</type></os>\n"
           "  <features><acpi/></features>\n"
           "  <cpu mode='maximum'><numa><cell id='0' cpus='0-1' memory='" +
           std::to_string(kRamBytes / 1024) +
           "' unit='KiB' memAccess='shared'/></numa></cpu>\n"
           "  <on_poweroff>destroy</on_poweroff><on_reboot>destroy</on_reboot>"
           "<on_crash>destroy</on_crash>\n"
           "  <devices>\n"
           "    <emulator>" +
           emulator_.string() +
           "</emulator>\n"
           "    <memory model='nvdimm' access='shared'>\n"
           "      <source><path>" +
           nvdimm_.string() +
           "</path><pmem/></source>\n"
           "      <target><size unit='KiB'>" +
           std::to_string(kNvdimmBytes / 1024) +
           "</size><node>0</node></target>\n"
           "      <address type='dimm' slot='0' base='0x100000000'/>\n"
           "    </memory>\n"
           "    <memballoon model='none'/>\n"
           "  </devices>\n"
           "  <qemu:commandline>\n"
           "    <qemu:arg value='-plugin'/><qemu:arg value='" +
           plugin_arg +
           "'/>\n"
           "  </qemu:commandline>\n"
           "</domain>\n";
  }

  fs::path dir_, emulator_, plugin_, nvdimm_, run_;
  std::string name_;
  virConnectPtr conn_ = nullptr;
  virDomainPtr domain_ = nullptr;
};

TEST_F(NvlabQemuLibvirtTest, LibvirtProbesTheWrapperLikeQemu) {
  char* caps = virConnectGetDomainCapabilities(conn_, emulator_.c_str(), "x86_64", "pc", "qemu", 0);
  ASSERT_NE(caps, nullptr) << LibvirtError();
  const std::string xml = caps;
  free(caps);
  EXPECT_NE(xml.find("<path>" + emulator_.string() + "</path>"), std::string::npos) << xml;
  EXPECT_NE(xml.find("<domain>qemu</domain>"), std::string::npos) << xml;
}

TEST_F(NvlabQemuLibvirtTest, DomainRunsSingleThreadedTcgWithRamForThePlugin) {
  const std::string xml = DomainXml();
  domain_ = virDomainDefineXML(conn_, xml.c_str());
  ASSERT_NE(domain_, nullptr) << LibvirtError() << "\n" << xml;
  ASSERT_EQ(virDomainCreateWithFlags(domain_, VIR_DOMAIN_START_PAUSED), 0) << LibvirtError();

  std::string pid_text;
  const fs::path pid_file = "/run/libvirt/qemu/" + name_ + ".pid";
  ASSERT_TRUE(ReadFileContents(pid_file, &pid_text).ok()) << pid_file;
  const std::string proc = "/proc/" + std::to_string(std::stol(pid_text));
  std::string cmdline;
  ASSERT_TRUE(ReadFileContents(proc + "/cmdline", &cmdline).ok()) << proc;
  const std::vector<std::string> args = SplitNul(cmdline);
  ASSERT_FALSE(args.empty());

  // The wrapper exec'd the real QEMU (argv[0] names it) with the two changes.
  EXPECT_EQ(args[0], NVLAB_QEMU_BINARY);
  EXPECT_EQ(ArgAfter(args, "-accel"), "tcg,thread=single");
  const std::string plugin = ArgAfter(args, "-plugin");
  const std::string ram_prefix = ",ram=0x0:" + std::to_string(kRamBytes) + ":";
  const size_t ram_at = plugin.find(ram_prefix);
  ASSERT_NE(ram_at, std::string::npos) << plugin;
  const fs::path ram_file = plugin.substr(ram_at + ram_prefix.size());
  EXPECT_TRUE(ram_file.string().starts_with("/var/lib/libvirt/qemu/ram/")) << ram_file;
  EXPECT_EQ(ram_file.filename(), "ram-node0");
  EXPECT_TRUE(fs::is_regular_file(ram_file)) << ram_file;
  EXPECT_EQ(fs::file_size(ram_file), kRamBytes);
  // The rest of the plugin argument is what the XML gave, unchanged; one ram= only.
  EXPECT_TRUE(plugin.starts_with(plugin_.string() + ",nvdimm=0:0x100000000:")) << plugin;
  EXPECT_EQ(plugin.find(",ram=", ram_at + 1), std::string::npos) << plugin;

  // With thread=single, QEMU (debug-threads=on from libvirt) runs all vCPUs in one thread
  // named "ALL CPUs/TCG"; multi-threaded TCG would have "CPU 0/TCG" and "CPU 1/TCG".
  std::map<std::string, int> threads;
  for (const auto& task : fs::directory_iterator(proc + "/task")) {
    std::string comm;
    if (ReadFileContents(task.path() / "comm", &comm).ok()) {
      if (!comm.empty() && comm.back() == '\n') comm.pop_back();
      ++threads[comm];
    }
  }
  EXPECT_EQ(threads["ALL CPUs/TCG"], 1);
  EXPECT_EQ(threads.count("CPU 0/TCG") + threads.count("CPU 1/TCG"), 0u);

  // QEMU accepted the plugin's options, ram= included: its control socket answers.
  EXPECT_EQ(PingPlugin(run_ / "model.sock"), "pong\n");
}

}  // namespace
}  // namespace nvlab
