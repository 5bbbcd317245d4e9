// nvlab_campaign_bench.cc -- nvlab-campaign-bench: campaign throughput (power-cycle tests per
// minute) on one host and sharded across H hosts by playbooks/campaign.yml, printed side by side
// in one run (BENCHMARKS.md, section "Fleets"):
//
//   local jobs=J   `nvlab campaign FILE --jobs J` on this machine, no Ansible (J = 1, 2)
//   H hosts        campaign.yml over real SSH to H "hosts" (one sshd per loopback address,
//                  127.0.0.2 upwards; tests/support/loopback_ssh_hosts.h), each running its
//                  shard with --jobs 1, from the playbook's start to the merged report
//
// The loopback hosts share this machine's cores, so beyond the core count the rows measure what
// sharding and Ansible cost, not what more machines would add; docs/design/fleets.md says how
// the figures carry over to a rack. Every case passes; a run whose merged report disagrees
// with that is an error, not a figure.
// Usage: nvlab-campaign-bench --prefix DIR [--hosts 1,2,3] [--cases N] [--work DIR]
//   DIR: where nvlab is installed (or a build's stage folder); needs root and sshd

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_main.h"
#include "count_list.h"
#include "loopback_ssh_hosts.h"
#include "nvlab/file_contents.h"
#include "nvlab/guest_image.h"
#include "timed_run.h"

namespace {

namespace fs = std::filesystem;
using nvlab::bench::RunTimed;
using nvlab::bench::TimedRun;

[[noreturn]] void Die(const std::string& what, const TimedRun& run) {
  (void)std::fprintf(stderr, "nvlab-campaign-bench: %s failed (exit %d):\n%s%s\n", what.c_str(),
                     run.status, run.out.c_str(), run.err.c_str());
  std::exit(1);
}

// WriteCampaign writes a campaign of `cases` power-cycles that all pass: a flushed record kept
// under lose, keep and random:1..cases-3, an unflushed one lost under lose.
void WriteCampaign(const fs::path& dir, int cases) {
  fs::create_directories(dir / "share");
  std::ofstream(dir / "share/survived.sh")
      << "nvlab-records check \"$NVLAB_PMEM\" --pattern \"$1\" | grep -q 'survived=yes'\n";
  std::ofstream(dir / "bench.campaign")
      << "name = campaign-bench\n"
         "share = share\n\n"
         "[test]\n"
         "name = flushed\n"
         "before = nvlab-records write \"$NVLAB_PMEM\" --pattern flush-drain --cut\n"
         "after = sh /host/survived.sh flush-drain\n"
         "on-cut = lose, keep, random:{seed}\n"
         "seeds = 1.."
      << (cases - 3)
      << "\n\n"
         "[test]\n"
         "name = unflushed\n"
         "before = nvlab-records write \"$NVLAB_PMEM\" --pattern noflush --cut\n"
         "after = sh /host/survived.sh noflush\n"
         "expect = 1\n"
         "on-cut = lose\n";
}

// CountPassed counts the cases a campaign JSON report (docs/formats/campaign-report.md) lists
// as passed; -1 when it cannot be read.
int CountPassed(const fs::path& report) {
  std::string text;
  if (!nvlab::ReadFileContents(report, &text).ok()) return -1;
  const nlohmann::json json = nlohmann::json::parse(text, nullptr, false);
  if (!json.is_object() || !json.contains("cases") || !json["cases"].is_array()) return -1;
  int n = 0;
  for (const auto& c : json["cases"]) n += c.value("status", "") == "pass" ? 1 : 0;
  return n;
}

// WriteInventory writes an Ansible inventory for the loopback hosts.
void WriteInventory(const fs::path& file, const nvlab::testing::LoopbackSshHosts& hosts,
                    const std::string& prefix, const fs::path& home, const fs::path& work) {
  std::ofstream out(file);
  out << "all:\n"
         "  vars:\n"
         "    ansible_python_interpreter: /usr/bin/python3\n"
         "  children:\n"
         "    lab_hosts:\n"
         "      vars:\n"
         "        ansible_user: root\n"
         "        ansible_ssh_private_key_file: \""
      << hosts.client_key().string()
      << "\"\n"
         "        ansible_ssh_common_args: -o UserKnownHostsFile=/dev/null"
         " -o StrictHostKeyChecking=no\n"
         "        nvlab_prefix: \""
      << prefix << "\"\n        nvlab_home: \"" << home.string() << "\"\n"
      << "      hosts:\n";
  for (size_t i = 0; i < hosts.hosts().size(); ++i) {
    const std::string name = "bench-" + std::to_string(i + 1);
    out << "        " << name << ":\n"
        << "          ansible_host: " << hosts.hosts()[i].address << "\n"
        << "          ansible_port: " << hosts.hosts()[i].port << "\n"
        << "          nvlab_campaign_host_dir: \"" << (work / "hosts" / name).string() << "\"\n";
  }
}

struct Row {
  std::string name;
  double seconds = 0;
};

int Main(int argc, char** argv) {
  std::string prefix;
  std::vector<int> host_counts = {1, 2, 3};
  int cases = 12;
  fs::path work = "/var/tmp/nvlab-campaign-bench";
  fs::path playbooks = NVLAB_SOURCE_DIR "/playbooks";
  bool usage = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--prefix" && i + 1 < argc) {
      prefix = argv[++i];
    } else if (a == "--hosts" && i + 1 < argc) {
      host_counts = nvlab::bench::ParseCountList(argv[++i]);
    } else if (a == "--cases" && i + 1 < argc) {
      cases = std::atoi(argv[++i]);
    } else if (a == "--work" && i + 1 < argc) {
      work = argv[++i];
    } else {
      usage = true;
    }
  }
  if (usage || prefix.empty() || host_counts.empty() || cases < 4) {
    (void)std::fprintf(stderr,
                       "usage: nvlab-campaign-bench --prefix DIR [--hosts 1,2,3] [--cases N>=4] "
                       "[--work DIR]\n");
    return 2;
  }
  prefix = fs::absolute(prefix).string();
  const std::string nvlab = prefix + "/bin/nvlab";
  const fs::path home = nvlab::DefaultNvlabHome();
  std::error_code ec;
  fs::remove_all(work, ec);
  WriteCampaign(work / "campaign", cases);
  const fs::path campaign_file = work / "campaign/bench.campaign";
  // The image is built once, outside every row.
  if (TimedRun image = RunTimed({nvlab, "image"}); image.status != 0) Die("nvlab image", image);

  std::vector<Row> rows;
  for (int jobs : {1, 2}) {
    const fs::path report = work / ("local-" + std::to_string(jobs) + ".json");
    const TimedRun run = RunTimed({nvlab, "campaign", campaign_file.string(), "--jobs",
                                   std::to_string(jobs), "--json", report.string()});
    if (run.status != 0 || CountPassed(report) != cases) Die("nvlab campaign", run);
    rows.push_back({"local, jobs=" + std::to_string(jobs), run.total});
    (void)std::fprintf(stderr, "nvlab-campaign-bench: local jobs=%d done\n", jobs);
  }
  for (int h : host_counts) {
    const fs::path dir = work / ("hosts-" + std::to_string(h));
    nvlab::testing::LoopbackSshHosts hosts;
    if (const nvlab::Status s = hosts.Start(dir / "ssh", h); !s.ok()) {
      (void)std::fprintf(stderr, "nvlab-campaign-bench: %s\n", s.ToString().c_str());
      return 1;
    }
    WriteInventory(dir / "inventory.yml", hosts, prefix, home, dir);
    const fs::path results = dir / "results";
    // env -C: ansible.cfg is read from the working folder.
    const TimedRun run = RunTimed({"env", "-C", playbooks.string(), "ansible-playbook", "-i",
                                   (dir / "inventory.yml").string(), "campaign.yml", "-e",
                                   "nvlab_campaign_dir=" + (work / "campaign").string(), "-e",
                                   "nvlab_campaign_file=bench.campaign", "-e",
                                   "nvlab_campaign_results_dir=" + results.string(), "-e",
                                   "nvlab_controller_nvlab=" + nvlab});
    if (run.status != 0 || CountPassed(results / "campaign.json") != cases) {
      Die("campaign.yml on " + std::to_string(h) + " hosts", run);
    }
    rows.push_back(
        {std::to_string(h) + (h == 1 ? " host" : " hosts") + ", campaign.yml", run.total});
    (void)std::fprintf(stderr, "nvlab-campaign-bench: %d hosts done\n", h);
  }

  std::printf("nvlab-campaign-bench: %d power-cycle cases, TCG, machine default, %ld cores\n",
              cases, sysconf(_SC_NPROCESSORS_ONLN));
  std::printf("%-28s %10s %12s %10s\n", "", "seconds", "tests/min", "vs first");
  for (const Row& row : rows) {
    std::printf("%-28s %10.1f %12.2f %9.2fx\n", row.name.c_str(), row.seconds,
                60.0 * cases / row.seconds, rows.front().seconds / row.seconds);
  }
  fs::remove_all(work, ec);
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  return nvlab::bench::RunBench("nvlab-campaign-bench", Main, argc, argv);
}
