// playbooks_test.cc -- the Ansible playbooks: syntax and lint on every playbook, then a real
// fleet run against this machine through libvirt.

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "file_text.h"
#include "libvirt_daemons.h"
#include "loopback_ssh_hosts.h"
#include "nvlab/host_command.h"
#include "nvlab/subprocess.h"

namespace nvlab {
namespace {

namespace fs = std::filesystem;
using testing::FileText;

const fs::path kPlaybooks = fs::path(NVLAB_SOURCE_DIR) / "playbooks";

// AnsibleRun is one ansible-playbook (or ansible-lint) run: exit status and its output.
struct AnsibleRun {
  int exit_status = -1;
  std::string output;
};

// RunInPlaybooks runs argv in playbooks/ (where ansible.cfg is), stdout and stderr together.
AnsibleRun RunInPlaybooks(const std::vector<std::string>& argv) {
  AnsibleRun run;
  SubprocessOptions options;
  options.working_dir = kPlaybooks;
  options.stdout_to = SubprocessOptions::Stream::kCapture;
  options.stderr_to = SubprocessOptions::Stream::kStdout;
  options.new_process_group = true;  // a deadline kills ansible's workers too
  Subprocess child;
  Status s = Subprocess::Start(argv, options, &child);
  if (!s.ok()) {
    run.output = s.ToString();
    return run;
  }
  s = child.Wait(Deadline::In(std::chrono::minutes(20)));
  run.output = std::move(child.stdout_text());
  if (!s.ok()) {
    run.output += "\n" + s.ToString();
    return run;
  }
  run.exit_status = child.exited() ? child.exit_code() : 128 + child.term_signal();
  return run;
}

std::vector<std::string> Playbooks() {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(kPlaybooks)) {
    if (entry.path().extension() == ".yml") names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

TEST(AnsiblePlaybooks, EveryPlaybookPassesSyntaxCheck) {
  const std::vector<std::string> names = Playbooks();
  ASSERT_GE(names.size(), 4u);
  for (const std::string& name : names) {
    const AnsibleRun run = RunInPlaybooks({"ansible-playbook", "--syntax-check", name});
    EXPECT_EQ(run.exit_status, 0) << name << ":\n" << run.output;
  }
}

TEST(AnsiblePlaybooks, LintFindsNothingWithTheProductionProfile) {
  const AnsibleRun run =
      RunInPlaybooks({"ansible-lint", "--profile", "production", "--nocolor", "-q"});
  EXPECT_EQ(run.exit_status, 0) << run.output;
}

// RecapChanged returns the changed= count of the PLAY RECAP line for host, or -1.
int RecapChanged(const std::string& output, const std::string& host) {
  const std::regex line("\n" + host + R"(\s*:\s*ok=\d+\s+changed=(\d+))");
  std::smatch m;
  if (!std::regex_search(output, m, line)) return -1;
  return std::stoi(m[1]);
}

// ShardRunning: a process of this machine runs `nvlab campaign ... --shard <shard>`.
bool ShardRunning(const std::string& shard) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string cmdline = FileText(entry.path() / "cmdline");
    if (cmdline.find(std::string("campaign") + '\0') != std::string::npos &&
        cmdline.find(std::string("--shard") + '\0' + shard + '\0') != std::string::npos) {
      return true;
    }
  }
  return false;
}

// AnsibleFleet runs the playbooks against this machine (ansible_connection=local) with nvlab
// installed from this build tree into a private prefix under /var/tmp (QEMU runs as
// libvirt-qemu, which must reach the plugin and the emulator wrapper).
class AnsibleFleet : public ::testing::Test {
 protected:
  static constexpr const char* kPrefix = "nvlab-fleet-test-";

  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "libvirt's qemu:///system needs root";
    const Status s = testing::LibvirtDaemons::Start(&daemons_);
    ASSERT_TRUE(s.ok()) << s.ToString();
    char templ[] = "/var/tmp/nvlab-fleet-XXXXXX";
    ASSERT_NE(mkdtemp(templ), nullptr);
    dir_ = templ;
    chmod(dir_.c_str(), 0755);
    inventory_ = dir_ / "inventory.yml";
    std::ofstream out(inventory_);
    out << "all:\n"
           "  vars:\n"
           "    ansible_python_interpreter: /usr/bin/python3\n"
           "  children:\n"
           "    lab_hosts:\n"
           "      hosts:\n"
           "        localhost:\n"
           "          ansible_connection: local\n"
           "          nvlab_copy_source: false\n"
           "          nvlab_src: \""
        << NVLAB_SOURCE_DIR << "\"\n          nvlab_build_dir: \"" << NVLAB_BUILD_DIR
        << "\"\n          nvlab_prefix: \"" << (dir_ / "prefix").string()
        << "\"\n          nvlab_home: \"" << NVLAB_TEST_HOME
        << "\"\n          nvlab_domains_dir: \"" << (dir_ / "domains").string()
        << "\"\n          nvlab_results_dir: \"" << (dir_ / "results").string()
        << "\"\n          nvlab_guest_prefix: " << kPrefix
        << "\n          nvlab_guests_per_host: 2\n";
    ASSERT_TRUE(out.good());
  }

  void TearDown() override {
    if (!dir_.empty()) {
      // Whatever the test reached, leave no guest defined.
      (void)RunPlaybook("guests-down.yml", {"-e", "nvlab_remove_nvdimms=true"});
      std::error_code ec;
      fs::remove_all(dir_, ec);
    }
    daemons_.Stop();
  }

  AnsibleRun RunPlaybook(const std::string& playbook, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {"ansible-playbook", "-i", inventory_.string(), playbook};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return RunInPlaybooks(argv);
  }

  std::vector<std::string> DefinedGuests() {
    std::string out;
    const Status s =
        RunHostCommand({"virsh", "-c", "qemu:///system", "list", "--all", "--name"}, {}, &out);
    EXPECT_TRUE(s.ok()) << s.ToString();
    std::vector<std::string> names;
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);) {
      if (line.starts_with(kPrefix)) names.push_back(line);
    }
    return names;
  }

  testing::LibvirtDaemons daemons_;
  fs::path dir_;
  fs::path inventory_;
};

TEST_F(AnsibleFleet, GuestsComeUpSurviveAPowerCycleAndGoAway) {
  AnsibleRun run = RunPlaybook("lab-host.yml");
  ASSERT_EQ(run.exit_status, 0) << run.output;
  ASSERT_TRUE(fs::exists(dir_ / "prefix/bin/nvlab")) << run.output;
  run = RunPlaybook("lab-host.yml");
  ASSERT_EQ(run.exit_status, 0) << run.output;
  EXPECT_EQ(RecapChanged(run.output, "localhost"), 0) << "a second run must change nothing:\n"
                                                      << run.output;

  run = RunPlaybook("guests-up.yml");
  ASSERT_EQ(run.exit_status, 0) << run.output;
  const std::vector<std::string> guests = {std::string(kPrefix) + "1", std::string(kPrefix) + "2"};
  EXPECT_EQ(DefinedGuests(), guests);

  run = RunPlaybook("power-cycle.yml");
  ASSERT_EQ(run.exit_status, 0) << run.output;
  for (const std::string& guest : guests) {
    const fs::path out = dir_ / "results/localhost" / (guest + ".out");
    const std::string text = FileText(out);
    // Flushed and drained: kept. Stored and never flushed: lost with the caches (ADR).
    EXPECT_NE(text.find("record pattern=flush-drain index=0 survived=yes"), std::string::npos)
        << out << ":\n"
        << text;
    EXPECT_NE(text.find("record pattern=noflush index=0 survived=no"), std::string::npos)
        << out << ":\n"
        << text;
    EXPECT_NE(text.find("\"after\""), std::string::npos) << "no JSON document:\n" << text;
    EXPECT_TRUE(fs::exists(dir_ / "results/localhost" / (guest + ".err")));
  }

  run = RunPlaybook("guests-down.yml");
  ASSERT_EQ(run.exit_status, 0) << run.output;
  EXPECT_TRUE(DefinedGuests().empty());
  for (const std::string& guest : guests) {
    // The NVDIMM files are the guests' persistent memory: kept unless asked otherwise.
    EXPECT_TRUE(fs::exists(dir_ / "domains" / guest / "nvdimm0.img"));
    EXPECT_FALSE(fs::exists(dir_ / "domains" / guest / "vmlinux"));
  }
}

// AnsibleCampaign: campaign.yml over real SSH to three "hosts" (sshd on 127.0.0.2-4, each with
// its own host key and its own folders), nvlab run from this build tree's stage. One host is
// killed while its shard runs: its shard runs again elsewhere, and the merged report equals a
// single-host run of the same file, case by case.
class AnsibleCampaign : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "sshd on loopback addresses needs root";
    char templ[] = "/var/tmp/nvlab-campaign-XXXXXX";
    ASSERT_NE(mkdtemp(templ), nullptr);
    dir_ = templ;
    const Status s = hosts_.Start(dir_ / "ssh", 3);
    ASSERT_TRUE(s.ok()) << s.ToString();
    // The campaign: six cases, two per shard; one case fails on purpose.
    fs::create_directories(dir_ / "campaign/share");
    std::ofstream(dir_ / "campaign/share/survived.sh")
        << "nvlab-records check \"$NVLAB_PMEM\" --pattern \"$1\" | grep -q 'survived=yes'\n";
    std::ofstream(dir_ / "campaign/fleet.campaign")
        << "name = fleet-test\n"
           "share = share\n"
           "\n"
           "[test]\n"
           "name = flushed\n"
           "before = nvlab-records write \"$NVLAB_PMEM\" --pattern flush-drain --cut\n"
           "after = sh /host/survived.sh flush-drain\n"
           "on-cut = lose, keep, random:{seed}\n"
           "seeds = 1..2\n"
           "\n"
           "[test]\n"
           "name = unflushed\n"
           "before = nvlab-records write \"$NVLAB_PMEM\" --pattern noflush --cut\n"
           "after = sh /host/survived.sh noflush\n"
           "expect = 1\n"
           "on-cut = lose, keep\n";
    inventory_ = dir_ / "inventory.yml";
    std::ofstream out(inventory_);
    out << "all:\n"
           "  vars:\n"
           "    ansible_python_interpreter: /usr/bin/python3\n"
           "  children:\n"
           "    lab_hosts:\n"
           "      vars:\n"
           "        ansible_user: root\n"
           "        ansible_ssh_private_key_file: \""
        << hosts_.client_key().string()
        << "\"\n"
           // A new connection per task, so that a host whose sshd is gone is unreachable at
           // once (a persistent master connection would outlive it).
           "        ansible_ssh_common_args: -o ControlMaster=no -o ControlPath=none"
           " -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no\n"
           "        nvlab_prefix: \""
        << NVLAB_BUILD_DIR << "/stage\"\n        nvlab_home: \"" << NVLAB_TEST_HOME << "\"\n"
        << "      hosts:\n";
    for (size_t i = 0; i < hosts_.hosts().size(); ++i) {
      const std::string name = HostName(i);
      out << "        " << name << ":\n"
          << "          ansible_host: " << hosts_.hosts()[i].address << "\n"
          << "          ansible_port: " << hosts_.hosts()[i].port << "\n"
          << "          nvlab_campaign_host_dir: \"" << (dir_ / "hosts" / name).string() << "\"\n";
    }
    ASSERT_TRUE(out.good());
  }

  void TearDown() override {
    hosts_.Stop();
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }

  static std::string HostName(size_t i) { return "lab-" + std::string(1, char('a' + i)); }

  // CaseStatuses maps each case id of a campaign report to its status.
  static std::map<std::string, std::string> CaseStatuses(const nlohmann::json& report) {
    std::map<std::string, std::string> out;
    for (const auto& c : report.at("cases")) out[c.at("id")] = c.at("status");
    return out;
  }

  fs::path dir_;
  fs::path inventory_;
  testing::LoopbackSshHosts hosts_;
};

TEST_F(AnsibleCampaign, ShardsAcrossThreeHostsSurviveALostHostAndMergeToTheSingleHostResult) {
  SubprocessOptions options;
  options.working_dir = kPlaybooks;
  options.stdout_to = SubprocessOptions::Stream::kFile;
  options.stdout_path = dir_ / "ansible.log";
  options.stderr_to = SubprocessOptions::Stream::kStdout;
  options.new_process_group = true;
  const fs::path results = dir_ / "results";
  Subprocess ansible;
  Status s = Subprocess::Start(
      {"ansible-playbook", "-i", inventory_.string(), "campaign.yml", "-e",
       "nvlab_campaign_dir=" + (dir_ / "campaign").string(), "-e",
       "nvlab_campaign_file=fleet.campaign", "-e", "nvlab_campaign_results_dir=" + results.string(),
       "-e", "nvlab_controller_nvlab=" + std::string(NVLAB_BUILD_DIR) + "/stage/bin/nvlab"},
      options, &ansible);
  ASSERT_TRUE(s.ok()) << s.ToString();

  // Lose the third host once its shard is under way: its `nvlab campaign --shard 3/3` runs
  // and its first guest had a few seconds to start.
  const Deadline started = Deadline::In(std::chrono::minutes(5));
  while (!ShardRunning("3/3") && !started.expired() && !ansible.TryReap()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_TRUE(ShardRunning("3/3")) << FileText(dir_ / "ansible.log");
  std::this_thread::sleep_for(std::chrono::seconds(3));
  hosts_.Kill(2);

  s = ansible.Wait(Deadline::In(std::chrono::minutes(20)));
  ASSERT_TRUE(s.ok()) << s.ToString();
  const std::string log = FileText(dir_ / "ansible.log");
  // ansible-playbook fails for the lost host (2 when Ansible saw a failed task, 4 when it saw
  // the host unreachable: which one depends on the step the connection broke in); the
  // campaign itself completed.
  EXPECT_TRUE(ansible.exit_code() == 2 || ansible.exit_code() == 4) << log;
  const std::regex lost_recap("\n" + HostName(2) + R"(\s*:.*(unreachable=1|failed=1))");
  EXPECT_TRUE(std::regex_search(log, lost_recap)) << log;

  const std::string merged_text = FileText(results / "campaign.json");
  ASSERT_FALSE(merged_text.empty()) << log;
  const nlohmann::json merged = nlohmann::json::parse(merged_text);
  ASSERT_TRUE(fs::exists(results / "campaign.xml"));
  for (const auto& c : merged.at("cases")) {
    // Shard 3 was run again on a host still reachable; the report says where.
    if (c.at("shard") == 3) {
      EXPECT_NE(c.at("host"), HostName(2)) << c.dump();
    } else {
      EXPECT_EQ(c.at("host"), HostName(c.at("shard").get<int>() - 1)) << c.dump();
    }
  }

  // The same campaign on one host.
  SubprocessOptions single_options;
  single_options.stdout_to = SubprocessOptions::Stream::kCapture;
  single_options.stderr_to = SubprocessOptions::Stream::kStdout;
  single_options.env_overrides = {"NVLAB_HOME=" + std::string(NVLAB_TEST_HOME)};
  Subprocess single;
  s = Subprocess::Start({std::string(NVLAB_BUILD_DIR) + "/stage/bin/nvlab", "campaign",
                         (dir_ / "campaign/fleet.campaign").string(), "--jobs", "2", "--json",
                         (dir_ / "single.json").string()},
                        single_options, &single);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_TRUE(single.Wait(Deadline::In(std::chrono::minutes(20))).ok());
  EXPECT_EQ(single.exit_code(), 1) << single.stdout_text();  // one case fails on purpose
  const nlohmann::json alone = nlohmann::json::parse(FileText(dir_ / "single.json"));
  EXPECT_EQ(CaseStatuses(merged), CaseStatuses(alone));
  EXPECT_EQ(CaseStatuses(alone).size(), 6u);
  EXPECT_EQ(CaseStatuses(alone)["unflushed/default/adr/keep"], "fail");
  EXPECT_EQ(CaseStatuses(alone)["flushed/default/adr/random:2"], "pass");
}

}  // namespace
}  // namespace nvlab
