// domain_lab_test.cc -- `nvlab run --domain` and `nvlab power-cycle --domain` against a real
// libvirtd (qemu:///system, as root) and real domains under TCG, defined from what
// `nvlab machine --libvirt-xml` prints: the product's own path from a machine to a domain.
//
// libvirt runs QEMU as libvirt-qemu, which must reach the emulator wrapper, the plugin and the
// domain folders. The build tree may lie under a folder it cannot enter (a 0700 home, wherever
// CI clones), so the suite installs the build (`cmake --install`) into a fresh 0755 folder under
// /var/tmp and runs that prefix's bin/nvlab: its domains run PREFIX/libexec/nvlab/nvlab-qemu and
// PREFIX/libexec/nvlab/nvlab-plugin.so, as an installed nvlab's do. (`nvlab machine` refuses
// paths libvirt-qemu cannot reach, so a mistake here is a clear set-up failure.) The guest image
// is NVLAB_HOME's, built by the nvlab.image fixture; `nvlab machine` copies its kernel and initrd.
//
// The negative cases are nvlab's own XML with the one piece they lack taken out (the agent
// channel) or swapped (the plain QEMU emulator): hand-edited, never started.
//
// libvirt's daemons come from the shared fixture (tests/support/libvirt_test_environment.h):
// one process for the whole binary, CTest labels libvirt and tcg, RESOURCE_LOCK libvirtd. At
// the end the suite destroys and undefines its domains and removes its folder, libvirt's logs of
// its domains and libvirt's cached capabilities of its emulator, whatever happened.

#include <libvirt/libvirt.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "libvirt_test_environment.h"
#include "nvlab/deadline.h"
#include "nvlab/file_contents.h"
#include "nvlab/host_command.h"
#include "nvlab/libvirt/libvirt_connection.h"
#include "nvlab/libvirt/libvirt_domain.h"
#include "nvlab/subprocess.h"

namespace {
namespace fs = std::filesystem;
using nvlab::LibvirtConnection;
using nvlab::LibvirtDomain;
using nvlab::Status;

// GoogleTest's global environments are global by nature: this one starts libvirt once for the
// binary.
nvlab::testing::LibvirtTestEnvironment* const libvirt =
    nvlab::testing::LibvirtTestEnvironment::Install();

constexpr char kUri[] = "qemu:///system";
constexpr char kPlainQemu[] = "/usr/bin/qemu-system-x86_64";

struct NvlabResult {
  int exit_status = -1;
  std::string out;
  std::string err;
};

std::string Describe(const NvlabResult& r) {
  return "exit " + std::to_string(r.exit_status) + "\n--- stdout ---\n" + r.out +
         "\n--- stderr ---\n" + r.err;
}

// RunNvlab runs the installed `nvlab args...` and collects its output.
NvlabResult RunNvlab(const fs::path& nvlab, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {nvlab.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  nvlab::SubprocessOptions options;
  options.stdout_to = nvlab::SubprocessOptions::Stream::kCapture;
  options.stderr_to = nvlab::SubprocessOptions::Stream::kCapture;
  NvlabResult result;
  nvlab::Subprocess process;
  const Status started = nvlab::Subprocess::Start(argv, options, &process);
  if (!started.ok()) {
    ADD_FAILURE() << started.ToString();
    return result;
  }
  // Past CTest's own timeout a hung nvlab is killed anyway; this one names the culprit.
  const Status waited = process.Wait(nvlab::Deadline::In(std::chrono::minutes(9)));
  if (!waited.ok()) ADD_FAILURE() << waited.ToString();
  result.out = std::move(process.stdout_text());
  result.err = std::move(process.stderr_text());
  result.exit_status = process.exited() ? process.exit_code() : 128 + process.term_signal();
  return result;
}

// Replaced is xml with its one occurrence of `from` replaced by `to`; empty when `from` is not
// there exactly once (the rendering changed: the test must follow it).
std::string Replaced(const std::string& xml, const std::string& from, const std::string& to) {
  const size_t at = xml.find(from);
  if (from.empty() || at == std::string::npos || xml.find(from, at + 1) != std::string::npos) {
    return "";
  }
  return xml.substr(0, at) + to + xml.substr(at + from.size());
}

// Element is the text of xml's first <name ...>...</name> element (nvlab's rendering does not
// nest elements of one name); empty when there is none.
std::string Element(const std::string& xml, const std::string& name) {
  const size_t start = xml.find("<" + name + " ");
  const std::string end = "</" + name + ">";
  const size_t stop = start == std::string::npos ? start : xml.find(end, start);
  return stop == std::string::npos ? "" : xml.substr(start, stop + end.size() - start);
}

// RemoveCapabilityCache removes libvirt's cached capabilities of `emulator`: one XML file per
// emulator path, which would otherwise pile up, one per run, since each run's prefix is new.
void RemoveCapabilityCache(const fs::path& emulator) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/var/cache/libvirt/qemu/capabilities", ec)) {
    std::string xml;
    if (entry.path().extension() == ".xml" && nvlab::ReadFileContents(entry.path(), &xml).ok() &&
        xml.find("<emulator>" + emulator.string() + "</emulator>") != std::string::npos) {
      fs::remove(entry.path(), ec);
    }
  }
}

class DomainLabTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!libvirt->status().ok()) return;  // each test skips or fails on it (SetUp)
    set_up_ = true;

    char templ[] = "/var/tmp/nvlab-domain-test-XXXXXX";
    ASSERT_NE(mkdtemp(templ), nullptr) << std::strerror(errno);
    dir_ = templ;
    ASSERT_EQ(chmod(dir_.c_str(), 0755), 0) << std::strerror(errno);

    // The build, installed where libvirt-qemu can reach it. umask 022: the folders cmake
    // makes must be searchable by everyone, whatever umask CTest was started with.
    const fs::path prefix = dir_ / "prefix";
    std::string out;
    const Status installed = nvlab::RunHostCommand(
        {"sh", "-c", "umask 022 && exec \"$0\" --install \"$1\" --prefix \"$2\"",
         NVLAB_CMAKE_COMMAND, NVLAB_BUILD_DIR, prefix.string()},
        {}, &out);
    ASSERT_TRUE(installed.ok()) << installed.ToString() << "\n" << out;
    nvlab_ = prefix / "bin/nvlab";
    emulator_ = prefix / "libexec/nvlab/nvlab-qemu";

    LibvirtConnection connection;
    const Status opened = LibvirtConnection::Open(kUri, &connection);
    ASSERT_TRUE(opened.ok()) << opened.ToString();
    connection_ = new LibvirtConnection(std::move(connection));

    const std::string suffix = std::to_string(getpid());
    name_ = "nvlab-test-" + suffix;
    std::string xml;
    Render(name_, &xml);
    ASSERT_FALSE(xml.empty());
    ASSERT_NE(xml.find("<emulator>" + emulator_.string() + "</emulator>"), std::string::npos)
        << xml;
    Define(name_, xml);

    no_channel_ = "nvlab-test-nochannel-" + suffix;
    Render(no_channel_, &xml);
    const std::string channel = Element(xml, "channel");
    ASSERT_NE(channel.find("name='org.nvlab.agent'"), std::string::npos) << xml;
    Define(no_channel_, Replaced(xml, channel, ""));

    plain_qemu_ = "nvlab-test-plainqemu-" + suffix;
    Render(plain_qemu_, &xml);
    Define(plain_qemu_, Replaced(xml, "<emulator>" + emulator_.string() + "</emulator>",
                                 std::string("<emulator>") + kPlainQemu + "</emulator>"));

    LibvirtDomain domain;
    Status s = LibvirtDomain::Lookup(*connection_, name_, &domain);
    ASSERT_TRUE(s.ok()) << s.ToString();
    s = domain.Create();
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  static void TearDownTestSuite() {
    if (connection_ != nullptr) {
      for (const std::string& name : defined_) {
        // Always destroyed and undefined, whatever the tests did.
        if (virDomainPtr d = virDomainLookupByName(connection_->get(), name.c_str())) {
          if (virDomainIsActive(d) == 1 && virDomainDestroy(d) != 0) {
            ADD_FAILURE() << nvlab::LibvirtError("destroy " + name).ToString();
          }
          if (virDomainUndefine(d) != 0) {
            ADD_FAILURE() << nvlab::LibvirtError("undefine " + name).ToString();
          }
          virDomainFree(d);
        }
        std::error_code ec;
        fs::remove("/var/log/libvirt/qemu/" + name + ".log", ec);
      }
    }
    defined_.clear();
    delete connection_;
    connection_ = nullptr;
    if (!dir_.empty()) {
      if (!emulator_.empty()) RemoveCapabilityCache(emulator_);
      std::error_code ec;
      fs::remove_all(dir_, ec);
    }
  }

  void SetUp() override {
    NVLAB_REQUIRE_LIBVIRT(libvirt);
    ASSERT_TRUE(set_up_ && connection_ != nullptr && defined_.size() == 3)
        << "the suite's set-up failed (its first test shows why)";
  }

  // A failed test shows what its QEMUs left: libvirt's log of each domain (the suite removes
  // them at its end), and the host kernel's lines about a crashed process (a QEMU that dies of
  // a signal at start prints nothing itself; libvirt then only says it closed the monitor).
  void TearDown() override {
    if (!HasFailure()) return;
    for (const std::string& name : defined_) {
      std::string log;
      if (!nvlab::ReadFileContents("/var/log/libvirt/qemu/" + name + ".log", &log).ok()) continue;
      if (log.size() > 4000) log = log.substr(log.size() - 4000);
      std::cout << "--- libvirt's QEMU log of " << name << " (its end) ---\n" << log << "\n";
    }
    std::string kernel;
    if (nvlab::RunHostCommand({"dmesg"}, {}, &kernel).ok()) {
      std::istringstream lines(kernel);
      std::cout << "--- host kernel lines on crashed processes ---\n";
      for (std::string line; std::getline(lines, line);) {
        if (line.find("segfault") != std::string::npos ||
            line.find("traps:") != std::string::npos || line.find("qemu") != std::string::npos) {
          std::cout << line << "\n";
        }
      }
    }
  }

  // Render runs `nvlab machine default --libvirt-xml` for domain `name`, its folder under
  // dir_/domains, and returns the XML it printed.
  static void Render(const std::string& name, std::string* xml) {
    xml->clear();
    const NvlabResult r =
        RunNvlab(nvlab_, {"machine", "default", "--libvirt-xml", "--domain-name", name,
                          "--domain-dir", (dir_ / "domains" / name).string()});
    ASSERT_EQ(r.exit_status, 0) << Describe(r);
    *xml = r.out;
  }

  static void Define(const std::string& name, const std::string& xml) {
    ASSERT_FALSE(xml.empty()) << name << ": the edit of nvlab's XML found nothing to edit";
    virDomainPtr d = virDomainDefineXML(connection_->get(), xml.c_str());
    ASSERT_NE(d, nullptr) << nvlab::LibvirtError("define " + name).ToString() << "\n" << xml;
    virDomainFree(d);
    defined_.push_back(name);
  }

  // EnsureRunning starts the main domain when a test left it shut off (a cut by the guest).
  static void EnsureRunning() {
    LibvirtDomain domain;
    ASSERT_TRUE(LibvirtDomain::Lookup(*connection_, name_, &domain).ok());
    bool active = false;
    ASSERT_TRUE(domain.IsActive(&active).ok());
    if (!active) {
      ASSERT_TRUE(domain.Create().ok());
    }
  }

  static bool IsRunning(const std::string& name) {
    LibvirtDomain domain;
    bool active = false;
    return LibvirtDomain::Lookup(*connection_, name, &domain).ok() &&
           domain.IsActive(&active).ok() && active;
  }

  static NvlabResult Nvlab(const std::vector<std::string>& args) { return RunNvlab(nvlab_, args); }

  static bool set_up_;
  static LibvirtConnection* connection_;
  static fs::path dir_;
  static fs::path nvlab_;
  static fs::path emulator_;
  static std::string name_;
  static std::string no_channel_;
  static std::string plain_qemu_;
  static std::vector<std::string> defined_;
};

bool DomainLabTest::set_up_ = false;
LibvirtConnection* DomainLabTest::connection_ = nullptr;
fs::path DomainLabTest::dir_;
fs::path DomainLabTest::nvlab_;
fs::path DomainLabTest::emulator_;
std::string DomainLabTest::name_;
std::string DomainLabTest::no_channel_;
std::string DomainLabTest::plain_qemu_;
std::vector<std::string> DomainLabTest::defined_;

TEST_F(DomainLabTest, RunPrintsTheOutputAndExitsWithTheCommandsStatus) {
  EnsureRunning();
  // The domain may still be booting: nvlab waits for the agent's answer to its hello-request.
  const auto r =
      Nvlab({"run", "--domain", name_, "--connect", kUri, "--", "echo out; echo err >&2; exit 7"});
  EXPECT_EQ(r.exit_status, 7) << Describe(r);
  EXPECT_EQ(r.out, "out\n") << Describe(r);
  EXPECT_NE(r.err.find("err\n"), std::string::npos) << Describe(r);
  EXPECT_TRUE(IsRunning(name_));
}

TEST_F(DomainLabTest, RunsOneAfterAnotherEachGetTheirOwnHello) {
  EnsureRunning();
  for (int i = 0; i < 3; ++i) {
    const auto r = Nvlab({"run", "--domain", name_, "--", "echo", "run-" + std::to_string(i)});
    EXPECT_EQ(r.exit_status, 0) << Describe(r);
    EXPECT_EQ(r.out, "run-" + std::to_string(i) + "\n") << Describe(r);
  }
}

TEST_F(DomainLabTest, RunJsonIsTheSameDocumentAsForGuestsNvlabBoots) {
  EnsureRunning();
  const auto r = Nvlab({"run", "--domain", name_, "--json", "--", "sh", "-c", "exit 3"});
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

TEST_F(DomainLabTest, TheGuestIsTheMachineNvlabRendered) {
  EnsureRunning();
  // default.machine: 2 vCPUs (one TCG thread runs both), one devdax NVDIMM.
  const auto r = Nvlab(
      {"run", "--domain", name_, "--", "grep -c ^processor /proc/cpuinfo; echo $NVLAB_PMEM_ALL"});
  EXPECT_EQ(r.exit_status, 0) << Describe(r);
  EXPECT_EQ(r.out, "2\n/dev/dax0.0\n") << Describe(r);
}

TEST_F(DomainLabTest, ItsQemuHasOneTcgThreadAndThePluginTheGuestsRam) {
  EnsureRunning();
  // libvirt started the installed nvlab-qemu, which exec'd QEMU with its two changes.
  std::string pid;
  const fs::path pid_file = "/run/libvirt/qemu/" + name_ + ".pid";
  ASSERT_TRUE(nvlab::ReadFileContents(pid_file, &pid).ok()) << pid_file;
  std::string cmdline;
  const std::string proc = "/proc/" + std::to_string(std::stol(pid)) + "/cmdline";
  ASSERT_TRUE(nvlab::ReadFileContents(proc, &cmdline).ok()) << proc;
  std::vector<std::string> args;
  for (size_t start = 0, nul; (nul = cmdline.find('\0', start)) != std::string::npos;
       start = nul + 1) {
    args.push_back(cmdline.substr(start, nul - start));
  }
  std::string accel;
  std::string plugin;
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == "-accel") accel = args[i + 1];
    if (args[i] == "-plugin") plugin = args[i + 1];
  }
  EXPECT_EQ(accel, "tcg,thread=single");
  EXPECT_TRUE(plugin.starts_with((emulator_.parent_path() / "nvlab-plugin.so").string() + ","))
      << plugin;
  EXPECT_NE(plugin.find(",ram=0x0:536870912:/var/lib/libvirt/qemu/ram/"), std::string::npos)
      << plugin;
}

TEST_F(DomainLabTest, ADomainThatDoesNotExistIsALabFailureNamingIt) {
  const auto r = Nvlab({"run", "--domain", "nvlab-test-no-such-domain", "--", "true"});
  EXPECT_EQ(r.exit_status, 125) << Describe(r);
  EXPECT_NE(r.err.find("no libvirt domain named nvlab-test-no-such-domain on qemu:///system"),
            std::string::npos)
      << Describe(r);
}

TEST_F(DomainLabTest, AStoppedDomainIsALabFailureThatSaysHowToStartIt) {
  ASSERT_FALSE(IsRunning(plain_qemu_));
  const auto r = Nvlab({"run", "--domain", plain_qemu_, "--", "true"});
  EXPECT_EQ(r.exit_status, 125) << Describe(r);
  EXPECT_NE(r.err.find("the libvirt domain " + plain_qemu_ +
                       " is not running (start it: "
                       "virsh start " +
                       plain_qemu_ + ")"),
            std::string::npos)
      << Describe(r);
}

TEST_F(DomainLabTest, ADomainWithoutTheAgentChannelIsNamedWithTheFix) {
  const auto r = Nvlab({"run", "--domain", no_channel_, "--", "true"});
  EXPECT_EQ(r.exit_status, 125) << Describe(r);
  EXPECT_NE(r.err.find("the libvirt domain " + no_channel_ + " has no org.nvlab.agent channel"),
            std::string::npos)
      << Describe(r);
  EXPECT_NE(r.err.find("nvlab machine MACHINE --libvirt-xml"), std::string::npos) << Describe(r);
  EXPECT_FALSE(IsRunning(no_channel_));
}

TEST_F(DomainLabTest, PowerCycleRefusesADomainWithoutNvlabQemuBeforeRunningAnything) {
  const auto r =
      Nvlab({"power-cycle", "--domain", plain_qemu_, "--before", "true", "--after", "true"});
  EXPECT_EQ(r.exit_status, 125) << Describe(r);
  EXPECT_NE(r.err.find(std::string("runs the emulator '") + kPlainQemu + "', not nvlab-qemu"),
            std::string::npos)
      << Describe(r);
  EXPECT_FALSE(IsRunning(plain_qemu_));
}

TEST_F(DomainLabTest, OptionsThatShapeAGuestAreUsageErrors) {
  const auto r = Nvlab({"run", "--domain", name_, "--nvdimm", "512M", "--", "true"});
  EXPECT_EQ(r.exit_status, 2) << Describe(r);
  EXPECT_NE(r.err.find("--nvdimm cannot be used with --domain"), std::string::npos) << Describe(r);
}

TEST_F(DomainLabTest, PowerCycleKeepsFlushedRecordsAndLosesUnflushedOnes) {
  EnsureRunning();
  // nvlab-qemu gave the plugin ram= (the plugin's page walks read the guest's RAM) and one TCG
  // thread: the cut is exact.
  const auto r = Nvlab({"power-cycle", "--domain", name_, "--json", "--before",
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
  const auto r =
      Nvlab({"power-cycle", "--domain", name_, "--before",
             "nvlab-records write \"$NVLAB_PMEM\" --pattern noflush --count 1", "--after", "true"});
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
  const auto r = Nvlab({"run", "--domain", name_, "--",
                        "nvlab-records write \"$NVLAB_PMEM\" --pattern noflush --count 1 --cut"});
  EXPECT_EQ(r.exit_status, 0) << Describe(r);
  EXPECT_NE(r.err.find("cut: trigger guest, 1 NVDIMM lines lost"), std::string::npos)
      << Describe(r);
  EXPECT_FALSE(IsRunning(name_));
  const auto again = Nvlab({"run", "--domain", name_, "--", "true"});
  EXPECT_EQ(again.exit_status, 125) << Describe(again);
  EXPECT_NE(again.err.find("is not running"), std::string::npos) << Describe(again);
}

}  // namespace
