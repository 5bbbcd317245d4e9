// domain_lab_test.cc -- `nvlab run --domain` and `nvlab power-cycle --domain` against a real
// libvirtd (qemu:///system, as root) and real domains under TCG.
//
// The suite defines its domains from hand-written XML in nvlab's shape (the contract in
// docs/design/interfaces.md, "--domain"), in a 0755 folder under /var/tmp with copies of the
// guest image's kernel and initrd and of nvlab-plugin.so (libvirt-qemu cannot read /root), and
// destroys and undefines them at the end, whatever happened.

#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "nvlab/host_command.h"
#include "nvlab/libvirt/libvirt_connection.h"
#include "nvlab/libvirt/libvirt_domain.h"
#include "nvlab_process.h"

namespace {
namespace fs = std::filesystem;
using nvlab::LibvirtConnection;
using nvlab::LibvirtDomain;
using nvlab::Status;
using nvlab::testing::Describe;
using nvlab::testing::NvlabResult;
using nvlab::testing::RunNvlab;

constexpr char kUri[] = "qemu:///system";

// ---------------------------------------------------------------------------------------------
// LocalLibvirtDaemons: TO BE REPLACED by the shared fixture tests/support/libvirt_daemons.h
// (class LibvirtDaemons) once it is merged. Starts virtlogd and libvirtd (PID 1 is not systemd:
// nothing starts them on demand) unless a libvirtd already answers, and stops only what it
// started, by the PIDs in its own pid files.
class LocalLibvirtDaemons {
 public:
  // Start: OK with a daemon answering on qemu:///system; *why says why it cannot be used.
  Status Start() {
    if (Answers()) return Status::Ok();  // someone else's daemon: use it, never stop it
    char templ[] = "/tmp/nvlab-libvirtd-XXXXXX";
    if (mkdtemp(templ) == nullptr) return Status::IoErrorFromErrno("mkdtemp", errno);
    dir_ = templ;
    std::string ignored;
    const nvlab::HostCommandOptions options;
    NVLAB_RETURN_IF_ERROR(nvlab::RunHostCommand(
        {"virtlogd", "--daemon", "--pid-file=" + (dir_ / "virtlogd.pid").string()}, options,
        &ignored));
    NVLAB_RETURN_IF_ERROR(nvlab::RunHostCommand(
        {"libvirtd", "--daemon", "--pid-file=" + (dir_ / "libvirtd.pid").string()}, options,
        &ignored));
    for (int i = 0; i < 300; ++i) {
      if (Answers()) return Status::Ok();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return Status::Timeout("libvirtd did not answer within 30 s");
  }

  void Stop() {
    if (dir_.empty()) return;
    for (const char* name : {"libvirtd.pid", "virtlogd.pid"}) StopByPidFile(dir_ / name);
    std::error_code ec;
    fs::remove_all(dir_, ec);
    dir_.clear();
  }

 private:
  static bool Answers() {
    LibvirtConnection connection;
    return LibvirtConnection::Open(kUri, &connection).ok();
  }

  static bool Gone(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text;
    std::getline(stat, text);
    const size_t paren = text.rfind(')');
    // A zombie waits for PID 1, which reaps slowly on these hosts: it has ended.
    return !stat || paren == std::string::npos || text.substr(paren + 2, 1) == "Z";
  }

  static void StopByPidFile(const fs::path& file) {
    std::ifstream in(file);
    pid_t pid = 0;
    if (!(in >> pid) || pid <= 1) return;
    kill(pid, SIGTERM);
    for (int i = 0; i < 100 && !Gone(pid); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (!Gone(pid)) kill(pid, SIGKILL);
  }

  fs::path dir_;
};
// ---------------------------------------------------------------------------------------------

// DomainXml is a domain in nvlab's shape for the default machine (1 vCPU: exact cuts with any
// emulator; 512 MiB; one 256 MiB devdax NVDIMM at 4 GiB), its files in `dir`.
struct DomainShape {
  std::string name;
  fs::path dir;
  std::string emulator;
  bool agent_channel = true;
  bool plugin = true;
};

std::string DomainXml(const DomainShape& d) {
  const std::string dir = d.dir.string();
  std::string xml =
      "<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>\n"
      "  <name>" +
      d.name +
      "</name>\n"
      "  <metadata><nvlab:domain xmlns:nvlab='urn:nvlab:domain:1' version='1' "
      "machine='default' dir='" +
      dir +
      "' model='on' persistence='adr' on-cut='lose'/>"
      "</metadata>\n"
      "  <maxMemory slots='1' unit='KiB'>1310720</maxMemory>\n"
      "  <memory unit='KiB'>524288</memory>\n"
      "  <vcpu>1</vcpu>\n"
      "  <os><type arch='x86_64' machine='pc'>hvm</type><kernel>" +
      dir +
      "/vmlinux</kernel>"
      "<initrd>" +
      dir +
      "/initrd</initrd>"
      "<cmdline>console=ttyS0 quiet panic=-1 nvlab.ns=devdax nvlab.nvdimms=1</cmdline></os>\n"
      "  <features><acpi/></features>\n"
      "  <cpu mode='maximum'><numa><cell id='0' cpus='0' memory='524288' unit='KiB' "
      "memAccess='shared'/></numa></cpu>\n"
      "  <memoryBacking><source type='file'/><access mode='shared'/></memoryBacking>\n"
      "  <on_poweroff>destroy</on_poweroff><on_reboot>destroy</on_reboot>"
      "<on_crash>destroy</on_crash>\n"
      "  <devices>\n"
      "    <emulator>" +
      d.emulator +
      "</emulator>\n"
      "    <serial type='file'><source path='" +
      dir + "/run/console.log'/></serial>\n";
  if (d.agent_channel) {
    xml += "    <channel type='unix'><source mode='bind' path='" + dir +
           "/run/agent.sock'/><target type='virtio' name='org.nvlab.agent'/></channel>\n";
  }
  xml += "    <memory model='nvdimm' access='shared'><source><path>" + dir +
         "/nvdimm0.img</path><pmem/></source><target><size unit='KiB'>262144</size>"
         "<node>0</node></target><address type='dimm' slot='0' base='0x100000000'/></memory>\n"
         "    <memballoon model='none'/>\n"
         "  </devices>\n";
  if (d.plugin) {
    xml += "  <qemu:commandline><qemu:arg value='-plugin'/><qemu:arg value='" + dir +
           "/nvlab-plugin.so,nvdimm=0:0x100000000:268435456:" + dir +
           "/nvdimm0.img,persistence=adr,on-cut=lose,report=" + dir +
           "/run/cut-report.json,control=" + dir + "/run/model.sock'/></qemu:commandline>\n";
  }
  return xml + "</domain>\n";
}

// kEmulatorStandIn is a stand-in for nvlab-qemu, TO BE REPLACED by the real wrapper once it is
// merged: -accel tcg gets thread=single, and nvlab-plugin.so gets ram= for libvirt's one
// guest-RAM backend (ram-node0), which the plugin's page walks read.
constexpr char kEmulatorStandIn[] = R"sh(#!/bin/sh
ram=
for a in "$@"; do
  case $a in
  *'"id":"ram-node0"'*)
    path=$(printf '%s' "$a" | sed -n 's/.*"mem-path":"\([^"]*\)".*/\1/p')
    size=$(printf '%s' "$a" | sed -n 's/.*"size":\([0-9]*\).*/\1/p')
    ram=",ram=0x0:$size:$path" ;;
  esac
done
n=$#
prev=
while [ "$n" -gt 0 ]; do
  a=$1; shift; n=$((n - 1))
  if [ "$prev" = -accel ] && [ "$a" = tcg ]; then a=tcg,thread=single; fi
  if [ "$prev" = -plugin ]; then case $a in *nvlab-plugin.so,*) a="$a$ram" ;; esac; fi
  set -- "$@" "$a"
  prev=$a
done
exec /usr/bin/qemu-system-x86_64 "$@"
)sh";

void Copy(const fs::path& from, const fs::path& to, fs::perms perms) {
  fs::copy_file(from, to, fs::copy_options::overwrite_existing);
  fs::permissions(to, perms);
}

class DomainLabTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (geteuid() != 0) {
      skip_ = "needs root: the domains run under qemu:///system";
      return;
    }
    if (access("/usr/sbin/libvirtd", X_OK) != 0) {
      skip_ = "libvirtd is not installed";
      return;
    }
    daemons_ = new LocalLibvirtDaemons();
    Status s = daemons_->Start();
    ASSERT_TRUE(s.ok()) << s.ToString();
    s = LibvirtConnection::Open(kUri, &connection_);
    ASSERT_TRUE(s.ok()) << s.ToString();

    const NvlabResult image = RunNvlab({"image", "--json"});
    ASSERT_EQ(image.exit_status, 0) << Describe(image);
    const auto doc = nlohmann::json::parse(image.out);

    char templ[] = "/var/tmp/nvlab-domain-test-XXXXXX";
    ASSERT_NE(mkdtemp(templ), nullptr);
    dir_ = templ;
    fs::permissions(dir_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                              fs::perms::others_read | fs::perms::others_exec);
    const fs::perms file = fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                           fs::perms::others_read;
    const fs::perms program =
        file | fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec;
    Copy(doc["kernel"].get<std::string>(), dir_ / "vmlinux", file);
    Copy(doc["initrd"].get<std::string>(), dir_ / "initrd", file);
    Copy(fs::path(NVLAB_STAGE_DIR) / "libexec/nvlab/nvlab-plugin.so", dir_ / "nvlab-plugin.so",
         program);
    std::ofstream(dir_ / "nvlab-qemu") << kEmulatorStandIn;
    fs::permissions(dir_ / "nvlab-qemu", program);
    { std::ofstream nvdimm(dir_ / "nvdimm0.img"); }
    fs::resize_file(dir_ / "nvdimm0.img", 256u << 20);
    fs::create_directory(dir_ / "run");
    // QEMU runs as libvirt-qemu: it writes the NVDIMM and makes its sockets in run/.
    std::string ignored;
    s = nvlab::RunHostCommand(
        {"chown", "libvirt-qemu:kvm", (dir_ / "nvdimm0.img").string(), (dir_ / "run").string()}, {},
        &ignored);
    ASSERT_TRUE(s.ok()) << s.ToString();
    fs::permissions(dir_ / "run",
                    fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec);

    const std::string suffix = std::to_string(getpid());
    name_ = "nvlab-test-" + suffix;
    Define({name_, dir_, (dir_ / "nvlab-qemu").string()});
    no_channel_ = "nvlab-test-nochannel-" + suffix;
    Define({no_channel_, dir_, (dir_ / "nvlab-qemu").string(), /*agent_channel=*/false});
    plain_qemu_ = "nvlab-test-plainqemu-" + suffix;
    Define({plain_qemu_, dir_, "/usr/bin/qemu-system-x86_64"});
    LibvirtDomain domain;
    s = LibvirtDomain::Lookup(connection_, name_, &domain);
    ASSERT_TRUE(s.ok()) << s.ToString();
    s = domain.Create();
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  static void TearDownTestSuite() {
    for (const std::string& name : defined_) {
      // Always destroyed and undefined, whatever the tests did.
      if (virDomainPtr d = virDomainLookupByName(connection_.get(), name.c_str())) {
        if (virDomainIsActive(d) == 1) virDomainDestroy(d);
        virDomainUndefine(d);
        virDomainFree(d);
      }
    }
    defined_.clear();
    connection_ = LibvirtConnection();
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
    if (daemons_ != nullptr) daemons_->Stop();
    delete daemons_;
    daemons_ = nullptr;
  }

  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
    ASSERT_NE(connection_.get(), nullptr) << "the suite's set-up failed";
  }

  static void Define(const DomainShape& shape) {
    const std::string xml = DomainXml(shape);
    virDomainPtr d = virDomainDefineXML(connection_.get(), xml.c_str());
    ASSERT_NE(d, nullptr) << nvlab::LibvirtError("define " + shape.name).ToString() << "\n" << xml;
    virDomainFree(d);
    defined_.push_back(shape.name);
  }

  // EnsureRunning starts the main domain when a test left it shut off (a cut by the guest).
  static void EnsureRunning() {
    LibvirtDomain domain;
    ASSERT_TRUE(LibvirtDomain::Lookup(connection_, name_, &domain).ok());
    bool active = false;
    ASSERT_TRUE(domain.IsActive(&active).ok());
    if (!active) {
      ASSERT_TRUE(domain.Create().ok());
    }
  }

  static bool IsRunning(const std::string& name) {
    LibvirtDomain domain;
    bool active = false;
    return LibvirtDomain::Lookup(connection_, name, &domain).ok() &&
           domain.IsActive(&active).ok() && active;
  }

  static std::string skip_;
  static LocalLibvirtDaemons* daemons_;
  static LibvirtConnection connection_;
  static fs::path dir_;
  static std::string name_;
  static std::string no_channel_;
  static std::string plain_qemu_;
  static std::vector<std::string> defined_;
};

std::string DomainLabTest::skip_;
LocalLibvirtDaemons* DomainLabTest::daemons_ = nullptr;
LibvirtConnection DomainLabTest::connection_;
fs::path DomainLabTest::dir_;
std::string DomainLabTest::name_;
std::string DomainLabTest::no_channel_;
std::string DomainLabTest::plain_qemu_;
std::vector<std::string> DomainLabTest::defined_;

TEST_F(DomainLabTest, RunPrintsTheOutputAndExitsWithTheCommandsStatus) {
  EnsureRunning();
  // The domain may still be booting: nvlab waits for the agent's answer to its hello-request.
  const auto r = RunNvlab(
      {"run", "--domain", name_, "--connect", kUri, "--", "echo out; echo err >&2; exit 7"});
  EXPECT_EQ(r.exit_status, 7) << Describe(r);
  EXPECT_EQ(r.out, "out\n") << Describe(r);
  EXPECT_NE(r.err.find("err\n"), std::string::npos) << Describe(r);
  EXPECT_TRUE(IsRunning(name_));
}

TEST_F(DomainLabTest, RunsOneAfterAnotherEachGetTheirOwnHello) {
  EnsureRunning();
  for (int i = 0; i < 3; ++i) {
    const auto r = RunNvlab({"run", "--domain", name_, "--", "echo", "run-" + std::to_string(i)});
    EXPECT_EQ(r.exit_status, 0) << Describe(r);
    EXPECT_EQ(r.out, "run-" + std::to_string(i) + "\n") << Describe(r);
  }
}

TEST_F(DomainLabTest, RunJsonIsTheSameDocumentAsForGuestsNvlabBoots) {
  EnsureRunning();
  const auto r = RunNvlab({"run", "--domain", name_, "--json", "--", "sh", "-c", "exit 3"});
  EXPECT_EQ(r.exit_status, 3) << Describe(r);
  const auto doc = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(doc.is_discarded()) << Describe(r);
  EXPECT_EQ(doc["exit_status"], 3);
  EXPECT_EQ(doc["signaled"], false);
  EXPECT_EQ(doc["nvlab_pmem"], "/dev/dax0.0");
  EXPECT_EQ(doc["command"], nlohmann::json({"sh", "-c", "exit 3"}));
  EXPECT_TRUE(doc.contains("boot_seconds"));
  EXPECT_TRUE(doc.contains("command_seconds"));
}

TEST_F(DomainLabTest, ADomainThatDoesNotExistIsALabFailureNamingIt) {
  const auto r = RunNvlab({"run", "--domain", "nvlab-test-no-such-domain", "--", "true"});
  EXPECT_EQ(r.exit_status, 125) << Describe(r);
  EXPECT_NE(r.err.find("no libvirt domain named nvlab-test-no-such-domain on qemu:///system"),
            std::string::npos)
      << Describe(r);
}

TEST_F(DomainLabTest, AStoppedDomainIsALabFailureThatSaysHowToStartIt) {
  ASSERT_FALSE(IsRunning(plain_qemu_));
  const auto r = RunNvlab({"run", "--domain", plain_qemu_, "--", "true"});
  EXPECT_EQ(r.exit_status, 125) << Describe(r);
  EXPECT_NE(r.err.find("the libvirt domain " + plain_qemu_ +
                       " is not running (start it: "
                       "virsh start " +
                       plain_qemu_ + ")"),
            std::string::npos)
      << Describe(r);
}

TEST_F(DomainLabTest, ADomainWithoutTheAgentChannelIsNamedWithTheFix) {
  const auto r = RunNvlab({"run", "--domain", no_channel_, "--", "true"});
  EXPECT_EQ(r.exit_status, 125) << Describe(r);
  EXPECT_NE(r.err.find("the libvirt domain " + no_channel_ + " has no org.nvlab.agent channel"),
            std::string::npos)
      << Describe(r);
  EXPECT_NE(r.err.find("nvlab machine MACHINE --libvirt-xml"), std::string::npos) << Describe(r);
  EXPECT_FALSE(IsRunning(no_channel_));
}

TEST_F(DomainLabTest, PowerCycleRefusesADomainWithoutNvlabQemuBeforeRunningAnything) {
  const auto r =
      RunNvlab({"power-cycle", "--domain", plain_qemu_, "--before", "true", "--after", "true"});
  EXPECT_EQ(r.exit_status, 125) << Describe(r);
  EXPECT_NE(r.err.find("runs the emulator '/usr/bin/qemu-system-x86_64', not nvlab-qemu"),
            std::string::npos)
      << Describe(r);
  EXPECT_FALSE(IsRunning(plain_qemu_));
}

TEST_F(DomainLabTest, OptionsThatShapeAGuestAreUsageErrors) {
  const auto r = RunNvlab({"run", "--domain", name_, "--nvdimm", "512M", "--", "true"});
  EXPECT_EQ(r.exit_status, 2) << Describe(r);
  EXPECT_NE(r.err.find("--nvdimm cannot be used with --domain"), std::string::npos) << Describe(r);
}

TEST_F(DomainLabTest, PowerCycleKeepsFlushedRecordsAndLosesUnflushedOnes) {
  EnsureRunning();
  const auto r = RunNvlab({"power-cycle", "--domain", name_, "--json", "--before",
                           "nvlab-records write \"$NVLAB_PMEM\"", "--after",
                           "nvlab-records check \"$NVLAB_PMEM\""});
  ASSERT_EQ(r.exit_status, 0) << Describe(r);
  EXPECT_NE(r.out.find("record pattern=flush-drain index=0 survived=yes"), std::string::npos)
      << Describe(r);
  EXPECT_NE(r.out.find("record pattern=noflush index=0 survived=no"), std::string::npos)
      << Describe(r);
  const size_t json_start = r.out.find("\n{");
  ASSERT_NE(json_start, std::string::npos) << Describe(r);
  const auto doc = nlohmann::json::parse(r.out.substr(json_start + 1), nullptr, false);
  ASSERT_FALSE(doc.is_discarded()) << Describe(r);
  EXPECT_EQ(doc["machine"], "default");
  EXPECT_EQ(doc["persistence"], "adr");
  EXPECT_EQ(doc["cut"]["model"], true);
  EXPECT_EQ(doc["cut"]["on_cut"], "lose");
  EXPECT_EQ(doc["cut"]["report"]["trigger"], "host");
  EXPECT_GE(doc["cut"]["report"]["lost_lines"].size(), 1u);
  EXPECT_EQ(doc["after"]["exit_status"], 0);
  // What nvlab found running it leaves running: booted again after the cut.
  EXPECT_TRUE(IsRunning(name_));
}

TEST_F(DomainLabTest, PowerCycleSummaryIsTheSameAsForGuestsNvlabBoots) {
  EnsureRunning();
  const auto r = RunNvlab({"power-cycle", "--domain", name_, "--before",
                           "nvlab-records write \"$NVLAB_PMEM\" --pattern noflush --count 1",
                           "--after", "true"});
  ASSERT_EQ(r.exit_status, 0) << Describe(r);
  EXPECT_NE(r.err.find("nvlab: power-cycle on default (adr, model on, on-cut lose)"),
            std::string::npos)
      << Describe(r);
  EXPECT_NE(r.err.find("nvlab:   cut: trigger host, 1 NVDIMM lines lost"), std::string::npos)
      << Describe(r);
  EXPECT_NE(r.err.find("nvlab:   after: exit 0"), std::string::npos) << Describe(r);
}

TEST_F(DomainLabTest, RunWhoseCommandCutsThePowerPrintsTheCutAndLeavesTheDomainOff) {
  EnsureRunning();
  const auto r =
      RunNvlab({"run", "--domain", name_, "--",
                "nvlab-records write \"$NVLAB_PMEM\" --pattern noflush --count 1 --cut"});
  EXPECT_EQ(r.exit_status, 0) << Describe(r);
  EXPECT_NE(r.err.find("cut: trigger guest, 1 NVDIMM lines lost"), std::string::npos)
      << Describe(r);
  EXPECT_FALSE(IsRunning(name_));
  const auto again = RunNvlab({"run", "--domain", name_, "--", "true"});
  EXPECT_EQ(again.exit_status, 125) << Describe(again);
  EXPECT_NE(again.err.find("is not running"), std::string::npos) << Describe(again);
}

}  // namespace
